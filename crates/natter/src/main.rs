//! The `natter` binary: `natter serve` runs the chat service; `natter chat`
//! is the terminal client; `login`, `send`, `history`, `tail`, `logout`,
//! `friends`, `groups` and `devices` are the scriptable client commands
//! (docs/CLI.md); `natter bench` is the load generator; `natter admin` holds
//! the operator's commands on an installation's data (`migrate-to-postgres`).
//!
//! Client commands exit with the codes of [`natter_tui::exit`]: 0 success,
//! 1 other failure, 2 usage, 3 not logged in / session revoked, 4 not found,
//! 5 no Natter server reachable at the URL, 6 refused by the server, 7 input
//! over a protocol limit.

mod admin;
mod bench;
mod client;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use natter_server::Config;

#[derive(Parser)]
#[command(
    name = "natter",
    version,
    about = "Natter: a self-hosted chat server in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: TopCommand,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat service (HTTP API, WebSocket, web client).
    Serve(Box<ServeArgs>),
    /// The full-screen terminal client (log in first with `natter login`).
    Chat(client::ChatArgs),
    /// Log in (or register with --register) and save the session token.
    Login(client::LoginArgs),
    /// Log this device out and forget the saved session.
    Logout(client::CommonArgs),
    /// Send a message to a friend (username) or a group (name or #id).
    Send(client::SendArgs),
    /// Print a conversation's history.
    History(client::HistoryArgs),
    /// Friends and friend requests: list (the default), add, accept, decline,
    /// cancel, remove, block, unblock.
    Friends(client::FriendsArgs),
    /// Groups: list (the default), create, invite, kick, leave, rename, members.
    Groups(client::GroupsArgs),
    /// The devices logged in to your account: list (the default), revoke.
    Devices(client::DevicesArgs),
    /// Print incoming messages as JSON lines until interrupted.
    Tail(client::TailArgs),
    /// Download the media of a message. Hidden until the server serves
    /// media: today it only explains that it cannot.
    #[command(hide = true)]
    Download(client::DownloadArgs),
    /// Load generator: drive a running server through the real protocol.
    Bench(bench::BenchArgs),
}

/// Every command: the ones above, and the operator's. `natter admin` stays
/// out of [`Command`], which the client commands' dispatch matches whole.
#[derive(Subcommand)]
enum TopCommand {
    #[command(flatten)]
    Run(Command),
    /// Operator commands on an installation's data (the server stopped).
    Admin(admin::AdminArgs),
}

