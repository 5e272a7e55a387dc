//! The bus between several nodes: Redis pub/sub on one channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use redis::Client;
use redis::aio::{MultiplexedConnection, PubSub};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::handlers::Handlers;
use crate::redis_support::{self, Backoff, CONNECT_TIMEOUT};
use crate::{Bus, BusError, BusHandler, BusMessage, NodeId, codec};

/// Most messages sent to Redis in one pipeline: large enough to absorb a burst
/// in a few round trips, small enough that one write stays well under Redis's
/// client output buffer limits.
const MAX_BATCH: usize = 256;

/// How long a PUBLISH pipeline may wait for Redis before the connection counts as lost.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Tuning of a [`RedisBus`]; [`Default`] suits production.
#[derive(Debug, Clone)]
pub struct RedisBusOptions {
    /// Messages waiting to be written to Redis (default 8192). When it is full,
    /// [`Bus::publish`] fails at once rather than make the caller wait.
    pub queue_capacity: usize,
    /// First delay before reconnecting after a lost connection (default 50 ms);
    /// it doubles up to `reconnect_max` (default 5 s).
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// How often the subscription is pinged (default 10 s), so that a connection
    /// that died without a reset (a partition, a dead NAT entry) is noticed.
    pub ping_interval: Duration,
}

impl Default for RedisBusOptions {
    fn default() -> RedisBusOptions {
        RedisBusOptions {
            queue_capacity: 8192,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(5),
            ping_interval: Duration::from_secs(10),
        }
    }
}

/// The bus of a node among several, through Redis pub/sub on the channel
/// `{prefix}bus`.
///
/// [`Bus::publish`] hands this node's handlers the message directly, on the
/// caller's task, and queues it for a background task that PUBLISHes what is
/// waiting in one pipeline; it never waits for Redis. A receiving task holds
/// the subscription, skips the messages this node published (its handlers
/// already had them, so each handler gets every message once), and calls the
/// handlers with the others. When the subscription drops, it reconnects with
/// backoff and then calls [`BusHandler::interrupted`].
///
/// Background tasks stop when the bus is dropped or [`RedisBus::shutdown`] is called.
pub struct RedisBus {
    node: NodeId,
    handlers: Arc<Handlers>,
    queue: mpsc::Sender<Bytes>,
    /// False while the publishing task has lost Redis: publishing then fails at
    /// once instead of filling the queue with messages that will arrive late.
    redis_up: Arc<AtomicBool>,
    /// False while the subscription is lost: this node misses what others publish.
    subscribed: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl RedisBus {
    /// Connects with the default options. See [`RedisBus::connect_with`].
    pub async fn connect(url: &str, prefix: &str, node: NodeId) -> Result<RedisBus, BusError> {
        RedisBus::connect_with(url, prefix, node, RedisBusOptions::default()).await
    }

    /// Connects to the Redis at `url` and subscribes before returning, so that
    /// anything published after this returns reaches this node. `prefix` starts
    /// every channel name, to let several deployments (or tests) share a Redis.
    /// Fails with [`BusError::Connect`], naming the URL, when Redis cannot be
    /// reached within 5 seconds.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        node: NodeId,
        options: RedisBusOptions,
    ) -> Result<RedisBus, BusError> {
        let client = redis_support::open_client(url)?;
        let channel = format!("{prefix}bus");
        let publisher = publishing_connection(&client)
            .await
            .map_err(|error| redis_support::connect_error(url, error))?;
        let subscription = subscribe(&client, &channel)
            .await
            .map_err(|error| redis_support::connect_error(url, error))?;

        let handlers = Arc::new(Handlers::default());
        let (queue, queued) = mpsc::channel(options.queue_capacity.max(1));
        let redis_up = Arc::new(AtomicBool::new(true));
        let subscribed = Arc::new(AtomicBool::new(true));
        let (stop, stopped) = watch::channel(false);
        let publishing = tokio::spawn(
            Publishing {
                client: client.clone(),
                channel: channel.clone(),
                queued,
                redis_up: redis_up.clone(),
                stop: stopped.clone(),
                options: options.clone(),
            }
            .run(publisher),
        );
        let receiving = tokio::spawn(
            Receiving {
                client,
                channel,
                node,
                handlers: handlers.clone(),
                subscribed: subscribed.clone(),
                stop: stopped,
                options,
            }
            .run(subscription),
        );
        Ok(RedisBus {
            node,
            handlers,
            queue,
            redis_up,
            subscribed,
            stop,
            tasks: Mutex::new(vec![publishing, receiving]),
        })
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Stops the background tasks, after writing to Redis what is already queued
    /// (for at most 2 seconds). Publishing afterwards fails with `Unavailable`.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, node = %self.node, "a bus task failed");
            }
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, message: BusMessage) -> Result<(), BusError> {
        self.handlers.handle(&message);
        if !self.redis_up.load(Ordering::Relaxed) {
            return Err(BusError::Unavailable("redis is unreachable".into()));
        }
        let payload = codec::encode(self.node, &message)?;
        self.queue.try_send(payload).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => {
                BusError::Unavailable("the bus publish queue is full".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                BusError::Unavailable("the bus is shut down".into())
            }
        })
    }

    fn subscribe(&self, handler: Arc<dyn BusHandler>) {
        self.handlers.add(handler);
    }

    fn health(&self) -> Result<(), BusError> {
        if !self.redis_up.load(Ordering::Relaxed) {
            return Err(BusError::Unavailable("cannot publish to redis".into()));
        }
        if !self.subscribed.load(Ordering::Relaxed) {
            return Err(BusError::Unavailable(
                "the redis subscription is lost".into(),
            ));
        }
        Ok(())
    }
}

