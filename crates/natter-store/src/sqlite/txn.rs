//! [`WriteTx`] on SQLite: the facts and rows of a domain's transaction body,
//! run on the writer thread inside the job's savepoint. The one writer makes
//! every transaction serial, so the locks that `relation` and `membership`
//! promise are already held.

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::{FriendRequest, FriendRequestStatus};
use natter_protocol::conversations::{Message, Role};
use natter_protocol::sync::{UserChange, UserEvent};
use natter_protocol::{ClientMsgId, ConversationId, FriendRequestId, Seq, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::db_error;
use super::rows::{
    MESSAGE_COLUMNS, add_member, all_rows, delete_member, find_profile, insert_message, member_ids,
    member_role, message_at, parse_role, profile_at, role_name, tick,
};
use crate::names::{kind_name, parse_status, status_name};
use crate::txn::{Membership, MessageRow, RequestRecord, WriteTx};
use crate::{FriendRecord, Relation, StoreError, StoreResult};

pub(super) struct SqliteTx<'c> {
    // `&mut`: a shared reference to a connection could not leave the thread
    // (it is not `Sync`), and the body's future must be `Send`.
    pub(super) conn: &'c mut Connection,
}

pub(super) const REQUEST_SELECT: &str = "SELECT r.id, r.greeting, r.status, r.created_at, r.updated_at, r.hidden, \
     f.id, f.username, f.display_name, f.created_at, t.id, t.username, t.display_name, t.created_at \
     FROM friend_requests r JOIN users f ON f.id = r.from_id JOIN users t ON t.id = r.to_id";

pub(super) fn request_at(row: &Row<'_>) -> rusqlite::Result<RequestRecord> {
    let status: String = row.get(2)?;
    Ok(RequestRecord {
        request: FriendRequest {
            id: FriendRequestId(row.get(0)?),
            greeting: row.get(1)?,
            status: parse_status(&status),
            created_at: Timestamp(row.get(3)?),
            updated_at: Timestamp(row.get(4)?),
            from: profile_at(row, 6)?,
            to: profile_at(row, 10)?,
        },
        hidden: row.get(5)?,
    })
}

pub(super) const FRIEND_SELECT: &str = "SELECT u.id, u.username, u.display_name, u.created_at, fs.remark, fs.since, \
     u.last_seen_at, fs.conversation_id, u.username_key FROM friendships fs JOIN users u ON u.id = fs.friend_id";

pub(super) fn friend_at(row: &Row<'_>) -> rusqlite::Result<FriendRecord> {
    Ok(FriendRecord {
        user: profile_at(row, 0)?,
        remark: row.get(4)?,
        since: Timestamp(row.get(5)?),
        last_seen_at: row.get::<_, Option<i64>>(6)?.map(Timestamp),
        conversation_id: ConversationId(row.get(7)?),
    })
}

/// Runs one statement that changes rows; how many it changed.
fn execute<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(db_error)
}

