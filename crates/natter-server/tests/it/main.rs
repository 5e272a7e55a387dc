//! End-to-end tests: a real server on an ephemeral loopback port with a
//! temporary data directory, driven through the SDK (and, for malformed input,
//! through a raw WebSocket), as a user would.

mod access;
mod accounts;
mod authz;
mod backends;
mod boundaries;
mod consistency;
mod contacts;
mod fields;
mod gateway;
mod groups;
mod hostile;
mod http;
mod limits;
mod messaging;
mod names;
mod robustness;
mod storm;
mod sync;
mod transport;

use std::time::Duration;

use natter_client::{ClientError, Connection, ConnectionEvent};
use natter_protocol::ErrorCode;
use natter_protocol::ws::Event;

/// How long a test waits for an event that must come. Generous: CI is small.
pub const WAIT: Duration = Duration::from_secs(20);

/// Waits for the first event that `pick` accepts, skipping others.
pub async fn wait_for<T>(conn: &Connection, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match conn.next_event_timeout(left).await {
            Ok(Some(ConnectionEvent::Event(event))) => {
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the connection ended while waiting"),
            Err(error) => panic!("no matching event within {WAIT:?}: {error}"),
        }
    }
}

/// Asserts that a call failed with `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, ClientError>, code: ErrorCode) {
    match result {
        Err(error) => assert_eq!(error.code(), Some(code), "expected {code}, got {error}"),
        Ok(value) => panic!("expected {code}, got success: {value:?}"),
    }
}
