//! Reconnect storm (RELIABILITY.md L2): thousands of authenticated sockets
//! lose the server at once (a restart) and all come back at the same moment.
//! Every one must be served (authenticated and synced); none may be starved.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use natter_protocol::SyncCursor;
use natter_testkit::TestServer;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Time one client may take to be served in the storm. Generous: a liveness
/// bound on a 2-core CI machine, not a speed target (BENCHMARKS.md has those).
const SERVED_WITHIN: Duration = Duration::from_secs(60);

/// How many sockets fit in this process's open-file limit: each one is two
/// descriptors here (client and server end), and some are kept spare.
fn clients_that_fit(wanted: usize) -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3)?.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    wanted.min(soft_limit.saturating_sub(256) / 2)
}

/// Connects, authenticates and syncs; returns the socket and how long it took.
async fn connect_and_sync(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_clients_reconnecting_at_once_are_all_served() -> anyhow::Result<()> {
    const USERS: usize = 40;
    let clients = clients_that_fit(2_000);
    let mut server = TestServer::start_with(|config| {
        config.gateway.max_connections = 5_000;
        // 40 users stand for 2,000 (each login costs a password hash).
        config.gateway.max_connections_per_user = 5_000;
    })
    .await?;
    let mut tokens = Vec::new();
    for i in 0..USERS {
        let user = server.user(&format!("storm{i}")).await?;
        tokens.push(user.token().to_owned());
    }
    let url = server.ws_url();

    // Everyone online.
    let mut first = Vec::new();
    for i in 0..clients {
        let (url, token) = (url.clone(), tokens[i % USERS].clone());
        first.push(tokio::spawn(async move {
            connect_and_sync(&url, &token, SyncCursor::default()).await
        }));
    }
    let mut sockets = Vec::new();
    for task in first {
        sockets.push(task.await??.0);
    }

    // The server goes away under them and comes back.
    server.restart().await?;
    for socket in &mut sockets {
        // Each socket sees its close (or the reset) before the storm starts.
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_secs(5), socket.next()).await
        {
            if frame.is_close() {
                break;
            }
        }
    }
    drop(sockets);

    // The storm: all at the same instant.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(clients));
    let mut storm = Vec::new();
    for i in 0..clients {
        let (url, token, start) = (url.clone(), tokens[i % USERS].clone(), start.clone());
        storm.push(tokio::spawn(async move {
            start.wait().await;
            tokio::time::timeout(
                SERVED_WITHIN,
                connect_and_sync(&url, &token, SyncCursor::default()),
            )
            .await
        }));
    }
    let mut times = Vec::new();
    let mut failures = Vec::new();
    for task in storm {
        match task.await? {
            Ok(Ok((_socket, took))) => times.push(took),
            Ok(Err(error)) => failures.push(error.to_string()),
            Err(_) => failures.push(format!("not served within {SERVED_WITHIN:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {clients} not served: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    eprintln!(
        "reconnect storm: {clients} clients all served; connect+auth+sync p50 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}
