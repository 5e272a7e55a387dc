//! Keeping ordinary users served while someone hostile works on the server:
//! slow bodies, oversized bodies, connection floods, sockets that never
//! authenticate. Each attack is run from several 127.0.0.x source addresses,
//! as a few machines would.

use std::net::SocketAddr;
use std::time::Duration;

use natter_protocol::conversations::MessageContent;
use natter_protocol::ws::Event;
use natter_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::{WAIT, wait_for};

/// A TCP connection to `server` from the loopback address `127.0.0.<host>`.
pub async fn connect_from(host: u8, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, host], 0)))?;
    socket.connect(server).await
}

/// Whatever the server sends until it closes the connection, or `None` if it
/// is still open after `within`.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut raw = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut raw)).await {
        Ok(_) => Some(String::from_utf8_lossy(&raw).into_owned()),
        Err(_) => None,
    }
}

/// Sends complete headers announcing a 65,000-byte body, then one byte of it
/// every 300 ms, until the server answers or closes. Returns what it answered.
async fn dribble_body(mut stream: TcpStream) -> String {
    let head = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 65000\r\n\r\n{";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut raw = Vec::new();
    let mut buffer = [0u8; 1024];
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buffer[..n]),
            },
            _ = tick.tick() => {
                // The server may have stopped reading; its answer is what counts.
                let _ = stream.write_all(b" ").await;
            }
        }
    }
    String::from_utf8_lossy(&raw).into_owned()
}

#[tokio::test]
async fn slow_bodies_from_several_addresses_neither_stall_others_nor_stay() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| {
        config.limits.enabled = true;
        config.http.body_timeout_secs = 2;
        config.http.max_connections_per_address = 16;
    })
    .await?;
    let alice = server.user("slow_alice").await?;
    let bob = server.user("slow_bob").await?;
    let chat = server.befriend(&alice, &bob).await?;

    // 200 slow bodies from four addresses: each address gets 16 places, the
    // rest are turned away at once.
    let mut slow = Vec::new();
    let mut turned_away = 0;
    for attempt in 0..200u32 {
        let host = 2 + (attempt % 4) as u8;
        let stream = connect_from(host, server.addr()).await?;
        slow.push(tokio::spawn(dribble_body(stream)));
    }
    // While they are held, a normal user logs in on a new device, connects,
    // and receives what a friend sends.
    let device = server
        .login(&alice.user().username, "during the flood")
        .await?;
    let live = device.connect().await?;
    bob.send_text(chat, "still here").await?;
    let text = wait_for(&live, |event| match event {
        Event::Message { message } => match &message.content {
            MessageContent::Text { text } => Some(text.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(text, "still here");

    // Then every slow request is over: refused at once, or cut at its deadline
    // (a body that trickles in never earns more time).
    let mut timed_out = 0;
    for task in slow {
        let answer = tokio::time::timeout(WAIT, task).await??;
        if answer.starts_with("HTTP/1.1 429") {
            turned_away += 1;
            assert!(answer.contains("\"rate_limited\""), "{answer}");
        } else {
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
                "{answer}"
            );
            timed_out += 1;
        }
    }
    assert_eq!(timed_out, 64, "16 places for each of 4 addresses");
    assert_eq!(turned_away, 136);
    Ok(())
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_read() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut stream = TcpStream::connect(server.addr()).await?;
    stream
        .write_all(
            b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 10000000000\r\nExpect: 100-continue\r\n\r\n",
        )
        .await?;
    let answer = until_closed(&mut stream, WAIT)
        .await
        .ok_or_else(|| anyhow::anyhow!("the connection stayed open"))?;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");
    Ok(())
}

#[tokio::test]
async fn past_the_connection_total_new_connections_are_answered_at_once() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| config.http.max_connections = 6).await?;
    // Six connections that say nothing hold every place.
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(TcpStream::connect(server.addr()).await?);
    }
    let mut seventh = TcpStream::connect(server.addr()).await?;
    let answer = until_closed(&mut seventh, WAIT)
        .await
        .ok_or_else(|| anyhow::anyhow!("the seventh connection was left waiting"))?;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"server_busy\""), "{answer}");
    // Places come back as connections end.
    drop(held);
    let health = wait_until_served(&server).await;
    assert_eq!(health, 200);
    Ok(())
}

