//! Catching up: the per-user change stream and the conversations that changed.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::contacts::{Friend, FriendRequest};
use crate::conversations::ConversationSummary;
use crate::{ConversationId, Endpoint, Method, Seq, SyncCursor, Timestamp, UserId};

pub const SYNC: Endpoint = Endpoint::new(Method::Get, "/api/v1/sync", true);

/// Query of `GET /api/v1/sync` (and the WebSocket `sync` frame).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SyncQuery {
    /// The `cursor` of the previous sync; `0` (or absent) for a first sync.
    #[serde(default)]
    pub since: SyncCursor,
    /// `true` when `since` is the `cursor` of a page that said `has_more`:
    /// the server goes on from it and never answers this page with a reset
    /// (the first page already said whether it was one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(as = "Option<bool>", optional)]
    pub resume: bool,
}

/// Everything that changed for the caller after `since`.
///
/// - `events`: the caller's own change stream, in order.
/// - `conversations`: the conversations whose timeline or settings changed
///   (new messages, edits, renames, membership), each with its current summary;
///   fetch the new messages with a history query `after` your last seq.
/// - `reset`: the cursor was too old (or `0`); `conversations` then holds the whole
///   list and the client should also reload friends and friend requests.
/// - `has_more`: this is one page; sync again from `cursor` for the rest. A
///   page holds everything up to its `cursor` and nothing after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SyncResponse {
    pub cursor: SyncCursor,
    pub reset: bool,
    /// Older servers never page: absent means `false`.
    #[serde(default)]
    pub has_more: bool,
    pub events: Vec<UserEvent>,
    pub conversations: Vec<ConversationSummary>,
}

/// One entry of a user's change stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct UserEvent {
    pub cursor: SyncCursor,
    pub at: Timestamp,
    pub change: UserChange,
}

/// What changed in a user's world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserChange {
    /// Someone asked to be the user's friend.
    FriendRequestReceived { request: FriendRequest },
    /// A request the user sent or received was accepted, declined or cancelled.
    FriendRequestUpdated { request: FriendRequest },
    /// A new friendship.
    FriendAdded { friend: Friend },
    /// The user removed this friend (on another device, or this one).
    FriendRemoved { user_id: UserId },
    /// The user's remark for a friend changed.
    FriendUpdated {
        user_id: UserId,
        remark: Option<String>,
    },
    /// The user blocked or unblocked someone.
    BlockChanged { user_id: UserId, blocked: bool },
    /// The user joined or was added to a conversation.
    ConversationJoined { conversation_id: ConversationId },
    /// The user left or was removed from a conversation.
    ConversationLeft {
        conversation_id: ConversationId,
        removed_by: Option<UserId>,
    },
    /// The user read up to `read_seq` (on any of their devices).
    ReadPosition {
        conversation_id: ConversationId,
        read_seq: Seq,
    },
    /// The user's own profile changed.
    ProfileUpdated { display_name: String },
}
