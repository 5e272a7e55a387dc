//! The PostgreSQL backend, for running several server nodes on one database.
//!
//! [`PgStore`] implements the whole [`crate::Store`] and passes the same
//! contract suite as SQLite (`tests/contract.rs`), with two stores on one
//! database standing for two nodes. It holds a pool of connections
//! (deadpool-postgres); each store method that writes runs as one
//! transaction on one of them, each read as one statement or one read
//! transaction. The schema is migrated at connect (see `migrations.rs`),
//! under an advisory lock, so nodes that start at once migrate exactly once.
//! PostgreSQL 13 or newer is needed (`xid8`).
//!
//! Connections are plain TCP or Unix sockets: TLS to PostgreSQL is not
//! supported yet, and a URL that demands it (`sslmode=require`) is refused at
//! connect instead of silently downgraded. Run the database on the same host
//! or a trusted network.
//!
//! # Transactions and locks
//!
//! A domain's write is a transaction body ([`crate::txn`]); [`PgStore`] runs
//! it in one READ COMMITTED transaction on one connection (`txn.rs`), commits
//! it when the body returns `Ok` and rolls it back when it returns `Err`.
//! Bodies of several nodes run at once, so the facts a rule reads are read
//! under row locks held until the end of the transaction:
//!
//! - `relation(a, b)` locks both users' rows, lowest id first, then reads
//!   friendships and blocks;
//! - `membership(conversation, user)` locks the conversation's row, then
//!   reads the member. A non-member (as far as committed data says) is
//!   answered `None` at once, without the lock;
//! - `insert_message` takes `last_seq + 1` in the `UPDATE` of that row, in
//!   the body's transaction: seqs are gap-free and no sequence is involved;
//! - a batch of sends (`send_facts`, `insert_messages`, in `txn/sends.rs`)
//!   takes the same locks for all its sends at once: its conversations in one
//!   statement, lowest id first, then the users of its direct pairs in one
//!   statement, and moves each conversation's `last_seq` by its count;
//! - `direct_conversation` is decided by the unique `direct_key`: an
//!   `INSERT ... ON CONFLICT DO NOTHING` waits for a racing node's
//!   uncommitted row and then finds it; only the inserting transaction adds
//!   the members. Two nodes opening one pair at once end with one
//!   conversation.
//!
//! Facts are read by a statement of their own once the lock is granted (so
//! they include what its previous holder committed), and the locks are
//! `FOR NO KEY UPDATE`, which foreign-key checks do not wait for; `txn.rs`
//! says why both matter.
//!
//! **Deadlocks.** Bodies that take locks in opposite orders can deadlock.
//! The store's own orders: a conversation before users (a send locks its
//! conversation, then the pair; a rename, `update_display_name`, locks the
//! user's direct conversations, then the user), users lowest id first,
//! conversations lowest id first. PostgreSQL detects a deadlock after
//! `deadlock_timeout` (1 s by default) and aborts one transaction; its body's
//! caller gets `Unavailable` ("a concurrent transaction conflicted"), and
//! nothing of it is stored. It is not retried here (the body is `FnOnce`);
//! the client's retry is safe (a resend with the same client message id
//! finds the original).
//!
//! **Failures.** PostgreSQL aborts a transaction at its first failed
//! statement, and a COMMIT then rolls back without an error: a body that
//! ignores a failed statement and returns `Ok` gets `Unavailable`, never a
//! commit that did not happen. A COMMIT whose answer is lost with the
//! connection is `Unavailable` too, although it may have committed.
//!
//! **Not supported:** savepoints (a body cannot recover from a failed
//! statement and go on, as it can on SQLite, where only the statement is
//! undone), retrying conflicted bodies, TLS, and serializable isolation
//! (not needed: every rule's facts are read under the locks above).
//!
//! # Sync cursors on PostgreSQL
//!
//! A device catches up by asking for its change-stream entries (and changed
//! conversations) after the cursor it was last given. That is only correct if
//! nothing can ever appear *below* a cursor already handed out. SQLite gets
//! this for free: one writer takes clock values in commit order. PostgreSQL
//! transactions run concurrently and commit in any order, so a counter (a
//! sequence) taken inside them breaks it: transaction A takes 10, B takes 11
//! and commits, a reader returns cursor 11, then A commits entry 10 — which
//! that reader never sees.
//!
//! The design here instead:
//!
//! - **Writers.** Every change-stream row records the id of the transaction
//!   that wrote it, `pg_current_xact_id()` (an `xid8`: 64 bits, never wraps),
//!   and its cursor is `(txid << 16) | n`, `n` being the entry's index within
//!   its transaction (fewer than 65,536 entries a transaction; more is an
//!   error, never a silent overlap). Conversations' `version` takes a cursor
//!   the same way. [`cursor::TxCursors`] hands them out.
//! - **Readers.** In one snapshot (a `REPEATABLE READ` transaction,
//!   [`cursor::begin_read`]) a reader computes the *horizon*,
//!   `pg_snapshot_xmin(pg_current_snapshot()) << 16`
//!   ([`cursor::read_horizon`]): every transaction with a smaller id has
//!   committed or aborted, and every transaction still running, or not yet
//!   begun, has an id at or above `xmin`. The reader returns only rows with
//!   `cursor < horizon` ([`cursor::user_events_after`]) and at most the
//!   cursor `horizon - 1`, so no row can later commit at or below a cursor
//!   it gave out.
//! - **Horizons only grow** (a new transaction id is at or above every
//!   earlier snapshot's `xmin`), on every node alike: a cursor any node
//!   handed out is below every later horizon, and a `since` at or above the
//!   current horizon was never handed out by this database.
//! - **Versions may go back.** A conversation updated by an older
//!   transaction that commits after a newer one takes the smaller version.
//!   That is harmless for the same reason: no reader was given a cursor at or
//!   above the older transaction's id while it was running.
//!
//! The cost is latency, never correctness: a write transaction that stays
//! open holds the horizon back for every reader, of every database of the
//! PostgreSQL cluster (transaction ids are cluster-wide), until it ends.
//! Store transactions are short; `idle_in_transaction_session_timeout` on the
//! server bounds a stuck client. So that a sync still includes every write
//! that committed before it was asked for (a device's own, and what was
//! published to it), `sync` first waits, at most [`PgOptions::sync_wait`],
//! for the transactions that were running when it was called. (Measured on
//! the contract suite, whose tests share one server: with no wait, 4 runs of
//! 4 had a sync miss a write that had committed just before it, held back by
//! another test's transaction.)
//!
//! `sync` answers `reset` for `since` 0, for a `since` at or above the
//! horizon (no node gave it out), and below the pruning horizon unless
//! `resume`; it pages like SQLite's (one snapshot, at most `max_events`
//! entries and `max_conversations` conversations, the cursor where either
//! list would overflow). `prune_events` deletes by cursor up to the newest
//! entry older than the given time and raises `sync_horizon` to it; an
//! older transaction's entry that commits after the prune stays, below the
//! pruning horizon, where any device that could miss it is reset. Cursors are JSON numbers, and the protocol
//! keeps ids below 2^53: with 16 bits for `n`, that holds for the first 2^37
//! (137 billion) transaction ids of the cluster; [`cursor::TxCursors`]
//! refuses to write past it rather than hand out cursors clients would round.

