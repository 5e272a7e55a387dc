//! Schema migrations, applied in order and recorded in `schema_version`.
//!
//! Several nodes may start at once against one database. Each migration runs
//! in its own transaction that first takes a transaction-scoped advisory
//! lock, then reads the version: whoever gets the lock second sees the first
//! one's commit and has nothing left to do, so every migration runs exactly
//! once. A failed migration rolls back whole and leaves the version as it was.

use deadpool_postgres::Object;

use super::{db_error, describe};
use crate::{StoreError, StoreResult};

/// Each entry moves the schema one version up. Never edit a released entry:
/// append a new one.
const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql")];

/// The schema version this build migrates to.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Any constant works as long as nothing else in the database takes the same
/// advisory lock (they are per database): "natterm1" in ASCII.
const MIGRATION_LOCK: i64 = 0x6e61_7474_6572_6d31;

/// The bookkeeping table, created under the lock so that racing nodes never
/// create it twice.
const CREATE_SCHEMA_VERSION: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

pub(super) async fn migrate(client: &mut Object, target: &str) -> StoreResult<()> {
    loop {
        let tx = client.transaction().await.map_err(db_error)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db_error)?;
        tx.batch_execute(CREATE_SCHEMA_VERSION)
            .await
            .map_err(db_error)?;
        let current: i32 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_error)?;
        if current > SCHEMA_VERSION {
            // Dropping `tx` rolls it back; nothing was changed.
            return Err(StoreError::Unavailable(format!(
                "the database at {target} has schema version {current}, newer than this \
                 build of Natter knows ({SCHEMA_VERSION}): run a newer build, or restore \
                 a backup made for this one"
            )));
        }
        let index = usize::try_from(current).map_err(|_| {
            StoreError::Unavailable(format!(
                "the database at {target} has an invalid schema version {current}"
            ))
        })?;
        let Some(sql) = MIGRATIONS.get(index) else {
            tx.commit().await.map_err(db_error)?;
            return Ok(());
        };
        let next = current + 1;
        tx.batch_execute(sql).await.map_err(|error| {
            let cause = describe(&error);
            tracing::error!(database = target, version = next, error = %cause, "postgres migration failed");
            StoreError::Unavailable(format!(
                "migrating the database at {target} to schema version {next} failed: {cause}"
            ))
        })?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&next])
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        tracing::info!(
            database = target,
            version = next,
            "postgres schema migrated"
        );
    }
}
