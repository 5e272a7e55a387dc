//! Pins the JSON of the wire (a change here is a protocol change: update
//! docs/PROTOCOL.md in the same commit) and keeps the generated TypeScript in step.

use serde_json::json;

use crate::accounts::*;
use crate::contacts::*;
use crate::conversations::*;
use crate::sync::*;
use crate::ws::*;
use crate::*;

fn check<T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + PartialEq>(
    value: T,
    expected: serde_json::Value,
) {
    let actual = serde_json::to_value(&value).expect("serializes");
    assert_eq!(actual, expected, "wire JSON changed");
    let back: T = serde_json::from_value(expected).expect("parses back");
    assert_eq!(back, value);
}

fn profile() -> UserProfile {
    UserProfile {
        id: UserId(7),
        username: "alice".into(),
        display_name: "爱丽丝".into(),
        created_at: Timestamp(1_700_000_000_000),
    }
}

fn text_message() -> Message {
    Message {
        conversation_id: ConversationId(3),
        seq: Seq(42),
        sender_id: UserId(7),
        client_msg_id: Some(ClientMsgId("c1".into())),
        sent_at: Timestamp(1_700_000_000_123),
        content: MessageContent::Text {
            text: "你好 👋".into(),
        },
        reply_to: None,
        edited_at: None,
        recalled_at: None,
        expires_at: None,
    }
}

#[test]
fn client_frames_have_a_flat_shape() {
    check(
        ClientFrame {
            id: Some(1),
            request: ClientRequest::Auth {
                token: "t0k".into(),
            },
        },
        json!({"id": 1, "type": "auth", "token": "t0k"}),
    );
    check(
        ClientFrame {
            id: None,
            request: ClientRequest::Ping,
        },
        json!({"type": "ping"}),
    );
    check(
        ClientFrame {
            id: Some(2),
            request: ClientRequest::Send {
                conversation_id: ConversationId(3),
                message: SendMessageRequest {
                    client_msg_id: ClientMsgId("c1".into()),
                    content: MessageContent::Text { text: "hi".into() },
                    reply_to: None,
                },
            },
        },
        json!({"id": 2, "type": "send", "conversation_id": 3, "client_msg_id": "c1",
               "content": {"kind": "text", "text": "hi"}}),
    );
    check(
        ClientFrame {
            id: Some(3),
            request: ClientRequest::Read {
                conversation_id: ConversationId(3),
                seq: Seq(9),
            },
        },
        json!({"id": 3, "type": "read", "conversation_id": 3, "seq": 9}),
    );
    check(
        ClientFrame {
            id: None,
            request: ClientRequest::Typing {
                conversation_id: ConversationId(3),
            },
        },
        json!({"type": "typing", "conversation_id": 3}),
    );
    check(
        ClientFrame {
            id: Some(4),
            request: ClientRequest::Sync {
                since: SyncCursor(17),
                resume: false,
            },
        },
        json!({"id": 4, "type": "sync", "since": 17}),
    );
    check(
        ClientFrame {
            id: Some(4),
            request: ClientRequest::Sync {
                since: SyncCursor(18),
                resume: true,
            },
        },
        json!({"id": 4, "type": "sync", "since": 18, "resume": true}),
    );
    check(
        ClientFrame {
            id: Some(5),
            request: ClientRequest::History {
                conversation_id: ConversationId(3),
                query: HistoryQuery {
                    before: Some(Seq(40)),
                    after: None,
                    limit: Some(20),
                },
            },
        },
        json!({"id": 5, "type": "history", "conversation_id": 3, "before": 40, "limit": 20}),
    );
}

#[test]
fn server_frames_have_a_stable_shape() {
    check(
        ServerFrame::AuthOk {
            id: Some(1),
            user: profile(),
            device_id: DeviceId(11),
            protocol: PROTOCOL_VERSION,
            server_time: Timestamp(5),
        },
        json!({"type": "auth_ok", "id": 1, "device_id": 11, "protocol": 1, "server_time": 5,
               "user": {"id": 7, "username": "alice", "display_name": "爱丽丝", "created_at": 1_700_000_000_000i64}}),
    );
    check(
        ServerFrame::Error {
            id: Some(2),
            code: ErrorCode::NotFound,
            message: "no".into(),
            retry_after_ms: None,
            reason: None,
        },
        json!({"type": "error", "id": 2, "code": "not_found", "message": "no"}),
    );
    check(
        ServerFrame::Error {
            id: Some(4),
            code: ErrorCode::WeakPassword,
            message: "weak".into(),
            retry_after_ms: None,
            reason: Some(ErrorReason::CommonPassword),
        },
        json!({"type": "error", "id": 4, "code": "weak_password", "message": "weak",
               "reason": "common_password"}),
    );
    check(
        ServerFrame::Reply {
            id: 3,
            result: json!({"ok": true}),
        },
        json!({"type": "reply", "id": 3, "result": {"ok": true}}),
    );
    check(
        ServerFrame::Event {
            event: Event::Message {
                message: text_message(),
            },
        },
        json!({"type": "event", "event": {"type": "message", "message": {
            "conversation_id": 3, "seq": 42, "sender_id": 7, "client_msg_id": "c1",
            "sent_at": 1_700_000_000_123i64, "content": {"kind": "text", "text": "你好 👋"},
            "reply_to": null, "edited_at": null, "recalled_at": null, "expires_at": null}}}),
    );
    check(
        ServerFrame::Event {
            event: Event::Read {
                conversation_id: ConversationId(3),
                user_id: UserId(8),
                read_seq: Seq(42),
            },
        },
        json!({"type": "event", "event": {"type": "read", "conversation_id": 3, "user_id": 8, "read_seq": 42}}),
    );
    check(
        ServerFrame::Event {
            event: Event::Presence {
                user_id: UserId(8),
                online: false,
                last_seen_at: Some(Timestamp(9)),
            },
        },
        json!({"type": "event", "event": {"type": "presence", "user_id": 8, "online": false, "last_seen_at": 9}}),
    );
    check(
        ServerFrame::Event {
            event: Event::User {
                event: UserEvent {
                    cursor: SyncCursor(12),
                    at: Timestamp(4),
                    change: UserChange::ReadPosition {
                        conversation_id: ConversationId(3),
                        read_seq: Seq(42),
                    },
                },
            },
        },
        json!({"type": "event", "event": {"type": "user", "event": {"cursor": 12, "at": 4,
               "change": {"type": "read_position", "conversation_id": 3, "read_seq": 42}}}}),
    );
}

