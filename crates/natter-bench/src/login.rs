//! `natter bench login`: does a failed login take as long for a username
//! that does not exist as for a wrong password (RELIABILITY.md A2)? One
//! account is registered; then logins with a wrong password for it and
//! logins with unknown usernames alternate, one at a time, and both
//! latencies are reported. Run it against a server with rate limits off.

use std::time::Instant;

use natter_client::Client;
use natter_client::protocol::ErrorCode;
use natter_client::protocol::accounts::LoginRequest;
use serde::Serialize;

use crate::error::BenchError;
use crate::report::{self, Latency, Machine};
use crate::setup;
use crate::wire::Target;

/// Parameters of the login scenario.
#[derive(Debug, Clone)]
pub struct LoginParams {
    /// Attempts of each kind.
    pub attempts: u64,
}

/// The result of a login run.
#[derive(Debug, Clone, Serialize)]
pub struct LoginReport {
    pub scenario: &'static str,
    pub machine: Machine,
    /// An existing username with a wrong password.
    pub wrong_password: Latency,
    /// A username nobody has.
    pub unknown_user: Latency,
    /// `unknown_user.p50_ms - wrong_password.p50_ms`.
    pub p50_difference_ms: f64,
    /// Whether every answer of both kinds was `invalid_credentials`, alike.
    pub answers_identical: bool,
}

impl LoginReport {
    pub fn table(&self) -> String {
        report::table(
            "natter bench login",
            &[
                (
                    "machine",
                    format!(
                        "{} cores, {:.1} GiB",
                        self.machine.cores, self.machine.memory_gib
                    ),
                ),
                ("wrong password", self.wrong_password.row()),
                ("unknown username", self.unknown_user.row()),
                (
                    "p50 difference",
                    format!("{:+.3} ms", self.p50_difference_ms),
                ),
                ("answers identical", self.answers_identical.to_string()),
            ],
        )
    }
}

pub async fn run(target: &Target, params: &LoginParams) -> Result<LoginReport, BenchError> {
    if params.attempts == 0 {
        return Err(BenchError::Params("--attempts must be at least 1".into()));
    }
    let client = Client::new(&target.http)?;
    let prefix = format!("{}_login", setup::run_prefix());
    let account = setup::users(&client, &prefix, 1, &indicatif::ProgressBar::hidden()).await?;
    let username = account
        .first()
        .map(|session| session.user().username.clone())
        .ok_or_else(|| BenchError::Refused("the account was not created".into()))?;
    let (mut wrong, mut unknown) = (report::histogram(), report::histogram());
    let mut answers = std::collections::BTreeSet::new();
    for i in 0..params.attempts {
        // Alternating keeps drift (caches, CPU frequency) out of the comparison.
        for (histogram, name) in [
            (&mut wrong, username.clone()),
            (&mut unknown, format!("{username}_nobody_{i}")),
        ] {
            let request = LoginRequest {
                username: name,
                password: "not the password".into(),
                device: None,
            };
            let started = Instant::now();
            let outcome = client.login(&request).await;
            let took = started.elapsed();
            match outcome {
                Err(error) if error.code() == Some(ErrorCode::InvalidCredentials) => {
                    answers.insert(error.to_string());
                }
                Err(error) => return Err(BenchError::Refused(error.to_string())),
                Ok(_) => return Err(BenchError::Refused("a wrong password logged in".into())),
            }
            let _ = histogram.record(took.as_micros().max(1) as u64);
        }
    }
    let wrong_password = Latency::from_histogram(&wrong);
    let unknown_user = Latency::from_histogram(&unknown);
    Ok(LoginReport {
        scenario: "login",
        machine: Machine::here(),
        p50_difference_ms: unknown_user.p50_ms - wrong_password.p50_ms,
        wrong_password,
        unknown_user,
        answers_identical: answers.len() == 1,
    })
}
