//! A batch of sends in a few statements: what lets one node on PostgreSQL
//! store thousands of messages a second. One send on its own costs ten
//! statements (a transaction, the locks, the facts, the insert), and on a
//! small machine PostgreSQL's work per statement, not the disk, sets the
//! rate; a batch of N sends costs about as many statements as one.
//!
//! The locks and the order they are taken in are those of one send
//! ([`WriteTx::membership`] then [`WriteTx::relation`]), for all the batch at
//! once: the conversations (lowest id first, in one statement), then the
//! users of the direct pairs (lowest id first, in one statement). Facts are
//! read by a statement of their own once the locks are granted, so they
//! include what the locks' previous holders committed.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use natter_protocol::conversations::{ConversationKind, Message};
use natter_protocol::{ConversationId, Seq, UserId};

use super::super::encoding::encode_content;
use super::super::query;
use super::super::rows::{col, count, kind_name, message_at, message_columns_of, parse_role};
use super::PgTx;
use crate::txn::{Membership, MessageRow, SendFacts, SendKey};
use crate::{Relation, StoreError, StoreResult};

/// Locks the conversations of the keys whose sender is a member as far as
/// committed data says (a non-member is answered without waiting, as
/// `membership` does).
const LOCK_CONVERSATIONS: &str = "SELECT c.id FROM conversations c \
     WHERE c.id IN (SELECT k.c FROM unnest($1::bigint[], $2::bigint[]) AS k(c, u) \
         WHERE EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = k.c AND m.user_id = k.u)) \
     ORDER BY c.id FOR NO KEY UPDATE";

/// The membership, the direct peer and the earlier message of each key.
static FACTS_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT k.i, c.kind, c.last_seq, c.member_count, m.role, m.read_seq, \
             CASE WHEN c.kind = 'direct' THEN (SELECT p.user_id FROM members p \
                 WHERE p.conversation_id = k.c AND p.user_id <> k.u ORDER BY p.user_id LIMIT 1) END, \
             o.seq IS NOT NULL, {} \
         FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS k(c, u, cmid, i) \
         JOIN conversations c ON c.id = k.c \
         JOIN members m ON m.conversation_id = k.c AND m.user_id = k.u \
         LEFT JOIN messages o ON o.conversation_id = k.c AND o.sender_id = k.u AND o.client_msg_id = k.cmid",
        message_columns_of("o")
    )
});

const LOCK_USERS: &str = "SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";

/// How each pair `(a, b)` stands, as `RELATION_SELECT` reads one pair.
const RELATIONS_SELECT: &str = "SELECT p.i, \
     EXISTS (SELECT 1 FROM friendships WHERE user_id = p.a AND friend_id = p.b) \
         AND EXISTS (SELECT 1 FROM friendships WHERE user_id = p.b AND friend_id = p.a), \
     EXISTS (SELECT 1 FROM blocks WHERE user_id = p.a AND blocked_id = p.b), \
     EXISTS (SELECT 1 FROM blocks WHERE user_id = p.b AND blocked_id = p.a) \
     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS p(i, a, b)";

/// Moves each conversation's `last_seq` by its number of new messages and
/// stores them with consecutive seqs in the batch's order; the senders have
/// read what they sent. Answers each conversation's seq before the batch.
const INSERT_MESSAGES: &str = "WITH u AS ( \
         UPDATE conversations c SET last_seq = c.last_seq + n.n, version = n.version, \
             version_txid = pg_current_xact_id(), updated_at = n.at \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS n(id, n, version, at) \
         WHERE c.id = n.id RETURNING c.id, c.last_seq - n.n AS base), \
     k AS ( \
         SELECT * FROM unnest($5::bigint[], $6::bigint[], $7::text[], $8::bigint[], $9::smallint[], \
             $10::bytea[], $11::bigint[]) WITH ORDINALITY AS k(c, s, cmid, at, kind, content, reply_to, i)), \
     m AS ( \
         INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, sent_at, \
             content_kind, content, reply_to) \
         SELECT k.c, u.base + row_number() OVER (PARTITION BY k.c ORDER BY k.i), k.s, k.cmid, k.at, \
             k.kind, k.content, k.reply_to \
         FROM k JOIN u ON u.id = k.c \
         RETURNING conversation_id, seq, sender_id), \
     r AS ( \
         UPDATE members SET read_seq = x.seq \
         FROM (SELECT conversation_id, sender_id, max(seq) AS seq FROM m GROUP BY 1, 2) x \
         WHERE members.conversation_id = x.conversation_id AND members.user_id = x.sender_id) \
     SELECT id, base FROM u";

/// An index of the batch as PostgreSQL's `WITH ORDINALITY` numbers it (from 1).
fn ordinal(row: &tokio_postgres::Row) -> StoreResult<usize> {
    let i: i64 = col(row, 0)?;
    usize::try_from(i - 1).map_err(|_| StoreError::Unavailable(format!("a batch row numbered {i}")))
}

