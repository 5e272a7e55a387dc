//! The real-time connection: [`Connection`], opened with [`Session::connect`].
//!
//! Two tasks sit behind a connection. The *driver* owns the WebSocket: it
//! writes requests, routes replies, and reconnects. The *sequencer* turns what
//! arrives into the ordered, duplicate-free [`ConnectionEvent`] stream and
//! fetches what the socket missed. Events flow driver → sequencer →
//! application through bounded channels, so an application that stops reading
//! eventually stalls the socket (see [`Connection::next_event`]).

mod driver;
mod sequencer;
mod socket;
mod tracker;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use natter_protocol::conversations::{
    HistoryQuery, Message, MessagePage, ReadPosition, SendMessageRequest, SendMessageResponse,
};
use natter_protocol::sync::SyncResponse;
use natter_protocol::ws::{ClientRequest, Event};
use natter_protocol::{ConversationId, Seq, SyncCursor, accounts};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::error::{ClientError, Result};
use crate::http::ws_url;
use crate::session::{Session, text_message};
use driver::{Command, Driver, DriverConfig, Pending};
use sequencer::{Catchup, Inbound, Sequencer, SharedTracker, lock};
use tracker::Tracker;

/// Capacity of the driver → sequencer channel.
const INBOUND_BUFFER: usize = 1024;
/// Capacity of the application → driver channel.
const COMMAND_BUFFER: usize = 256;
/// How long [`Connection::close`] waits for the driver before aborting it.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How [`Session::connect_with`] starts and runs a connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Where to start. `None`: from now on; nothing that happened before the
    /// connection is delivered. `Some(cursor)` (a cursor saved from
    /// [`Connection::cursor`]): first deliver everything after it.
    pub since: Option<SyncCursor>,
    /// With `since`: the last seq the application already has per
    /// conversation (from [`Connection::known_seqs`]). A conversation the
    /// sync reports but this map lacks is delivered from seq 1.
    pub known_seqs: HashMap<ConversationId, Seq>,
    /// Events buffered for the application before the connection stalls.
    pub event_buffer: usize,
    /// How long a request other than a send waits for its reply.
    pub request_timeout: Duration,
    /// How long a send may take in total, across reconnects.
    pub send_timeout: Duration,
    /// Limit on opening and authenticating one socket.
    pub connect_timeout: Duration,
    /// First pause before reconnecting, or before retrying a failed catch-up
    /// request; doubles on each failure.
    pub backoff_base: Duration,
    /// Longest pause between reconnect attempts.
    pub backoff_cap: Duration,
    /// After this much silence from the server the SDK pings it; after twice
    /// this much it gives the socket up and reconnects.
    pub ping_interval: Duration,
    /// How long a live message that arrived ahead of its predecessors waits
    /// for them before they are fetched from history. Live events of one
    /// conversation may arrive out of order (the server publishes each once
    /// its transaction commits, and commits race); `Duration::ZERO` fetches
    /// at once.
    pub reorder_window: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            since: None,
            known_seqs: HashMap::new(),
            event_buffer: 4096,
            request_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            reorder_window: Duration::from_millis(500),
        }
    }
}

impl ConnectOptions {
    /// Options that resume where an earlier connection (or a saved state) stopped.
    pub fn resume(since: SyncCursor, known_seqs: HashMap<ConversationId, Seq>) -> ConnectOptions {
        ConnectOptions {
            since: Some(since),
            known_seqs,
            ..ConnectOptions::default()
        }
    }
}

/// What [`Connection::next_event`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
// Nearly every value is the large `Event` variant, so boxing it would cost an
// allocation per event and break plain pattern matching for nothing.
#[allow(clippy::large_enum_variant)]
pub enum ConnectionEvent {
    /// Something happened. Messages come at most once per `(conversation,
    /// seq)` and in ascending seq per conversation, including messages fetched
    /// to fill a gap and the caller's own sends (from any device).
    Event(Event),
    /// The socket dropped; the SDK is reconnecting. `code` is the server's
    /// close code, if it sent one.
    Disconnected { code: Option<u16> },
    /// A new socket is up. What was missed meanwhile follows as `Event`s.
    Reconnected,
    /// The server had forgotten this connection's sync position: user events
    /// (friend requests, blocks, ...) may have been lost. Reload friends,
    /// friend requests and blocks. Missed messages are still delivered.
    Reset,
    /// The server closed the connection for good (4001 unauthorized, 4002
    /// revoked). Always the last event.
    Closed { code: u16, reason: String },
}

/// State shared by the connection's handle and its tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    next_id: AtomicU64,
    tracker: SharedTracker,
    /// History requests made to fill gaps between live messages.
    pub(crate) gap_fills: Arc<AtomicU64>,
    /// Why the connection ended for good, for requests made afterwards.
    terminal: Mutex<Option<ClientError>>,
}

impl Shared {
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn set_terminal(&self, err: ClientError) {
        *self.terminal.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
    }

    fn stopped(&self) -> ClientError {
        self.terminal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or(ClientError::Disconnected)
    }
}

