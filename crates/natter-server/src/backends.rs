//! Which store and bus a node runs on, from the configuration: embedded
//! SQLite and the in-process bus by default; PostgreSQL and Redis for a
//! cluster of nodes.

use std::sync::Arc;
use std::time::Duration;

use natter_bus::{
    Bus, BusError, InProcessBus, InProcessPresence, NodeId, Presence, RedisBus, RedisPresence,
    RedisPresenceOptions,
};
use natter_store::postgres::PgOptions;
use natter_store::sqlite::SqliteOptions;
use natter_store::{Store, StoreError};

use crate::config::Config;

/// The backends of one node.
pub(crate) struct Backends {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub presence: Arc<dyn Presence>,
}

/// Why the backends could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Bus(#[from] BusError),
}

impl BackendError {
    /// Whether trying again may help: a database or a Redis that is not up
    /// yet (or is restarting) may be soon; an embedded store that cannot open
    /// its files will not.
    pub fn retryable(&self, config: &Config) -> bool {
        match self {
            BackendError::Store(_) => config.database.is_some(),
            BackendError::Bus(_) => true,
        }
    }
}

/// Opens the store and the bus the configuration names, once.
pub(crate) async fn open(config: &Config, node: NodeId) -> Result<Backends, BackendError> {
    let store = match &config.database {
        Some(url) => {
            let options = PgOptions {
                pool_size: config.cluster.database_pool_size.max(2),
                ..PgOptions::default()
            };
            natter_store::open_postgres(url, options).await?
        }
        None => natter_store::open_sqlite(&config.data, SqliteOptions::default())?,
    };
    let prefix = &config.cluster.key_prefix;
    let (bus, presence): (Arc<dyn Bus>, Arc<dyn Presence>) = match &config.bus {
        Some(url) => {
            let bus = RedisBus::connect(url, prefix, node).await;
            let presence = match bus {
                Ok(_) => {
                    let options = RedisPresenceOptions {
                        lease: config.cluster.presence_lease(),
                    };
                    RedisPresence::connect_with(url, prefix, node, options).await
                }
                Err(ref error) => Err(error.clone()),
            };
            match (bus, presence) {
                (Ok(bus), Ok(presence)) => (Arc::new(bus), Arc::new(presence)),
                (Err(error), _) | (_, Err(error)) => {
                    // The store opened: let it finish before giving up on this attempt.
                    let closing = store.clone();
                    let _ = tokio::task::spawn_blocking(move || closing.shutdown()).await;
                    return Err(error.into());
                }
            }
        }
        None => (
            Arc::new(InProcessBus::new()),
            Arc::new(InProcessPresence::new()),
        ),
    };
    if config.database.is_some() && config.bus.is_none() {
        tracing::warn!(
            "a shared database without `bus`: fine for one node, but nodes beside this one \
             will not see its live events (set `bus` to a Redis URL)"
        );
    }
    if config.database.is_none() && config.bus.is_some() {
        tracing::warn!("`bus` is set but the store is this node's own SQLite: nothing is shared");
    }
    Ok(Backends {
        store,
        bus,
        presence,
    })
}

/// How long to wait before the next attempt, after `attempts` failed ones.
pub(crate) fn retry_delay(attempts: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempts.min(4))).min(Duration::from_secs(5))
}
