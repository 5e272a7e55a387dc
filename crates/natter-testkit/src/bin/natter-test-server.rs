//! A Natter server as its own process, for tests that kill it (SIGKILL,
//! SIGTERM). Usage: `natter-test-server DATA_DIR [ADDRESS]`. Prints
//! `LISTENING <address>` once it accepts connections; stops on SIGTERM or Ctrl-C.
//!
//! A node of a cluster takes its backends from the environment:
//! `NATTER_DATABASE` (a PostgreSQL URL), `NATTER_BUS` (a Redis URL),
//! `NATTER_KEY_PREFIX` and `NATTER_PRESENCE_LEASE_SECS`; a storm of many
//! sockets per account raises `NATTER_MAX_CONNECTIONS_PER_USER`.

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let data = args
        .next()
        .context("usage: natter-test-server DATA_DIR [ADDRESS]")?;
    let address = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let mut config = natter_server::Config {
        data: data.into(),
        ..Default::default()
    };
    config.listen = address.parse().context("address")?;
    // Crash tests hammer one server from one address.
    config.limits.enabled = false;
    config.database = std::env::var("NATTER_DATABASE").ok();
    config.bus = std::env::var("NATTER_BUS").ok();
    if let Ok(prefix) = std::env::var("NATTER_KEY_PREFIX") {
        config.cluster.key_prefix = prefix;
    }
    if let Some(secs) = std::env::var("NATTER_PRESENCE_LEASE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        config.cluster.presence_lease_secs = secs;
    }
    if let Some(cap) = std::env::var("NATTER_MAX_CONNECTIONS_PER_USER")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        config.gateway.max_connections_per_user = cap;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .context("bind")?;
        println!("LISTENING {}", listener.local_addr()?);
        natter_server::run(config, listener, stop_signal()).await?;
        anyhow::Ok(())
    })
}

async fn stop_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
