//! Sending: the sends that arrive while a transaction runs are stored
//! together in the next one (group commit, as DESIGN.md asks). One send
//! costs a database server a transaction, its locks and its statements; a
//! batch costs about as much as one, so under load the rate grows with the
//! batch, and a quiet server still stores each send at once (a lane never
//! waits to fill a batch). SQLite's writer thread already commits whatever
//! is queued together (`Store::write_lanes` is 0 there): each send is a
//! batch of one, in the sender's task, and the writer groups them.
//!
//! Sends go to a few lanes by conversation: each lane runs one batch at a
//! time, so one conversation's sends are stored and published in the order
//! they arrived, and two lanes never wait for each other's conversation
//! locks. The rules are those of one send ([`rules::may_send`]), applied to
//! each send of the batch in turn over facts read for all of them at once;
//! a refused send takes nothing of the others with it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use natter_protocol::conversations::{ConversationKind, Message, SendMessageRequest};
use natter_protocol::{ClientMsgId, ConversationId, ErrorCode, Seq, Timestamp, UserId};
use natter_store::{MessageRow, SendKey, Store, StoreError, transaction};
use tokio::sync::{mpsc, oneshot};

use super::rules;
use crate::contacts::DirectPolicy;
use crate::error::{ApiError, ApiResult};
use crate::events::Publisher;

/// Sends queued per lane before senders wait for room.
const LANE_QUEUE: usize = 4096;
/// The most sends one transaction stores.
const MAX_BATCH: usize = 512;

/// A send that passed the checks that need no storage.
pub(super) struct NewSend {
    pub sender: UserId,
    pub conversation: ConversationId,
    pub request: SendMessageRequest,
    pub at: Timestamp,
}

struct Pending {
    send: NewSend,
    reply: oneshot::Sender<ApiResult<Message>>,
}

/// The lanes, started at the first send (a service is built before the
/// runtime that runs it).
pub(super) struct SendLanes {
    store: Arc<dyn Store>,
    publisher: Arc<Publisher>,
    policy: DirectPolicy,
    lanes: OnceLock<Vec<mpsc::Sender<Pending>>>,
}

impl SendLanes {
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Arc<Publisher>,
        policy: DirectPolicy,
    ) -> SendLanes {
        SendLanes {
            store,
            publisher,
            policy,
            lanes: OnceLock::new(),
        }
    }

    /// Stores the message (or finds the one stored before under its client
    /// id), publishes it to the members, and answers it.
    pub async fn send(&self, send: NewSend) -> ApiResult<Message> {
        if self.store.write_lanes() == 0 {
            // The store groups concurrent transactions itself: a batch of one.
            let mut outcomes = store_batch(&*self.store, self.policy, vec![send]).await?;
            let outcome = outcomes
                .pop()
                .ok_or_else(|| ApiError::from(StoreError::Unavailable("an empty batch".into())))?;
            return deliver(&self.publisher, outcome).await;
        }
        let lanes = self.lanes.get_or_init(|| self.start());
        let index = usize::try_from(send.conversation.0.unsigned_abs()).unwrap_or(0) % lanes.len();
        let (reply, answer) = oneshot::channel();
        lanes[index]
            .send(Pending { send, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    fn start(&self) -> Vec<mpsc::Sender<Pending>> {
        (0..self.store.write_lanes().max(1))
            .map(|_| {
                let (queue, pending) = mpsc::channel(LANE_QUEUE);
                tokio::spawn(run_lane(
                    self.store.clone(),
                    self.publisher.clone(),
                    self.policy,
                    pending,
                ));
                queue
            })
            .collect()
    }
}

fn stopped() -> ApiError {
    ApiError::new(ErrorCode::Unavailable, "The server is shutting down.")
}

/// Takes whatever is queued (at least one send) and stores it in one
/// transaction; the lane's publisher delivers and answers it while the lane
/// stores the next batch.
async fn run_lane(
    store: Arc<dyn Store>,
    publisher: Arc<Publisher>,
    policy: DirectPolicy,
    mut pending: mpsc::Receiver<Pending>,
) {
    let (stored, to_publish) = mpsc::channel(PUBLISH_QUEUE);
    tokio::spawn(publish_lane(publisher, to_publish));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (sends, replies): (Vec<NewSend>, Vec<_>) =
            batch.drain(..).map(|p| (p.send, p.reply)).unzip();
        let outcome = store_batch(&*store, policy, sends).await;
        if stored.send((outcome, replies)).await.is_err() {
            return;
        }
    }
}

/// Stored batches waiting for their publisher, per lane.
const PUBLISH_QUEUE: usize = 64;

type StoredBatch = (
    Result<Vec<Outcome>, StoreError>,
    Vec<oneshot::Sender<ApiResult<Message>>>,
);

/// Publishes each stored batch's messages in order (so one conversation's
/// messages reach its members in seq order), then answers the senders.
async fn publish_lane(publisher: Arc<Publisher>, mut batches: mpsc::Receiver<StoredBatch>) {
    while let Some((outcome, replies)) = batches.recv().await {
        match outcome {
            Ok(outcomes) => {
                for (outcome, reply) in outcomes.into_iter().zip(replies) {
                    let answer = deliver(&publisher, outcome).await;
                    // A sender that went away still has its message stored.
                    let _ = reply.send(answer);
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(ApiError::from(error.clone())));
                }
            }
        }
    }
}