#[test]
fn system_events_and_outcomes_are_tagged() {
    check(
        MessageContent::System {
            event: SystemEvent::MembersAdded {
                by: UserId(1),
                users: vec![UserId(2), UserId(3)],
            },
        },
        json!({"kind": "system", "event": {"type": "members_added", "by": 1, "users": [2, 3]}}),
    );
    check(
        SyncQuery {
            since: SyncCursor(0),
            resume: false,
        },
        json!({"since": 0}),
    );
    let request = FriendRequest {
        id: FriendRequestId(5),
        from: profile(),
        to: profile(),
        greeting: "hi".into(),
        status: FriendRequestStatus::Pending,
        created_at: Timestamp(1),
        updated_at: Timestamp(1),
    };
    let value =
        serde_json::to_value(FriendRequestOutcome::Pending { request }).expect("serializes");
    assert_eq!(value["outcome"], "pending");
    assert_eq!(value["request"]["status"], "pending");
}

#[test]
fn error_reasons_are_snake_case() {
    let spelled: Vec<serde_json::Value> = ErrorReason::ALL
        .iter()
        .map(|reason| serde_json::to_value(reason).expect("serializes"))
        .collect();
    assert_eq!(
        spelled,
        [
            "too_short",
            "too_long",
            "common_password",
            "personal_information",
            "predictable"
        ]
    );
}

#[test]
fn error_codes_are_spelled_as_their_table_says() {
    for code in ErrorCode::ALL {
        let json = serde_json::to_value(code).expect("serializes");
        assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
        let status = code.http_status();
        assert!((400..600).contains(&status), "{code} has status {status}");
    }
    // A few pinned spellings that clients switch on.
    assert_eq!(
        ErrorCode::InvalidCredentials.as_str(),
        "invalid_credentials"
    );
    assert_eq!(ErrorCode::RateLimited.as_str(), "rate_limited");
    assert_eq!(ErrorCode::TooFarBehind.as_str(), "too_far_behind");
}

#[test]
fn endpoint_paths_fill_their_placeholders() {
    assert_eq!(
        REMOVE_MEMBER.fill(&[&ConversationId(3), &UserId(9)]),
        "/api/v1/groups/3/members/9"
    );
    assert_eq!(LIST_FRIENDS.fill(&[]), "/api/v1/friends");
    let mut seen = std::collections::HashSet::new();
    for endpoint in crate::endpoint::ALL_ENDPOINTS {
        assert!(endpoint.path.starts_with("/api/v1/"), "{}", endpoint.path);
        assert!(
            seen.insert((endpoint.method, endpoint.path)),
            "declared twice: {}",
            endpoint.path
        );
    }
}

