//! The chat loop against a real in-process server, keys scripted, the screen
//! read from a `TestBackend` after every frame.

use std::time::Duration;

use anyhow::Context;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use natter_client::ConnectionEvent;
use natter_client::protocol::ws::Event;
use natter_testkit::TestServer;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, watch};

use super::screen;

const WAIT: Duration = Duration::from_secs(20);

struct Screen {
    keys: mpsc::UnboundedSender<std::io::Result<TermEvent>>,
    frames: watch::Receiver<String>,
    task: tokio::task::JoinHandle<Result<(), natter_tui::CommandError>>,
}

impl Screen {
    fn start(session: natter_client::Session) -> Screen {
        Screen::start_with(session, natter_client::ConnectOptions::default())
    }

    fn start_with(
        session: natter_client::Session,
        options: natter_client::ConnectOptions,
    ) -> Screen {
        Screen::start_in(session, options, None)
    }

    /// With the outbox kept in `dir`, as `natter chat` keeps it.
    fn start_in(
        session: natter_client::Session,
        options: natter_client::ConnectOptions,
        dir: Option<std::path::PathBuf>,
    ) -> Screen {
        let (keys, rx) = mpsc::unbounded_channel();
        let stream = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|key| (key, rx))
        }));
        let (frame_tx, frames) = watch::channel(String::new());
        let task = tokio::spawn(async move {
            // A `TestBackend` cannot fail (its error type is `Infallible`).
            let Ok(mut terminal) = Terminal::new(TestBackend::new(80, 24));
            natter_tui::chat::run_in(
                &mut terminal,
                stream,
                session,
                options,
                dir.as_deref(),
                |buffer| {
                    frame_tx.send_replace(screen(buffer));
                },
            )
            .await
        });
        Screen { keys, frames, task }
    }

    fn key(&self, code: KeyCode) -> anyhow::Result<()> {
        self.send(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn ctrl(&self, c: char) -> anyhow::Result<()> {
        self.send(TermEvent::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )))
    }

    fn send(&self, event: TermEvent) -> anyhow::Result<()> {
        self.keys
            .send(Ok(event))
            .map_err(|_| anyhow::anyhow!("the chat loop stopped"))
    }

    fn type_text(&self, text: &str) -> anyhow::Result<()> {
        for c in text.chars() {
            self.key(KeyCode::Char(c))?;
        }
        Ok(())
    }

    /// Waits until the screen shows none of `texts`.
    async fn wait_gone(&mut self, texts: &[&str]) -> anyhow::Result<String> {
        self.wait_until(
            |s| !texts.iter().any(|text| s.contains(text)),
            || format!("{texts:?} never went away"),
        )
        .await
    }

    async fn wait_for(&mut self, text: &str) -> anyhow::Result<String> {
        self.wait_until(|s| s.contains(text), || format!("{text:?} never appeared"))
            .await
    }

    /// The first screen that satisfies `done`, or an error with the last one.
    async fn wait_until(
        &mut self,
        done: impl Fn(&str) -> bool,
        failure: impl Fn() -> String,
    ) -> anyhow::Result<String> {
        let mut frames = self.frames.clone();
        let waited = tokio::time::timeout(WAIT, async move {
            frames.wait_for(|s| done(s)).await.map(|s| s.clone())
        })
        .await;
        match waited {
            Ok(found) => found.context("the chat loop stopped"),
            Err(_) => anyhow::bail!(
                "{}; last screen:\n{}",
                failure(),
                self.frames.borrow().as_str()
            ),
        }
    }
}

async fn next_text(connection: &natter_client::Connection) -> anyhow::Result<String> {
    loop {
        match connection.next_event_timeout(WAIT).await? {
            Some(ConnectionEvent::Event(Event::Message { message })) => {
                if let natter_client::protocol::conversations::MessageContent::Text { text } =
                    message.content
                {
                    return Ok(text);
                }
            }
            Some(_) => continue,
            None => anyhow::bail!("connection ended"),
        }
    }
}

