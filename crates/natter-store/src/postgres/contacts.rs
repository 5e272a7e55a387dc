//! Friend requests, friendships and blocks on PostgreSQL: the reads. Changes
//! are made by the contacts domain through [`crate::WriteTx`] (`txn.rs`).

use async_trait::async_trait;
use natter_protocol::UserId;
use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::FriendRequest;

use super::rows::{
    FRIEND_SELECT, PROFILE_COLUMNS, RELATION_SELECT, REQUEST_COLUMNS, REQUEST_JOINS, col,
    fetch_limit, friend_at, into_page, parse_cursor, profile_at, relation_of, request_at,
};
use super::{PgStore, query};
use crate::{
    ContactStore, FriendRecord, Page, PageRequest, Rejection, Relation, StoreError, StoreResult,
};

#[async_trait]
impl ContactStore for PgStore {
    async fn list_friend_requests(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<FriendRequest>> {
        // The cursor is the last request's id; the next page is older.
        let before = match &page.after {
            Some(after) => parse_cursor::<1>(after)?[0],
            None => i64::MAX,
        };
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM friend_requests r {REQUEST_JOINS} \
                 WHERE ((r.to_id = $1 AND NOT r.hidden) OR r.from_id = $1) \
                 AND r.status = 'pending' AND r.id < $2 ORDER BY r.id DESC LIMIT $3"
            ),
            &[&user.0, &before, &fetch_limit(page.limit)],
        )
        .await?
        .iter()
        .map(|row| request_at(row).map(|record| record.request))
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(into_page(rows, page.limit, |request| {
            request.id.0.to_string()
        }))
    }

    async fn list_friends(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<FriendRecord>> {
        // The cursor is the last friend's username key (they are unique);
        // PostgreSQL text cannot hold NUL, so no key the store gave out has one.
        let after = page.after.unwrap_or_default();
        if after.contains('\0') {
            return Err(StoreError::Rejected(Rejection::BadCursor));
        }
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!(
                "{FRIEND_SELECT} WHERE fs.user_id = $1 AND u.username_key > $2 \
                 ORDER BY u.username_key LIMIT $3"
            ),
            &[&user.0, &after, &fetch_limit(page.limit)],
        )
        .await?
        .iter()
        .map(|row| Ok((friend_at(row)?, col::<String>(row, 8)?)))
        .collect::<StoreResult<Vec<_>>>()?;
        let page = into_page(rows, page.limit, |(_, key)| key.clone());
        Ok(Page {
            items: page.items.into_iter().map(|(record, _)| record).collect(),
            next: page.next,
        })
    }

    async fn list_blocks(&self, user: UserId) -> StoreResult<Vec<UserProfile>> {
        let client = self.client().await?;
        query(
            &client,
            &format!(
                "SELECT {PROFILE_COLUMNS} FROM blocks b JOIN users u ON u.id = b.blocked_id \
                 WHERE b.user_id = $1 ORDER BY u.username_key"
            ),
            &[&user.0],
        )
        .await?
        .iter()
        .map(|row| profile_at(row, 0))
        .collect()
    }

    async fn relation(&self, a: UserId, b: UserId) -> StoreResult<Relation> {
        let client = self.client().await?;
        relation_of(&query(&client, RELATION_SELECT, &[&a.0, &b.0]).await?)
    }

    async fn list_presence_audience(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        let client = self.client().await?;
        query(
            &client,
            "SELECT fs.friend_id FROM friendships fs WHERE fs.user_id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM blocks b WHERE b.user_id = $1 AND b.blocked_id = fs.friend_id) \
             ORDER BY fs.friend_id",
            &[&user.0],
        )
        .await?
        .iter()
        .map(|row| col(row, 0).map(UserId))
        .collect()
    }
}
