//! Identifier newtypes. All numeric ids are positive and below 2^53.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

macro_rules! numeric_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS, ToSchema,
        )]
        #[serde(transparent)]
        #[ts(type = "number")]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

numeric_id!(
    /// A user account.
    UserId
);
numeric_id!(
    /// One logged-in device (a session) of a user.
    DeviceId
);
numeric_id!(
    /// A conversation: a direct (1:1) conversation or a group.
    ConversationId
);
numeric_id!(
    /// A friend request.
    FriendRequestId
);
numeric_id!(
    /// Position of a message in its conversation: 1, 2, 3, ... with no gaps.
    Seq
);
numeric_id!(
    /// Milliseconds since the Unix epoch (UTC), as the server's clock saw it.
    Timestamp
);
numeric_id!(
    /// Position in a user's change stream; `0` means "from the beginning".
    SyncCursor
);

/// A sender-chosen id that makes a send idempotent: the same id from the same
/// sender in the same conversation always yields the same message.
/// 1 to 64 characters; clients use a UUID or 128 random bits in hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(transparent)]
#[ts(type = "string")]
pub struct ClientMsgId(pub String);

impl std::fmt::Display for ClientMsgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
