//! The PostgreSQL backend's own tests: rekeying colliding accounts, the
//! display-name change and its cursors, migrations, connection errors, and
//! the sync-cursor horizon (the design in `postgres/mod.rs`). What both
//! backends promise about accounts and sessions is in `accounts.rs`.

// Shared with contract.rs and accounts.rs, which use parts of it that this file does not.
#[allow(dead_code)]
mod pg;

use std::sync::Arc;
use std::time::{Duration, Instant};

use natter_protocol::sync::UserChange;
use natter_protocol::{SyncCursor, Timestamp, UserId};
use natter_store::postgres::cursor::{
    TxCursors, append_user_event, begin_read, read_horizon, user_events_after,
};
use natter_store::postgres::{PgOptions, PgStore, SCHEMA_VERSION};
use natter_store::{AccountStore, NameKeys, NewUser, Rejection, StoreError};
use pg::{PgTestDb, new_user};

fn options() -> PgOptions {
    PgOptions {
        pool_size: 4,
        ..PgOptions::default()
    }
}

async fn store(db: &PgTestDb) -> PgStore {
    PgStore::connect(db.url(), options())
        .await
        .expect("connects and migrates")
}

/// Keys as the accounts domain makes them: here, just lowercase.
fn lowercase_keys() -> NameKeys {
    Arc::new(|username: &str, display_name: &str| {
        (username.to_lowercase(), display_name.to_lowercase())
    })
}

/// Accounts made before a change of the key function may share a key: the
/// oldest keeps it, the others keep `key#id`, and all stay reachable.
#[tokio::test]
async fn rekeying_keeps_colliding_accounts_reachable_as_key_hash_id() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let store = store(&db).await;
    // Made by an older key function that kept case: three distinct keys.
    let older = |name: &str| NewUser {
        username_key: name.into(),
        display_key: name.into(),
        ..new_user(name)
    };
    let ada = store.insert_user(older("Ada")).await.expect("user").id;
    let loud = store.insert_user(older("ADA")).await.expect("user").id;
    let bob = store.insert_user(older("Bob")).await.expect("user").id;

    let collided = store
        .rekey_users(2, lowercase_keys())
        .await
        .expect("rekeys");
    assert_eq!(collided, vec![loud]);
    let keys: Vec<(i64, String, String)> = db
        .client()
        .await
        .query(
            "SELECT id, username_key, display_key FROM users ORDER BY id",
            &[],
        )
        .await
        .expect("keys")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(
        keys,
        vec![
            (ada.0, "ada".to_owned(), "ada".to_owned()),
            (loud.0, format!("ada#{}", loud.0), "ada".to_owned()),
            (bob.0, "bob".to_owned(), "bob".to_owned()),
        ]
    );
    // The exact username wins, else the oldest.
    let hash = |name: &str| format!("hash of {name}");
    assert_eq!(
        store.find_credentials("ada", "ADA").await.expect("finds"),
        Some((loud, hash("ADA")))
    );
    assert_eq!(
        store.find_credentials("ada", "Ada").await.expect("finds"),
        Some((ada, hash("Ada")))
    );
    assert_eq!(
        store.find_credentials("ada", "aDA").await.expect("finds"),
        Some((ada, hash("Ada")))
    );
    // No new look-alike can register.
    assert_eq!(
        store.insert_user(new_user("aDa")).await.err(),
        Some(StoreError::Rejected(Rejection::Taken))
    );
    // Both are found by a search for the key.
    let found = store.search_users("ada", 10, 0).await.expect("search");
    assert_eq!(
        found.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![ada, loud]
    );

    // The version is recorded: the same (or an older) version does nothing.
    let upper: NameKeys = Arc::new(|u: &str, d: &str| (u.to_uppercase(), d.to_uppercase()));
    assert!(
        store
            .rekey_users(2, upper.clone())
            .await
            .expect("noop")
            .is_empty()
    );
    assert!(store.rekey_users(1, upper).await.expect("noop").is_empty());
    let version: i64 = db
        .client()
        .await
        .query_one(
            "SELECT value FROM settings WHERE name = 'name_key_version'",
            &[],
        )
        .await
        .expect("setting")
        .get(0);
    assert_eq!(version, 2);
    assert_eq!(
        store.find_credentials("ada", "Ada").await.expect("finds"),
        Some((ada, hash("Ada")))
    );
}

