//! Test helpers: a real Natter server in-process on an ephemeral loopback port
//! with a temporary data directory, driven through the SDK as a user would.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let server = natter_testkit::TestServer::start().await?;
//! let alice = server.user("alice").await?;
//! let bob = server.user("bob").await?;
//! let conversation = server.befriend(&alice, &bob).await?;
//! alice.send_text(conversation, "hi").await?;
//! # Ok(()) }
//! ```
//!
//! With `NATTER_TEST_BACKEND=postgresql`, every [`TestServer`] runs on a
//! scratch PostgreSQL database of its own instead of SQLite, so that one
//! suite pins the behaviour of both stores (`scripts/test.sh` runs the
//! server's suite both ways).

mod balancer;
pub mod cluster;
mod process;
mod proxy;
mod redis;
pub mod storm;
pub mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use natter_client::{Client, Session};
use natter_protocol::ConversationId;
use natter_protocol::accounts::{LoginRequest, RegisterRequest};
use natter_protocol::contacts::FriendRequestOutcome;
use natter_server::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use balancer::Balancer;
pub use cluster::{ClusterOptions, TestCluster};
pub use process::{ProcessOptions, ProcessServer};
pub use proxy::FaultProxy;
pub use redis::ScratchRedis;

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// A running server. Dropping it stops the server (without waiting).
pub struct TestServer {
    addr: SocketAddr,
    data: Arc<tempfile::TempDir>,
    /// The store when the tests run on PostgreSQL; kept for restarts and
    /// dropped (with its database) after the server.
    database: Option<Arc<natter_store::postgres::ScratchDatabase>>,
    config: Config,
    faults: natter_server::Faults,
    running: Option<Running>,
}

struct Running {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), natter_server::ServeError>>,
}

impl TestServer {
    /// Starts a server with the default configuration.
    pub async fn start() -> anyhow::Result<TestServer> {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` has changed the configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> anyhow::Result<TestServer> {
        TestServer::start_with_faults(adjust, natter_server::Faults::default()).await
    }

    /// Starts a server with rate limits on (tests start with them off, to
    /// drive many users from one address), as `adjust` sets them.
    pub async fn start_limited(
        adjust: impl FnOnce(&mut natter_server::config::LimitsConfig),
    ) -> anyhow::Result<TestServer> {
        TestServer::start_with(|config| {
            config.limits.enabled = true;
            adjust(&mut config.limits);
        })
        .await
    }

    /// [`TestServer::start_with`], with injected faults (kept across restarts).
    pub async fn start_with_faults(
        adjust: impl FnOnce(&mut Config),
        faults: natter_server::Faults,
    ) -> anyhow::Result<TestServer> {
        let data = Arc::new(tempfile::tempdir().context("temp dir")?);
        let mut config = Config {
            data: data.path().to_path_buf(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Config::default()
        };
        // Tests register many users from one address and send in bursts; the
        // rate-limit tests turn the limits back on.
        config.limits.enabled = false;
        let database = match postgresql_requested()? {
            false => None,
            true => {
                let database = natter_store::postgres::ScratchDatabase::create_for_tests()
                    .await?
                    .context("NATTER_TEST_BACKEND=postgresql, but PostgreSQL is not reachable")?;
                config.database = Some(database.url().to_owned());
                Some(Arc::new(database))
            }
        };
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .context("bind")?;
        let addr = listener.local_addr()?;
        let mut server = TestServer {
            addr,
            data,
            database,
            config,
            faults,
            running: None,
        };
        server.launch(listener);
        Ok(server)
    }

    fn launch(&mut self, listener: tokio::net::TcpListener) {
        let (shutdown, signal) = oneshot::channel::<()>();
        let config = self.config.clone();
        let stop = async move {
            let _ = signal.await;
        };
        let task = tokio::spawn(natter_server::run_with_faults(
            config,
            listener,
            stop,
            self.faults.clone(),
        ));
        self.running = Some(Running { shutdown, task });
    }

    /// Stops the server gracefully: sockets get 1001, queued writes are committed.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(());
            running.task.await.context("server task")??;
        }
        Ok(())
    }

    /// Stops the server (if running) and starts it again on the same port and data.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .context("rebind")?;
        self.launch(listener);
        Ok(())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/ws", self.addr)
    }

    /// Whether this server's store is PostgreSQL (see the crate doc).
    pub fn on_postgresql(&self) -> bool {
        self.database.is_some()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.path().to_path_buf()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url()).expect("a valid loopback URL")
    }

    /// Registers a user with a unique name starting with `name` and logs in.
    pub async fn user(&self, name: &str) -> anyhow::Result<Session> {
        register(&self.client(), name).await
    }

    /// Logs in an existing user on a new device.
    pub async fn login(&self, username: &str, device: &str) -> anyhow::Result<Session> {
        login(&self.client(), username, device).await
    }

    /// Makes two users friends; returns their direct conversation.
    pub async fn befriend(&self, a: &Session, b: &Session) -> anyhow::Result<ConversationId> {
        befriend(a, b).await
    }
}

/// Whether `NATTER_TEST_BACKEND` asks for PostgreSQL (`postgresql`), not the
/// default SQLite (unset or `sqlite`): tests of what only SQLite has (its
/// files) skip on PostgreSQL.
pub fn postgresql_requested() -> anyhow::Result<bool> {
    match std::env::var("NATTER_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Ok(false),
        Ok("postgresql") | Ok("postgres") => Ok(true),
        Ok(other) => anyhow::bail!("NATTER_TEST_BACKEND={other}: use sqlite or postgresql"),
    }
}

/// Registers a user with a unique name starting with `name` and logs in.
pub async fn register(client: &Client, name: &str) -> anyhow::Result<Session> {
    let username = unique_name(name);
    client
        .register(&RegisterRequest {
            username: username.clone(),
            password: PASSWORD.into(),
            display_name: None,
        })
        .await
        .context("register")?;
    login(client, &username, "test device").await
}

/// Logs in an existing user on a new device.
pub async fn login(client: &Client, username: &str, device: &str) -> anyhow::Result<Session> {
    let request = LoginRequest {
        username: username.into(),
        password: PASSWORD.into(),
        device: Some(device.into()),
    };
    client.login(&request).await.context("login")
}

/// Makes two users friends; returns their direct conversation.
pub async fn befriend(a: &Session, b: &Session) -> anyhow::Result<ConversationId> {
    let outcome = a
        .send_friend_request(b.user().id, Some("hi"))
        .await
        .context("request")?;
    let FriendRequestOutcome::Pending { request } = outcome else {
        anyhow::bail!("expected a pending request");
    };
    let friend = b
        .accept_friend_request(request.id)
        .await
        .context("accept")?;
    Ok(friend.conversation_id)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(());
        }
    }
}

/// A username no other test in this process uses: `name` plus a counter.
pub fn unique_name(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let base: String = name.chars().take(20).collect();
    format!("{base}_{n}")
}

/// Every message of a conversation as `session` sees it, oldest first, fetched
/// page by page.
pub async fn all_messages(
    session: &Session,
    conversation: ConversationId,
) -> anyhow::Result<Vec<natter_protocol::conversations::Message>> {
    let mut out = Vec::new();
    let mut after = natter_protocol::Seq(0);
    loop {
        let query = natter_protocol::conversations::HistoryQuery {
            before: None,
            after: Some(after),
            limit: Some(100),
        };
        let page = session.history(conversation, query).await?;
        if let Some(last) = page.messages.last() {
            after = last.seq;
        }
        out.extend(page.messages);
        if !page.has_more {
            return Ok(out);
        }
    }
}
