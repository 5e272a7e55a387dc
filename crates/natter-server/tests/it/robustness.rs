//! Corpus-driven abuse (RELIABILITY.md P1): thousands of mutated frames and
//! bodies thrown at a live server. Every answer must be a typed error or a
//! well-formed reply, the server must keep serving everyone, and nothing may be
//! stored where the attacker has no right to write.

use futures_util::{SinkExt, StreamExt};
use natter_protocol::ErrorCode;
use natter_protocol::conversations::HistoryQuery;
use natter_testkit::TestServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::WAIT;

/// Well-formed frames of every type, aimed at a conversation the attacker is not in.
fn templates(victim: i64) -> Vec<Value> {
    vec![
        json!({"type": "send", "id": 1, "conversation_id": victim, "client_msg_id": "x", "content": {"kind": "text", "text": "pwn"}}),
        json!({"type": "send", "id": 1, "conversation_id": victim, "client_msg_id": "y", "reply_to": 1,
               "content": {"kind": "image", "media": {"media_id": "m", "mime": "image/png", "size": 3}}}),
        json!({"type": "read", "id": 1, "conversation_id": victim, "seq": 1}),
        json!({"type": "typing", "id": 1, "conversation_id": victim}),
        json!({"type": "sync", "id": 1, "since": 3}),
        json!({"type": "history", "id": 1, "conversation_id": victim, "before": 5, "limit": 10}),
        json!({"type": "ping", "id": 1}),
        json!({"type": "auth", "id": 1, "token": "t"}),
    ]
}

/// Values of every JSON type, including edge cases.
fn odd_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(0),
        4 => json!(u64::MAX),
        5 => json!(i64::MIN),
        6 => json!(1.5e300),
        7 => json!(""),
        8 => json!("\u{0}\u{202e}<script>alert(1)</script>"),
        9 => json!("x".repeat(rng.random_range(1..5000))),
        10 => json!([]),
        11 => json!({}),
        12 => json!([[[[[[[[[[1]]]]]]]]]]),
        _ => json!({"kind": "text", "text": "nested"}),
    }
}

/// One mutation of a template, as text.
fn mutate(template: &Value, rng: &mut StdRng) -> String {
    let mut value = template.clone();
    match rng.random_range(0..8) {
        // Replace one field with a value of another type.
        0 | 1 => {
            if let Some(map) = value.as_object_mut() {
                let keys: Vec<String> = map.keys().cloned().collect();
                let key = &keys[rng.random_range(0..keys.len())];
                map.insert(key.clone(), odd_value(rng));
            }
            value.to_string()
        }
        // Drop a field.
        2 => {
            if let Some(map) = value.as_object_mut() {
                let keys: Vec<String> = map.keys().cloned().collect();
                map.remove(&keys[rng.random_range(0..keys.len())]);
            }
            value.to_string()
        }
        // Add unknown fields.
        3 => {
            if let Some(map) = value.as_object_mut() {
                map.insert(format!("extra{}", rng.random_range(0..100)), odd_value(rng));
            }
            value.to_string()
        }
        // Truncate.
        4 => {
            let text = value.to_string();
            let cut = rng.random_range(0..text.len());
            text.chars().take(cut).collect()
        }
        // Flip characters.
        5 => {
            let mut chars: Vec<char> = value.to_string().chars().collect();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..chars.len());
                chars[at] = ['{', '}', '"', ':', ',', '\\', '[', 'é', '\u{1F600}', '0']
                    [rng.random_range(0..10)];
            }
            chars.into_iter().collect()
        }
        // Duplicate keys.
        6 => {
            let text = value.to_string();
            format!(
                "{},\"type\":\"send\",\"type\":\"read\"}}",
                text.trim_end_matches('}')
            )
        }
        // Replace the whole frame.
        _ => odd_value(rng).to_string(),
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A new socket past its `auth` frame (after a protocol error closed the last one).
async fn authenticated(server: &TestServer, token: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
    socket
        .send(Message::text(
            json!({"type": "auth", "token": token}).to_string(),
        ))
        .await?;
    socket.next().await;
    Ok(socket)
}

fn known_code(code: &str) -> bool {
    ErrorCode::ALL.iter().any(|c| c.as_str() == code)
}

