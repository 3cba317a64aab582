//! `cargo xtask bench [--only base|load|trim]`: the numbers behind performance
//! claims, measured in one run so ratios compare like with like.
//!
//! - base: regen (reading and parsing the nine specs, and generating from
//!   tools.yaml); start-up (exec to the ready line, and RSS at ready, of the
//!   release binary); tools/list (latency and bytes per tool); one tool call
//!   (`jira.getProject` through gojira vs. the same GET sent straight to the
//!   fake from the same client, interleaved; p50/p95 and their ratio);
//! - load (`load.rs`): throughput and p50/p99 with 1–64 concurrent clients,
//!   through gojira and straight to the fake, against a zero-delay fake and
//!   one that waits 20 ms per answer, pacing on and off, one and two workers;
//! - trim (`trim.rs`): bytes of `structuredContent` of every read-only tool
//!   that trims, with and without `raw: true`, against the synthesizing fake
//!   and one answering the specs' documented examples (`--examples`).
//!
//! The server talks to separate `fake-atlassian` processes, never the internet.

mod client;
mod load;
mod trim;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::sources;
use client::{DIRECT_PATH, KeepAlive, Mcp, direct_headers};

const CALLS: usize = 300;
const LISTS: usize = 50;
const STARTS: usize = 5;

/// A part of the benchmark (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Regen, start-up, RSS, tools/list, sequential tool-call latency.
    Base,
    /// Concurrent clients: throughput and latency, pacing and worker threads.
    Load,
    /// Bytes saved by trimming answers.
    Trim,
}

/// The report: figure name → value (printed, and written to target/bench/report.json).
pub type Report = BTreeMap<&'static str, Value>;

/// Kills the child on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `fake-atlassian` process.
struct Fake {
    url: String,
    _proc: Proc,
}

