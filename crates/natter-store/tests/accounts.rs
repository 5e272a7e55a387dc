//! The accounts contract: users, sessions and passwords, on SQLite and on
//! PostgreSQL alike (a fresh database each, see `pg/mod.rs`).

#[allow(dead_code)]
mod pg;

use natter_protocol::{DeviceId, Timestamp, UserId};
use natter_store::{Rejection, StoreError};
use pg::{Backend, backends, new_user};

#[tokio::test]
async fn users_are_created_found_and_a_taken_key_is_refused() {
    for backend in backends().await {
        check_users_are_created_found_and_a_taken_key_is_refused(&backend).await;
    }
}

async fn check_users_are_created_found_and_a_taken_key_is_refused(backend: &Backend) {
    let store = backend.store.clone();
    let alice = store.insert_user(new_user("Alice")).await.expect("inserts");
    assert_eq!(alice.username, "Alice");
    assert_eq!(alice.created_at, Timestamp(1));
    assert_eq!(
        store.insert_user(new_user("ALICE")).await.err(),
        Some(StoreError::Rejected(Rejection::Taken))
    );
    assert_eq!(
        store.find_user(alice.id).await.expect("finds"),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .find_user(UserId(alice.id.0 + 1000))
            .await
            .expect("finds"),
        None
    );
    assert_eq!(
        store.get_password_hash(alice.id).await.expect("hash"),
        "hash of Alice"
    );
    assert_eq!(
        store
            .get_password_hash(UserId(alice.id.0 + 1000))
            .await
            .err(),
        Some(StoreError::NotFound)
    );
    assert_eq!(
        store
            .find_credentials("alice", "alice")
            .await
            .expect("finds"),
        Some((alice.id, "hash of Alice".to_owned()))
    );
    assert_eq!(
        store.find_credentials("bob", "bob").await.expect("finds"),
        None
    );

    // Racing registrations on separate connections: the unique key decides,
    // and the one refused changes nothing.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let name = if i == 8 {
            "aLiCe".to_owned()
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
            Err(error) => assert_eq!(error, StoreError::Rejected(Rejection::Taken)),
        }
    }
    assert_eq!(ok, 15);
    let found = store.search_users("user", 100, 0).await.expect("search");
    let names: Vec<&str> = found.iter().map(|u| u.username.as_str()).collect();
    let mut expected: Vec<String> = (0..16)
        .filter(|i| *i != 8)
        .map(|i| format!("user{i}"))
        .collect();
    // Byte order of the key, as on SQLite: user0, user1, user10, ..., user2.
    expected.sort();
    assert_eq!(names, expected);
    let page = store.search_users("user", 5, 10).await.expect("search");
    assert_eq!(page, found[10..15]);
    // The display key is searched too.
    let by_display = store.search_users("ali", 10, 0).await.expect("search");
    assert_eq!(by_display, vec![alice]);
}

#[tokio::test]
async fn sessions_are_found_touched_listed_and_deleted() {
    for backend in backends().await {
        check_sessions_are_found_touched_listed_and_deleted(&backend).await;
    }
}

