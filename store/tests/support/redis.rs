//! The Redis that tests needing one use: `GOJIRA_TEST_REDIS_URL`, else
//! `redis://127.0.0.1:6379`. When nothing answers there they fail at once,
//! saying how to start one, rather than with an unrelated assertion later.
//! Dependency-free (a `PING` over TCP), so that both the store's tests and
//! benchmark and the server's end-to-end tests include it with `#[path]`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
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

/// `redis[s]://[user:pass@]host[:port][/db]` → (host, port).
fn host_port(url: &str) -> Result<(String, u16), String> {
    let rest = url.split_once("://").ok_or("not a URL")?.1;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host_port.starts_with('[') => {
            let port = port.parse().map_err(|_| format!("bad port {port:?}"))?;
            Ok((host.trim_matches(['[', ']']).to_owned(), port))
        }
        _ => Ok((host_port.trim_matches(['[', ']']).to_owned(), 6379)),
    }
}

/// `Ok` when something speaking Redis answers `PING` at `url` within a
/// second (an error reply such as `-NOAUTH` counts: a Redis is there);
/// else what to do.
pub fn check(url: &str) -> Result<(), String> {
    let answered = (|| -> Result<(), String> {
        let (host, port) = host_port(url)?;
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("no address")?;
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .map_err(|e| e.to_string())?;
        stream.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
        let mut reply = String::new();
        BufReader::new(stream)
            .read_line(&mut reply)
            .map_err(|e| e.to_string())?;
        if reply.starts_with('+') || reply.starts_with('-') {
            Ok(())
        } else {
            Err(format!("not a Redis reply: {reply:?}"))
        }
    })();
    // Without the user info: a test URL may carry a password.
    let address = match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.rsplit('@').next().unwrap_or(rest)),
        None => url.to_owned(),
    };
    answered.map_err(|e| {
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
