//! A throwaway PostgreSQL database for each test, for any test file
//! (`mod pg;`): [`natter_store::postgres::ScratchDatabase`] with the
//! connections the tests' own SQL needs. Skipped with a notice when no
//! server answers, except under `CI=true`, where that is a failure.

use std::str::FromStr;

use std::sync::Arc;
use std::time::Duration;

use natter_store::Store;
use natter_store::postgres::ScratchDatabase;
use natter_store::postgres::scratch::connect;
use natter_store::postgres::{PgOptions, PgStore};
use natter_store::sqlite::{SqliteOptions, SqliteStore};
use tokio_postgres::{Client, Config, NoTls};

/// A database created for one test; dropped on `Drop`.
pub struct PgTestDb(ScratchDatabase);

impl PgTestDb {
    /// Creates a fresh, empty database; `None` (after a notice) when
    /// PostgreSQL cannot be reached outside CI.
    pub async fn create() -> Option<PgTestDb> {
        match ScratchDatabase::create_for_tests().await {
            Ok(database) => database.map(PgTestDb),
            Err(error) => panic!("{error}"),
        }
    }

    pub fn url(&self) -> &str {
        self.0.url()
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// A plain connection to this database, for a test's own SQL.
    pub async fn client(&self) -> Client {
        connect(self.url())
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.name()))
    }

    /// A small pool on this database, for tests that hold several
    /// transactions open at once.
    pub fn pool(&self, size: usize) -> deadpool_postgres::Pool {
        let config = Config::from_str(self.url()).expect("the test URL parses");
        let manager = deadpool_postgres::Manager::new(config, NoTls);
        deadpool_postgres::Pool::builder(manager)
            .max_size(size)
            .build()
            .expect("pool builds")
    }
}

/// One backend under test.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    /// A second node on the same data: a store of its own (its own pool) on
    /// PostgreSQL; the same store on SQLite.
    pub other: Arc<dyn Store>,
    /// The PostgreSQL database, dropped after the stores (fields drop in order).
    pub pg: Option<PgTestDb>,
    _dir: Option<tempfile::TempDir>,
}

/// SQLite, and PostgreSQL when it is reachable (always under `CI=true`).
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens"));
    let mut all = vec![Backend {
        name: "sqlite",
        store: sqlite.clone(),
        other: sqlite,
        pg: None,
        _dir: Some(dir),
    }];
    if let Some(db) = PgTestDb::create().await {
        let options = || PgOptions {
            // Tests run at once, each with two nodes, on one server of 100
            // connections.
            pool_size: 4,
            // A sync waits for write transactions of other tests too (they
            // share the server's transaction ids); on a loaded machine they
            // can take longer than in production.
            sync_wait: Duration::from_secs(10),
            ..PgOptions::default()
        };
        let store = natter_store::open_postgres(db.url(), options())
            .await
            .expect("connects");
        let other: Arc<dyn Store> = Arc::new(
            PgStore::connect(db.url(), options())
                .await
                .expect("a second node connects"),
        );
        all.push(Backend {
            name: "postgres",
            store,
            other,
            pg: Some(db),
            _dir: None,
        });
    }
    all
}

/// A user as the accounts domain would insert one: keys lowercased, a
/// password hash of its own.
pub fn new_user(name: &str) -> natter_store::NewUser {
    natter_store::NewUser {
        username: name.into(),
        username_key: name.to_lowercase(),
        display_name: name.into(),
        display_key: name.to_lowercase(),
        password_hash: format!("hash of {name}"),
        now: natter_protocol::Timestamp(1),
    }
}