mod accounts;
mod contacts;
mod conversations;
pub mod cursor;
mod encoding;
pub(crate) mod import;
mod migrations;
mod rows;
pub mod scratch;
mod sync;
mod txn;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls, Row};

pub use migrations::SCHEMA_VERSION;
pub use scratch::ScratchDatabase;

use crate::txn::{Transact, TxBody, TxOutcome};
use crate::{Store, StoreError, StoreResult};

/// Tuning of the PostgreSQL backend.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections the pool keeps open (and so the most transactions at once).
    pub pool_size: usize,
    /// How long to wait for a new connection, unless the URL sets `connect_timeout`.
    pub connect_timeout: Duration,
    /// How long a sync waits for write transactions that were running when
    /// it was asked for, so that it includes every write committed before
    /// (see "Sync cursors" above). Zero: no wait; a sync is then still
    /// correct, but may lag behind writes that committed just before it.
    pub sync_wait: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(10),
            // Store transactions take milliseconds; a second covers a busy
            // database, and only a transaction that runs longer (a stuck
            // client) makes syncs take this long.
            sync_wait: Duration::from_secs(1),
        }
    }
}

/// The PostgreSQL store. Cheap to share behind an `Arc`.
pub struct PgStore {
    pool: Pool,
    /// `host:port/database`, for messages (never the password).
    target: Arc<str>,
    sync_wait: Duration,
}

