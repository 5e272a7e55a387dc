//! The world the probes run in, and how a probe is sent (HTTP or WebSocket)
//! and answered.

use futures_util::{SinkExt, StreamExt};
use natter_client::Session;
use natter_protocol::contacts::FriendRequestOutcome;
use natter_protocol::conversations::{HistoryQuery, Role, UpdateGroupRequest};
use natter_protocol::{
    ConversationId, DeviceId, Endpoint, ErrorCode, FriendRequestId, Method, accounts, contacts,
    conversations,
};
use natter_testkit::TestServer;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::table::Actor;
use crate::WAIT;

/// Strings only alice, bob (and frank, for the greeting) may ever see.
pub(super) const SECRETS: &[&str] = &[
    "secret-group-name",
    "secret-group-text",
    "secret-direct-text",
    "secret-remark",
    "secret-device",
    "secret-greeting",
    "secret-announcement",
];

pub(super) struct World {
    server: TestServer,
    alice: Session,
    bob: Session,
    carol: Session,
    dave: Session,
    eve: Session,
    frank: Session,
    revoked_token: String,
    group: ConversationId,
    direct: ConversationId,
    blocked_direct: ConversationId,
    request: FriendRequestId,
    alice_device: DeviceId,
}

impl World {
    pub(super) async fn build() -> anyhow::Result<World> {
        let server = TestServer::start().await?;
        let alice = server
            .login(
                &server.user("alice").await?.user().username,
                "secret-device",
            )
            .await?;
        let bob = server.user("bob").await?;
        let carol = server.user("carol").await?;
        let dave = server.user("dave").await?;
        let eve = server.user("eve").await?;
        let frank = server.user("frank").await?;
        let direct = server.befriend(&alice, &bob).await?;
        server.befriend(&alice, &carol).await?;
        let blocked_direct = server.befriend(&alice, &eve).await?;
        alice.send_text(blocked_direct, "before the block").await?;
        alice.block(eve.user().id).await?;
        let group = alice
            .create_group("group", &[bob.user().id, carol.user().id])
            .await?
            .id;
        alice.remove_member(group, carol.user().id).await?;
        alice
            .update_group(
                group,
                &UpdateGroupRequest {
                    name: Some("secret-group-name".into()),
                    announcement: Some("secret-announcement".into()),
                },
            )
            .await?;
        alice.send_text(group, "secret-group-text").await?;
        alice.send_text(direct, "secret-direct-text").await?;
        alice
            .update_friend(bob.user().id, Some("secret-remark"))
            .await?;
        let FriendRequestOutcome::Pending { request } = alice
            .send_friend_request(frank.user().id, Some("secret-greeting"))
            .await?
        else {
            anyhow::bail!("expected a pending request");
        };
        let spare = server.login(&alice.user().username, "spare").await?;
        let revoked_token = spare.token().to_owned();
        spare.logout().await?;
        let alice_device = alice.device_id();
        Ok(World {
            server,
            alice,
            bob,
            carol,
            dave,
            eve,
            frank,
            revoked_token,
            group,
            direct,
            blocked_direct,
            request: request.id,
            alice_device,
        })
    }

    fn token(&self, actor: Actor) -> Option<&str> {
        match actor {
            Actor::NoToken => None,
            Actor::RevokedToken => Some(&self.revoked_token),
            Actor::OtherUser | Actor::NonMember => Some(self.dave.token()),
            Actor::Blocked => Some(self.eve.token()),
            Actor::RemovedMember => Some(self.carol.token()),
            Actor::OrdinaryMember => Some(self.bob.token()),
        }
    }

    /// The conversation an actor aims at.
    fn conversation(&self, actor: Actor) -> ConversationId {
        match actor {
            Actor::OtherUser => self.direct,
            Actor::Blocked => self.blocked_direct,
            _ => self.group,
        }
    }

