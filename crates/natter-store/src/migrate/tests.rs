//! The move on a hand-made SQLite installation: every table, the refusals,
//! and what the stores answer afterwards.

use std::path::Path;

use natter_protocol::conversations::{HistoryQuery, MessageContent, SystemEvent};
use natter_protocol::{ConversationId, DeviceId, Seq, SyncCursor, Timestamp, UserId};
use rusqlite::{Connection, params};

use super::*;
use crate::postgres::{PgOptions, PgStore, ScratchDatabase};
use crate::sqlite::{SqliteOptions, SqliteStore};
use crate::{AccountStore, ConversationStore, NewUser, Store, SyncStore};

const TOKEN: [u8; 32] = [7; 32];

/// A database with the latest schema, and the connection to fill it by hand.
fn fresh_installation(dir: &Path) -> Connection {
    let store = SqliteStore::open(dir, SqliteOptions::default()).expect("opens");
    store.shutdown();
    drop(store);
    Connection::open(dir.join("natter.db")).expect("reopens")
}

fn json(content: &MessageContent) -> String {
    serde_json::to_string(content).expect("encodes")
}

/// Three users (a deleted session among theirs), a friendship with its
/// direct conversation, a pending hidden request, a block, a group with
/// roles and read positions, messages in CJK and emoji with a reply and a
/// system message, a setting, change-stream entries, and a clock at `clock`.
fn fill(conn: &Connection, clock: i64) {
    let text = |t: &str| json(&MessageContent::Text { text: t.into() });
    conn.execute_batch(
        "INSERT INTO users (id, username, username_key, display_name, display_key, password_hash, \
             created_at, last_seen_at) VALUES
             (1, 'alice', 'alice', 'Alice 爱丽丝', 'alice 爱丽丝', 'hash-a', 10, 500),
             (2, 'bob', 'bob', 'Bob', 'bob', 'hash-b', 11, NULL),
             (3, 'carol', 'carol', 'Carol 🌸', 'carol 🌸', 'hash-c', 12, NULL);
         INSERT INTO friend_requests (id, from_id, to_id, greeting, status, hidden, created_at, updated_at)
             VALUES (1, 1, 2, '你好', 'accepted', 0, 20, 21), (2, 3, 1, 'hi', 'pending', 1, 22, 22);
         INSERT INTO conversations (id, kind, name, announcement, direct_key, last_seq, change_seq,
             member_count, version, created_at, updated_at, encrypted) VALUES
             (1, 'direct', '', NULL, '1:2', 3, 0, 2, 5, 21, 40, 0),
             (2, 'group', '小组 Team', '公告 🎉', NULL, 2, 0, 3, 6, 30, 41, 0);
         INSERT INTO friendships (user_id, friend_id, remark, since, conversation_id)
             VALUES (1, 2, '老朋友', 21, 1), (2, 1, NULL, 21, 1);
         INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (3, 2, 25);
         INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, delivered_seq) VALUES
             (1, 1, 'member', 21, 3, 3), (1, 2, 'member', 21, 1, 2),
             (2, 1, 'owner', 30, 2, 2), (2, 2, 'admin', 30, 1, 1), (2, 3, 'member', 31, 0, 0);
         INSERT INTO settings (name, value) VALUES ('name_key_version', 2);
         INSERT INTO user_events (cursor, user_id, at, change) VALUES
             (2, 1, 20, '{\"type\":\"profile_updated\",\"display_name\":\"A\"}');",
    )
    .expect("fills");
    for (id, user, token) in [(1, 1, [7u8; 32]), (2, 2, [8; 32]), (3, 2, [9; 32])] {
        conn.execute(
            "INSERT INTO sessions (id, user_id, token_hash, name, created_at, last_seen_at) \
             VALUES (?1, ?2, ?3, 'phone 📱', 15, 16)",
            params![id, user, token.as_slice()],
        )
        .expect("session");
    }
    // The newest device logged out: its id must never come back.
    conn.execute("DELETE FROM sessions WHERE id = 3", [])
        .expect("logout");
    let system = json(&MessageContent::System {
        event: SystemEvent::GroupCreated {
            by: UserId(1),
            name: "小组 Team".into(),
        },
    });
    for (conversation, seq, sender, client, content, reply) in [
        (1, 1, 1, Some("c-1"), text("你好，世界"), None),
        (1, 2, 2, Some("c-2"), text("🎉👍 emoji"), None),
        (1, 3, 1, Some("c-3"), text("a reply"), Some(1)),
        (2, 1, 1, None, system, None),
        (2, 2, 2, Some("c-4"), text("大家好"), None),
    ] {
        conn.execute(
            "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, sent_at, content, \
             reply_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![conversation, seq, sender, client, 100 + seq, content, reply],
        )
        .expect("message");
    }
    conn.execute("UPDATE sync_clock SET value = ?1", [clock])
        .expect("clock");
}

