//! The one table of error codes. A code is added or deprecated, never renamed.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Stable, machine-readable error codes. The JSON spelling (snake_case) is the
/// contract; the human message beside it may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body or frame is not valid JSON, or not valid UTF-8.
    InvalidJson,
    /// The JSON is well-formed but a field is missing, of the wrong type or out of range.
    InvalidRequest,
    /// The WebSocket frame's `type` is not one the server knows.
    UnknownType,
    /// The body or frame is larger than the server accepts.
    TooLarge,
    /// No valid session token was given, or it was revoked or expired.
    Unauthorized,
    /// The caller is known but not allowed to do this (e.g. a member doing an admin's action).
    Forbidden,
    /// The thing does not exist, or the caller may not know that it exists.
    NotFound,
    /// No such route.
    NoRoute,
    /// The username does not follow the rules.
    InvalidUsername,
    /// The username (or a look-alike spelling of it) is taken.
    UsernameTaken,
    /// The password is too short, too long, or one of the most common ones.
    WeakPassword,
    /// Wrong username or password. Deliberately does not say which.
    InvalidCredentials,
    /// Too many requests: wait `retry_after_ms` and try again.
    RateLimited,
    /// The two users are not friends (or one no longer accepts the other's messages).
    NotFriends,
    /// The caller blocked this user; unblock first.
    Blocked,
    /// Already friends.
    AlreadyFriends,
    /// The friend request is no longer pending.
    RequestNotPending,
    /// The group has reached its member limit.
    GroupFull,
    /// The user is already a member.
    AlreadyMember,
    /// The owner must transfer ownership before leaving.
    OwnerMustTransfer,
    /// The message kind cannot be sent (yet) by clients.
    UnsupportedKind,
    /// The sync cursor is too old: reload conversations, friends and requests.
    TooFarBehind,
    /// The server holds as many connections as it is configured for.
    ServerBusy,
    /// The first WebSocket frame must be `auth`.
    AuthRequired,
    /// Storage is unavailable (full disk, read-only, down). Nothing was stored: retry later.
    Unavailable,
    /// An unexpected server error. Nothing the client sent is at fault.
    Internal,
    /// The request's body did not arrive within the server's time limit; the
    /// connection is closed. Nothing was done.
    RequestTimeout,
    /// The user (the caller, or someone to add) is in as many groups as a
    /// user may be.
    TooManyGroups,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub const fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidJson | InvalidRequest | UnknownType | InvalidUsername | WeakPassword
            | UnsupportedKind | AuthRequired => 400,
            Unauthorized | InvalidCredentials => 401,
            Forbidden | NotFriends | Blocked => 403,
            NotFound | NoRoute => 404,
            UsernameTaken | AlreadyFriends | RequestNotPending | GroupFull | AlreadyMember
            | OwnerMustTransfer | TooFarBehind | TooManyGroups => 409,
            RequestTimeout => 408,
            TooLarge => 413,
            RateLimited => 429,
            Internal => 500,
            Unavailable | ServerBusy => 503,
        }
    }

    /// Whether the same request may succeed if simply retried later.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimited
                | ErrorCode::RequestTimeout
                | ErrorCode::Unavailable
                | ErrorCode::ServerBusy
                | ErrorCode::Internal
        )
    }

    /// The code's wire spelling.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidJson => "invalid_json",
            InvalidRequest => "invalid_request",
            UnknownType => "unknown_type",
            TooLarge => "too_large",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            NotFound => "not_found",
            NoRoute => "no_route",
            InvalidUsername => "invalid_username",
            UsernameTaken => "username_taken",
            WeakPassword => "weak_password",
            InvalidCredentials => "invalid_credentials",
            RateLimited => "rate_limited",
            NotFriends => "not_friends",
            Blocked => "blocked",
            AlreadyFriends => "already_friends",
            RequestNotPending => "request_not_pending",
            GroupFull => "group_full",
            AlreadyMember => "already_member",
            OwnerMustTransfer => "owner_must_transfer",
            UnsupportedKind => "unsupported_kind",
            TooFarBehind => "too_far_behind",
            ServerBusy => "server_busy",
            AuthRequired => "auth_required",
            Unavailable => "unavailable",
            Internal => "internal",
            RequestTimeout => "request_timeout",
            TooManyGroups => "too_many_groups",
        }
    }

    /// Every code, for documentation and exhaustiveness tests.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::UnknownType,
        ErrorCode::TooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::NoRoute,
        ErrorCode::InvalidUsername,
        ErrorCode::UsernameTaken,
        ErrorCode::WeakPassword,
        ErrorCode::InvalidCredentials,
        ErrorCode::RateLimited,
        ErrorCode::NotFriends,
        ErrorCode::Blocked,
        ErrorCode::AlreadyFriends,
        ErrorCode::RequestNotPending,
        ErrorCode::GroupFull,
        ErrorCode::AlreadyMember,
        ErrorCode::OwnerMustTransfer,
        ErrorCode::UnsupportedKind,
        ErrorCode::TooFarBehind,
        ErrorCode::ServerBusy,
        ErrorCode::AuthRequired,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::RequestTimeout,
        ErrorCode::TooManyGroups,
    ];
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule refused a request, where one code covers several (today: the
/// password rules of `weak_password`). Like codes, reasons are added, never
/// renamed; a client that does not know one falls back to the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorReason {
    /// Shorter than 8 characters.
    TooShort,
    /// Longer than 1,024 characters.
    TooLong,
    /// One of the passwords attackers try first, or a small variation of one.
    CommonPassword,
    /// Made from the username or the display name.
    PersonalInformation,
    /// Guessable from its shape: repeats, sequences, keyboard runs, dates,
    /// common words with a few digits.
    Predictable,
}

impl ErrorReason {
    /// Every reason, for documentation and exhaustiveness tests.
    pub const ALL: &'static [ErrorReason] = &[
        ErrorReason::TooShort,
        ErrorReason::TooLong,
        ErrorReason::CommonPassword,
        ErrorReason::PersonalInformation,
        ErrorReason::Predictable,
    ];
}

/// The body of every HTTP error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// A human-readable sentence in English. Clients translate by `code`.
    pub message: String,
    /// For `rate_limited`: how long to wait before retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub retry_after_ms: Option<u64>,
    /// For `weak_password`: which rule the password broke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<ErrorReason>,
}
