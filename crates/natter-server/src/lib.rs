//! The Natter server as a library: domains, HTTP API and WebSocket gateway.
//!
//! Module map (see docs/ARCHITECTURE.md):
//! - [`config`]: one `Config`, a sub-struct per domain;
//! - `app`: the composition root that builds every service;
//! - `accounts`, `contacts`, `conversations`, `sync`, `presence`: the domains,
//!   each with its service (rules) and its routes (thin handlers);
//! - `gateway`: WebSocket sessions, frame dispatch and the hub of live connections;
//! - `events`: publishing committed changes to the bus;
//! - `http`: the router, extractors, OpenAPI; `error`: the one error type on the wire.
//!
//! Invariants: this crate never names a database or a bus implementation's
//! crate; it reaches them through `natter_store` and `natter_bus` traits. A
//! WebSocket frame and its HTTP route call the same service method.

mod accounts;
mod app;
mod clock;
pub mod config;
mod contacts;
mod conversations;
mod error;
mod events;
mod gateway;
mod http;
mod limits;
mod paging;
mod presence;
mod sync;
mod text;

use std::future::Future;
use std::sync::Arc;

use natter_bus::{InProcessBus, InProcessPresence};
use natter_store::sqlite::SqliteOptions;

pub use config::Config;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the store: {0}")]
    Store(#[from] natter_store::StoreError),
    #[error("server I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] http::serve::TlsError),
    #[error("TLS needs both `http.tls_cert` and `http.tls_key`")]
    TlsHalfConfigured,
}

/// Picks live frames to lose; see [`Faults`].
pub type FrameFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Faults a test can inject into a running server. `natter serve` never sets
/// any: they are reachable only through [`run_with_faults`], not from the
/// network or the configuration.
#[derive(Clone, Default)]
pub struct Faults {
    /// Called with each live frame about to be queued for a connection;
    /// `true` loses it, as a lost bus message would.
    pub lose_live_frame: Option<FrameFilter>,
}

/// Serves on `listener` until `shutdown` completes, then closes every WebSocket
/// with 1001, lets in-flight requests finish, and commits queued writes.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    run_with_faults(config, listener, shutdown, Faults::default()).await
}

/// [`run`] with injected [`Faults`], for tests.
pub async fn run_with_faults(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    faults: Faults,
) -> Result<(), ServeError> {
    let tls = match (&config.http.tls_cert, &config.http.tls_key) {
        (Some(cert), Some(key)) => Some(http::serve::tls_acceptor(cert, key)?),
        (None, None) => None,
        _ => return Err(ServeError::TlsHalfConfigured),
    };
    let store = natter_store::open_sqlite(&config.data, SqliteOptions::default())?;
    let app = app::AppState::build(
        &config,
        store.clone(),
        Arc::new(InProcessBus::new()),
        Arc::new(InProcessPresence::new()),
    );
    app.accounts
        .rekey_names()
        .await
        .map_err(|error| ServeError::Store(natter_store::StoreError::Unavailable(error.message)))?;
    if let Some(filter) = faults.lose_live_frame {
        app.gateway.hub.inject_frame_loss(filter);
    }
    let router = http::router(app.clone(), tls.is_some());
    let connections = http::admission::connection_budget(config.http.max_connections);
    if config.gateway.max_connections > connections {
        tracing::warn!(
            websockets = config.gateway.max_connections,
            connections,
            "gateway.max_connections is above what this node can hold; WebSockets beyond it are refused"
        );
    }
    let per_address = if config.limits.enabled {
        config.http.max_connections_per_address
    } else {
        0
    };
    let options = http::serve::ServeOptions {
        header_timeout: config.http.header_timeout(),
        body_timeout: config.http.body_timeout(),
        limits: http::admission::ConnectionLimits::new(
            connections,
            per_address,
            config.limits.ipv6_prefix_len,
            config.limits.trusted_proxies.clone(),
        ),
    };
    let gateway_app = app.clone();
    let housekeeping = tokio::spawn(housekeeping(app.clone(), app.gateway.shutdown_signal()));
    tracing::info!(
        address = %listener.local_addr()?,
        data = %config.data.display(),
        tls = tls.is_some(),
        "natter listening"
    );
    http::serve::serve(listener, router, tls, options, shutdown, move || {
        gateway_app.gateway.begin_shutdown()
    })
    .await;
    // The housekeeping task ends on the shutdown signal the gateway just sent.
    let _ = housekeeping.await;
    drop(app);
    // The writer drains what is queued and commits it before we return.
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .ok();
    Ok(())
}

/// Periodic cleanup, until shutdown: rate-limit keys whose budget is full
/// again are forgotten every minute; every hour, expired sessions are ended
/// and old change-stream entries pruned.
async fn housekeeping(app: app::AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut minutes: u64 = 0;
    loop {
        tokio::select! {
            _ = every_minute.tick() => {
                app.limits.forget_idle();
                if minutes.is_multiple_of(60) {
                    match app.accounts.expire_idle_sessions().await {
                        Ok(0) => {}
                        Ok(count) => tracing::info!(count, "expired idle sessions"),
                        Err(error) => tracing::warn!(code = %error.code, "cannot expire idle sessions"),
                    }
                    match app.sync.prune_old_events().await {
                        Ok(0) => {}
                        Ok(count) => tracing::info!(count, "pruned old change-stream entries"),
                        Err(error) => tracing::warn!(code = %error.code, "cannot prune the change stream"),
                    }
                }
                minutes += 1;
            }
            _ = shutdown.changed() => return,
        }
    }
}
