//! `cargo xtask bench`: the numbers behind performance claims, measured in
//! one run so ratios compare like with like.
//!
//! - regen: reading and parsing the nine specs, and generating from tools.yaml;
//! - start-up: time from exec to the ready line, and RSS at ready, of the release binary;
//! - tools/list: latency and bytes per tool (input schema + description + annotations);
//! - tool call: `jira.getProject` through gojira vs. the same GET sent straight to the
//!   fake Atlassian from the same client, interleaved; p50/p95 and their ratio.
//!
//! The server talks to a separate `fake-atlassian` process, never the internet.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::sources;

const CALLS: usize = 300;
const LISTS: usize = 50;
const STARTS: usize = 5;

/// Kills the child on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the whole benchmark and prints a report (also written to target/bench/report.json).
pub fn run(root: &Path) -> anyhow::Result<()> {
    eprintln!("bench: building release binaries ...");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "gojira-mcp",
            "-p",
            "fake-atlassian",
        ])
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let mut report = BTreeMap::<&str, Value>::new();

    // Regen.
    let sources = sources::load(&sources::sources_path(root))?;
    let specs_dir = sources::find_specs_dir(root, &sources)?;
    let manifest = std::fs::read_to_string(root.join("tools.yaml"))?;
    let mut regen_ms = Vec::new();
    let mut parse_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut specs = BTreeMap::new();
        for s in &sources.specs {
            specs.insert(s.file.clone(), std::fs::read(specs_dir.path.join(&s.file))?);
        }
        let parse_started = Instant::now();
        for (file, bytes) in &specs {
            gojira_codegen::spec::Spec::parse(file, bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        parse_ms.push(ms(parse_started.elapsed()));
        let out = gojira_codegen::generate("tools.yaml", &manifest, &specs);
        if out.has_errors() {
            bail!("regen has errors; run `cargo xtask regen`");
        }
        regen_ms.push(ms(t.elapsed()) - parse_ms.last().copied().unwrap_or(0.0));
    }
    report.insert("regen_ms_median", json!(median(&mut regen_ms)));
    report.insert("parse_nine_specs_ms_median", json!(median(&mut parse_ms)));

    // The fake Atlassian, in its own process.
    let fake_bin = root.join("target/release/fake-atlassian");
    let mut fake = Command::new(&fake_bin)
        .args(["--port", "0", "--specs-dir"])
        .arg(&specs_dir.path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", fake_bin.display()))?;
    let fake_url = wait_for_line(
        &mut fake,
        "fake-atlassian listening on ",
        Duration::from_secs(30),
    )?
    .split_whitespace()
    .next()
    .unwrap_or_default()
    .to_owned();
    let _fake = Proc(fake);

    // Start-up: exec → ready, and RSS at ready.
    let server_bin = root.join("target/release/gojira-mcp");
    let env = [
        ("GOJIRA_ENABLED_GROUPS", all_groups(root)?),
        ("MCP_PORT", "0".to_owned()),
        ("ATLASSIAN_SITE_URL", fake_url.clone()),
        ("ATLASSIAN_API_BASE_URL", fake_url.clone()),
        ("ATLASSIAN_EMAIL", "bench@example.com".to_owned()),
        ("ATLASSIAN_API_TOKEN", "bench-token".to_owned()),
        ("GOJIRA_ASSETS_WORKSPACE_ID", "ws".to_owned()),
        ("GOJIRA_ORG_ID", "org".to_owned()),
        ("GOJIRA_ENABLE_ORG_ADMIN", "true".to_owned()),
        ("GOJIRA_ORG_ADMIN_TOKEN", "key".to_owned()),
        ("LOG_LEVEL", "warn".to_owned()),
        // The bench measures the proxy's own cost, not the default 10 req/s pacing.
        ("GOJIRA_UPSTREAM_RATE", "100000".to_owned()),
        (
            "GOJIRA_DATA_DIR",
            std::env::temp_dir()
                .join(format!("gojira-bench-{}", std::process::id()))
                .display()
                .to_string(),
        ),
    ];
    let mut ready_ms = Vec::new();
    let mut rss_kib = Vec::new();
    let mut server = None;
    for _ in 0..STARTS {
        // The previous server must be gone: the embedded store locks its data dir.
        drop(server.take());
        let started = Instant::now();
        let mut child = Command::new(&server_bin)
            .arg("serve")
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting gojira-mcp")?;
        let line = wait_for_line(&mut child, "gojira-mcp ready: ", Duration::from_secs(30))?;
        ready_ms.push(ms(started.elapsed()));
        rss_kib.push(rss_kib_of(child.id())?);
        let url = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        server = Some((Proc(child), url));
    }
    report.insert("ready_ms_median", json!(median(&mut ready_ms)));
    report.insert(
        "rss_at_ready_mib_median",
        json!(median(&mut rss_kib) / 1024.0),
    );
    let Some((_server, mcp_url)) = server else {
        bail!("server did not start");
    };

    // One keep-alive connection per server, TCP_NODELAY, the same code for both
    // paths: the comparison measures the servers, not the client.
    let mut to_server = KeepAlive::connect(&mcp_url)?;
    let mut to_fake = KeepAlive::connect(&fake_url)?;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    // Returns the answer, its size, and the time of the HTTP exchange alone
    // (xtask is a debug build: parsing the answer is kept out of the timing).
    let mut mcp = |method: &str, mut params: Value| -> anyhow::Result<(Value, usize, f64)> {
        params["_meta"] = meta.clone();
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
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let started = Instant::now();
        let (_, text) = to_server.request("POST", &headers, Some(&body))?;
        let elapsed = ms(started.elapsed());
        let json_text = text.strip_prefix("data: ").unwrap_or(&text);
        let value: Value =
            serde_json::from_str(json_text.trim()).with_context(|| format!("parsing {text}"))?;
        Ok((value, text.len(), elapsed))
    };

    // tools/list.
    let mut list_ms = Vec::new();
    let mut list_bytes = 0;
    let mut tools = Vec::new();
    for _ in 0..LISTS {
        let (value, bytes, elapsed) = mcp("tools/list", json!({}))?;
        list_ms.push(elapsed);
        list_bytes = bytes;
        tools = value["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
    }
    let per_tool: Vec<f64> = tools
        .iter()
        .map(|t| {
            let counted = json!({
                "inputSchema": t["inputSchema"],
                "description": t["description"],
                "annotations": t["annotations"],
            });
            counted.to_string().len() as f64
        })
        .collect();
    let mut per_tool_sorted = per_tool.clone();
    report.insert("tools", json!(tools.len()));
    report.insert("tools_list_ms_median", json!(median(&mut list_ms)));
    report.insert("tools_list_bytes", json!(list_bytes));
    report.insert(
        "bytes_per_tool_mean",
        json!(per_tool.iter().sum::<f64>() / per_tool.len().max(1) as f64),
    );
    report.insert("bytes_per_tool_median", json!(median(&mut per_tool_sorted)));
    report.insert(
        "bytes_per_tool_max",
        json!(per_tool.iter().copied().fold(0.0, f64::max)),
    );

    // Tool call vs direct call, interleaved.
    let mut direct = Vec::new();
    let mut proxied = Vec::new();
    for i in 0..(CALLS + 20) {
        let t = Instant::now();
        let (status, _) = to_fake.request_path(
            "GET",
            "/rest/api/3/project/BENCH",
            &[
                (
                    "authorization",
                    "Basic YmVuY2hAZXhhbXBsZS5jb206YmVuY2gtdG9rZW4=".to_owned(),
                ),
                ("accept", "application/json".to_owned()),
            ],
            None,
        )?;
        if status != 200 {
            bail!("direct call answered {status}");
        }
        let d = ms(t.elapsed());
        let (value, _, p) = mcp(
            "tools/call",
            json!({"name": "jira.getProject", "arguments": {"project": "BENCH"}}),
        )?;
        if value["result"]["isError"] != json!(false) {
            bail!("tool call failed: {value}");
        }
        if i >= 20 {
            // the first 20 warm pools and caches
            direct.push(d);
            proxied.push(p);
        }
    }
    let direct_p50 = percentile(&mut direct, 0.5);
    let proxied_p50 = percentile(&mut proxied, 0.5);
    report.insert("direct_call_ms_p50", json!(direct_p50));
    report.insert("direct_call_ms_p95", json!(percentile(&mut direct, 0.95)));
    report.insert("tool_call_ms_p50", json!(proxied_p50));
    report.insert("tool_call_ms_p95", json!(percentile(&mut proxied, 0.95)));
    report.insert(
        "tool_call_p50_ratio_vs_direct",
        json!(proxied_p50 / direct_p50),
    );

    let text = serde_json::to_string_pretty(&report)?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.json"), &text)?;
    println!("{text}");
    Ok(())
}

fn all_groups(root: &Path) -> anyhow::Result<String> {
    let out = Command::new(root.join("target/release/gojira-mcp"))
        .arg("tools")
        .env("GOJIRA_ENABLED_GROUPS", "x")
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut groups: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    Ok(groups.join(","))
}

fn wait_for_line(child: &mut Child, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
    let stderr = child.stderr.take().context("no stderr")?;
    let (tx, rx) = mpsc::channel();
    let wanted = prefix.to_owned();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent && let Some(rest) = line.strip_prefix(&wanted) {
                let _ = tx.send(rest.to_owned());
                sent = true;
            }
        }
    });
    rx.recv_timeout(timeout)
        .with_context(|| format!("no line starting {prefix:?} within {timeout:?}"))
}

fn rss_kib_of(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("VmRSS not found")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    percentile(values, 0.5)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let idx = ((values.len() - 1) as f64 * p).round() as usize;
    values.get(idx).copied().unwrap_or(0.0)
}

/// A minimal HTTP/1.1 keep-alive client (content-length or chunked bodies).
struct KeepAlive {
    reader: BufReader<std::net::TcpStream>,
    host: String,
    path: String,
}

impl KeepAlive {
    fn connect(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .context("bench URLs are http://")?;
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let stream =
            std::net::TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(stream),
            host: host.to_owned(),
            path,
        })
    }

    fn request(
        &mut self,
        method: &str,
        headers: &[(&str, String)],
        body: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let path = self.path.clone();
        self.request_path(method, &path, headers, body)
    }

    fn request_path(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        use std::io::{Read, Write};
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or("");
        head.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        self.reader.get_mut().write_all(head.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
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
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "content-length" {
                    length = v.parse::<usize>().ok();
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
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
            let mut buf = vec![0; length.context("response without content-length")?];
            self.reader.read_exact(&mut buf)?;
            out = buf;
        }
        Ok((status, String::from_utf8_lossy(&out).into_owned()))
    }
}