impl Fake {
    /// `examples`: answer the specs' documented examples (`--examples`).
    fn start(root: &Path, specs_dir: &Path, delay_ms: u64, examples: bool) -> anyhow::Result<Self> {
        let bin = root.join("target/dist/fake-atlassian");
        let mut child = Command::new(&bin)
            .args([
                "--port",
                "0",
                "--delay-ms",
                &delay_ms.to_string(),
                "--specs-dir",
            ])
            .arg(specs_dir)
            .args(examples.then_some("--examples"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let url = wait_for_line(
            &mut child,
            "fake-atlassian listening on ",
            Duration::from_secs(30),
        )?
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
        Ok(Self {
            url,
            _proc: Proc(child),
        })
    }
}

/// How to start `gojira-mcp serve` against a fake.
struct ServerCmd {
    bin: PathBuf,
    groups: String,
    data_dir: PathBuf,
}

/// A running `gojira-mcp serve`.
struct Server {
    url: String,
    pid: u32,
    _proc: Proc,
}

impl ServerCmd {
    /// Starts a server; `extra` adds to or overrides the base environment.
    /// Only one may run at a time: the embedded store locks its data dir.
    fn start(&self, fake_url: &str, extra: &[(&str, &str)]) -> anyhow::Result<Server> {
        self.start_in(fake_url, extra, &self.data_dir)
    }

    /// Starts a server with its own data dir (a name under the bench's), so
    /// several can run side by side.
    fn start_beside(
        &self,
        name: &str,
        fake_url: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let dir = self.data_dir.join(name);
        std::fs::create_dir_all(&dir)?;
        self.start_in(fake_url, extra, &dir)
    }

    fn start_in(
        &self,
        fake_url: &str,
        extra: &[(&str, &str)],
        data_dir: &Path,
    ) -> anyhow::Result<Server> {
        let mut env: BTreeMap<&str, String> = [
            ("GOJIRA_ENABLED_GROUPS", self.groups.clone()),
            ("MCP_PORT", "0".to_owned()),
            ("ATLASSIAN_SITE_URL", fake_url.to_owned()),
            ("ATLASSIAN_API_BASE_URL", fake_url.to_owned()),
            // One credential from the environment (serve defaults to oauth mode,
            // which needs per-user consent and a token encryption key).
            ("GOJIRA_AUTH_MODE", "local".to_owned()),
            ("ATLASSIAN_EMAIL", "bench@example.com".to_owned()),
            ("ATLASSIAN_API_TOKEN", "bench-token".to_owned()),
            ("GOJIRA_ASSETS_WORKSPACE_ID", "ws".to_owned()),
            ("GOJIRA_ORG_ID", "org".to_owned()),
            ("GOJIRA_ENABLE_ORG_ADMIN", "true".to_owned()),
            ("GOJIRA_ORG_ADMIN_TOKEN", "key".to_owned()),
            ("LOG_LEVEL", "warn".to_owned()),
            // The bench measures the proxy's own cost, not the default 10 req/s
            // pacing nor the 20 req/s inbound limit of one principal.
            ("GOJIRA_UPSTREAM_RATE", "100000".to_owned()),
            ("GOJIRA_UPSTREAM_BURST", "1000000".to_owned()),
            ("GOJIRA_INBOUND_RATE", "off".to_owned()),
            ("GOJIRA_INBOUND_CLIENT_RATE", "off".to_owned()),
            ("GOJIRA_DATA_DIR", data_dir.display().to_string()),
        ]
        .into_iter()
        .collect();
        for (k, v) in extra {
            env.insert(k, (*v).to_owned());
        }
        let mut child = Command::new(&self.bin)
            .arg("serve")
            .env_clear()
            .envs(&env)
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting gojira-mcp")?;
        let line = wait_for_line(&mut child, "gojira-mcp ready: ", Duration::from_secs(30))?;
        let url = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(Server {
            url,
            pid: child.id(),
            _proc: Proc(child),
        })
    }
}

/// Runs the benchmark (all parts, or `only` one) and prints a report (also
/// written to target/bench/report.json).
pub fn run(root: &Path, only: Option<Part>) -> anyhow::Result<()> {
    let wants = |part| only.is_none_or(|o| o == part);
    // The shipped binary: the `dist` profile (fat LTO, one codegen unit).
    eprintln!("bench: building the dist binaries (cargo build --profile dist) ...");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--profile",
            "dist",
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
        bail!("cargo build --profile dist failed");
    }
    let mut report = Report::new();
    let mut text = String::new();
    let sources = sources::load(&sources::sources_path(root))?;
    let specs_dir = sources::find_specs_dir(root, &sources)?;
    if wants(Part::Base) {
        eprintln!("bench: regen ...");
        regen(root, &sources, &specs_dir.path, &mut report)?;
    }
    let fake = Fake::start(root, &specs_dir.path, 0, false)?;
    let data_dir = std::env::temp_dir().join(format!("gojira-bench-{}", std::process::id()));
    let servers = ServerCmd {
        bin: root.join("target/dist/gojira-mcp"),
        groups: all_groups(root)?,
        data_dir: data_dir.clone(),
    };
    let result = (|| {
        if wants(Part::Base) {
            eprintln!("bench: start-up, tools/list, sequential tool calls ...");
            base(&servers, &fake.url, &mut report)?;
        }
        if wants(Part::Trim) {
            eprintln!("bench: trimming ...");
            let documented = Fake::start(root, &specs_dir.path, 0, true)?;
            text.push_str(&trim::run(
                &servers,
                &fake.url,
                &documented.url,
                &mut report,
            )?);
        }
        if wants(Part::Load) {
            let slow = Fake::start(root, &specs_dir.path, load::DELAY_MS, false)?;
            text.push_str(&load::run(&servers, &fake.url, &slow.url, &mut report)?);
        }
        anyhow::Ok(())
    })();
    let _ = std::fs::remove_dir_all(&data_dir);
    result?;

    let json_text = serde_json::to_string_pretty(&report)?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.json"), &json_text)?;
    println!("{text}{json_text}");
    Ok(())
}

/// Regen time, with spec parsing reported apart.
fn regen(
    root: &Path,
    sources: &sources::Sources,
    specs_dir: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let manifest = std::fs::read_to_string(root.join("tools.yaml"))?;
    let mut regen_ms = Vec::new();
    let mut parse_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut specs = BTreeMap::new();
        for s in &sources.specs {
            specs.insert(s.file.clone(), std::fs::read(specs_dir.join(&s.file))?);
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
    Ok(())
}

/// Start-up, RSS, tools/list, and sequential tool calls vs. direct calls.
fn base(servers: &ServerCmd, fake_url: &str, report: &mut Report) -> anyhow::Result<()> {
    // Start-up: exec → ready, and RSS at ready.
    let mut ready_ms = Vec::new();
    let mut rss_kib = Vec::new();
    let mut server = None;
    for _ in 0..STARTS {
        // The previous server must be gone: the embedded store locks its data dir.
        drop(server.take());
        let started = Instant::now();
        let s = servers.start(fake_url, &[])?;
        ready_ms.push(ms(started.elapsed()));
        rss_kib.push(rss_kib_of(s.pid)?);
        server = Some(s);
    }
    report.insert("ready_ms_median", json!(median(&mut ready_ms)));
    report.insert(
        "rss_at_ready_mib_median",
        json!(median(&mut rss_kib) / 1024.0),
    );
    let Some(server) = server else {
        bail!("server did not start");
    };

    let mut mcp = Mcp::connect(&server.url)?;
    let mut to_fake = KeepAlive::connect(fake_url)?;

    // tools/list.
    let mut list_ms = Vec::new();
    let mut list_bytes = 0;
    let mut tools = Vec::new();
    for _ in 0..LISTS {
        let (value, bytes, elapsed) = mcp.call("tools/list", json!({}))?;
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
    let headers = direct_headers();
    for i in 0..(CALLS + 20) {
        let t = Instant::now();
        let (status, _) = to_fake.request_path("GET", DIRECT_PATH, &headers, None)?;
        if status != 200 {
            bail!("direct call answered {status}");
        }
        let d = ms(t.elapsed());
        let (value, _, p) = mcp.call(
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
    Ok(())
}

fn all_groups(root: &Path) -> anyhow::Result<String> {
    let out = Command::new(root.join("target/dist/gojira-mcp"))
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

/// Waits for the child's stderr line starting with `prefix` and returns the
/// rest; on failure the error quotes what the child said before (why a
/// server refused to start, say).
fn wait_for_line(child: &mut Child, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
    let stderr = child.stderr.take().context("no stderr")?;
    let (tx, rx) = mpsc::channel::<Result<String, String>>();
    let wanted = prefix.to_owned();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                let found = line.strip_prefix(&wanted).map(str::to_owned);
                sent = found.is_some();
                let _ = tx.send(found.ok_or(line));
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut said = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(rest)) => return Ok(rest),
            Ok(Err(line)) => said.push(line),
            Err(e) => bail!(
                "no line starting {prefix:?} within {timeout:?} ({e}); it said: {}",
                said.join(" | ")
            ),
        }
    }
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
