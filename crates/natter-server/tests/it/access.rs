use natter_protocol::conversations::{HistoryQuery, MessageContent, SendMessageRequest};
use natter_protocol::ws::Event;
use natter_protocol::{ALL_ENDPOINTS, ClientMsgId, ConversationId, ErrorCode, Method, Seq};
use natter_testkit::TestServer;
use serde_json::json;

use crate::wait_for;

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

#[tokio::test]
async fn every_authenticated_route_refuses_a_missing_bad_or_revoked_token() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let user = server.user("someone").await?;
    let revoked = user.token().to_owned();
    user.logout().await?;
    let http = reqwest::Client::new();
    let mut checked = 0;
    for endpoint in ALL_ENDPOINTS.iter().filter(|e| e.auth) {
        let path = endpoint.fill(&[&1, &1]);
        for token in [None, Some("not-a-token"), Some(revoked.as_str())] {
            let mut request = http.request(
                reqwest_method(endpoint.method),
                format!("{}{path}", server.url()),
            );
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.json(&json!({})).send().await?;
            assert_eq!(
                response.status(),
                401,
                "{} {path} with {token:?}",
                endpoint.method.as_str()
            );
            let body: serde_json::Value = response.json().await?;
            assert_eq!(body["code"], "unauthorized");
            checked += 1;
        }
    }
    assert!(checked >= 30 * 3, "checked {checked}");
    Ok(())
}

/// Everything a stranger can try on a conversation, through HTTP and the
/// WebSocket, answered as `(operation, error code)`.
async fn probe(
    server: &TestServer,
    stranger: &natter_client::Session,
    conversation: ConversationId,
    victim: natter_protocol::UserId,
) -> anyhow::Result<Vec<(String, Option<ErrorCode>)>> {
    let http = reqwest::Client::new();
    let c = conversation.0;
    let v = victim.0;
    let routes: Vec<(reqwest::Method, String, serde_json::Value)> = vec![
        (
            reqwest::Method::GET,
            format!("/api/v1/conversations/{c}"),
            json!(null),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/conversations/{c}/messages"),
            json!(null),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/conversations/{c}/messages"),
            json!({"client_msg_id": "x1", "content": {"kind": "text", "text": "hi"}}),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/conversations/{c}/read"),
            json!({"seq": 1}),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/conversations/{c}/members"),
            json!(null),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/groups/{c}"),
            json!({"name": "pwned"}),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/groups/{c}/members"),
            json!({"user_ids": [stranger.user().id.0]}),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/groups/{c}/members/{v}"),
            json!(null),
        ),
        (
            reqwest::Method::PUT,
            format!("/api/v1/groups/{c}/members/{v}/role"),
            json!({"role": "admin"}),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/groups/{c}/transfer"),
            json!({"user_id": stranger.user().id.0}),
        ),
    ];
    let mut out = Vec::new();
    for (method, path, body) in routes {
        let mut request = http
            .request(method.clone(), format!("{}{path}", server.url()))
            .bearer_auth(stranger.token());
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await?;
        let code: Option<ErrorCode> = serde_json::from_value(body["code"].clone()).ok();
        out.push((format!("{method} {path} -> {status}"), code));
    }
    let live = stranger.connect().await?;
    let text = SendMessageRequest {
        client_msg_id: ClientMsgId("ws1".into()),
        content: MessageContent::Text { text: "hi".into() },
        reply_to: None,
    };
    out.push((
        "ws send".into(),
        live.send(conversation, text)
            .await
            .err()
            .and_then(|e| e.code()),
    ));
    out.push((
        "ws read".into(),
        live.mark_read(conversation, Seq(1))
            .await
            .err()
            .and_then(|e| e.code()),
    ));
    out.push((
        "ws typing".into(),
        live.typing(conversation).await.err().and_then(|e| e.code()),
    ));
    out.push((
        "ws history".into(),
        live.history(conversation, HistoryQuery::default())
            .await
            .err()
            .and_then(|e| e.code()),
    ));
    live.close().await;
    Ok(out)
}

#[tokio::test]
async fn a_non_member_or_former_member_learns_nothing_about_a_group() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let owner = server.user("owner").await?;
    let member = server.user("member").await?;
    let kicked = server.user("kicked").await?;
    let stranger = server.user("stranger").await?;
    server.befriend(&owner, &member).await?;
    server.befriend(&owner, &kicked).await?;
    let group = owner
        .create_group("secret", &[member.user().id, kicked.user().id])
        .await?
        .id;
    owner.send_text(group, "private").await?;
    owner.remove_member(group, kicked.user().id).await?;
    let stored_before = owner
        .history(group, HistoryQuery::default())
        .await?
        .messages
        .len();

    let missing = ConversationId(group.0 + 10_000);
    for outsider in [&stranger, &kicked] {
        let on_group = probe(&server, outsider, group, member.user().id).await?;
        let on_nothing = probe(&server, outsider, missing, member.user().id).await?;
        for ((operation, code), (_, code_missing)) in on_group.iter().zip(&on_nothing) {
            assert_eq!(*code, Some(ErrorCode::NotFound), "{operation}");
            assert_eq!(
                code, code_missing,
                "{operation}: an existing group must look like a missing one"
            );
        }
        let statuses_group: Vec<&str> = on_group
            .iter()
            .map(|(op, _)| op.rsplit(' ').next().unwrap_or(""))
            .collect();
        let statuses_missing: Vec<&str> = on_nothing
            .iter()
            .map(|(op, _)| op.rsplit(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(statuses_group, statuses_missing);
    }
    // Nothing changed.
    let after = owner.history(group, HistoryQuery::default()).await?;
    assert_eq!(after.messages.len(), stored_before);
    let summary = member.conversation(group).await?;
    assert_eq!((summary.name.as_str(), summary.member_count), ("secret", 2));
    assert!(
        stranger
            .conversations()
            .await?
            .conversations
            .iter()
            .all(|c| c.id != group)
    );
    Ok(())
}

#[tokio::test]
async fn events_of_a_group_never_reach_a_non_member() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let owner = server.user("owner").await?;
    let member = server.user("member").await?;
    let stranger = server.user("stranger").await?;
    server.befriend(&owner, &member).await?;
    let with_stranger = server.befriend(&owner, &stranger).await?;
    let group = owner.create_group("g", &[member.user().id]).await?.id;
    let live = stranger.connect().await?;
    // The member comes online: their friends hear of it, the stranger must not.
    let member_live = member.connect().await?;
    member_live.typing(group).await?;
    owner.send_text(group, "members only").await?;
    member.mark_read(group, Seq(3)).await?;
    owner.send_text(with_stranger, "marker").await?;
    let member_id = member.user().id;
    let first = wait_for(&live, |event| match event {
        Event::Presence { user_id, .. } if *user_id == member_id => Some(ConversationId(0)),
        Event::Message { message } => Some(message.conversation_id),
        Event::Read {
            conversation_id, ..
        }
        | Event::Typing {
            conversation_id, ..
        } => Some(*conversation_id),
        _ => None,
    })
    .await;
    assert_eq!(first, with_stranger);
    Ok(())
}
