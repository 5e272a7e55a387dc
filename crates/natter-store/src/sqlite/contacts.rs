//! Friend requests, friendships and blocks on SQLite: the reads. Changes are
//! made by the contacts domain through [`crate::WriteTx`] (`txn.rs`).

use async_trait::async_trait;
use natter_protocol::UserId;
use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::FriendRequest;
use rusqlite::params;

use super::SqliteStore;
use super::rows::{
    PROFILE_COLUMNS, all_rows, are_friends, has_blocked, into_page, parse_cursor, profile_at,
};
use super::txn::{FRIEND_SELECT, REQUEST_SELECT, friend_at, request_at};
use crate::{ContactStore, FriendRecord, Page, PageRequest, Relation, StoreResult};

#[async_trait]
impl ContactStore for SqliteStore {
    async fn list_friend_requests(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<FriendRequest>> {
        self.read(move |conn| {
            // The cursor is the last request's id; the next page is older.
            let before = match &page.after {
                Some(after) => parse_cursor(after, 1)?[0],
                None => i64::MAX,
            };
            let sql = format!(
                "{REQUEST_SELECT} WHERE ((r.to_id = ?1 AND r.hidden = 0) OR r.from_id = ?1) \
                 AND r.status = 'pending' AND r.id < ?2 ORDER BY r.id DESC LIMIT ?3"
            );
            let rows = all_rows(
                conn,
                &sql,
                params![user.0, before, i64::from(page.limit) + 1],
                |row| request_at(row).map(|r| r.request),
            )?;
            Ok(into_page(rows, page.limit, |request| {
                request.id.0.to_string()
            }))
        })
        .await
    }

    async fn list_friends(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<FriendRecord>> {
        self.read(move |conn| {
            // The cursor is the last friend's username key (they are unique).
            let after = page.after.unwrap_or_default();
            let rows = all_rows(
                conn,
                &format!(
                    "{FRIEND_SELECT} WHERE fs.user_id = ?1 AND u.username_key > ?2 \
                     ORDER BY u.username_key LIMIT ?3"
                ),
                params![user.0, after, i64::from(page.limit) + 1],
                |row| Ok((friend_at(row)?, row.get::<_, String>(8)?)),
            )?;
            let page = into_page(rows, page.limit, |(_, key)| key.clone());
            Ok(Page {
                items: page.items.into_iter().map(|(record, _)| record).collect(),
                next: page.next,
            })
        })
        .await
    }

    async fn list_blocks(&self, user: UserId) -> StoreResult<Vec<UserProfile>> {
        self.read(move |conn| {
            all_rows(
                conn,
                &format!(
                    "SELECT {PROFILE_COLUMNS} FROM blocks b JOIN users u ON u.id = b.blocked_id \
                     WHERE b.user_id = ?1 ORDER BY u.username_key"
                ),
                [user.0],
                |row| profile_at(row, 0),
            )
        })
        .await
    }

    async fn relation(&self, a: UserId, b: UserId) -> StoreResult<Relation> {
        self.read(move |conn| {
            Ok(Relation {
                friends: are_friends(conn, a, b)?,
                a_blocked_b: has_blocked(conn, a, b)?,
                b_blocked_a: has_blocked(conn, b, a)?,
            })
        })
        .await
    }

    async fn list_presence_audience(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        self.read(move |conn| {
            all_rows(
                conn,
                "SELECT fs.friend_id FROM friendships fs WHERE fs.user_id = ?1 AND NOT EXISTS \
                     (SELECT 1 FROM blocks b WHERE b.user_id = ?1 AND b.blocked_id = fs.friend_id)",
                [user.0],
                |row| row.get(0).map(UserId),
            )
        })
        .await
    }
}
