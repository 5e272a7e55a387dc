//! Conversations, members and timelines on PostgreSQL: the reads. Changes
//! are made by the conversations domain through [`crate::WriteTx`] (`txn.rs`).

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use natter_protocol::conversations::{
    ConversationKind, ConversationSummary, HistoryQuery, Member, MessagePage,
};
use natter_protocol::limits::{PAGE_DEFAULT, PAGE_MAX};
use natter_protocol::{ConversationId, Seq, Timestamp, UserId};
use tokio_postgres::types::ToSql;

use super::rows::{
    MESSAGE_COLUMNS, PROFILE_COLUMNS, col, count, cursor_of, fetch_limit, into_page, kind_name,
    message_at, message_columns_of, parse_cursor, parse_role, profile_at,
};
use super::{PgStore, query, query_opt};
use crate::{ConversationStore, MemberIds, Page, PageRequest, StoreError, StoreResult};

/// A summary per row: the conversation `c`, the caller's membership `m`,
/// the peer `p` of a direct conversation and the last message `lm`, in one
/// statement (one snapshot, one round trip; SQLite asks per conversation).
static SUMMARY_SELECT: LazyLock<String> = LazyLock::new(|| {
    let last_message = message_columns_of("lm");
    format!(
        "SELECT c.id, c.kind, c.name, c.announcement, c.member_count, c.last_seq, \
         c.created_at, c.updated_at, m.role, m.read_seq, c.version, \
         p.id, p.username, p.display_name, p.created_at, {last_message} \
         FROM members m JOIN conversations c ON c.id = m.conversation_id \
         LEFT JOIN LATERAL ( \
             SELECT {PROFILE_COLUMNS} FROM members pm JOIN users u ON u.id = pm.user_id \
             WHERE c.kind = 'direct' AND pm.conversation_id = c.id AND pm.user_id <> m.user_id \
             ORDER BY pm.user_id LIMIT 1) p ON true \
         LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq"
    )
});

/// The user's conversations matching `filter` (SQL over `c` and `m`, its
/// parameters from `$3` on), in `order`, at most `limit` (all for `None`),
/// each with its sync version.
pub(super) async fn summaries<C: GenericClient>(
    client: &C,
    user: UserId,
    filter: &str,
    args: &[&(dyn ToSql + Sync)],
    order: &str,
    limit: Option<u32>,
) -> StoreResult<Vec<(i64, ConversationSummary)>> {
    let sql = format!(
        "{} WHERE m.user_id = $1 AND {filter} ORDER BY {order} LIMIT $2",
        *SUMMARY_SELECT
    );
    // `LIMIT NULL` is no limit.
    let limit = limit.map(i64::from);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&user.0, &limit];
    params.extend_from_slice(args);
    query(client, &sql, &params)
        .await?
        .iter()
        .map(|row| {
            let kind = kind_name(col(row, 1)?);
            let peer = match col::<Option<i64>>(row, 11)? {
                Some(_) => Some(profile_at(row, 11)?),
                None => None,
            };
            let last_message = match col::<Option<i64>>(row, 15)? {
                Some(_) => Some(message_at(row, 15)?),
                None => None,
            };
            let name = match &peer {
                Some(peer) => peer.display_name.clone(),
                None => col(row, 2)?,
            };
            let last_seq: i64 = col(row, 5)?;
            let read_seq: i64 = col(row, 9)?;
            let summary = ConversationSummary {
                id: ConversationId(col(row, 0)?),
                kind,
                name,
                peer,
                announcement: col(row, 3)?,
                member_count: count(col(row, 4)?)?,
                my_role: Some(parse_role(col(row, 8)?)),
                last_seq: Seq(last_seq),
                read_seq: Seq(read_seq),
                unread: u32::try_from((last_seq - read_seq).max(0)).unwrap_or(u32::MAX),
                last_message,
                created_at: Timestamp(col(row, 6)?),
                updated_at: Timestamp(col(row, 7)?),
            };
            Ok((col(row, 10)?, summary))
        })
        .collect()
}

/// The caller's role, or `NotFound` when the caller is not a member (which is
/// what a non-member must see whether or not the conversation exists).
async fn require_member<C: GenericClient>(
    client: &C,
    conversation: ConversationId,
    user: UserId,
) -> StoreResult<()> {
    query_opt(
        client,
        "SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2",
        &[&conversation.0, &user.0],
    )
    .await?
    .map(drop)
    .ok_or(StoreError::NotFound)
}

