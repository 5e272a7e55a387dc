//! Reading a whole SQLite installation, for the move to PostgreSQL
//! ([`crate::migrate`]): the checks before it, and every table in pages.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags, Row};

use super::db_error;
use super::migrations;
use crate::StoreError;
use crate::migrate::{
    Batch, BlockRow, ConversationRow, FriendRequestRow, FriendshipRow, IDENTITY_TABLES, MemberRow,
    MigrateError, MovedMessage, PAGE_BYTES, PAGE_ROWS, SessionRow, SettingRow, SourceFacts, TABLES,
    UserRow,
};

/// The database of a stopped installation, held with an exclusive lock and
/// read in one transaction (one snapshot) until the value is dropped.
pub(crate) struct SqliteSource {
    conn: Connection,
}

impl SqliteSource {
    /// Opens `natter.db` in `dir` (never creating it) and locks it.
    ///
    /// Refuses a directory without it, a database something holds open (a
    /// running server keeps a shared lock on it in WAL mode, so the
    /// exclusive one is refused at once), and one whose schema is not this
    /// build's latest: the copy reads the latest tables, and migrating here
    /// would change the operator's only copy behind their back.
    pub(crate) fn open(dir: &Path) -> Result<SqliteSource, MigrateError> {
        let path = dir.join("natter.db");
        if !path.is_file() {
            return Err(MigrateError::NoDatabase(dir.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| unavailable(&path, e))?;
        // Locking mode EXCLUSIVE keeps the lock from the first transaction
        // until the connection closes, and a server that opens the database
        // meanwhile gives up after its busy timeout.
        conn.execute_batch("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE;")
            .map_err(|e| unavailable(&path, e))?;
        if let Err(error) = conn.execute_batch("BEGIN EXCLUSIVE") {
            return Err(match error.sqlite_error_code() {
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                    MigrateError::SourceInUse(path)
                }
                _ => unavailable(&path, error),
            });
        }
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| unavailable(&path, e))?;
        let latest = latest_schema_version()?;
        if found < latest {
            return Err(MigrateError::OldSchema {
                path,
                found,
                latest,
            });
        }
        if found > latest {
            return Err(MigrateError::NewerSchema {
                path,
                found,
                latest,
            });
        }
        Ok(SqliteSource { conn })
    }