async fn publishing_connection(client: &Client) -> redis::RedisResult<MultiplexedConnection> {
    redis_support::checked_connection(client, RESPONSE_TIMEOUT).await
}

async fn subscribe(client: &Client, channel: &str) -> redis::RedisResult<PubSub> {
    let attempt = async {
        let mut pubsub = client.get_async_pubsub().await?;
        // Returns once Redis confirmed the subscription.
        pubsub.subscribe(channel).await?;
        Ok(pubsub)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "timed out",
            format!("no subscription within {CONNECT_TIMEOUT:?}"),
        ))),
    }
}

/// Resolves once the bus is shut down or dropped.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the bus was dropped, which also means stop.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The task that drains the queue into PUBLISH pipelines.
struct Publishing {
    client: Client,
    channel: String,
    queued: mpsc::Receiver<Bytes>,
    redis_up: Arc<AtomicBool>,
    stop: watch::Receiver<bool>,
    options: RedisBusOptions,
}

impl Publishing {
    async fn run(mut self, mut connection: MultiplexedConnection) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let first = tokio::select! {
                first = self.queued.recv() => first,
                () = stopped(&mut self.stop) => None,
            };
            let Some(first) = first else {
                self.flush_on_stop(&mut connection).await;
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match self.queued.try_recv() {
                    Ok(payload) => batch.push(payload),
                    Err(_) => break,
                }
            }
            let sent = self.send(&mut connection, &batch).await;
            let lost = batch.len();
            batch.clear();
            if let Err(error) = sent {
                // Never resent: Redis may have published part of the pipeline, and
                // a repeat would reach some handlers twice. Clients sync what is lost.
                self.redis_up.store(false, Ordering::Relaxed);
                tracing::warn!(%error, lost, "bus publish to redis failed; reconnecting");
                match self.reconnect().await {
                    Some(restored) => connection = restored,
                    None => return,
                }
                self.redis_up.store(true, Ordering::Relaxed);
                tracing::info!("bus publishing to redis restored");
            }
        }
    }

    async fn send(
        &self,
        connection: &mut MultiplexedConnection,
        batch: &[Bytes],
    ) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        for payload in batch {
            pipe.cmd("PUBLISH")
                .arg(&self.channel)
                .arg(payload.as_ref())
                .ignore();
        }
        pipe.query_async(connection).await
    }

    async fn reconnect(&mut self) -> Option<MultiplexedConnection> {
        let mut backoff = Backoff::new(self.options.reconnect_min, self.options.reconnect_max);
        loop {
            tokio::select! {
                () = tokio::time::sleep(backoff.next_delay()) => {}
                () = stopped(&mut self.stop) => return None,
            }
            let attempt = tokio::select! {
                attempt = publishing_connection(&self.client) => attempt,
                () = stopped(&mut self.stop) => return None,
            };
            match attempt {
                Ok(connection) => return Some(connection),
                Err(error) => tracing::debug!(%error, "bus publisher still cannot reach redis"),
            }
        }
    }

    async fn flush_on_stop(&mut self, connection: &mut MultiplexedConnection) {
        self.queued.close();
        let mut rest = Vec::new();
        while let Ok(payload) = self.queued.try_recv() {
            rest.push(payload);
        }
        for batch in rest.chunks(MAX_BATCH) {
            match tokio::time::timeout(RESPONSE_TIMEOUT, self.send(connection, batch)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "bus messages lost at shutdown");
                    return;
                }
                Err(_) => {
                    tracing::warn!("bus messages lost at shutdown: redis too slow");
                    return;
                }
            }
        }
    }
}