async fn check_sessions_are_found_touched_listed_and_deleted(backend: &Backend) {
    let store = backend.store.clone();
    let alice = store.insert_user(new_user("alice")).await.expect("user").id;
    let bob = store.insert_user(new_user("bob")).await.expect("user").id;
    let phone = store
        .insert_session(alice, "phone".into(), [1; 32], Timestamp(100))
        .await
        .expect("session");
    let laptop = store
        .insert_session(alice, "laptop".into(), [2; 32], Timestamp(200))
        .await
        .expect("session");
    let bobs = store
        .insert_session(bob, "bob's".into(), [3; 32], Timestamp(300))
        .await
        .expect("session");

    let found = store.find_session([1; 32]).await.expect("lookup");
    assert_eq!(
        found,
        Some(natter_store::SessionRecord {
            device_id: phone,
            user_id: alice,
            name: "phone".into(),
            created_at: Timestamp(100),
            last_seen_at: Timestamp(100),
        })
    );
    assert_eq!(store.find_session([9; 32]).await.expect("lookup"), None);

    // Seen later moves last_seen_at; a late, older touch never moves it back.
    store
        .touch_session(phone, Timestamp(500))
        .await
        .expect("touch");
    store
        .touch_session(phone, Timestamp(400))
        .await
        .expect("touch");
    let listed = store.list_sessions(alice).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|s| (s.device_id, s.last_seen_at))
            .collect::<Vec<_>>(),
        vec![(phone, Timestamp(500)), (laptop, Timestamp(200))]
    );

    // Only the owner may delete a session.
    assert_eq!(
        store.delete_session(bob, phone).await.err(),
        Some(StoreError::NotFound)
    );
    store.delete_session(alice, phone).await.expect("deletes");
    assert_eq!(
        store.delete_session(alice, phone).await.err(),
        Some(StoreError::NotFound)
    );
    assert_eq!(store.find_session([1; 32]).await.expect("lookup"), None);
    assert_eq!(
        store
            .list_sessions(bob)
            .await
            .expect("list")
            .iter()
            .map(|s| s.device_id)
            .collect::<Vec<_>>(),
        vec![bobs]
    );

    store
        .update_last_seen(alice, Timestamp(900))
        .await
        .expect("last seen");
    if let Some(db) = &backend.pg {
        let seen: Option<i64> = db
            .client()
            .await
            .query_one("SELECT last_seen_at FROM users WHERE id = $1", &[&alice.0])
            .await
            .expect("user")
            .get(0);
        assert_eq!(seen, Some(900));
    }
}

#[tokio::test]
async fn idle_sessions_are_deleted_and_returned() {
    for backend in backends().await {
        check_idle_sessions_are_deleted_and_returned(&backend).await;
    }
}

async fn check_idle_sessions_are_deleted_and_returned(backend: &Backend) {
    let store = backend.store.clone();
    let user = store
        .insert_user(new_user("sleepy"))
        .await
        .expect("user")
        .id;
    let old = store
        .insert_session(user, "old".into(), [1; 32], Timestamp(100))
        .await
        .expect("session");
    let fresh = store
        .insert_session(user, "fresh".into(), [2; 32], Timestamp(100))
        .await
        .expect("session");
    store
        .touch_session(fresh, Timestamp(5_000))
        .await
        .expect("touch");
    let expired = store
        .delete_idle_sessions(Timestamp(1_000))
        .await
        .expect("sweep");
    assert_eq!(
        expired.iter().map(|s| s.device_id).collect::<Vec<_>>(),
        vec![old]
    );
    assert_eq!(expired[0].name, "old");
    assert!(store.find_session([1; 32]).await.expect("lookup").is_none());
    assert!(store.find_session([2; 32]).await.expect("lookup").is_some());
}

#[tokio::test]
async fn a_password_change_keeps_only_the_current_session() {
    for backend in backends().await {
        check_a_password_change_keeps_only_the_current_session(&backend).await;
    }
}

async fn check_a_password_change_keeps_only_the_current_session(backend: &Backend) {
    let store = backend.store.clone();
    let user = store.insert_user(new_user("carol")).await.expect("user").id;
    let other = store.insert_user(new_user("dave")).await.expect("user").id;
    let mut devices = Vec::new();
    for i in 0..3u8 {
        devices.push(
            store
                .insert_session(user, format!("d{i}"), [i; 32], Timestamp(10))
                .await
                .expect("session"),
        );
    }
    let others = store
        .insert_session(other, "dave's".into(), [9; 32], Timestamp(10))
        .await
        .expect("session");
    let mut deleted = store
        .update_password(user, "new hash".into(), devices[1])
        .await
        .expect("changes");
    deleted.sort();
    assert_eq!(deleted, vec![devices[0], devices[2]]);
    assert_eq!(
        store
            .list_sessions(user)
            .await
            .expect("list")
            .iter()
            .map(|s| s.device_id)
            .collect::<Vec<DeviceId>>(),
        vec![devices[1]]
    );
    assert_eq!(
        store.get_password_hash(user).await.expect("hash"),
        "new hash"
    );
    // Nobody else's sessions or password moved.
    assert!(store.find_session([9; 32]).await.expect("lookup").is_some());
    assert_eq!(
        store.list_sessions(other).await.expect("list")[0].device_id,
        others
    );
    assert_eq!(
        store.get_password_hash(other).await.expect("hash"),
        "hash of dave"
    );
}