    /// Row counts, the sync clock and the AUTOINCREMENT counters.
    pub(crate) fn facts(&self) -> Result<SourceFacts, MigrateError> {
        let mut counts = [0u64; TABLES.len()];
        for (count, table) in counts.iter_mut().zip(TABLES) {
            let rows: i64 = self
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                    row.get(0)
                })
                .map_err(db_error)?;
            *count = u64::try_from(rows).unwrap_or(0);
        }
        let clock: i64 = self
            .conn
            .query_row("SELECT value FROM sync_clock WHERE id = 1", [], |row| {
                row.get(0)
            })
            .map_err(db_error)?;
        let mut sequences = [0i64; IDENTITY_TABLES.len()];
        for (sequence, table) in sequences.iter_mut().zip(IDENTITY_TABLES) {
            // sqlite_sequence has a row per AUTOINCREMENT table that ever
            // had one: the highest id handed out, deleted rows' included.
            *sequence = self
                .conn
                .query_row(
                    "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?1",
                    [table],
                    |row| row.get(0),
                )
                .map_err(db_error)?;
        }
        Ok(SourceFacts {
            counts,
            clock,
            sequences,
        })
    }

    /// Reads every table in [`TABLES`] order, in pages, each handed to
    /// `sink`; stops early (with `Ok`) when `sink` returns false.
    pub(crate) fn export(&self, mut sink: impl FnMut(Batch) -> bool) -> Result<(), StoreError> {
        let conn = &self.conn;
        let go_on = pages(
            conn,
            "SELECT id, username, username_key, display_name, display_key, password_hash, \
             created_at, last_seen_at FROM users ORDER BY id",
            |row| {
                Ok(UserRow {
                    id: row.get(0)?,
                    username: row.get(1)?,
                    username_key: row.get(2)?,
                    display_name: row.get(3)?,
                    display_key: row.get(4)?,
                    password_hash: row.get(5)?,
                    created_at: row.get(6)?,
                    last_seen_at: row.get(7)?,
                })
            },
            |u| u.username.len() * 2 + u.display_name.len() * 2 + u.password_hash.len(),
            Batch::Users,
            &mut sink,
        )? && pages(
            conn,
            "SELECT id, user_id, token_hash, name, created_at, last_seen_at \
             FROM sessions ORDER BY id",
            |row| {
                Ok(SessionRow {
                    id: row.get(0)?,
                    user_id: row.get(1)?,
                    token_hash: row.get(2)?,
                    name: row.get(3)?,
                    created_at: row.get(4)?,
                    last_seen_at: row.get(5)?,
                })
            },
            |s| s.token_hash.len() + s.name.len(),
            Batch::Sessions,
            &mut sink,
        )? && pages(
            conn,
            "SELECT id, from_id, to_id, greeting, status, hidden, created_at, updated_at \
             FROM friend_requests ORDER BY id",
            |row| {
                Ok(FriendRequestRow {
                    id: row.get(0)?,
                    from_id: row.get(1)?,
                    to_id: row.get(2)?,
                    greeting: row.get(3)?,
                    status: row.get(4)?,
                    hidden: row.get::<_, i64>(5)? != 0,
                    created_at: row.get(6)?,
                    updated_at: row.get(7)?,
                })
            },
            |r| r.greeting.len(),
            Batch::FriendRequests,
            &mut sink,
        )? && pages(
            conn,
            "SELECT id, kind, name, announcement, direct_key, last_seq, change_seq, \
             member_count, created_at, updated_at, encrypted FROM conversations ORDER BY id",
            |row| {
                Ok(ConversationRow {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    name: row.get(2)?,
                    announcement: row.get(3)?,
                    direct_key: row.get(4)?,
                    last_seq: row.get(5)?,
                    change_seq: row.get(6)?,
                    member_count: row.get(7)?,
                    created_at: row.get(8)?,
                    updated_at: row.get(9)?,
                    encrypted: row.get::<_, i64>(10)? != 0,
                })
            },
            |c| c.name.len() + c.announcement.as_ref().map_or(0, String::len),
            Batch::Conversations,
            &mut sink,
        )? && pages(
            conn,
            "SELECT user_id, friend_id, remark, since, conversation_id \
             FROM friendships ORDER BY user_id, friend_id",
            |row| {
                Ok(FriendshipRow {
                    user_id: row.get(0)?,
                    friend_id: row.get(1)?,
                    remark: row.get(2)?,
                    since: row.get(3)?,
                    conversation_id: row.get(4)?,
                })
            },
            |f| f.remark.as_ref().map_or(0, String::len),
            Batch::Friendships,
            &mut sink,
        )? && pages(
            conn,
            "SELECT user_id, blocked_id, created_at FROM blocks ORDER BY user_id, blocked_id",
            |row| {
                Ok(BlockRow {
                    user_id: row.get(0)?,
                    blocked_id: row.get(1)?,
                    created_at: row.get(2)?,
                })
            },
            |_| 0,
            Batch::Blocks,
            &mut sink,
        )? && pages(
            conn,
            "SELECT conversation_id, user_id, role, joined_at, read_seq, delivered_seq \
             FROM members ORDER BY conversation_id, user_id",
            |row| {
                Ok(MemberRow {
                    conversation_id: row.get(0)?,
                    user_id: row.get(1)?,
                    role: row.get(2)?,
                    joined_at: row.get(3)?,
                    read_seq: row.get(4)?,
                    delivered_seq: row.get(5)?,
                })
            },
            |_| 0,
            Batch::Members,
            &mut sink,
        )? && pages(
            conn,
            "SELECT conversation_id, seq, sender_id, client_msg_id, sent_at, content, reply_to, \
             edited_at, recalled_at, expires_at, change_seq FROM messages \
             ORDER BY conversation_id, seq",
            |row| {
                Ok(MovedMessage {
                    conversation_id: row.get(0)?,
                    seq: row.get(1)?,
                    sender_id: row.get(2)?,
                    client_msg_id: row.get(3)?,
                    sent_at: row.get(4)?,
                    content_json: row.get(5)?,
                    reply_to: row.get(6)?,
                    edited_at: row.get(7)?,
                    recalled_at: row.get(8)?,
                    expires_at: row.get(9)?,
                    change_seq: row.get(10)?,
                })
            },
            |m| 64 + m.content_json.len() + m.client_msg_id.as_ref().map_or(0, String::len),
            Batch::Messages,
            &mut sink,
        )? && pages(
            conn,
            "SELECT name, value FROM settings ORDER BY name",
            |row| {
                Ok(SettingRow {
                    name: row.get(0)?,
                    value: row.get(1)?,
                })
            },
            |s| s.name.len(),
            Batch::Settings,
            &mut sink,
        )?;
        if !go_on {
            tracing::debug!("the move stopped reading: its writer stopped");
        }
        Ok(())
    }
}

/// Runs `sql` (every row of one table, in key order) and hands its rows to
/// `sink` in pages of at most [`PAGE_ROWS`] rows and about [`PAGE_BYTES`]
/// bytes (`size` estimates a row's). The statement streams: only one page
/// is held. Returns false when `sink` wants no more.
fn pages<T>(
    conn: &Connection,
    sql: &str,
    map: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
    size: impl Fn(&T) -> usize,
    wrap: impl Fn(Vec<T>) -> Batch,
    sink: &mut impl FnMut(Batch) -> bool,
) -> Result<bool, StoreError> {
    // The statement names its table; the error says which one failed.
    let failed = |error: rusqlite::Error| {
        tracing::error!(%error, sql, "reading the SQLite database failed");
        StoreError::Unavailable(format!("reading the SQLite database ({sql}): {error}"))
    };
    let mut statement = conn.prepare(sql).map_err(failed)?;
    let mut rows = statement.query([]).map_err(failed)?;
    let mut page = Vec::new();
    let mut bytes = 0;
    while let Some(row) = rows.next().map_err(failed)? {
        let item = map(row).map_err(failed)?;
        bytes += size(&item);
        page.push(item);
        if page.len() >= PAGE_ROWS || bytes >= PAGE_BYTES {
            if !sink(wrap(std::mem::take(&mut page))) {
                return Ok(false);
            }
            bytes = 0;
        }
    }
    if !page.is_empty() && !sink(wrap(page)) {
        return Ok(false);
    }
    Ok(true)
}

/// The schema version this build's SQLite migrations end at, found by
/// running them on an empty in-memory database (so it cannot drift from them).
fn latest_schema_version() -> Result<i64, MigrateError> {
    let mut scratch = Connection::open_in_memory().map_err(db_error)?;
    migrations::migrate(&mut scratch)?;
    Ok(scratch
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(db_error)?)
}

fn unavailable(path: &Path, error: rusqlite::Error) -> MigrateError {
    tracing::error!(path = %path.display(), %error, "cannot open the SQLite database");
    MigrateError::Store(StoreError::Unavailable(format!(
        "cannot open {}: {error}",
        path.display()
    )))
}
