//! Writing a moved SQLite installation into PostgreSQL ([`crate::migrate`]):
//! the checks on the target, the pages by `COPY`, the final transaction.

use std::pin::pin;

use deadpool_postgres::{GenericClient, Object};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::cursor::TxCursors;
use super::encoding::encode_stored_content;
use super::{PgOptions, PgStore, db_error};
use crate::migrate::{Batch, IDENTITY_TABLES, MigrateError, SourceFacts, TABLES};
use crate::stored::StoredContent;
use crate::{Store, StoreError, StoreResult};

/// The advisory lock a node takes to migrate the schema when it connects
/// (`MIGRATION_LOCK` in `migrations.rs`): held by the move for its whole
/// run, so that a node started meanwhile waits instead of serving half an
/// installation. A test of the move (`migrate/tests.rs`: a node started
/// during a move waits) fails if the two drift apart.
const SCHEMA_LOCK: i64 = 0x6e61_7474_6572_6d31;

/// The `settings` row that marks a move not finished yet.
const UNFINISHED: &str = "migration_from_sqlite_unfinished";

/// Transaction ids advanced by one statement at most, so that progress can
/// be told.
const ADVANCE_STEP: i64 = 100_000;

/// Cursors are JSON numbers: 2^53 and above would be rounded by clients.
const MAX_CURSOR: i64 = 1 << 53;

type Values<'a> = Vec<&'a (dyn ToSql + Sync)>;

/// The database a move writes into, locked for the move.
pub(crate) struct PgTarget {
    store: PgStore,
    /// A session of its own that holds [`SCHEMA_LOCK`] until the end.
    guard: Object,
    /// The session every statement of the move runs on.
    work: Object,
}