/// Retries `/healthz` until a place is free (closing connections free theirs
/// a moment after the client's close).
async fn wait_until_served(server: &TestServer) -> u16 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(response) = reqwest::get(format!("{}/healthz", server.url())).await {
            return response.status().as_u16();
        }
        assert!(tokio::time::Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens a WebSocket from `127.0.0.<host>` and sends nothing on it.
async fn silent_socket(
    host: u8,
    server: &TestServer,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, tokio_tungstenite::tungstenite::Error> {
    let tcp = connect_from(host, server.addr())
        .await
        .map_err(tokio_tungstenite::tungstenite::Error::Io)?;
    tokio_tungstenite::client_async(server.ws_url(), tcp)
        .await
        .map(|(socket, _)| socket)
}

#[tokio::test]
async fn sockets_that_never_authenticate_take_no_place_of_real_users() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| {
        config.limits.enabled = true;
        config.gateway.max_connections = 2;
        config.gateway.max_unauthenticated_per_address = 4;
    })
    .await?;
    let user = server.user("patient").await?;
    // Four addresses each keep as many sockets waiting as they may...
    let mut idle = Vec::new();
    for host in 2..6 {
        for _ in 0..4 {
            idle.push(silent_socket(host, &server).await?);
        }
    }
    // ... and no more: one address cannot fill the waiting room.
    let refused = silent_socket(2, &server).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("a fifth waiting socket from one address must be refused: {refused:?}");
    };
    assert_eq!(response.status(), 429);
    // The sixteen waiting sockets hold none of the two places for real users.
    let first = user.connect().await?;
    let second = user.connect().await?;
    // A third finds the node full.
    let third = tokio_tungstenite::connect_async(server.ws_url()).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = third else {
        panic!("a third authenticated socket must be refused");
    };
    assert_eq!(response.status(), 503);
    first.close().await;
    second.close().await;
    drop(idle);
    Ok(())
}

/// An HTTP client whose connections come from `127.0.0.<host>`.
fn http_from(host: u8) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, host]))
        .build()?)
}

/// POSTs `body` to `path` and returns the status and the error code, if any.
async fn post(
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    body: serde_json::Value,
) -> (u16, String) {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (status, body["code"].as_str().unwrap_or_default().to_owned())
        }
        Err(error) => (0, error.to_string()),
    }
}