#[tokio::test]
async fn thousands_of_mutated_frames_and_bodies_get_typed_errors_and_change_nothing()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let owner = server.user("owner").await?;
    let member = server.user("member").await?;
    let attacker = server.user("attacker").await?;
    let canary_peer = server.user("canary").await?;
    server.befriend(&owner, &member).await?;
    let canary_chat = server.befriend(&owner, &canary_peer).await?;
    let victim = owner.create_group("victim", &[member.user().id]).await?.id;
    owner.send_text(victim, "secret").await?;
    let victim_before = owner.history(victim, HistoryQuery::default()).await?;
    let canary_live = canary_peer.connect().await?;

    let mut rng = StdRng::seed_from_u64(0x6e61_7474);
    let templates = templates(victim.0);
    let mut socket = authenticated(&server, attacker.token()).await?;

    let frames = 3000;
    let (mut replies, mut closes) = (0, 0);
    for i in 0..frames {
        let template = &templates[i % templates.len()];
        let frame = mutate(template, &mut rng);
        if socket.send(Message::text(frame.clone())).await.is_err() {
            closes += 1;
            socket = authenticated(&server, attacker.token()).await?;
            continue;
        }
        // Typing without error and frames without an id may get no answer: ping
        // after each frame so that there is always something to read.
        socket
            .send(Message::text(r#"{"type":"ping","id":424242}"#))
            .await?;
        loop {
            match tokio::time::timeout(WAIT, socket.next()).await? {
                Some(Ok(Message::Text(text))) => {
                    let reply: Value = serde_json::from_str(&text)?;
                    if reply["type"] == "pong" && reply["id"] == 424242 {
                        break;
                    }
                    replies += 1;
                    match reply["type"].as_str() {
                        Some("error") => {
                            let code = reply["code"].as_str().unwrap_or_default();
                            assert!(known_code(code), "{frame:.80} → {reply}");
                            assert_ne!(code, "internal", "{frame:.80} → {reply}");
                        }
                        Some("reply" | "pong" | "event") => {}
                        other => panic!("{frame:.80} → unexpected frame type {other:?}"),
                    }
                }
                Some(Ok(Message::Close(close))) => {
                    let code = close.map(|f| u16::from(f.code)).unwrap_or(0);
                    assert!(
                        [1002, 1007, 1009].contains(&code),
                        "closed with {code} after {frame:.80}"
                    );
                    closes += 1;
                    socket = authenticated(&server, attacker.token()).await?;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    closes += 1;
                    socket = authenticated(&server, attacker.token()).await?;
                    break;
                }
            }
        }
    }

    // The same mutations as HTTP bodies on the routes that take one.
    let http = reqwest::Client::new();
    let bodies = [
        (
            format!(
                "{}/api/v1/conversations/{}/messages",
                server.url(),
                victim.0
            ),
            json!({"client_msg_id": "h", "content": {"kind": "text", "text": "x"}}),
        ),
        (
            format!("{}/api/v1/groups/{}/members", server.url(), victim.0),
            json!({"user_ids": [attacker.user().id.0]}),
        ),
        (
            format!("{}/api/v1/friend-requests", server.url()),
            json!({"user_id": owner.user().id.0, "greeting": "hi"}),
        ),
        (
            format!("{}/api/v1/auth/login", server.url()),
            json!({"username": "owner", "password": "nope nope"}),
        ),
    ];
    let requests = 1000;
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..requests {
        let (url, template) = &bodies[i % bodies.len()];
        let body = mutate(template, &mut rng);
        let response = http
            .post(url)
            .bearer_auth(attacker.token())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status().as_u16();
        *statuses.entry(status).or_insert(0) += 1;
        assert!(status < 500, "{body:.80} → {status}");
        let reply: Value = response.json().await?;
        if status >= 400 {
            assert!(
                known_code(reply["code"].as_str().unwrap_or_default()),
                "{body:.80} → {reply}"
            );
        }
    }

    // Nothing changed where the attacker has no rights, and everyone else is served.
    assert_eq!(
        owner.history(victim, HistoryQuery::default()).await?,
        victim_before
    );
    assert_eq!(member.members(victim).await?.members.len(), 2);
    owner.send_text(canary_chat, "still alive").await?;
    crate::wait_for(&canary_live, |event| match event {
        natter_protocol::ws::Event::Message { message }
            if message.conversation_id == canary_chat =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    println!(
        "P1: {frames} mutated frames ({replies} answered, {closes} connections closed by protocol errors) \
         and {requests} mutated bodies (statuses {statuses:?}); server errors: 0"
    );
    Ok(())
}
