//! Conversations, members and timelines on SQLite: the reads. Changes are
//! made by the conversations domain through [`crate::WriteTx`] (`txn.rs`).

use async_trait::async_trait;
use natter_protocol::conversations::{
    ConversationKind, ConversationSummary, HistoryQuery, Member, MessagePage,
};
use natter_protocol::limits::{PAGE_DEFAULT, PAGE_MAX};
use natter_protocol::{ConversationId, Seq, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{
    MESSAGE_COLUMNS, PROFILE_COLUMNS, all_rows, cursor_of, find_message, into_page, is_group,
    member_ids, message_at, parse_cursor, parse_role, profile_at, require_member,
};
use super::{SqliteStore, db_error};
use crate::{ConversationStore, MemberIds, Page, PageRequest, StoreError, StoreResult};

const SUMMARY_SELECT: &str = "SELECT c.id, c.kind, c.name, c.announcement, c.member_count, c.last_seq, \
     c.created_at, c.updated_at, m.role, m.read_seq, c.version \
     FROM members m JOIN conversations c ON c.id = m.conversation_id";

/// Summaries of the user's conversations matching `filter` (SQL over `c` and `m`,
/// with `?1` the user and `?2` the argument), newest activity first.
pub(super) fn summaries(
    conn: &Connection,
    user: UserId,
    filter: &str,
    arg: i64,
) -> StoreResult<Vec<ConversationSummary>> {
    Ok(
        summaries_ordered(conn, user, filter, arg, "c.updated_at DESC", None)?
            .into_iter()
            .map(|(_, summary)| summary)
            .collect(),
    )
}

/// The user's conversations whose sync version is above `after`, lowest
/// version first, at most `limit`, each with its version.
pub(super) fn changed_after(
    conn: &Connection,
    user: UserId,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<(i64, ConversationSummary)>> {
    summaries_ordered(
        conn,
        user,
        "c.version > ?2",
        after,
        "c.version",
        Some(limit),
    )
}

fn summaries_ordered(
    conn: &Connection,
    user: UserId,
    filter: &str,
    arg: i64,
    order: &str,
    limit: Option<u32>,
) -> StoreResult<Vec<(i64, ConversationSummary)>> {
    struct Head {
        id: ConversationId,
        kind: ConversationKind,
        name: String,
        announcement: Option<String>,
        member_count: u32,
        last_seq: i64,
        created_at: i64,
        updated_at: i64,
        role: String,
        read_seq: i64,
        version: i64,
    }
    let limit = limit.map_or(-1, i64::from);
    let sql = format!(
        "{SUMMARY_SELECT} WHERE m.user_id = ?1 AND {filter} ORDER BY {order} LIMIT {limit}"
    );
    let heads = all_rows(conn, &sql, params![user.0, arg], |row| {
        let kind: String = row.get(1)?;
        Ok(Head {
            id: ConversationId(row.get(0)?),
            kind: if kind == "group" {
                ConversationKind::Group
            } else {
                ConversationKind::Direct
            },
            name: row.get(2)?,
            announcement: row.get(3)?,
            member_count: row.get(4)?,
            last_seq: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
            role: row.get(8)?,
            read_seq: row.get(9)?,
            version: row.get(10)?,
        })
    })?;
    let mut out = Vec::with_capacity(heads.len());
    for head in heads {
        let last_message = if head.last_seq > 0 {
            find_message(conn, head.id, Seq(head.last_seq))?
        } else {
            None
        };
        let peer = if head.kind == ConversationKind::Direct {
            direct_peer(conn, head.id, user)?
        } else {
            None
        };
        let name = match &peer {
            Some(peer) => peer.display_name.clone(),
            None => head.name,
        };
        out.push((
            head.version,
            ConversationSummary {
                id: head.id,
                kind: head.kind,
                name,
                peer,
                announcement: head.announcement,
                member_count: head.member_count,
                my_role: Some(parse_role(&head.role)),
                last_seq: Seq(head.last_seq),
                read_seq: Seq(head.read_seq),
                unread: u32::try_from((head.last_seq - head.read_seq).max(0)).unwrap_or(u32::MAX),
                last_message,
                created_at: Timestamp(head.created_at),
                updated_at: Timestamp(head.updated_at),
            },
        ));
    }
    Ok(out)
}

fn direct_peer(
    conn: &Connection,
    conversation: ConversationId,
    user: UserId,
) -> StoreResult<Option<natter_protocol::accounts::UserProfile>> {
    conn.prepare_cached(&format!(
        "SELECT {PROFILE_COLUMNS} FROM members m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = ?1 AND m.user_id != ?2"
    ))
    .and_then(|mut stmt| {
        stmt.query_row([conversation.0, user.0], |row| profile_at(row, 0))
            .optional()
    })
    .map_err(db_error)
}

fn kind_of(conn: &Connection, conversation: ConversationId) -> StoreResult<ConversationKind> {
    Ok(if is_group(conn, conversation)? {
        ConversationKind::Group
    } else {
        ConversationKind::Direct
    })
}

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn page_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        query: HistoryQuery,
    ) -> StoreResult<MessagePage> {
        self.read(move |conn| {
            require_member(conn, conversation, user)?;
            let limit = i64::from(query.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX));
            let after = query.after.map_or(0, |s| s.0);
            let before = query.before.map_or(i64::MAX, |s| s.0);
            // Without `after`, read backwards from `before` (or the end); with it, forwards.
            let (sql, descending) = if query.after.is_some() {
                ("seq > ?2 AND seq < ?3 ORDER BY seq ASC", false)
            } else {
                ("seq > ?2 AND seq < ?3 ORDER BY seq DESC", true)
            };
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND {sql} LIMIT ?4"
            );
            let params = params![conversation.0, after, before, limit + 1];
            let mut messages = all_rows(conn, &sql, params, message_at)?;
            let has_more = messages.len() as i64 > limit;
            messages.truncate(limit as usize);
            if descending {
                messages.reverse();
            }
            Ok(MessagePage { messages, has_more })
        })
        .await
    }

    async fn list_conversations(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<ConversationSummary>> {
        self.read(move |conn| {
            // Newest activity first; the cursor is the last one's (updated_at, id).
            let filter = match page.after.as_deref().map(|c| parse_cursor(c, 2)) {
                None => "?2 = ?2".to_owned(),
                Some(cursor) => {
                    let [at, id] = cursor?[..] else {
                        return Err(StoreError::Rejected(crate::Rejection::BadCursor));
                    };
                    format!("(c.updated_at, c.id) < ({at}, {id}) AND ?2 = ?2")
                }
            };
            let rows = summaries_ordered(
                conn,
                user,
                &filter,
                0,
                "c.updated_at DESC, c.id DESC",
                Some(page.limit + 1),
            )?;
            let page = into_page(rows, page.limit, |(_, c)| {
                cursor_of(&[c.updated_at.0, c.id.0])
            });
            Ok(Page {
                items: page.items.into_iter().map(|(_, c)| c).collect(),
                next: page.next,
            })
        })
        .await
    }

    async fn get_conversation(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<ConversationSummary> {
        self.read(move |conn| {
            summaries(conn, user, "c.id = ?2", conversation.0)?
                .pop()
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn list_members(
        &self,
        user: UserId,
        conversation: ConversationId,
        page: PageRequest,
    ) -> StoreResult<Page<Member>> {
        self.read(move |conn| {
            require_member(conn, conversation, user)?;
            // Owner, admins, members, each by joining time; the cursor is the
            // last one's (rank, joined_at, id).
            let (rank, joined, id) = match page.after.as_deref().map(|c| parse_cursor(c, 3)) {
                None => (-1, i64::MIN, i64::MIN),
                Some(cursor) => {
                    let [rank, joined, id] = cursor?[..] else {
                        return Err(StoreError::Rejected(crate::Rejection::BadCursor));
                    };
                    (rank, joined, id)
                }
            };
            let sql = format!(
                "SELECT {PROFILE_COLUMNS}, m.role, m.joined_at, m.read_seq, \
                 CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END AS rank FROM members m \
                 JOIN users u ON u.id = m.user_id WHERE m.conversation_id = ?1 \
                 AND (rank, m.joined_at, u.id) > (?2, ?3, ?4) \
                 ORDER BY rank, m.joined_at, u.id LIMIT ?5"
            );
            let rows = all_rows(
                conn,
                &sql,
                params![conversation.0, rank, joined, id, i64::from(page.limit) + 1],
                |row| {
                    let role: String = row.get(4)?;
                    Ok((
                        Member {
                            user: profile_at(row, 0)?,
                            role: parse_role(&role),
                            joined_at: Timestamp(row.get(5)?),
                            read_seq: Seq(row.get(6)?),
                        },
                        row.get::<_, i64>(7)?,
                    ))
                },
            )?;
            let page = into_page(rows, page.limit, |(m, rank)| {
                cursor_of(&[*rank, m.joined_at.0, m.user.id.0])
            });
            Ok(Page {
                items: page.items.into_iter().map(|(m, _)| m).collect(),
                next: page.next,
            })
        })
        .await
    }

    async fn conversation_kind(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<ConversationKind> {
        self.read(move |conn| {
            require_member(conn, conversation, user)?;
            kind_of(conn, conversation)
        })
        .await
    }

    async fn member_ids(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<MemberIds> {
        self.read(move |conn| {
            require_member(conn, conversation, user)?;
            Ok(MemberIds {
                kind: kind_of(conn, conversation)?,
                ids: member_ids(conn, conversation)?,
            })
        })
        .await
    }
}
