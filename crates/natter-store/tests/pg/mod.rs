//! A throwaway PostgreSQL database for each test, for any test file
//! (`mod pg;`): [`natter_store::postgres::ScratchDatabase`] with the
//! connections the tests' own SQL needs. Skipped with a notice when no
//! server answers, except under `CI=true`, where that is a failure.

use std::str::FromStr;

use natter_store::postgres::ScratchDatabase;
use natter_store::postgres::scratch::connect;
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
