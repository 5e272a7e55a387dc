//! `natter chat` end to end in a real terminal (tmux, 80×24): log in, send,
//! see the reply; and one scenario per thing a user of the chat screen sees
//! (typing, pasting, wrapping, names, windows, status lines, going to a chat
//! by name, the outbox across a server restart, wide characters, dates).

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

impl Tmux {
    /// Runs `natter chat` as `user` (logged in into a fresh config dir) in a
    /// new 80×24 tmux session named after `name`, and waits for its screen.
    async fn chat(
        server: &TestServer,
        user: &natter_client::Session,
        name: &str,
    ) -> anyhow::Result<(Tmux, tempfile::TempDir)> {
        anyhow::ensure!(
            std::process::Command::new("tmux")
                .arg("-V")
                .output()
                .is_ok(),
            "tmux is not installed (apt-get install tmux)"
        );
        let dir = tempfile::tempdir()?;
        let out = login(dir.path(), &server.url(), &user.user().username).await?;
        anyhow::ensure!(out.status.success(), "{}", text(&out));
        let tmux = Tmux {
            session: format!("natter-{name}-{}", std::process::id()),
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
        tmux.wait_for(&user.user().username).await?;
        Ok((tmux, dir))
    }

    /// Waits until the pane no longer shows `text`.
    async fn wait_gone(&self, text: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen()?;
            if !screen.contains(text) {
                return Ok(screen);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{text:?} never went away; screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The next text message `connection` receives.
async fn next_text(connection: &natter_client::Connection) -> anyhow::Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let event = connection
            .next_event_timeout(deadline.saturating_duration_since(Instant::now()))
            .await
            .context("no message came")?;
        if let Some(ConnectionEvent::Event(Event::Message { message })) = event
            && let MessageContent::Text { text } = message.content
        {
            return Ok(text);
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
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let bob_live = bob.connect().await?;
    // scripts/test.sh installs tmux where it is missing; without it this
    // fails (in Tmux::chat) rather than pass without having run.
    let (tmux, _dir) = Tmux::chat(&server, &alice, "e2e").await?;

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

#[tokio::test]
async fn tmux_letters_are_typed_not_taken_as_commands() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    server.befriend(&alice, &bob).await?;
    let bob_live = bob.connect().await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "letters").await?;
    tmux.wait_for(&bob.user().username).await?;
    // No Enter first: the composer has the keys from the start. `q`, `f`,
    // `g` used to quit or open windows.
    tmux.keys(&["-l", "quick question: fine, go? 你好世界"])?;
    tmux.wait_for("go? 你好世界").await?;
    tmux.keys(&["Enter"])?;
    assert_eq!(
        next_text(&bob_live).await?,
        "quick question: fine, go? 你好世界"
    );
    // Commands are on Ctrl, or on letters after Esc.
    tmux.keys(&["C-f"])?;
    tmux.wait_for("Requests (a accept").await?;
    tmux.keys(&["Escape"])?;
    tmux.wait_gone("Requests (a accept").await?;
    Ok(())
}

#[tokio::test]
async fn tmux_a_paste_of_several_lines_is_one_message() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    server.befriend(&alice, &bob).await?;
    let bob_live = bob.connect().await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "paste").await?;
    tmux.wait_for(&bob.user().username).await?;
    let buffer = tmux.session.clone();
    let out = tmux.cmd(&[
        "set-buffer",
        "-b",
        &buffer,
        "first pasted line\nsecond pasted line\nthird pasted line",
    ])?;
    anyhow::ensure!(out.status.success(), "set-buffer failed");
    // -p: as a bracketed paste, when the application asked for it.
    let out = tmux.cmd(&[
        "paste-buffer",
        "-p",
        "-d",
        "-b",
        &buffer,
        "-t",
        &tmux.session,
    ])?;
    anyhow::ensure!(out.status.success(), "paste-buffer failed");
    let screen = tmux.wait_for("│third pasted line").await?;
    assert!(screen.contains("│first pasted line"), "{screen}");
    // Ctrl+J adds a line by hand.
    tmux.keys(&["C-j"])?;
    tmux.keys(&["-l", "typed after"])?;
    tmux.wait_for("│typed after").await?;
    tmux.keys(&["Enter"])?;
    assert_eq!(
        next_text(&bob_live).await?,
        "first pasted line\nsecond pasted line\nthird pasted line\ntyped after"
    );
    Ok(())
}

#[tokio::test]
async fn tmux_accepting_a_request_shows_the_new_chat() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    bob.send_friend_request(alice.user().id, Some("hello from bob"))
        .await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "accept").await?;
    tmux.wait_for("1 req").await?;
    tmux.keys(&["C-f"])?;
    tmux.wait_for("hello from bob").await?;
    tmux.keys(&["a"])?;
    tmux.wait_for("is now your friend").await?;
    tmux.keys(&["Escape"])?;
    // In the list (not only in the friends window) and open.
    let screen = tmux
        .wait_for(&format!("│○ {}", bob.user().username))
        .await?;
    assert!(
        screen.contains(&format!("{} · #", bob.user().username)),
        "{screen}"
    );
    Ok(())
}

