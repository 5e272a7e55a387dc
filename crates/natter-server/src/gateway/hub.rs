//! The registry of this node's live connections, and delivery into their
//! bounded outboxes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use natter_bus::{Audience, BusHandler, BusMessage};
use natter_protocol::ws::close;
use natter_protocol::{DeviceId, UserId};
use tokio::sync::mpsc;

const SHARDS: usize = 16;

struct Registered {
    id: u64,
    device: DeviceId,
    outbox: mpsc::Sender<Utf8Bytes>,
    /// Bytes sent into the outbox and not yet taken out by the connection.
    queued_bytes: Arc<AtomicUsize>,
    /// Why the hub dropped this connection's outbox, for its close frame.
    close_code: Arc<AtomicU16>,
}

/// A connection's end of the hub: its outbox, and the close code to use when the
/// hub drops the sending side (too slow, revoked).
pub struct Registration {
    pub id: u64,
    pub outbox: Outbox,
    pub close_code: Arc<AtomicU16>,
}

/// The receiving end of a connection's outbox, counting the bytes it holds.
pub struct Outbox {
    frames: mpsc::Receiver<Utf8Bytes>,
    queued_bytes: Arc<AtomicUsize>,
}

impl Outbox {
    /// The next frame; `None` once the hub let go of this connection.
    pub async fn recv(&mut self) -> Option<Utf8Bytes> {
        let frame = self.frames.recv().await?;
        self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Option<Utf8Bytes> {
        let frame = self.frames.try_recv().ok()?;
        self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }
}

/// Connections by user, in shards so that deliveries to different users rarely
/// contend. Locks are std mutexes held for a few `try_send`s, never across an await.
pub struct Hub {
    shards: Vec<Mutex<HashMap<UserId, Vec<Registered>>>>,
    next_id: AtomicU64,
    outbox_frames: usize,
    outbox_bytes: usize,
    /// Set only by tests through [`crate::Faults`].
    drop_live_frame: std::sync::OnceLock<crate::FrameFilter>,
}

impl Hub {
    /// Outboxes hold at most `outbox_frames` frames and `outbox_bytes` bytes
    /// (one frame always fits, however large).
    pub fn new(outbox_frames: usize, outbox_bytes: usize) -> Hub {
        Hub {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            next_id: AtomicU64::new(1),
            outbox_frames: outbox_frames.max(1),
            outbox_bytes,
            drop_live_frame: std::sync::OnceLock::new(),
        }
    }

    /// Makes the hub lose the live frames `filter` picks, as a lost bus
    /// message would (tests of gap detection only).
    pub fn inject_frame_loss(&self, filter: crate::FrameFilter) {
        let _ = self.drop_live_frame.set(filter);
    }

    fn shard(&self, user: UserId) -> &Mutex<HashMap<UserId, Vec<Registered>>> {
        &self.shards[(user.0 as u64 % SHARDS as u64) as usize]
    }

    /// Adds a connection of `user`; `None` when the user already holds
    /// `max_per_user` connections on this node.
    pub fn register(
        &self,
        user: UserId,
        device: DeviceId,
        max_per_user: usize,
    ) -> Option<Registration> {
        let (outbox, receiver) = mpsc::channel(self.outbox_frames);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let close_code = Arc::new(AtomicU16::new(close::GOING_AWAY));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        if let Ok(mut shard) = self.shard(user).lock() {
            let connections = shard.entry(user).or_default();
            if connections.len() >= max_per_user.max(1) {
                return None;
            }
            connections.push(Registered {
                id,
                device,
                outbox,
                queued_bytes: queued_bytes.clone(),
                close_code: close_code.clone(),
            });
        }
        Some(Registration {
            id,
            outbox: Outbox {
                frames: receiver,
                queued_bytes,
            },
            close_code,
        })
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

    fn deliver(&self, to: &Audience, except: Option<DeviceId>, frame: &Utf8Bytes) {
        // A device target is a user target narrowed to one of their devices.
        let (users, devices): (&[UserId], &[(UserId, DeviceId)]) = match to {
            Audience::Users(users) => (users, &[]),
            Audience::Devices(devices) => (&[], devices),
        };
        let targets = (users.iter().map(|&user| (user, None)))
            .chain(devices.iter().map(|&(user, device)| (user, Some(device))));
        for (user, only) in targets {
            let Ok(mut shard) = self.shard(user).lock() else {
                continue;
            };
            let Some(list) = shard.get_mut(&user) else {
                continue;
            };
            list.retain(|conn| {
                if Some(conn.device) == except || only.is_some_and(|d| d != conn.device) {
                    return true;
                }
                if let Some(lose) = self.drop_live_frame.get()
                    && lose(frame.as_str())
                {
                    return true;
                }
                // Counted before sending, so the connection never subtracts
                // bytes that were not added yet.
                let before = conn.queued_bytes.fetch_add(frame.len(), Ordering::Relaxed);
                let over_budget = before > 0 && before + frame.len() > self.outbox_bytes;
                let sent = if over_budget {
                    Err(mpsc::error::TrySendError::Full(()))
                } else {
                    conn.outbox.try_send(frame.clone()).map_err(|e| match e {
                        mpsc::error::TrySendError::Full(_) => mpsc::error::TrySendError::Full(()),
                        mpsc::error::TrySendError::Closed(_) => {
                            mpsc::error::TrySendError::Closed(())
                        }
                    })
                };
                match sent {
                    Ok(()) => true,
                    // A full outbox means the client stopped reading: drop it rather
                    // than buffer without bound; it reconnects and syncs.
                    Err(mpsc::error::TrySendError::Full(())) => {
                        conn.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
                        conn.close_code.store(close::TOO_SLOW, Ordering::Relaxed);
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(())) => {
                        conn.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
                        false
                    }
                }
            });
            if list.is_empty() {
                shard.remove(&user);
            }
        }
    }

    /// Lets go of every connection on this node; their sessions close with
    /// "going away".
    fn drop_all(&self) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                for conn in shard.values().flatten() {
                    conn.close_code.store(close::GOING_AWAY, Ordering::Relaxed);
                }
                shard.clear();
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
            BusMessage::Deliver { to, except, frame } => match Utf8Bytes::try_from(frame.clone()) {
                Ok(text) => self.deliver(to, *except, &text),
                Err(_) => tracing::error!("dropping a non-UTF-8 frame from the bus"),
            },
            BusMessage::Disconnect { user, devices } => self.disconnect(*user, devices),
        }
    }

    /// Bus messages may have been lost, and the protocol has no "resync" event:
    /// closing every local socket with the code the hub already uses for "going
    /// away" makes each client reconnect and sync, which finds what was lost.
    fn interrupted(&self) {
        tracing::warn!("bus subscription was interrupted; closing local connections to resync");
        self.drop_all();
    }
}