#[tokio::test]
async fn chat_sends_receives_and_survives_a_server_restart() -> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    bob.send_text(conversation, "hi from bob").await?;
    let bob_name = bob.user().username.clone();

    let mut screen = Screen::start(alice.clone());
    let shown = screen.wait_for("hi from bob").await?;
    assert!(shown.contains(&bob_name), "{shown}");

    // Type and send; bob receives it.
    let bob_live = bob.connect().await?;
    screen.key(KeyCode::Enter)?;
    screen.type_text("hello bob")?;
    screen.key(KeyCode::Enter)?;
    assert_eq!(next_text(&bob_live).await?, "hello bob");
    screen.wait_for("alice").await?;

    // Bob's reply shows up live.
    bob_live.send_text(conversation, "the reply").await?;
    screen.wait_for("the reply").await?;

    // The server restarts; the client reconnects and fills the gap.
    server.restart().await?;
    screen.wait_for("reconnect").await?;
    bob.send_text(conversation, "after the restart").await?;
    screen.wait_for("after the restart").await?;

    screen.key(KeyCode::Esc)?;
    screen.key(KeyCode::Char('q'))?;
    tokio::time::timeout(WAIT, screen.task).await???;
    Ok(())
}

#[tokio::test]
async fn friend_requests_and_groups_from_the_chat_screen() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let carol = server.user("carol").await?;
    server.befriend(&alice, &carol).await?;
    bob.send_friend_request(alice.user().id, Some("bob here"))
        .await?;

    let mut screen = Screen::start(alice.clone());
    screen.wait_for(&carol.user().username).await?;
    screen.ctrl('f')?;
    screen.wait_for("bob here").await?;
    screen.key(KeyCode::Char('a'))?;
    screen.wait_for("is now your friend").await?;
    let friends = alice.friends().await?;
    assert!(friends.friends.iter().any(|f| f.user.id == bob.user().id));
    // The client reloads its friends on its own time: wait until it lists
    // bob (offline, he never connected) before naming him in a group.
    screen
        .wait_for(&format!("○ {}", bob.user().username))
        .await?;
    screen.key(KeyCode::Esc)?;

    screen.ctrl('g')?;
    screen.type_text(&format!("Hikers: {}", bob.user().username))?;
    screen.key(KeyCode::Enter)?;
    screen.wait_for("# Hikers").await?;
    screen.ctrl('t')?;
    screen.type_text(&carol.user().username)?;
    screen.key(KeyCode::Enter)?;
    screen.wait_for("3 members").await?;
    let groups = carol.conversations().await?;
    assert!(groups.conversations.iter().any(|c| c.name == "Hikers"));

    screen.ctrl('c')?;
    tokio::time::timeout(WAIT, screen.task).await???;
    Ok(())
}

#[tokio::test]
async fn a_send_while_the_server_is_down_waits_in_the_outbox_and_is_stored_once()
-> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let bob_name = bob.user().username.clone();
    // The server stays down longer than a send may take.
    let options = natter_client::ConnectOptions {
        send_timeout: Duration::from_secs(1),
        backoff_cap: Duration::from_millis(500),
        ..natter_client::ConnectOptions::default()
    };
    let mut screen = Screen::start_with(alice.clone(), options);
    screen.wait_for(&format!("{bob_name} · #")).await?;

    server.stop().await?;
    screen.wait_for("connection lost").await?;
    screen.type_text("written while the server was down")?;
    screen.key(KeyCode::Enter)?;
    let shown = screen.wait_for("not sent yet").await?;
    assert!(
        shown.contains("written while the server was down"),
        "{shown}"
    );

    server.restart().await?;
    let shown = screen.wait_gone(&["not sent yet", "… sending"]).await?;
    assert!(
        shown.contains("written while the server was down"),
        "{shown}"
    );
    assert_eq!(
        copies(&bob, conversation, "written while the server was down").await?,
        1
    );

    screen.ctrl('c')?;
    tokio::time::timeout(WAIT, screen.task).await???;
    Ok(())
}

