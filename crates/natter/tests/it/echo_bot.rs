//! The SDK's example echo bot (crates/natter-client/examples/echo_bot.rs)
//! against a real server: stopped, it misses nothing; restarted, it answers
//! what came while it was down.

use anyhow::Context;
use natter_client::protocol::conversations::MessageContent;
use natter_client::protocol::ws::Event;
use natter_client::{Connection, ConnectionEvent};
use natter_testkit::TestServer;

use super::WAIT;

// The example itself, compiled into this test: its `main` is unused here.
#[allow(dead_code)]
#[path = "../../../natter-client/examples/echo_bot.rs"]
mod example;

/// Starts the bot in a task; returns once it listens.
async fn start(
    options: &example::BotOptions,
) -> anyhow::Result<tokio::task::JoinHandle<Result<(), String>>> {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let options = options.clone();
    let bot = tokio::spawn(async move {
        example::run(&options, move || {
            // The test waits on the other end; if it has gone, nobody cares.
            let _ = ready_tx.send(());
        })
        .await
        .map_err(|err| err.to_string())
    });
    tokio::time::timeout(WAIT, ready_rx)
        .await
        .context("the bot never listened")?
        .context("the bot stopped before listening")?;
    Ok(bot)
}

/// Waits for a message from `from` with this text.
async fn expect_text(
    connection: &Connection,
    from: natter_client::protocol::UserId,
    wanted: &str,
) -> anyhow::Result<()> {
    loop {
        let event = connection
            .next_event_timeout(WAIT)
            .await
            .with_context(|| format!("no {wanted:?}"))?
            .context("connection ended")?;
        if let ConnectionEvent::Event(Event::Message { message }) = event
            && message.sender_id == from
            && message.content
                == (MessageContent::Text {
                    text: wanted.into(),
                })
        {
            return Ok(());
        }
    }
}

#[tokio::test]
async fn the_echo_bot_answers_what_came_while_it_was_down() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bot_account = server.user("echo").await?;
    let conversation = server.befriend(&alice, &bot_account).await?;
    let dir = tempfile::tempdir()?;
    let options = example::BotOptions {
        server: server.url(),
        username: bot_account.user().username.clone(),
        password: natter_testkit::PASSWORD.into(),
        position_file: dir.path().join("echo.position.json"),
    };
    let bot_id = bot_account.user().id;
    let alice_events = alice.connect().await?;

    let bot = start(&options).await?;
    alice.send_text(conversation, "one").await?;
    expect_text(&alice_events, bot_id, "echo: one").await?;
    assert!(options.position_file.exists(), "the position was saved");

    // Stopped as a kill would: no chance to save anything more.
    bot.abort();
    let stopped = bot.await;
    assert!(stopped.is_err_and(|err| err.is_cancelled()));
    alice
        .send_text(conversation, "two, while you were away")
        .await?;

    let bot = start(&options).await?;
    expect_text(&alice_events, bot_id, "echo: two, while you were away").await?;
    // The same device as before the restart, not a new login: the test
    // account's own session plus the bot's.
    let devices = bot_account.devices().await?.devices;
    assert_eq!(devices.len(), 2, "{devices:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(example::token_file(&options))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the owner's only");
    }
    // And it goes on answering live.
    alice.send_text(conversation, "three").await?;
    expect_text(&alice_events, bot_id, "echo: three").await?;
    bot.abort();
    Ok(())
}
