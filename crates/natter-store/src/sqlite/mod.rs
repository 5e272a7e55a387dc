//! The embedded SQLite backend.
//!
//! One writer thread owns the only writing connection and commits in batches
//! (group commit): it takes every job that is waiting, runs each inside its own
//! savepoint (so one failing job rolls back alone), commits once, and only then
//! answers the callers. A small pool of read-only connections serves reads in
//! parallel; WAL mode lets them run while the writer writes. `synchronous=FULL`
//! makes every commit survive power loss where the disk honours fsync.

mod accounts;
mod contacts;
mod conversations;
pub(crate) mod export;
mod migrations;
mod rows;
mod sync;
mod txn;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::txn::{Transact, TxBody, TxOutcome};
use crate::{Store, StoreError, StoreResult};

/// Tuning of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Read-only connections for concurrent reads.
    pub readers: usize,
    /// Most jobs committed in one transaction.
    pub max_batch: usize,
    /// Writes that may wait for the writer before callers are made to wait.
    pub queue: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            readers: 4,
            max_batch: 512,
            queue: 4096,
        }
    }
}

/// A job for the writer thread: runs inside a savepoint, is answered after the commit.
trait WriteJob: Send {
    fn run(
        self: Box<Self>,
        conn: &mut Connection,
    ) -> Box<dyn FnOnce(Result<(), StoreError>) + Send>;
    fn fail(self: Box<Self>, error: StoreError);
}

struct Job<F, R> {
    work: F,
    reply: oneshot::Sender<StoreResult<R>>,
}

impl<F, R> WriteJob for Job<F, R>
where
    F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    R: Send + 'static,
{
    fn run(
        self: Box<Self>,
        conn: &mut Connection,
    ) -> Box<dyn FnOnce(Result<(), StoreError>) + Send> {
        let Job { work, reply } = *self;
        let result = in_savepoint(conn, |conn| work(conn), Result::is_ok);
        Box::new(move |commit: Result<(), StoreError>| {
            let outcome = match (result, commit) {
                (Err(error), _) => Err(error),
                (Ok(_), Err(error)) => Err(error),
                (Ok(value), Ok(())) => Ok(value),
            };
            // The caller may have gone (a cancelled request); the write stands regardless.
            let _ = reply.send(outcome);
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// A domain's transaction body (see [`crate::txn`]): its own savepoint,
/// rolled back when the body refuses.
struct TxJob {
    body: TxBody,
    reply: oneshot::Sender<StoreResult<TxOutcome>>,
}

impl WriteJob for TxJob {
    fn run(
        self: Box<Self>,
        conn: &mut Connection,
    ) -> Box<dyn FnOnce(Result<(), StoreError>) + Send> {
        let TxJob { body, reply } = *self;
        // A body that refused (`Ok(Err(_))`) rolls back what it wrote.
        let result = in_savepoint(
            conn,
            |conn| run_body(conn, body),
            |result| matches!(result, Ok(Ok(_))),
        );
        Box::new(move |commit: Result<(), StoreError>| {
            let outcome = match (result, commit) {
                (Err(error), _) | (Ok(_), Err(error)) => Err(error),
                (Ok(outcome), Ok(())) => Ok(outcome),
            };
            let _ = reply.send(outcome);
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// Runs a body to its end. Every `WriteTx` call of this backend completes at
/// once, so a body that is not finished after one poll awaited something
/// else: it is refused (rolled back) rather than left to stall the writer.
fn run_body(conn: &mut Connection, body: TxBody) -> StoreResult<TxOutcome> {
    let mut tx = txn::SqliteTx { conn };
    let mut future = body(&mut tx);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(outcome) => Ok(outcome),
        Poll::Pending => {
            tracing::error!("a transaction body awaited something other than its transaction");
            Err(StoreError::Unavailable(
                "a transaction body awaited something other than its transaction".into(),
            ))
        }
    }
}

/// Runs `work` in a savepoint, rolled back unless `keep` says otherwise of
/// its result.
fn in_savepoint<R>(
    conn: &mut Connection,
    work: impl FnOnce(&mut Connection) -> StoreResult<R>,
    keep: impl FnOnce(&StoreResult<R>) -> bool,
) -> StoreResult<R> {
    run_cached(conn, "SAVEPOINT job")?;
    let result = work(conn);
    if !keep(&result) {
        run_cached(conn, "ROLLBACK TO job")?;
    }
    run_cached(conn, "RELEASE job")?;
    result
}

/// Runs a statement of the writer's own that takes no parameters, prepared
/// once: these run for every job or every commit.
fn run_cached(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(|_| ())
        .map_err(db_error)
}

/// Maps a database failure to the store's error; the cause is logged here, once.
pub(crate) fn db_error(error: rusqlite::Error) -> StoreError {
    tracing::error!(%error, "sqlite error");
    StoreError::Unavailable(error.to_string())
}

/// What the writer has done since the store was opened.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Write jobs run (one per write method call).
    pub jobs: AtomicU64,
    /// Transactions committed; fewer than `jobs` when commits were shared.
    pub commits: AtomicU64,
}

/// The SQLite store. Cheap to share behind an `Arc`.
pub struct SqliteStore {
    durability: Durability,
    stats: Arc<WriterStats>,
    writer: Mutex<Option<mpsc::Sender<Box<dyn WriteJob>>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_permits: Arc<Semaphore>,
}

/// SQLite only says "unable to open database file" about a read-only or
/// full directory; this says which, before anything else is tried.
fn check_writable(dir: &Path) -> StoreResult<()> {
    let probe = dir.join(".natter-write-check");
    std::fs::write(&probe, b"natter")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "the data directory {} is not writable: {e}",
                dir.display()
            ))
        })
}

/// Creates `dir` (and its parents) readable by its owner only, and warns
/// when an existing one lets others in: it holds every message.
fn prepare_private_dir(dir: &Path) -> StoreResult<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StoreError::Unavailable(format!("create {}: {e}", dir.display())))?;
    warn_if_open_to_others(dir);
    Ok(())
}