/// The event lands in the user's change stream with a cursor of the
/// transaction that wrote it, and the user's direct conversations take a
/// version of the same transaction (their name is the peer's display name).
#[tokio::test]
async fn a_display_name_change_appends_an_event_and_moves_direct_conversations() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let store = store(&db).await;
    let erin = store.insert_user(new_user("erin")).await.expect("user").id;
    let client = db.client().await;
    // A direct conversation as the contacts store will write it.
    let conversation: i64 = client
        .query_one(
            "INSERT INTO conversations (kind, direct_key, version, created_at, updated_at) \
             VALUES ('direct', 'x', pg_current_xact_id()::text::bigint << 16, 1, 1) RETURNING id",
            &[],
        )
        .await
        .expect("conversation")
        .get(0);
    client
        .execute(
            "INSERT INTO members (conversation_id, user_id, role, joined_at) VALUES ($1, $2, 'member', 1)",
            &[&conversation, &erin.0],
        )
        .await
        .expect("member");
    let version_before: i64 = client
        .query_one("SELECT version FROM conversations", &[])
        .await
        .expect("version")
        .get(0);

    let (profile, changes) = store
        .update_display_name(erin, "Erin E.".into(), "erin e.".into(), Timestamp(50))
        .await
        .expect("renames");
    assert_eq!(profile.display_name, "Erin E.");
    assert_eq!(profile.username, "erin");
    assert_eq!(
        store
            .find_user(erin)
            .await
            .expect("finds")
            .map(|u| u.display_name),
        Some("Erin E.".to_owned())
    );
    assert_eq!(changes.user_events.len(), 1);
    let (owner, event) = &changes.user_events[0];
    assert_eq!(*owner, erin);
    assert_eq!(event.at, Timestamp(50));
    assert_eq!(
        event.change,
        UserChange::ProfileUpdated {
            display_name: "Erin E.".into()
        }
    );
    assert!(changes.messages.is_empty());

    let version_after: i64 = client
        .query_one("SELECT version FROM conversations", &[])
        .await
        .expect("version")
        .get(0);
    assert!(version_after > version_before);
    assert_eq!(version_after >> 16, event.cursor.0 >> 16, "one transaction");

    // What a sync will read: the committed entry, below the horizon.
    let pool = db.pool(1);
    let mut reader = pool.get().await.expect("connection");
    // Transaction ids are the whole PostgreSQL cluster's: a transaction of
    // another test, begun before ours committed, holds the horizon back until
    // it ends. Wait for that (bounded), as a sync does.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (tx, horizon) = loop {
        let tx = begin_read(&mut reader).await.expect("read");
        let horizon = read_horizon(&tx).await.expect("horizon");
        if event.cursor.0 < horizon {
            break (tx, horizon);
        }
        tx.commit().await.expect("ends");
        assert!(
            Instant::now() < deadline,
            "the horizon never passed the entry"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let read = user_events_after(&tx, erin, SyncCursor(0), horizon, 100)
        .await
        .expect("events");
    assert_eq!(read, vec![event.clone()]);
    tx.commit().await.expect("ends");

    assert_eq!(
        store
            .update_display_name(UserId(erin.0 + 1000), "x".into(), "x".into(), Timestamp(60))
            .await
            .err(),
        Some(StoreError::NotFound)
    );
}

#[tokio::test]
async fn migrations_run_exactly_once_when_nodes_start_together() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    // Four nodes on a fresh database, at once, each on its own connections.
    let (a, b, c, d) = tokio::join!(
        PgStore::connect(db.url(), options()),
        PgStore::connect(db.url(), options()),
        PgStore::connect(db.url(), options()),
        PgStore::connect(db.url(), options()),
    );
    for store in [a, b, c, d] {
        store.expect("every node connects");
    }
    let versions: Vec<i32> = db
        .client()
        .await
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .expect("versions")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    // A node starting later finds nothing to do, and the schema works.
    let store = store(&db).await;
    store.insert_user(new_user("late")).await.expect("inserts");
    let rows: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM schema_version", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, i64::from(SCHEMA_VERSION));
}

#[tokio::test]
async fn a_schema_newer_than_the_build_is_refused_with_a_clear_error() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let target = store(&db).await.target().to_owned();
    let newer = SCHEMA_VERSION + 1;
    db.client()
        .await
        .execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&newer],
        )
        .await
        .expect("a newer build migrated");
    let Err(StoreError::Unavailable(message)) = PgStore::connect(db.url(), options()).await else {
        panic!("a newer schema must be refused");
    };
    assert!(target.ends_with(&format!("/{}", db.name())), "{target}");
    assert!(message.contains(&target), "{message}");
    assert!(
        message.contains(&format!("schema version {newer}, newer than")),
        "{message}"
    );
}

