//! Natter's bus: how an event reaches the devices connected to any server node,
//! and who is online.
//!
//! The server publishes [`BusMessage`]s after the store committed what they
//! describe; every node's gateway receives them through the [`BusHandler`] it
//! registered and delivers to its local connections. The bus is a cache of
//! delivery, never a source of truth: a message it drops is still in the store,
//! and clients find it through sync.
//!
//! Backends: [`InProcessBus`] (one node, the default). A Redis bus for several
//! nodes will implement the same trait and pass the same tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use natter_protocol::{DeviceId, UserId};

/// Why a publish failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

/// What travels between nodes.
#[derive(Debug, Clone)]
pub enum BusMessage {
    /// Deliver an already-serialized server frame to every device of `users`
    /// (except `except`, the device the change came from).
    Deliver {
        users: Arc<[UserId]>,
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
/// publisher's task for the in-process bus: it must not block.
pub trait BusHandler: Send + Sync {
    fn handle(&self, message: &BusMessage);
}

/// The bus between server nodes.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Sends to every node (including this one).
    async fn publish(&self, message: BusMessage) -> Result<(), BusError>;
    /// Registers this node's handler; later registrations replace earlier ones.
    fn subscribe(&self, handler: Arc<dyn BusHandler>);
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
}

/// The bus of a single node: publishing is a direct call to the local handler.
#[derive(Default)]
pub struct InProcessBus {
    handler: RwLock<Option<Arc<dyn BusHandler>>>,
}

impl InProcessBus {
    pub fn new() -> InProcessBus {
        InProcessBus::default()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, message: BusMessage) -> Result<(), BusError> {
        let handler = self
            .handler
            .read()
            .map_err(|_| BusError::Unavailable("poisoned".into()))?
            .clone();
        if let Some(handler) = handler {
            handler.handle(&message);
        }
        Ok(())
    }

    fn subscribe(&self, handler: Arc<dyn BusHandler>) {
        if let Ok(mut slot) = self.handler.write() {
            *slot = Some(handler);
        }
    }
}

/// Presence of a single node: connection counts per user in memory.
#[derive(Default)]
pub struct InProcessPresence {
    // Short critical sections with no await inside: a std Mutex is right.
    counts: Mutex<HashMap<UserId, u32>>,
}

impl InProcessPresence {
    pub fn new() -> InProcessPresence {
        InProcessPresence::default()
    }
}

#[async_trait]
impl Presence for InProcessPresence {
    async fn connected(&self, user: UserId) -> Result<bool, BusError> {
        let mut counts = self
            .counts
            .lock()
            .map_err(|_| BusError::Unavailable("poisoned".into()))?;
        let count = counts.entry(user).or_insert(0);
        *count += 1;
        Ok(*count == 1)
    }

    async fn disconnected(&self, user: UserId) -> Result<bool, BusError> {
        let mut counts = self
            .counts
            .lock()
            .map_err(|_| BusError::Unavailable("poisoned".into()))?;
        match counts.get_mut(&user) {
            Some(count) if *count > 1 => {
                *count -= 1;
                Ok(false)
            }
            Some(_) => {
                counts.remove(&user);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>, BusError> {
        let counts = self
            .counts
            .lock()
            .map_err(|_| BusError::Unavailable("poisoned".into()))?;
        Ok(users.iter().map(|u| counts.contains_key(u)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder(Mutex<Vec<BusMessage>>);

    impl BusHandler for Recorder {
        fn handle(&self, message: &BusMessage) {
            self.0.lock().expect("lock").push(message.clone());
        }
    }

    #[tokio::test]
    async fn published_messages_reach_the_subscribed_handler() {
        let bus = InProcessBus::new();
        let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
        bus.publish(BusMessage::Disconnect {
            user: UserId(1),
            devices: Arc::from(vec![DeviceId(2)]),
        })
        .await
        .expect("publishes without a subscriber");
        bus.subscribe(recorder.clone());
        let frame = Bytes::from_static(b"{}");
        bus.publish(BusMessage::Deliver {
            users: Arc::from(vec![UserId(1)]),
            except: None,
            frame,
        })
        .await
        .expect("publishes");
        let seen = recorder.0.lock().expect("lock");
        assert_eq!(seen.len(), 1);
        assert!(matches!(&seen[0], BusMessage::Deliver { users, .. } if users[..] == [UserId(1)]));
    }

    #[tokio::test]
    async fn presence_counts_connections_per_user() {
        let presence = InProcessPresence::new();
        assert!(presence.connected(UserId(1)).await.expect("ok"));
        assert!(!presence.connected(UserId(1)).await.expect("ok"));
        assert_eq!(
            presence.online(&[UserId(1), UserId(2)]).await.expect("ok"),
            vec![true, false]
        );
        assert!(!presence.disconnected(UserId(1)).await.expect("ok"));
        assert!(presence.disconnected(UserId(1)).await.expect("ok"));
        assert!(!presence.disconnected(UserId(1)).await.expect("ok"));
        assert_eq!(
            presence.online(&[UserId(1)]).await.expect("ok"),
            vec![false]
        );
    }
}
