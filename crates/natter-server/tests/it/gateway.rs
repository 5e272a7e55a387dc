use futures_util::{SinkExt, StreamExt};
use natter_client::ConnectionEvent;
use natter_protocol::conversations::HistoryQuery;
use natter_protocol::ws::close;
use natter_testkit::TestServer;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::WAIT;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn raw(server: &TestServer) -> anyhow::Result<Socket> {
    let (socket, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
    Ok(socket)
}

/// The next text frame as JSON, skipping pings; `None` once closed.
async fn next_json(socket: &mut Socket) -> anyhow::Result<Option<Value>> {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await? {
            Some(Ok(Message::Text(text))) => return Ok(Some(serde_json::from_str(&text)?)),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(None),
            Some(Ok(_)) => {}
        }
    }
}

/// Reads until the server closes; returns the close code (skipping other frames).
async fn close_code(socket: &mut Socket) -> anyhow::Result<Option<u16>> {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await? {
            Some(Ok(Message::Close(frame))) => return Ok(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return Ok(None),
        }
    }
}

async fn authed(server: &TestServer, session: &natter_client::Session) -> anyhow::Result<Socket> {
    let mut socket = raw(server).await?;
    socket
        .send(Message::text(
            json!({"type": "auth", "id": 1, "token": session.token()}).to_string(),
        ))
        .await?;
    let ok = next_json(&mut socket)
        .await?
        .ok_or_else(|| anyhow::anyhow!("closed"))?;
    assert_eq!(ok["type"], "auth_ok", "{ok}");
    assert_eq!(ok["id"], 1);
    assert_eq!(ok["user"]["id"], session.user().id.0);
    Ok(socket)
}

