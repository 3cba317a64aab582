//! Helpers shared by the integration tests: the loaded fake, an in-process
//! client, and a tiny HTTP/1.1 client over real TCP.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use fake_atlassian::{FakeAtlassian, find_specs_dir};
use serde_json::Value;
use std::io::{Read, Write};

/// Basic credentials as the server would send them (`email:api-token`, base64).
pub const BASIC: &str = "Basic dXNlckBleGFtcGxlLmNvbTp0b2tlbg==";
/// A bearer token (admin API key / OAuth).
pub const BEARER: &str = "Bearer test-admin-key";

/// The specs, loaded once per test binary (each test takes a `fresh()` copy).
pub fn loaded() -> &'static FakeAtlassian {
    static FAKE: OnceLock<FakeAtlassian> = OnceLock::new();
    FAKE.get_or_init(|| {
        let Some(dir) = find_specs_dir() else {
            panic!(
                "no Atlassian spec directory found: run `cargo xtask fetch-specs` \
                 or set GOJIRA_SPECS_DIR to a directory containing jira-platform.json"
            );
        };
        let started = Instant::now();
        let fake = FakeAtlassian::load(&dir)
            .unwrap_or_else(|e| panic!("loading specs from {}: {e}", dir.display()));
        eprintln!(
            "loaded {} operations from {} specs in {:?} ({})",
            fake.operation_count(),
            fake.spec_count(),
            started.elapsed(),
            dir.display()
        );
        fake
    })
}

/// A fake with the loaded specs and empty state.
pub fn fake() -> FakeAtlassian {
    loaded().fresh()
}

/// A response, decoded.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error messages of a Jira-shaped error body, joined.
    pub fn errors(&self) -> String {
        self.body["errorMessages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .unwrap_or_default()
    }
}

/// Send a request in-process (`auth` is the whole Authorization value, or None).
pub async fn send(
    fake: &FakeAtlassian,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "fake.test");
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    let request = match body {
        Some(b) => builder
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&b).unwrap()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    };
    let response = fake.call(request).await;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("non-JSON body ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// GET with Basic auth.
pub async fn get(fake: &FakeAtlassian, uri: &str) -> Resp {
    send(fake, "GET", uri, Some(BASIC), None).await
}

/// One HTTP/1.1 request over a fresh TCP connection (`Connection: close`),
/// written by hand on a std socket (in a blocking task) to stay independent of
/// any HTTP client library.
pub async fn tcp(
    base_url: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&Value>,
) -> Resp {
    let host = base_url.trim_start_matches("http://").to_string();
    let payload = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: application/json\r\n"
    );
    if let Some(auth) = auth {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
    let raw = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&payload).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        raw
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap()
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// Resident set size of this process, in MiB (Linux), for load reports.
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A raw HTTP answer (any body).
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("non-JSON body ({e}): {}", self.text))
    }
}

/// One HTTP/1.1 request over a fresh TCP connection with arbitrary headers
/// and body; redirects are not followed, any body is accepted.
pub async fn http(
    base_url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let host = base_url.trim_start_matches("http://").to_string();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let payload = body.to_vec();
    let raw = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&payload).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        raw
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        text: body.to_string(),
    }
}
