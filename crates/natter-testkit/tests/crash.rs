//! Durability under crashes (RELIABILITY.md R1): the server process is killed
//! with SIGKILL at random moments while clients send, and restarted on the same
//! data. A Jepsen-style check then compares what was acknowledged with what is
//! stored: nothing acknowledged may be lost or duplicated, and every
//! conversation's seq must be gap-free and the same for every member.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natter_client::{Client, ClientError, ConnectionEvent, Session};
use natter_protocol::conversations::{MessageContent, SendMessageRequest};
use natter_protocol::{ClientMsgId, ConversationId, Seq};
use natter_testkit::{ProcessServer, all_messages, befriend, register};
use rand::Rng;
use tokio::sync::watch;

const SERVER: &str = env!("CARGO_BIN_EXE_natter-test-server");

/// One acknowledged send.
#[derive(Debug, Clone)]
struct Ack {
    conversation: ConversationId,
    seq: Seq,
    client_msg_id: String,
}

/// Sends `count` messages, each retried with the same client message id until
/// acknowledged (the server may be down for a moment).
async fn sender(
    session: Session,
    name: &'static str,
    conversations: Vec<ConversationId>,
    count: usize,
    acks: Arc<Mutex<Vec<Ack>>>,
    progress: watch::Sender<usize>,
) -> anyhow::Result<usize> {
    let mut retries = 0;
    for i in 0..count {
        let conversation = conversations[i % conversations.len()];
        let client_msg_id = format!("{name}-{i}");
        let request = SendMessageRequest {
            client_msg_id: ClientMsgId(client_msg_id.clone()),
            content: MessageContent::Text {
                text: format!("{name} says {i}"),
            },
            reply_to: None,
        };
        let stored = loop {
            match session.send_message(conversation, &request).await {
                Ok(message) => break message,
                Err(error) if retryable(&error) => {
                    retries += 1;
                    anyhow::ensure!(retries < 10_000, "the server never came back: {error}");
                    // Backoff while the server restarts; there is no event to await.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(error) => anyhow::bail!("{client_msg_id}: {error}"),
            }
        };
        acks.lock().expect("lock").push(Ack {
            conversation,
            seq: stored.seq,
            client_msg_id,
        });
        progress.send_modify(|n| *n += 1);
    }
    Ok(retries)
}

fn retryable(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Transport(_) | ClientError::Timeout | ClientError::Disconnected
    ) || error.is_retryable()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_repeated_sigkill() -> anyhow::Result<()> {
    const CRASHES: usize = 6;
    const PER_SENDER: usize = 200;
    let dir = tempfile::tempdir()?;
    let mut server = ProcessServer::start(Path::new(SERVER), dir.path())?;
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
        senders.push(tokio::spawn(sender(
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
    let mut stored_by_conversation = HashMap::new();
    for conversation in [direct, group] {
        let reference = all_messages(&a, conversation).await?;
        for member in [&b, &c] {
            if conversation == direct && member.user().id == c.user().id {
                continue;
            }
            assert_eq!(
                all_messages(member, conversation).await?,
                reference,
                "every member sees the same timeline"
            );
        }
        let seqs: Vec<i64> = reference.iter().map(|m| m.seq.0).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "gap-free seq in {conversation}"
        );
        stored_by_conversation.insert(conversation, reference);
    }
    let mut stored_ids = HashSet::new();
    let mut duplicated = 0;
    for message in stored_by_conversation.values().flatten() {
        if let Some(id) = &message.client_msg_id
            && !stored_ids.insert((message.conversation_id, id.0.clone()))
        {
            duplicated += 1;
        }
    }
    let mut lost = 0;
    for ack in &acked {
        let found = stored_by_conversation[&ack.conversation].iter().find(|m| {
            m.client_msg_id.as_ref().map(|c| c.0.as_str()) == Some(ack.client_msg_id.as_str())
        });
        match found {
            Some(message) => assert_eq!(message.seq, ack.seq, "{} moved", ack.client_msg_id),
            None => lost += 1,
        }
    }
    let stored_sends = stored_ids.len();
    let unexpected = stored_sends.saturating_sub(total);
    let group_text = stored_by_conversation[&group].len() as i64 - setup_messages;
    println!(
        "R1: acknowledged messages lost: {lost} of {total} over {CRASHES} SIGKILLs; duplicated: {duplicated}; \
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
