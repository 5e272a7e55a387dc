//! The Jepsen-style check of RELIABILITY.md R1, shared by the crash tests of
//! one node and of a cluster: senders that retry each message with the same
//! client message id until it is acknowledged, and a verdict that compares
//! what was acknowledged with what every member sees stored.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natter_client::{ClientError, Session};
use natter_protocol::conversations::{Message, MessageContent, SendMessageRequest};
use natter_protocol::{ClientMsgId, ConversationId, Seq};
use tokio::sync::watch;

use crate::all_messages;

/// One acknowledged send.
#[derive(Debug, Clone)]
pub struct Ack {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub client_msg_id: String,
}

/// Acknowledged sends, shared by the senders.
pub type Acks = Arc<Mutex<Vec<Ack>>>;

/// Whether a failed send may be tried again with the same client message id
/// (the server, or a node, may be down for a moment).
pub fn retryable(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Transport(_) | ClientError::Timeout | ClientError::Disconnected
    ) || error.is_retryable()
}

/// Sends `count` messages named `{name}-{i}` round the `conversations`, each
/// retried until acknowledged; counts each acknowledgement on `progress`.
/// Returns how many retries it took.
pub async fn send_all(
    session: Session,
    name: &'static str,
    conversations: Vec<ConversationId>,
    count: usize,
    acks: Acks,
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
        acks.lock()
            .map_err(|_| anyhow::anyhow!("acks poisoned"))?
            .push(Ack {
                conversation,
                seq: stored.seq,
                client_msg_id,
            });
        progress.send_modify(|n| *n += 1);
    }
    Ok(retries)
}

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Acknowledged sends that are not stored.
    pub lost: usize,
    /// Client message ids stored twice in one conversation.
    pub duplicated: usize,
    /// Stored sends beyond the ones made (none may appear from nowhere).
    pub unexpected: usize,
}

/// Reads every conversation through each of its `members` (the first is the
/// reference), and checks: every member sees the same timeline; seqs are
/// gap-free from 1; every acknowledged send is stored at the seq it was
/// acknowledged with. `sent` is how many sends were made in all; returns the
/// stored timelines too.
pub async fn verify(
    conversations: &[(ConversationId, Vec<&Session>)],
    acks: &[Ack],
    sent: usize,
) -> anyhow::Result<(Verdict, HashMap<ConversationId, Vec<Message>>)> {
    let mut stored = HashMap::new();
    for (conversation, members) in conversations {
        let (reference, others) = members
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("{conversation} has no reader"))?;
        let timeline = all_messages(reference, *conversation).await?;
        for member in others {
            anyhow::ensure!(
                all_messages(member, *conversation).await? == timeline,
                "every member sees the same timeline of {conversation}"
            );
        }
        let seqs: Vec<i64> = timeline.iter().map(|m| m.seq.0).collect();
        anyhow::ensure!(
            seqs == (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "the seqs of {conversation} have a gap"
        );
        stored.insert(*conversation, timeline);
    }
    let mut stored_ids = HashSet::new();
    let mut duplicated = 0;
    for message in stored.values().flatten() {
        if let Some(id) = &message.client_msg_id
            && !stored_ids.insert((message.conversation_id, id.0.clone()))
        {
            duplicated += 1;
        }
    }
    let mut lost = 0;
    for ack in acks {
        let found = stored.get(&ack.conversation).and_then(|timeline| {
            timeline.iter().find(|m| {
                m.client_msg_id.as_ref().map(|c| c.0.as_str()) == Some(ack.client_msg_id.as_str())
            })
        });
        match found {
            Some(message) => anyhow::ensure!(
                message.seq == ack.seq,
                "{} moved from {} to {}",
                ack.client_msg_id,
                ack.seq,
                message.seq
            ),
            None => lost += 1,
        }
    }
    let unexpected = stored_ids.len().saturating_sub(sent);
    Ok((
        Verdict {
            lost,
            duplicated,
            unexpected,
        },
        stored,
    ))
}
