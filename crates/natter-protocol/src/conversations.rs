//! Conversations (direct and group), their members and their messages.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::accounts::UserProfile;
use crate::{ClientMsgId, ConversationId, Endpoint, Method, Seq, Timestamp, UserId};

pub const LIST_CONVERSATIONS: Endpoint = Endpoint::new(Method::Get, "/api/v1/conversations", true);
pub const GET_CONVERSATION: Endpoint =
    Endpoint::new(Method::Get, "/api/v1/conversations/{conversation_id}", true);
pub const OPEN_DIRECT: Endpoint = Endpoint::new(Method::Post, "/api/v1/conversations/direct", true);
pub const LIST_MESSAGES: Endpoint = Endpoint::new(
    Method::Get,
    "/api/v1/conversations/{conversation_id}/messages",
    true,
);
pub const SEND_MESSAGE: Endpoint = Endpoint::new(
    Method::Post,
    "/api/v1/conversations/{conversation_id}/messages",
    true,
);
pub const MARK_READ: Endpoint = Endpoint::new(
    Method::Post,
    "/api/v1/conversations/{conversation_id}/read",
    true,
);
pub const LIST_MEMBERS: Endpoint = Endpoint::new(
    Method::Get,
    "/api/v1/conversations/{conversation_id}/members",
    true,
);
pub const CREATE_GROUP: Endpoint = Endpoint::new(Method::Post, "/api/v1/groups", true);
pub const UPDATE_GROUP: Endpoint =
    Endpoint::new(Method::Patch, "/api/v1/groups/{conversation_id}", true);
pub const INVITE_MEMBERS: Endpoint = Endpoint::new(
    Method::Post,
    "/api/v1/groups/{conversation_id}/members",
    true,
);
pub const REMOVE_MEMBER: Endpoint = Endpoint::new(
    Method::Delete,
    "/api/v1/groups/{conversation_id}/members/{user_id}",
    true,
);
pub const SET_MEMBER_ROLE: Endpoint = Endpoint::new(
    Method::Put,
    "/api/v1/groups/{conversation_id}/members/{user_id}/role",
    true,
);
pub const TRANSFER_OWNERSHIP: Endpoint = Endpoint::new(
    Method::Post,
    "/api/v1/groups/{conversation_id}/transfer",
    true,
);

/// Direct (exactly two people, one conversation per pair) or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    Direct,
    Group,
}

/// A member's role in a group. In direct conversations both are `member`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

/// A conversation as one member sees it in their list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// The group's name; for a direct conversation, the peer's display name.
    pub name: String,
    /// For a direct conversation: the other person.
    pub peer: Option<UserProfile>,
    pub announcement: Option<String>,
    pub member_count: u32,
    /// The caller's role (`member` in direct conversations). Summaries are only
    /// given to members, so this is set; it is optional to leave room for
    /// showing conversations one has left.
    pub my_role: Option<Role>,
    /// The newest message's seq (0 when empty).
    pub last_seq: Seq,
    /// How far the caller has read.
    pub read_seq: Seq,
    /// `last_seq − read_seq`: messages after the caller's read position, system
    /// messages included. Sending a message moves the sender's read position to it.
    pub unread: u32,
    pub last_message: Option<Message>,
    pub created_at: Timestamp,
    /// Time of the newest activity, for ordering the list.
    pub updated_at: Timestamp,
}

/// `GET /api/v1/conversations`: one page, newest activity first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<ConversationSummary>,
    /// Present when there are more: pass it as `after` for the next page.
    #[serde(default)]
    pub next: Option<String>,
}

/// Query of the lists a user can grow (friends, conversations, members):
/// `limit` (1 to 500, default 200; clamped) and `after`, the `next` of the
/// previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct PageQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub after: Option<String>,
}

/// `POST /api/v1/conversations/direct`: the direct conversation with a user
/// (created on first use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct OpenDirectRequest {
    pub user_id: UserId,
}

/// A stored message: the unit of every conversation's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Message {
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub sender_id: UserId,
    /// The sender's idempotency key (absent on system messages).
    pub client_msg_id: Option<ClientMsgId>,
    /// When the server stored it.
    pub sent_at: Timestamp,
    pub content: MessageContent,
    /// The seq of the message this one replies to.
    pub reply_to: Option<Seq>,
    /// Set when the message was edited (edits arrive in a later version).
    pub edited_at: Option<Timestamp>,
    /// Set when the sender recalled the message; the content is then empty.
    pub recalled_at: Option<Timestamp>,
    /// Burn-after-reading / disappearing messages: when it stops being shown.
    pub expires_at: Option<Timestamp>,
}

