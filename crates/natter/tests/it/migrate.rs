//! `natter admin migrate-to-postgres` as an operator runs it: an
//! installation made through the API by `natter serve --data`, stopped,
//! moved, and served again by `natter serve --database` on another data
//! directory, where every user, device, friend, conversation, message, role
//! and read position must be as it was.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;

use anyhow::Context;
use natter_client::{Client, Session, new_client_msg_id};
use natter_protocol::conversations::{
    ConversationSummary, Message, MessageContent, Role, SendMessageRequest, UpdateGroupRequest,
};
use natter_protocol::{ConversationId, Seq, SyncCursor};
use natter_store::postgres::ScratchDatabase;
use natter_testkit::{all_messages, befriend, login, register};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use super::{WAIT, natter, text};

/// `natter serve` in its own process, on a port of its choosing.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    /// Starts `natter serve` with `args` and waits until it listens.
    async fn start(args: &[&str], data: &Path) -> anyhow::Result<Serve> {
        let mut child = natter()
            .args(["serve", "--listen", "127.0.0.1:0", "--rate-limits", "false"])
            .args(args)
            .arg("--data")
            .arg(data)
            .env("NO_COLOR", "1")
            .env("NATTER_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdout = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let mut stderr = BufReader::new(child.stderr.take().context("stderr")?).lines();
        let (address_tx, address_rx) = tokio::sync::oneshot::channel();
        // Drains the log for the server's whole life, or it would block on a full pipe.
        tokio::spawn(async move {
            let mut address_tx = Some(address_tx);
            let mut log = String::new();
            loop {
                let line = tokio::select! {
                    Ok(Some(line)) = stdout.next_line() => line,
                    Ok(Some(line)) = stderr.next_line() => line,
                    else => break,
                };
                if address_tx.is_some() {
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(at) = line.find("address=")
                    && line.contains("natter listening")
                    && let Some(tx) = address_tx.take()
                {
                    let address: String = line[at + 8..]
                        .chars()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    // The test may have given up waiting; nothing to tell then.
                    let _ = tx.send(Ok(address));
                }
            }
            if let Some(tx) = address_tx {
                let _ = tx.send(Err(log));
            }
        });
        let address = match tokio::time::timeout(WAIT, address_rx).await?? {
            Ok(address) => address,
            Err(log) => anyhow::bail!("natter serve did not start:\n{log}"),
        };
        Ok(Serve {
            child,
            url: format!("http://{address}"),
        })
    }

    /// SIGTERM, as an operator stops it, and waits for it to exit.
    async fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().context("already exited")?;
        let status = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let exit = tokio::time::timeout(WAIT, self.child.wait()).await??;
        anyhow::ensure!(exit.success(), "natter serve exited with {exit}");
        Ok(())
    }
}

