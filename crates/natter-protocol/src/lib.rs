//! Natter's wire types: the only definition of what crosses the network.
//!
//! Everything a client and the server exchange is declared here: id newtypes
//! ([`UserId`], [`ConversationId`], [`Seq`], ...), HTTP request and response bodies
//! with the [`Endpoint`] each one belongs to, WebSocket frames ([`ws::ClientFrame`],
//! [`ws::ServerFrame`]) and pushed events, and the exhaustive table of
//! [`ErrorCode`]s.
//!
//! Invariants:
//! - no I/O and no async: this crate only describes data;
//! - every identifier on the wire is an integer below 2^53 or a string, so that
//!   JavaScript holds it exactly;
//! - error codes are added or deprecated, never renamed (their JSON spelling is
//!   pinned by tests).

pub mod accounts;
pub mod contacts;
pub mod conversations;
mod endpoint;
mod error;
mod ids;
pub mod limits;
pub mod sync;
pub mod ws;

pub use endpoint::{ALL_ENDPOINTS, ENDPOINT_NAMES, Endpoint, Method};
pub use error::{ErrorBody, ErrorCode, ErrorReason};
pub use ids::{
    ClientMsgId, ConversationId, DeviceId, FriendRequestId, Seq, SyncCursor, Timestamp, UserId,
};

/// The protocol version a server speaks. Bumped only for incompatible changes;
/// additions (new optional fields, new event types) keep the version.
pub const PROTOCOL_VERSION: u32 = 1;

#[cfg(test)]
mod tests;
