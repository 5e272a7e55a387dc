//! The driver: the task that owns the WebSocket. It writes requests, routes
//! replies to their waiters, hands events to the sequencer, keeps the socket
//! alive, and reconnects when it drops.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use natter_protocol::ws::{ClientFrame, ClientRequest, ServerFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior, timeout};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::Shared;
use super::sequencer::Inbound;
use super::socket::{self, OpenError, WsStream, close_parts, is_fatal_close};
use crate::backoff::Backoff;
use crate::error::{ClientError, Result};

/// How long a polite close may take before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Above this many entries, answers nobody waits for any more are pruned.
const PENDING_PRUNE_AT: usize = 1024;

/// A request waiting for its reply.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) request: ClientRequest,
    pub(crate) reply: oneshot::Sender<Result<serde_json::Value>>,
    /// Sends are idempotent (same `client_msg_id`), so they survive a
    /// reconnect and are written again; anything else fails with
    /// `Disconnected` when the socket drops.
    pub(crate) resend: bool,
}

/// What [`super::Connection`] asks of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Request { id: u64, pending: Pending },
    Close { done: oneshot::Sender<()> },
}

/// How a connected stretch ended.
enum Ended {
    /// The socket dropped or was closed with a retryable code.
    Dropped { code: Option<u16> },
    /// The server closed with 4001 or 4002.
    Fatal { code: u16, reason: String },
    /// [`super::Connection::close`] was called.
    UserClosed { done: oneshot::Sender<()> },
    /// The application dropped the [`super::Connection`]; stop quietly.
    Gone,
}

/// How waiting for a new socket ended.
enum Reconnect {
    Connected(Box<WsStream>),
    Fatal { code: u16, reason: String },
    Stop,
}

/// Timing knobs, copied from [`super::ConnectOptions`].
#[derive(Debug, Clone)]
pub(crate) struct DriverConfig {
    pub(crate) target: super::socket::WsTarget,
    pub(crate) token: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) backoff: Backoff,
}

pub(crate) struct Driver {
    config: DriverConfig,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Sender<Inbound>,
    resync: mpsc::Receiver<()>,
    /// Ordered by id, so that sends are written again in the order they were made.
    pending: BTreeMap<u64, Pending>,
}

impl Driver {
    pub(crate) fn new(
        config: DriverConfig,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Command>,
        inbound: mpsc::Sender<Inbound>,
        resync: mpsc::Receiver<()>,
    ) -> Driver {
        Driver {
            config,
            shared,
            commands,
            inbound,
            resync,
            pending: BTreeMap::new(),
        }
    }