impl PgTarget {
    /// Connects (creating the schema in an empty database) and takes the
    /// schema lock. Refuses a database another move or a starting node
    /// holds, and one that running nodes are connected to.
    pub(crate) async fn connect(url: &str) -> Result<PgTarget, MigrateError> {
        let options = PgOptions {
            pool_size: 2,
            ..PgOptions::default()
        };
        let store = PgStore::connect(url, options).await?;
        let guard = store.client().await?;
        let work = store.client().await?;
        let target = store.target().to_owned();
        let locked: bool = guard
            .query_one("SELECT pg_try_advisory_lock($1)", &[&SCHEMA_LOCK])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_error)?;
        if !locked {
            return Err(MigrateError::TargetInUse {
                target,
                what: "another move, or a node migrating its schema, holds the schema lock".into(),
            });
        }
        let mut ours = Vec::new();
        for session in [&guard, &work] {
            let pid: i32 = session
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .and_then(|row| row.try_get(0))
                .map_err(db_error)?;
            ours.push(pid);
        }
        // Nodes name their connections "natter" (unless their URL names
        // them otherwise): an idle pool still shows.
        let nodes = work
            .query_one(
                "SELECT count(*), coalesce(string_agg(DISTINCT \
                     coalesce(host(client_addr), 'a local socket'), ', '), '') \
                 FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'natter' \
                   AND pid <> ALL($1)",
                &[&ours],
            )
            .await
            .map_err(db_error)?;
        let (connections, from): (i64, String) = (
            nodes.try_get(0).map_err(db_error)?,
            nodes.try_get(1).map_err(db_error)?,
        );
        if connections > 0 {
            return Err(MigrateError::TargetInUse {
                target,
                what: format!("{connections} connections of Natter nodes, from {from}"),
            });
        }
        Ok(PgTarget { store, guard, work })
    }

    /// `host:port/database`.
    pub(crate) fn target(&self) -> &str {
        self.store.target()
    }

    /// Refuses a target that holds anything but settings (a node that ran
    /// on an empty database records its name-key version), or that an
    /// earlier move did not finish.
    pub(crate) async fn check_empty(&self) -> Result<(), MigrateError> {
        let unfinished = self
            .work
            .query_opt("SELECT 1 FROM settings WHERE name = $1", &[&UNFINISHED])
            .await
            .map_err(db_error)?
            .is_some();
        if unfinished {
            return Err(MigrateError::UnfinishedMove {
                target: self.target().to_owned(),
            });
        }
        let counts = count_tables(&self.work).await?;
        let rows: u64 = counts
            .iter()
            .zip(TABLES)
            .filter(|(_, table)| *table != "settings")
            .map(|(count, _)| count)
            .sum();
        if rows > 0 {
            return Err(MigrateError::TargetNotEmpty {
                target: self.target().to_owned(),
                users: counts[0],
                rows,
            });
        }
        Ok(())
    }

    /// Marks the move unfinished and clears the settings (the source's
    /// replace them: its keys were made by its name-key version).
    pub(crate) async fn begin(&mut self) -> StoreResult<()> {
        let tx = self.work.transaction().await.map_err(db_error)?;
        tx.execute("DELETE FROM settings", &[])
            .await
            .map_err(db_error)?;
        tx.execute(
            "INSERT INTO settings (name, value) VALUES ($1, 1)",
            &[&UNFINISHED],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    /// Runs empty transactions until new transaction ids make cursors above
    /// `horizon` (`(txid << 16) | n > horizon` for every `n`), so that every
    /// cursor handed out after the move is at or above the pruning horizon.
    /// Returns how many were run (usually none: one covers 65,536 cursors).
    pub(crate) async fn advance_transaction_ids_past(
        &self,
        horizon: i64,
        mut progress: impl FnMut(u64),
    ) -> StoreResult<u64> {
        if horizon >= MAX_CURSOR {
            return Err(StoreError::Unavailable(format!(
                "the SQLite sync clock ({horizon}) is past what PostgreSQL cursors can hold"
            )));
        }
        let wanted = (horizon >> 16) + 1;
        let mut advanced = 0u64;
        loop {
            // The first id not handed out yet: every later one is at or above it.
            let next: i64 = self
                .work
                .query_one(
                    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
                    &[],
                )
                .await
                .and_then(|row| row.try_get(0))
                .map_err(db_error)?;
            if next >= wanted {
                return Ok(advanced);
            }
            let step = (wanted - next).min(ADVANCE_STEP);
            // A DO block may commit when it is a statement of its own: one
            // round trip for many transactions. Their commits need not wait
            // for the disk: they wrote nothing, and the move's next commit
            // flushes them anyway.
            self.work
                .batch_execute(&format!(
                    "DO $$ BEGIN FOR i IN 1..{step} LOOP \
                         PERFORM set_config('synchronous_commit', 'off', true); \
                         PERFORM pg_current_xact_id(); \
                         COMMIT; \
                     END LOOP; END $$"
                ))
                .await
                .map_err(db_error)?;
            advanced += step.unsigned_abs();
            progress(advanced);
        }
    }

    /// Writes one page in a transaction of its own; returns its rows.
    pub(crate) async fn write(&mut self, batch: Batch) -> StoreResult<u64> {
        let tx = self.work.transaction().await.map_err(db_error)?;
        let rows = match &batch {
            Batch::Users(rows) => {
                copy_in(
                    &tx,
                    "users (id, username, username_key, display_name, display_key, \
                     password_hash, created_at, last_seen_at)",
                    &[I8, TEXT, TEXT, TEXT, TEXT, TEXT, I8, I8],
                    rows.iter().map(|u| -> Values<'_> {
                        vec![
                            &u.id,
                            &u.username,
                            &u.username_key,
                            &u.display_name,
                            &u.display_key,
                            &u.password_hash,
                            &u.created_at,
                            &u.last_seen_at,
                        ]
                    }),
                )
                .await?
            }
            Batch::Sessions(rows) => {
                copy_in(
                    &tx,
                    "sessions (id, user_id, token_hash, name, created_at, last_seen_at)",
                    &[I8, I8, Type::BYTEA, TEXT, I8, I8],
                    rows.iter().map(|s| -> Values<'_> {
                        vec![
                            &s.id,
                            &s.user_id,
                            &s.token_hash,
                            &s.name,
                            &s.created_at,
                            &s.last_seen_at,
                        ]
                    }),
                )
                .await?
            }
            Batch::FriendRequests(rows) => {
                copy_in(
                    &tx,
                    "friend_requests (id, from_id, to_id, greeting, status, hidden, \
                     created_at, updated_at)",
                    &[I8, I8, I8, TEXT, TEXT, Type::BOOL, I8, I8],
                    rows.iter().map(|r| -> Values<'_> {
                        vec![
                            &r.id,
                            &r.from_id,
                            &r.to_id,
                            &r.greeting,
                            &r.status,
                            &r.hidden,
                            &r.created_at,
                            &r.updated_at,
                        ]
                    }),
                )
                .await?
            }
            Batch::Conversations(rows) => {
                // Versions are change-stream cursors of the transaction that
                // wrote them (the schema checks it); one serves the page.
                let version = TxCursors::start(&tx).await?.next_cursor()?.0;
                copy_in(
                    &tx,
                    "conversations (id, kind, name, announcement, direct_key, last_seq, \
                     change_seq, member_count, version, created_at, updated_at, encrypted)",
                    &[
                        I8,
                        TEXT,
                        TEXT,
                        TEXT,
                        TEXT,
                        I8,
                        I8,
                        I8,
                        I8,
                        I8,
                        I8,
                        Type::BOOL,
                    ],
                    rows.iter().map(|c| -> Values<'_> {
                        vec![
                            &c.id,
                            &c.kind,
                            &c.name,
                            &c.announcement,
                            &c.direct_key,
                            &c.last_seq,
                            &c.change_seq,
                            &c.member_count,
                            &version,
                            &c.created_at,
                            &c.updated_at,
                            &c.encrypted,
                        ]
                    }),
                )
                .await?
            }
            Batch::Friendships(rows) => {
                copy_in(
                    &tx,
                    "friendships (user_id, friend_id, remark, since, conversation_id)",
                    &[I8, I8, TEXT, I8, I8],
                    rows.iter().map(|f| -> Values<'_> {
                        vec![
                            &f.user_id,
                            &f.friend_id,
                            &f.remark,
                            &f.since,
                            &f.conversation_id,
                        ]
                    }),
                )
                .await?
            }
            Batch::Blocks(rows) => {
                copy_in(
                    &tx,
                    "blocks (user_id, blocked_id, created_at)",
                    &[I8, I8, I8],
                    rows.iter()
                        .map(|b| -> Values<'_> { vec![&b.user_id, &b.blocked_id, &b.created_at] }),
                )
                .await?
            }
            Batch::Members(rows) => {
                copy_in(
                    &tx,
                    "members (conversation_id, user_id, role, joined_at, read_seq, delivered_seq)",
                    &[I8, I8, TEXT, I8, I8, I8],
                    rows.iter().map(|m| -> Values<'_> {
                        vec![
                            &m.conversation_id,
                            &m.user_id,
                            &m.role,
                            &m.joined_at,
                            &m.read_seq,
                            &m.delivered_seq,
                        ]
                    }),
                )
                .await?
            }
            Batch::Messages(rows) => {
                let contents = rows
                    .iter()
                    .map(|m| {
                        // Both backends keep the same stored form: decoded to
                        // check it, never through the wire types.
                        let content: StoredContent = serde_json::from_str(&m.content_json)
                            .map_err(|e| {
                                tracing::error!(
                                    conversation = m.conversation_id,
                                    seq = m.seq,
                                    error = %e,
                                    "a message content that does not decode"
                                );
                                StoreError::Unavailable(format!(
                                    "message {} of conversation {}: its content is not one \
                                     this build knows ({e}); nothing was kept",
                                    m.seq, m.conversation_id
                                ))
                            })?;
                        encode_stored_content(&content)
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                copy_in(
                    &tx,
                    "messages (conversation_id, seq, sender_id, client_msg_id, sent_at, \
                     content_kind, content, reply_to, edited_at, recalled_at, expires_at, \
                     change_seq)",
                    &[
                        I8,
                        I8,
                        I8,
                        TEXT,
                        I8,
                        Type::INT2,
                        Type::BYTEA,
                        I8,
                        I8,
                        I8,
                        I8,
                        I8,
                    ],
                    rows.iter()
                        .zip(&contents)
                        .map(|(m, (kind, bytes))| -> Values<'_> {
                            vec![
                                &m.conversation_id,
                                &m.seq,
                                &m.sender_id,
                                &m.client_msg_id,
                                &m.sent_at,
                                kind,
                                bytes,
                                &m.reply_to,
                                &m.edited_at,
                                &m.recalled_at,
                                &m.expires_at,
                                &m.change_seq,
                            ]
                        }),
                )
                .await?
            }
            Batch::Settings(rows) => {
                copy_in(
                    &tx,
                    "settings (name, value)",
                    &[TEXT, I8],
                    rows.iter()
                        .map(|s| -> Values<'_> { vec![&s.name, &s.value] }),
                )
                .await?
            }
        };
        tx.commit().await.map_err(db_error)?;
        Ok(rows)
    }

    /// The last transaction: removes the marker, moves every identity
    /// sequence past the highest id either side handed out, raises the
    /// pruning horizon to `horizon`, and counts every table. Commits only
    /// when the counts are the source's; returns them either way.
    pub(crate) async fn finish(
        &mut self,
        facts: &SourceFacts,
        horizon: i64,
    ) -> StoreResult<[u64; TABLES.len()]> {
        let tx = self.work.transaction().await.map_err(db_error)?;
        tx.execute("DELETE FROM settings WHERE name = $1", &[&UNFINISHED])
            .await
            .map_err(db_error)?;
        for (table, sqlite_seq) in IDENTITY_TABLES.iter().zip(facts.sequences) {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     greatest((SELECT coalesce(max(id), 0) FROM {table}), $1) + 1, false)"
                ),
                &[&sqlite_seq],
            )
            .await
            .map_err(db_error)?;
        }
        tx.execute(
            "UPDATE sync_horizon SET value = greatest(value, $1) WHERE id = 1",
            &[&horizon],
        )
        .await
        .map_err(db_error)?;
        let counts = count_tables(&tx).await?;
        if counts == facts.counts {
            tx.commit().await.map_err(db_error)?;
        } else {
            tx.rollback().await.map_err(db_error)?;
        }
        Ok(counts)
    }

    /// Empties every table the move writes, after a failure, so that the
    /// move can be run again.
    pub(crate) async fn discard(&self) -> StoreResult<()> {
        self.work
            .batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", TABLES.join(", ")))
            .await
            .map_err(db_error)
    }

    /// Releases the schema lock and closes the connections.
    pub(crate) async fn close(self) {
        if let Err(error) = self
            .guard
            .execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK])
            .await
        {
            // Closing the session below releases it anyway.
            tracing::debug!(error = %error, "releasing the schema lock");
        }
        drop(self.guard);
        drop(self.work);
        self.store.shutdown();
    }
}

const I8: Type = Type::INT8;
const TEXT: Type = Type::TEXT;

/// Copies `rows` into `table_and_columns` with one binary `COPY`.
async fn copy_in<'a>(
    tx: &deadpool_postgres::Transaction<'_>,
    table_and_columns: &str,
    types: &[Type],
    rows: impl Iterator<Item = Values<'a>>,
) -> StoreResult<u64> {
    let sink = tx
        .copy_in(&format!(
            "COPY {table_and_columns} FROM STDIN (FORMAT binary)"
        ))
        .await
        .map_err(db_error)?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, types));
    for values in rows {
        writer.as_mut().write(&values).await.map_err(db_error)?;
    }
    writer.finish().await.map_err(db_error)
}

/// Rows per table, in [`TABLES`] order.
async fn count_tables<C: GenericClient>(client: &C) -> StoreResult<[u64; TABLES.len()]> {
    let mut counts = [0u64; TABLES.len()];
    for (count, table) in counts.iter_mut().zip(TABLES) {
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_error)?;
        *count = rows.unsigned_abs();
    }
    Ok(counts)
}
