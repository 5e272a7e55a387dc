//! Durability under crashes (RELIABILITY.md R1): the server process is killed
//! with SIGKILL at random moments while clients send, and restarted on the same
//! data. A Jepsen-style check then compares what was acknowledged with what is
//! stored: nothing acknowledged may be lost or duplicated, and every
//! conversation's seq must be gap-free and the same for every member.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natter_client::{Client, ConnectionEvent};
use natter_protocol::ClientMsgId;
use natter_protocol::conversations::{MessageContent, SendMessageRequest};
use natter_testkit::workload::{Ack, Verdict, send_all, verify};
use natter_testkit::{ProcessOptions, ProcessServer, all_messages, befriend, register};
use rand::Rng;
use tokio::sync::watch;

const SERVER: &str = env!("CARGO_BIN_EXE_natter-test-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_repeated_sigkill() -> anyhow::Result<()> {
    survive_sigkills(ProcessOptions::default(), "SQLite").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_repeated_sigkill_on_postgresql() -> anyhow::Result<()> {
    let Some(database) = natter_store::postgres::ScratchDatabase::create_for_tests().await? else {
        return Ok(());
    };
    let options = ProcessOptions {
        env: vec![("NATTER_DATABASE".into(), database.url().into())],
        ..ProcessOptions::default()
    };
    survive_sigkills(options, "PostgreSQL").await
}

/// Kills the server six times at random moments while three people send,
/// restarting it on the same store each time; then the R1 verdict.
async fn survive_sigkills(options: ProcessOptions, store: &str) -> anyhow::Result<()> {
    const CRASHES: usize = 6;
    const PER_SENDER: usize = 200;
    let dir = tempfile::tempdir()?;
    let mut server = ProcessServer::start_with(Path::new(SERVER), dir.path(), options)?;
    let client = Client::new(&server.url())?;
    let (a, b, c) = (
        register(&client, "a").await?,
        register(&client, "b").await?,
        register(&client, "c").await?,
    );
    let direct = befriend(&a, &b).await?;
    befriend(&a, &c).await?;
    let group = a
        .create_group("crash test", &[b.user().id, c.user().id])
        .await?
        .id;
    let setup_messages = a.conversation(group).await?.last_seq.0;

    let acks = Arc::new(Mutex::new(Vec::new()));
    let (progress, mut watch_progress) = watch::channel(0usize);
    let workload = [
        (a.clone(), "a", vec![group, direct]),
        (b.clone(), "b", vec![direct, group]),
        (c.clone(), "c", vec![group]),
    ];
    let mut senders = Vec::new();
    for (session, name, conversations) in workload {
        senders.push(tokio::spawn(send_all(
            session,
            name,
            conversations,
            PER_SENDER,
            acks.clone(),
            progress.clone(),
        )));
    }

    let total = 3 * PER_SENDER;
    let mut next_kill = 0;
    for _ in 0..CRASHES {
        next_kill += rand::rng().random_range(20..total / (CRASHES + 1));
        watch_progress.wait_for(|&n| n >= next_kill).await?;
        server.kill()?;
        server.restart()?;
    }
    let mut retries = 0;
    for task in senders {
        retries += task.await??;
    }

    // The check.
    let acked: Vec<Ack> = acks.lock().expect("lock").clone();
    assert_eq!(acked.len(), total);
    let conversations = [(direct, vec![&a, &b]), (group, vec![&a, &b, &c])];
    let (verdict, stored) = verify(&conversations, &acked, total).await?;
    let Verdict {
        lost,
        duplicated,
        unexpected,
    } = verdict;
    let group_text = stored[&group].len() as i64 - setup_messages;
    println!(
        "R1 ({store}): acknowledged messages lost: {lost} of {total} over {CRASHES} SIGKILLs; duplicated: {duplicated}; \
         unexpected: {unexpected}; client retries: {retries}; group messages: {group_text}"
    );
    assert_eq!((lost, duplicated, unexpected), (0, 0, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_and_keeps_every_acknowledged_message()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut server = ProcessServer::start(Path::new(SERVER), dir.path())?;
    let client = Client::new(&server.url())?;
    let (a, b) = (register(&client, "a").await?, register(&client, "b").await?);
    let direct = befriend(&a, &b).await?;
    let b_live = b.connect().await?;

    let acks = Arc::new(Mutex::new(Vec::new()));
    let (progress, mut watch_progress) = watch::channel(0usize);
    let mut senders = Vec::new();
    for k in 0..4 {
        let session = a.clone();
        let acks = acks.clone();
        let progress = progress.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..100 {
                let request = SendMessageRequest {
                    client_msg_id: ClientMsgId(format!("t{k}-{i}")),
                    content: MessageContent::Text {
                        text: "in flight".into(),
                    },
                    reply_to: None,
                };
                // Once the server stops, sends fail: that is expected; what was
                // acknowledged before must survive.
                let Ok(message) = session.send_message(direct, &request).await else {
                    return;
                };
                acks.lock().expect("lock").push(message.seq);
                progress.send_modify(|n| *n += 1);
            }
        }));
    }
    watch_progress.wait_for(|&n| n >= 40).await?;
    let status = server.terminate()?;
    assert!(status.success(), "a graceful stop exits 0, got {status}");
    let code = loop {
        match b_live.next_event_timeout(Duration::from_secs(20)).await? {
            Some(ConnectionEvent::Disconnected { code }) => break code,
            Some(_) => {}
            None => anyhow::bail!("connection ended without a disconnect"),
        }
    };
    assert_eq!(code, Some(1001));
    for task in senders {
        task.await?;
    }
    b_live.close().await;

    server.restart()?;
    let stored: HashSet<i64> = all_messages(&a, direct)
        .await?
        .iter()
        .map(|m| m.seq.0)
        .collect();
    let acked = acks.lock().expect("lock").clone();
    assert!(acked.len() >= 40);
    let lost: Vec<_> = acked.iter().filter(|s| !stored.contains(&s.0)).collect();
    assert!(lost.is_empty(), "lost after SIGTERM: {lost:?}");
    Ok(())
}
