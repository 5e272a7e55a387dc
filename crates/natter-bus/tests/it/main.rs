//! The bus contract: one suite, run against every backend.
//!
//! Redis tests use `NATTER_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`)
//! and a fresh key prefix each, deleted at the end. Without a reachable Redis
//! they print a notice and pass, except under `CI=true`, where they fail.

mod bus;
mod presence;
mod support;
