//! Accounts and sessions on SQLite.

use async_trait::async_trait;
use natter_protocol::accounts::UserProfile;
use natter_protocol::sync::UserChange;
use natter_protocol::{DeviceId, Timestamp, UserId};
use rusqlite::{OptionalExtension, Row, params};

use super::rows::{
    PROFILE_COLUMNS, all_rows, find_profile, get_profile, profile_at, push_event, tick,
};
use super::{SqliteStore, db_error};
use crate::{AccountStore, Changes, NameKeys, NewUser, SessionRecord, StoreError, StoreResult};

fn session_at(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        device_id: DeviceId(row.get(0)?),
        user_id: UserId(row.get(1)?),
        name: row.get(2)?,
        created_at: Timestamp(row.get(3)?),
        last_seen_at: Timestamp(row.get(4)?),
    })
}

const SESSION_COLUMNS: &str = "id, user_id, name, created_at, last_seen_at";

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert_user(&self, user: NewUser) -> StoreResult<UserProfile> {
        self.write(move |conn| {
            let taken = conn
                .prepare_cached("SELECT 1 FROM users WHERE username_key = ?1")
                .and_then(|mut stmt| stmt.query_row([&user.username_key], |_| Ok(())).optional())
                .map_err(db_error)?;
            if taken.is_some() {
                return Err(StoreError::Rejected(crate::Rejection::Taken));
            }
            let id: i64 = conn
                .prepare_cached(
                    "INSERT INTO users (username, username_key, display_name, display_key, password_hash, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(
                        params![
                            user.username,
                            user.username_key,
                            user.display_name,
                            user.display_key,
                            user.password_hash,
                            user.now.0
                        ],
                        |row| row.get(0),
                    )
                })
                .map_err(db_error)?;
            Ok(UserProfile {
                id: UserId(id),
                username: user.username,
                display_name: user.display_name,
                created_at: user.now,
            })
        })
        .await
    }

    async fn find_credentials(
        &self,
        username_key: &str,
        username: &str,
    ) -> StoreResult<Option<(UserId, String)>> {
        let key = username_key.to_owned();
        let name = username.to_owned();
        self.read(move |conn| {
            // `key#id` entries sort between `key#` and `key$`: an index range.
            conn.prepare_cached(
                "SELECT id, password_hash FROM users WHERE username_key = ?1 \
                 OR (username_key >= ?1 || '#' AND username_key < ?1 || '$') \
                 ORDER BY username = ?2 DESC, id LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([key, name], |row| Ok((UserId(row.get(0)?), row.get(1)?)))
                    .optional()
            })
            .map_err(db_error)
        })
        .await
    }

    async fn rekey_users(&self, version: i64, keys: NameKeys) -> StoreResult<Vec<UserId>> {
        self.write(move |conn| {
            let current: i64 = conn
                .query_row(
                    "SELECT coalesce((SELECT value FROM settings WHERE name = 'name_key_version'), 1)",
                    [],
                    |row| row.get(0),
                )
                .map_err(db_error)?;
            if current >= version {
                return Ok(Vec::new());
            }
            let users = all_rows(
                conn,
                "SELECT id, username, display_name FROM users ORDER BY id",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?)),
            )?;
            // Out of the way first, so that no new key meets an old one.
            conn.execute("UPDATE users SET username_key = '\u{1}' || id", [])
                .map_err(db_error)?;
            let mut taken = std::collections::HashSet::new();
            let mut collided = Vec::new();
            for (id, username, display_name) in users {
                let (mut key, display_key) = keys(&username, &display_name);
                if !taken.insert(key.clone()) {
                    key = format!("{key}#{id}");
                    collided.push(UserId(id));
                }
                conn.prepare_cached(
                    "UPDATE users SET username_key = ?2, display_key = ?3 WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![id, key, display_key]))
                .map_err(db_error)?;
            }
            conn.execute(
                "INSERT INTO settings (name, value) VALUES ('name_key_version', ?1) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [version],
            )
            .map_err(db_error)?;
            Ok(collided)
        })
        .await
    }

    async fn get_password_hash(&self, user: UserId) -> StoreResult<String> {
        self.read(move |conn| {
            conn.prepare_cached("SELECT password_hash FROM users WHERE id = ?1")
                .and_then(|mut stmt| stmt.query_row([user.0], |row| row.get(0)).optional())
                .map_err(db_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn find_user(&self, user: UserId) -> StoreResult<Option<UserProfile>> {
        self.read(move |conn| find_profile(conn, user)).await
    }

    async fn search_users(
        &self,
        prefix_key: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<Vec<UserProfile>> {
        // A prefix range (`>= p AND < p + U+10FFFF`) uses the indexes, unlike LIKE.
        let low = prefix_key.to_owned();
        let high = format!("{prefix_key}\u{10FFFF}");
        self.read(move |conn| {
            let sql = format!(
                "SELECT {PROFILE_COLUMNS} FROM users u \
                 WHERE (u.username_key >= ?1 AND u.username_key < ?2) OR (u.display_key >= ?1 AND u.display_key < ?2) \
                 ORDER BY u.username_key LIMIT ?3 OFFSET ?4"
            );
            all_rows(conn, &sql, params![low, high, limit, offset], |row| {
                profile_at(row, 0)
            })
        })
        .await
    }

    async fn update_display_name(
        &self,
        user: UserId,
        display_name: String,
        display_key: String,
        now: Timestamp,
    ) -> StoreResult<(UserProfile, Changes)> {
        self.write(move |conn| {
            let updated = conn
                .prepare_cached(
                    "UPDATE users SET display_name = ?2, display_key = ?3 WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![user.0, display_name, display_key]))
                .map_err(db_error)?;
            if updated == 0 {
                return Err(StoreError::NotFound);
            }
            // A direct conversation is named after the peer: peers' syncs must see it change.
            let version = tick(conn)?;
            conn.prepare_cached(
                "UPDATE conversations SET version = ?2 WHERE kind = 'direct' \
                 AND id IN (SELECT conversation_id FROM members WHERE user_id = ?1)",
            )
            .and_then(|mut stmt| stmt.execute(params![user.0, version]))
            .map_err(db_error)?;
            let mut changes = Changes::default();
            push_event(
                conn,
                &mut changes,
                user,
                now,
                UserChange::ProfileUpdated { display_name },
            )?;
            Ok((get_profile(conn, user)?, changes))
        })
        .await
    }

    async fn update_password(
        &self,
        user: UserId,
        hash: String,
        keep: DeviceId,
    ) -> StoreResult<Vec<DeviceId>> {
        self.write(move |conn| {
            conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute(params![user.0, hash]))
                .map_err(db_error)?;
            all_rows(
                conn,
                "DELETE FROM sessions WHERE user_id = ?1 AND id != ?2 RETURNING id",
                [user.0, keep.0],
                |row| row.get(0).map(DeviceId),
            )
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
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO sessions (user_id, token_hash, name, created_at, last_seen_at) \
                 VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![user.0, &token_hash[..], name, now.0], |row| {
                    row.get(0)
                })
            })
            .map(DeviceId)
            .map_err(db_error)
        })
        .await
    }

    async fn find_session(&self, token_hash: [u8; 32]) -> StoreResult<Option<SessionRecord>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([&token_hash[..]], session_at).optional())
            .map_err(db_error)
        })
        .await
    }

    async fn touch_session(&self, device: DeviceId, now: Timestamp) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![device.0, now.0]))
            .map(drop)
            .map_err(db_error)
        })
        .await
    }

    async fn delete_idle_sessions(
        &self,
        idle_before: Timestamp,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.write(move |conn| {
            all_rows(
                conn,
                &format!(
                    "DELETE FROM sessions WHERE last_seen_at < ?1 RETURNING {SESSION_COLUMNS}"
                ),
                [idle_before.0],
                session_at,
            )
        })
        .await
    }

    async fn list_sessions(&self, user: UserId) -> StoreResult<Vec<SessionRecord>> {
        self.read(move |conn| {
            all_rows(
                conn,
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ?1 ORDER BY id"),
                [user.0],
                session_at,
            )
        })
        .await
    }

    async fn delete_session(&self, user: UserId, device: DeviceId) -> StoreResult<()> {
        self.write(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM sessions WHERE id = ?1 AND user_id = ?2")
                .and_then(|mut stmt| stmt.execute([device.0, user.0]))
                .map_err(db_error)?;
            if deleted == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn update_last_seen(&self, user: UserId, at: Timestamp) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached("UPDATE users SET last_seen_at = ?2 WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute(params![user.0, at.0]))
                .map(drop)
                .map_err(db_error)
        })
        .await
    }
}
