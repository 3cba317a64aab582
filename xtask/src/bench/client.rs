//! The benchmark's HTTP client: one keep-alive connection with TCP_NODELAY,
//! the same code for the gojira and the direct path, so comparisons measure
//! the servers and not the client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};

use super::ms;

/// Basic credentials the bench server is configured with (`bench@example.com:bench-token`).
pub const BASIC_AUTH: &str = "Basic YmVuY2hAZXhhbXBsZS5jb206YmVuY2gtdG9rZW4=";

/// The direct path's request: what gojira sends upstream for `jira.getProject`.
pub const DIRECT_PATH: &str = "/rest/api/3/project/BENCH";

/// A minimal HTTP/1.1 keep-alive client (content-length or chunked bodies).
pub struct KeepAlive {
    reader: BufReader<TcpStream>,
    host: String,
    path: String,
}

impl KeepAlive {
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .context("bench URLs are http://")?;
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(stream),
            host: host.to_owned(),
            path,
        })
    }

    /// A request to the URL's own path (the MCP endpoint).
    pub fn request(
        &mut self,
        method: &str,
        headers: &[(&str, String)],
        body: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let path = self.path.clone();
        self.request_path(method, &path, headers, body)
    }

    pub fn request_path(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let head = self.encode(method, Some(path), headers, body);
        let (status, out) = self.send(&head)?;
        Ok((status, String::from_utf8_lossy(&out).into_owned()))
    }

    /// The bytes of a request (to the URL's own path when `path` is `None`),
    /// built once so a timed loop only writes and reads.
    pub fn encode(
        &self,
        method: &str,
        path: Option<&str>,
        headers: &[(&str, String)],
        body: Option<&str>,
    ) -> Vec<u8> {
        let path = path.unwrap_or(&self.path);
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or("");
        head.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        head.into_bytes()
    }

    /// Writes an encoded request and reads the answer: status and body bytes.
    pub fn send(&mut self, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        self.reader.get_mut().write_all(request)?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            anyhow::bail!("connection closed");
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("bad status line")?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                let (k, v) = (k.trim(), v.trim());
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding")
                    && v.eq_ignore_ascii_case("chunked")
                {
                    chunked = true;
                }
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16).context("bad chunk size")?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                chunk.truncate(size);
                out.extend(chunk);
            }
        } else {
            out = vec![0; length.context("response without content-length")?];
            self.reader.read_exact(&mut out)?;
        }
        Ok((status, out))
    }
}

/// The `_meta` every stateless (2026-07-28) request carries.
pub fn stateless_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

/// Headers and body of a stateless MCP request.
pub fn mcp_request(method: &str, mut params: Value) -> (Vec<(&'static str, String)>, String) {
    params["_meta"] = stateless_meta();
    let name = params["name"].as_str().unwrap_or_default().to_owned();
    let mut headers = vec![
        ("accept", "application/json, text/event-stream".to_owned()),
        ("content-type", "application/json".to_owned()),
        ("mcp-protocol-version", "2026-07-28".to_owned()),
        ("mcp-method", method.to_owned()),
    ];
    if !name.is_empty() {
        headers.push(("mcp-name", name));
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    (headers, body)
}

/// Headers of the direct GET (what gojira sends upstream).
pub fn direct_headers() -> Vec<(&'static str, String)> {
    vec![
        ("authorization", BASIC_AUTH.to_owned()),
        ("accept", "application/json".to_owned()),
    ]
}

/// An MCP client over one keep-alive connection (stateless protocol).
pub struct Mcp(pub KeepAlive);

impl Mcp {
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        KeepAlive::connect(url).map(Self)
    }

    /// Returns the answer, its size, and the time of the HTTP exchange alone
    /// (xtask is a debug build: parsing the answer is kept out of the timing).
    pub fn call(&mut self, method: &str, params: Value) -> anyhow::Result<(Value, usize, f64)> {
        let (headers, body) = mcp_request(method, params);
        let started = Instant::now();
        let (_, text) = self.0.request("POST", &headers, Some(&body))?;
        let elapsed = ms(started.elapsed());
        let json_text = text.strip_prefix("data: ").unwrap_or(&text);
        let value: Value =
            serde_json::from_str(json_text.trim()).with_context(|| format!("parsing {text}"))?;
        Ok((value, text.len(), elapsed))
    }
}
