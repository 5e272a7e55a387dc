//! The rows of the authorization table: who tries, what must happen, and
//! the expectation for every route and frame type.

use natter_protocol::{Endpoint, ErrorCode, accounts, contacts, conversations, sync};

/// Who is trying. The first two have no valid session at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Actor {
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

pub(super) const ACTORS: [Actor; 7] = [
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
pub(super) enum Expect {
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

pub(super) use Expect::{NotApplicable as Na, OwnOnly, Refused, Silent};

/// The five signed-in cases of a row (the two token cases are the same for
/// every route that needs a session: `unauthorized`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Cases {
    pub(super) other_user: Expect,
    pub(super) non_member: Expect,
    pub(super) blocked: Expect,
    pub(super) removed_member: Expect,
    pub(super) ordinary_member: Expect,
}

const OWN_ACCOUNT: &str = "acts on the caller's own account and names nobody else";
const NO_GROUP: &str = "names no group";
const NO_ADMIN_ROLE: &str = "no group role is involved";
pub(super) const PUBLIC: &str = "public: no session involved (guarded by rate limits)";

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

pub(super) fn http_table() -> Vec<(Endpoint, Cases)> {
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
            // A block ended the friendship, as a removal would have.
            toward_user(Refused(ErrorCode::NotFound), Refused(ErrorCode::NotFound)),
        ),
        (
            contacts::REMOVE_FRIEND,
            toward_user(Refused(ErrorCode::NotFound), Refused(ErrorCode::NotFound)),
        ),
        (contacts::LIST_FRIEND_REQUESTS, own(OwnOnly)),
        (
            contacts::SEND_FRIEND_REQUEST,
            toward_user(
                Na("anyone may ask anyone (rate-limited)"),
                // As after a removal: the request looks pending to eve and
                // never reaches alice.
                Silent,
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
pub(super) fn ws_table() -> Vec<(&'static str, Cases)> {
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
