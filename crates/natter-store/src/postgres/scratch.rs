//! Throwaway databases, for tests and benchmarks of the PostgreSQL mode:
//! each [`ScratchDatabase`] is a database of its own on a server that the
//! caller (or `NATTER_TEST_DATABASE_URL`) names, dropped with the value.

use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::{Client, Config, NoTls};

use super::{describe, describe_target};
use crate::{StoreError, StoreResult};

/// The server tests use when `NATTER_TEST_DATABASE_URL` is unset: the local
/// one that `scripts/services.sh` provides.
pub const DEFAULT_TEST_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database created for one test or run; dropped (connections and all)
/// when the value is.
pub struct ScratchDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl ScratchDatabase {
    /// Creates a fresh, empty database on the server `admin_url` connects to
    /// (as a user who may create databases).
    pub async fn create(admin_url: &str) -> StoreResult<ScratchDatabase> {
        let target = Config::from_str(admin_url)
            .map(|config| describe_target(&config))
            .unwrap_or_else(|_| "(an unparsable URL)".to_owned());
        let admin = connect(admin_url).await.map_err(|error| {
            StoreError::Unavailable(format!("PostgreSQL is not reachable at {target}: {error}"))
        })?;
        let name = unique_name();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("create database {name}: {}", describe(&e)))
            })?;
        Ok(ScratchDatabase {
            url: with_database(admin_url, &name),
            name,
            admin_url: admin_url.to_owned(),
        })
    }

    /// For tests: a database on `NATTER_TEST_DATABASE_URL`'s server (else
    /// [`DEFAULT_TEST_URL`]). When it cannot be reached, `Ok(None)` after a
    /// notice, so that a machine without PostgreSQL skips the test, except
    /// under `CI=true`, where the scale-out tests must run: an error there.
    pub async fn create_for_tests() -> StoreResult<Option<ScratchDatabase>> {
        let admin_url = std::env::var("NATTER_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_URL.to_owned());
        match ScratchDatabase::create(&admin_url).await {
            Ok(database) => Ok(Some(database)),
            Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
                Err(StoreError::Unavailable(format!(
                    "{error}. Under CI the PostgreSQL tests must run: start one \
                     (scripts/services.sh does) or set NATTER_TEST_DATABASE_URL"
                )))
            }
            Err(error) => {
                eprintln!(
                    "note: {error}; skipping this test (set NATTER_TEST_DATABASE_URL, \
                     or source scripts/services.sh)"
                );
                Ok(None)
            }
        }
    }

    /// The URL of this database (the admin URL with its database replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Drop may run inside a runtime, which cannot be blocked on: a thread
        // with a runtime of its own does the work, and is waited for so that
        // the database is gone when the value is.
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = connect(&admin_url).await?;
                admin.batch_execute(&sql).await.map_err(|e| describe(&e))
            })
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(database = %self.name, %error, "cannot drop a scratch database")
            }
            Err(_) => tracing::warn!(database = %self.name, "dropping a scratch database panicked"),
        }
    }
}

/// A plain connection, driven by a task of its own.
pub async fn connect(url: &str) -> Result<Client, String> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        // Ends when the client is dropped; an error here is the server going away.
        if let Err(error) = connection.await {
            tracing::debug!(error = %describe(&error), "scratch connection ended");
        }
    });
    Ok(client)
}

/// `natter_t_<pid>_<random>`: unique across parallel tests and processes.
fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    // RandomState is seeded randomly per process: no extra dependency.
    let random = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("natter_t_{}_{random:016x}", std::process::id())
}

/// `url` with its database replaced by `name`, in either form libpq takes.
fn with_database(url: &str, name: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // key=value form: a later key overrides an earlier one.
        return format!("{url} dbname={name}");
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after_path = rest[authority_end..]
        .find('?')
        .map_or("", |i| &rest[authority_end + i..]);
    format!(
        "{}{}/{name}{after_path}",
        &url[..scheme_end + 3],
        &rest[..authority_end]
    )
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn urls_get_the_scratch_database_in_either_form() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/natter_t_x",
            ),
            (
                "postgresql://u:p@h/test?sslmode=disable",
                "postgresql://u:p@h/natter_t_x?sslmode=disable",
            ),
            (
                "postgres://h:1?sslmode=disable",
                "postgres://h:1/natter_t_x?sslmode=disable",
            ),
            ("postgres://h", "postgres://h/natter_t_x"),
            (
                "host=/tmp dbname=test",
                "host=/tmp dbname=test dbname=natter_t_x",
            ),
        ] {
            assert_eq!(with_database(url, "natter_t_x"), expected, "{url}");
        }
    }
}
