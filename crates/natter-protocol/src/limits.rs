//! Limits every client and the server agree on. The server enforces them; clients
//! may check them early to give a better message.

/// Usernames: 3 to 32 characters (letters of any script, digits, `_`, `-`, `.`).
pub const USERNAME_MIN_CHARS: usize = 3;
/// See [`USERNAME_MIN_CHARS`].
pub const USERNAME_MAX_CHARS: usize = 32;
/// Passwords: at least 8 characters, at most 1,024; never truncated.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// See [`PASSWORD_MIN_CHARS`].
pub const PASSWORD_MAX_CHARS: usize = 1024;
/// Display names, group names, remarks and device names, in characters.
pub const NAME_MAX_CHARS: usize = 64;
/// A friend request's greeting, in characters.
pub const GREETING_MAX_CHARS: usize = 200;
/// A group announcement, in characters.
pub const ANNOUNCEMENT_MAX_CHARS: usize = 2000;
/// Message text, in bytes of UTF-8.
pub const TEXT_MAX_BYTES: usize = 16 * 1024;
/// A client message id, in characters.
pub const CLIENT_MSG_ID_MAX_CHARS: usize = 64;
/// Largest page of history or search results.
pub const PAGE_MAX: u32 = 100;
/// Default page size when a request names none.
pub const PAGE_DEFAULT: u32 = 50;
/// Largest WebSocket message the server accepts, in bytes.
pub const WS_MESSAGE_MAX_BYTES: usize = 64 * 1024;
/// Largest HTTP request body the server accepts, in bytes.
pub const HTTP_BODY_MAX_BYTES: usize = 64 * 1024;
/// Most users one invite or group creation may add at once.
pub const INVITE_MAX_USERS: usize = 500;
/// Default page of the lists a user can grow (friends, conversations, members).
pub const LIST_PAGE_DEFAULT: u32 = 200;
/// Largest page of those lists.
pub const LIST_PAGE_MAX: u32 = 500;
