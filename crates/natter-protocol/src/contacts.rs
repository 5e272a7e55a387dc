//! Finding people, friend requests, friends and blocks.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::accounts::UserProfile;
use crate::{ConversationId, Endpoint, FriendRequestId, Method, Timestamp, UserId};

pub const SEARCH_USERS: Endpoint = Endpoint::new(Method::Get, "/api/v1/users", true);
pub const LIST_FRIENDS: Endpoint = Endpoint::new(Method::Get, "/api/v1/friends", true);
pub const UPDATE_FRIEND: Endpoint = Endpoint::new(Method::Patch, "/api/v1/friends/{user_id}", true);
pub const REMOVE_FRIEND: Endpoint =
    Endpoint::new(Method::Delete, "/api/v1/friends/{user_id}", true);
pub const LIST_FRIEND_REQUESTS: Endpoint =
    Endpoint::new(Method::Get, "/api/v1/friend-requests", true);
pub const SEND_FRIEND_REQUEST: Endpoint =
    Endpoint::new(Method::Post, "/api/v1/friend-requests", true);
pub const ACCEPT_FRIEND_REQUEST: Endpoint = Endpoint::new(
    Method::Post,
    "/api/v1/friend-requests/{request_id}/accept",
    true,
);
pub const DECLINE_FRIEND_REQUEST: Endpoint = Endpoint::new(
    Method::Post,
    "/api/v1/friend-requests/{request_id}/decline",
    true,
);
pub const CANCEL_FRIEND_REQUEST: Endpoint =
    Endpoint::new(Method::Delete, "/api/v1/friend-requests/{request_id}", true);
pub const LIST_BLOCKS: Endpoint = Endpoint::new(Method::Get, "/api/v1/blocks", true);
pub const BLOCK_USER: Endpoint = Endpoint::new(Method::Put, "/api/v1/blocks/{user_id}", true);
pub const UNBLOCK_USER: Endpoint = Endpoint::new(Method::Delete, "/api/v1/blocks/{user_id}", true);

/// Query of `GET /api/v1/users`: prefix search over usernames and display names,
/// case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SearchUsersQuery {
    pub q: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u32>,
    /// Where the previous page ended (its `next_offset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub offset: Option<u32>,
}

/// Reply of `GET /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct UserSearchPage {
    pub users: Vec<UserProfile>,
    /// Present when there may be more results.
    pub next_offset: Option<u32>,
}

/// Where a friend request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FriendRequestStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
}

/// A friend request, as its sender and its recipient see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct FriendRequest {
    pub id: FriendRequestId,
    pub from: UserProfile,
    pub to: UserProfile,
    pub greeting: String,
    pub status: FriendRequestStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `POST /api/v1/friend-requests`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SendFriendRequest {
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub greeting: Option<String>,
}

/// Reply to sending a friend request: either it waits for the other side, or
/// the other side had already asked and the two are now friends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FriendRequestOutcome {
    Pending { request: FriendRequest },
    Friends { friend: Friend },
}

/// `GET /api/v1/friend-requests`: the pending requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct FriendRequestList {
    pub incoming: Vec<FriendRequest>,
    pub outgoing: Vec<FriendRequest>,
    /// Present when there are more pending requests (either way, newest
    /// first): pass it as `after` for the next page.
    #[serde(default)]
    pub next: Option<String>,
}

/// A friend, with the private remark the caller gave them and their presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Friend {
    pub user: UserProfile,
    /// The caller's private alias for this friend.
    pub remark: Option<String>,
    pub since: Timestamp,
    pub online: bool,
    /// When the friend was last connected; `null` if never or hidden.
    pub last_seen_at: Option<Timestamp>,
    /// The direct conversation with this friend.
    pub conversation_id: ConversationId,
}

/// `GET /api/v1/friends`: one page, in the order of the usernames' look-alike
/// keys (stable; clients sort for display as they like).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct FriendList {
    pub friends: Vec<Friend>,
    /// Present when there are more: pass it as `after` for the next page.
    #[serde(default)]
    pub next: Option<String>,
}

/// `PATCH /api/v1/friends/{user_id}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct UpdateFriendRequest {
    /// The new remark; `null` or an empty string clears it.
    pub remark: Option<String>,
}

/// `GET /api/v1/blocks`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct BlockList {
    pub users: Vec<UserProfile>,
}
