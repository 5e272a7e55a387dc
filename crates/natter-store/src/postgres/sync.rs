//! The per-user change stream on PostgreSQL: `sync` reads below the horizon
//! (the design is in the module doc of [`crate::postgres`]), `prune_events`
//! deletes old entries and raises the pruning horizon.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::Object;
use natter_protocol::sync::SyncResponse;
use natter_protocol::{SyncCursor, Timestamp, UserId};

use super::conversations::summaries;
use super::cursor::{begin_read, read_horizon, user_events_after};
use super::rows::col;
use super::{PgStore, db_error, execute, query, query_opt};
use crate::{StoreError, StoreResult, SyncStore};

/// The longest pause between two looks at the running transactions.
const MAX_PAUSE: Duration = Duration::from_millis(16);

impl PgStore {
    /// Waits, at most `sync_wait`, until every transaction that held an id
    /// when the call began has ended, so that the horizon of a snapshot taken
    /// next is past every write that committed before the sync was asked for
    /// (a device sees its own writes, and what was published before it
    /// asked). Without the wait a sync would still be correct, only behind:
    /// one write transaction of any database of the cluster, still running,
    /// holds the horizon below everything that committed after it began.
    /// Store transactions last milliseconds; one that outlasts the wait is
    /// left behind, and the sync answers up to where the horizon is.
    async fn wait_for_running_writes(&self, client: &Object) -> StoreResult<()> {
        if self.sync_wait.is_zero() {
            return Ok(());
        }
        let deadline = Instant::now() + self.sync_wait;
        let mut target = None;
        let mut pause = Duration::from_millis(1);
        loop {
            let row = query(
                client,
                "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint \
                 FROM pg_current_snapshot() s",
                &[],
            )
            .await?;
            let row = row
                .first()
                .ok_or_else(|| StoreError::Unavailable("no snapshot row".into()))?;
            let (xmin, xmax): (i64, i64) = (col(row, 0)?, col(row, 1)?);
            // Every id below the first look's xmax was handed out before the
            // call; once xmin passes it, all of them have ended.
            let target = *target.get_or_insert(xmax);
            if xmin >= target {
                return Ok(());
            }
            if Instant::now() + pause > deadline {
                tracing::debug!(
                    xmin,
                    target,
                    "sync goes on while older write transactions still run"
                );
                return Ok(());
            }
            // PostgreSQL offers SQL no way to wait for another transaction
            // to end: look again shortly.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

#[async_trait]
impl SyncStore for PgStore {
    async fn sync(
        &self,
        user: UserId,
        since: SyncCursor,
        resume: bool,
        max_events: u32,
        max_conversations: u32,
    ) -> StoreResult<SyncResponse> {
        let mut client = self.client().await?;
        self.wait_for_running_writes(&client).await?;
        // One snapshot for the horizon and everything read below it.
        let tx = begin_read(&mut client).await?;
        let horizon = read_horizon(&tx).await?;
        // The newest cursor this read may hand out: nothing can commit at or
        // below it any more.
        let newest = horizon - 1;
        let pruned: i64 =
            match query_opt(&tx, "SELECT value FROM sync_horizon WHERE id = 1", &[]).await? {
                Some(row) => col(&row, 0)?,
                None => 0,
            };
        // Below the pruning horizon, events this device never saw were
        // deleted; a resumed page goes on where the previous page of the same
        // sync ended (which may be below it if that sync was a reset). At or
        // above the read horizon is a cursor no node of this database gave out.
        let unknown = since.0 <= 0 || since.0 > newest;
        let reset = unknown || (!resume && since.0 < pruned);
        let lower = if reset { 0 } else { since.0 };
        let max_events = max_events.max(1);
        let max_conversations = max_conversations.max(1);
        let mut events = if reset {
            Vec::new()
        } else {
            user_events_after(
                &tx,
                user,
                SyncCursor(lower),
                horizon,
                max_events.saturating_add(1),
            )
            .await?
        };
        let mut conversations = summaries(
            &tx,
            user,
            "c.version > $3 AND c.version < $4",
            &[&lower, &horizon],
            "c.version",
            Some(max_conversations.saturating_add(1)),
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        // The page ends where either list would overflow: everything at or
        // below `upper` is in it, nothing above.
        let mut upper = newest;
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
            has_more: upper < newest,
            events,
            conversations: conversations
                .into_iter()
                .map(|(_, summary)| summary)
                .collect(),
        })
    }

    async fn prune_events(&self, before: Timestamp) -> StoreResult<usize> {
        self.transaction(move |tx| {
            Box::pin(async move {
                let row = query_opt(
                    tx,
                    "SELECT max(cursor) FROM user_events WHERE at < $1",
                    &[&before.0],
                )
                .await?;
                let Some(newest_pruned) = row
                    .map(|row| col::<Option<i64>>(&row, 0))
                    .transpose()?
                    .flatten()
                else {
                    return Ok(0);
                };
                // By cursor, not time: what is kept stays a gap-free suffix.
                // An entry of an older transaction that commits after this
                // one is left, below the pruning horizon: a device that could
                // miss it holds a cursor below that too, and is reset.
                let deleted = execute(
                    tx,
                    "DELETE FROM user_events WHERE cursor <= $1",
                    &[&newest_pruned],
                )
                .await?;
                execute(
                    tx,
                    "UPDATE sync_horizon SET value = greatest(value, $1) WHERE id = 1",
                    &[&newest_pruned],
                )
                .await?;
                usize::try_from(deleted)
                    .map_err(|_| StoreError::Unavailable("too many rows deleted".into()))
            })
        })
        .await
    }
}