impl PgTx<'_> {
    pub(super) async fn batch_send_facts(
        &mut self,
        keys: &[SendKey],
    ) -> StoreResult<Vec<SendFacts>> {
        let conversations: Vec<i64> = keys.iter().map(|k| k.conversation.0).collect();
        let senders: Vec<i64> = keys.iter().map(|k| k.sender.0).collect();
        let client_ids: Vec<&str> = keys.iter().map(|k| k.client_msg_id.0.as_str()).collect();
        let locked = query(&self.tx, LOCK_CONVERSATIONS, &[&conversations, &senders]).await;
        let locked = self.note(locked)?;
        let rows = query(
            &self.tx,
            &FACTS_SELECT,
            &[&conversations, &senders, &client_ids],
        )
        .await;
        let rows = self.note(rows)?;
        let locked: BTreeSet<i64> = locked
            .iter()
            .map(|row| col(row, 0))
            .collect::<StoreResult<_>>()?;

        let mut facts = vec![
            SendFacts {
                membership: None,
                original: None,
                relation: None,
            };
            keys.len()
        ];
        for row in &rows {
            let i = ordinal(row)?;
            let Some(key) = keys.get(i) else { continue };
            // Without the lock the answer is "not a member": the join that
            // made them one is ordered after this transaction.
            if !locked.contains(&key.conversation.0) {
                continue;
            }
            let kind = kind_name(col(row, 1)?);
            facts[i].membership = Some(Membership {
                kind,
                role: parse_role(col(row, 4)?),
                last_seq: Seq(col(row, 2)?),
                member_count: count(col(row, 3)?)?,
                read_seq: Seq(col(row, 5)?),
                peer: match kind {
                    ConversationKind::Direct => col::<Option<i64>>(row, 6)?.map(UserId),
                    ConversationKind::Group => None,
                },
            });
            if col::<bool>(row, 7)? {
                facts[i].original = Some(message_at(row, 8)?);
            }
        }

        // The pairs of the direct conversations, locked as `relation` locks one.
        let pairs: Vec<(usize, UserId, UserId)> = facts
            .iter()
            .enumerate()
            .filter_map(|(i, fact)| {
                let membership = fact.membership?;
                let peer = membership.peer?;
                (membership.kind == ConversationKind::Direct).then_some((i, keys[i].sender, peer))
            })
            .collect();
        if pairs.is_empty() {
            return Ok(facts);
        }
        let users: Vec<i64> = pairs
            .iter()
            .flat_map(|&(_, a, b)| [a.0, b.0])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let indexes: Vec<i64> = pairs
            .iter()
            .map(|&(i, _, _)| i64::try_from(i + 1).unwrap_or(i64::MAX))
            .collect();
        let firsts: Vec<i64> = pairs.iter().map(|&(_, a, _)| a.0).collect();
        let seconds: Vec<i64> = pairs.iter().map(|&(_, _, b)| b.0).collect();
        let locked_users = query(&self.tx, LOCK_USERS, &[&users]).await;
        self.note(locked_users)?;
        let relations = query(&self.tx, RELATIONS_SELECT, &[&indexes, &firsts, &seconds]).await;
        for row in &self.note(relations)? {
            let i = ordinal(row)?;
            if let Some(fact) = facts.get_mut(i) {
                fact.relation = Some(Relation {
                    friends: col(row, 1)?,
                    a_blocked_b: col(row, 2)?,
                    b_blocked_a: col(row, 3)?,
                });
            }
        }
        Ok(facts)
    }

    pub(super) async fn batch_insert_messages(
        &mut self,
        rows: Vec<MessageRow>,
    ) -> StoreResult<Vec<Message>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // Per conversation, in order of first appearance: how many new
        // messages, a change-stream version of its own (the sync pages
        // conversations by version), and the latest time.
        let mut order: Vec<ConversationId> = Vec::new();
        let mut per: HashMap<ConversationId, (i64, i64, i64)> = HashMap::new();
        for row in &rows {
            if let Some(entry) = per.get_mut(&row.conversation) {
                entry.0 += 1;
                entry.2 = entry.2.max(row.now.0);
            } else {
                let version = self.next_version().await?;
                per.insert(row.conversation, (1, version, row.now.0));
                order.push(row.conversation);
            }
        }
        let ids: Vec<i64> = order.iter().map(|c| c.0).collect();
        let counts: Vec<i64> = order.iter().map(|c| per[c].0).collect();
        let versions: Vec<i64> = order.iter().map(|c| per[c].1).collect();
        let ats: Vec<i64> = order.iter().map(|c| per[c].2).collect();

        let mut conversations = Vec::with_capacity(rows.len());
        let mut senders = Vec::with_capacity(rows.len());
        let mut client_ids: Vec<Option<&str>> = Vec::with_capacity(rows.len());
        let mut sent_at = Vec::with_capacity(rows.len());
        let mut kinds = Vec::with_capacity(rows.len());
        let mut contents = Vec::with_capacity(rows.len());
        let mut replies = Vec::with_capacity(rows.len());
        for row in &rows {
            let (kind, bytes) = encode_content(&row.content)?;
            conversations.push(row.conversation.0);
            senders.push(row.sender.0);
            client_ids.push(row.client_msg_id.as_ref().map(|id| id.0.as_str()));
            sent_at.push(row.now.0);
            kinds.push(kind);
            contents.push(bytes);
            replies.push(row.reply_to.map(|seq| seq.0));
        }
        let bases = query(
            &self.tx,
            INSERT_MESSAGES,
            &[
                &ids,
                &counts,
                &versions,
                &ats,
                &conversations,
                &senders,
                &client_ids,
                &sent_at,
                &kinds,
                &contents,
                &replies,
            ],
        )
        .await;
        let mut next: HashMap<i64, i64> = HashMap::new();
        for row in &self.note(bases)? {
            next.insert(col(row, 0)?, col::<i64>(row, 1)?);
        }
        let mut stored = Vec::with_capacity(rows.len());
        for row in rows {
            // A conversation that is gone got no seq; the one-by-one insert
            // answers it `NotFound` too.
            let seq = next
                .get_mut(&row.conversation.0)
                .ok_or(StoreError::NotFound)?;
            *seq += 1;
            stored.push(Message {
                conversation_id: row.conversation,
                seq: Seq(*seq),
                sender_id: row.sender,
                client_msg_id: row.client_msg_id,
                sent_at: row.now,
                content: row.content,
                reply_to: row.reply_to,
                edited_at: None,
                recalled_at: None,
                expires_at: None,
            });
        }
        Ok(stored)
    }
}
