//! [`WriteTx`] on PostgreSQL: the facts and rows of a domain's transaction
//! body, on one pooled connection in one READ COMMITTED transaction.
//!
//! Several nodes run bodies at once, so the facts a rule depends on are read
//! under row locks (see the module doc of [`crate::postgres`]): `relation`
//! locks the two users' rows, `membership` the conversation's row, and each
//! reads its facts in a statement of its own *after* the lock is granted, so
//! that they include whatever the previous holder committed. (A single
//! statement that locks and reads would read the unlocked tables as of its
//! start, before it waited.)
//!
//! The locks are `FOR NO KEY UPDATE`, the lock an `UPDATE` of non-key
//! columns takes: it conflicts with itself, so bodies about the same pair or
//! conversation run one after the other, but not with the `KEY SHARE` locks
//! of foreign-key checks, so inserting a session, a member or a friendship
//! that refers to a locked row neither waits nor can deadlock against it.

mod sends;

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::FriendRequestStatus;
use natter_protocol::conversations::{ConversationKind, Message, Role};
use natter_protocol::sync::{UserChange, UserEvent};
use natter_protocol::{ClientMsgId, ConversationId, FriendRequestId, Seq, Timestamp, UserId};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::cursor::{TxCursors, append_user_event};
use super::encoding::encode_content;
use super::rows::{
    FRIEND_SELECT, MESSAGE_COLUMNS, PROFILE_COLUMNS, RELATION_SELECT, REQUEST_COLUMNS,
    REQUEST_JOINS, col, count, friend_at, kind_name, message_at, parse_role, profile_at,
    relation_of, request_at, role_name, status_name,
};
use super::{db_error, describe, execute, query, query_opt};
use crate::txn::{Membership, MessageRow, RequestRecord, SendFacts, SendKey, TxOutcome, WriteTx};
use crate::{FriendRecord, Relation, StoreError, StoreResult};

/// One body's transaction.
pub(super) struct PgTx<'c> {
    tx: Transaction<'c>,
    /// Taken at the first write that needs a cursor: taking it gives the
    /// transaction its id, which holds back every reader's horizon.
    cursors: Option<TxCursors>,
    /// The first statement that failed. PostgreSQL aborts the transaction
    /// there, and a COMMIT of an aborted transaction rolls back without an
    /// error: a body that went on to return `Ok` must not be told it committed.
    failed: Option<StoreError>,
}

impl<'c> PgTx<'c> {
    pub(super) fn new(tx: Transaction<'c>) -> PgTx<'c> {
        PgTx {
            tx,
            cursors: None,
            failed: None,
        }
    }

    /// Ends the transaction as the body's outcome says: COMMIT for `Ok`,
    /// ROLLBACK for `Err`. `Err(StoreError)` when an `Ok` cannot be committed.
    pub(super) async fn finish(self, outcome: TxOutcome) -> StoreResult<TxOutcome> {
        match (outcome, self.failed) {
            (Ok(_), Some(failed)) => {
                rollback(self.tx).await;
                Err(failed)
            }
            (Ok(value), None) => {
                // A COMMIT that fails, or whose answer is lost with the
                // connection, is reported as a storage failure: the caller
                // sees nothing stored (a resend then finds the original if
                // it was).
                self.tx.commit().await.map_err(db_error)?;
                Ok(Ok(value))
            }
            (Err(refusal), _) => {
                rollback(self.tx).await;
                Ok(Err(refusal))
            }
        }
    }

    /// Remembers a failed statement (see `failed`).
    fn note<T>(&mut self, result: StoreResult<T>) -> StoreResult<T> {
        if let Err(error) = &result
            && self.failed.is_none()
        {
            self.failed = Some(error.clone());
        }
        result
    }

    async fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let result = query(&self.tx, sql, params).await;
        self.note(result)
    }

