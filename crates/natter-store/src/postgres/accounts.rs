//! Accounts and sessions on PostgreSQL.

use std::collections::HashSet;

use async_trait::async_trait;
use natter_protocol::accounts::UserProfile;
use natter_protocol::sync::UserChange;
use natter_protocol::{DeviceId, Timestamp, UserId};
use tokio_postgres::Row;

use super::cursor::{TxCursors, append_user_event};
use super::rows::{PROFILE_COLUMNS, profile_at};
use super::{PgStore, db_error, execute, query, query_opt, unique_violation};
use crate::{AccountStore, Changes, NameKeys, NewUser, SessionRecord, StoreError, StoreResult};

const SESSION_COLUMNS: &str = "id, user_id, name, created_at, last_seen_at";

fn session_at(row: &Row) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        device_id: DeviceId(row.try_get(0).map_err(db_error)?),
        user_id: UserId(row.try_get(1).map_err(db_error)?),
        name: row.try_get(2).map_err(db_error)?,
        created_at: Timestamp(row.try_get(3).map_err(db_error)?),
        last_seen_at: Timestamp(row.try_get(4).map_err(db_error)?),
    })
}

fn device_at(row: &Row) -> StoreResult<DeviceId> {
    row.try_get(0).map(DeviceId).map_err(db_error)
}

