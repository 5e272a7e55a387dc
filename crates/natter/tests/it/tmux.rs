//! `natter chat` end to end in a real terminal (tmux, 80×24): log in, send,
//! see the reply.

use std::time::{Duration, Instant};

use anyhow::Context;
use natter_client::ConnectionEvent;
use natter_client::protocol::conversations::MessageContent;
use natter_client::protocol::ws::Event;
use natter_testkit::TestServer;

use super::{WAIT, login, text};

struct Tmux {
    session: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> anyhow::Result<std::process::Output> {
        Ok(std::process::Command::new("tmux").args(args).output()?)
    }

    fn keys(&self, keys: &[&str]) -> anyhow::Result<()> {
        let mut args = vec!["send-keys", "-t", self.session.as_str()];
        args.extend_from_slice(keys);
        let out = self.cmd(&args)?;
        anyhow::ensure!(out.status.success(), "send-keys failed");
        Ok(())
    }

    fn screen(&self) -> anyhow::Result<String> {
        let out = self.cmd(&["capture-pane", "-p", "-t", &self.session])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Waits until the pane shows `text`. tmux offers no change
    /// notification, so this polls the pane.
    async fn wait_for(&self, text: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen()?;
            if screen.contains(text) {
                return Ok(screen);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{text:?} never appeared; screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-session", "-t", &self.session]);
    }
}

#[tokio::test]
async fn chat_in_tmux_sends_and_shows_the_reply() -> anyhow::Result<()> {
    // scripts/test.sh installs tmux where it is missing; without it this test fails
    // rather than pass without having run.
    anyhow::ensure!(
        std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok(),
        "tmux is not installed (apt-get install tmux)"
    );
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let dir = tempfile::tempdir()?;
    let out = login(dir.path(), &server.url(), &alice.user().username).await?;
    assert!(out.status.success(), "{}", text(&out));
    let bob_live = bob.connect().await?;

    let tmux = Tmux {
        session: format!("natter-e2e-{}", std::process::id()),
    };
    let command = format!(
        "{} chat --config-dir {}",
        env!("CARGO_BIN_EXE_natter"),
        dir.path().display()
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        &tmux.session,
        "-x",
        "80",
        "-y",
        "24",
        &command,
    ])?;
    anyhow::ensure!(
        out.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bob_name = bob.user().username.clone();
    tmux.wait_for(&bob_name).await?;
    tmux.keys(&["Enter"])?;
    tmux.keys(&["-l", "hi bob, from tmux"])?;
    tmux.keys(&["Enter"])?;

    // Bob gets it, and answers.
    let deadline = Instant::now() + WAIT;
    loop {
        let event = bob_live
            .next_event_timeout(deadline.saturating_duration_since(Instant::now()))
            .await
            .context("bob never got the message")?;
        if let Some(ConnectionEvent::Event(Event::Message { message })) = event
            && message.content
                == (MessageContent::Text {
                    text: "hi bob, from tmux".into(),
                })
        {
            break;
        }
    }
    bob_live
        .send_text(conversation, "hello alice, this is the reply")
        .await?;
    let screen = tmux.wait_for("this is the reply").await?;
    assert!(screen.contains("hi bob, from tmux"), "{screen}");
    tmux.keys(&["Escape"])?;
    tmux.keys(&["q"])?;
    Ok(())
}
