//! Moving an installation from SQLite to PostgreSQL (`natter admin
//! migrate-to-postgres`): [`sqlite_to_postgres`] copies every table of a
//! stopped SQLite installation into a new, empty PostgreSQL database, then
//! checks that both hold the same number of rows in every table.
//!
//! # What is copied
//!
//! Every row of `users`, `sessions`, `friend_requests`, `conversations`,
//! `friendships`, `blocks`, `members`, `messages` and `settings`, with its
//! ids, seqs and times as they are: the same passwords log in, the same
//! device tokens stay logged in (sessions keep their token hashes), every
//! message keeps its seq, client message id and reply, every member their
//! role and read position. Message contents are read from SQLite's JSON and
//! stored in PostgreSQL's own encoding (`postgres/encoding.rs`); a content
//! that does not decode stops the move and names its message. Identity
//! sequences continue after the highest id either side ever handed out
//! (SQLite's AUTOINCREMENT counter included, so a deleted device's id is
//! never given out again).
//!
//! # What is not: the change stream, and what devices see
//!
//! SQLite's sync cursors are values of one clock; PostgreSQL's are made of
//! transaction ids (see [`crate::postgres`]), so a cursor from one means
//! nothing to the other, and the old entries (`user_events`) could not be
//! given PostgreSQL cursors that keep their order against those devices
//! hold. They are not copied. Instead PostgreSQL's pruning horizon
//! (`sync_horizon`) is set just above the highest cursor SQLite handed out:
//! a device's first sync after the move is a `reset`, a full reload of its
//! lists (friends, requests, blocks, conversations with their last seq and
//! read position), exactly what a device that stayed away longer than
//! `sync.keep_events_days` gets. The timelines are intact, so it then pulls
//! the messages it lacks by seq as always: nothing is lost, and each device
//! reloads its lists once. (A device whose sync of several pages was cut by
//! the stop could go on with `resume` from an old cursor; the SDK starts a
//! new sync after any failure, so that does not happen with it, and even
//! then every conversation is listed again, all of them having moved.)
//!
//! So that cursors PostgreSQL hands out afterwards are above that horizon
//! (a device given one below it would be reset on every sync), transaction
//! ids are advanced past it first when the SQLite clock is ahead of them,
//! which takes one empty transaction per 65,536 clock values; an
//! installation needs tens of millions of changes before any is needed.
//!
//! # Batches, and a move that stops halfway
//!
//! Rows are read from SQLite in pages (a few thousand rows, a few MiB at
//! most) by a blocking thread, one page ahead of the writer, and each page
//! is written with `COPY` in a transaction of its own: memory stays bounded
//! whatever the installation's size, and no transaction stays open long
//! (one that does holds back the sync horizon of every database of the
//! PostgreSQL server, other installations' included). Until the final
//! transaction, a marker row in `settings` says that the move is unfinished;
//! the final one removes it, moves the sequences and the horizon, and counts
//! every table, committing only if the counts equal SQLite's. A failed move
//! empties what it wrote; one that was killed leaves the marker, and a
//! later run refuses the database (recreate it and run again).
//!
//! Both sides are held for the whole move: SQLite with an exclusive lock (a
//! server still running on it is detected, and one started meanwhile cannot
//! open it), PostgreSQL with the advisory lock nodes take to migrate their
//! schema at start (a node started meanwhile waits until the move is over).
//! Nodes already running on the target are detected by their connections.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::postgres::import::PgTarget;
use crate::sqlite::export::SqliteSource;
use crate::{StoreError, StoreResult};

/// The tables copied, in the order they are copied (every table after
/// those it refers to).
pub const TABLES: [&str; 9] = [
    "users",
    "sessions",
    "friend_requests",
    "conversations",
    "friendships",
    "blocks",
    "members",
    "messages",
    "settings",
];

/// What `progress` is called with while transaction ids are advanced.
pub const ADVANCING_TRANSACTION_IDS: &str = "transaction ids";

/// The tables with identity ids, whose sequences must continue after the
/// copied ids.
pub(crate) const IDENTITY_TABLES: [&str; 4] =
    ["users", "sessions", "friend_requests", "conversations"];

/// Rows per page, and the bytes of text a page may hold (messages are up to
/// 16 KiB each). At most three pages are in memory at once: one being read,
/// one waiting, one being written.
pub(crate) const PAGE_ROWS: usize = 4000;
pub(crate) const PAGE_BYTES: usize = 4 << 20;