#[tokio::test]
async fn accepting_a_request_lists_and_opens_the_new_chat() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    bob.send_friend_request(alice.user().id, Some("bob here"))
        .await?;
    let mut screen = Screen::start(alice.clone());
    screen.wait_for("No conversations").await?;
    screen.ctrl('f')?;
    screen.wait_for("bob here").await?;
    screen.key(KeyCode::Char('a'))?;
    screen.wait_for("is now your friend").await?;
    screen.key(KeyCode::Esc)?;
    // Listed and open, without a restart.
    let shown = screen
        .wait_for(&format!("│○ {}", bob.user().username))
        .await?;
    assert!(
        shown.contains(&format!("{} · #", bob.user().username)),
        "{shown}"
    );
    screen.ctrl('c')?;
    tokio::time::timeout(WAIT, screen.task).await???;
    Ok(())
}

/// How many copies of `text` the conversation holds, as `reader` sees it.
async fn copies(
    reader: &natter_client::Session,
    conversation: natter_client::protocol::ConversationId,
    text: &str,
) -> anyhow::Result<usize> {
    let page = reader
        .history(
            conversation,
            &natter_client::protocol::conversations::HistoryQuery {
                before: None,
                after: None,
                limit: Some(50),
            },
        )
        .await?;
    Ok(page
        .messages
        .iter()
        .filter(|m| {
            m.content
                == natter_client::protocol::conversations::MessageContent::Text {
                    text: text.into(),
                }
        })
        .count())
}

#[tokio::test]
async fn an_unsent_message_survives_quitting_and_the_next_run_sends_it_once() -> anyhow::Result<()>
{
    let mut server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let bob_name = bob.user().username.clone();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join(natter_tui::outbox::OUTBOX_FILE);
    let options = natter_client::ConnectOptions {
        send_timeout: Duration::from_secs(1),
        backoff_cap: Duration::from_millis(500),
        ..natter_client::ConnectOptions::default()
    };
    let mut screen = Screen::start_in(alice.clone(), options, Some(dir.path().into()));
    screen.wait_for(&format!("{bob_name} · #")).await?;

    server.stop().await?;
    screen.wait_for("connection lost").await?;
    screen.type_text("kept across a restart")?;
    screen.key(KeyCode::Enter)?;
    screen.wait_for("not sent yet").await?;
    // On disk before the user quits.
    let saved = std::fs::read_to_string(&file)?;
    assert!(saved.contains("kept across a restart"), "{saved}");
    screen.ctrl('c')?;
    tokio::time::timeout(WAIT, screen.task).await???;
    assert!(file.exists());

    server.restart().await?;
    // Another account in the same directory neither sends nor shows it.
    let carol = server.user("carol").await?;
    let mut other = Screen::start_in(carol, Default::default(), Some(dir.path().into()));
    other.wait_for("No conversations yet").await?;
    other.ctrl('c')?;
    tokio::time::timeout(WAIT, other.task).await???;
    assert!(file.exists());

    let mut again = Screen::start_in(alice.clone(), Default::default(), Some(dir.path().into()));
    let shown = again
        .wait_until(
            // In the timeline with its time, no longer pending (`--:--`).
            |s| s.contains(": kept across a restart") && !s.contains("--:--"),
            || "the saved message was never sent".into(),
        )
        .await?;
    assert!(!shown.contains("not sent yet"), "{shown}");
    assert_eq!(
        copies(&bob, conversation, "kept across a restart").await?,
        1
    );
    // Confirmed: the file is gone, and a third run sends nothing.
    again
        .wait_until(|_| !file.exists(), || "the outbox file stayed".into())
        .await?;
    again.ctrl('c')?;
    tokio::time::timeout(WAIT, again.task).await???;
    assert_eq!(
        copies(&bob, conversation, "kept across a restart").await?,
        1
    );
    Ok(())
}
