//! The sequencer: turns what the socket receives into the ordered, gap-free,
//! duplicate-free stream of [`ConnectionEvent`]s.
//!
//! It runs as its own task between the socket driver and the application.
//! Catching up (sync and history) goes over HTTP, not over the socket: the
//! driver may be stalled pushing events into this task, and a catch-up that
//! waited on the socket's replies would then wait forever.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use natter_protocol::conversations::{HistoryQuery, Message, MessagePage};
use natter_protocol::sync::{SyncResponse, UserEvent};
use natter_protocol::ws::Event;
use natter_protocol::{ConversationId, ErrorCode, Seq, SyncCursor};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::ConnectionEvent;
use super::tracker::{Tracker, Verdict};
use crate::Session;
use crate::backoff::Backoff;
use crate::error::{ClientError, Result};

/// Largest history page the server serves.
const PAGE: u32 = natter_protocol::limits::PAGE_MAX;
/// Tries per catch-up request before giving up and asking for a reconnect.
const ATTEMPTS: u32 = 4;
/// Most live messages held back waiting for their predecessors; past it the
/// gap is filled at once (a flood must not grow the buffer).
const MAX_HELD_BACK: usize = 1024;

/// Waits until `at`, or for ever when there is nothing to wait for.
async fn wait_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Where missed events come from. [`Session`] in the SDK, a fake in tests.
pub(crate) trait Catchup: Send + Sync + 'static {
    fn sync(&self, since: SyncCursor) -> impl Future<Output = Result<SyncResponse>> + Send;
    fn history(
        &self,
        id: ConversationId,
        query: HistoryQuery,
    ) -> impl Future<Output = Result<MessagePage>> + Send;
}

impl Catchup for Session {
    async fn sync(&self, since: SyncCursor) -> Result<SyncResponse> {
        Session::sync(self, since).await
    }

    async fn history(&self, id: ConversationId, query: HistoryQuery) -> Result<MessagePage> {
        Session::history(self, id, &query).await
    }
}

/// What the driver tells the sequencer, in the order it happened.
#[derive(Debug)]
// Nearly every value is the large `Event` variant; boxing it would only add
// an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inbound {
    /// A socket was authenticated. `ready` is set on the first one only; it is
    /// answered once the starting point is known (or could not be).
    Connected {
        ready: Option<oneshot::Sender<Result<()>>>,
    },
    Event(Event),
    Disconnected {
        code: Option<u16>,
    },
    Closed {
        code: u16,
        reason: String,
    },
}

/// The tracker shared with [`super::Connection`], which reads it for
/// `cursor()` and `known_seqs()`.
pub(crate) type SharedTracker = Arc<Mutex<Tracker>>;

pub(crate) fn lock(tracker: &SharedTracker) -> MutexGuard<'_, Tracker> {
    // The tracker's methods cannot leave it half-updated, so a panic elsewhere
    // while it was locked does not make it unusable.
    tracker.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The application stopped listening (it dropped the [`super::Connection`]).
#[derive(Debug)]
struct Gone;

/// Why a catch-up step stopped.
#[derive(Debug)]
enum Halt {
    Gone,
    /// The server could not be reached or kept failing: reconnect and redo
    /// the catch-up from the unchanged cursor.
    Failed(ClientError),
}

impl From<Gone> for Halt {
    fn from(_: Gone) -> Halt {
        Halt::Gone
    }
}

pub(crate) struct Sequencer<C> {
    catchup: C,
    tracker: SharedTracker,
    out: mpsc::Sender<ConnectionEvent>,
    /// Asks the driver to drop the socket and reconnect; capacity 1, so asking
    /// twice before the driver reacts is one request.
    resync: mpsc::Sender<()>,
    /// On the first connection: catch up from the tracker's cursor (`true`), or
    /// only record where the server stands now (`false`).
    backfill_first: bool,
    first: bool,
    /// A reconnect was requested and has not happened yet: skip gap fills,
    /// the catch-up after reconnecting will do them.
    degraded: bool,
    /// First pause between tries of a catch-up request.
    retry_base: Duration,
    /// How long a message that arrived ahead of its predecessors waits.
    reorder_window: Duration,
    /// Messages that arrived ahead of their predecessors, by conversation and
    /// seq, with when the wait for the missing ones ends.
    held_back: HashMap<ConversationId, HeldBack>,
    /// History requests made to fill gaps between live messages.
    gap_fills: Arc<AtomicU64>,
}