/// Runs `natter admin migrate-to-postgres`.
async fn migrate(data: &Path, url: &str) -> anyhow::Result<std::process::Output> {
    let output = natter()
        .args(["admin", "migrate-to-postgres", "--data"])
        .arg(data)
        .args(["--database", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    Ok(tokio::time::timeout(WAIT, output).await??)
}

/// What a user sees of an installation, to compare before and after.
#[derive(Debug, PartialEq)]
struct Seen {
    conversations: Vec<ConversationSummary>,
    messages: Vec<Vec<Message>>,
    members: Vec<Vec<(String, Role, Seq)>>,
    friends: BTreeSet<String>,
    pending_from: BTreeSet<String>,
    blocked: BTreeSet<String>,
    devices: BTreeSet<(i64, String)>,
}

async fn seen_by(session: &Session) -> anyhow::Result<Seen> {
    let conversations = session.conversations().await?.conversations;
    let mut messages = Vec::new();
    let mut members = Vec::new();
    for conversation in &conversations {
        messages.push(all_messages(session, conversation.id).await?);
        members.push(
            session
                .members(conversation.id)
                .await?
                .members
                .into_iter()
                .map(|m| (m.user.username, m.role, m.read_seq))
                .collect(),
        );
    }
    Ok(Seen {
        conversations,
        messages,
        members,
        friends: session
            .friends()
            .await?
            .friends
            .into_iter()
            .map(|f| f.user.username)
            .collect(),
        pending_from: session
            .friend_requests()
            .await?
            .incoming
            .into_iter()
            .map(|r| r.from.username)
            .collect(),
        blocked: session
            .blocks()
            .await?
            .users
            .into_iter()
            .map(|u| u.username)
            .collect(),
        devices: session
            .devices()
            .await?
            .devices
            .into_iter()
            .map(|d| (d.id.0, d.name))
            .collect(),
    })
}

#[tokio::test]
async fn a_sqlite_installation_moves_to_postgres_with_nothing_lost() -> anyhow::Result<()> {
    // Skips with a notice without PostgreSQL, except under CI=true.
    let Some(database) = ScratchDatabase::create_for_tests().await? else {
        return Ok(());
    };
    let data = tempfile::tempdir()?;

    // An installation, made as users make one.
    let server = Serve::start(&[], data.path()).await?;
    let client = Client::new(&server.url)?;
    let alice = register(&client, "alice").await?;
    let bob = register(&client, "bob").await?;
    let carol = register(&client, "carol").await?;
    let dave = register(&client, "dave").await?;
    let alice_laptop = login(&client, &alice.user().username, "laptop 💻").await?;
    let direct = befriend(&alice, &bob).await?;
    befriend(&alice, &carol).await?;
    dave.send_friend_request(alice.user().id, Some("我是 Dave"))
        .await?;
    bob.block(dave.user().id).await?;
    let first = alice.send_text(direct, "你好，Bob！👋").await?;
    bob.send_text(direct, "🎉🎉 emoji 😀 ünïcödé").await?;
    alice
        .send_message(
            direct,
            SendMessageRequest {
                client_msg_id: new_client_msg_id(),
                content: MessageContent::Text {
                    text: "a reply to the first".into(),
                },
                reply_to: Some(first.seq),
            },
        )
        .await?;
    let group = alice
        .create_group("小组 Team ☕", &[bob.user().id, carol.user().id])
        .await?
        .id;
    alice.set_role(group, bob.user().id, Role::Admin).await?;
    bob.update_group(
        group,
        &UpdateGroupRequest {
            name: None,
            announcement: Some("公告：周五聚餐 🍜".into()),
        },
    )
    .await?;
    for (who, text) in [
        (&alice, "大家好"),
        (&bob, "hi all"),
        (&carol, "こんにちは 🌸"),
    ] {
        who.send_text(group, text).await?;
    }
    let last_in_group = carol.send_text(group, "the last one").await?.seq;
    bob.mark_read(direct, first.seq).await?;
    carol.mark_read(group, Seq(last_in_group.0 - 1)).await?;
    // A device's cursor from the SQLite era.
    let old_cursor = alice_laptop.sync(SyncCursor(0)).await?.cursor;

    let mut before = Vec::new();
    for session in [&alice, &bob, &carol, &dave] {
        before.push(seen_by(session).await?);
    }
    server.stop().await?;

    // The move.
    let out = migrate(data.path(), database.url()).await?;
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("messages") && report.contains("users"),
        "{report}"
    );

    // The same installation, served from PostgreSQL (another data directory).
    let elsewhere = tempfile::tempdir()?;
    let server = Serve::start(&["--database", database.url()], elsewhere.path()).await?;
    let client = Client::new(&server.url)?;
    // Passwords log in; old device tokens still work.
    let alice_again = login(&client, &alice.user().username, "after the move").await?;
    let mut after = Vec::new();
    for session in [&alice, &bob, &carol, &dave] {
        let resumed = client.session_from_token(session.token()).await?;
        assert_eq!(resumed.user(), session.user());
        assert_eq!(resumed.device_id(), session.device_id());
        after.push(seen_by(&resumed).await?);
    }
    // Alice has one device more: the one that just logged in.
    let new_device = (alice_again.device_id().0, "after the move".to_owned());
    assert!(
        after[0].devices.remove(&new_device),
        "{:?}",
        after[0].devices
    );
    for (before, after) in before.iter().zip(&after) {
        assert_eq!(before, after);
    }
    let messages: usize = before[0].messages.iter().map(Vec::len).sum();
    assert!(messages >= 10, "too few messages to prove much: {messages}");

    // The SQLite-era cursor is answered with a full reload of the lists.
    let laptop = client.session_from_token(alice_laptop.token()).await?;
    let sync = laptop.sync(old_cursor).await?;
    assert!(sync.reset, "{sync:?}");
    let listed: BTreeSet<ConversationId> = sync.conversations.iter().map(|c| c.id).collect();
    let alices: BTreeSet<ConversationId> = before[0].conversations.iter().map(|c| c.id).collect();
    assert_eq!(listed, alices);
    assert!(listed.contains(&direct) && listed.contains(&group));
    // Then it goes on as usual.
    assert!(!laptop.sync(sync.cursor).await?.reset);

    // A new message takes the next seq.
    let direct_last = before[0]
        .conversations
        .iter()
        .find(|c| c.id == direct)
        .context("the direct conversation")?
        .last_seq;
    let next = alice_again.send_text(direct, "after the move").await?;
    assert_eq!(next.seq, Seq(direct_last.0 + 1));

    // A second move is refused: first while a node runs on the target...
    let out = migrate(data.path(), database.url()).await?;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        text(&out)
    );
    // ...and once it is stopped, because the target is not empty.
    server.stop().await?;
    let out = migrate(data.path(), database.url()).await?;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not empty") && stderr.contains("never merges"),
        "{}",
        text(&out)
    );
    Ok(())
}