    /// Serves `ws` and its successors until the connection ends for good.
    pub(crate) async fn run(mut self, mut ws: WsStream) {
        loop {
            let ended = self.serve(&mut ws).await;
            let (code, reason) = match ended {
                Ended::Dropped { code } => (code, None),
                Ended::Fatal { code, reason } => (Some(code), Some(reason)),
                Ended::UserClosed { done } => {
                    close_politely(&mut ws).await;
                    self.fail_all(&ClientError::Disconnected);
                    // `close()` may have stopped waiting; the socket is closed regardless.
                    let _ = done.send(());
                    return;
                }
                Ended::Gone => {
                    close_politely(&mut ws).await;
                    return;
                }
            };
            tracing::info!(?code, "realtime connection dropped");
            self.fail_unsendable();
            if self
                .inbound
                .send(Inbound::Disconnected { code })
                .await
                .is_err()
            {
                return;
            }
            if let (Some(code), Some(reason)) = (code, reason) {
                self.finish(code, reason).await;
                return;
            }
            match self.reconnect().await {
                Reconnect::Connected(fresh) => {
                    ws = *fresh;
                    // A resync asked for before this socket existed is served by
                    // the catch-up that `Connected` starts.
                    while self.resync.try_recv().is_ok() {}
                    if self
                        .inbound
                        .send(Inbound::Connected { ready: None })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Reconnect::Fatal { code, reason } => {
                    self.finish(code, reason).await;
                    return;
                }
                Reconnect::Stop => return,
            }
        }
    }

    /// The server refused us for good: every waiter, sends included, learns why.
    async fn finish(&mut self, code: u16, reason: String) {
        tracing::warn!(code, %reason, "server closed the connection for good");
        let err = ClientError::Closed {
            code,
            reason: reason.clone(),
        };
        self.shared.set_terminal(err.clone());
        self.fail_all(&err);
        // The sequencer is gone only if the application is; nobody to tell then.
        let _ = self.inbound.send(Inbound::Closed { code, reason }).await;
    }

    /// One connected stretch: read, write and keep alive until the socket ends.
    async fn serve(&mut self, ws: &mut WsStream) -> Ended {
        // Sends that were waiting for a socket go out first, in order.
        let resends: Vec<(u64, ClientRequest)> = self
            .pending
            .iter()
            .filter(|(_, pending)| pending.resend && !pending.reply.is_closed())
            .map(|(id, pending)| (*id, pending.request.clone()))
            .collect();
        for (id, request) in resends {
            if let Err(err) = write(ws, id, request).await {
                tracing::debug!(error = %err, "resend failed");
                return Ended::Dropped { code: None };
            }
        }
        let mut ticker = tokio::time::interval(self.config.ping_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The first tick is immediate; skip it.
        ticker.tick().await;
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                // Reading first: replies and the server's close must not wait
                // behind a burst of local commands.
                biased;
                received = ws.next() => {
                    match received {
                        Some(Ok(WsMessage::Text(text))) => {
                            if let Err(ended) = self.on_text(text.as_str()).await {
                                return ended;
                            }
                        }
                        Some(Ok(WsMessage::Close(frame))) => {
                            let (code, reason) = close_parts(frame);
                            close_politely(ws).await;
                            if is_fatal_close(code) {
                                return Ended::Fatal { code, reason };
                            }
                            tracing::debug!(code, %reason, "server closed the socket");
                            return Ended::Dropped { code: Some(code) };
                        }
                        // Pings are answered by tungstenite while we read; pongs
                        // and binary frames only prove the peer is alive.
                        Some(Ok(_)) => {}
                        Some(Err(err)) => {
                            tracing::debug!(error = %err, "socket read failed");
                            return Ended::Dropped { code: None };
                        }
                        None => return Ended::Dropped { code: None },
                    }
                    // Measured after handling, so that time spent waiting for the
                    // sequencer to take an event does not look like silence.
                    last_heard = Instant::now();
                }
                command = self.commands.recv() => match command {
                    Some(Command::Request { id, pending }) => {
                        let request = pending.request.clone();
                        self.insert(id, pending);
                        if let Err(err) = write(ws, id, request).await {
                            tracing::debug!(error = %err, "socket write failed");
                            return Ended::Dropped { code: None };
                        }
                    }
                    Some(Command::Close { done }) => return Ended::UserClosed { done },
                    None => return Ended::Gone,
                },
                Some(()) = self.resync.recv() => {
                    close_politely(ws).await;
                    return Ended::Dropped { code: None };
                }
                _ = ticker.tick() => {
                    let silent = last_heard.elapsed();
                    if silent >= self.config.ping_interval * 2 {
                        tracing::info!(?silent, "no sign of life from the server; reconnecting");
                        return Ended::Dropped { code: None };
                    }
                    if silent >= self.config.ping_interval
                        && let Err(err) = ws.send(WsMessage::Ping(Default::default())).await
                    {
                        tracing::debug!(error = %err, "ping failed");
                        return Ended::Dropped { code: None };
                    }
                }
            }
        }
    }

    /// Routes one text frame. `Err` ends the connected stretch.
    async fn on_text(&mut self, text: &str) -> Result<(), Ended> {
        let frame = match serde_json::from_str::<ServerFrame>(text) {
            Ok(frame) => frame,
            Err(err) => {
                // A newer server may send frames this SDK does not know yet.
                tracing::warn!(error = %err, "unreadable frame ignored");
                return Ok(());
            }
        };
        match frame {
            ServerFrame::Reply { id, result } => self.answer(id, Ok(result)),
            ServerFrame::Error {
                id: Some(id),
                code,
                message,
                retry_after_ms,
                reason,
                ..
            } => {
                let status = code.http_status();
                self.answer(
                    id,
                    Err(ClientError::Api {
                        status,
                        code,
                        message,
                        retry_after_ms,
                        reason,
                    }),
                );
            }
            ServerFrame::Error {
                id: None,
                code,
                message,
                ..
            } => {
                tracing::warn!(%code, %message, "connection-level error from the server");
            }
            ServerFrame::Event { event } => {
                // Waits while the sequencer is full: that is the backpressure
                // that ends with the server dropping a reader that is too slow.
                if self.inbound.send(Inbound::Event(event)).await.is_err() {
                    return Err(Ended::Gone);
                }
            }
            ServerFrame::Pong { .. } | ServerFrame::AuthOk { .. } => {}
        }
        Ok(())
    }

