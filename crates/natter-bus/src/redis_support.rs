//! What the Redis bus and presence share: opening a client, naming it in
//! errors, and backing off between reconnections.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::BusError;

/// How long a first connection may take before the node refuses to start.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Random enough for node ids, key prefixes and jitter, without a dependency:
/// std's `RandomState` is seeded from the OS, and the clock and a counter make
/// two calls in one process differ.
pub(crate) fn random_u64() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// `url` with its password replaced, fit for logs and error messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

pub(crate) fn open_client(url: &str) -> Result<redis::Client, BusError> {
    redis::Client::open(url).map_err(|error| connect_error(url, error))
}

/// A connection that answered a PING: a connection alone proves neither that
/// the server answers nor that AUTH was right.
pub(crate) async fn checked_connection(
    client: &redis::Client,
    response_timeout: Duration,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(response_timeout));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("PING")
        .query_async::<()>(&mut connection)
        .await?;
    Ok(connection)
}

pub(crate) fn connect_error(url: &str, reason: impl std::fmt::Display) -> BusError {
    BusError::Connect {
        url: redact(url),
        reason: reason.to_string(),
    }
}

pub(crate) fn unavailable(error: redis::RedisError) -> BusError {
    BusError::Unavailable(format!("redis: {error}"))
}

/// Exponential backoff with jitter, so that nodes which lost Redis together do
/// not all knock on it in the same millisecond. One per outage: a fresh one
/// starts again from the shortest delay.
pub(crate) struct Backoff {
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            max: max.max(min),
            next: min,
        }
    }

    /// The delay before the next attempt: between half and all of the current step.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (step * 2).min(self.max);
        let half = step / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_nanos(random_u64() % jitter_nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_only_the_password() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://:secret@host:6379/0", "redis://:***@host:6379/0"),
            ("rediss://me:p@ss@host/1", "rediss://me:***@host/1"),
            ("redis://me@host", "redis://me@host"),
            ("redis://host/a@b", "redis://host/a@b"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let steps: Vec<_> = (0..4).map(|_| backoff.next_delay()).collect();
        for (delay, step) in steps.iter().zip([100, 200, 400, 400]) {
            let step = Duration::from_millis(step);
            assert!(
                *delay >= step / 2 && *delay <= step,
                "{delay:?} for {step:?}"
            );
        }
    }

    #[test]
    fn random_values_differ() {
        assert_ne!(random_u64(), random_u64());
    }
}
