//! Backends, recording handlers and waiting, for the contract tests.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use natter_bus::{
    Audience, Bus, BusHandler, BusMessage, InProcessBus, InProcessPresence, NodeId, Presence,
    RedisBus, RedisBusOptions, RedisPresence, RedisPresenceOptions,
};
use natter_protocol::UserId;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, watch};

/// Long enough for a loaded two-core machine; waits return as soon as they can.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// `CLIENT KILL TYPE pubsub` cuts every subscription on the server, so the test
/// that does it runs alone among the bus tests on Redis (each holds this shared).
static SUBSCRIPTIONS: RwLock<()> = RwLock::const_new(());

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    InProcess,
    Redis,
}

/// One test's world: on Redis, its own key prefix, cleaned up on drop.
pub struct Env {
    redis: Option<RedisEnv>,
}

pub struct RedisEnv {
    pub url: String,
    pub prefix: String,
    _shared: Option<RwLockReadGuard<'static, ()>>,
    _exclusive: Option<RwLockWriteGuard<'static, ()>>,
}

impl Env {
    /// `None` when the backend is Redis and it cannot be reached outside CI.
    pub async fn new(backend: Backend) -> Option<Env> {
        match backend {
            Backend::InProcess => Some(Env { redis: None }),
            Backend::Redis => {
                let shared = SUBSCRIPTIONS.read().await;
                RedisEnv::new(Some(shared), None)
                    .await
                    .map(|redis| Env { redis: Some(redis) })
            }
        }
    }

    pub fn redis(&self) -> Option<&RedisEnv> {
        self.redis.as_ref()
    }

    /// The test may cut every Redis subscription.
    pub async fn redis_exclusive() -> Option<RedisEnv> {
        RedisEnv::new(None, Some(SUBSCRIPTIONS.write().await)).await
    }

    /// `n` nodes of one bus; in process, they are one bus seen `n` times.
    pub async fn buses(&self, n: usize) -> Vec<Arc<dyn Bus>> {
        match &self.redis {
            None => {
                let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
                vec![bus; n]
            }
            Some(redis) => {
                let mut nodes: Vec<Arc<dyn Bus>> = Vec::new();
                for _ in 0..n {
                    nodes.push(Arc::new(redis.bus(RedisBusOptions::default()).await));
                }
                nodes
            }
        }
    }

    /// `n` nodes of one presence; in process, one presence seen `n` times.
    pub async fn presences(&self, n: usize) -> Vec<Arc<dyn Presence>> {
        match &self.redis {
            None => {
                let presence: Arc<dyn Presence> = Arc::new(InProcessPresence::new());
                vec![presence; n]
            }
            Some(redis) => {
                let mut nodes: Vec<Arc<dyn Presence>> = Vec::new();
                for _ in 0..n {
                    nodes.push(Arc::new(
                        redis.presence(RedisPresenceOptions::default()).await,
                    ));
                }
                nodes
            }
        }
    }
}

impl RedisEnv {
    async fn new(
        shared: Option<RwLockReadGuard<'static, ()>>,
        exclusive: Option<RwLockWriteGuard<'static, ()>>,
    ) -> Option<RedisEnv> {
        let url = std::env::var("NATTER_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        if let Err(error) = ping(&url).await {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true and no Redis at {url} (set NATTER_TEST_REDIS_URL): {error}");
            }
            eprintln!("skipping a Redis bus test: no Redis at {url}: {error}");
            return None;
        }
        Some(RedisEnv {
            url,
            prefix: format!("natter-test:{}:", NodeId::random()),
            _shared: shared,
            _exclusive: exclusive,
        })
    }

    pub async fn bus(&self, options: RedisBusOptions) -> RedisBus {
        RedisBus::connect_with(&self.url, &self.prefix, NodeId::random(), options)
            .await
            .expect("connects to redis")
    }

    pub async fn presence(&self, options: RedisPresenceOptions) -> RedisPresence {
        RedisPresence::connect_with(&self.url, &self.prefix, NodeId::random(), options)
            .await
            .expect("connects to redis")
    }

    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("a redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connects to redis")
    }
}

async fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let attempt = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<()>(&mut connection).await
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    }
}

impl Drop for RedisEnv {
    /// Synchronous, so that it also runs when the test panics.
    fn drop(&mut self) {
        let cleaned = (|| -> redis::RedisResult<()> {
            let mut connection = redis::Client::open(self.url.as_str())?.get_connection()?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query(&mut connection)?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(keys).query::<()>(&mut connection)?;
            }
            Ok(())
        })();
        if let Err(error) = cleaned {
            eprintln!("could not delete the test keys {}*: {error}", self.prefix);
        }
    }
}

/// A handler that remembers what it got.
#[derive(Default)]
pub struct Recorder {
    seen: Mutex<Vec<BusMessage>>,
    interruptions: AtomicUsize,
    changed: watch::Sender<u64>,
}

impl BusHandler for Recorder {
    fn handle(&self, message: &BusMessage) {
        self.seen.lock().expect("lock").push(message.clone());
        self.changed.send_modify(|n| *n += 1);
    }

    fn interrupted(&self) {
        self.interruptions.fetch_add(1, Ordering::SeqCst);
        self.changed.send_modify(|n| *n += 1);
    }
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    pub fn seen(&self) -> Vec<BusMessage> {
        self.seen.lock().expect("lock").clone()
    }

    /// The tags of the delivered frames, in arrival order.
    pub fn tags(&self) -> Vec<String> {
        self.seen().iter().filter_map(tag_of).collect()
    }

    pub fn interruptions(&self) -> usize {
        self.interruptions.load(Ordering::SeqCst)
    }

    /// Waits until `done` holds, failing the test after [`PATIENCE`].
    pub async fn wait_until(&self, what: &str, done: impl Fn(&Recorder) -> bool) {
        let mut changes = self.changed.subscribe();
        let waited = tokio::time::timeout(PATIENCE, changes.wait_for(|_| done(self))).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "timed out waiting for {what}; tags so far: {:?}",
            self.tags()
        );
    }

    pub async fn wait_for_tag(&self, tag: &str) {
        self.wait_until(&format!("tag {tag}"), |r| r.tags().iter().any(|t| t == tag))
            .await;
    }
}

/// A delivery to user 1 whose frame is `tag`, so tests can follow it.
pub fn tagged(tag: &str) -> BusMessage {
    BusMessage::Deliver {
        to: Audience::Users(Arc::from(vec![UserId(1)])),
        except: None,
        frame: Bytes::from(tag.to_owned()),
    }
}

pub fn tag_of(message: &BusMessage) -> Option<String> {
    match message {
        BusMessage::Deliver { frame, .. } => String::from_utf8(frame.to_vec()).ok(),
        BusMessage::Disconnect { .. } => None,
    }
}

/// Polls `probe` until it gives a value, failing the test after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs each listed contract test once per backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::support::Backend::InProcess).await;
                }
            )*
        }
        mod on_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::support::Backend::Redis).await;
                }
            )*
        }
    };
}
pub(crate) use contract;
