//! The HTTP listener: idle and half-sent connections, however many, cannot
//! hold the server's file descriptors and lock clients out; timeouts close
//! them; a declared body over the cap is refused before it is read.

use std::time::{Duration, Instant};

use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// Idle TCP connections the attacker opens (the "thousand").
const IDLE: usize = 1000;
/// Requests whose head never ends (no final CRLF).
const HALF_SENT: usize = 100;
/// The server's open-file limit in the flood test: far fewer than the
/// sockets the attacker holds.
const SERVER_NOFILE: u64 = 256;
/// How long /health and a real client may take while the flood is held.
const BOUND: Duration = Duration::from_secs(5);

const HALF_SENT_HEAD: &[u8] =
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";

/// This test process holds more than a thousand sockets: raise its own soft
/// open-file limit when it is lower.
fn raise_own_nofile(needed: u64) {
    let soft = rlimit::increase_nofile_limit(needed).expect("read/raise RLIMIT_NOFILE");
    assert!(
        soft >= needed,
        "this test needs {needed} open files and the hard limit allows only {soft}"
    );
}

fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

async fn open(addr: &str) -> TcpStream {
    try_open(addr, Duration::from_secs(5))
        .await
        .expect("connect within 5 s")
}

/// A connection, or `None` when the server's listen backlog is full (the
/// handshake does not complete within `within`).
async fn try_open(addr: &str, within: Duration) -> Option<TcpStream> {
    tokio::time::timeout(within, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()
}

/// Reads until the peer closes or `within` elapses; returns what was read and
/// whether the peer closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one HTTP/1.1 response (head and a Content-Length body) within `within`.
async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<(String, String)> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&out[end + 4..end + 4 + length]).into_owned();
                return Some((head, body));
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The attack: one unauthenticated client opens a thousand idle
/// connections and a hundred requests whose head never ends, against a
/// server whose open-file limit is a quarter of that. `/health` and a real
/// MCP client must still get in, within a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_and_half_sent_connections_lock_out_neither_health_nor_a_client() {
    raise_own_nofile((IDLE + HALF_SENT) as u64 + 512);
    let fake = start_fake().await;
    let mut env = fake_env(&fake, "utility");
    env.insert("GOJIRA_HTTP_HEADER_TIMEOUT_MS".into(), "2000".into());
    let server = start_server_with_nofile(&env, SERVER_NOFILE);
    let addr = addr(&server);

    // A connect that cannot complete means the server stopped accepting and
    // its backlog is full: that is the lock-out itself, checked below.
    let mut held = Vec::with_capacity(IDLE + HALF_SENT);
    for i in 0..IDLE + HALF_SENT {
        let Some(mut stream) = try_open(&addr, Duration::from_secs(1)).await else {
            break;
        };
        if i >= IDLE {
            stream.write_all(HALF_SENT_HEAD).await.unwrap();
        }
        held.push(stream);
    }
    let opened = held.len();

    let started = Instant::now();
    let health = tokio::time::timeout(BOUND, async {
        reqwest::get(format!("{}/health", server.base)).await
    })
    .await;
    match &health {
        Ok(Ok(response)) => assert_eq!(response.status(), 200, "/health answers"),
        _ => panic!(
            "/health did not answer within {BOUND:?} with {opened} idle or half-sent connections held (of {} attempted; a connect that did not complete means the backlog was full): {health:?}",
            IDLE + HALF_SENT
        ),
    }
    let whoami = tokio::time::timeout(BOUND, async {
        let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
        call(&client, "gojira.whoami", json!({})).await
    })
    .await;
    match &whoami {
        Ok(Ok(result)) => assert_ne!(result.is_error, Some(true), "{}", text(result)),
        _ => panic!(
            "a real MCP client could not call gojira.whoami within {BOUND:?} while the flood is held: {whoami:?}"
        ),
    }
    eprintln!(
        "/health and gojira.whoami answered {:?} after the flood",
        started.elapsed()
    );
    assert_eq!(
        opened,
        IDLE + HALF_SENT,
        "every connection of the flood was accepted (the listener kept accepting)"
    );

    // The newest half-sent request is closed by the header timeout (2 s).
    let mut newest = held.pop().unwrap();
    let (_, closed) = read_until_closed(&mut newest, Duration::from_secs(6)).await;
    assert!(closed, "a half-sent request head is closed by the server");
    assert!(
        server.stderr().contains("connections at most"),
        "the cap is logged at start:\n{}",
        server.stderr()
    );
}