/// A live, self-healing WebSocket connection of one [`Session`].
///
/// All methods take `&self`, so one connection can serve several tasks (wrap
/// it in an `Arc`). Dropping it closes the socket and stops its tasks.
///
/// Guarantees:
/// - reconnects with exponential backoff and jitter after any drop, except
///   when the server closed with 4001 or 4002, or after [`Connection::close`];
/// - after every reconnect, and whenever a live message reveals a gap, fetches
///   what was missed, so that the event stream is gap-free per conversation
///   (as far as the server still has the messages) and never repeats one;
/// - a send is retried on the next socket with the same `client_msg_id`, so
///   it yields exactly one message or an error, never two messages.
#[derive(Debug)]
pub struct Connection {
    commands: mpsc::Sender<Command>,
    events: tokio::sync::Mutex<mpsc::Receiver<ConnectionEvent>>,
    shared: Arc<Shared>,
    request_timeout: Duration,
    send_timeout: Duration,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl Session {
    /// Opens a real-time connection that starts from now:
    /// [`Session::connect_with`] with default [`ConnectOptions`].
    pub async fn connect(&self) -> Result<Connection> {
        self.connect_with(ConnectOptions::default()).await
    }

    /// Opens a real-time connection. Returns once the socket is authenticated
    /// and the starting point is known; fails if either cannot be done (a
    /// refused token is [`ClientError::Closed`] with code 4001). Only later
    /// drops are healed by reconnecting.
    pub async fn connect_with(&self, options: ConnectOptions) -> Result<Connection> {
        let target = socket::WsTarget {
            url: ws_url(self.base_url()),
            tls: self.tls(),
        };
        Connection::start(target, self.token().to_owned(), self.clone(), options).await
    }
}

impl Connection {
    pub(crate) async fn start<C: Catchup>(
        target: impl Into<socket::WsTarget>,
        token: String,
        catchup: C,
        options: ConnectOptions,
    ) -> Result<Connection> {
        let cursor = options.since.unwrap_or_default();
        let shared = Arc::new(Shared {
            next_id: AtomicU64::new(1),
            tracker: Arc::new(Mutex::new(Tracker::new(cursor, options.known_seqs.clone()))),
            gap_fills: Arc::new(AtomicU64::new(0)),
            terminal: Mutex::new(None),
        });
        let target = target.into();
        let ws = socket::open(&target, &token, shared.next_id(), options.connect_timeout).await?;

        let (command_tx, command_rx) = mpsc::channel(COMMAND_BUFFER);
        let (event_tx, event_rx) = mpsc::channel(options.event_buffer.max(1));
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_BUFFER);
        let (resync_tx, resync_rx) = mpsc::channel(1);
        let (ready_tx, ready_rx) = oneshot::channel();
        // The channel is new and empty, so this cannot wait.
        inbound_tx
            .send(Inbound::Connected {
                ready: Some(ready_tx),
            })
            .await
            .map_err(|_| ClientError::Disconnected)?;
        let sequencer = Sequencer::new(
            catchup,
            shared.tracker.clone(),
            event_tx,
            resync_tx,
            options.since.is_some(),
            options.backoff_base,
        )
        .counting_gap_fills(shared.gap_fills.clone())
        .with_reorder_window(options.reorder_window);
        // The sequencer stops when the driver drops `inbound_tx` or the
        // application drops the event receiver.
        tokio::spawn(sequencer.run(inbound_rx));
        let config = DriverConfig {
            target,
            token,
            connect_timeout: options.connect_timeout,
            ping_interval: options.ping_interval,
            backoff: Backoff::new(options.backoff_base, options.backoff_cap),
        };
        let driver = Driver::new(config, shared.clone(), command_rx, inbound_tx, resync_rx);
        let handle = tokio::spawn(driver.run(ws));
        let connection = Connection {
            commands: command_tx,
            events: tokio::sync::Mutex::new(event_rx),
            shared,
            request_timeout: options.request_timeout,
            send_timeout: options.send_timeout,
            driver: Mutex::new(Some(handle)),
        };
        // On failure `connection` is dropped here, which stops both tasks.
        ready_rx.await.map_err(|_| ClientError::Disconnected)??;
        Ok(connection)
    }

    /// How many history requests this connection made to fill gaps between
    /// live messages (not counting catch-ups after a reconnect). Live events
    /// may overtake each other; the reorder window keeps this near zero when
    /// nothing is really lost.
    pub fn gap_fills(&self) -> u64 {
        self.shared.gap_fills.load(Ordering::Relaxed)
    }

    /// Waits for the next event. `None` once the connection has ended (after
    /// [`ConnectionEvent::Closed`], or after [`Connection::close`] once the
    /// buffered events are read).
    ///
    /// Keep calling this, from a task of its own if need be, even when only
    /// request replies are of interest: replies and events share the socket,
    /// so once [`ConnectOptions::event_buffer`] events wait unread the SDK
    /// stops reading the socket, replies stall, and the server eventually
    /// drops the connection as too slow. The SDK then reconnects and catches
    /// up, so no message is lost, but requests time out meanwhile.
    pub async fn next_event(&self) -> Option<ConnectionEvent> {
        self.events.lock().await.recv().await
    }