#[tokio::test]
async fn tmux_long_input_wraps_instead_of_vanishing() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    server.befriend(&alice, &bob).await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "wrap").await?;
    tmux.wait_for(&bob.user().username).await?;
    let long: String = (0..10)
        .map(|i| format!("part{i} of a long line "))
        .collect();
    tmux.keys(&["-l", &long])?;
    tmux.keys(&["-l", "VISIBLE-END"])?;
    let screen = tmux.wait_for("VISIBLE-END").await?;
    assert!(screen.contains("│part0 of a long line"), "{screen}");
    Ok(())
}

#[tokio::test]
async fn tmux_group_members_who_are_not_friends_show_by_name() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let carol = server.user("carol").await?;
    server.befriend(&alice, &bob).await?;
    server.befriend(&bob, &carol).await?;
    let group = bob
        .create_group("Mixed", &[alice.user().id, carol.user().id])
        .await?;
    carol.send_text(group.id, "hi, I am carol").await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "members").await?;
    let screen = tmux
        .wait_for(&format!("{}: hi, I am carol", carol.user().username))
        .await?;
    assert!(
        !screen.contains(&format!("#{}: hi", carol.user().id)),
        "{screen}"
    );
    Ok(())
}

#[tokio::test]
async fn tmux_the_friends_window_scrolls_to_what_is_typed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    for i in 0..14 {
        let asker = server.user(&format!("asker{i}")).await?;
        asker.send_friend_request(alice.user().id, None).await?;
    }
    let (tmux, _dir) = Tmux::chat(&server, &alice, "friends").await?;
    tmux.wait_for("14 req").await?;
    tmux.keys(&["C-f"])?;
    tmux.wait_for("Requests (a accept").await?;
    tmux.keys(&["s"])?;
    tmux.keys(&["-l", "somebody"])?;
    tmux.wait_for("Send a request to: somebody_").await?;
    Ok(())
}

#[tokio::test]
async fn tmux_status_lines_clear_on_the_next_key() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    server.befriend(&alice, &bob).await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "status").await?;
    tmux.wait_for(&bob.user().username).await?;
    // Inviting needs a group: a direct chat gets a note.
    tmux.keys(&["Escape"])?;
    tmux.wait_for("List: ↑↓ choose").await?;
    tmux.keys(&["n"])?;
    tmux.wait_for("select a group").await?;
    tmux.keys(&["Enter"])?;
    tmux.wait_gone("select a group").await?;
    Ok(())
}

