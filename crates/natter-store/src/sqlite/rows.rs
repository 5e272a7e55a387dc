//! Row mapping and the small steps that several use cases share.

use std::sync::Arc;

use natter_protocol::accounts::UserProfile;
use natter_protocol::conversations::{Message, MessageContent, Role};
use natter_protocol::sync::{UserChange, UserEvent};
use natter_protocol::{ClientMsgId, ConversationId, Seq, SyncCursor, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::db_error;
pub(super) use crate::names::{parse_role, role_name};
use crate::stored::{StoredChange, StoredContent, StoredForm};
use crate::{Changes, StoreError, StoreResult};

pub(super) const PROFILE_COLUMNS: &str = "u.id, u.username, u.display_name, u.created_at";

pub(super) fn profile_at(row: &Row<'_>, first: usize) -> rusqlite::Result<UserProfile> {
    Ok(UserProfile {
        id: UserId(row.get(first)?),
        username: row.get(first + 1)?,
        display_name: row.get(first + 2)?,
        created_at: Timestamp(row.get(first + 3)?),
    })
}

/// Every row of a (cached) query, each mapped by `map`.
pub(super) fn all_rows<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_map(params, map)?.collect())
        .map_err(db_error)
}

pub(super) fn find_profile(conn: &Connection, user: UserId) -> StoreResult<Option<UserProfile>> {
    conn.prepare_cached(&format!(
        "SELECT {PROFILE_COLUMNS} FROM users u WHERE u.id = ?1"
    ))
    .and_then(|mut stmt| {
        stmt.query_row([user.0], |row| profile_at(row, 0))
            .optional()
    })
    .map_err(db_error)
}

pub(super) fn get_profile(conn: &Connection, user: UserId) -> StoreResult<UserProfile> {
    find_profile(conn, user)?.ok_or(StoreError::NotFound)
}

/// Takes the next value of the sync clock.
///
/// An update and a read, not `UPDATE … RETURNING`: SQLite builds a temporary
/// table for every `RETURNING`, and this runs once per message (profiled: 8 % of
/// the writer thread's time went to `tick` that way).
pub(super) fn tick(conn: &Connection) -> StoreResult<i64> {
    conn.prepare_cached("UPDATE sync_clock SET value = value + 1 WHERE id = 1")
        .and_then(|mut stmt| stmt.execute([]))
        .and_then(|_| {
            conn.prepare_cached("SELECT value FROM sync_clock WHERE id = 1")?
                .query_row([], |row| row.get(0))
        })
        .map_err(db_error)
}

/// Appends an entry to a user's change stream and records it for publishing.
pub(super) fn push_event(
    conn: &Connection,
    changes: &mut Changes,
    user: UserId,
    at: Timestamp,
    change: UserChange,
) -> StoreResult<()> {
    let event = append_event(conn, user, at, change)?;
    changes.user_events.push((user, event));
    Ok(())
}

/// Appends an entry to a user's change stream; the entry with its cursor.
pub(super) fn append_event(
    conn: &Connection,
    user: UserId,
    at: Timestamp,
    change: UserChange,
) -> StoreResult<UserEvent> {
    let cursor = tick(conn)?;
    let json = to_json(&StoredChange::from(&change))?;
    conn.prepare_cached(
        "INSERT INTO user_events (cursor, user_id, at, change) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![cursor, user.0, at.0, json]))
    .map_err(db_error)?;
    Ok(UserEvent {
        cursor: SyncCursor(cursor),
        at,
        change,
    })
}

pub(super) fn to_json<T: StoredForm>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Unavailable(format!("encode: {e}")))
}

pub(super) fn from_json<T: StoredForm>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn member_role(
    conn: &Connection,
    conversation: ConversationId,
    user: UserId,
) -> StoreResult<Option<Role>> {
    conn.prepare_cached("SELECT role FROM members WHERE conversation_id = ?1 AND user_id = ?2")
        .and_then(|mut stmt| {
            stmt.query_row([conversation.0, user.0], |row| row.get::<_, String>(0))
                .optional()
        })
        .map(|role| role.map(|r| parse_role(&r)))
        .map_err(db_error)
}

/// The caller's role, or `NotFound` when the caller is not a member (which is
/// what a non-member must see whether or not the conversation exists).
pub(super) fn require_member(
    conn: &Connection,
    conversation: ConversationId,
    user: UserId,
) -> StoreResult<Role> {
    member_role(conn, conversation, user)?.ok_or(StoreError::NotFound)
}

pub(super) fn member_ids(
    conn: &Connection,
    conversation: ConversationId,
) -> StoreResult<Arc<[UserId]>> {
    let ids = all_rows(
        conn,
        "SELECT user_id FROM members WHERE conversation_id = ?1",
        [conversation.0],
        |row| row.get(0).map(UserId),
    )?;
    Ok(ids.into())
}

pub(super) fn is_group(conn: &Connection, conversation: ConversationId) -> StoreResult<bool> {
    conn.prepare_cached("SELECT kind FROM conversations WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([conversation.0], |row| row.get::<_, String>(0))
                .optional()
        })
        .map(|kind| kind.as_deref() == Some("group"))
        .map_err(db_error)
}

pub(super) const MESSAGE_COLUMNS: &str = "conversation_id, seq, sender_id, client_msg_id, sent_at, content, reply_to, \
     edited_at, recalled_at, expires_at";

