//! The registry of this node's live connections, and delivery into their
//! bounded outboxes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use natter_bus::{BusHandler, BusMessage};
use natter_protocol::ws::close;
use natter_protocol::{DeviceId, UserId};
use tokio::sync::mpsc;

const SHARDS: usize = 16;

struct Registered {
    id: u64,
    device: DeviceId,
    outbox: mpsc::Sender<Utf8Bytes>,
    /// Why the hub dropped this connection's outbox, for its close frame.
    close_code: Arc<AtomicU16>,
}

/// A connection's end of the hub: its outbox, and the close code to use when the
/// hub drops the sending side (too slow, revoked).
pub struct Registration {
    pub id: u64,
    pub outbox: mpsc::Receiver<Utf8Bytes>,
    pub close_code: Arc<AtomicU16>,
}

/// Connections by user, in shards so that deliveries to different users rarely
/// contend. Locks are std mutexes held for a few `try_send`s, never across an await.
pub struct Hub {
    shards: Vec<Mutex<HashMap<UserId, Vec<Registered>>>>,
    next_id: AtomicU64,
    outbox_frames: usize,
}

impl Hub {
    pub fn new(outbox_frames: usize) -> Hub {
        Hub {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            next_id: AtomicU64::new(1),
            outbox_frames: outbox_frames.max(1),
        }
    }

    fn shard(&self, user: UserId) -> &Mutex<HashMap<UserId, Vec<Registered>>> {
        &self.shards[(user.0 as u64 % SHARDS as u64) as usize]
    }

    pub fn register(&self, user: UserId, device: DeviceId) -> Registration {
        let (outbox, receiver) = mpsc::channel(self.outbox_frames);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let close_code = Arc::new(AtomicU16::new(close::GOING_AWAY));
        if let Ok(mut shard) = self.shard(user).lock() {
            shard.entry(user).or_default().push(Registered {
                id,
                device,
                outbox,
                close_code: close_code.clone(),
            });
        }
        Registration {
            id,
            outbox: receiver,
            close_code,
        }
    }

    pub fn unregister(&self, user: UserId, id: u64) {
        if let Ok(mut shard) = self.shard(user).lock()
            && let Some(list) = shard.get_mut(&user)
        {
            list.retain(|c| c.id != id);
            if list.is_empty() {
                shard.remove(&user);
            }
        }
    }

    fn deliver(&self, users: &[UserId], except: Option<DeviceId>, frame: &Utf8Bytes) {
        for &user in users {
            let Ok(mut shard) = self.shard(user).lock() else {
                continue;
            };
            let Some(list) = shard.get_mut(&user) else {
                continue;
            };
            list.retain(|conn| {
                if Some(conn.device) == except {
                    return true;
                }
                match conn.outbox.try_send(frame.clone()) {
                    Ok(()) => true,
                    // A full outbox means the client stopped reading: drop it rather
                    // than buffer without bound; it reconnects and syncs.
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        conn.close_code.store(close::TOO_SLOW, Ordering::Relaxed);
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            });
            if list.is_empty() {
                shard.remove(&user);
            }
        }
    }

    fn disconnect(&self, user: UserId, devices: &[DeviceId]) {
        if let Ok(mut shard) = self.shard(user).lock()
            && let Some(list) = shard.get_mut(&user)
        {
            list.retain(|conn| {
                let revoked = devices.contains(&conn.device);
                if revoked {
                    conn.close_code.store(close::REVOKED, Ordering::Relaxed);
                }
                !revoked
            });
            if list.is_empty() {
                shard.remove(&user);
            }
        }
    }
}

impl BusHandler for Hub {
    fn handle(&self, message: &BusMessage) {
        match message {
            BusMessage::Deliver {
                users,
                except,
                frame,
            } => match Utf8Bytes::try_from(frame.clone()) {
                Ok(text) => self.deliver(users, *except, &text),
                Err(_) => tracing::error!("dropping a non-UTF-8 frame from the bus"),
            },
            BusMessage::Disconnect { user, devices } => self.disconnect(*user, devices),
        }
    }
}