/// A conversation's messages waiting for the ones before them.
struct HeldBack {
    messages: BTreeMap<Seq, Message>,
    until: Instant,
}

impl<C: Catchup> Sequencer<C> {
    pub(crate) fn new(
        catchup: C,
        tracker: SharedTracker,
        out: mpsc::Sender<ConnectionEvent>,
        resync: mpsc::Sender<()>,
        backfill_first: bool,
        retry_base: Duration,
    ) -> Self {
        Sequencer {
            catchup,
            tracker,
            out,
            resync,
            backfill_first,
            first: true,
            degraded: false,
            retry_base,
            reorder_window: Duration::ZERO,
            held_back: HashMap::new(),
            gap_fills: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counts gap fills into `counter` (the connection reads it).
    pub(crate) fn counting_gap_fills(mut self, counter: Arc<AtomicU64>) -> Self {
        self.gap_fills = counter;
        self
    }

    /// Lets messages that overtook others wait `window` for them.
    pub(crate) fn with_reorder_window(mut self, window: Duration) -> Self {
        self.reorder_window = window;
        self
    }

    /// When the earliest wait for missing messages ends.
    fn next_release(&self) -> Option<Instant> {
        self.held_back.values().map(|held| held.until).min()
    }

    fn held_back_count(&self) -> usize {
        self.held_back
            .values()
            .map(|held| held.messages.len())
            .sum()
    }

    /// Runs until the driver stops (drops its sender) or the application
    /// drops its receiver.
    pub(crate) async fn run(mut self, mut inbound: mpsc::Receiver<Inbound>) {
        loop {
            let release = self.next_release();
            let item = tokio::select! {
                item = inbound.recv() => match item {
                    Some(item) => item,
                    None => return,
                },
                () = wait_until(release) => {
                    if self.release_overdue().await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let handled = match item {
                Inbound::Connected { ready } => self.on_connected(ready).await,
                Inbound::Event(Event::Message { message }) => self.on_message(message).await,
                Inbound::Event(Event::User { event }) => self.on_user_event(event).await,
                Inbound::Event(other) => self.emit(ConnectionEvent::Event(other)).await,
                Inbound::Disconnected { code } => {
                    self.emit(ConnectionEvent::Disconnected { code }).await
                }
                Inbound::Closed { code, reason } => {
                    // Delivery failing here changes nothing: this is the end either way.
                    let _ = self.emit(ConnectionEvent::Closed { code, reason }).await;
                    return;
                }
            };
            if handled.is_err() {
                tracing::debug!("event receiver dropped; sequencer stops");
                return;
            }
        }
    }

    async fn emit(&self, event: ConnectionEvent) -> Result<(), Gone> {
        self.out.send(event).await.map_err(|_| Gone)
    }

    fn request_resync(&mut self, err: &ClientError) {
        tracing::warn!(error = %err, "catch-up failed; reconnecting to try again");
        self.degraded = true;
        // Full means a request is already waiting; closed means the driver is
        // gone. Neither needs another request.
        let _ = self.resync.try_send(());
    }

    async fn on_connected(
        &mut self,
        ready: Option<oneshot::Sender<Result<()>>>,
    ) -> Result<(), Gone> {
        let first = std::mem::replace(&mut self.first, false);
        self.degraded = false;
        if first && !self.backfill_first {
            let outcome = self.baseline().await;
            if let Some(ready) = ready {
                // The connecting caller may have given up; nothing to do then.
                let _ = ready.send(outcome.clone());
            }
            return match outcome {
                Ok(()) => Ok(()),
                // `connect` fails, so nobody will read events.
                Err(_) => Err(Gone),
            };
        }
        if !first {
            self.emit(ConnectionEvent::Reconnected).await?;
        }
        match self.catch_up(ready).await {
            Ok(()) => Ok(()),
            Err(Halt::Gone) => Err(Gone),
            Err(Halt::Failed(err)) => {
                self.request_resync(&err);
                Ok(())
            }
        }
    }

    /// "From now on": record the server's cursor and every conversation's
    /// newest seq as already delivered.
    async fn baseline(&mut self) -> Result<()> {
        let reply = self.retrying(|| self.catchup.sync(SyncCursor(0))).await?;
        let mut tracker = lock(&self.tracker);
        for summary in &reply.conversations {
            tracker.skip_to(summary.id, summary.last_seq);
        }
        tracker.advance_cursor(reply.cursor);
        Ok(())
    }

    /// Delivers what happened since the tracker's cursor.
    async fn catch_up(&mut self, ready: Option<oneshot::Sender<Result<()>>>) -> Result<(), Halt> {
        let since = lock(&self.tracker).cursor();
        let fetched = match self.retrying(|| self.catchup.sync(since)).await {
            Err(err) if err.code() == Some(ErrorCode::TooFarBehind) => {
                // The server may refuse an old cursor instead of answering with
                // `reset`; starting over from 0 gives the same full list.
                self.retrying(|| self.catchup.sync(SyncCursor(0)))
                    .await
                    .map(|mut reply| {
                        reply.reset = true;
                        reply
                    })
            }
            other => other,
        };
        if let Some(ready) = ready {
            // The connecting caller may have given up; nothing to do then.
            let _ = ready.send(fetched.as_ref().map(drop).map_err(Clone::clone));
        }
        let reply = fetched.map_err(Halt::Failed)?;
        if reply.reset && since.0 != 0 {
            self.emit(ConnectionEvent::Reset).await?;
        }
        for event in reply.events {
            self.on_user_event(event).await?;
        }
        for summary in &reply.conversations {
            let after = lock(&self.tracker).missing_after(summary);
            if let Some(after) = after {
                self.fill(summary.id, after, summary.last_seq).await?;
            }
        }
        lock(&self.tracker).advance_cursor(reply.cursor);
        Ok(())
    }

    async fn on_user_event(&mut self, event: UserEvent) -> Result<(), Gone> {
        if lock(&self.tracker).accept_user_event(event.cursor) {
            self.emit(ConnectionEvent::Event(Event::User { event }))
                .await?;
        }
        Ok(())
    }

    async fn on_message(&mut self, message: Message) -> Result<(), Gone> {
        let id = message.conversation_id;
        let verdict = lock(&self.tracker).classify(id, message.seq);
        match verdict {
            Verdict::Duplicate => return Ok(()),
            Verdict::Next => {}
            Verdict::Gap { after } if self.degraded => {
                // The catch-up after the coming reconnect fetches this one too.
                tracing::debug!(conversation = %id, %after, seq = %message.seq, "gap left for the resync");
                return Ok(());
            }
            Verdict::Gap { .. }
                if !self.reorder_window.is_zero() && self.held_back_count() < MAX_HELD_BACK =>
            {
                // Probably only overtaken: wait a moment for the ones before it.
                let until = Instant::now() + self.reorder_window;
                self.held_back
                    .entry(id)
                    .or_insert_with(|| HeldBack {
                        messages: BTreeMap::new(),
                        until,
                    })
                    .messages
                    .insert(message.seq, message);
                return Ok(());
            }
            Verdict::Gap { after } => {
                self.gap_fills.fetch_add(1, Ordering::Relaxed);
                let before = Seq(message.seq.0 - 1);
                match self.fill(id, after, before).await {
                    Ok(()) => {}
                    Err(Halt::Gone) => return Err(Gone),
                    Err(Halt::Failed(err)) => {
                        // Not delivered and not recorded: the resync brings it.
                        self.request_resync(&err);
                        return Ok(());
                    }
                }
            }
        }
        self.deliver(message).await?;
        self.deliver_contiguous(id).await
    }

    /// Delivers the held-back messages of `id` that follow on from what was
    /// delivered; the rest keep waiting.
    async fn deliver_contiguous(&mut self, id: ConversationId) -> Result<(), Gone> {
        loop {
            let position = lock(&self.tracker).position(id);
            let Some(held) = self.held_back.get_mut(&id) else {
                return Ok(());
            };
            // Anything at or below the position came meanwhile (history, a resend).
            while held
                .messages
                .first_key_value()
                .is_some_and(|(seq, _)| *seq <= position)
            {
                held.messages.pop_first();
            }
            let next = match held.messages.first_key_value() {
                Some((seq, _)) if seq.0 == position.0 + 1 => held.messages.pop_first(),
                _ => None,
            };
            if held.messages.is_empty() {
                self.held_back.remove(&id);
            }
            match next {
                Some((_, message)) => self.deliver(message).await?,
                None => return Ok(()),
            }
        }
    }

    /// The wait is over for conversations whose missing messages did not
    /// come live: fetch them from history, then deliver what was held back.
    async fn release_overdue(&mut self) -> Result<(), Gone> {
        let now = Instant::now();
        let overdue: Vec<ConversationId> = self
            .held_back
            .iter()
            .filter(|(_, held)| held.until <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            let Some(held) = self.held_back.remove(&id) else {
                continue;
            };
            if self.degraded {
                // The catch-up after the coming reconnect brings them in order.
                continue;
            }
            let after = lock(&self.tracker).position(id);
            // Everything up to the last one held back, so that no hole between
            // held-back messages is jumped over either.
            let highest = held.messages.keys().next_back().copied().unwrap_or(after);
            if highest.0 > after.0 + 1 {
                self.gap_fills.fetch_add(1, Ordering::Relaxed);
                match self.fill(id, after, Seq(highest.0 - 1)).await {
                    Ok(()) => {}
                    Err(Halt::Gone) => return Err(Gone),
                    Err(Halt::Failed(err)) => {
                        // The resync after reconnecting brings them all.
                        self.request_resync(&err);
                        continue;
                    }
                }
            }
            for (_, message) in held.messages {
                self.deliver(message).await?;
            }
        }
        Ok(())
    }

    async fn deliver(&self, message: Message) -> Result<(), Gone> {
        let fresh = lock(&self.tracker).accept(message.conversation_id, message.seq);
        if fresh {
            self.emit(ConnectionEvent::Event(Event::Message { message }))
                .await?;
        }
        Ok(())
    }

    /// Fetches and delivers the messages of `id` after `after`, at least up to
    /// `target`. A conversation the caller may no longer read is skipped up to
    /// `target`.
    async fn fill(&mut self, id: ConversationId, after: Seq, target: Seq) -> Result<(), Halt> {
        let mut after = after;
        loop {
            let query = HistoryQuery {
                before: None,
                after: Some(after),
                limit: Some(PAGE),
            };
            let page = match self
                .retrying(|| self.catchup.history(id, query.clone()))
                .await
            {
                Ok(page) => page,
                Err(err @ ClientError::Api { .. }) if !err.is_retryable() => {
                    // Left, removed or deleted: there is nothing to fetch, and
                    // asking again on every message would not change that.
                    tracing::info!(conversation = %id, error = %err, "history refused; skipping the gap");
                    lock(&self.tracker).skip_to(id, target);
                    return Ok(());
                }
                Err(err) => return Err(Halt::Failed(err)),
            };
            for message in page.messages {
                if message.conversation_id == id {
                    self.deliver(message).await?;
                } else {
                    tracing::warn!(conversation = %id, other = %message.conversation_id, "history page holds a foreign message");
                }
            }
            let reached = lock(&self.tracker).position(id);
            if !page.has_more || reached <= after {
                // Done, or the server made no progress (a broken page): either
                // way asking again would not help.
                if reached < target {
                    tracing::debug!(conversation = %id, %reached, %target, "history ends below the target; the rest is gone");
                }
                return Ok(());
            }
            after = reached;
        }
    }

    /// Runs `call` until it succeeds, fails for good, or has failed
    /// [`ATTEMPTS`] times, waiting between tries.
    async fn retrying<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoff = Backoff::new(self.retry_base, self.retry_base * 8);
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(err) if err.is_retryable() && attempt < ATTEMPTS => {
                    let wait = backoff
                        .next_delay()
                        .max(err.retry_after().unwrap_or_default());
                    tracing::debug!(error = %err, attempt, ?wait, "catch-up request failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}