/// Every setting can come from a flag, an environment variable or the config
/// file, in that order of precedence; anything unset keeps its default.
#[derive(Args)]
struct ServeArgs {
    /// TOML config file (see natter.example.toml). Optional.
    #[arg(long, env = "NATTER_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "NATTER_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory (SQLite database) [default: ./natter-data].
    #[arg(long, env = "NATTER_DATA")]
    data: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user@host:5432/db), the store shared by the
    /// nodes of a cluster [default: SQLite in --data].
    #[arg(long, env = "NATTER_DATABASE")]
    database: Option<String>,
    /// Redis URL (redis://host:6379), the bus and presence between nodes
    /// [default: in-process, one node].
    #[arg(long, env = "NATTER_BUS")]
    bus: Option<String>,
    /// Allow 1:1 messages between people who are not friends [default: false].
    #[arg(long, env = "NATTER_OPEN_DIRECT_MESSAGES")]
    open_direct_messages: Option<bool>,
    /// Allow new registrations [default: true].
    #[arg(long, env = "NATTER_REGISTRATION_OPEN")]
    registration_open: Option<bool>,
    /// Most members per group [default: 2000].
    #[arg(long, env = "NATTER_MAX_GROUP_MEMBERS")]
    max_group_members: Option<u32>,
    /// WebSocket connections accepted before refusing with 503 [default: 19000].
    #[arg(long, env = "NATTER_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// WebSocket connections one account may hold at once [default: 32].
    #[arg(long, env = "NATTER_MAX_CONNECTIONS_PER_USER")]
    max_connections_per_user: Option<usize>,
    /// Events queued per connection before a slow client is disconnected [default: 512].
    #[arg(long, env = "NATTER_OUTBOX_FRAMES")]
    outbox_frames: Option<usize>,
    /// Seconds without any frame before a WebSocket is closed [default: 60].
    #[arg(long, env = "NATTER_IDLE_TIMEOUT_SECS")]
    idle_timeout_secs: Option<u64>,
    /// Password hashes computed at once [default: 2].
    #[arg(long, env = "NATTER_MAX_CONCURRENT_HASHES")]
    max_concurrent_hashes: Option<usize>,
    /// Extra browser origins allowed to open WebSockets, comma-separated.
    #[arg(long, env = "NATTER_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Option<Vec<String>>,
    /// Enforce rate limits (logins, registrations, messages, friend requests,
    /// connections); turn off only for load tests [default: true].
    #[arg(long, env = "NATTER_RATE_LIMITS")]
    rate_limits: Option<bool>,
    /// Reverse proxies whose X-Forwarded-For is believed, comma-separated.
    #[arg(long, env = "NATTER_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<std::net::IpAddr>>,
    /// Serve HTTPS and WSS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "NATTER_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "NATTER_TLS_KEY")]
    tls_key: Option<PathBuf>,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Config::from_toml(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = self.listen {
            config.listen = v;
        }
        if let Some(v) = self.data {
            config.data = v;
        }
        if let Some(v) = self.database {
            config.database = Some(v);
        }
        if let Some(v) = self.bus {
            config.bus = Some(v);
        }
        if let Some(v) = self.open_direct_messages {
            config.contacts.open_direct_messages = v;
        }
        if let Some(v) = self.registration_open {
            config.accounts.registration_open = v;
        }
        if let Some(v) = self.max_group_members {
            config.groups.max_members = v;
        }
        if let Some(v) = self.max_connections {
            config.gateway.max_connections = v;
        }
        if let Some(v) = self.max_connections_per_user {
            config.gateway.max_connections_per_user = v;
        }
        if let Some(v) = self.outbox_frames {
            config.gateway.outbox_frames = v;
        }
        if let Some(v) = self.idle_timeout_secs {
            config.gateway.idle_timeout_secs = v;
        }
        if let Some(v) = self.max_concurrent_hashes {
            config.accounts.max_concurrent_hashes = v;
        }
        if let Some(v) = self.allowed_origins {
            config.gateway.allowed_origins = v;
        }
        if let Some(v) = self.rate_limits {
            config.limits.enabled = v;
        }
        if let Some(v) = self.trusted_proxies {
            config.limits.trusted_proxies = v;
        }
        if let Some(v) = self.tls_cert {
            config.http.tls_cert = Some(v);
        }
        if let Some(v) = self.tls_key {
            config.http.tls_key = Some(v);
        }
        Ok(config)
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = |default: &str| {
        let mut filter = tracing_subscriber::EnvFilter::try_from_env("NATTER_LOG")
            .unwrap_or_else(|_| default.into());
        // tungstenite logs every frame's payload (tokens, message text) at
        // debug and trace: it is capped whatever NATTER_LOG asks.
        for cap in ["tungstenite=info", "tokio_tungstenite=info"] {
            if let Ok(directive) = cap.parse() {
                filter = filter.add_directive(directive);
            }
        }
        filter
    };
    match cli.command {
        TopCommand::Run(Command::Serve(_)) => tracing_subscriber::fmt()
            .with_env_filter(filter("info"))
            .init(),
        // The client commands keep stdout for their output and log only
        // warnings, to stderr.
        _ => tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(filter("warn"))
            .init(),
    }
    match cli.command {
        TopCommand::Run(Command::Serve(args)) => serve((*args).into_config()?),
        TopCommand::Run(Command::Bench(args)) => bench::main(args),
        TopCommand::Run(other) => client::main(other),
        TopCommand::Admin(args) => admin::main(args),
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        natter_server::run(config, listener, shutdown_signal()).await?;
        Ok(())
    })
}

/// Ctrl-C or SIGTERM: stop accepting, close sockets with 1001, commit what is queued.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
