//! The authorization table (RELIABILITY.md Z1): every HTTP route and every
//! WebSocket request, tried by every kind of caller who must not get through.
//!
//! One world is built: alice owns a group that bob belongs to and carol was
//! removed from; alice and bob talk directly; alice blocked eve; dave is a
//! stranger; alice has a pending request to frank. Each probe must be refused
//! with the code its row names, must answer exactly as it would for something
//! that does not exist when the code is `not_found` (so nothing leaks, not even
//! existence), and must leave alice's and bob's view of the world unchanged.
//!
//! A route or frame type without a row fails [`every_route_and_frame_has_a_row`].

use std::collections::BTreeSet;
use std::path::Path;

use futures_util::{SinkExt, StreamExt};
use natter_client::Session;
use natter_protocol::contacts::FriendRequestOutcome;
use natter_protocol::conversations::{HistoryQuery, Role, UpdateGroupRequest};
use natter_protocol::ws::ClientRequest;
use natter_protocol::{
    ALL_ENDPOINTS, ConversationId, DeviceId, Endpoint, ErrorCode, FriendRequestId, Method,
    accounts, contacts, conversations, sync,
};
use natter_testkit::TestServer;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::WAIT;

/// Who is trying. The first two have no valid session at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    NoToken,
    RevokedToken,
    /// A signed-in user aiming at another user's things (dave at alice's).
    OtherUser,
    /// A signed-in user aiming at a group they never belonged to (dave).
    NonMember,
    /// The user alice blocked, aiming at alice (eve).
    Blocked,
    /// A member removed from the group (carol).
    RemovedMember,
    /// An ordinary member doing what only an owner or admin may (bob).
    OrdinaryMember,
}

const ACTORS: [Actor; 7] = [
    Actor::NoToken,
    Actor::RevokedToken,
    Actor::OtherUser,
    Actor::NonMember,
    Actor::Blocked,
    Actor::RemovedMember,
    Actor::OrdinaryMember,
];

/// What must happen when an actor tries an operation.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Refused with this code. `not_found` answers must also equal the answer
    /// about a missing target, byte for byte.
    Refused(ErrorCode),
    /// Allowed, because it only shows or changes the caller's own things; the
    /// answer must hold none of the secrets of others.
    OwnOnly,
    /// Answered as if it worked, so the blocked user is not told; nothing
    /// reaches the blocker.
    Silent,
    /// Cannot apply to this operation; the reason is the row's documentation.
    NotApplicable(&'static str),
}

use Expect::{NotApplicable as Na, OwnOnly, Refused, Silent};

/// The five signed-in cases of a row (the two token cases are the same for
/// every route that needs a session: `unauthorized`).
#[derive(Debug, Clone, Copy)]
struct Cases {
    other_user: Expect,
    non_member: Expect,
    blocked: Expect,
    removed_member: Expect,
    ordinary_member: Expect,
}

const OWN_ACCOUNT: &str = "acts on the caller's own account and names nobody else";
const NO_GROUP: &str = "names no group";
const NO_ADMIN_ROLE: &str = "no group role is involved";
const PUBLIC: &str = "public: no session involved (guarded by rate limits)";

/// A row for operations on the caller's own things only.
const fn own(other_user: Expect) -> Cases {
    Cases {
        other_user,
        non_member: Na(NO_GROUP),
        blocked: Na("names nobody else"),
        removed_member: Na(NO_GROUP),
        ordinary_member: Na(NO_ADMIN_ROLE),
    }
}

/// A row for operations aimed at a user (alice), not at a group.
const fn toward_user(other_user: Expect, blocked: Expect) -> Cases {
    Cases {
        other_user,
        non_member: Na(NO_GROUP),
        blocked,
        removed_member: Na(NO_GROUP),
        ordinary_member: Na(NO_ADMIN_ROLE),
    }
}

/// A row for operations on a conversation: others' direct chats and groups
/// one is not (or no longer) in do not exist for the caller.
const fn in_conversation(blocked: Expect, ordinary_member: Expect) -> Cases {
    Cases {
        other_user: Refused(ErrorCode::NotFound),
        non_member: Refused(ErrorCode::NotFound),
        blocked,
        removed_member: Refused(ErrorCode::NotFound),
        ordinary_member,
    }
}

/// A row for a group administration route.
const fn group_admin() -> Cases {
    Cases {
        other_user: Na("the non-member case is the other user's case for a group"),
        non_member: Refused(ErrorCode::NotFound),
        blocked: Na("blocking is between two users; a group has its own roles"),
        removed_member: Refused(ErrorCode::NotFound),
        ordinary_member: Refused(ErrorCode::Forbidden),
    }
}