/// Publishes a stored message to its audience; the sender's answer.
async fn deliver(publisher: &Publisher, outcome: Outcome) -> ApiResult<Message> {
    let (message, audience) = outcome?;
    // A resend is published again too: the first attempt may have been
    // stored by a server that died before it published; clients
    // de-duplicate by seq.
    publisher.message(message.clone(), audience, None).await;
    Ok(message)
}

/// What became of one send: the message and who is to get it, or why not.
type Outcome = ApiResult<(Message, Arc<[UserId]>)>;

/// Where a send's message comes from once the batch's rows are written.
enum Planned {
    Refused(ApiError),
    Resend(Box<Message>, Audience),
    /// The index of its row (a resend within the batch shares the row).
    Row(usize, Audience),
}

#[derive(Clone, Copy)]
enum Audience {
    /// The sender and, unless they write to themselves, the other member.
    Direct(UserId, Option<UserId>),
    Group(ConversationId),
}

/// One transaction for the batch: the facts of every send, the rule for
/// each in turn, the rows of those allowed. `Err` only when the storage
/// failed, and then nothing of the batch was stored.
async fn store_batch(
    store: &dyn Store,
    policy: DirectPolicy,
    sends: Vec<NewSend>,
) -> Result<Vec<Outcome>, StoreError> {
    transaction(store, move |tx| {
        Box::pin(async move {
            let keys: Vec<SendKey> = sends
                .iter()
                .map(|send| SendKey {
                    conversation: send.conversation,
                    sender: send.sender,
                    client_msg_id: send.request.client_msg_id.clone(),
                })
                .collect();
            let facts = tx.send_facts(&keys).await?;

            // The last seq of each conversation, counting the batch's rows.
            let mut last_seqs: HashMap<ConversationId, Seq> = HashMap::new();
            let mut rows_by_key: HashMap<(ConversationId, UserId, ClientMsgId), usize> =
                HashMap::new();
            let mut rows = Vec::new();
            let mut planned = Vec::with_capacity(sends.len());
            for (send, fact) in sends.into_iter().zip(facts) {
                let key = (
                    send.conversation,
                    send.sender,
                    send.request.client_msg_id.clone(),
                );
                let audience = match fact.membership {
                    Some(m) if m.kind == ConversationKind::Direct => {
                        Audience::Direct(send.sender, m.peer)
                    }
                    _ => Audience::Group(send.conversation),
                };
                // The same send twice in one batch: the second is a resend of
                // the first (a refused first leaves nothing to find, and the
                // same facts refuse the second).
                if let Some(&row) = rows_by_key.get(&key) {
                    planned.push(Planned::Row(row, audience));
                    continue;
                }
                let stored_last = fact.membership.map_or(Seq(0), |m| m.last_seq);
                let last_seq = *last_seqs.entry(send.conversation).or_insert(stored_last);
                let reach = fact.relation.map(|relation| policy.reach_of(&relation));
                match rules::may_send(
                    fact.membership,
                    fact.original,
                    reach,
                    send.request.reply_to,
                    last_seq,
                ) {
                    Err(refusal) => planned.push(Planned::Refused(refusal.into())),
                    Ok(Some(original)) => {
                        planned.push(Planned::Resend(Box::new(original), audience))
                    }
                    Ok(None) => {
                        last_seqs.insert(send.conversation, Seq(last_seq.0 + 1));
                        rows_by_key.insert(key, rows.len());
                        planned.push(Planned::Row(rows.len(), audience));
                        rows.push(MessageRow {
                            conversation: send.conversation,
                            sender: send.sender,
                            client_msg_id: Some(send.request.client_msg_id),
                            content: send.request.content,
                            reply_to: send.request.reply_to,
                            now: send.at,
                        });
                    }
                }
            }
            let stored = tx.insert_messages(rows).await?;

            let mut groups: HashMap<ConversationId, Arc<[UserId]>> = HashMap::new();
            let mut outcomes = Vec::with_capacity(planned.len());
            for plan in planned {
                let (message, audience) = match plan {
                    Planned::Refused(refusal) => {
                        outcomes.push(Err(refusal));
                        continue;
                    }
                    Planned::Resend(message, audience) => (*message, audience),
                    Planned::Row(row, audience) => match stored.get(row) {
                        Some(message) => (message.clone(), audience),
                        None => {
                            return Err(StoreError::Unavailable("a batch row went missing".into()));
                        }
                    },
                };
                let members: Arc<[UserId]> = match audience {
                    Audience::Direct(sender, Some(peer)) => vec![sender, peer].into(),
                    Audience::Direct(sender, None) => vec![sender].into(),
                    Audience::Group(conversation) => match groups.get(&conversation) {
                        Some(members) => members.clone(),
                        None => {
                            let members = tx.member_ids(conversation).await?;
                            groups.insert(conversation, members.clone());
                            members
                        }
                    },
                };
                outcomes.push(Ok((message, members)));
            }
            Ok::<_, StoreError>(outcomes)
        })
    })
    .await
}