/// The work of one transaction, borrowing it.
pub(crate) type TxFuture<'t, R> = Pin<Box<dyn Future<Output = StoreResult<R>> + Send + 't>>;

impl PgStore {
    /// Connects to the database `url` names (a `postgres://` URL or a
    /// `key=value` string, as libpq takes) and migrates its schema.
    ///
    /// Fails with `Unavailable` when the URL is invalid or asks for TLS, when
    /// PostgreSQL cannot be reached or is older than 13, and when the
    /// database's schema is newer than this build knows; the message names
    /// the host, port and database, never the password.
    pub async fn connect(url: &str, options: PgOptions) -> StoreResult<PgStore> {
        let mut config = Config::from_str(url).map_err(|e| {
            StoreError::Unavailable(format!("invalid PostgreSQL URL: {}", describe(&e)))
        })?;
        let target: Arc<str> = describe_target(&config).into();
        if matches!(config.get_ssl_mode(), SslMode::Require) {
            return Err(StoreError::Unavailable(format!(
                "PostgreSQL at {target}: the URL asks for sslmode=require, but TLS to \
                 PostgreSQL is not supported yet; use a local or trusted network with \
                 sslmode=disable"
            )));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            // Names the node's connections in pg_stat_activity.
            config.application_name("natter");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL pool for {target}: {e}")))?;
        let store = PgStore {
            pool,
            target,
            sync_wait: options.sync_wait,
        };
        let mut client = store.client().await?;
        store.check_server_version(&client).await?;
        migrations::migrate(&mut client, &store.target).await?;
        tracing::info!(database = %store.target, schema = SCHEMA_VERSION, "postgres store ready");
        Ok(store)
    }

    /// Where the store is connected: `host:port/database`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(|error| {
            let cause = match &error {
                PoolError::Backend(e) => describe(e),
                other => other.to_string(),
            };
            tracing::error!(database = %self.target, error = %cause, "no postgres connection");
            StoreError::Unavailable(format!(
                "cannot reach PostgreSQL at {}: {cause}",
                self.target
            ))
        })
    }

    /// Runs `work` in a transaction on a pooled connection: committed when it
    /// returns `Ok`, rolled back when it returns `Err` (the error is returned
    /// as it is). Read committed, PostgreSQL's default: every statement sees
    /// what committed before it, and row locks order writers to one row.
    pub(crate) async fn transaction<R, F>(&self, work: F) -> StoreResult<R>
    where
        R: Send,
        F: for<'t> FnOnce(&'t deadpool_postgres::Transaction<'t>) -> TxFuture<'t, R> + Send,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        match work(&tx).await {
            Ok(value) => {
                tx.commit().await.map_err(db_error)?;
                Ok(value)
            }
            Err(error) => {
                // The refusal is the answer; a failed rollback only costs the
                // connection, which the pool then replaces.
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %describe(&rollback), "postgres rollback failed");
                }
                Err(error)
            }
        }
    }

    async fn check_server_version(&self, client: &Object) -> StoreResult<()> {
        let row = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(db_error)?;
        let version: i32 = row.try_get(0).map_err(db_error)?;
        if version < 130_000 {
            return Err(StoreError::Unavailable(format!(
                "PostgreSQL at {} is version {}.{}; Natter needs 13 or newer (xid8 transaction ids)",
                self.target,
                version / 10_000,
                version % 10_000
            )));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Transact for PgStore {
    /// Runs `body` in one READ COMMITTED transaction on a pooled connection.
    /// A deadlock or serialization failure ends it with `Unavailable`: the
    /// body is `FnOnce` (it may have moved what it captured into the first
    /// attempt), so it cannot be run again here; the caller's client retries.
    async fn transact(&self, body: TxBody) -> StoreResult<TxOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let mut pg = txn::PgTx::new(tx);
        let outcome = body(&mut pg).await;
        pg.finish(outcome).await
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    /// Closes the pool: connections are closed as they come back, and new
    /// calls fail with `Unavailable`. Transactions in flight finish first.
    fn shutdown(&self) {
        self.pool.close();
    }

    /// One round trip on a pooled connection.
    async fn ping(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(db_error)?;
        Ok(())
    }

    /// Half the pool: batches of sends keep that many connections busy and
    /// leave the rest to everything else.
    fn write_lanes(&self) -> usize {
        (self.pool.status().max_size / 2).max(1)
    }
}

/// Runs a statement (prepared once per connection) and returns its rows.
pub(crate) async fn query<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.query(&statement, params).await.map_err(db_error)
}

/// Runs a statement that returns at most one row.
pub(crate) async fn query_opt<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Option<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.query_opt(&statement, params).await.map_err(db_error)
}