/// The TypeScript declarations of every wire type, in one file for the web client.
pub fn typescript_bindings() -> String {
    use ts_rs::TS;
    let mut out = String::from(
        "// Generated from crates/natter-protocol by `NATTER_UPDATE_TS=1 cargo test -p natter-protocol`.\n\
         // Do not edit by hand: a test fails when this file and the Rust types disagree.\n\n",
    );
    macro_rules! emit {
        ($($t:ty),* $(,)?) => {$(
            out.push_str("export ");
            out.push_str(&<$t as TS>::decl());
            out.push_str("\n\n");
        )*};
    }
    emit!(
        UserId,
        DeviceId,
        Timestamp,
        ConversationId,
        FriendRequestId,
        Seq,
        SyncCursor,
        ClientMsgId,
        ErrorCode,
        ErrorReason,
        ErrorBody,
        RegisterRequest,
        LoginRequest,
        LoginResponse,
        UserProfile,
        UpdateProfileRequest,
        ChangePasswordRequest,
        Device,
        DeviceList,
        accounts::Ok,
        SearchUsersQuery,
        UserSearchPage,
        FriendRequestStatus,
        FriendRequest,
        SendFriendRequest,
        FriendRequestOutcome,
        FriendRequestList,
        Friend,
        FriendList,
        UpdateFriendRequest,
        BlockList,
        ConversationKind,
        Role,
        ConversationSummary,
        ConversationList,
        OpenDirectRequest,
        Message,
        MessageContent,
        MediaRef,
        SystemEvent,
        SendMessageRequest,
        SendMessageResponse,
        HistoryQuery,
        MessagePage,
        MarkReadRequest,
        ReadPosition,
        Member,
        MemberList,
        CreateGroupRequest,
        UpdateGroupRequest,
        InviteRequest,
        SetRoleRequest,
        TransferRequest,
        SyncQuery,
        SyncResponse,
        UserEvent,
        UserChange,
        ClientFrame,
        ClientRequest,
        ServerFrame,
        Event,
    );
    out.push_str(&format!(
        "export const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n"
    ));
    out.push_str(&typescript_endpoints());
    out
}

/// The endpoint table of the web client: each route's method, path (with
/// `{placeholders}`) and whether it needs a token, under the Rust constant's
/// name, so that the client never spells a route by hand.
fn typescript_endpoints() -> String {
    use crate::endpoint::{ALL_ENDPOINTS, ENDPOINT_NAMES};
    let mut out = String::from(
        "\n/** Every HTTP route, as `natter-protocol` declares it. */\nexport const ENDPOINTS = {\n",
    );
    for (name, endpoint) in ENDPOINT_NAMES.iter().zip(ALL_ENDPOINTS) {
        out.push_str(&format!(
            "  {name}: {{ method: \"{}\", path: \"{}\", auth: {} }},\n",
            endpoint.method.as_str(),
            endpoint.path,
            endpoint.auth
        ));
    }
    out.push_str("} as const;\n\nexport type EndpointName = keyof typeof ENDPOINTS;\n");
    out
}

#[test]
fn every_endpoint_has_its_name_in_the_generated_table() {
    use crate::endpoint::{ALL_ENDPOINTS, ENDPOINT_NAMES};
    assert_eq!(ALL_ENDPOINTS.len(), ENDPOINT_NAMES.len());
    assert!(ENDPOINT_NAMES.contains(&"LIST_MESSAGES"));
    let table = typescript_endpoints();
    assert!(table.contains(
        "  SEND_MESSAGE: { method: \"POST\", path: \"/api/v1/conversations/{conversation_id}/messages\", auth: true },"
    ));
    assert!(
        table.contains("  LOGIN: { method: \"POST\", path: \"/api/v1/auth/login\", auth: false },")
    );
}

#[test]
fn generated_typescript_matches_the_rust_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../web/src/generated/protocol.ts");
    let fresh = typescript_bindings();
    if std::env::var_os("NATTER_UPDATE_TS").is_some() {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("creates the folder");
        std::fs::write(&path, &fresh).expect("writes the bindings");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "web/src/generated/protocol.ts is stale: run `NATTER_UPDATE_TS=1 cargo test -p natter-protocol`"
    );
}

#[test]
fn debug_output_never_shows_a_password_or_token() {
    let user = crate::accounts::UserProfile {
        id: UserId(1),
        username: "alice".into(),
        display_name: "Alice".into(),
        created_at: Timestamp(0),
    };
    let shown = format!(
        "{:?} {:?} {:?} {:?}",
        RegisterRequest {
            username: "alice".into(),
            password: "pw-register".into(),
            display_name: None,
        },
        LoginRequest {
            username: "alice".into(),
            password: "pw-login".into(),
            device: None,
        },
        LoginResponse {
            token: "tok-secret".into(),
            device_id: DeviceId(1),
            user,
        },
        ChangePasswordRequest {
            old_password: "pw-old".into(),
            new_password: "pw-new".into(),
        },
    );
    let frame = crate::ws::ClientFrame {
        id: Some(1),
        request: crate::ws::ClientRequest::Auth {
            token: "tok-frame".into(),
        },
    };
    let shown = format!("{shown} {frame:?}");
    for secret in [
        "pw-register",
        "pw-login",
        "tok-secret",
        "pw-old",
        "pw-new",
        "tok-frame",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(
        shown.contains("alice") && shown.contains("<redacted>"),
        "{shown}"
    );
}

/// Found by the `server_frame` fuzz target: a huge integer inside a reply's
/// free-form result decoded to a float that did not survive a round trip
/// until serde_json's `float_roundtrip` was enabled.
#[test]
fn numbers_in_free_form_results_round_trip_exactly() {
    let text = r#"{"type":"reply","id":2,"result":{"n":999999999999999999999999999999999999999999999999999999999999999999999999991}}"#;
    let frame: ServerFrame = serde_json::from_str(text).expect("decodes");
    let again: ServerFrame =
        serde_json::from_str(&serde_json::to_string(&frame).expect("encodes")).expect("decodes");
    assert_eq!(frame, again);
}
