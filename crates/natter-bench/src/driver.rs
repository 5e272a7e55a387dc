//! One bench socket at work: sends at a fixed rate into one conversation,
//! matches replies to requests, and hands every delivered message to the
//! scenario. Sent texts carry the send time (µs since the run's epoch), so
//! the receiving socket, in the same process, measures send-to-delivery.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use natter_client::protocol::ConversationId;
use natter_client::protocol::conversations::{MessageContent, SendMessageRequest};
use natter_client::protocol::ws::{ClientRequest, Event, ServerFrame};
use natter_client::protocol::{ClientMsgId, UserId};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::report;
use crate::wire::{self, Ws};

/// Counters shared by every socket of a run, for progress and rates.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub delivered: AtomicU64,
    pub errors: AtomicU64,
    /// Messages pushed back to the very socket that sent them (the protocol
    /// says the sending device gets the reply, not an event).
    pub echoes: AtomicU64,
    /// µs since the epoch of the last ack / delivery.
    pub last_ack_us: AtomicU64,
    pub last_delivery_us: AtomicU64,
}

/// What one socket saw.
pub struct SocketStats {
    pub ack: Histogram<u64>,
    pub delivery: Histogram<u64>,
    pub closed_early: bool,
}

/// A message received by a socket: who sent it, when (µs since epoch, as
/// written by the sender), and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    pub sender: UserId,
    pub sent_us: u64,
    pub tag: u64,
    /// The sender's request number: (tag, n) names a message.
    pub n: u64,
    pub received_us: u64,
}

/// What a socket should do.
pub struct Job {
    pub conversation: ConversationId,
    /// Messages per second (0: only receive).
    pub rate: f64,
    /// Where in the first period to start, 0..1, to spread senders out.
    pub phase: f64,
    pub send_for: Duration,
    /// A number mixed into every client_msg_id and text (socket index).
    pub tag: u64,
}

pub fn micros_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// Drives one socket until `stop` flips; returns the socket for reuse.
pub async fn drive(
    mut ws: Ws,
    job: Job,
    epoch: Instant,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
    mut on_delivery: impl FnMut(Delivery) + Send,
) -> (Ws, SocketStats) {
    let mut stats = SocketStats {
        ack: report::histogram(),
        delivery: report::histogram(),
        closed_early: false,
    };
    let sending = job.rate > 0.0;
    let period = if sending {
        Duration::from_secs_f64(1.0 / job.rate)
    } else {
        Duration::from_secs(3600)
    };
    let start = tokio::time::Instant::now() + period.mul_f64(job.phase.clamp(0.0, 1.0));
    let until = epoch + job.send_for;
    let mut ticker = tokio::time::interval_at(start, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut pending: HashMap<u64, u64> = HashMap::new();
    let mut next_id: u64 = 1;
    let run_tag = epoch_tag(epoch);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else {
                    stats.closed_early = true;
                    break;
                };
                let now_us = micros_since(epoch);
                match wire::parse(&frame) {
                    Some(ServerFrame::Reply { id, .. }) => {
                        if let Some(sent) = pending.remove(&id) {
                            let _ = stats.ack.record(now_us.saturating_sub(sent).max(1));
                            counters.acked.fetch_add(1, Ordering::Relaxed);
                            counters.last_ack_us.fetch_max(now_us, Ordering::Relaxed);
                        }
                    }
                    Some(ServerFrame::Error { id, code, message, .. }) => {
                        if let Some(id) = id {
                            pending.remove(&id);
                        }
                        tracing::debug!(%code, %message, "error frame");
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(ServerFrame::Event { event: Event::Message { message } }) => {
                        let MessageContent::Text { text } = &message.content else { continue };
                        let mut parts = text.split(':');
                        let sent_us = parts.next().and_then(|p| p.parse::<u64>().ok());
                        let tag = parts.next().and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
                        let n = parts.next().and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
                        if tag == job.tag && sent_us.is_some() {
                            counters.echoes.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        if let Some(sent_us) = sent_us {
                            let _ = stats.delivery.record(now_us.saturating_sub(sent_us).max(1));
                            counters.delivered.fetch_add(1, Ordering::Relaxed);
                            counters.last_delivery_us.fetch_max(now_us, Ordering::Relaxed);
                            on_delivery(Delivery { sender: message.sender_id, sent_us, tag, n, received_us: now_us });
                        }
                    }
                    _ => {}
                }
            }
            _ = ticker.tick(), if sending && Instant::now() < until => {
                let id = next_id;
                next_id += 1;
                let sent_us = micros_since(epoch);
                let request = ClientRequest::Send {
                    conversation_id: job.conversation,
                    message: SendMessageRequest {
                        client_msg_id: ClientMsgId(format!("{}-{run_tag}-{id}", job.tag)),
                        content: MessageContent::Text { text: format!("{sent_us}:{}:{id}", job.tag) },
                        reply_to: None,
                    },
                };
                pending.insert(id, sent_us);
                counters.sent.fetch_add(1, Ordering::Relaxed);
                if ws.send(wire::frame(Some(id), request)).await.is_err() {
                    stats.closed_early = true;
                    break;
                }
            }
        }
    }
    (ws, stats)
}

/// Distinguishes client_msg_ids of successive runs over the same sockets.
fn epoch_tag(epoch: Instant) -> u64 {
    // The address of nothing in particular would do; a hash of the epoch
    // instant's debug form is stable within a run and differs between runs.
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{epoch:?}").hash(&mut h);
    h.finish() & 0xffff_ffff
}

/// Merges histograms.
pub fn merge<'a>(all: impl Iterator<Item = &'a Histogram<u64>>) -> Histogram<u64> {
    let mut total = report::histogram();
    for h in all {
        let _ = total.add(h);
    }
    total
}
