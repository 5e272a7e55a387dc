//! Natter's bus: how an event reaches the devices connected to any server node,
//! and who is online.
//!
//! The server publishes [`BusMessage`]s after the store committed what they
//! describe; every node's gateway receives them through the [`BusHandler`]s it
//! registered and delivers to its local connections. The bus is a cache of
//! delivery, never a source of truth: a message it drops is still in the store,
//! and clients find it through sync. A node learns that it may have missed
//! messages through [`BusHandler::interrupted`].
//!
//! Backends, chosen at run time and tested by one contract suite (`tests/it`):
//! - [`InProcessBus`] and [`InProcessPresence`]: one node, no external service
//!   (the default).
//! - [`RedisBus`] and [`RedisPresence`]: several nodes sharing one Redis.
//!   The bus is Redis pub/sub on one channel; presence is per-node connection
//!   counts held under a lease that lapses when the node dies.
//!
//! Invariants: [`Bus::publish`] never waits for the network, so publishing adds
//! no latency to a request's acknowledgement. Every handler on every node gets
//! each message once (never twice; not at all if it was lost, which
//! [`BusHandler::interrupted`] reports for the subscription), in publish order
//! per publishing node. Nothing orders messages from different nodes: the
//! per-conversation sequence in the store does.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use natter_protocol::{DeviceId, UserId};

mod codec;
mod handlers;
mod in_process;
mod redis_bus;
mod redis_presence;
mod redis_support;

pub use in_process::{InProcessBus, InProcessPresence};
pub use redis_bus::{RedisBus, RedisBusOptions};
pub use redis_presence::{RedisPresence, RedisPresenceOptions};

/// Why the bus or presence could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The backend cannot take the request now (queue full, connection lost,
    /// shut down). Retrying later may work; what was published is still in the store.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// The backend could not be reached when the node started. The URL is
    /// shown without its password.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
}

/// One server node's identity on the bus, made once at start. Random, so two
/// nodes (or a node and its restarted self) never share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

impl NodeId {
    /// A fresh random id.
    pub fn random() -> NodeId {
        NodeId(redis_support::random_u64())
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Who a delivery is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every connected device of these users.
    Users(Arc<[UserId]>),
    /// Exactly these devices (each named with its user, which is how nodes
    /// find connections).
    Devices(Arc<[(UserId, DeviceId)]>),
}

/// What travels between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusMessage {
    /// Deliver an already-serialized server frame to `to`, except to the device
    /// `except` (the one the change came from, which already knows). The bus
    /// never looks inside `frame`.
    Deliver {
        to: Audience,
        except: Option<DeviceId>,
        frame: Bytes,
    },
    /// Close the connections of these devices (revoked, logged out, password changed).
    Disconnect {
        user: UserId,
        devices: Arc<[DeviceId]>,
    },
}

/// Receives every message published on the bus, on every node. Called on the
/// publisher's task for messages published on this node, and on the bus's
/// receiving task for the others: it must not block.
pub trait BusHandler: Send + Sync {
    fn handle(&self, message: &BusMessage);

    /// This node's subscription was lost and is back: messages published in
    /// between never reached [`BusHandler::handle`]. Called once per
    /// interruption, after the subscription is restored, so that what the
    /// handler does next (such as telling clients to sync) sees new messages.
    fn interrupted(&self) {}
}

/// The bus between server nodes.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Sends to every handler on every node (including this one). Returns
    /// without waiting for the network; `Err(Unavailable)` means other nodes may
    /// not get the message (this node's handlers still did).
    async fn publish(&self, message: BusMessage) -> Result<(), BusError>;
    /// Adds a handler on this node; from now on it receives every message, as
    /// do the handlers registered before it.
    fn subscribe(&self, handler: Arc<dyn BusHandler>);
    /// Whether this node is connected to the other nodes now (for health
    /// checks): one node alone always is.
    fn health(&self) -> Result<(), BusError> {
        Ok(())
    }
}

/// Presence across nodes: a user is online while any of their devices is
/// connected to any node.
#[async_trait]
pub trait Presence: Send + Sync {
    /// Counts a new connection; true when the user was offline before it.
    async fn connected(&self, user: UserId) -> Result<bool, BusError>;
    /// Counts a closed connection; true when it was the user's last one.
    async fn disconnected(&self, user: UserId) -> Result<bool, BusError>;
    /// Which of `users` are online, in the same order.
    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>, BusError>;
    /// Forgets the connections held by nodes that died without saying so, and
    /// returns the users who are offline because of it (each reported to exactly
    /// one caller, on whichever node). Meant to be called periodically by every
    /// node. A single-node presence never has such users.
    async fn sweep_expired(&self) -> Result<Vec<UserId>, BusError> {
        Ok(Vec::new())
    }
}
