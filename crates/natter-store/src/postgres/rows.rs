//! Row mapping that several use cases share, and the page cursors.

use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::FriendRequest;
use natter_protocol::conversations::Message;
use natter_protocol::{ClientMsgId, ConversationId, FriendRequestId, Seq, Timestamp, UserId};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use super::db_error;
use super::encoding::decode_content;
pub(super) use crate::names::{kind_name, parse_role, parse_status, role_name, status_name};
use crate::txn::RequestRecord;
use crate::{FriendRecord, Page, Rejection, Relation, StoreError, StoreResult};

pub(super) const PROFILE_COLUMNS: &str = "u.id, u.username, u.display_name, u.created_at";

/// Column `index` of `row`.
pub(super) fn col<'r, T: FromSql<'r>>(row: &'r Row, index: usize) -> StoreResult<T> {
    row.try_get(index).map_err(db_error)
}

/// A profile from [`PROFILE_COLUMNS`] starting at column `first`.
pub(super) fn profile_at(row: &Row, first: usize) -> StoreResult<UserProfile> {
    Ok(UserProfile {
        id: UserId(col(row, first)?),
        username: col(row, first + 1)?,
        display_name: col(row, first + 2)?,
        created_at: Timestamp(col(row, first + 3)?),
    })
}

/// A count or a member count as the protocol holds it.
pub(super) fn count(value: i64) -> StoreResult<u32> {
    u32::try_from(value)
        .map_err(|_| StoreError::Unavailable(format!("a stored count out of range: {value}")))
}

/// Columns of a friend request `r` with its sender `f` and recipient `t`
/// (joined by [`REQUEST_JOINS`]).
pub(super) const REQUEST_COLUMNS: &str = "r.id, r.greeting, r.status, r.created_at, r.updated_at, r.hidden, \
     f.id, f.username, f.display_name, f.created_at, t.id, t.username, t.display_name, t.created_at";

pub(super) const REQUEST_JOINS: &str =
    "JOIN users f ON f.id = r.from_id JOIN users t ON t.id = r.to_id";

pub(super) fn request_at(row: &Row) -> StoreResult<RequestRecord> {
    let status: &str = col(row, 2)?;
    Ok(RequestRecord {
        request: FriendRequest {
            id: FriendRequestId(col(row, 0)?),
            greeting: col(row, 1)?,
            status: parse_status(status),
            created_at: Timestamp(col(row, 3)?),
            updated_at: Timestamp(col(row, 4)?),
            from: profile_at(row, 6)?,
            to: profile_at(row, 10)?,
        },
        hidden: col(row, 5)?,
    })
}

/// A friendship `fs` with the friend `u`; column 8 is the friend's username
/// key, the order of the friend list.
pub(super) const FRIEND_SELECT: &str = "SELECT u.id, u.username, u.display_name, u.created_at, fs.remark, fs.since, \
     u.last_seen_at, fs.conversation_id, u.username_key FROM friendships fs JOIN users u ON u.id = fs.friend_id";

pub(super) fn friend_at(row: &Row) -> StoreResult<FriendRecord> {
    Ok(FriendRecord {
        user: profile_at(row, 0)?,
        remark: col(row, 4)?,
        since: Timestamp(col(row, 5)?),
        last_seen_at: col::<Option<i64>>(row, 6)?.map(Timestamp),
        conversation_id: ConversationId(col(row, 7)?),
    })
}

/// How `$1` and `$2` stand to each other: one row, read as [`relation_of`].
pub(super) const RELATION_SELECT: &str = "SELECT \
     (SELECT count(*) FROM friendships \
      WHERE (user_id = $1 AND friend_id = $2) OR (user_id = $2 AND friend_id = $1)) = 2, \
     EXISTS (SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_id = $2), \
     EXISTS (SELECT 1 FROM blocks WHERE user_id = $2 AND blocked_id = $1)";

pub(super) fn relation_of(rows: &[Row]) -> StoreResult<Relation> {
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Unavailable("the relation query returned no row".into()))?;
    Ok(Relation {
        friends: col(row, 0)?,
        a_blocked_b: col(row, 1)?,
        b_blocked_a: col(row, 2)?,
    })
}

/// Columns of a message, for [`message_at`].
pub(super) const MESSAGE_COLUMNS: &str = "conversation_id, seq, sender_id, client_msg_id, sent_at, \
     content_kind, content, reply_to, edited_at, recalled_at, expires_at";

/// [`MESSAGE_COLUMNS`] of the table aliased `alias` in a join.
pub(super) fn message_columns_of(alias: &str) -> String {
    MESSAGE_COLUMNS
        .split(", ")
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A message from [`MESSAGE_COLUMNS`] starting at column `first`.
pub(super) fn message_at(row: &Row, first: usize) -> StoreResult<Message> {
    let kind: i16 = col(row, first + 5)?;
    let bytes: &[u8] = col(row, first + 6)?;
    Ok(Message {
        conversation_id: ConversationId(col(row, first)?),
        seq: Seq(col(row, first + 1)?),
        sender_id: UserId(col(row, first + 2)?),
        client_msg_id: col::<Option<String>>(row, first + 3)?.map(ClientMsgId),
        sent_at: Timestamp(col(row, first + 4)?),
        content: decode_content(kind, bytes)?,
        reply_to: col::<Option<i64>>(row, first + 7)?.map(Seq),
        edited_at: col::<Option<i64>>(row, first + 8)?.map(Timestamp),
        recalled_at: col::<Option<i64>>(row, first + 9)?.map(Timestamp),
        expires_at: col::<Option<i64>>(row, first + 10)?.map(Timestamp),
    })
}

/// Cursor of a page: the sort key of its last row, integers joined by `:`
/// (the form SQLite's pages use too).
pub(super) fn cursor_of(parts: &[i64]) -> String {
    parts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(":")
}

/// The `N` integers of a cursor made by [`cursor_of`]; `Rejected(BadCursor)`
/// for anything else.
pub(super) fn parse_cursor<const N: usize>(cursor: &str) -> StoreResult<[i64; N]> {
    let parts: Option<Vec<i64>> = cursor.split(':').map(|p| p.parse().ok()).collect();
    parts
        .and_then(|parts| <[i64; N]>::try_from(parts).ok())
        .ok_or(StoreError::Rejected(Rejection::BadCursor))
}

/// Cuts `rows` (fetched with one more than `limit`) to a page; the next
/// cursor, when there are more, is made from the last row kept.
pub(super) fn into_page<T>(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(cursor) } else { None };
    Page { items: rows, next }
}

/// One more than `limit`, to tell whether a page has more.
pub(super) fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_cursors_round_trip_and_anything_else_is_refused() {
        assert_eq!(parse_cursor::<2>(&cursor_of(&[5, -7])).ok(), Some([5, -7]));
        assert_eq!(
            parse_cursor::<3>(&cursor_of(&[0, i64::MIN, i64::MAX])).ok(),
            Some([0, i64::MIN, i64::MAX])
        );
        for bad in ["", "1", "1:2:3", "a:b", "1:", "1:2 "] {
            assert_eq!(
                parse_cursor::<2>(bad).err(),
                Some(StoreError::Rejected(Rejection::BadCursor)),
                "{bad:?}"
            );
        }
    }
}