#[tokio::test]
async fn the_first_frame_must_authenticate() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // A WebSocket-level ping before `auth` is not a protocol frame: it is allowed.
    let user = server.user("early").await?;
    let mut socket = raw(&server).await?;
    socket.send(Message::Ping(vec![1, 2].into())).await?;
    socket
        .send(Message::text(
            json!({"type": "auth", "token": format!(" {} ", user.token())}).to_string(),
        ))
        .await?;
    let ok = next_json(&mut socket)
        .await?
        .ok_or_else(|| anyhow::anyhow!("closed"))?;
    assert_eq!(ok["type"], "auth_ok", "{ok}");

    let mut socket = raw(&server).await?;
    socket
        .send(Message::text(r#"{"type":"ping","id":1}"#))
        .await?;
    let error = next_json(&mut socket)
        .await?
        .ok_or_else(|| anyhow::anyhow!("closed"))?;
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("auth_required"))
    );
    assert_eq!(close_code(&mut socket).await?, Some(close::UNAUTHORIZED));

    let mut socket = raw(&server).await?;
    socket
        .send(Message::text(r#"{"type":"auth","id":7,"token":"forged"}"#))
        .await?;
    let error = next_json(&mut socket)
        .await?
        .ok_or_else(|| anyhow::anyhow!("closed"))?;
    assert_eq!(
        (error["code"].as_str(), error["id"].as_u64()),
        (Some("unauthorized"), Some(7))
    );
    assert_eq!(close_code(&mut socket).await?, Some(close::UNAUTHORIZED));

    // A token in the URL is ignored: authentication happens in the first frame only.
    let url = format!("{}?token={}", server.ws_url(), user.token());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    socket.send(Message::text(r#"{"type":"ping"}"#)).await?;
    assert_eq!(close_code(&mut socket).await?, Some(close::UNAUTHORIZED));
    Ok(())
}

#[tokio::test]
async fn malformed_frames_get_typed_errors_store_nothing_and_keep_the_connection()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let mut socket = authed(&server, &alice).await?;
    let c = conversation.0;
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let cases: Vec<(String, &str, Option<u64>)> = vec![
        ("not json at all".into(), "invalid_json", None),
        ("{\"type\":\"send\"".into(), "invalid_json", None),
        ("[]".into(), "invalid_request", None),
        ("{\"type\":5}".into(), "invalid_request", None),
        ("{\"id\":3}".into(), "invalid_request", Some(3)),
        (
            "{\"type\":\"launch_missiles\",\"id\":4}".into(),
            "unknown_type",
            Some(4),
        ),
        (
            format!(
                "{{\"type\":\"send\",\"id\":5,\"conversation_id\":\"{c}\",\"client_msg_id\":\"a\",\"content\":{{\"kind\":\"text\",\"text\":\"x\"}}}}"
            ),
            "invalid_request",
            Some(5),
        ),
        (
            format!("{{\"type\":\"send\",\"id\":6,\"conversation_id\":{c}}}"),
            "invalid_request",
            Some(6),
        ),
        (
            format!(
                "{{\"type\":\"send\",\"id\":7,\"conversation_id\":{c},\"client_msg_id\":\"a\",\"content\":{{\"kind\":\"html\",\"text\":\"x\"}}}}"
            ),
            "invalid_request",
            Some(7),
        ),
        (
            "{\"type\":\"send\",\"id\":8,\"conversation_id\":1e400,\"client_msg_id\":\"a\",\"content\":{\"kind\":\"text\",\"text\":\"x\"}}".to_string(),
            "invalid_request",
            Some(8),
        ),
        (
            "{\"type\":\"read\",\"id\":9,\"conversation_id\":99999999999999999999999,\"seq\":1}"
                .into(),
            "invalid_request",
            Some(9),
        ),
        (
            "{\"type\":\"auth\",\"id\":10,\"token\":\"again\"}".into(),
            "invalid_request",
            Some(10),
        ),
        (deep, "invalid_request", None),
        (
            format!("{{\"type\":\"history\",\"id\":11,\"conversation_id\":{c},\"limit\":-1}}"),
            "invalid_request",
            Some(11),
        ),
    ];
    for (frame, code, id) in &cases {
        socket.send(Message::text(frame.clone())).await?;
        let reply = next_json(&mut socket)
            .await?
            .ok_or_else(|| anyhow::anyhow!("closed after {frame:.60}"))?;
        assert_eq!(reply["type"], "error", "{frame:.60}: {reply}");
        assert_eq!(reply["code"].as_str(), Some(*code), "{frame:.60}: {reply}");
        assert_eq!(reply["id"].as_u64(), *id, "{frame:.60}: {reply}");
    }
    socket.send(Message::binary(vec![0xff, 0x00, 0x7b])).await?;
    let reply = next_json(&mut socket)
        .await?
        .ok_or_else(|| anyhow::anyhow!("closed"))?;
    assert_eq!(reply["code"], "invalid_json");
    // Still serving: a well-formed request works on the same socket.
    socket
        .send(Message::text(r#"{"type":"ping","id":99}"#))
        .await?;
    let pong = next_json(&mut socket)
        .await?
        .ok_or_else(|| anyhow::anyhow!("closed"))?;
    assert_eq!(
        (pong["type"].as_str(), pong["id"].as_u64()),
        (Some("pong"), Some(99))
    );
    assert!(
        bob.history(conversation, HistoryQuery::default())
            .await?
            .messages
            .is_empty(),
        "nothing was stored"
    );
    Ok(())
}

#[tokio::test]
async fn oversized_and_invalid_utf8_frames_close_only_that_connection() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let bob_live = bob.connect().await?;

    let mut big = authed(&server, &alice).await?;
    let huge = format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let _ = big.send(Message::text(huge)).await;
    assert_eq!(close_code(&mut big).await?, Some(1009), "message too big");

    let mut broken = authed(&server, &alice).await?;
    let frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![b'"', 0xc3, 0x28, b'"'],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    let _ = broken.send(Message::Frame(frame)).await;
    let code = close_code(&mut broken).await?;
    assert!(
        code.is_none() || code == Some(1007),
        "invalid UTF-8 closes the socket, got {code:?}"
    );

    // Everyone else is still served.
    alice.send_text(conversation, "still here").await?;
    let text = crate::wait_for(&bob_live, |event| match event {
        natter_protocol::ws::Event::Message { message } => Some(message.seq),
        _ => None,
    })
    .await;
    assert_eq!(text.0, 1);
    Ok(())
}

#[tokio::test]
async fn a_revoked_device_is_cut_off_at_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let phone = server.user("carol").await?;
    let laptop = server.login(&phone.user().username, "laptop").await?;
    let phone_live = phone.connect().await?;
    laptop.revoke_device(phone.device_id()).await?;
    let code = loop {
        match phone_live.next_event_timeout(WAIT).await? {
            Some(ConnectionEvent::Closed { code, .. }) => break code,
            Some(_) => {}
            None => anyhow::bail!("ended without Closed"),
        }
    };
    assert_eq!(code, close::REVOKED);
    assert!(phone.me().await.is_err());
    Ok(())
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected_and_slows_nobody() -> anyhow::Result<()> {
    flood_a_reader_that_never_reads(|c| c.gateway.outbox_frames = 8).await
}

#[tokio::test]
async fn an_outbox_is_bounded_in_bytes_too() -> anyhow::Result<()> {
    // Frames would be unlimited in practice; the byte budget must cut it.
    flood_a_reader_that_never_reads(|c| {
        c.gateway.outbox_frames = 1_000_000;
        c.gateway.outbox_bytes = 64 * 1024;
    })
    .await
}

async fn flood_a_reader_that_never_reads(
    configure: impl FnOnce(&mut natter_server::Config),
) -> anyhow::Result<()> {
    if natter_testkit::postgresql_requested()? {
        eprintln!(
            "SQLite only: the outbox does not depend on the store, and on a loaded machine this flood through PostgreSQL is slow enough for the 10 s write timeout to end the connection before its outbox overflows"
        );
        return Ok(());
    }
    let server = TestServer::start_with(configure).await?;
    let sender = server.user("sender").await?;
    let slow = server.user("slow").await?;
    let fast = server.user("fast").await?;
    server.befriend(&sender, &slow).await?;
    server.befriend(&sender, &fast).await?;
    let group = sender
        .create_group("flood", &[slow.user().id, fast.user().id])
        .await?
        .id;
    let first_seq = sender.conversation(group).await?.last_seq.0;

    let mut slow_socket = authed(&server, &slow).await?;
    let fast_live = fast.connect().await?;
    // 8 KiB messages fill the kernel's socket buffers quickly; then the outbox.
    let text = "z".repeat(8 * 1024);
    let total = 1500;
    for _ in 0..total {
        sender.send_text(group, &text).await?;
    }
    // The fast client got every message.
    let last = first_seq + total;
    let mut seen = 0;
    loop {
        match fast_live.next_event_timeout(WAIT).await? {
            Some(ConnectionEvent::Event(natter_protocol::ws::Event::Message { message }))
                if message.conversation_id == group =>
            {
                seen += 1;
                if message.seq.0 == last {
                    break;
                }
            }
            Some(_) => {}
            None => anyhow::bail!("fast client dropped"),
        }
    }
    assert_eq!(seen, total);
    // The slow one was dropped with "too slow" before it could get them all.
    let mut received = 0;
    let code = loop {
        match tokio::time::timeout(WAIT, slow_socket.next()).await? {
            Some(Ok(Message::Text(_))) => received += 1,
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break None,
        }
    };
    assert_eq!(code, Some(close::TOO_SLOW));
    assert!(received < total, "received {received} of {total}");
    Ok(())
}

#[tokio::test]
async fn connections_above_the_cap_and_foreign_origins_are_refused() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.gateway.max_connections = 2).await?;
    let user = server.user("capped").await?;
    let _one = authed(&server, &user).await?;
    let _two = authed(&server, &user).await?;
    let refused = tokio_tungstenite::connect_async(server.ws_url()).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("the third connection must be refused");
    };
    assert_eq!(response.status(), 503);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default())?;
    assert_eq!(body["code"], "server_busy");
    drop(_one);

    let server = TestServer::start().await?;
    let mut request = server.ws_url().into_client_request()?;
    request
        .headers_mut()
        .insert("Origin", "http://evil.example".parse()?);
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) =
        tokio_tungstenite::connect_async(request).await
    else {
        panic!("a foreign origin must be refused");
    };
    assert_eq!(response.status(), 403);
    let mut request = server.ws_url().into_client_request()?;
    request
        .headers_mut()
        .insert("Origin", format!("http://{}", server.addr()).parse()?);
    tokio_tungstenite::connect_async(request).await?;
    Ok(())
}

