//! Backend-level checks of the writer: group commit and savepoint isolation.

use std::sync::atomic::Ordering;

use natter_protocol::Timestamp;

use super::{SqliteOptions, SqliteStore};
use crate::{AccountStore, NewUser, StoreError};

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        username_key: name.to_lowercase(),
        display_name: name.into(),
        display_key: name.to_lowercase(),
        password_hash: "x".into(),
        now: Timestamp(1),
    }
}

#[tokio::test]
async fn a_failing_job_rolls_back_alone_in_a_shared_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(
        SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens"),
    );
    store
        .insert_user(new_user("taken"))
        .await
        .expect("first insert");
    // Fire many inserts at once so that they share commits; one of them collides.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        let name = if i == 32 {
            "TAKEN".to_owned()
        } else {
            format!("user{i}")
        };
        tasks.push(tokio::spawn(async move {
            store.insert_user(new_user(&name)).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("joins") {
            Ok(_) => ok += 1,
            Err(error) => assert_eq!(error, StoreError::Rejected(crate::Rejection::Taken)),
        }
    }
    assert_eq!(ok, 63);
    let found = store.search_users("user", 100, 0).await.expect("search");
    assert_eq!(found.len(), 63);
    // The 65 writes shared transactions: that is the group commit.
    let stats = store.writer_stats();
    let jobs = stats.jobs.load(Ordering::Relaxed);
    let commits = stats.commits.load(Ordering::Relaxed);
    assert!(jobs >= 65, "{jobs} jobs");
    assert!(
        commits < jobs,
        "{commits} commits for {jobs} jobs: nothing was batched"
    );
}

/// RELIABILITY.md R3: acknowledged means fsynced. The store reports what
/// SQLite actually runs with, and refuses to open with less.
#[tokio::test]
async fn the_database_runs_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens");
    let durability = store.durability();
    assert_eq!(durability.journal_mode, "wal");
    assert_eq!(durability.synchronous, 2, "FULL");
}

/// Schema v4: a friendship that outlived a block under the older rule ends
/// when the database is opened, and both sides' change streams say so.
#[tokio::test]
async fn friendships_that_outlived_a_block_end_at_the_upgrade() {
    use crate::{ContactStore, Store, StoreError, SyncStore, transaction};
    use natter_protocol::SyncCursor;
    use natter_protocol::sync::UserChange;
    let dir = tempfile::tempdir().expect("tempdir");
    let (alice, bob, cursor) = {
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens");
        let alice = store.insert_user(new_user("alice")).await.expect("user").id;
        let bob = store.insert_user(new_user("bob")).await.expect("user").id;
        transaction(&store, move |tx| {
            Box::pin(async move {
                let conversation = tx.direct_conversation(alice, bob, Timestamp(2)).await?;
                tx.insert_friendship(alice, bob, conversation, Timestamp(2))
                    .await?;
                Ok::<_, StoreError>(())
            })
        })
        .await
        .expect("friends");
        let cursor = store
            .sync(alice, SyncCursor(1), false, 1000, 1000)
            .await
            .expect("sync")
            .cursor;
        store.shutdown();
        (alice, bob, cursor)
    };
    // What the older rule left behind: a block beside the friendship, at v3.
    {
        let conn = rusqlite::Connection::open(dir.path().join("natter.db")).expect("opens");
        conn.execute(
            "INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (?1, ?2, 4)",
            [alice.0, bob.0],
        )
        .expect("block");
        conn.pragma_update(None, "user_version", 3)
            .expect("version");
    }
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("upgrades");
    for (user, friend) in [(alice, bob), (bob, alice)] {
        let page = crate::PageRequest {
            limit: 10,
            after: None,
        };
        let friends = store.list_friends(user, page).await.expect("friends");
        assert!(friends.items.is_empty());
        let delta = store
            .sync(user, cursor, false, 1000, 1000)
            .await
            .expect("sync");
        assert!(!delta.reset);
        assert!(
            delta
                .events
                .iter()
                .any(|e| e.change == UserChange::FriendRemoved { user_id: friend }),
            "{:?}",
            delta.events
        );
    }
    assert!(
        store
            .relation(alice, bob)
            .await
            .expect("relation")
            .a_blocked_b
    );
}

/// The later pages of a reset start below the pruning horizon when the
/// user's conversations are old: resumed, they go on instead of starting the
/// reset over (which would never end).
#[tokio::test]
async fn a_reset_in_pages_goes_on_below_the_pruning_horizon() {
    use crate::{StoreError, SyncStore, transaction};
    use natter_protocol::SyncCursor;
    use natter_protocol::conversations::Role;
    use natter_protocol::sync::UserChange;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens");
    let user = store.insert_user(new_user("old")).await.expect("user").id;
    let mut groups = Vec::new();
    for i in 0..5 {
        let id = transaction(&store, move |tx| {
            Box::pin(async move {
                let group = tx.insert_group(format!("g{i}"), Timestamp(10)).await?;
                tx.insert_member(group, user, Role::Owner, Timestamp(10))
                    .await?;
                let joined = UserChange::ConversationJoined {
                    conversation_id: group,
                };
                tx.push_event(user, Timestamp(10), joined).await?;
                Ok::<_, StoreError>(group)
            })
        })
        .await
        .expect("group");
        groups.push(id);
    }
    // Everything so far is older than what is kept: the horizon is now.
    store.prune_events(Timestamp(1_000)).await.expect("prune");
    let first = store
        .sync(user, SyncCursor(0), false, 100, 2)
        .await
        .expect("sync");
    assert!(first.reset && first.has_more);
    // Not resumed, the old cursor is below the horizon: a reset again.
    let again = store
        .sync(user, first.cursor, false, 100, 2)
        .await
        .expect("sync");
    assert!(again.reset);
    let mut seen: Vec<_> = first.conversations.iter().map(|c| c.id).collect();
    let mut cursor = first.cursor;
    loop {
        let page = store.sync(user, cursor, true, 100, 2).await.expect("sync");
        assert!(!page.reset);
        seen.extend(page.conversations.iter().map(|c| c.id));
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, groups);
}