#[async_trait]
impl WriteTx for SqliteTx<'_> {
    async fn profile(&mut self, user: UserId) -> StoreResult<Option<UserProfile>> {
        find_profile(self.conn, user)
    }

    async fn relation(&mut self, a: UserId, b: UserId) -> StoreResult<Relation> {
        // One statement: it runs for every direct message.
        self.conn
            .prepare_cached(
                // Two primary-key seeks, not an OR over the table.
                "SELECT \
                   EXISTS (SELECT 1 FROM friendships WHERE user_id = ?1 AND friend_id = ?2) \
                     AND EXISTS (SELECT 1 FROM friendships WHERE user_id = ?2 AND friend_id = ?1), \
                   EXISTS (SELECT 1 FROM blocks WHERE user_id = ?1 AND blocked_id = ?2), \
                   EXISTS (SELECT 1 FROM blocks WHERE user_id = ?2 AND blocked_id = ?1)",
            )
            .and_then(|mut stmt| {
                stmt.query_row([a.0, b.0], |row| {
                    Ok(Relation {
                        friends: row.get(0)?,
                        a_blocked_b: row.get(1)?,
                        b_blocked_a: row.get(2)?,
                    })
                })
            })
            .map_err(db_error)
    }

    async fn friend_request(&mut self, id: FriendRequestId) -> StoreResult<Option<RequestRecord>> {
        self.conn
            .prepare_cached(&format!("{REQUEST_SELECT} WHERE r.id = ?1"))
            .and_then(|mut stmt| stmt.query_row([id.0], request_at).optional())
            .map_err(db_error)
    }

    async fn pending_requests(&mut self, a: UserId, b: UserId) -> StoreResult<Vec<RequestRecord>> {
        all_rows(
            self.conn,
            &format!(
                "{REQUEST_SELECT} WHERE r.status = 'pending' \
                 AND ((r.from_id = ?1 AND r.to_id = ?2) OR (r.from_id = ?2 AND r.to_id = ?1)) ORDER BY r.id"
            ),
            [a.0, b.0],
            request_at,
        )
    }

    async fn insert_friend_request(
        &mut self,
        from: UserId,
        to: UserId,
        greeting: String,
        hidden: bool,
        now: Timestamp,
    ) -> StoreResult<RequestRecord> {
        let id: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO friend_requests (from_id, to_id, greeting, status, hidden, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5) RETURNING id",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![from.0, to.0, greeting, hidden, now.0], |row| row.get(0))
            })
            .map_err(db_error)?;
        self.friend_request(FriendRequestId(id))
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn update_friend_request(
        &mut self,
        id: FriendRequestId,
        status: FriendRequestStatus,
        hidden: bool,
        now: Timestamp,
    ) -> StoreResult<()> {
        execute(
            self.conn,
            "UPDATE friend_requests SET status = ?2, hidden = ?3, updated_at = ?4 WHERE id = ?1",
            params![id.0, status_name(status), hidden, now.0],
        )
        .map(drop)
    }

    async fn insert_friendship(
        &mut self,
        a: UserId,
        b: UserId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> StoreResult<()> {
        for (user, friend) in [(a, b), (b, a)] {
            execute(
                self.conn,
                "INSERT OR IGNORE INTO friendships (user_id, friend_id, since, conversation_id) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![user.0, friend.0, now.0, conversation.0],
            )?;
        }
        Ok(())
    }

    async fn delete_friendship(&mut self, a: UserId, b: UserId) -> StoreResult<bool> {
        execute(
            self.conn,
            "DELETE FROM friendships WHERE (user_id = ?1 AND friend_id = ?2) \
             OR (user_id = ?2 AND friend_id = ?1)",
            [a.0, b.0],
        )
        .map(|deleted| deleted > 0)
    }

    async fn friend(&mut self, user: UserId, friend: UserId) -> StoreResult<Option<FriendRecord>> {
        self.conn
            .prepare_cached(&format!(
                "{FRIEND_SELECT} WHERE fs.user_id = ?1 AND fs.friend_id = ?2"
            ))
            .and_then(|mut stmt| stmt.query_row([user.0, friend.0], friend_at).optional())
            .map_err(db_error)
    }

    async fn set_remark(
        &mut self,
        user: UserId,
        friend: UserId,
        remark: Option<String>,
    ) -> StoreResult<bool> {
        execute(
            self.conn,
            "UPDATE friendships SET remark = ?3 WHERE user_id = ?1 AND friend_id = ?2",
            params![user.0, friend.0, remark],
        )
        .map(|updated| updated > 0)
    }

    async fn insert_block(
        &mut self,
        user: UserId,
        target: UserId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        execute(
            self.conn,
            "INSERT OR IGNORE INTO blocks (user_id, blocked_id, created_at) VALUES (?1, ?2, ?3)",
            params![user.0, target.0, now.0],
        )
        .map(|inserted| inserted > 0)
    }

    async fn delete_block(&mut self, user: UserId, target: UserId) -> StoreResult<bool> {
        execute(
            self.conn,
            "DELETE FROM blocks WHERE user_id = ?1 AND blocked_id = ?2",
            [user.0, target.0],
        )
        .map(|deleted| deleted > 0)
    }

    async fn direct_conversation(
        &mut self,
        a: UserId,
        b: UserId,
        now: Timestamp,
    ) -> StoreResult<ConversationId> {
        let conn = &*self.conn;
        let key = format!("{}:{}", a.0.min(b.0), a.0.max(b.0));
        let existing = conn
            .prepare_cached("SELECT id FROM conversations WHERE direct_key = ?1")
            .and_then(|mut stmt| stmt.query_row([&key], |row| row.get(0)).optional())
            .map_err(db_error)?;
        if let Some(id) = existing {
            return Ok(ConversationId(id));
        }
        let version = tick(conn)?;
        let id: i64 = conn
            .prepare_cached(
                "INSERT INTO conversations (kind, direct_key, version, created_at, updated_at) \
                 VALUES ('direct', ?1, ?2, ?3, ?3) RETURNING id",
            )
            .and_then(|mut stmt| stmt.query_row(params![key, version, now.0], |row| row.get(0)))
            .map_err(db_error)?;
        let id = ConversationId(id);
        add_member(conn, id, a, Role::Member, now)?;
        if a != b {
            add_member(conn, id, b, Role::Member, now)?;
        }
        Ok(id)
    }

    async fn membership(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Membership>> {
        self.conn
            .prepare_cached(
                "SELECT c.kind, m.role, c.last_seq, c.member_count, m.read_seq, \
                   CASE WHEN c.kind = 'direct' THEN (SELECT o.user_id FROM members o \
                     WHERE o.conversation_id = c.id AND o.user_id != m.user_id LIMIT 1) END \
                 FROM members m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.conversation_id = ?1 AND m.user_id = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row([conversation.0, user.0], |row| {
                    Ok(Membership {
                        kind: kind_name(&row.get::<_, String>(0)?),
                        role: parse_role(&row.get::<_, String>(1)?),
                        last_seq: Seq(row.get(2)?),
                        member_count: row.get(3)?,
                        read_seq: Seq(row.get(4)?),
                        peer: row.get::<_, Option<i64>>(5)?.map(UserId),
                    })
                })
                .optional()
            })
            .map_err(db_error)
    }

    async fn role(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Role>> {
        member_role(self.conn, conversation, user)
    }

    async fn member_ids(&mut self, conversation: ConversationId) -> StoreResult<Arc<[UserId]>> {
        member_ids(self.conn, conversation)
    }

    async fn group_count(&mut self, user: UserId) -> StoreResult<u32> {
        self.conn
            .prepare_cached(
                "SELECT count(*) FROM members m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.user_id = ?1 AND c.kind = 'group'",
            )
            .and_then(|mut stmt| stmt.query_row([user.0], |row| row.get(0)))
            .map_err(db_error)
    }

    async fn sent_message(
        &mut self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> StoreResult<Option<Message>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages \
                 WHERE conversation_id = ?1 AND sender_id = ?2 AND client_msg_id = ?3"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![conversation.0, sender.0, client_msg_id.0],
                    message_at,
                )
                .optional()
            })
            .map_err(db_error)
    }

    async fn insert_message(&mut self, message: MessageRow) -> StoreResult<Message> {
        insert_message(
            self.conn,
            message.conversation,
            message.sender,
            message.client_msg_id.as_ref(),
            message.content,
            message.reply_to,
            message.now,
        )
    }

    async fn authors_between(
        &mut self,
        conversation: ConversationId,
        after: Seq,
        upto: Seq,
        except: UserId,
    ) -> StoreResult<Vec<UserId>> {
        all_rows(
            self.conn,
            "SELECT DISTINCT m.sender_id FROM messages m \
             JOIN members x ON x.conversation_id = m.conversation_id AND x.user_id = m.sender_id \
             WHERE m.conversation_id = ?1 AND m.seq > ?2 AND m.seq <= ?3 AND m.sender_id != ?4",
            params![conversation.0, after.0, upto.0, except.0],
            |row| row.get(0).map(UserId),
        )
    }

    async fn insert_group(&mut self, name: String, now: Timestamp) -> StoreResult<ConversationId> {
        let version = tick(self.conn)?;
        self.conn
            .prepare_cached(
                "INSERT INTO conversations (kind, name, version, created_at, updated_at) \
                 VALUES ('group', ?1, ?2, ?3, ?3) RETURNING id",
            )
            .and_then(|mut stmt| stmt.query_row(params![name, version, now.0], |row| row.get(0)))
            .map(ConversationId)
            .map_err(db_error)
    }

    async fn set_group_name(
        &mut self,
        conversation: ConversationId,
        name: String,
    ) -> StoreResult<()> {
        execute(
            self.conn,
            "UPDATE conversations SET name = ?2 WHERE id = ?1",
            params![conversation.0, name],
        )
        .map(drop)
    }

    async fn set_announcement(
        &mut self,
        conversation: ConversationId,
        announcement: Option<String>,
    ) -> StoreResult<()> {
        execute(
            self.conn,
            "UPDATE conversations SET announcement = ?2 WHERE id = ?1",
            params![conversation.0, announcement],
        )
        .map(drop)
    }

    async fn insert_member(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        role: Role,
        now: Timestamp,
    ) -> StoreResult<()> {
        add_member(self.conn, conversation, user, role, now)
    }

    async fn delete_member(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<()> {
        delete_member(self.conn, conversation, user)
    }

    async fn set_member_role(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        role: Role,
    ) -> StoreResult<()> {
        execute(
            self.conn,
            "UPDATE members SET role = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            params![conversation.0, user.0, role_name(role)],
        )
        .map(drop)
    }

    async fn set_read(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        read_seq: Seq,
    ) -> StoreResult<()> {
        execute(
            self.conn,
            "UPDATE members SET read_seq = ?3, delivered_seq = max(delivered_seq, ?3) \
             WHERE conversation_id = ?1 AND user_id = ?2",
            params![conversation.0, user.0, read_seq.0],
        )
        .map(drop)
    }

    async fn push_event(
        &mut self,
        user: UserId,
        at: Timestamp,
        change: UserChange,
    ) -> StoreResult<UserEvent> {
        super::rows::append_event(self.conn, user, at, change)
    }
}