    fn answer(&mut self, id: u64, result: Result<serde_json::Value>) {
        match self.pending.remove(&id) {
            // The waiter may have timed out; then nobody needs the answer.
            Some(pending) => drop(pending.reply.send(result)),
            None => tracing::debug!(id, "reply to an unknown or abandoned request"),
        }
    }

    fn insert(&mut self, id: u64, pending: Pending) {
        if self.pending.len() >= PENDING_PRUNE_AT {
            self.pending.retain(|_, pending| !pending.reply.is_closed());
        }
        self.pending.insert(id, pending);
    }

    /// The socket dropped: only sends survive, to be written again.
    fn fail_unsendable(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for (id, entry) in pending {
            if entry.resend && !entry.reply.is_closed() {
                self.pending.insert(id, entry);
            } else {
                // The waiter may have timed out already.
                let _ = entry.reply.send(Err(ClientError::Disconnected));
            }
        }
    }

    fn fail_all(&mut self, err: &ClientError) {
        for (_, entry) in std::mem::take(&mut self.pending) {
            // The waiter may have timed out already.
            let _ = entry.reply.send(Err(err.clone()));
        }
    }

    /// Waits with backoff and tries again until a socket is authenticated, the
    /// token is refused, or the application closes. Requests made meanwhile
    /// fail at once, except sends, which wait for the next socket.
    async fn reconnect(&mut self) -> Reconnect {
        loop {
            let delay = self.config.backoff.next_delay();
            tracing::debug!(?delay, "reconnecting after a pause");
            let pause = tokio::time::sleep(delay);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    () = &mut pause => break,
                    command = self.commands.recv() => match command {
                        Some(Command::Request { id, pending }) if pending.resend => self.insert(id, pending),
                        Some(Command::Request { pending, .. }) => {
                            // The caller may have given up already.
                            let _ = pending.reply.send(Err(ClientError::Disconnected));
                        }
                        Some(Command::Close { done }) => {
                            self.fail_all(&ClientError::Disconnected);
                            // `close()` may have stopped waiting.
                            let _ = done.send(());
                            return Reconnect::Stop;
                        }
                        None => return Reconnect::Stop,
                    },
                }
            }
            let id = self.shared.next_id();
            match socket::open(
                &self.config.target,
                &self.config.token,
                id,
                self.config.connect_timeout,
            )
            .await
            {
                Ok(ws) => {
                    tracing::info!("realtime connection restored");
                    self.config.backoff.reset();
                    return Reconnect::Connected(Box::new(ws));
                }
                Err(OpenError::Fatal { code, reason }) => return Reconnect::Fatal { code, reason },
                Err(OpenError::Retry(err)) => {
                    tracing::debug!(error = %err, "reconnect attempt failed")
                }
            }
        }
    }
}

async fn write(ws: &mut WsStream, id: u64, request: ClientRequest) -> Result<()> {
    let frame = ClientFrame {
        id: Some(id),
        request,
    };
    let text =
        serde_json::to_string(&frame).map_err(|err| ClientError::decode("request frame", err))?;
    ws.send(WsMessage::text(text))
        .await
        .map_err(|err| ClientError::Transport(err.to_string()))
}

/// Sends a normal close (or completes the server's close) and flushes it,
/// within a short limit. The socket is being abandoned either way, so failure
/// is not an error.
async fn close_politely(ws: &mut WsStream) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: Default::default(),
    };
    if let Err(err) = timeout(CLOSE_TIMEOUT, ws.close(Some(frame)))
        .await
        .unwrap_or(Ok(()))
    {
        tracing::debug!(error = %err, "close handshake failed");
    }
}
