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
mod backends;
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

use futures_util::FutureExt;
use natter_bus::NodeId;

pub use backends::BackendError;
pub use config::Config;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the store: {0}")]
    Store(#[from] natter_store::StoreError),
    #[error("cannot open the backends: {0}")]
    Backends(#[from] BackendError),
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
    // Shared: the wait for the backends and the serving both end on it.
    let shutdown =
        (Box::pin(shutdown) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>).shared();
    let options = serve_options(&config);
    let node = NodeId::random();
    let address = listener.local_addr()?;
    let mut listener = Some(listener);
    let Some(backends) = open_backends(
        &config,
        node,
        &mut listener,
        &tls,
        &options,
        shutdown.clone(),
    )
    .await?
    else {
        return Ok(());
    };
    let store = backends.store.clone();
    let app = app::AppState::build(&config, &backends);
    app.accounts
        .rekey_names()
        .await
        .map_err(|error| ServeError::Store(natter_store::StoreError::Unavailable(error.message)))?;
    if let Some(filter) = faults.lose_live_frame {
        app.gateway.hub.inject_frame_loss(filter);
    }
    let router = http::router(app.clone(), tls.is_some());
    if config.gateway.max_connections > options.limits.total() {
        tracing::warn!(
            websockets = config.gateway.max_connections,
            connections = options.limits.total(),
            "gateway.max_connections is above what this node can hold; WebSockets beyond it are refused"
        );
    }
    let gateway_app = app.clone();
    // A third of the lease: a dead node's users read offline within 4/3 of it.
    let presence_sweep = config.cluster.presence_lease() / 3;
    let housekeeping = tokio::spawn(housekeeping(
        app.clone(),
        app.gateway.shutdown_signal(),
        presence_sweep,
    ));
    tracing::info!(
        %address,
        node = %node,
        store = backends_name(&config),
        tls = tls.is_some(),
        "natter listening"
    );
    http::serve::serve(&mut listener, router, tls, options, shutdown, move || {
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

fn serve_options(config: &Config) -> http::serve::ServeOptions {
    let connections = http::admission::connection_budget(config.http.max_connections);
    let per_address = if config.limits.enabled {
        config.http.max_connections_per_address
    } else {
        0
    };
    http::serve::ServeOptions {
        header_timeout: config.http.header_timeout(),
        body_timeout: config.http.body_timeout(),
        limits: http::admission::ConnectionLimits::new(
            connections,
            per_address,
            config.limits.ipv6_prefix_len,
            config.limits.trusted_proxies.clone(),
        ),
        keep_listening: false,
    }
}

/// What the log says the node runs on (never a URL: it may hold a password).
fn backends_name(config: &Config) -> String {
    let store = if config.database.is_some() {
        "postgresql".to_owned()
    } else {
        format!("sqlite in {}", config.data.display())
    };
    let bus = if config.bus.is_some() {
        "shared bus"
    } else {
        "in-process bus"
    };
    format!("{store}, {bus}")
}

/// Opens the backends. A shared database or bus that cannot be reached yet
/// is tried again until it answers (each failure logged with its cause),
/// while the listener answers `/healthz` with 503 and the cause, and every
/// other request with 503 `unavailable`. `None` when shutdown came first.
async fn open_backends(
    config: &Config,
    node: NodeId,
    listener: &mut Option<tokio::net::TcpListener>,
    tls: &Option<tokio_rustls::TlsAcceptor>,
    options: &http::serve::ServeOptions,
    shutdown: futures_util::future::Shared<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
) -> Result<Option<backends::Backends>, ServeError> {
    let mut attempts = 0;
    loop {
        let error = match backends::open(config, node).await {
            Ok(backends) => return Ok(Some(backends)),
            Err(error) if error.retryable(config) => error,
            Err(error) => return Err(error.into()),
        };
        attempts += 1;
        let delay = backends::retry_delay(attempts);
        tracing::error!(%error, retry_in_ms = delay.as_millis() as u64, "cannot open the backends; retrying");
        let waiting = http::starting_router(error.to_string());
        let retry = tokio::time::sleep(delay);
        let mut stopped = false;
        let stop = shutdown.clone();
        let until = async {
            tokio::select! {
                () = retry => {}
                () = stop => stopped = true,
            }
        };
        let options = http::serve::ServeOptions {
            keep_listening: true,
            ..options.clone()
        };
        http::serve::serve(listener, waiting, tls.clone(), options, until, || {}).await;
        if stopped {
            return Ok(None);
        }
    }
}

/// Periodic cleanup, until shutdown: the presence of dead nodes' users is
/// ended every `presence_sweep` (nothing to do on one node); rate-limit keys
/// whose budget is full again are forgotten every minute; every hour,
/// expired sessions are ended and old change-stream entries pruned.
async fn housekeeping(
    app: app::AppState,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    presence_sweep: std::time::Duration,
) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut sweeps = tokio::time::interval(presence_sweep);
    sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut minutes: u64 = 0;
    loop {
        tokio::select! {
            _ = sweeps.tick() => app.presence.sweep().await,
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
