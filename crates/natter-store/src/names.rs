//! How both backends spell enumerations in their text columns (`members.role`,
//! `friend_requests.status`, `conversations.kind`): the store's own names,
//! which never change with the wire.

use natter_protocol::contacts::FriendRequestStatus;
use natter_protocol::conversations::{ConversationKind, Role};

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

/// The columns admit only the three names (a CHECK on PostgreSQL; only the
/// store writes them on SQLite).
pub(crate) fn parse_role(name: &str) -> Role {
    match name {
        "owner" => Role::Owner,
        "admin" => Role::Admin,
        _ => Role::Member,
    }
}

pub(crate) fn kind_name(kind: &str) -> ConversationKind {
    if kind == "group" {
        ConversationKind::Group
    } else {
        ConversationKind::Direct
    }
}

pub(crate) fn status_name(status: FriendRequestStatus) -> &'static str {
    match status {
        FriendRequestStatus::Pending => "pending",
        FriendRequestStatus::Accepted => "accepted",
        FriendRequestStatus::Declined => "declined",
        FriendRequestStatus::Cancelled => "cancelled",
    }
}

pub(crate) fn parse_status(name: &str) -> FriendRequestStatus {
    match name {
        "accepted" => FriendRequestStatus::Accepted,
        "declined" => FriendRequestStatus::Declined,
        "cancelled" => FriendRequestStatus::Cancelled,
        _ => FriendRequestStatus::Pending,
    }
}