pub(super) fn message_at(row: &Row<'_>) -> rusqlite::Result<Message> {
    let content: String = row.get(5)?;
    Ok(Message {
        conversation_id: ConversationId(row.get(0)?),
        seq: Seq(row.get(1)?),
        sender_id: UserId(row.get(2)?),
        client_msg_id: row.get::<_, Option<String>>(3)?.map(ClientMsgId),
        sent_at: Timestamp(row.get(4)?),
        content: from_json::<StoredContent>(&content)?.into(),
        reply_to: row.get::<_, Option<i64>>(6)?.map(Seq),
        edited_at: row.get::<_, Option<i64>>(7)?.map(Timestamp),
        recalled_at: row.get::<_, Option<i64>>(8)?.map(Timestamp),
        expires_at: row.get::<_, Option<i64>>(9)?.map(Timestamp),
    })
}

pub(super) fn find_message(
    conn: &Connection,
    conversation: ConversationId,
    seq: Seq,
) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND seq = ?2"
    ))
    .and_then(|mut stmt| {
        stmt.query_row([conversation.0, seq.0], message_at)
            .optional()
    })
    .map_err(db_error)
}

/// Stores a message with the conversation's next seq, in the caller's transaction.
/// Also moves the conversation's version (for sync) and the sender's read
/// position (sending implies having read what came before).
pub(super) fn insert_message(
    conn: &Connection,
    conversation: ConversationId,
    sender: UserId,
    client_msg_id: Option<&ClientMsgId>,
    content: MessageContent,
    reply_to: Option<Seq>,
    now: Timestamp,
) -> StoreResult<Message> {
    let version = tick(conn)?;
    // An update and a read rather than `RETURNING` (see `tick`).
    let updated = conn
        .prepare_cached(
            "UPDATE conversations SET last_seq = last_seq + 1, version = ?2, updated_at = ?3 \
             WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.execute(params![conversation.0, version, now.0]))
        .map_err(db_error)?;
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    let seq: i64 = conn
        .prepare_cached("SELECT last_seq FROM conversations WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([conversation.0], |row| row.get(0)))
        .map_err(db_error)?;
    let json = to_json(&StoredContent::from(&content))?;
    conn.prepare_cached(
        "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, sent_at, content, reply_to) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            conversation.0,
            seq,
            sender.0,
            client_msg_id.map(|id| id.0.as_str()),
            now.0,
            json,
            reply_to.map(|s| s.0)
        ])
    })
    .map_err(db_error)?;
    conn.prepare_cached(
        "UPDATE members SET read_seq = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
    )
    .and_then(|mut stmt| stmt.execute(params![conversation.0, sender.0, seq]))
    .map_err(db_error)?;
    Ok(Message {
        conversation_id: conversation,
        seq: Seq(seq),
        sender_id: sender,
        client_msg_id: client_msg_id.cloned(),
        sent_at: now,
        content,
        reply_to,
        edited_at: None,
        recalled_at: None,
        expires_at: None,
    })
}

pub(super) fn add_member(
    conn: &Connection,
    conversation: ConversationId,
    user: UserId,
    role: Role,
    now: Timestamp,
) -> StoreResult<()> {
    // A new member starts having "read" everything before they joined.
    conn.prepare_cached(
        "INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, delivered_seq) \
         SELECT ?1, ?2, ?3, ?4, last_seq, last_seq FROM conversations WHERE id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![conversation.0, user.0, role_name(role), now.0]))
    .map_err(db_error)?;
    conn.prepare_cached("UPDATE conversations SET member_count = member_count + 1 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([conversation.0]))
        .map_err(db_error)?;
    Ok(())
}

pub(super) fn delete_member(
    conn: &Connection,
    conversation: ConversationId,
    user: UserId,
) -> StoreResult<()> {
    let removed = conn
        .prepare_cached("DELETE FROM members WHERE conversation_id = ?1 AND user_id = ?2")
        .and_then(|mut stmt| stmt.execute([conversation.0, user.0]))
        .map_err(db_error)?;
    // The count moves only with a row, as on PostgreSQL: removing someone
    // who is not a member changes nothing.
    if removed == 0 {
        return Ok(());
    }
    conn.prepare_cached("UPDATE conversations SET member_count = member_count - 1 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([conversation.0]))
        .map_err(db_error)?;
    Ok(())
}

pub(super) fn are_friends(conn: &Connection, a: UserId, b: UserId) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT count(*) FROM friendships WHERE (user_id = ?1 AND friend_id = ?2) OR (user_id = ?2 AND friend_id = ?1)",
    )
    .and_then(|mut stmt| stmt.query_row([a.0, b.0], |row| row.get::<_, i64>(0)))
    .map(|n| n == 2)
    .map_err(db_error)
}

pub(super) fn has_blocked(conn: &Connection, user: UserId, target: UserId) -> StoreResult<bool> {
    conn.prepare_cached("SELECT 1 FROM blocks WHERE user_id = ?1 AND blocked_id = ?2")
        .and_then(|mut stmt| stmt.query_row([user.0, target.0], |_| Ok(())).optional())
        .map(|found| found.is_some())
        .map_err(db_error)
}

/// Cursor of a page: the sort key of its last row, integers joined by `:`.
pub(super) fn cursor_of(parts: &[i64]) -> String {
    parts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(":")
}

/// The `n` integers of a cursor made by [`cursor_of`]; `InvalidRequest` for
/// anything else.
pub(super) fn parse_cursor(cursor: &str, n: usize) -> StoreResult<Vec<i64>> {
    let parts: Option<Vec<i64>> = cursor.split(':').map(|p| p.parse().ok()).collect();
    match parts {
        Some(parts) if parts.len() == n => Ok(parts),
        _ => Err(StoreError::Rejected(crate::Rejection::BadCursor)),
    }
}

/// Cuts `rows` (fetched with one more than `limit`) to a page; the next
/// cursor, when there are more, is made from the last row kept.
pub(super) fn into_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> String,
) -> crate::Page<T> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(cursor) } else { None };
    crate::Page { items: rows, next }
}