#[tokio::test]
async fn tmux_control_characters_in_messages_are_shown_inert() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "controls").await?;
    tmux.wait_for(&bob.user().username).await?;
    // Would clear the screen, retitle the window and ring the bell.
    bob.send_text(
        conversation,
        "\u{1b}[2J\u{1b}]0;pwned\u{7}nul\u{0}esc\u{1b}[31m red",
    )
    .await?;
    let screen = tmux.wait_for("␛[2J␛]0;pwned␇nul␀esc␛[31m red").await?;
    assert!(screen.contains(&alice.user().username), "{screen}");
    Ok(())
}

/// The tmux session's cursor column, as tmux itself counts cells.
fn cursor_x(tmux: &Tmux) -> anyhow::Result<usize> {
    let out = tmux.cmd(&["display-message", "-p", "-t", &tmux.session, "#{cursor_x}"])?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("cursor_x: {text:?}"))
}

/// The screen's row holding `text`.
fn row<'a>(screen: &'a str, text: &str) -> anyhow::Result<&'a str> {
    screen
        .lines()
        .find(|l| l.contains(text))
        .with_context(|| format!("no row holds {text:?}:\n{screen}"))
}

#[tokio::test]
async fn tmux_a_group_named_like_a_friend_is_reached_by_name() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let carol = server.user("carol").await?;
    let direct = server.befriend(&alice, &bob).await?;
    server.befriend(&alice, &carol).await?;
    let bob_name = bob.user().username.clone();
    // Alice's group with Carol bears Bob's name.
    let group = alice.create_group(&bob_name, &[carol.user().id]).await?.id;
    let carol_live = carol.connect().await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "goto").await?;
    tmux.wait_for(&format!("│# {bob_name}")).await?;

    // The bare name fits both: the window lists how to type each.
    tmux.keys(&["C-k"])?;
    tmux.wait_for("group:name, friend:name or #id").await?;
    tmux.keys(&["-l", &bob_name])?;
    tmux.keys(&["Enter"])?;
    let screen = tmux.wait_for("fits several").await?;
    assert!(
        screen.contains(&format!("friend:{bob_name} (#{direct})")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("group:{bob_name} (#{group})")),
        "{screen}"
    );

    // `group:` opens the group, where a message reaches Carol.
    tmux.keys(&["Escape"])?;
    tmux.wait_gone("fits several").await?;
    tmux.keys(&["C-k"])?;
    tmux.keys(&["-l", &format!("group:{bob_name}")])?;
    tmux.keys(&["Enter"])?;
    tmux.wait_for(&format!(" {bob_name} · #{group} · 2 members "))
        .await?;
    tmux.keys(&["-l", "to the group, not to bob"])?;
    tmux.keys(&["Enter"])?;
    assert_eq!(next_text(&carol_live).await?, "to the group, not to bob");

    // `friend:` opens the direct chat.
    tmux.keys(&["C-k"])?;
    tmux.keys(&["-l", &format!("friend:{bob_name}")])?;
    tmux.keys(&["Enter"])?;
    tmux.wait_for(&format!(" {bob_name} · #{direct} · "))
        .await?;
    Ok(())
}

#[tokio::test]
async fn tmux_a_message_sent_while_the_server_is_down_arrives_once() -> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let bob_live = bob.connect().await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "outbox").await?;
    tmux.wait_for(&format!(" {} · #", bob.user().username))
        .await?;

    server.stop().await?;
    tmux.wait_for("connection lost").await?;
    tmux.keys(&["-l", "typed while the server was down"])?;
    tmux.keys(&["Enter"])?;
    // Kept on screen, as pending, and counted in the status line.
    let screen = tmux.wait_for("(1 to send)").await?;
    assert!(
        screen.contains(": typed while the server was down"),
        "{screen}"
    );

    server.restart().await?;
    assert_eq!(
        next_text(&bob_live).await?,
        "typed while the server was down"
    );
    let screen = tmux.wait_gone("… sending").await?;
    assert!(
        screen.contains(": typed while the server was down") && !screen.contains("--:--"),
        "{screen}"
    );
    let copies = natter_testkit::all_messages(&bob, conversation)
        .await?
        .into_iter()
        .filter(|m| {
            m.content
                == (MessageContent::Text {
                    text: "typed while the server was down".into(),
                })
        })
        .count();
    assert_eq!(copies, 1);
    Ok(())
}

