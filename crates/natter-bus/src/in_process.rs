//! The single-node backends: no external service, nothing leaves the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use natter_protocol::UserId;

use crate::handlers::Handlers;
use crate::{Bus, BusError, BusHandler, BusMessage, Presence};

/// The bus of a single node: publishing is a direct call to every handler, on
/// the publisher's task. It never fails and is never interrupted.
#[derive(Default)]
pub struct InProcessBus {
    handlers: Handlers,
}

impl InProcessBus {
    pub fn new() -> InProcessBus {
        InProcessBus::default()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, message: BusMessage) -> Result<(), BusError> {
        self.handlers.handle(&message);
        Ok(())
    }

    fn subscribe(&self, handler: Arc<dyn BusHandler>) {
        self.handlers.add(handler);
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

    #[tokio::test]
    async fn disconnecting_a_user_who_never_connected_is_not_a_last_connection() {
        let presence = InProcessPresence::new();
        assert!(!presence.disconnected(UserId(1)).await.expect("ok"));
        assert!(presence.connected(UserId(1)).await.expect("ok"));
    }
}