    /// The path arguments and body of a route, aimed by `actor` at the real
    /// target (`ghost` false) or at one that does not exist.
    fn request(&self, endpoint: Endpoint, actor: Actor, ghost: bool) -> (String, Value) {
        let shift = |id: i64| if ghost { id + 1_000_000 } else { id };
        let conversation = shift(self.conversation(actor).0);
        let alice = shift(self.alice.user().id.0);
        let victim = match actor {
            // An ordinary member acting on the owner.
            Actor::OrdinaryMember => self.alice.user().id.0,
            _ => self.bob.user().id.0,
        };
        let caller_id = match actor {
            Actor::OrdinaryMember => self.bob.user().id.0,
            Actor::RemovedMember => self.carol.user().id.0,
            Actor::Blocked => self.eve.user().id.0,
            _ => self.dave.user().id.0,
        };
        let path = match endpoint {
            e if e == accounts::REVOKE_DEVICE => e.fill(&[&shift(self.alice_device.0)]),
            e if e == contacts::ACCEPT_FRIEND_REQUEST
                || e == contacts::DECLINE_FRIEND_REQUEST
                || e == contacts::CANCEL_FRIEND_REQUEST =>
            {
                e.fill(&[&shift(self.request.0)])
            }
            e if e == conversations::REMOVE_MEMBER || e == conversations::SET_MEMBER_ROLE => {
                e.fill(&[&conversation, &victim])
            }
            e if e.path.contains("{conversation_id}") => e.fill(&[&conversation]),
            e if e.path.contains("{user_id}") => e.fill(&[&alice]),
            e => e.path.to_owned(),
        };
        let body = match endpoint {
            e if e == contacts::SEARCH_USERS => Value::Null,
            e if e == contacts::UPDATE_FRIEND => json!({"remark": "pwned"}),
            e if e == contacts::SEND_FRIEND_REQUEST || e == conversations::OPEN_DIRECT => {
                json!({"user_id": alice, "greeting": "hi"})
            }
            e if e == conversations::SEND_MESSAGE => {
                json!({"client_msg_id": "probe", "content": {"kind": "text", "text": "pwned"}})
            }
            e if e == conversations::MARK_READ => json!({"seq": 2}),
            e if e == conversations::CREATE_GROUP => {
                json!({"name": "pwned", "members": [alice]})
            }
            e if e == conversations::UPDATE_GROUP => json!({"name": "pwned"}),
            e if e == conversations::INVITE_MEMBERS => {
                json!({"user_ids": [self.dave.user().id.0]})
            }
            e if e == conversations::SET_MEMBER_ROLE => json!({"role": Role::Admin}),
            e if e == conversations::TRANSFER_OWNERSHIP => json!({"user_id": caller_id}),
            e if e == accounts::UPDATE_ME => json!({"display_name": "pwned"}),
            e if e == accounts::CHANGE_PASSWORD => {
                json!({"old_password": "wrong-password", "new_password": "pwned-pwned-pwned"})
            }
            e if e.method == Method::Get || e.method == Method::Delete => Value::Null,
            _ => json!({}),
        };
        let path = if endpoint == contacts::SEARCH_USERS {
            format!("{path}?q={}", self.alice.user().username)
        } else {
            path
        };
        (path, body)
    }

    pub(super) async fn call(
        &self,
        endpoint: Endpoint,
        actor: Actor,
        ghost: bool,
    ) -> anyhow::Result<Answer> {
        let (path, body) = self.request(endpoint, actor, ghost);
        let method = reqwest::Method::from_bytes(endpoint.method.as_str().as_bytes())?;
        let mut request =
            reqwest::Client::new().request(method, format!("{}{path}", self.server.url()));
        if let Some(token) = self.token(actor) {
            request = request.bearer_auth(token);
        }
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok(Answer {
            label: format!("{} {path}", endpoint.method.as_str()),
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        })
    }