/// A kept-alive connection may wait between requests for the idle timeout,
/// which is longer than the header timeout; past it, the server closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_outlives_the_header_timeout_and_is_closed_after_the_idle_timeout()
{
    let fake = start_fake().await;
    let mut env = fake_env(&fake, "utility");
    env.insert("GOJIRA_HTTP_HEADER_TIMEOUT_MS".into(), "1000".into());
    env.insert("GOJIRA_HTTP_IDLE_TIMEOUT_MS".into(), "3000".into());
    let server = start_server(&env);
    let mut stream = open(&addr(&server)).await;
    let request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    stream.write_all(request).await.unwrap();
    let (head, _) = read_response(&mut stream, Duration::from_secs(3))
        .await
        .expect("first answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stream.write_all(request).await.unwrap();
    let (head, _) = read_response(&mut stream, Duration::from_secs(3))
        .await
        .expect("a kept-alive connection idle past the header timeout still serves");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let waited = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(
        closed,
        "an idle connection is closed after the idle timeout"
    );
    assert!(
        waited.elapsed() >= Duration::from_millis(2500),
        "closed after the idle timeout (3 s), not the header timeout: {:?}",
        waited.elapsed()
    );
}

/// An open Streamable HTTP event stream (GET /mcp) is a response in
/// progress: the idle timeout never cuts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_event_stream_outlives_the_idle_timeout() {
    let fake = start_fake().await;
    let mut env = fake_env(&fake, "utility");
    env.insert("GOJIRA_HTTP_HEADER_TIMEOUT_MS".into(), "1000".into());
    env.insert("GOJIRA_HTTP_IDLE_TIMEOUT_MS".into(), "1500".into());
    let server = start_server(&env);
    let http = reqwest::Client::new();
    let session = open_raw_session(&http, &server).await;

    let mut stream = open(&addr(&server)).await;
    let get = format!(
        "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\nMcp-Protocol-Version: 2025-11-25\r\n\r\n"
    );
    stream.write_all(get.as_bytes()).await.unwrap();
    let (head, closed) = read_until_closed(&mut stream, Duration::from_secs(4)).await;
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    assert!(
        !closed,
        "the event stream is still open after 4 s, past the 1.5 s idle timeout"
    );

    // Busy past the header timeout, then ended by closing the session: the
    // connection is idle now and goes after the idle timeout like any other.
    let deleted = http
        .delete(server.mcp_url())
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let ended = tokio::time::Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    eprintln!("closed after {:?}", ended.elapsed());
    assert!(
        closed,
        "a connection whose event stream ended was still open 6 s later (idle timeout 1.5 s)"
    );
    // hyper's own timer (header + idle = 2.5 s) is only the backstop.
    assert!(
        (Duration::from_millis(1000)..Duration::from_millis(2200)).contains(&ended.elapsed()),
        "closed {:?} after its stream ended; the idle timeout is 1.5 s",
        ended.elapsed()
    );
}

/// A request declaring a body larger than the cap is refused with 413 and
/// a JSON body naming the cap, at once, without waiting for the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_cap_is_refused_before_it_is_sent() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "utility"));
    let mut stream = open(&addr(&server)).await;
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nContent-Length: 2097152\r\n\r\n",
        )
        .await
        .unwrap();
    let Some((head, body)) = read_response(&mut stream, Duration::from_secs(3)).await else {
        panic!("no answer within 3 s to a 2 MiB Content-Length whose body was never sent");
    };
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let body: Value = serde_json::from_str(&body).expect("a JSON body");
    assert!(
        body.to_string().contains("1048576"),
        "the body names the cap: {body}"
    );
}