const ALL_PUBLIC: Cases = Cases {
    other_user: Na(PUBLIC),
    non_member: Na(PUBLIC),
    blocked: Na(PUBLIC),
    removed_member: Na(PUBLIC),
    ordinary_member: Na(PUBLIC),
};

/// The blocked user keeps reading what was already said between the two, as
/// in every messenger; only new messages are refused.
const BLOCKED_KEEPS_HISTORY: Expect = Na("a blocked user keeps the history they already had");

fn http_table() -> Vec<(Endpoint, Cases)> {
    vec![
        (accounts::REGISTER, ALL_PUBLIC),
        (accounts::LOGIN, ALL_PUBLIC),
        (accounts::LOGOUT, own(Na(OWN_ACCOUNT))),
        (accounts::GET_ME, own(OwnOnly)),
        (accounts::UPDATE_ME, own(Na(OWN_ACCOUNT))),
        (accounts::CHANGE_PASSWORD, own(Na(OWN_ACCOUNT))),
        (accounts::LIST_DEVICES, own(OwnOnly)),
        (accounts::REVOKE_DEVICE, own(Refused(ErrorCode::NotFound))),
        (
            accounts::GET_USER,
            toward_user(
                Na("profiles are visible to every signed-in user, as in search"),
                Na("a blocked user still sees the public profile"),
            ),
        ),
        (contacts::SEARCH_USERS, own(OwnOnly)),
        (contacts::LIST_FRIENDS, own(OwnOnly)),
        (
            contacts::UPDATE_FRIEND,
            toward_user(Refused(ErrorCode::NotFound), Silent),
        ),
        (
            contacts::REMOVE_FRIEND,
            toward_user(
                Refused(ErrorCode::NotFound),
                Na("anyone may end their own friendships, a blocked user too"),
            ),
        ),
        (contacts::LIST_FRIEND_REQUESTS, own(OwnOnly)),
        (
            contacts::SEND_FRIEND_REQUEST,
            toward_user(
                Na("anyone may ask anyone (rate-limited)"),
                // Blocking keeps the friendship: nothing new is told.
                Refused(ErrorCode::AlreadyFriends),
            ),
        ),
        (
            contacts::ACCEPT_FRIEND_REQUEST,
            toward_user(
                Refused(ErrorCode::NotFound),
                Na("eve has no request to act on"),
            ),
        ),
        (
            contacts::DECLINE_FRIEND_REQUEST,
            toward_user(
                Refused(ErrorCode::NotFound),
                Na("eve has no request to act on"),
            ),
        ),
        (
            contacts::CANCEL_FRIEND_REQUEST,
            toward_user(
                Refused(ErrorCode::NotFound),
                Na("eve has no request to act on"),
            ),
        ),
        (contacts::LIST_BLOCKS, own(OwnOnly)),
        (
            contacts::BLOCK_USER,
            toward_user(Na("anyone may block anyone"), Silent),
        ),
        (
            contacts::UNBLOCK_USER,
            toward_user(Na("only the caller's own blocks are touched"), Silent),
        ),
        (conversations::LIST_CONVERSATIONS, own(OwnOnly)),
        (
            conversations::GET_CONVERSATION,
            in_conversation(BLOCKED_KEEPS_HISTORY, Na(NO_ADMIN_ROLE)),
        ),
        (
            conversations::OPEN_DIRECT,
            toward_user(
                Refused(ErrorCode::NotFriends),
                Refused(ErrorCode::NotFriends),
            ),
        ),
        (
            conversations::LIST_MESSAGES,
            in_conversation(BLOCKED_KEEPS_HISTORY, Na(NO_ADMIN_ROLE)),
        ),
        (
            conversations::SEND_MESSAGE,
            in_conversation(Refused(ErrorCode::NotFriends), Na(NO_ADMIN_ROLE)),
        ),
        (
            conversations::MARK_READ,
            in_conversation(BLOCKED_KEEPS_HISTORY, Na(NO_ADMIN_ROLE)),
        ),
        (
            conversations::LIST_MEMBERS,
            in_conversation(BLOCKED_KEEPS_HISTORY, Na(NO_ADMIN_ROLE)),
        ),
        (
            conversations::CREATE_GROUP,
            toward_user(
                Refused(ErrorCode::NotFriends),
                Refused(ErrorCode::NotFriends),
            ),
        ),
        (conversations::UPDATE_GROUP, group_admin()),
        (
            conversations::INVITE_MEMBERS,
            Cases {
                // Any member may invite their own friends (as in WeChat);
                // bob tries a stranger.
                ordinary_member: Refused(ErrorCode::NotFriends),
                ..group_admin()
            },
        ),
        (conversations::REMOVE_MEMBER, group_admin()),
        (conversations::SET_MEMBER_ROLE, group_admin()),
        (conversations::TRANSFER_OWNERSHIP, group_admin()),
        (sync::SYNC, own(OwnOnly)),
    ]
}