/// Why a move was refused or failed. A refusal leaves the data of both sides
/// as it was; a failure after the copy began empties the target again.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "{} holds no natter.db: is it the data directory (`natter serve --data`) \
         of the installation?",
        .0.display()
    )]
    NoDatabase(PathBuf),
    #[error(
        "{} is in use: stop the Natter server that runs on it (and anything else that \
         has it open) before moving it",
        .0.display()
    )]
    SourceInUse(PathBuf),
    #[error(
        "{} has schema version {found}, older than this build's {latest}: start this \
         build once on it (`natter serve --data {}`; it migrates the database at start), \
         stop it, and run the move again",
        .path.display(),
        .path.parent().unwrap_or(Path::new(".")).display()
    )]
    OldSchema {
        path: PathBuf,
        found: i64,
        latest: i64,
    },
    #[error(
        "{} has schema version {found}, newer than this build knows ({latest}): move it \
         with the build that last ran on it",
        .path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        latest: i64,
    },
    #[error(
        "the database at {target} is not empty ({users} users, {rows} rows in all): the \
         move never merges into an existing installation; create a new, empty database \
         and point --database at it"
    )]
    TargetNotEmpty {
        target: String,
        users: u64,
        rows: u64,
    },
    #[error(
        "an earlier move into the database at {target} did not finish: drop the database, \
         create it again (empty) and run the move again"
    )]
    UnfinishedMove { target: String },
    #[error(
        "the database at {target} is in use: {what}; stop every Natter node on it (a move \
         needs a database nothing else writes to)"
    )]
    TargetInUse { target: String, what: String },
    #[error(
        "verification failed, nothing was kept in {target}: row counts differ ({})",
        mismatches(.tables)
    )]
    Mismatch {
        target: String,
        tables: Vec<TableCount>,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn mismatches(tables: &[TableCount]) -> String {
    tables
        .iter()
        .filter(|t| t.sqlite != t.postgres)
        .map(|t| {
            format!(
                "{}: {} in SQLite, {} in PostgreSQL",
                t.table, t.sqlite, t.postgres
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The rows of one table on both sides, after the move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub sqlite: u64,
    pub postgres: u64,
}

/// What a finished move did. Every table's counts are equal (the move
/// fails otherwise).
#[derive(Debug, Clone)]
pub struct MigrationReport {
    /// `host:port/database` of the target (never the password).
    pub target: String,
    /// Rows per table, in [`TABLES`] order.
    pub tables: Vec<TableCount>,
    /// The last value of SQLite's sync clock: every cursor a device holds
    /// is at or below it.
    pub sqlite_clock: i64,
    /// PostgreSQL's pruning horizon after the move: syncs from below it are
    /// answered `reset`.
    pub sync_horizon: i64,
    /// Empty transactions run to bring transaction ids past the horizon.
    pub transaction_ids_advanced: u64,
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "moved into {}; rows per table (SQLite = PostgreSQL):",
            self.target
        )?;
        for table in &self.tables {
            writeln!(f, "  {:<16} {:>12}", table.table, table.postgres)?;
        }
        write!(
            f,
            "change stream not copied: every device reloads its lists on its first sync \
             (SQLite cursors up to {}, PostgreSQL sync horizon {})",
            self.sqlite_clock, self.sync_horizon
        )
    }
}

/// What the source holds, read in the snapshot the rows are read in.
#[derive(Debug, Clone)]
pub(crate) struct SourceFacts {
    /// Rows per table, in [`TABLES`] order.
    pub counts: [u64; TABLES.len()],
    /// The sync clock's value: the highest cursor handed out.
    pub clock: i64,
    /// SQLite's AUTOINCREMENT counters per [`IDENTITY_TABLES`] entry (0 if none).
    pub sequences: [i64; IDENTITY_TABLES.len()],
}

pub(crate) struct UserRow {
    pub id: i64,
    pub username: String,
    pub username_key: String,
    pub display_name: String,
    pub display_key: String,
    pub password_hash: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
}

pub(crate) struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: Vec<u8>,
    pub name: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub(crate) struct FriendRequestRow {
    pub id: i64,
    pub from_id: i64,
    pub to_id: i64,
    pub greeting: String,
    pub status: String,
    pub hidden: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) struct ConversationRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub announcement: Option<String>,
    pub direct_key: Option<String>,
    pub last_seq: i64,
    pub change_seq: i64,
    pub member_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub encrypted: bool,
}

pub(crate) struct FriendshipRow {
    pub user_id: i64,
    pub friend_id: i64,
    pub remark: Option<String>,
    pub since: i64,
    pub conversation_id: i64,
}

pub(crate) struct BlockRow {
    pub user_id: i64,
    pub blocked_id: i64,
    pub created_at: i64,
}

pub(crate) struct MemberRow {
    pub conversation_id: i64,
    pub user_id: i64,
    pub role: String,
    pub joined_at: i64,
    pub read_seq: i64,
    pub delivered_seq: i64,
}

pub(crate) struct MovedMessage {
    pub conversation_id: i64,
    pub seq: i64,
    pub sender_id: i64,
    pub client_msg_id: Option<String>,
    pub sent_at: i64,
    /// SQLite's JSON of a `StoredContent` (`crate::stored`), decoded and
    /// encoded again on the PostgreSQL side.
    pub content_json: String,
    pub reply_to: Option<i64>,
    pub edited_at: Option<i64>,
    pub recalled_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub change_seq: i64,
}

pub(crate) struct SettingRow {
    pub name: String,
    pub value: i64,
}

/// One page of one table.
pub(crate) enum Batch {
    Users(Vec<UserRow>),
    Sessions(Vec<SessionRow>),
    FriendRequests(Vec<FriendRequestRow>),
    Conversations(Vec<ConversationRow>),
    Friendships(Vec<FriendshipRow>),
    Blocks(Vec<BlockRow>),
    Members(Vec<MemberRow>),
    Messages(Vec<MovedMessage>),
    Settings(Vec<SettingRow>),
}

impl Batch {
    /// The index of its table in [`TABLES`].
    pub(crate) fn table(&self) -> usize {
        match self {
            Batch::Users(_) => 0,
            Batch::Sessions(_) => 1,
            Batch::FriendRequests(_) => 2,
            Batch::Conversations(_) => 3,
            Batch::Friendships(_) => 4,
            Batch::Blocks(_) => 5,
            Batch::Members(_) => 6,
            Batch::Messages(_) => 7,
            Batch::Settings(_) => 8,
        }
    }
}

/// Copies the SQLite installation in `data_dir` (the server stopped) into
/// the empty PostgreSQL database `database_url` names, and verifies the
/// row counts of every table. `progress` is told each table's rows copied
/// so far, after every page (and [`ADVANCING_TRANSACTION_IDS`] with the
/// count advanced, when any are).
///
/// Refuses, changing nothing: a directory without `natter.db`, a SQLite
/// database that something holds open (a running server) or whose schema
/// is not this build's latest, an unreachable PostgreSQL (the error names
/// `host:port/database`, never the password), a target that holds any user
/// or conversation, one an earlier move left unfinished, and one that
/// Natter nodes are connected to. A move that fails after it began writing
/// empties the target again, so that it can be run again.
pub async fn sqlite_to_postgres(
    data_dir: &Path,
    database_url: &str,
    mut progress: impl FnMut(&str, u64),
) -> Result<MigrationReport, MigrateError> {
    let dir = data_dir.to_path_buf();
    let (source, facts) = tokio::task::spawn_blocking(move || {
        let source = SqliteSource::open(&dir)?;
        let facts = source.facts()?;
        Ok::<_, MigrateError>((source, facts))
    })
    .await
    .map_err(|e| StoreError::Unavailable(format!("the SQLite reader stopped: {e}")))??;

    let mut target = PgTarget::connect(database_url).await?;
    target.check_empty().await?;
    // From here on the move writes: a failure empties what it wrote.
    let outcome = copy(source, &facts, &mut target, &mut progress).await;
    let outcome = match outcome {
        Ok(report) => Ok(report),
        Err(error) => {
            if let Err(discard) = target.discard().await {
                tracing::error!(error = %discard, "could not empty the target after a failed move");
                Err(MigrateError::Store(StoreError::Unavailable(format!(
                    "{error}; emptying the target failed too ({discard}): drop the database \
                     and create it again before another move"
                ))))
            } else {
                Err(error)
            }
        }
    };
    target.close().await;
    outcome
}

async fn copy(
    source: SqliteSource,
    facts: &SourceFacts,
    target: &mut PgTarget,
    progress: &mut impl FnMut(&str, u64),
) -> Result<MigrationReport, MigrateError> {
    target.begin().await?;
    // Every cursor SQLite handed out is at or below its clock.
    let horizon = facts.clock.saturating_add(1);
    let advanced = target
        .advance_transaction_ids_past(horizon, |n| progress(ADVANCING_TRANSACTION_IDS, n))
        .await?;

    // One page ahead: the reader fills the next while the writer copies one.
    let (pages, mut incoming) = tokio::sync::mpsc::channel::<StoreResult<Batch>>(1);
    let reader = tokio::task::spawn_blocking(move || {
        let outcome = source.export(|batch| pages.blocking_send(Ok(batch)).is_ok());
        if let Err(error) = outcome {
            // The writer may have stopped first; then its own error is the answer.
            let _ = pages.blocking_send(Err(error));
        }
        // Returned, so that the lock on the SQLite database lasts until the end.
        source
    });
    let mut copied = [0u64; TABLES.len()];
    let mut outcome = Ok(());
    while let Some(page) = incoming.recv().await {
        let written = match page {
            Ok(batch) => {
                let table = batch.table();
                target.write(batch).await.map(|rows| (table, rows))
            }
            Err(error) => Err(error),
        };
        match written {
            Ok((table, rows)) => {
                copied[table] += rows;
                progress(TABLES[table], copied[table]);
            }
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    // Stops the reader if the writer failed.
    drop(incoming);
    let source = reader
        .await
        .map_err(|e| StoreError::Unavailable(format!("the SQLite reader stopped: {e}")))?;
    outcome?;

    let counts = target.finish(facts, horizon).await?;
    drop(source);
    let tables: Vec<TableCount> = TABLES
        .iter()
        .zip(facts.counts.iter().zip(counts.iter()))
        .map(|(table, (sqlite, postgres))| TableCount {
            table,
            sqlite: *sqlite,
            postgres: *postgres,
        })
        .collect();
    if counts != facts.counts {
        return Err(MigrateError::Mismatch {
            target: target.target().to_owned(),
            tables,
        });
    }
    Ok(MigrationReport {
        target: target.target().to_owned(),
        tables,
        sqlite_clock: facts.clock,
        sync_horizon: horizon,
        transaction_ids_advanced: advanced,
    })
}

#[cfg(test)]
mod tests;