/// A client frame, masked as RFC 6455 requires.
fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut frame = vec![0x81];
    if payload.len() < 126 {
        frame.push(0x80 | payload.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The close code in the server's frames, read from raw bytes.
fn close_code_in(mut bytes: &[u8]) -> Option<u16> {
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (len, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => return None,
            n => (usize::from(n), 2),
        };
        let body = bytes.get(header..header + len)?;
        if opcode == 0x8 && body.len() >= 2 {
            return Some(u16::from_be_bytes([body[0], body[1]]));
        }
        bytes = &bytes[header + len..];
    }
    None
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(|c| {
        c.gateway.idle_timeout_secs = 2;
        c.gateway.ping_interval_secs = 1;
    })
    .await?;
    let user = server.user("idle").await?;
    // A hand-made WebSocket client that never answers pings (a WebSocket library
    // would answer them while reading, and that counts as activity).
    let mut tcp = TcpStream::connect(server.addr()).await?;
    let handshake = format!(
        "GET /api/v1/ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr()
    );
    tcp.write_all(handshake.as_bytes()).await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await?);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let auth = json!({"type": "auth", "token": user.token()}).to_string();
    tcp.write_all(&masked_text_frame(auth.as_bytes())).await?;
    // Read (raw bytes, no pongs) until the server hangs up.
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut received)).await??;
    assert_eq!(close_code_in(&received), Some(close::IDLE));
    Ok(())
}