/// WebSocket requests, by their `type`. `auth` and `ping` need no target.
fn ws_table() -> Vec<(&'static str, Cases)> {
    vec![
        (
            "auth",
            own(Na("authenticates the caller; names nobody else")),
        ),
        ("ping", own(Na("answers the caller only"))),
        (
            "send",
            in_conversation(Refused(ErrorCode::NotFriends), Na(NO_ADMIN_ROLE)),
        ),
        (
            "read",
            in_conversation(BLOCKED_KEEPS_HISTORY, Na(NO_ADMIN_ROLE)),
        ),
        (
            "typing",
            // The blocker hears nothing; the blocked user is not told.
            in_conversation(Silent, Na(NO_ADMIN_ROLE)),
        ),
        ("sync", own(OwnOnly)),
        (
            "history",
            in_conversation(BLOCKED_KEEPS_HISTORY, Na(NO_ADMIN_ROLE)),
        ),
    ]
}

/// Strings only alice, bob (and frank, for the greeting) may ever see.
const SECRETS: &[&str] = &[
    "secret-group-name",
    "secret-group-text",
    "secret-direct-text",
    "secret-remark",
    "secret-device",
    "secret-greeting",
    "secret-announcement",
];

struct World {
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
    async fn build() -> anyhow::Result<World> {
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

    async fn call(&self, endpoint: Endpoint, actor: Actor, ghost: bool) -> anyhow::Result<Answer> {
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
    async fn call_ws(&self, kind: &str, actor: Actor, ghost: bool) -> anyhow::Result<Answer> {
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
    async fn fingerprint(&self) -> anyhow::Result<Value> {
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

struct Answer {
    label: String,
    status: u16,
    body: Value,
}

impl Answer {
    fn code(&self) -> Option<ErrorCode> {
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

fn expectation(cases: &Cases, actor: Actor, auth: bool) -> Expect {
    match actor {
        Actor::NoToken | Actor::RevokedToken if !auth => Na(PUBLIC),
        Actor::NoToken | Actor::RevokedToken => Refused(ErrorCode::Unauthorized),
        Actor::OtherUser => cases.other_user,
        Actor::NonMember => cases.non_member,
        Actor::Blocked => cases.blocked,
        Actor::RemovedMember => cases.removed_member,
        Actor::OrdinaryMember => cases.ordinary_member,
    }
}

/// Checks one answer against its expectation; `ghost` is the same request
/// aimed at something that does not exist.
fn judge(
    expect: Expect,
    actor: Actor,
    answer: &Answer,
    ghost: Option<&Answer>,
) -> Result<(), String> {
    let what = format!(
        "{actor:?} {}: {} {}",
        answer.label, answer.status, answer.body
    );
    let leaked: Vec<&&str> = SECRETS
        .iter()
        .filter(|secret| answer.body.to_string().contains(**secret))
        .collect();
    if !leaked.is_empty() {
        return Err(format!("{what}: leaks {leaked:?}"));
    }
    match expect {
        Refused(code) => {
            let refused = answer.body["type"] == "error" || (400..500).contains(&answer.status);
            if !refused || answer.code() != Some(code) {
                return Err(format!("{what}: expected {code}"));
            }
            if code == ErrorCode::NotFound
                && let Some(ghost) = ghost
                && (ghost.status, &ghost.body) != (answer.status, &answer.body)
            {
                return Err(format!(
                    "{what}: differs from the answer about nothing: {} {}",
                    ghost.status, ghost.body
                ));
            }
        }
        OwnOnly | Silent => {
            if answer.code().is_some() {
                return Err(format!("{what}: expected to be allowed"));
            }
        }
        Na(reason) => assert!(!reason.is_empty()),
    }
    Ok(())
}

#[tokio::test]
async fn every_route_and_frame_refuses_whoever_must_not_get_through() -> anyhow::Result<()> {
    let world = World::build().await?;
    let mut before = world.fingerprint().await?;
    let mut failures = Vec::new();
    let mut tried = 0;
    for (endpoint, cases) in http_table() {
        for actor in ACTORS {
            let expect = expectation(&cases, actor, endpoint.auth);
            if matches!(expect, Na(_)) {
                continue;
            }
            let answer = world.call(endpoint, actor, false).await?;
            let ghost = world.call(endpoint, actor, true).await?;
            tried += 1;
            if let Err(failure) = judge(expect, actor, &answer, Some(&ghost)) {
                failures.push(failure);
            }
            let after = world.fingerprint().await?;
            if after != before {
                failures.push(format!(
                    "{actor:?} {}: changed what alice or bob see",
                    answer.label
                ));
                before = after;
            }
        }
    }
    for (kind, cases) in ws_table() {
        for actor in ACTORS {
            let expect = match (kind, actor) {
                // `auth` is how a token is given: without one it is malformed.
                ("auth", Actor::NoToken) => Refused(ErrorCode::InvalidRequest),
                // Without a session, every frame before `auth` is refused.
                (_, Actor::NoToken) => Refused(ErrorCode::AuthRequired),
                ("auth", Actor::RevokedToken) => Refused(ErrorCode::Unauthorized),
                // A revoked token never gets past `auth` (checked in its row).
                (_, Actor::RevokedToken) => continue,
                _ => expectation(&cases, actor, true),
            };
            if matches!(expect, Na(_)) {
                continue;
            }
            let answer = world.call_ws(kind, actor, false).await?;
            let ghost = world.call_ws(kind, actor, true).await?;
            tried += 1;
            // The ghost's frame names another conversation id; compare the rest.
            let mut ghost_body = ghost.body.clone();
            ghost_body["id"] = answer.body["id"].clone();
            let ghost = Answer {
                body: ghost_body,
                ..ghost
            };
            if let Err(failure) = judge(expect, actor, &answer, Some(&ghost)) {
                failures.push(failure);
            }
            let after = world.fingerprint().await?;
            if after != before {
                failures.push(format!(
                    "{actor:?} {}: changed what alice or bob see",
                    answer.label
                ));
                before = after;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {tried} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tried >= 100, "only {tried} probes");
    eprintln!(
        "authorization table: {} routes and {} frame types, {tried} probes (each also aimed at a missing target), all refused as their row says",
        http_table().len(),
        ws_table().len()
    );
    Ok(())
}

#[test]
fn every_route_and_frame_has_a_row() {
    let table: BTreeSet<(&str, &str)> = http_table()
        .iter()
        .map(|(e, _)| (e.method.as_str(), e.path))
        .collect();
    for endpoint in ALL_ENDPOINTS {
        assert!(
            table.contains(&(endpoint.method.as_str(), endpoint.path)),
            "{} {} has no row in the authorization table",
            endpoint.method.as_str(),
            endpoint.path
        );
    }
    assert_eq!(table.len(), http_table().len(), "a route has two rows");
    let frames: BTreeSet<&str> = ws_table().iter().map(|(kind, _)| *kind).collect();
    for kind in ClientRequest::TYPES {
        assert!(
            frames.contains(kind),
            "frame `{kind}` has no row in the authorization table"
        );
    }
    // Every route the server registers is one of ALL_ENDPOINTS: each `.route(`
    // names an endpoint constant's path (or one of the three routes outside
    // the API), and the methods registered add up to the endpoint count.
    let mut registrations = 0;
    for file in rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let Ok(source) = std::fs::read_to_string(&file) else {
            panic!("cannot read {}", file.display());
        };
        for call in source.split(".route(").skip(1) {
            let call = call_arguments(call);
            let (path, methods) = call.split_once(',').unwrap_or((call, ""));
            let path = path.trim();
            if ["WS_PATH", "\"/healthz\"", "openapi::PATH"].contains(&path) {
                continue;
            }
            assert!(
                path.ends_with(".path")
                    && path
                        .chars()
                        .all(|c| c.is_alphanumeric() || "_:.".contains(c)),
                "{}: `.route({path}, ..)` must use an endpoint constant from natter-protocol",
                file.display()
            );
            registrations += ["get(", "post(", "put(", "patch(", "delete("]
                .iter()
                .map(|m| methods.matches(m).count())
                .sum::<usize>();
        }
    }
    assert_eq!(
        registrations,
        ALL_ENDPOINTS.len(),
        "the router registers a method that is not in ALL_ENDPOINTS (or the reverse)"
    );
}

/// The text of a call's arguments, up to its closing parenthesis.
fn call_arguments(after_open: &str) -> &str {
    let mut depth = 1;
    for (at, c) in after_open.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &after_open[..at];
                }
            }
            _ => {}
        }
    }
    after_open
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}
