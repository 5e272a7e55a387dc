//! Reconnect storm (RELIABILITY.md L2): thousands of authenticated sockets
//! lose the server at once (a restart) and all come back at the same moment.
//! Every one must be served (authenticated and synced); none may be starved.

use natter_protocol::SyncCursor;
use natter_testkit::TestServer;
use natter_testkit::storm::{clients_that_fit, connect_and_sync, storm, until_closed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_clients_reconnecting_at_once_are_all_served() -> anyhow::Result<()> {
    const USERS: usize = 40;
    // Each socket is two descriptors here: client and server end.
    let clients = clients_that_fit(2_000, 2);
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
        until_closed(socket).await;
    }
    drop(sockets);

    // The storm: all at the same instant.
    let report = storm(
        (0..clients)
            .map(|i| (url.clone(), tokens[i % USERS].clone()))
            .collect(),
    )
    .await?;
    eprintln!("reconnect storm: {}", report.summary());
    Ok(())
}