    /// [`Connection::next_event`] with a limit: `Err(Timeout)` if no event
    /// came within `limit`, `Ok(None)` if the connection has ended.
    pub async fn next_event_timeout(&self, limit: Duration) -> Result<Option<ConnectionEvent>> {
        tokio::time::timeout(limit, self.next_event())
            .await
            .map_err(|_| ClientError::Timeout)
    }

    /// Sends a message and waits for the server's acknowledgement: the message
    /// as stored, with its seq. Survives reconnects (the same `client_msg_id`
    /// is sent again) for up to [`ConnectOptions::send_timeout`] in total, then
    /// fails with [`ClientError::Timeout`]; the message may then still have
    /// been stored, and sending it again with the same id is safe.
    pub async fn send(
        &self,
        conversation_id: ConversationId,
        message: SendMessageRequest,
    ) -> Result<Message> {
        let request = ClientRequest::Send {
            conversation_id,
            message,
        };
        let reply: SendMessageResponse = self.request(request, true, self.send_timeout).await?;
        Ok(reply.message)
    }

    /// Sends a text message under a fresh `client_msg_id` (see [`Connection::send`]).
    pub async fn send_text(&self, conversation_id: ConversationId, text: &str) -> Result<Message> {
        self.send(conversation_id, text_message(text)).await
    }

    /// Marks the conversation read up to `seq`.
    pub async fn mark_read(
        &self,
        conversation_id: ConversationId,
        seq: Seq,
    ) -> Result<ReadPosition> {
        self.request(
            ClientRequest::Read {
                conversation_id,
                seq,
            },
            false,
            self.request_timeout,
        )
        .await
    }

    /// Tells the other members the caller is typing. Repeat every few seconds
    /// while typing; nothing is stored.
    pub async fn typing(&self, conversation_id: ConversationId) -> Result<()> {
        let _: accounts::Ok = self
            .request(
                ClientRequest::Typing { conversation_id },
                false,
                self.request_timeout,
            )
            .await?;
        Ok(())
    }

    /// Everything that changed after `since`, over the socket. Independent of
    /// the connection's own catch-up: it does not move [`Connection::cursor`].
    /// Everything that changed after `since`, over the socket: every page the
    /// server answers in, merged (see [`crate::Session::sync`]).
    pub async fn sync(&self, since: SyncCursor) -> Result<SyncResponse> {
        let mut merged = self.sync_page(since, false).await?;
        while merged.has_more {
            let page = self.sync_page(merged.cursor, true).await?;
            crate::session::merge_sync_page(&mut merged, page);
        }
        Ok(merged)
    }

    /// One page of a sync, over the socket (`resume`: going on from a page
    /// that had more).
    pub async fn sync_page(&self, since: SyncCursor, resume: bool) -> Result<SyncResponse> {
        self.request(
            ClientRequest::Sync { since, resume },
            false,
            self.request_timeout,
        )
        .await
    }

    /// A page of history, over the socket.
    pub async fn history(
        &self,
        conversation_id: ConversationId,
        query: HistoryQuery,
    ) -> Result<MessagePage> {
        self.request(
            ClientRequest::History {
                conversation_id,
                query,
            },
            false,
            self.request_timeout,
        )
        .await
    }

    /// The sync cursor up to which every change has been delivered. Save it
    /// with [`Connection::known_seqs`] to resume later with
    /// [`ConnectOptions::resume`].
    pub fn cursor(&self) -> SyncCursor {
        lock(&self.shared.tracker).cursor()
    }

    /// The highest seq delivered (or taken as the starting point) per conversation.
    pub fn known_seqs(&self) -> HashMap<ConversationId, Seq> {
        lock(&self.shared.tracker).positions()
    }

    /// Closes the socket and stops reconnecting. Pending requests fail with
    /// [`ClientError::Disconnected`]; events already buffered can still be read.
    pub async fn close(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        let closed = tokio::time::timeout(CLOSE_WAIT, async {
            // An error means the driver has already stopped.
            if self
                .commands
                .send(Command::Close { done: done_tx })
                .await
                .is_ok()
            {
                let _ = done_rx.await;
            }
        })
        .await;
        if closed.is_err() {
            tracing::warn!("the connection did not close in time; aborting it");
            if let Some(handle) = self
                .driver
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                handle.abort();
            }
        }
    }

    async fn request<R: DeserializeOwned>(
        &self,
        request: ClientRequest,
        resend: bool,
        limit: Duration,
    ) -> Result<R> {
        let id = self.shared.next_id();
        let (reply_tx, reply_rx) = oneshot::channel();
        let command = Command::Request {
            id,
            pending: Pending {
                request,
                reply: reply_tx,
                resend,
            },
        };
        let exchange = async {
            self.commands
                .send(command)
                .await
                .map_err(|_| self.shared.stopped())?;
            // A dropped sender means the driver stopped without answering.
            reply_rx.await.map_err(|_| self.shared.stopped())?
        };
        let value = tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| ClientError::Timeout)??;
        serde_json::from_value(value)
            .map_err(|err| ClientError::decode(std::any::type_name::<R>(), err))
    }
}
