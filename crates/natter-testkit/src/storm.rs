//! Reconnect storms (RELIABILITY.md L2): many clients that lost their server
//! come back at the same instant, each authenticating and syncing over a raw
//! WebSocket (no SDK backoff, no jitter: the worst case).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use natter_protocol::SyncCursor;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A raw client socket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Time one client may take to be served in a storm. Generous: a liveness
/// bound on a 2-core CI machine, not a speed target (BENCHMARKS.md has those).
pub const SERVED_WITHIN: Duration = Duration::from_secs(60);

/// How many clients fit in this process's open-file limit when each one
/// costs `descriptors` here (the client end, and the server's or a
/// balancer's ends when they live in this process), some kept spare.
pub fn clients_that_fit(wanted: usize, descriptors: usize) -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3)?.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    wanted.min(soft_limit.saturating_sub(256) / descriptors.max(1))
}

/// Connects, authenticates and syncs; returns the socket and how long it took.
pub async fn connect_and_sync(
    url: &str,
    token: &str,
    since: SyncCursor,
) -> anyhow::Result<(Socket, Duration)> {
    let started = Instant::now();
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    socket
        .send(Message::text(
            json!({"type": "auth", "id": 1, "token": token}).to_string(),
        ))
        .await?;
    socket
        .send(Message::text(
            json!({"type": "sync", "id": 2, "since": since}).to_string(),
        ))
        .await?;
    let mut authenticated = false;
    while let Some(frame) = socket.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text)?;
        match (frame["type"].as_str(), frame["id"].as_u64()) {
            (Some("auth_ok"), Some(1)) => authenticated = true,
            (Some("reply"), Some(2)) if authenticated => return Ok((socket, started.elapsed())),
            (Some("error"), _) => anyhow::bail!("refused: {frame}"),
            _ => {}
        }
    }
    anyhow::bail!("closed before being served")
}

/// Waits until `socket` has seen its close (or its reset), at most 5 s.
pub async fn until_closed(socket: &mut Socket) {
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_secs(5), socket.next()).await
    {
        if frame.is_close() {
            break;
        }
    }
}

/// What a storm came to: every client's time to be served, sorted.
#[derive(Debug)]
pub struct StormReport {
    pub times: Vec<Duration>,
}

impl StormReport {
    /// The `q` quantile (0 to 1) of the times.
    pub fn at(&self, q: f64) -> Duration {
        let last = self.times.len().saturating_sub(1);
        let index = ((self.times.len() as f64 * q) as usize).min(last);
        self.times.get(index).copied().unwrap_or_default()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} clients all served; connect+auth+sync p50 {:?}, p99 {:?}, max {:?}",
            self.times.len(),
            self.at(0.5),
            self.at(0.99),
            self.at(1.0)
        )
    }
}

/// Every `(url, token)` connects, authenticates and syncs at the same
/// instant. Fails naming the first refusals if any client is not served
/// within [`SERVED_WITHIN`].
pub async fn storm(clients: Vec<(String, String)>) -> anyhow::Result<StormReport> {
    let start = Arc::new(tokio::sync::Barrier::new(clients.len()));
    let mut tasks = Vec::new();
    for (url, token) in clients {
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            tokio::time::timeout(
                SERVED_WITHIN,
                connect_and_sync(&url, &token, SyncCursor::default()),
            )
            .await
        }));
    }
    let total = tasks.len();
    let mut times = Vec::new();
    let mut failures = Vec::new();
    for task in tasks {
        match task.await? {
            Ok(Ok((_socket, took))) => times.push(took),
            Ok(Err(error)) => failures.push(error.to_string()),
            Err(_) => failures.push(format!("not served within {SERVED_WITHIN:?}")),
        }
    }
    anyhow::ensure!(
        failures.is_empty(),
        "{} of {total} not served: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    times.sort();
    Ok(StormReport { times })
}