    async fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        let result = query_opt(&self.tx, sql, params).await;
        self.note(result)
    }

    async fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let result = execute(&self.tx, sql, params).await;
        self.note(result)
    }

    /// Starts the transaction's cursors if it has none yet.
    async fn start_cursors(&mut self) -> StoreResult<()> {
        if self.cursors.is_none() {
            let cursors = TxCursors::start(&self.tx).await;
            self.cursors = Some(self.note(cursors)?);
        }
        Ok(())
    }

    /// The transaction's next change-stream cursor, for a conversation version.
    async fn next_version(&mut self) -> StoreResult<i64> {
        self.start_cursors().await?;
        match self.cursors.as_mut() {
            Some(cursors) => cursors.next_cursor().map(|cursor| cursor.0),
            None => Err(StoreError::Unavailable("no transaction cursors".into())),
        }
    }

    async fn add_member(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        role: Role,
        now: Timestamp,
    ) -> StoreResult<()> {
        // A new member starts having "read" everything before they joined;
        // the count moves only when a member row was added.
        self.execute(
            "WITH added AS ( \
                 INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, delivered_seq) \
                 SELECT id, $2, $3, $4, last_seq, last_seq FROM conversations WHERE id = $1 \
                 RETURNING conversation_id) \
             UPDATE conversations SET member_count = member_count + 1 \
             WHERE id IN (SELECT conversation_id FROM added)",
            &[&conversation.0, &user.0, &role_name(role), &now.0],
        )
        .await
        .map(drop)
    }
}

/// Rolls back; a failure only costs the connection, which the pool replaces.
async fn rollback(tx: Transaction<'_>) {
    if let Err(error) = tx.rollback().await {
        tracing::warn!(error = %describe(&error), "postgres rollback failed");
    }
}

fn message_of(row: &Row) -> StoreResult<Message> {
    message_at(row, 0)
}