async fn next_xid(url: &str) -> i64 {
    let client = crate::postgres::scratch::connect(url)
        .await
        .expect("connects");
    client
        .query_one(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .expect("xmax")
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        username_key: name.into(),
        display_name: name.into(),
        display_key: name.into(),
        password_hash: "h".into(),
        now: Timestamp(99),
    }
}

#[tokio::test]
async fn every_table_moves_and_old_cursors_are_reset() {
    let Some(database) = ScratchDatabase::create_for_tests().await.expect("postgres") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = fresh_installation(dir.path());
    // A clock ahead of the server's transaction ids: the move must advance
    // them, or cursors handed out afterwards would be below the horizon.
    let clock = ((next_xid(database.url()).await + 1000) << 16) + 5;
    fill(&conn, clock);
    drop(conn);

    let mut seen = Vec::new();
    let report = sqlite_to_postgres(dir.path(), database.url(), |table, rows| {
        seen.push((table.to_owned(), rows));
    })
    .await
    .expect("moves");
    let expected = [3, 2, 2, 2, 2, 1, 5, 5, 1];
    for (table, rows) in report.tables.iter().zip(expected) {
        assert_eq!(
            (table.sqlite, table.postgres),
            (rows, rows),
            "{}",
            table.table
        );
    }
    assert_eq!(report.sqlite_clock, clock);
    assert!(report.transaction_ids_advanced > 0, "{report:?}");
    assert!(seen.contains(&("messages".to_owned(), 5)), "{seen:?}");
    assert!(report.to_string().contains("messages"), "{report}");

    let store = PgStore::connect(database.url(), PgOptions::default())
        .await
        .expect("connects");
    // The same credentials and the same device token.
    let (alice, hash) = store
        .find_credentials("alice", "alice")
        .await
        .expect("reads")
        .expect("alice is there");
    assert_eq!((alice, hash.as_str()), (UserId(1), "hash-a"));
    let session = store
        .find_session(TOKEN)
        .await
        .expect("reads")
        .expect("the session");
    assert_eq!(
        (session.device_id, session.user_id),
        (DeviceId(1), UserId(1))
    );
    // Every message, with its seq, content and reply.
    let page = store
        .page_messages(
            UserId(1),
            ConversationId(1),
            HistoryQuery {
                before: None,
                after: Some(Seq(0)),
                limit: Some(100),
            },
        )
        .await
        .expect("history");
    let texts: Vec<_> = page
        .messages
        .iter()
        .map(|m| (m.seq.0, m.content.clone(), m.reply_to))
        .collect();
    assert_eq!(
        texts,
        [
            (
                1,
                MessageContent::Text {
                    text: "你好，世界".into()
                },
                None
            ),
            (
                2,
                MessageContent::Text {
                    text: "🎉👍 emoji".into()
                },
                None
            ),
            (
                3,
                MessageContent::Text {
                    text: "a reply".into()
                },
                Some(Seq(1))
            ),
        ]
    );
    let group = store
        .get_conversation(UserId(3), ConversationId(2))
        .await
        .expect("the group");
    assert_eq!(group.name, "小组 Team");
    assert_eq!(group.announcement.as_deref(), Some("公告 🎉"));
    assert_eq!((group.last_seq, group.read_seq), (Seq(2), Seq(0)));

    // A cursor of the SQLite era is reset, and lists every conversation.
    for old in [SyncCursor(2), SyncCursor(clock)] {
        let sync = store
            .sync(UserId(1), old, false, 1000, 200)
            .await
            .expect("syncs");
        assert!(sync.reset, "{old:?}");
        assert_eq!(sync.conversations.len(), 2);
        // The cursor it hands out works: the next sync is not a reset.
        let next = store
            .sync(UserId(1), sync.cursor, false, 1000, 200)
            .await
            .expect("syncs again");
        assert!(!next.reset, "{:?} after {:?}", sync.cursor, old);
    }

    // Ids continue after the highest handed out, the deleted session's too.
    let dave = store.insert_user(new_user("dave")).await.expect("inserts");
    assert_eq!(dave.id, UserId(4));
    let device = store
        .insert_session(dave.id, "new".into(), [1; 32], Timestamp(1))
        .await
        .expect("inserts");
    assert_eq!(device, DeviceId(4));
    store.shutdown();

    // Never merged: a second move is refused and changes nothing.
    let again = sqlite_to_postgres(dir.path(), database.url(), |_, _| {}).await;
    assert!(
        matches!(again, Err(MigrateError::TargetNotEmpty { users: 4, .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn the_source_must_be_a_stopped_installation_of_the_latest_schema() {
    let empty = tempfile::tempdir().expect("tempdir");
    let refused = sqlite_to_postgres(empty.path(), "postgres://u@127.0.0.1:1/x", |_, _| {}).await;
    assert!(
        matches!(refused, Err(MigrateError::NoDatabase(_))),
        "{refused:?}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    drop(fresh_installation(dir.path()));
    // A running server holds the database open.
    let running = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens");
    let refused = sqlite_to_postgres(dir.path(), "postgres://u@127.0.0.1:1/x", |_, _| {}).await;
    assert!(
        matches!(refused, Err(MigrateError::SourceInUse(_))),
        "{refused:?}"
    );
    running.shutdown();
    drop(running);

    // While a move holds it, a server cannot open it.
    let source = SqliteSource::open(dir.path()).expect("locks");
    assert!(SqliteStore::open(dir.path(), SqliteOptions::default()).is_err());
    drop(source);

    let conn = Connection::open(dir.path().join("natter.db")).expect("opens");
    conn.pragma_update(None, "user_version", 3)
        .expect("pretends");
    drop(conn);
    let refused = sqlite_to_postgres(dir.path(), "postgres://u@127.0.0.1:1/x", |_, _| {}).await;
    let Err(error @ MigrateError::OldSchema { found: 3, .. }) = refused else {
        panic!("{refused:?}");
    };
    assert!(error.to_string().contains("natter serve --data"), "{error}");
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(fresh_installation(dir.path()));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let url = format!("postgres://natter:s3cret-pw@{closed}/natter");
    let refused = sqlite_to_postgres(dir.path(), &url, |_, _| {}).await;
    let Err(error) = refused else {
        panic!("moved into nothing");
    };
    let message = error.to_string();
    assert!(message.contains(&format!("{closed}/natter")), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
    // The source is left as it was: a server opens it again.
    SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens");
}

#[tokio::test]
async fn a_failed_move_leaves_the_target_empty_and_an_interrupted_one_is_refused() {
    let Some(database) = ScratchDatabase::create_for_tests().await.expect("postgres") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = fresh_installation(dir.path());
    fill(&conn, 40);
    conn.execute(
        "UPDATE messages SET content = '{\"type\":\"hologram\"}' WHERE conversation_id = 2 AND seq = 2",
        [],
    )
    .expect("spoils");
    drop(conn);
    let failed = sqlite_to_postgres(dir.path(), database.url(), |_, _| {}).await;
    let Err(error) = failed else {
        panic!("moved an undecodable message");
    };
    assert!(
        error.to_string().contains("message 2 of conversation 2"),
        "{error}"
    );
    // Emptied again: once the message is mended, the move goes through.
    let conn = Connection::open(dir.path().join("natter.db")).expect("reopens");
    conn.execute(
        "UPDATE messages SET content = ?1 WHERE conversation_id = 2 AND seq = 2",
        [json(&MessageContent::Text {
            text: "mended".into(),
        })],
    )
    .expect("mends");
    drop(conn);
    let report = sqlite_to_postgres(dir.path(), database.url(), |_, _| {})
        .await
        .expect("moves after the failure");
    assert_eq!(report.tables[0].postgres, 3);

    // A move killed halfway leaves its marker; the next one refuses.
    let Some(other) = ScratchDatabase::create_for_tests().await.expect("postgres") else {
        return;
    };
    let store = PgStore::connect(other.url(), PgOptions::default())
        .await
        .expect("creates the schema");
    store.shutdown();
    let client = crate::postgres::scratch::connect(other.url())
        .await
        .expect("connects");
    client
        .execute(
            "INSERT INTO settings (name, value) VALUES ('migration_from_sqlite_unfinished', 1)",
            &[],
        )
        .await
        .expect("marks");
    let refused = sqlite_to_postgres(dir.path(), other.url(), |_, _| {}).await;
    assert!(
        matches!(refused, Err(MigrateError::UnfinishedMove { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_node_started_during_a_move_waits_and_a_running_one_is_refused() {
    let Some(database) = ScratchDatabase::create_for_tests().await.expect("postgres") else {
        return;
    };
    let target = PgTarget::connect(database.url()).await.expect("connects");
    let url = database.url().to_owned();
    let mut node = tokio::spawn(async move { PgStore::connect(&url, PgOptions::default()).await });
    // The node's schema check waits for the lock the move holds.
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), &mut node).await;
    assert!(waited.is_err(), "the node started during the move");
    target.close().await;
    let node = tokio::time::timeout(std::time::Duration::from_secs(30), node)
        .await
        .expect("the node starts once the move is over")
        .expect("joins")
        .expect("connects");
    // Now it is running on the database: a move refuses it.
    let refused = PgTarget::connect(database.url()).await;
    assert!(
        matches!(refused, Err(MigrateError::TargetInUse { .. })),
        "{:?}",
        refused.err()
    );
    node.shutdown();
}