/// The kind of a conversation the user is a member of.
async fn member_kind<C: GenericClient>(
    client: &C,
    conversation: ConversationId,
    user: UserId,
) -> StoreResult<ConversationKind> {
    let row = query_opt(
        client,
        "SELECT c.kind FROM conversations c JOIN members m ON m.conversation_id = c.id \
         WHERE c.id = $1 AND m.user_id = $2",
        &[&conversation.0, &user.0],
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(kind_name(col(&row, 0)?))
}

#[async_trait]
impl ConversationStore for PgStore {
    async fn page_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        history: HistoryQuery,
    ) -> StoreResult<MessagePage> {
        let client = self.client().await?;
        require_member(&client, conversation, user).await?;
        let limit = i64::from(history.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX));
        let after = history.after.map_or(0, |s| s.0);
        let before = history.before.map_or(i64::MAX, |s| s.0);
        // Without `after`, read backwards from `before` (or the end); with it, forwards.
        let descending = history.after.is_none();
        let order = if descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 \
             AND seq > $2 AND seq < $3 ORDER BY seq {order} LIMIT $4"
        );
        let mut messages = query(
            &client,
            &sql,
            &[&conversation.0, &after, &before, &(limit + 1)],
        )
        .await?
        .iter()
        .map(|row| message_at(row, 0))
        .collect::<StoreResult<Vec<_>>>()?;
        let has_more = messages.len() as i64 > limit;
        messages.truncate(limit as usize);
        if descending {
            messages.reverse();
        }
        Ok(MessagePage { messages, has_more })
    }

    async fn list_conversations(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<ConversationSummary>> {
        // Newest activity first; the cursor is the last one's (updated_at, id).
        let [at, id] = match page.after.as_deref() {
            None => [i64::MAX, i64::MAX],
            Some(cursor) => parse_cursor::<2>(cursor)?,
        };
        let client = self.client().await?;
        let rows = summaries(
            &client,
            user,
            "(c.updated_at, c.id) < ($3, $4)",
            &[&at, &id],
            "c.updated_at DESC, c.id DESC",
            Some(page.limit.saturating_add(1)),
        )
        .await?;
        let page = into_page(rows, page.limit, |(_, c)| {
            cursor_of(&[c.updated_at.0, c.id.0])
        });
        Ok(Page {
            items: page.items.into_iter().map(|(_, c)| c).collect(),
            next: page.next,
        })
    }

    async fn get_conversation(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<ConversationSummary> {
        let client = self.client().await?;
        summaries(&client, user, "c.id = $3", &[&conversation.0], "c.id", None)
            .await?
            .pop()
            .map(|(_, summary)| summary)
            .ok_or(StoreError::NotFound)
    }

    async fn list_members(
        &self,
        user: UserId,
        conversation: ConversationId,
        page: PageRequest,
    ) -> StoreResult<Page<Member>> {
        // Owner, admins, members, each by joining time; the cursor is the
        // last one's (rank, joined_at, id).
        let [rank, joined, id] = match page.after.as_deref() {
            None => [-1, i64::MIN, i64::MIN],
            Some(cursor) => parse_cursor::<3>(cursor)?,
        };
        let client = self.client().await?;
        require_member(&client, conversation, user).await?;
        let sql = format!(
            "SELECT * FROM ( \
                 SELECT {PROFILE_COLUMNS}, m.role, m.joined_at, m.read_seq, \
                     CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END::bigint AS rank \
                 FROM members m JOIN users u ON u.id = m.user_id WHERE m.conversation_id = $1) x \
             WHERE (x.rank, x.joined_at, x.id) > ($2, $3, $4) \
             ORDER BY x.rank, x.joined_at, x.id LIMIT $5"
        );
        let rows = query(
            &client,
            &sql,
            &[
                &conversation.0,
                &rank,
                &joined,
                &id,
                &fetch_limit(page.limit),
            ],
        )
        .await?
        .iter()
        .map(|row| {
            Ok((
                Member {
                    user: profile_at(row, 0)?,
                    role: parse_role(col(row, 4)?),
                    joined_at: Timestamp(col(row, 5)?),
                    read_seq: Seq(col(row, 6)?),
                },
                col::<i64>(row, 7)?,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let page = into_page(rows, page.limit, |(m, rank)| {
            cursor_of(&[*rank, m.joined_at.0, m.user.id.0])
        });
        Ok(Page {
            items: page.items.into_iter().map(|(m, _)| m).collect(),
            next: page.next,
        })
    }

    async fn conversation_kind(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<ConversationKind> {
        let client = self.client().await?;
        member_kind(&client, conversation, user).await
    }

    async fn member_ids(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<MemberIds> {
        let client = self.client().await?;
        let kind = member_kind(&client, conversation, user).await?;
        let ids = query(
            &client,
            "SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY user_id",
            &[&conversation.0],
        )
        .await?
        .iter()
        .map(|row| col(row, 0).map(UserId))
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(MemberIds {
            kind,
            ids: ids.into(),
        })
    }
}