#[tokio::test]
async fn tmux_family_emoji_and_cjk_take_two_columns_each() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let bob_live = bob.connect().await?;
    let (tmux, _dir) = Tmux::chat(&server, &alice, "widths").await?;
    tmux.wait_for(&format!(" {} · #", bob.user().username))
        .await?;
    // Three members joined by ZWJ: one cluster of two columns, six if
    // measured by its parts. (A family of four is 25 bytes, and tmux 3.3
    // keeps at most 21 bytes of a cluster per cell: its own screen would
    // then differ from what the client wrote.)
    let family = "👨\u{200d}👩\u{200d}👧";

    // Received: the pane's right border stays in the last column.
    bob.send_text(conversation, &format!("{family} and 你好世界 end"))
        .await?;
    let screen = tmux.wait_for("and 你好世界 end").await?;
    let received = row(&screen, "and 你好世界 end")?;
    assert!(received.ends_with('│'), "{screen}");
    assert_eq!(natter_tui::format::width(received), 80, "{screen}");

    // Typed: the cursor follows two columns per cluster. The input starts at
    // column 21 (after the 20-column list and the box's border).
    tmux.keys(&["-l", &format!("{family}你好x")])?;
    let screen = tmux.wait_for("你好x").await?;
    let typed = row(&screen, "你好x")?;
    assert!(typed.ends_with('│'), "{screen}");
    assert_eq!(natter_tui::format::width(typed), 80, "{screen}");
    assert_eq!(cursor_x(&tmux)?, 21 + 2 + 2 + 2 + 1, "{screen}");
    tmux.keys(&["Enter"])?;
    // Bob's connection shows his own message first, then Alice's.
    assert_eq!(
        next_text(&bob_live).await?,
        format!("{family} and 你好世界 end")
    );
    assert_eq!(next_text(&bob_live).await?, format!("{family}你好x"));
    Ok(())
}

#[tokio::test]
async fn tmux_messages_from_before_today_show_their_date() -> anyhow::Result<()> {
    use natter_store::Store;
    use natter_store::txn::{MessageRow, transaction};

    let mut server = TestServer::start().await?;
    if server.on_postgresql() {
        // The message is aged in the SQLite file; the PostgreSQL store is
        // covered by the server's own suite.
        return Ok(());
    }
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    // A message stored three days ago: written through the store, with the
    // server stopped, as the server itself would have written it then. The
    // client's clock is the real one.
    server.stop().await?;
    let at = natter_client::protocol::Timestamp(now_millis()? - 3 * 24 * 3_600_000);
    let store = natter_store::sqlite::SqliteStore::open(
        &server.data_dir(),
        natter_store::sqlite::SqliteOptions::default(),
    )?;
    let sender = bob.user().id;
    let stored: natter_store::StoreResult<_> = transaction(&store, move |tx| {
        Box::pin(async move {
            tx.insert_message(MessageRow {
                conversation,
                sender,
                client_msg_id: None,
                content: MessageContent::Text {
                    text: "from three days ago".into(),
                },
                reply_to: None,
                now: at,
            })
            .await
        })
    })
    .await;
    stored?;
    store.shutdown();
    drop(store);
    server.restart().await?;

    let (tmux, _dir) = Tmux::chat(&server, &alice, "dates").await?;
    let stamp = natter_tui::format::stamp(at);
    // `Mar 3 14:05` (or with the year), never a bare `14:05`.
    assert!(stamp.len() > 5, "{stamp}");
    tmux.wait_for(&format!(
        "{stamp} {}: from three days ago",
        bob.user().username
    ))
    .await?;
    Ok(())
}

/// Now, in milliseconds since the epoch.
fn now_millis() -> anyhow::Result<i64> {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    Ok(i64::try_from(since.as_millis())?)
}
