//! WebSocket frames at `/api/v1/ws`.
//!
//! Every frame is one JSON text message with a `type`. The client's first frame
//! must be `auth`; after `auth_ok` it may send requests (each with an `id` that the
//! reply repeats) and receives pushed `event` frames at any time.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::accounts::UserProfile;
use crate::conversations::{HistoryQuery, Message, SendMessageRequest};
use crate::sync::UserEvent;
use crate::{ConversationId, DeviceId, ErrorCode, ErrorReason, Seq, SyncCursor, Timestamp, UserId};

/// A session token as the `auth` frame carries it. Its `Debug` output is
/// redacted, so that a stray `{:?}` of a frame logs nothing secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionToken(pub String);

impl SessionToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SessionToken {
    fn from(token: &str) -> Self {
        SessionToken(token.to_owned())
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// The path of the WebSocket endpoint.
pub const WS_PATH: &str = "/api/v1/ws";

/// WebSocket close codes the server uses besides the standard ones
/// (1000 normal, 1001 going away, 1008 policy, 1009 too big, 1011 error, 1013 try later).
pub mod close {
    /// No `auth` frame in time, or a bad token.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The device was revoked or logged out.
    pub const REVOKED: u16 = 4002;
    /// The client did not read fast enough; it should reconnect and sync.
    pub const TOO_SLOW: u16 = 4003;
    /// No frame (not even a pong) within the idle timeout.
    pub const IDLE: u16 = 4004;
    /// The server is shutting down; reconnect later.
    pub const GOING_AWAY: u16 = 1001;
    /// The server holds as many connections as it may.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// A frame from client to server: an optional request `id` plus the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ClientFrame {
    /// Chosen by the client; the reply carries it back. A frame without an id
    /// gets no reply when it succeeds; errors are always reported (with the id
    /// when the frame had one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub id: Option<u64>,
    #[serde(flatten)]
    pub request: ClientRequest,
}

/// What a client can ask over the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientRequest {
    /// Must be the first frame. Reply: `auth_ok`.
    Auth {
        #[ts(type = "string")]
        token: SessionToken,
    },
    /// Application-level keepalive (browsers cannot send WebSocket pings). Reply: `pong`.
    Ping,
    /// Send a message. Reply: [`crate::conversations::SendMessageResponse`].
    Send {
        conversation_id: ConversationId,
        #[serde(flatten)]
        message: SendMessageRequest,
    },
    /// Mark read up to `seq`. Reply: [`crate::conversations::ReadPosition`].
    Read {
        conversation_id: ConversationId,
        seq: Seq,
    },
    /// "I am typing" (not stored; repeat every few seconds while typing). Reply: `{ok}`.
    Typing { conversation_id: ConversationId },
    /// Catch up. Reply: [`crate::sync::SyncResponse`].
    Sync {
        #[serde(default)]
        since: SyncCursor,
        /// Going on from a page that said `has_more` (see [`crate::sync::SyncQuery`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        #[ts(as = "Option<bool>", optional)]
        resume: bool,
    },
    /// A page of history. Reply: [`crate::conversations::MessagePage`].
    History {
        conversation_id: ConversationId,
        #[serde(flatten)]
        query: HistoryQuery,
    },
}

impl ClientRequest {
    /// Every request type, as spelled on the wire.
    pub const TYPES: &'static [&'static str] =
        &["auth", "ping", "send", "read", "typing", "sync", "history"];
}

/// Why a client frame could not be decoded, with what the error reply needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The frame's `id`, when it could be read.
    pub id: Option<u64>,
    pub code: ErrorCode,
    pub message: String,
}

/// Just enough of a frame to answer well when the rest is wrong.
#[derive(Deserialize)]
struct FrameHead<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// Decodes a client's text frame: the request and its id, or a typed error.
///
/// The head (`type` and `id`) is read first: serde would otherwise accept an
/// integer `type` as a variant index, and the head also lets an error carry the
/// frame's id. Never panics, whatever the input (a fuzz target checks).
pub fn decode_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    let head: FrameHead<'_> = serde_json::from_str(text).map_err(|error| {
        let (code, message) = if error.is_syntax() || error.is_eof() {
            (ErrorCode::InvalidJson, "The frame is not valid JSON.")
        } else {
            (
                ErrorCode::InvalidRequest,
                "A frame is a JSON object with a string `type` and an optional integer `id`.",
            )
        };
        FrameError {
            id: None,
            code,
            message: message.into(),
        }
    })?;
    let Some(kind) = head.kind else {
        return Err(FrameError {
            id: head.id,
            code: ErrorCode::InvalidRequest,
            message: "The frame needs a `type`.".into(),
        });
    };
    if !ClientRequest::TYPES.contains(&kind.as_ref()) {
        return Err(FrameError {
            id: head.id,
            code: ErrorCode::UnknownType,
            message: format!(
                "Unknown frame type `{}`.",
                kind.chars().take(32).collect::<String>()
            ),
        });
    }
    serde_json::from_str(text).map_err(|error| FrameError {
        id: head.id,
        code: ErrorCode::InvalidRequest,
        message: error.to_string(),
    })
}

/// A frame from server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The `auth` frame was accepted.
    AuthOk {
        #[ts(optional, type = "number")]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        user: UserProfile,
        device_id: DeviceId,
        protocol: u32,
        server_time: Timestamp,
    },
    /// The successful result of request `id`; its shape depends on the request.
    Reply {
        #[ts(type = "number")]
        id: u64,
        #[ts(type = "unknown")]
        result: serde_json::Value,
    },
    /// Request `id` failed (or, without an id, the connection-level problem).
    Error {
        #[ts(optional, type = "number")]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        retry_after_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        reason: Option<ErrorReason>,
    },
    /// Answer to `ping`.
    Pong {
        #[ts(optional, type = "number")]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// Something happened.
    Event { event: Event },
}

/// Pushed in real time to every online device concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A new message (including system messages) in one of the user's conversations.
    Message { message: Message },
    /// An entry of the user's own change stream (also available through sync).
    User { event: UserEvent },
    /// A member read up to `read_seq`.
    Read {
        conversation_id: ConversationId,
        user_id: UserId,
        read_seq: Seq,
    },
    /// A member is typing.
    Typing {
        conversation_id: ConversationId,
        user_id: UserId,
    },
    /// A friend changed their profile (their display name). Sent live to
    /// friends who may see their presence; a device that was offline sees the
    /// new name in its next sync (the direct conversation's summary and the
    /// friend list carry it).
    Profile { user: UserProfile },
    /// A friend came online or went offline.
    Presence {
        user_id: UserId,
        online: bool,
        last_seen_at: Option<Timestamp>,
    },
}