/// Runs a statement and returns how many rows it changed.
pub(crate) async fn execute<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<u64> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.execute(&statement, params).await.map_err(db_error)
}

/// Maps a database failure to the store's error; the cause is logged here,
/// once. Callers that expect a particular refusal (a unique key) check
/// [`unique_violation`] first and answer it themselves.
pub(crate) fn db_error(error: tokio_postgres::Error) -> StoreError {
    let cause = describe(&error);
    if let Some(code) = error.code()
        && (*code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE)
    {
        // Bodies that lock in different orders (users, then a conversation,
        // and the reverse) can meet; PostgreSQL then aborts one of them.
        tracing::warn!(error = %cause, "postgres transaction conflict");
        StoreError::Unavailable(format!(
            "a concurrent transaction conflicted with this one and it was rolled back \
             (nothing was stored); try again: {cause}"
        ))
    } else if is_connection_error(&error) {
        tracing::error!(error = %cause, "postgres connection error");
        StoreError::Unavailable(format!("lost the connection to PostgreSQL: {cause}"))
    } else {
        tracing::error!(error = %cause, "postgres error");
        StoreError::Unavailable(cause)
    }
}

/// Whether the connection failed (as opposed to a statement).
fn is_connection_error(error: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    error.is_closed()
}

/// The constraint a unique violation hit, if `error` is one.
pub(crate) fn unique_violation(error: &tokio_postgres::Error) -> Option<&str> {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        error.as_db_error().and_then(|db| db.constraint())
    } else {
        None
    }
}

/// An error with its causes: tokio-postgres puts the interesting part (the
/// server's message, the OS error) in the source, not in `Display`.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `host:port[,host:port]/database` of a connection config.
fn describe_target(config: &Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // libpq's rule: one port for all hosts, or one per host.
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "(no host)".to_owned()
    } else {
        hosts.join(",")
    };
    // Without a database name PostgreSQL uses the user's name.
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{hosts}/{database}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expected: &str) {
        let config = Config::from_str(url).expect("parses");
        assert_eq!(describe_target(&config), expected, "{url}");
    }

    #[test]
    fn targets_name_host_port_and_database_but_not_the_password() {
        check(
            "postgres://u:secret@db.local:6543/natter",
            "db.local:6543/natter",
        );
        check(
            "postgres://u:secret@db.local/natter",
            "db.local:5432/natter",
        );
        check("postgres://alice@h1,h2:7000/", "h1:5432,h2:7000/alice");
        check(
            "host=/run/postgresql port=5433 dbname=n password=secret",
            "/run/postgresql:5433/n",
        );
    }
}
