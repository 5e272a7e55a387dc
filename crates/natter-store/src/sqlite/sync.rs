//! The per-user change stream on SQLite.

use async_trait::async_trait;
use natter_protocol::sync::{SyncResponse, UserEvent};
use natter_protocol::{SyncCursor, Timestamp, UserId};

use super::conversations::changed_after;
use super::rows::{all_rows, from_json};
use super::{SqliteStore, db_error};
use crate::stored::StoredChange;
use crate::{StoreResult, SyncStore};

#[async_trait]
impl SyncStore for SqliteStore {
    async fn sync(
        &self,
        user: UserId,
        since: SyncCursor,
        resume: bool,
        max_events: u32,
        max_conversations: u32,
    ) -> StoreResult<SyncResponse> {
        self.read(move |conn| {
            // One read transaction: the clock and everything below it come from
            // the same snapshot, and the single writer hands out clock values in
            // commit order, so nothing below the returned cursor can appear later.
            let clock: i64 = conn
                .query_row("SELECT value FROM sync_clock WHERE id = 1", [], |row| {
                    row.get(0)
                })
                .map_err(db_error)?;
            let horizon: i64 = conn
                .query_row("SELECT value FROM sync_horizon WHERE id = 1", [], |row| {
                    row.get(0)
                })
                .map_err(db_error)?;
            // Below the horizon, events this device never saw were pruned;
            // a resumed page goes on where the previous page of the same sync
            // ended (which may be below the horizon if that sync was a reset).
            let unknown = since.0 <= 0 || since.0 > clock;
            let reset = unknown || (!resume && since.0 < horizon);
            let lower = if reset { 0 } else { since.0 };
            let max_events = max_events.max(1);
            let max_conversations = max_conversations.max(1);
            let mut events = if reset {
                Vec::new()
            } else {
                all_rows(
                    conn,
                    "SELECT cursor, at, change FROM user_events WHERE user_id = ?1 AND cursor > ?2 \
                     ORDER BY cursor LIMIT ?3",
                    rusqlite::params![user.0, lower, i64::from(max_events) + 1],
                    |row| {
                        let change: String = row.get(2)?;
                        Ok(UserEvent {
                            cursor: SyncCursor(row.get(0)?),
                            at: Timestamp(row.get(1)?),
                            change: from_json::<StoredChange>(&change)?.into(),
                        })
                    },
                )?
            };
            let mut conversations = changed_after(conn, user, lower, max_conversations + 1)?;
            // The page ends where either list would overflow: everything at or
            // below `upper` is in it, nothing above.
            let mut upper = clock;
            if events.len() > max_events as usize {
                upper = upper.min(events[max_events as usize - 1].cursor.0);
            }
            if conversations.len() > max_conversations as usize {
                upper = upper.min(conversations[max_conversations as usize - 1].0);
            }
            events.retain(|event| event.cursor.0 <= upper);
            conversations.retain(|(version, _)| *version <= upper);
            Ok(SyncResponse {
                cursor: SyncCursor(upper),
                reset,
                has_more: upper < clock,
                events,
                conversations: conversations
                    .into_iter()
                    .map(|(_, summary)| summary)
                    .collect(),
            })
        })
        .await
    }

    async fn prune_events(&self, before: Timestamp) -> StoreResult<usize> {
        self.write(move |conn| {
            let newest_pruned: Option<i64> = conn
                .prepare_cached("SELECT max(cursor) FROM user_events WHERE at < ?1")
                .and_then(|mut stmt| stmt.query_row([before.0], |row| row.get(0)))
                .map_err(db_error)?;
            let Some(newest_pruned) = newest_pruned else {
                return Ok(0);
            };
            // By cursor, not time: the stream stays a gap-free suffix.
            let deleted = conn
                .prepare_cached("DELETE FROM user_events WHERE cursor <= ?1")
                .and_then(|mut stmt| stmt.execute([newest_pruned]))
                .map_err(db_error)?;
            conn.prepare_cached("UPDATE sync_horizon SET value = max(value, ?1) WHERE id = 1")
                .and_then(|mut stmt| stmt.execute([newest_pruned]))
                .map_err(db_error)?;
            Ok(deleted)
        })
        .await
    }
}