/// Creates the database file readable by its owner only before SQLite opens
/// it (SQLite would make it 0644, and gives its WAL and shared-memory files
/// the database file's mode).
fn prepare_private_file(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::Unavailable(format!("create {}: {e}", path.display())))?;
    warn_if_open_to_others(path);
    Ok(())
}

/// Whether a file mode lets anyone but the owner read, write or enter.
fn open_to_others(mode: u32) -> bool {
    mode & 0o077 != 0
}

fn warn_if_open_to_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && open_to_others(meta.permissions().mode())
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "other users of this machine can read the data; `chmod -R go-rwx` it"
        );
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database `natter.db` in `dir` and migrates it.
    pub fn open(dir: &Path, options: SqliteOptions) -> StoreResult<SqliteStore> {
        prepare_private_dir(dir)?;
        check_writable(dir)?;
        let path = dir.join("natter.db");
        prepare_private_file(&path)?;
        let mut writer = open_writer(&path)?;
        let durability = check_durability(&writer)?;
        tracing::info!(
            path = %path.display(),
            journal_mode = %durability.journal_mode,
            synchronous = durability.synchronous,
            "database opened"
        );
        migrations::migrate(&mut writer)?;
        let readers = (0..options.readers.max(1))
            .map(|_| open_reader(&path))
            .collect::<StoreResult<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let max_batch = options.max_batch.max(1);
        let stats = Arc::new(WriterStats::default());
        let writer_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("natter-sqlite-writer".into())
            .spawn(move || write_loop(writer, rx, max_batch, &writer_stats))
            .map_err(|e| StoreError::Unavailable(format!("spawn writer: {e}")))?;
        Ok(SqliteStore {
            durability,
            stats,
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
            reader_permits: Arc::new(Semaphore::new(readers.len())),
            readers: Arc::new(Mutex::new(readers)),
        })
    }

    /// Counters of the writer thread (for tests and metrics).
    pub fn writer_stats(&self) -> &WriterStats {
        &self.stats
    }

    /// The journal mode and sync level the database runs with (checked at open).
    pub fn durability(&self) -> &Durability {
        &self.durability
    }

    fn writer_sender(&self) -> StoreResult<mpsc::Sender<Box<dyn WriteJob>>> {
        // A short critical section without awaits: std Mutex is right here.
        let guard = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        guard
            .clone()
            .ok_or_else(|| StoreError::Unavailable("shutting down".into()))
    }

    /// Runs `work` in the next group commit and returns its result once committed.
    pub(crate) async fn write<R, F>(&self, work: F) -> StoreResult<R>
    where
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let sender = self.writer_sender()?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Box::new(Job { work, reply }))
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    /// Runs `work` on a read-only connection from the pool.
    pub(crate) async fn read<R, F>(&self, work: F) -> StoreResult<R>
    where
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let permit = self
            .reader_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("readers closed".into()))?;
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool
                .lock()
                .map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Unavailable("no reader free".into()))?;
            // A read transaction gives every query of `work` one consistent snapshot.
            let result = conn
                .execute_batch("BEGIN")
                .map_err(db_error)
                .and_then(|()| work(&conn));
            let _ = conn.execute_batch("COMMIT");
            if let Ok(mut readers) = pool.lock() {
                readers.push(conn);
            }
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("reader task: {e}")))?
    }
}