#[tokio::test]
async fn a_flood_of_password_checks_is_refused_while_a_real_user_logs_in() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| config.limits.enabled = true).await?;
    let real = server.user("real_user").await?;
    let hammer = server.user("hammer").await?;
    let login_url = format!("{}/api/v1/auth/login", server.url());
    let password_url = format!("{}/api/v1/me/password", server.url());
    // 30 addresses each send 8 wrong logins at once (names that do not exist,
    // so no account budget is touched: each address is far under its own
    // budget of 60 a minute), and a signed-in account hammers the password
    // change with wrong current passwords.
    let mut flood = Vec::new();
    for host in 2..32u8 {
        let http = http_from(host)?;
        for attempt in 0..8 {
            let body = serde_json::json!({
                "username": format!("nobody_{host}_{attempt}"),
                "password": "not the password"
            });
            flood.push(tokio::spawn(post(
                http.clone(),
                login_url.clone(),
                None,
                body,
            )));
        }
    }
    let hammer_http = http_from(40)?;
    for _ in 0..8 {
        let body = serde_json::json!({
            "old_password": "a wrong guess",
            "new_password": "an entirely new passphrase"
        });
        flood.push(tokio::spawn(post(
            hammer_http.clone(),
            password_url.clone(),
            Some(hammer.token().to_owned()),
            body,
        )));
    }
    // Meanwhile the real user logs in.
    let started = std::time::Instant::now();
    let device = server.login(&real.user().username, "while flooded").await?;
    let flooded = started.elapsed();
    assert_eq!(device.me().await?.id, real.user().id);

    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    for task in flood {
        let (_, code) = tokio::time::timeout(WAIT, task).await??;
        *answers.entry(code).or_default() += 1;
    }
    let refused = answers.get("rate_limited").copied().unwrap_or(0);
    let checked = answers.get("invalid_credentials").copied().unwrap_or(0);
    assert_eq!(refused + checked, 248, "{answers:?}");
    // Each address and each account gets a few places in the queue; the rest
    // of a burst is refused at once rather than queued in front of others.
    // (With a plain queue every one of them waited its turn: none refused.)
    assert!(refused >= 48, "{answers:?}");
    let started = std::time::Instant::now();
    server.login(&real.user().username, "quiet").await?;
    eprintln!(
        "login while flooded {flooded:?}, quiet {:?}; flood answers {answers:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn wrong_current_passwords_use_up_the_login_budget_but_not_the_devices() -> anyhow::Result<()>
{
    let server = TestServer::start_with(|config| {
        config.limits.enabled = true;
        config.limits.logins_per_account_per_minute = 5;
    })
    .await?;
    // Two logins so far: the registration's and a second device's.
    let thief = server.user("owner").await?;
    let name = thief.user().username.clone();
    let owner_device = server.login(&name, "the owner's phone").await?;
    for _ in 0..3 {
        crate::assert_code(
            thief
                .change_password("guess one two", "new password 123456")
                .await,
            natter_protocol::ErrorCode::InvalidCredentials,
        );
    }
    // The budget of five is spent: the guesser is stopped...
    let stopped = thief
        .change_password(natter_testkit::PASSWORD, "new password 123456")
        .await;
    let Err(natter_client::ClientError::Api {
        code,
        retry_after_ms,
        ..
    }) = stopped
    else {
        panic!("the sixth check in a minute must be refused: {stopped:?}");
    };
    assert_eq!(code, natter_protocol::ErrorCode::RateLimited);
    // ... and so is a login, with the time to retry.
    let login = server.login(&name, "the owner's laptop").await;
    let error = login
        .err()
        .and_then(|e| e.downcast::<natter_client::ClientError>().ok());
    let Some(natter_client::ClientError::Api {
        code,
        retry_after_ms: login_retry,
        ..
    }) = error
    else {
        panic!("a login must be refused while the budget is spent");
    };
    assert_eq!(code, natter_protocol::ErrorCode::RateLimited);
    assert!(login_retry.is_some_and(|ms| ms > 0 && ms <= 60_000));
    assert!(retry_after_ms.is_some_and(|ms| ms > 0));
    // The owner's devices that are logged in keep working.
    assert_eq!(owner_device.me().await?.username, name);
    let live = owner_device.connect().await?;
    live.close().await;
    Ok(())
}

#[tokio::test]
async fn one_ipv6_64_is_one_client_address() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| {
        config.limits.enabled = true;
        config.limits.registrations_per_address_per_hour = 2;
        config.limits.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await?;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/register", server.url());
    let register = |from: &'static str, name: &'static str| {
        http.post(url.clone())
            .header("X-Forwarded-For", from)
            .json(&serde_json::json!({"username": name, "password": natter_testkit::PASSWORD}))
            .send()
    };
    assert_eq!(register("2001:db8:5:6::1", "six_one").await?.status(), 200);
    assert_eq!(
        register("2001:db8:5:6:aaaa::2", "six_two").await?.status(),
        200
    );
    // A third address of the same /64 shares their budget...
    assert_eq!(
        register("2001:db8:5:6:ffff:ffff:ffff:3", "six_three")
            .await?
            .status(),
        429
    );
    // ... while the next /64 over has its own.
    assert_eq!(register("2001:db8:5:7::1", "six_four").await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn the_data_directory_and_the_database_are_private_to_their_owner() -> anyhow::Result<()> {
    if natter_testkit::postgresql_requested()? {
        eprintln!("SQLite only: the files checked are SQLite's");
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir()?;
    let data = parent.path().join("new").join("natter-data");
    let server = TestServer::start_with(|config| config.data = data.clone()).await?;
    // A write makes SQLite create its WAL file too.
    server.user("private").await?;
    let mode = |path: &std::path::Path| -> anyhow::Result<u32> {
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
    };
    assert_eq!(mode(&data)?, 0o700);
    for file in ["natter.db", "natter.db-wal", "natter.db-shm"] {
        assert_eq!(mode(&data.join(file))?, 0o600, "{file}");
    }
    Ok(())
}