/// What a message carries. `kind` names the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageContent {
    /// UTF-8 text (emoji included), at most 16 KiB.
    Text { text: String },
    /// An uploaded image (media upload arrives in a later version).
    Image { media: MediaRef },
    /// A voice note.
    Voice { media: MediaRef },
    /// A video.
    Video { media: MediaRef },
    /// Any file.
    File { media: MediaRef },
    /// A sticker from a sticker pack.
    Sticker { pack: String, sticker: String },
    /// A change to the conversation, written by the server.
    System { event: SystemEvent },
    /// End-to-end encrypted payload (MLS application or handshake message),
    /// opaque to the server. Planned: not accepted yet.
    Encrypted { mls: String },
}

impl MessageContent {
    /// The kind's wire name.
    pub fn kind(&self) -> &'static str {
        match self {
            MessageContent::Text { .. } => "text",
            MessageContent::Image { .. } => "image",
            MessageContent::Voice { .. } => "voice",
            MessageContent::Video { .. } => "video",
            MessageContent::File { .. } => "file",
            MessageContent::Sticker { .. } => "sticker",
            MessageContent::System { .. } => "system",
            MessageContent::Encrypted { .. } => "encrypted",
        }
    }
}

/// A reference to an uploaded media object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct MediaRef {
    pub media_id: String,
    pub mime: String,
    #[ts(type = "number")]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub duration_ms: Option<u32>,
}

/// A change to a conversation, recorded in its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemEvent {
    GroupCreated {
        by: UserId,
        name: String,
    },
    MembersAdded {
        by: UserId,
        users: Vec<UserId>,
    },
    MemberRemoved {
        by: UserId,
        user: UserId,
    },
    MemberLeft {
        user: UserId,
    },
    Renamed {
        by: UserId,
        name: String,
    },
    AnnouncementSet {
        by: UserId,
        text: String,
    },
    RoleChanged {
        by: UserId,
        user: UserId,
        role: Role,
    },
    OwnershipTransferred {
        from: UserId,
        to: UserId,
    },
}

/// `POST /api/v1/conversations/{id}/messages` (and the WebSocket `send` frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SendMessageRequest {
    pub client_msg_id: ClientMsgId,
    pub content: MessageContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reply_to: Option<Seq>,
}

/// The acknowledgement of a send: the message as stored, with its seq and
/// server time. Sent only after the message is durably committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SendMessageResponse {
    pub message: Message,
}

/// Query of `GET /api/v1/conversations/{id}/messages`. With `before`, the newest
/// `limit` messages below it; with `after`, the oldest `limit` above it; with
/// neither, the newest page. Messages are always returned in ascending seq.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct HistoryQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub before: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub after: Option<Seq>,
    /// 1 to 100; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// A page of history in ascending seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// Whether more messages exist beyond this page in the requested direction.
    pub has_more: bool,
}

/// `POST /api/v1/conversations/{id}/read`: the caller has read up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct MarkReadRequest {
    pub seq: Seq,
}

/// The caller's read position after a `read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ReadPosition {
    pub conversation_id: ConversationId,
    pub read_seq: Seq,
    pub unread: u32,
}

/// One member of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Member {
    pub user: UserProfile,
    pub role: Role,
    pub joined_at: Timestamp,
    /// How far this member has read: "read by" comes from here.
    pub read_seq: Seq,
}

/// `GET /api/v1/conversations/{id}/members`: one page, owner first, then
/// admins, then members, each by when they joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct MemberList {
    pub members: Vec<Member>,
    /// Present when there are more: pass it as `after` for the next page.
    #[serde(default)]
    pub next: Option<String>,
}

/// `POST /api/v1/groups`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct CreateGroupRequest {
    pub name: String,
    /// Friends of the creator to add at once.
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// `PATCH /api/v1/groups/{id}` (owner or admin). Absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct UpdateGroupRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub announcement: Option<String>,
}

/// `POST /api/v1/groups/{id}/members`: add friends of the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct InviteRequest {
    pub user_ids: Vec<UserId>,
}

/// `PUT /api/v1/groups/{id}/members/{user_id}/role` (owner only): `admin` or `member`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SetRoleRequest {
    pub role: Role,
}

/// `POST /api/v1/groups/{id}/transfer` (owner only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct TransferRequest {
    pub user_id: UserId,
}