#[tokio::test]
async fn one_account_cannot_hold_more_than_its_share_of_connections() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.gateway.max_connections_per_user = 2).await?;
    let greedy = server.user("greedy").await?;
    let other = server.user("other").await?;
    let first = authed(&server, &greedy).await?;
    let _second = authed(&server, &greedy).await?;
    // The third is refused with a retry hint and 1013 (try again later).
    let mut third = raw(&server).await?;
    third
        .send(Message::text(
            json!({"type": "auth", "id": 1, "token": greedy.token()}).to_string(),
        ))
        .await?;
    let refused = next_json(&mut third)
        .await?
        .ok_or_else(|| anyhow::anyhow!("closed"))?;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(
        refused["retry_after_ms"].as_u64().unwrap_or(0) > 0,
        "{refused}"
    );
    assert_eq!(close_code(&mut third).await?, Some(close::TRY_AGAIN_LATER));
    // Someone else is not affected.
    let _others = authed(&server, &other).await?;
    // A freed place can be taken again.
    drop(first);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut again = raw(&server).await?;
        again
            .send(Message::text(
                json!({"type": "auth", "id": 1, "token": greedy.token()}).to_string(),
            ))
            .await?;
        let answer = next_json(&mut again)
            .await?
            .ok_or_else(|| anyhow::anyhow!("closed"))?;
        if answer["type"] == "auth_ok" {
            break;
        }
        // The server notices the dropped socket a moment later.
        assert!(tokio::time::Instant::now() < deadline, "{answer}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn an_origin_must_match_in_scheme_host_and_port() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| {
        config.limits.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await?;
    let host = server.addr().to_string();
    let port = server.addr().port();
    let attempt = |origin: String, proto: Option<&'static str>| {
        let url = server.ws_url();
        async move {
            let mut request = url.into_client_request()?;
            request.headers_mut().insert("Origin", origin.parse()?);
            if let Some(proto) = proto {
                request
                    .headers_mut()
                    .insert("X-Forwarded-Proto", proto.parse()?);
            }
            anyhow::Ok(match tokio_tungstenite::connect_async(request).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    response.status().as_u16()
                }
                Err(other) => anyhow::bail!("{other}"),
            })
        }
    };
    assert_eq!(attempt(format!("http://{host}"), None).await?, 101);
    for foreign in [
        format!("ftp://{host}"),
        format!("https://{host}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        format!("http://localhost.evil.example:{port}"),
        "null".to_owned(),
    ] {
        assert_eq!(attempt(foreign.clone(), None).await?, 403, "{foreign}");
    }
    // Behind a trusted proxy that ends TLS, the page's origin is https.
    assert_eq!(
        attempt(format!("https://{host}"), Some("https")).await?,
        101
    );
    assert_eq!(attempt(format!("http://{host}"), Some("https")).await?, 403);
    Ok(())
}

#[tokio::test]
async fn a_throttled_typing_frame_still_checks_membership() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("typist").await?;
    let bob = server.user("typist_friend").await?;
    let chat = server.befriend(&alice, &bob).await?;
    let stranger = server.user("stranger").await?;
    let mut socket = authed(&server, &stranger).await?;
    // Far past the typing budget: every answer is the answer for a stranger.
    for id in 0..10u64 {
        socket
            .send(Message::text(
                json!({"type": "typing", "id": 100 + id, "conversation_id": chat.0}).to_string(),
            ))
            .await?;
        let answer = next_json(&mut socket)
            .await?
            .ok_or_else(|| anyhow::anyhow!("closed"))?;
        assert_eq!(answer["id"], 100 + id, "{answer}");
        assert_eq!(answer["code"], "not_found", "frame {id}: {answer}");
    }
    Ok(())
}

/// PROTOCOL.md §8.2: a resend stores nothing but delivers the original again
/// (the first attempt may have been stored by a server that died before it
/// published); clients de-duplicate by seq.
#[tokio::test]
async fn a_resend_stores_nothing_and_delivers_the_original_again() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("resender").await?;
    let bob = server.user("hearer").await?;
    let chat = server.befriend(&alice, &bob).await?;
    let mut socket = authed(&server, &bob).await?;
    let body = |text: &str| natter_protocol::conversations::SendMessageRequest {
        client_msg_id: natter_protocol::ClientMsgId("same-id".into()),
        content: natter_protocol::conversations::MessageContent::Text { text: text.into() },
        reply_to: None,
    };
    let first = alice.send_message(chat, &body("first")).await?;
    let again = alice.send_message(chat, &body("changed")).await?;
    assert_eq!(first, again, "the original, unchanged");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let frame = next_json(&mut socket)
            .await?
            .ok_or_else(|| anyhow::anyhow!("closed"))?;
        if frame["event"]["type"] == "message" {
            seen.push((
                frame["event"]["message"]["seq"].as_i64(),
                frame["event"]["message"]["content"]["text"].clone(),
            ));
        }
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].1, "first");
    let history = bob.history(chat, &HistoryQuery::default()).await?;
    assert_eq!(history.messages.len(), 1);
    Ok(())
}