/// Needs no PostgreSQL: nothing listens on port 1.
#[tokio::test]
async fn an_unreachable_server_is_named_without_its_password() {
    let Err(StoreError::Unavailable(message)) = PgStore::connect(
        "postgres://natter:hunter2@127.0.0.1:1/natter_nowhere",
        options(),
    )
    .await
    else {
        panic!("nothing listens on port 1");
    };
    assert!(
        message.contains("cannot reach PostgreSQL at 127.0.0.1:1/natter_nowhere"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");

    let Err(StoreError::Unavailable(message)) = PgStore::connect(
        "postgres://natter:hunter2@127.0.0.1:1/natter_nowhere?sslmode=require",
        options(),
    )
    .await
    else {
        panic!("TLS is not supported");
    };
    assert!(
        message.contains("TLS to PostgreSQL is not supported"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

/// A reader that polls the change stream, keeping every cursor it returned
/// and what it had delivered by then.
struct Poller {
    user: UserId,
    since: SyncCursor,
    seen: Vec<SyncCursor>,
    returned: Vec<(SyncCursor, Vec<SyncCursor>)>,
}

impl Poller {
    /// One poll, as a sync will do it: in one snapshot, the horizon and the
    /// entries below it; the cursor returned is the horizon's predecessor.
    async fn poll(&mut self, client: &mut deadpool_postgres::Object) -> SyncCursor {
        let tx = begin_read(client).await.expect("read");
        let horizon = read_horizon(&tx).await.expect("horizon");
        let events = user_events_after(&tx, self.user, self.since, horizon, 1000)
            .await
            .expect("events");
        tx.commit().await.expect("ends");
        self.seen.extend(events.iter().map(|e| e.cursor));
        self.since = self.since.max(SyncCursor(horizon - 1));
        self.returned.push((self.since, self.seen.clone()));
        self.since
    }
}

/// The commit-horizon proof: transaction A writes first and commits last; a
/// reader polling between the two commits must not hand out a cursor that
/// passes A's entry, or it would never deliver it.
#[tokio::test]
async fn a_reader_never_skips_an_entry_that_commits_after_a_larger_one() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    drop(store(&db).await);
    let pool = db.pool(3);
    let mut conn_a = pool.get().await.expect("connection a");
    let mut conn_b = pool.get().await.expect("connection b");
    let mut conn_reader = pool.get().await.expect("reader");
    let user = UserId(42);
    let change = |name: &str| UserChange::ProfileUpdated {
        display_name: name.into(),
    };

    // A takes its transaction id and writes first; B second.
    let tx_a = conn_a.transaction().await.expect("begin a");
    let mut cursors_a = TxCursors::start(&tx_a).await.expect("cursors a");
    let event_a = append_user_event(&tx_a, &mut cursors_a, user, Timestamp(1), change("a"))
        .await
        .expect("a writes");
    let tx_b = conn_b.transaction().await.expect("begin b");
    let mut cursors_b = TxCursors::start(&tx_b).await.expect("cursors b");
    let event_b = append_user_event(&tx_b, &mut cursors_b, user, Timestamp(2), change("b"))
        .await
        .expect("b writes");
    assert!(event_a.cursor < event_b.cursor);
    // B commits first.
    tx_b.commit().await.expect("b commits");

    let mut poller = Poller {
        user,
        since: SyncCursor(0),
        seen: Vec::new(),
        returned: Vec::new(),
    };
    let between = poller.poll(&mut conn_reader).await;
    // B's entry is committed and visible: a reader going by what it can see
    // would have returned B's cursor, past A's.
    let visible: Vec<i64> = conn_reader
        .query(
            "SELECT cursor FROM user_events WHERE user_id = $1",
            &[&user.0],
        )
        .await
        .expect("visible")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(visible, vec![event_b.cursor.0]);
    assert!(
        between < event_a.cursor,
        "the horizon holds the reader back"
    );
    assert!(poller.seen.is_empty(), "{:?}", poller.seen);

    // A commits last; the reader catches up as soon as the horizon passes
    // both (other tests' transactions on the same server may hold it a
    // moment longer: that is latency, and is awaited, not slept through).
    tx_a.commit().await.expect("a commits");
    let deadline = Instant::now() + Duration::from_secs(30);
    while poller.seen.len() < 2 {
        assert!(Instant::now() < deadline, "the horizon never passed");
        poller.poll(&mut conn_reader).await;
    }
    assert_eq!(poller.seen, vec![event_a.cursor, event_b.cursor]);

    // The property itself: every entry at or below a cursor the reader
    // returned had been delivered by the time it returned that cursor.
    let all: Vec<SyncCursor> = vec![event_a.cursor, event_b.cursor];
    for (returned, delivered) in &poller.returned {
        for cursor in all.iter().filter(|c| *c <= returned) {
            assert!(
                delivered.contains(cursor),
                "cursor {returned:?} was returned before entry {cursor:?} was delivered"
            );
        }
    }
}
