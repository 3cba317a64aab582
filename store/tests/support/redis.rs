//! The Redis that the Redis-backed tests and the store benchmark use:
//! `GOJIRA_TEST_REDIS_URL`, else `redis://127.0.0.1:6379`. When nothing
//! answers there they fail at once, saying how to start one, rather than with
//! an unrelated assertion later. (Included with `#[path]` by
//! `tests/conformance.rs` and `benches/primitives.rs`.)

#![allow(dead_code)]

use std::time::Duration;

/// Where the tests look when `GOJIRA_TEST_REDIS_URL` is unset.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// The test Redis's URL (`GOJIRA_TEST_REDIS_URL`, else [`DEFAULT_URL`]).
pub fn redis_url() -> String {
    std::env::var("GOJIRA_TEST_REDIS_URL")
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// `Ok` when a Redis answers `PING` at `url` within a second; else what to do.
pub fn check(url: &str) -> Result<(), String> {
    let answered = redis::Client::open(url).and_then(|client| {
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
        conn.set_read_timeout(Some(Duration::from_secs(1)))?;
        redis::cmd("PING").query::<String>(&mut conn)
    });
    // Without the user info: a test URL may carry a password.
    let address = match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.rsplit('@').next().unwrap_or(rest)),
        None => url.to_owned(),
    };
    answered.map(|_| ()).map_err(|e| {
        format!(
            "these tests need a Redis and nothing answered at {address} ({e}): \
             start redis-server (see README), e.g. `redis-server --daemonize yes --bind 127.0.0.1 \
             --port 6379 --save \"\" --appendonly no`, or set GOJIRA_TEST_REDIS_URL to one"
        )
    })
}

/// The test Redis's URL; panics at once, saying how to start one, when
/// nothing answers there.
pub fn require_redis() -> String {
    let url = redis_url();
    if let Err(message) = check(&url) {
        panic!("{message}");
    }
    url
}
