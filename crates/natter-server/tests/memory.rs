//! Memory that input can grow (SECURITY.md, "Brute force, floods"): a test
//! binary of its own, so that no other test allocates in this process while
//! it reads the process's resident memory.

use natter_client::ClientError;
use natter_protocol::ErrorCode;
use natter_protocol::accounts::LoginRequest;
use natter_testkit::TestServer;

#[track_caller]
fn assert_code<T: std::fmt::Debug>(result: Result<T, ClientError>, code: ErrorCode) {
    match result {
        Err(error) => assert_eq!(error.code(), Some(code), "expected {code}, got {error}"),
        Ok(value) => panic!("expected {code}, got success: {value:?}"),
    }
}

fn login(username: &str, password: &str) -> LoginRequest {
    LoginRequest {
        username: username.into(),
        password: password.into(),
        device: None,
    }
}

/// The server's resident memory, from `/proc/self/status` (the test server
/// runs in this process).
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A login's name keys the account budget only in its normalized form, at
/// most 32 characters: names far longer than any account's are counted
/// against the address and kept nowhere. (When raw names were the keys,
/// 1,200 attempts of about 64 KB each grew the server by about 40 MB.)
#[tokio::test]
async fn over_long_login_names_count_against_the_address_and_are_kept_nowhere() -> anyhow::Result<()>
{
    const ATTEMPTS: usize = 1_200;
    let server = TestServer::start_limited(|l| l.logins_per_address_per_minute = 100_000).await?;
    let client = server.client();
    let name = |i: usize| format!("{i}{}", "x".repeat(60_000));
    // Warm the allocator and the connection pool first.
    for i in 0..50 {
        assert_code(
            client.login(&login(&name(i), "guess guess")).await,
            ErrorCode::InvalidCredentials,
        );
    }
    let before = resident_kib();
    for i in 0..ATTEMPTS {
        assert_code(
            client.login(&login(&name(i), "guess guess")).await,
            ErrorCode::InvalidCredentials,
        );
    }
    let grown_mib = resident_kib().saturating_sub(before) / 1024;
    // Keeping the names would be 1,200 × 60 KB ≈ 69 MiB.
    assert!(
        grown_mib < 24,
        "{ATTEMPTS} over-long names grew the server by {grown_mib} MiB"
    );

    // They count against the address all the same.
    let server = TestServer::start_limited(|l| l.logins_per_address_per_minute = 5).await?;
    let client = server.client();
    for i in 0..5 {
        assert_code(
            client.login(&login(&name(i), "guess guess")).await,
            ErrorCode::InvalidCredentials,
        );
    }
    assert_code(
        client.login(&login(&name(5), "guess guess")).await,
        ErrorCode::RateLimited,
    );
    Ok(())
}