#[async_trait]
impl AccountStore for PgStore {
    async fn insert_user(&self, user: NewUser) -> StoreResult<UserProfile> {
        let client = self.client().await?;
        let insert = client
            .prepare_cached(
                "INSERT INTO users (username, username_key, display_name, display_key, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .await
            .map_err(db_error)?;
        // The unique key decides between racing registrations, on any node.
        let row = client
            .query_one(
                &insert,
                &[
                    &user.username,
                    &user.username_key,
                    &user.display_name,
                    &user.display_key,
                    &user.password_hash,
                    &user.now.0,
                ],
            )
            .await
            .map_err(|error| match unique_violation(&error) {
                Some("users_username_key") => StoreError::Rejected(crate::Rejection::Taken),
                _ => db_error(error),
            })?;
        Ok(UserProfile {
            id: UserId(row.try_get(0).map_err(db_error)?),
            username: user.username,
            display_name: user.display_name,
            created_at: user.now,
        })
    }

    async fn find_credentials(
        &self,
        username_key: &str,
        username: &str,
    ) -> StoreResult<Option<(UserId, String)>> {
        let client = self.client().await?;
        // `key#id` entries sort between `key#` and `key$` (byte order, the
        // column's "C" collation): an index range.
        let row = query_opt(
            &client,
            "SELECT id, password_hash FROM users WHERE username_key = $1 \
             OR (username_key >= $1 || '#' AND username_key < $1 || '$') \
             ORDER BY username = $2 DESC, id LIMIT 1",
            &[&username_key, &username],
        )
        .await?;
        row.map(|row| {
            Ok((
                UserId(row.try_get(0).map_err(db_error)?),
                row.try_get(1).map_err(db_error)?,
            ))
        })
        .transpose()
    }

    async fn rekey_users(&self, version: i64, keys: NameKeys) -> StoreResult<Vec<UserId>> {
        const CURRENT: &str =
            "SELECT coalesce((SELECT value FROM settings WHERE name = 'name_key_version'), 1)";
        let current: i64 = {
            let client = self.client().await?;
            let row = query(&client, CURRENT, &[]).await?;
            row.first()
                .map(|row| row.try_get(0).map_err(db_error))
                .transpose()?
                .unwrap_or(1)
        };
        // The common case at start: keys are current, and no lock is taken.
        if current >= version {
            return Ok(Vec::new());
        }
        self.transaction(move |tx| {
            Box::pin(async move {
                // Nodes starting at once rekey one after the other (the mode
                // conflicts with itself), and no user is added or renamed
                // meanwhile with a key from the old function.
                tx.batch_execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                    .await
                    .map_err(db_error)?;
                let current: i64 = query(tx, CURRENT, &[])
                    .await?
                    .first()
                    .map(|row| row.try_get(0).map_err(db_error))
                    .transpose()?
                    .unwrap_or(1);
                if current >= version {
                    return Ok(Vec::new());
                }
                let users = query(
                    tx,
                    "SELECT id, username, display_name FROM users ORDER BY id",
                    &[],
                )
                .await?;
                let mut ids = Vec::with_capacity(users.len());
                let mut username_keys = Vec::with_capacity(users.len());
                let mut display_keys = Vec::with_capacity(users.len());
                let mut taken = HashSet::new();
                let mut collided = Vec::new();
                for row in &users {
                    let id: i64 = row.try_get(0).map_err(db_error)?;
                    let username: &str = row.try_get(1).map_err(db_error)?;
                    let display_name: &str = row.try_get(2).map_err(db_error)?;
                    let (mut key, display_key) = keys(username, display_name);
                    if !taken.insert(key.clone()) {
                        key = format!("{key}#{id}");
                        collided.push(UserId(id));
                    }
                    ids.push(id);
                    username_keys.push(key);
                    display_keys.push(display_key);
                }
                // Out of the way first, so that no new key meets an old one
                // (a unique key is checked row by row, not at the end).
                execute(tx, "UPDATE users SET username_key = chr(1) || id", &[]).await?;
                execute(
                    tx,
                    "UPDATE users u SET username_key = k.username_key, display_key = k.display_key \
                     FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k (id, username_key, display_key) \
                     WHERE u.id = k.id",
                    &[&ids, &username_keys, &display_keys],
                )
                .await?;
                execute(
                    tx,
                    "INSERT INTO settings (name, value) VALUES ('name_key_version', $1) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &[&version],
                )
                .await?;
                Ok(collided)
            })
        })
        .await
    }

    async fn get_password_hash(&self, user: UserId) -> StoreResult<String> {
        let client = self.client().await?;
        query_opt(
            &client,
            "SELECT password_hash FROM users WHERE id = $1",
            &[&user.0],
        )
        .await?
        .ok_or(StoreError::NotFound)?
        .try_get(0)
        .map_err(db_error)
    }

    async fn find_user(&self, user: UserId) -> StoreResult<Option<UserProfile>> {
        let client = self.client().await?;
        query_opt(
            &client,
            &format!("SELECT {PROFILE_COLUMNS} FROM users u WHERE u.id = $1"),
            &[&user.0],
        )
        .await?
        .map(|row| profile_at(&row, 0))
        .transpose()
    }

    async fn search_users(
        &self,
        prefix_key: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<Vec<UserProfile>> {
        // A prefix range (`>= p AND < p + U+10FFFF`) uses the indexes, unlike LIKE.
        let high = format!("{prefix_key}\u{10FFFF}");
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!(
                "SELECT {PROFILE_COLUMNS} FROM users u \
                 WHERE (u.username_key >= $1 AND u.username_key < $2) \
                    OR (u.display_key >= $1 AND u.display_key < $2) \
                 ORDER BY u.username_key LIMIT $3 OFFSET $4"
            ),
            &[&prefix_key, &high, &i64::from(limit), &i64::from(offset)],
        )
        .await?;
        rows.iter().map(|row| profile_at(row, 0)).collect()
    }

    async fn update_display_name(
        &self,
        user: UserId,
        display_name: String,
        display_key: String,
        now: Timestamp,
    ) -> StoreResult<(UserProfile, Changes)> {
        self.transaction(move |tx| {
            Box::pin(async move {
                // The user's direct conversations before the user: the order
                // in which a send locks (its conversation, then the pair), so
                // that a rename and a send cannot deadlock.
                query(
                    tx,
                    "SELECT c.id FROM conversations c JOIN members m ON m.conversation_id = c.id \
                     WHERE m.user_id = $1 AND c.kind = 'direct' ORDER BY c.id FOR NO KEY UPDATE OF c",
                    &[&user.0],
                )
                .await?;
                let row = query_opt(
                    tx,
                    &format!(
                        "UPDATE users u SET display_name = $2, display_key = $3 WHERE u.id = $1 \
                         RETURNING {PROFILE_COLUMNS}"
                    ),
                    &[&user.0, &display_name, &display_key],
                )
                .await?
                .ok_or(StoreError::NotFound)?;
                let profile = profile_at(&row, 0)?;
                let mut cursors = TxCursors::start(tx).await?;
                // A direct conversation is named after the peer: peers' syncs must see it change.
                let version = cursors.next_cursor()?;
                execute(
                    tx,
                    "UPDATE conversations SET version = $2, version_txid = pg_current_xact_id() \
                     WHERE kind = 'direct' \
                     AND id IN (SELECT conversation_id FROM members WHERE user_id = $1)",
                    &[&user.0, &version.0],
                )
                .await?;
                let event = append_user_event(
                    tx,
                    &mut cursors,
                    user,
                    now,
                    UserChange::ProfileUpdated { display_name },
                )
                .await?;
                let mut changes = Changes::default();
                changes.user_events.push((user, event));
                Ok((profile, changes))
            })
        })
        .await
    }

    async fn update_password(
        &self,
        user: UserId,
        hash: String,
        keep: DeviceId,
    ) -> StoreResult<Vec<DeviceId>> {
        self.transaction(move |tx| {
            Box::pin(async move {
                execute(
                    tx,
                    "UPDATE users SET password_hash = $2 WHERE id = $1",
                    &[&user.0, &hash],
                )
                .await?;
                query(
                    tx,
                    "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING id",
                    &[&user.0, &keep.0],
                )
                .await?
                .iter()
                .map(device_at)
                .collect()
            })
        })
        .await
    }

    async fn insert_session(
        &self,
        user: UserId,
        name: String,
        token_hash: [u8; 32],
        now: Timestamp,
    ) -> StoreResult<DeviceId> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "INSERT INTO sessions (user_id, token_hash, name, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
            &[&user.0, &&token_hash[..], &name, &now.0],
        )
        .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Unavailable("INSERT returned no id".into()))?;
        device_at(row)
    }

    async fn find_session(&self, token_hash: [u8; 32]) -> StoreResult<Option<SessionRecord>> {
        let client = self.client().await?;
        query_opt(
            &client,
            &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"),
            &[&&token_hash[..]],
        )
        .await?
        .map(|row| session_at(&row))
        .transpose()
    }

    async fn touch_session(&self, device: DeviceId, now: Timestamp) -> StoreResult<()> {
        let client = self.client().await?;
        execute(
            &client,
            "UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1",
            &[&device.0, &now.0],
        )
        .await
        .map(drop)
    }

    async fn delete_idle_sessions(
        &self,
        idle_before: Timestamp,
    ) -> StoreResult<Vec<SessionRecord>> {
        let client = self.client().await?;
        query(
            &client,
            &format!("DELETE FROM sessions WHERE last_seen_at < $1 RETURNING {SESSION_COLUMNS}"),
            &[&idle_before.0],
        )
        .await?
        .iter()
        .map(session_at)
        .collect()
    }

    async fn list_sessions(&self, user: UserId) -> StoreResult<Vec<SessionRecord>> {
        let client = self.client().await?;
        query(
            &client,
            &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY id"),
            &[&user.0],
        )
        .await?
        .iter()
        .map(session_at)
        .collect()
    }

    async fn delete_session(&self, user: UserId, device: DeviceId) -> StoreResult<()> {
        let client = self.client().await?;
        let deleted = execute(
            &client,
            "DELETE FROM sessions WHERE id = $1 AND user_id = $2",
            &[&device.0, &user.0],
        )
        .await?;
        if deleted == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn update_last_seen(&self, user: UserId, at: Timestamp) -> StoreResult<()> {
        let client = self.client().await?;
        execute(
            &client,
            "UPDATE users SET last_seen_at = $2 WHERE id = $1",
            &[&user.0, &at.0],
        )
        .await
        .map(drop)
    }
}
