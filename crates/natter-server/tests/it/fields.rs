//! Field-level authorization and retries (RELIABILITY.md Z5, R4): fields the
//! server owns cannot be set by a client, and a message retried in every way a
//! client can retry it is stored once.

use natter_protocol::conversations::{HistoryQuery, MessageContent, Role};
use natter_protocol::{ConversationId, Seq};
use natter_testkit::TestServer;
use serde_json::{Value, json};

/// Sends `body` with `session`'s token and returns the status and JSON body.
async fn raw(
    server: &TestServer,
    session: &natter_client::Session,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url()))
        .bearer_auth(session.token())
        .json(&body)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

#[tokio::test]
async fn fields_the_server_owns_cannot_be_set_by_a_client() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let chat = server.befriend(&alice, &bob).await?;
    let before = alice.me().await?;

    // A profile update carrying an id, a username and a creation time.
    let (status, _) = raw(
        &server,
        &alice,
        reqwest::Method::PATCH,
        "/api/v1/me",
        json!({"display_name": "Alice", "id": bob.user().id.0, "username": "root",
               "created_at": 0, "role": "admin"}),
    )
    .await?;
    assert_eq!(status, 200);
    let after = alice.me().await?;
    assert_eq!(
        (after.id, &after.username, after.created_at),
        (before.id, &before.username, before.created_at)
    );
    assert_eq!(after.display_name, "Alice");
    assert_eq!(bob.me().await?, *bob.user());

    // A message claiming another sender, seq, time and conversation.
    let forged = json!({"client_msg_id": "z5", "content": {"kind": "text", "text": "hi"},
        "sender_id": bob.user().id.0, "seq": 999, "sent_at": 0,
        "conversation_id": chat.0 + 1, "edited_at": 1, "recalled_at": 1});
    let path = format!("/api/v1/conversations/{}/messages", chat.0);
    let (status, stored) = raw(&server, &alice, reqwest::Method::POST, &path, forged).await?;
    assert_eq!(status, 200, "{stored}");
    let history = bob.history(chat, &HistoryQuery::default()).await?;
    let message = history
        .messages
        .iter()
        .find(|m| m.client_msg_id.as_ref().is_some_and(|id| id.0 == "z5"))
        .ok_or_else(|| anyhow::anyhow!("not stored"))?;
    assert_eq!(message.sender_id, alice.user().id);
    assert_eq!(message.conversation_id, chat);
    assert!(message.seq.0 < 10 && message.sent_at.0 > 0, "{message:?}");
    assert_eq!((message.edited_at, message.recalled_at), (None, None));
    assert_eq!(message.content, MessageContent::Text { text: "hi".into() });

    // A group created with someone else named as owner.
    let (status, group) = raw(
        &server,
        &alice,
        reqwest::Method::POST,
        "/api/v1/groups",
        json!({"name": "g", "members": [bob.user().id.0], "owner": bob.user().id.0,
               "my_role": "member", "member_count": 1000}),
    )
    .await?;
    assert_eq!(status, 200, "{group}");
    let group = ConversationId(group["id"].as_i64().unwrap_or_default());
    let members = alice.members(group).await?;
    let owner = members.members.iter().find(|m| m.role == Role::Owner);
    assert_eq!(owner.map(|m| m.user.id), Some(alice.user().id));
    assert_eq!(members.members.len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_retried_concurrently_and_after_a_restart_is_stored_once() -> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let chat = server.befriend(&alice, &bob).await?;
    let second_device = server.login(&alice.user().username, "second").await?;
    let request = natter_protocol::conversations::SendMessageRequest {
        client_msg_id: natter_protocol::ClientMsgId("r4-once".into()),
        content: MessageContent::Text {
            text: "only once".into(),
        },
        reply_to: None,
    };
    // Ten at once: over HTTP and over two WebSockets, from two devices.
    let sockets = [
        std::sync::Arc::new(alice.connect().await?),
        std::sync::Arc::new(second_device.connect().await?),
    ];
    let mut sends = Vec::new();
    for i in 0..10 {
        let request = request.clone();
        let (http, socket) = (alice.clone(), sockets[i % 2].clone());
        sends.push(tokio::spawn(async move {
            if i % 3 == 0 {
                http.send_message(chat, &request).await
            } else {
                socket.send(chat, request).await
            }
        }));
    }
    let mut answers = Vec::new();
    for send in sends {
        answers.push(send.await??);
    }
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "every retry gets the original answer: {answers:?}"
    );
    // After a restart, the retry still finds the original.
    server.restart().await?;
    let after_restart = alice.send_message(chat, &request).await?;
    assert_eq!(after_restart, answers[0]);
    let stored: Vec<Seq> = bob
        .history(chat, &HistoryQuery::default())
        .await?
        .messages
        .iter()
        .filter(|m| m.client_msg_id.as_ref() == Some(&request.client_msg_id))
        .map(|m| m.seq)
        .collect();
    assert_eq!(stored, vec![answers[0].seq]);
    Ok(())
}