#[async_trait::async_trait]
impl Transact for SqliteStore {
    async fn transact(&self, body: TxBody) -> StoreResult<TxOutcome> {
        let sender = self.writer_sender()?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Box::new(TxJob { body, reply }))
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }
}

impl Store for SqliteStore {
    fn shutdown(&self) {
        if let Ok(mut writer) = self.writer.lock() {
            writer.take();
        }
        let thread = self.writer_thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            // The writer drains what is queued, commits it and exits.
            let _ = thread.join();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Ok(mut writer) = self.writer.lock() {
            writer.take();
        }
    }
}

/// What the writer connection runs with, as SQLite reports it after opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// `wal`.
    pub journal_mode: String,
    /// 2 (`FULL`): every commit is fsynced before it is acknowledged.
    pub synchronous: i64,
}

/// Reads back what `open_writer` asked for: SQLite silently keeps another
/// journal mode when WAL is impossible (some network file systems), and an
/// acknowledgement must never come before the data is on disk.
fn check_durability(conn: &Connection) -> StoreResult<Durability> {
    let durability = Durability {
        journal_mode: conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(db_error)?,
        synchronous: conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .map_err(db_error)?,
    };
    if !durability.journal_mode.eq_ignore_ascii_case("wal") || durability.synchronous < 2 {
        return Err(StoreError::Unavailable(format!(
            "the database runs with journal_mode={} synchronous={}, not wal and FULL \
             (is the data directory on a file system without shared memory?)",
            durability.journal_mode, durability.synchronous
        )));
    }
    Ok(durability)
}

fn open_writer(path: &PathBuf) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(db_error)?;
    conn.execute_batch(
        "-- A new database only (an existing one keeps its page size). Each
         -- page a commit touches is written whole to the WAL, and a message
         -- touches pages of its own conversation: measured, 1 KiB pages write
         -- half the bytes per message of 4 KiB ones, and store more a second.
         PRAGMA page_size = 1024;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         -- Measured under load: with the default 2 MiB page cache the writer
         -- spent most of its time copying pages in from the OS with pread.
         -- Both grow only as pages are used.
         PRAGMA cache_size = -32768;
         PRAGMA mmap_size = 268435456;",
    )
    .map_err(db_error)?;
    // The writer checkpoints when the WAL holds this much, whatever the
    // database's page size (`wal_autocheckpoint` counts pages).
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .map_err(db_error)?;
    conn.execute_batch(&format!(
        "PRAGMA wal_autocheckpoint = {}",
        WAL_CHECKPOINT_BYTES / page_size.max(512)
    ))
    .map_err(db_error)?;
    Ok(conn)
}

/// WAL size at which the writer copies it back into the database. A page
/// rewritten by many commits is copied once per checkpoint: measured, 64 MB
/// writes a quarter fewer bytes per message than 16 MB at the same rate, and
/// a restart after SIGKILL with a full WAL still takes under 30 ms.
const WAL_CHECKPOINT_BYTES: i64 = 64 * 1000 * 1024;

fn open_reader(path: &PathBuf) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_error)?;
    conn.execute_batch(
        "PRAGMA busy_timeout = 5000; PRAGMA query_only = ON; \
         PRAGMA cache_size = -8192; PRAGMA mmap_size = 268435456;",
    )
    .map_err(db_error)?;
    Ok(conn)
}

fn write_loop(
    mut conn: Connection,
    mut jobs: mpsc::Receiver<Box<dyn WriteJob>>,
    max_batch: usize,
    stats: &WriterStats,
) {
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(max_batch);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(error) = run_cached(&conn, "BEGIN IMMEDIATE") {
            for job in batch.drain(..) {
                job.fail(error.clone());
            }
            continue;
        }
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let mut completions = Vec::with_capacity(batch.len());
        let mut jobs = batch.drain(..);
        let mut aborted = None;
        for job in jobs.by_ref() {
            completions.push(job.run(&mut conn));
            // SQLite rolls the whole transaction back by itself on some errors
            // (disk full, I/O). Later savepoints would then commit on their own,
            // one by one: stop, and fail the whole batch instead.
            if conn.is_autocommit() {
                aborted = Some(StoreError::Unavailable(
                    "the transaction was rolled back".into(),
                ));
                break;
            }
        }
        for job in jobs {
            job.fail(
                aborted
                    .clone()
                    .unwrap_or_else(|| StoreError::Unavailable("batch aborted".into())),
            );
        }
        stats.commits.fetch_add(1, Ordering::Relaxed);
        let commit = match aborted {
            Some(error) => Err(error),
            None => run_cached(&conn, "COMMIT"),
        };
        if commit.is_err() {
            let _ = run_cached(&conn, "ROLLBACK");
        }
        for complete in completions {
            complete(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests;
