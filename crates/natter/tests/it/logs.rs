//! No password, token or message text ever reaches the log, even at `trace`
//! (RELIABILITY.md A5): `natter serve` runs as a user would start it, and
//! everything it prints is searched afterwards.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use natter_client::Client;
use natter_protocol::accounts::{LoginRequest, RegisterRequest};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use super::{WAIT, natter};

#[tokio::test]
async fn passwords_tokens_and_messages_stay_out_of_the_log() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let mut server = natter()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("NATTER_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let log = Arc::new(Mutex::new(String::new()));
    let (address_tx, address_rx) = tokio::sync::oneshot::channel();
    let mut address_tx = Some(address_tx);
    let mut stdout = BufReader::new(server.stdout.take().context("stdout")?).lines();
    let mut stderr = BufReader::new(server.stderr.take().context("stderr")?).lines();
    let collected = log.clone();
    let reader = tokio::spawn(async move {
        loop {
            let line = tokio::select! {
                Ok(Some(line)) = stdout.next_line() => line,
                Ok(Some(line)) = stderr.next_line() => line,
                else => break,
            };
            if let Some(at) = line.find("address=")
                && line.contains("natter listening")
                && let Some(tx) = address_tx.take()
            {
                let address: String = line[at + 8..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                let _ = tx.send(address);
            }
            if let Ok(mut log) = collected.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    let address = tokio::time::timeout(WAIT, address_rx).await??;
    let url = format!("http://{address}");
    let client = Client::new(&url)?;

    let (password, new_password, wrong) =
        ("Pa55-first-secret", "Pa55-second-secret", "Wr0ng-secret");
    let username = "loguser";
    client
        .register(&RegisterRequest {
            username: username.into(),
            password: password.into(),
            display_name: None,
        })
        .await?;
    let login = |password: &str| LoginRequest {
        username: username.into(),
        password: password.into(),
        device: Some("log test".into()),
    };
    assert!(client.login(&login(wrong)).await.is_err());
    let session = client.login(&login(password)).await?;
    let first_token = session.token().to_owned();
    let friend = natter_testkit::register(&client, "logfriend").await?;
    let chat = natter_testkit::befriend(&session, &friend).await?;
    session.send_text(chat, "message-text-secret").await?;
    // Query strings (search terms) stay out of the request log too.
    let _ = session
        .search_users(&natter_protocol::contacts::SearchUsersQuery {
            q: "searchterm-secret".into(),
            limit: None,
            offset: None,
        })
        .await?;
    // The token over the WebSocket, and a forged one.
    for token in [first_token.as_str(), "forged-token-secret"] {
        let (mut socket, _) =
            tokio_tungstenite::connect_async(format!("ws://{address}/api/v1/ws")).await?;
        socket
            .send(Message::text(
                serde_json::json!({"type": "auth", "id": 1, "token": token}).to_string(),
            ))
            .await?;
        let _ = tokio::time::timeout(WAIT, socket.next()).await?;
    }
    let forged = reqwest::Client::new()
        .get(format!("{url}/api/v1/me"))
        .bearer_auth("forged-bearer-secret")
        .send()
        .await?;
    assert_eq!(forged.status(), 401);
    session.change_password(password, new_password).await?;
    let second = client.login(&login(new_password)).await?;
    let second_token = second.token().to_owned();
    second.logout().await?;

    let _ = server.start_kill();
    let _ = server.wait().await;
    let _ = tokio::time::timeout(WAIT, reader).await;
    let log = log.lock().map(|log| log.clone()).unwrap_or_default();
    assert!(
        log.contains("natter listening"),
        "the log was not captured: {log}"
    );
    assert!(log.lines().count() > 10, "expected a busy trace log: {log}");
    for secret in [
        password,
        new_password,
        wrong,
        first_token.as_str(),
        second_token.as_str(),
        "forged-token-secret",
        "forged-bearer-secret",
        "message-text-secret",
        "searchterm-secret",
    ] {
        assert!(!log.contains(secret), "the log shows {secret:?}:\n{log}");
    }
    Ok(())
}

/// At start the server says what it made of the open-file limit (it raises
/// the soft limit to the hard one), and warns when the data directory or the
/// database let other users of the machine read them.
#[tokio::test]
async fn the_start_logs_the_file_limit_and_warns_of_readable_data() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir()?;
    let data = parent.path().join("shared-data");
    std::fs::create_dir(&data)?;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(data.join("natter.db"), b"")?;
    std::fs::set_permissions(
        data.join("natter.db"),
        std::fs::Permissions::from_mode(0o644),
    )?;
    let mut server = natter()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut stdout = BufReader::new(server.stdout.take().context("stdout")?).lines();
    let mut stderr = BufReader::new(server.stderr.take().context("stderr")?).lines();
    let mut log = String::new();
    let started = tokio::time::timeout(WAIT, async {
        loop {
            let line = tokio::select! {
                Ok(Some(line)) = stdout.next_line() => line,
                Ok(Some(line)) = stderr.next_line() => line,
                else => return false,
            };
            log.push_str(&line);
            log.push('\n');
            if line.contains("natter listening") {
                return true;
            }
        }
    })
    .await;
    let _ = server.start_kill();
    let _ = server.wait().await;
    assert_eq!(started.ok(), Some(true), "the server did not start:\n{log}");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("other users of this machine can read"))
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("755")),
        "no warning about the directory:\n{log}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("natter.db") && w.contains("644")),
        "no warning about the database:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("open-file limit") && l.contains("soft_limit=")),
        "{log}"
    );
    Ok(())
}