#[async_trait]
impl WriteTx for PgTx<'_> {
    async fn profile(&mut self, user: UserId) -> StoreResult<Option<UserProfile>> {
        self.query_opt(
            &format!("SELECT {PROFILE_COLUMNS} FROM users u WHERE u.id = $1"),
            &[&user.0],
        )
        .await?
        .map(|row| profile_at(&row, 0))
        .transpose()
    }

    async fn relation(&mut self, a: UserId, b: UserId) -> StoreResult<Relation> {
        // Lowest id first, as every body locks users: two bodies locking the
        // same pair queue instead of deadlocking.
        let ids = [a.0, b.0];
        self.query(
            "SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            &[&&ids[..]],
        )
        .await?;
        // A statement of its own, after the locks: it sees what their
        // previous holder committed.
        relation_of(&self.query(RELATION_SELECT, &[&a.0, &b.0]).await?)
    }

    async fn friend_request(&mut self, id: FriendRequestId) -> StoreResult<Option<RequestRecord>> {
        self.query_opt(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM friend_requests r {REQUEST_JOINS} WHERE r.id = $1"
            ),
            &[&id.0],
        )
        .await?
        .map(|row| request_at(&row))
        .transpose()
    }

    async fn pending_requests(&mut self, a: UserId, b: UserId) -> StoreResult<Vec<RequestRecord>> {
        self.query(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM friend_requests r {REQUEST_JOINS} \
                 WHERE r.status = 'pending' \
                 AND ((r.from_id = $1 AND r.to_id = $2) OR (r.from_id = $2 AND r.to_id = $1)) \
                 ORDER BY r.id"
            ),
            &[&a.0, &b.0],
        )
        .await?
        .iter()
        .map(request_at)
        .collect()
    }

    async fn insert_friend_request(
        &mut self,
        from: UserId,
        to: UserId,
        greeting: String,
        hidden: bool,
        now: Timestamp,
    ) -> StoreResult<RequestRecord> {
        self.query_opt(
            &format!(
                "WITH r AS ( \
                     INSERT INTO friend_requests (from_id, to_id, greeting, status, hidden, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'pending', $4, $5, $5) RETURNING *) \
                 SELECT {REQUEST_COLUMNS} FROM r {REQUEST_JOINS}"
            ),
            &[&from.0, &to.0, &greeting, &hidden, &now.0],
        )
        .await?
        .map(|row| request_at(&row))
        .transpose()?
        .ok_or(StoreError::NotFound)
    }

    async fn update_friend_request(
        &mut self,
        id: FriendRequestId,
        status: FriendRequestStatus,
        hidden: bool,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE friend_requests SET status = $2, hidden = $3, updated_at = $4 WHERE id = $1",
            &[&id.0, &status_name(status), &hidden, &now.0],
        )
        .await
        .map(drop)
    }

    async fn insert_friendship(
        &mut self,
        a: UserId,
        b: UserId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO friendships (user_id, friend_id, since, conversation_id) \
             VALUES ($1, $2, $3, $4), ($2, $1, $3, $4) ON CONFLICT (user_id, friend_id) DO NOTHING",
            &[&a.0, &b.0, &now.0, &conversation.0],
        )
        .await
        .map(drop)
    }

    async fn delete_friendship(&mut self, a: UserId, b: UserId) -> StoreResult<bool> {
        self.execute(
            "DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2) \
             OR (user_id = $2 AND friend_id = $1)",
            &[&a.0, &b.0],
        )
        .await
        .map(|deleted| deleted > 0)
    }

    async fn friend(&mut self, user: UserId, friend: UserId) -> StoreResult<Option<FriendRecord>> {
        self.query_opt(
            &format!("{FRIEND_SELECT} WHERE fs.user_id = $1 AND fs.friend_id = $2"),
            &[&user.0, &friend.0],
        )
        .await?
        .map(|row| friend_at(&row))
        .transpose()
    }

    async fn set_remark(
        &mut self,
        user: UserId,
        friend: UserId,
        remark: Option<String>,
    ) -> StoreResult<bool> {
        self.execute(
            "UPDATE friendships SET remark = $3 WHERE user_id = $1 AND friend_id = $2",
            &[&user.0, &friend.0, &remark],
        )
        .await
        .map(|updated| updated > 0)
    }

    async fn insert_block(
        &mut self,
        user: UserId,
        target: UserId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.execute(
            "INSERT INTO blocks (user_id, blocked_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, blocked_id) DO NOTHING",
            &[&user.0, &target.0, &now.0],
        )
        .await
        .map(|inserted| inserted > 0)
    }

    async fn delete_block(&mut self, user: UserId, target: UserId) -> StoreResult<bool> {
        self.execute(
            "DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2",
            &[&user.0, &target.0],
        )
        .await
        .map(|deleted| deleted > 0)
    }

    async fn direct_conversation(
        &mut self,
        a: UserId,
        b: UserId,
        now: Timestamp,
    ) -> StoreResult<ConversationId> {
        const EXISTING: &str = "SELECT id FROM conversations WHERE direct_key = $1";
        let key = format!("{}:{}", a.0.min(b.0), a.0.max(b.0));
        // The common case, without a write (and so without a transaction id).
        if let Some(row) = self.query_opt(EXISTING, &[&key]).await? {
            return Ok(ConversationId(col(&row, 0)?));
        }
        // Another node may be creating the pair's conversation right now. The
        // unique key decides: an INSERT that meets the other's uncommitted row
        // waits for it, then does nothing if it committed (and inserts if it
        // rolled back). Only the transaction that inserted adds the members.
        let version = self.next_version().await?;
        let inserted = self
            .query_opt(
                "INSERT INTO conversations (kind, direct_key, version, created_at, updated_at) \
                 VALUES ('direct', $1, $2, $3, $3) \
                 ON CONFLICT (direct_key) DO NOTHING RETURNING id",
                &[&key, &version, &now.0],
            )
            .await?;
        let Some(row) = inserted else {
            // A statement of its own sees the other's commit.
            let row = self.query_opt(EXISTING, &[&key]).await?.ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "the direct conversation {key} conflicted but cannot be found"
                ))
            })?;
            return Ok(ConversationId(col(&row, 0)?));
        };
        let id = ConversationId(col(&row, 0)?);
        self.add_member(id, a, Role::Member, now).await?;
        if a != b {
            self.add_member(id, b, Role::Member, now).await?;
        }
        Ok(id)
    }

    async fn membership(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Membership>> {
        // Locks the row only where the user is a member as far as committed
        // data says: a non-member is answered at once, never queued behind
        // the members' writes. A `None` taken without the lock is a valid
        // answer (this transaction is ordered before any join still running),
        // and the domains write nothing to a conversation after one.
        let Some(head) = self
            .query_opt(
                "SELECT c.kind, c.last_seq, c.member_count FROM conversations c \
                 WHERE c.id = $1 AND EXISTS \
                     (SELECT 1 FROM members m WHERE m.conversation_id = c.id AND m.user_id = $2) \
                 FOR NO KEY UPDATE",
                &[&conversation.0, &user.0],
            )
            .await?
        else {
            return Ok(None);
        };
        // After the lock: whoever held it before may have removed the user.
        let Some(member) = self
            .query_opt(
                "SELECT role, read_seq FROM members WHERE conversation_id = $1 AND user_id = $2",
                &[&conversation.0, &user.0],
            )
            .await?
        else {
            return Ok(None);
        };
        let kind = kind_name(col(&head, 0)?);
        let peer = match kind {
            ConversationKind::Direct => self
                .query_opt(
                    "SELECT user_id FROM members WHERE conversation_id = $1 AND user_id <> $2 \
                     ORDER BY user_id LIMIT 1",
                    &[&conversation.0, &user.0],
                )
                .await?
                .map(|row| col(&row, 0).map(UserId))
                .transpose()?,
            ConversationKind::Group => None,
        };
        Ok(Some(Membership {
            kind,
            role: parse_role(col(&member, 0)?),
            last_seq: Seq(col(&head, 1)?),
            member_count: count(col(&head, 2)?)?,
            read_seq: Seq(col(&member, 1)?),
            peer,
        }))
    }

    async fn role(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Role>> {
        self.query_opt(
            "SELECT role FROM members WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation.0, &user.0],
        )
        .await?
        .map(|row| col(&row, 0).map(parse_role))
        .transpose()
    }

    async fn member_ids(&mut self, conversation: ConversationId) -> StoreResult<Arc<[UserId]>> {
        let ids = self
            .query(
                "SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY user_id",
                &[&conversation.0],
            )
            .await?
            .iter()
            .map(|row| col(row, 0).map(UserId))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(ids.into())
    }

    async fn group_count(&mut self, user: UserId) -> StoreResult<u32> {
        let rows = self
            .query(
                "SELECT count(*) FROM members m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.user_id = $1 AND c.kind = 'group'",
                &[&user.0],
            )
            .await?;
        match rows.first() {
            Some(row) => count(col(row, 0)?),
            None => Ok(0),
        }
    }

    async fn sent_message(
        &mut self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> StoreResult<Option<Message>> {
        self.query_opt(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages \
                 WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3"
            ),
            &[&conversation.0, &sender.0, &client_msg_id.0],
        )
        .await?
        .map(|row| message_of(&row))
        .transpose()
    }

    async fn insert_message(&mut self, message: MessageRow) -> StoreResult<Message> {
        let version = self.next_version().await?;
        let (kind, bytes) = encode_content(&message.content)?;
        let client_msg_id = message.client_msg_id.as_ref().map(|id| id.0.as_str());
        let reply_to = message.reply_to.map(|seq| seq.0);
        // One statement, one round trip under the conversation's lock. The
        // seq is `last_seq + 1` of the row this UPDATE locks (it waits for
        // any other writer of the row and then reads the row as committed),
        // so seqs are gap-free whatever else the body locked. The sender has
        // read everything up to what they send.
        let row = self
            .query_opt(
                "WITH c AS ( \
                     UPDATE conversations SET last_seq = last_seq + 1, version = $2, \
                         version_txid = pg_current_xact_id(), updated_at = $3 \
                     WHERE id = $1 RETURNING id, last_seq), \
                 m AS ( \
                     INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, sent_at, \
                         content_kind, content, reply_to) \
                     SELECT id, last_seq, $4::bigint, $5::text, $3::bigint, $6::smallint, $7::bytea, $8::bigint \
                     FROM c RETURNING conversation_id, seq), \
                 r AS ( \
                     UPDATE members SET read_seq = m.seq FROM m \
                     WHERE members.conversation_id = m.conversation_id AND members.user_id = $4) \
                 SELECT seq FROM m",
                &[
                    &message.conversation.0,
                    &version,
                    &message.now.0,
                    &message.sender.0,
                    &client_msg_id,
                    &kind,
                    &bytes,
                    &reply_to,
                ],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(Message {
            conversation_id: message.conversation,
            seq: Seq(col(&row, 0)?),
            sender_id: message.sender,
            client_msg_id: message.client_msg_id,
            sent_at: message.now,
            content: message.content,
            reply_to: message.reply_to,
            edited_at: None,
            recalled_at: None,
            expires_at: None,
        })
    }

    async fn send_facts(&mut self, keys: &[SendKey]) -> StoreResult<Vec<SendFacts>> {
        self.batch_send_facts(keys).await
    }

    async fn insert_messages(&mut self, rows: Vec<MessageRow>) -> StoreResult<Vec<Message>> {
        self.batch_insert_messages(rows).await
    }

    async fn authors_between(
        &mut self,
        conversation: ConversationId,
        after: Seq,
        upto: Seq,
        except: UserId,
    ) -> StoreResult<Vec<UserId>> {
        self.query(
            "SELECT DISTINCT m.sender_id FROM messages m \
             JOIN members x ON x.conversation_id = m.conversation_id AND x.user_id = m.sender_id \
             WHERE m.conversation_id = $1 AND m.seq > $2 AND m.seq <= $3 AND m.sender_id <> $4 \
             ORDER BY m.sender_id",
            &[&conversation.0, &after.0, &upto.0, &except.0],
        )
        .await?
        .iter()
        .map(|row| col(row, 0).map(UserId))
        .collect()
    }

    async fn insert_group(&mut self, name: String, now: Timestamp) -> StoreResult<ConversationId> {
        let version = self.next_version().await?;
        let row = self
            .query_opt(
                "INSERT INTO conversations (kind, name, version, created_at, updated_at) \
                 VALUES ('group', $1, $2, $3, $3) RETURNING id",
                &[&name, &version, &now.0],
            )
            .await?
            .ok_or_else(|| StoreError::Unavailable("INSERT returned no id".into()))?;
        Ok(ConversationId(col(&row, 0)?))
    }

    async fn set_group_name(
        &mut self,
        conversation: ConversationId,
        name: String,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE conversations SET name = $2 WHERE id = $1",
            &[&conversation.0, &name],
        )
        .await
        .map(drop)
    }

    async fn set_announcement(
        &mut self,
        conversation: ConversationId,
        announcement: Option<String>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE conversations SET announcement = $2 WHERE id = $1",
            &[&conversation.0, &announcement],
        )
        .await
        .map(drop)
    }

    async fn insert_member(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        role: Role,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.add_member(conversation, user, role, now).await
    }

    async fn delete_member(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<()> {
        self.execute(
            "WITH removed AS ( \
                 DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 \
                 RETURNING conversation_id) \
             UPDATE conversations SET member_count = member_count - 1 \
             WHERE id IN (SELECT conversation_id FROM removed)",
            &[&conversation.0, &user.0],
        )
        .await
        .map(drop)
    }

    async fn set_member_role(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        role: Role,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE members SET role = $3 WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation.0, &user.0, &role_name(role)],
        )
        .await
        .map(drop)
    }

    async fn set_read(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        read_seq: Seq,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE members SET read_seq = $3, delivered_seq = greatest(delivered_seq, $3) \
             WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation.0, &user.0, &read_seq.0],
        )
        .await
        .map(drop)
    }

    async fn push_event(
        &mut self,
        user: UserId,
        at: Timestamp,
        change: UserChange,
    ) -> StoreResult<UserEvent> {
        self.start_cursors().await?;
        let Some(cursors) = self.cursors.as_mut() else {
            return Err(StoreError::Unavailable("no transaction cursors".into()));
        };
        let event = append_user_event(&self.tx, cursors, user, at, change).await;
        self.note(event)
    }
}