/// The task that holds the subscription and calls the handlers.
struct Receiving {
    client: Client,
    channel: String,
    node: NodeId,
    handlers: Arc<Handlers>,
    subscribed: Arc<AtomicBool>,
    stop: watch::Receiver<bool>,
    options: RedisBusOptions,
}

impl Receiving {
    async fn run(mut self, mut subscription: PubSub) {
        loop {
            if !self.receive(subscription).await {
                return;
            }
            tracing::warn!(channel = %self.channel, "bus subscription lost; reconnecting");
            self.subscribed.store(false, Ordering::Relaxed);
            subscription = match self.resubscribe().await {
                Some(subscription) => subscription,
                None => return,
            };
            tracing::info!(channel = %self.channel, "bus subscription restored");
            self.subscribed.store(true, Ordering::Relaxed);
            // Only now: a handler that reacts by asking clients to sync must
            // not race ahead of the messages that follow the gap.
            self.handlers.interrupted();
        }
    }

    /// Calls the handlers until the subscription ends: true when it was lost,
    /// false when the bus is stopping.
    async fn receive(&mut self, subscription: PubSub) -> bool {
        let (mut sink, mut messages) = subscription.split();
        let period = self.options.ping_interval.max(Duration::from_millis(10));
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => self.dispatch(message.get_payload_bytes()),
                    None => return true,
                },
                _ = ping.tick() => {
                    let answered = tokio::time::timeout(period, sink.ping::<redis::Value>()).await;
                    if !matches!(answered, Ok(Ok(_))) {
                        return true;
                    }
                }
                () = stopped(&mut self.stop) => return false,
            }
        }
    }

    fn dispatch(&self, payload: &[u8]) {
        match codec::decode(payload) {
            // This node's handlers had it when it was published.
            Ok((origin, _)) if origin == self.node => {}
            Ok((_, message)) => self.handlers.handle(&message),
            Err(error) => tracing::warn!(%error, "dropping a bus message this node cannot read"),
        }
    }

    async fn resubscribe(&mut self) -> Option<PubSub> {
        let mut backoff = Backoff::new(self.options.reconnect_min, self.options.reconnect_max);
        loop {
            // The first attempt is immediate: a killed connection to a healthy
            // Redis comes back at once.
            let attempt = tokio::select! {
                attempt = subscribe(&self.client, &self.channel) => attempt,
                () = stopped(&mut self.stop) => return None,
            };
            match attempt {
                Ok(subscription) => return Some(subscription),
                Err(error) => tracing::debug!(%error, "bus subscriber still cannot reach redis"),
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.next_delay()) => {}
                () = stopped(&mut self.stop) => return None,
            }
        }
    }
}