    /// Sends one WebSocket request as `actor` (authenticating first when the
    /// actor has a token) and returns the answer to it.
    pub(super) async fn call_ws(
        &self,
        kind: &str,
        actor: Actor,
        ghost: bool,
    ) -> anyhow::Result<Answer> {
        let (mut socket, _) = tokio_tungstenite::connect_async(self.server.ws_url()).await?;
        let mut label = format!("ws {kind}");
        if let Some(token) = self.token(actor) {
            socket
                .send(WsMessage::text(
                    json!({"type": "auth", "id": 1, "token": token}).to_string(),
                ))
                .await?;
            let first = next_reply(&mut socket, 1).await?;
            if kind == "auth" || first["type"] != "auth_ok" {
                return Ok(Answer {
                    label: format!("{label} (auth)"),
                    status: 0,
                    body: first,
                });
            }
        }
        let conversation = self.conversation(actor).0 + if ghost { 1_000_000 } else { 0 };
        let frame = match kind {
            "send" => json!({"type": "send", "id": 2, "conversation_id": conversation,
                "client_msg_id": "ws-probe", "content": {"kind": "text", "text": "pwned"}}),
            "read" => json!({"type": "read", "id": 2, "conversation_id": conversation, "seq": 2}),
            "typing" => json!({"type": "typing", "id": 2, "conversation_id": conversation}),
            "history" => json!({"type": "history", "id": 2, "conversation_id": conversation}),
            other => json!({"type": other, "id": 2}),
        };
        label.push_str(&format!(" {conversation}"));
        socket.send(WsMessage::text(frame.to_string())).await?;
        let body = next_reply(&mut socket, 2).await?;
        let _ = socket.close(None).await;
        Ok(Answer {
            label,
            status: 0,
            body,
        })
    }

    /// What alice and bob see: must not change because of any probe.
    /// Presence and activity times are left out; they move on their own.
    pub(super) async fn fingerprint(&self) -> anyhow::Result<Value> {
        let mut views = Vec::new();
        for session in [&self.alice, &self.bob, &self.frank] {
            let mut conversations = session.conversations().await?.conversations;
            conversations.sort_by_key(|c| c.id);
            let mut histories = Vec::new();
            for conversation in &conversations {
                histories.push(
                    session
                        .history(conversation.id, HistoryQuery::default())
                        .await?,
                );
            }
            views.push(json!({
                "me": session.me().await?,
                "conversations": conversations,
                "histories": histories,
                "friends": session.friends().await?,
                "requests": session.friend_requests().await?,
                "blocks": session.blocks().await?,
                "devices": session.devices().await?.devices.iter().map(|d| d.id).collect::<Vec<_>>(),
            }));
        }
        if let Ok(members) = self.alice.members(self.group).await {
            views.push(serde_json::to_value(members)?);
        }
        let mut value = Value::Array(views);
        strip_volatile(&mut value);
        Ok(value)
    }
}

pub(super) struct Answer {
    pub(super) label: String,
    pub(super) status: u16,
    pub(super) body: Value,
}

impl Answer {
    pub(super) fn code(&self) -> Option<ErrorCode> {
        serde_json::from_value(self.body["code"].clone()).ok()
    }
}

fn strip_volatile(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| {
                !matches!(key.as_str(), "online" | "last_seen_at" | "last_active_at")
            });
            map.values_mut().for_each(strip_volatile);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_volatile),
        _ => {}
    }
}

/// The reply or error frame that answers request `id`, skipping events.
async fn next_reply(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    id: u64,
) -> anyhow::Result<Value> {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await? {
            Some(Ok(WsMessage::Text(text))) => {
                let frame: Value = serde_json::from_str(&text)?;
                if frame["type"] == "event" {
                    continue;
                }
                if frame["id"].as_u64() == Some(id) || frame["type"] == "error" {
                    return Ok(frame);
                }
            }
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => {
                return Ok(json!({"type": "closed"}));
            }
            Some(Ok(_)) => {}
        }
    }
}
