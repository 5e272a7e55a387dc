//! Backend-level checks of the writer: group commit and savepoint isolation.

use natter_protocol::{ErrorCode, Timestamp};

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
            Err(error) => assert_eq!(error, StoreError::Rejected(ErrorCode::UsernameTaken)),
        }
    }
    assert_eq!(ok, 63);
    let found = store.search_users("user", 100, 0).await.expect("search");
    assert_eq!(found.len(), 63);
}
