//! Concurrency: N clients (OS threads, each with its own keep-alive
//! connection) send `jira.getProject` through gojira, or the same GET straight
//! to the fake, as fast as answers come, for [`DURATION`] after [`WARMUP`].
//!
//! Every server configuration runs against a zero-delay fake and one that waits
//! [`DELAY_MS`] per answer, with pacing on (at a rate that never throttles)
//! and off, on the default single worker thread and on two. Ratios answer
//! issue 6's targets: calls/s at 8 clients without delay; gojira/direct with
//! delay (head-of-line blocking); pacing cost when no limit is near.
//!
//! xtask is a debug build, so the timed loop only writes pre-built request
//! bytes, reads the answer, and looks for `"isError":false`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Map, Value, json};

use super::client::{DIRECT_PATH, KeepAlive, direct_headers, mcp_request};
use super::{Report, ServerCmd, ms, percentile};

/// The slow fake's wait before every answer.
pub const DELAY_MS: u64 = 20;
const WARMUP: Duration = Duration::from_millis(500);
const DURATION: Duration = Duration::from_secs(3);
const CLIENTS: [usize; 4] = [1, 8, 16, 64];
/// Worker counts measured; the non-default one only at these many clients or more.
const WORKERS: [(Option<&str>, usize); 2] = [(None, 1), (Some("2"), 8)];
const TARGET_CALLS_PER_S: f64 = 3500.0;
const TARGET_DIRECT_RATIO: f64 = 0.90;
const TARGET_PACING_COST: f64 = 0.05;

/// One measurement.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    calls_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

impl Sample {
    fn json(&self) -> Value {
        json!({
            "calls_per_s": round1(self.calls_per_s),
            "p50_ms": round3(self.p50_ms),
            "p99_ms": round3(self.p99_ms),
            "errors": self.errors,
        })
    }
}

/// What the clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Tool,
    Direct,
}

/// A gojira configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Config {
    pacing: bool,
    workers: Option<&'static str>,
}

impl Config {
    fn label(&self) -> String {
        format!(
            "pacing_{}_workers_{}",
            if self.pacing { "on" } else { "off" },
            self.workers.unwrap_or("1")
        )
    }
}

/// Runs the load part; returns the printed table and ratios.
pub fn run(
    servers: &ServerCmd,
    fast_url: &str,
    slow_url: &str,
    report: &mut Report,
) -> anyhow::Result<String> {
    let mut json_out = Map::new();
    let mut text = format!(
        "load: jira.getProject, {} s after {} ms warm-up, each client one keep-alive connection\n\
         {:<7} {:<28} {:>7} {:>9} {:>8} {:>8} {:>6}\n",
        DURATION.as_secs_f64(),
        WARMUP.as_millis(),
        "delay",
        "path",
        "clients",
        "calls/s",
        "p50 ms",
        "p99 ms",
        "errors"
    );
    // results[(delay, config label or "direct", clients)]
    let mut results = std::collections::BTreeMap::<(u64, String, usize), Sample>::new();
    for (delay, fake_url) in [(0, fast_url), (DELAY_MS, slow_url)] {
        let mut by_delay = Map::new();
        let row = |label: &str, clients: usize, s: Sample, text: &mut String| {
            let _ = writeln!(
                text,
                "{:<7} {:<28} {:>7} {:>9.0} {:>8.3} {:>8.3} {:>6}",
                format!("{delay} ms"),
                label,
                clients,
                s.calls_per_s,
                s.p50_ms,
                s.p99_ms,
                s.errors
            );
            eprintln!(
                "bench: load {delay} ms {label} x{clients}: {:.0} calls/s, p50 {:.3} ms, p99 {:.3} ms, {} errors",
                s.calls_per_s, s.p50_ms, s.p99_ms, s.errors
            );
        };
        let mut direct = Map::new();
        for clients in CLIENTS {
            let s = measure(fake_url, Path::Direct, clients)?;
            row("direct", clients, s, &mut text);
            direct.insert(format!("clients_{clients}"), s.json());
            results.insert((delay, "direct".to_owned(), clients), s);
        }
        by_delay.insert("direct".to_owned(), Value::Object(direct));
        for (workers, min_clients) in WORKERS {
            for pacing in [true, false] {
                let config = Config { pacing, workers };
                let mut env = vec![("GOJIRA_UPSTREAM_PACING", if pacing { "on" } else { "off" })];
                if let Some(w) = workers {
                    env.push(("GOJIRA_WORKER_THREADS", w));
                }
                let server = servers.start(fake_url, &env)?;
                let mut by_clients = Map::new();
                for clients in CLIENTS.into_iter().filter(|c| *c >= min_clients) {
                    let s = measure(&server.url, Path::Tool, clients)?;
                    row(&format!("gojira {}", config.label()), clients, s, &mut text);
                    by_clients.insert(format!("clients_{clients}"), s.json());
                    results.insert((delay, config.label(), clients), s);
                }
                by_delay.insert(
                    format!("gojira_{}", config.label()),
                    Value::Object(by_clients),
                );
            }
        }
        json_out.insert(format!("delay_{delay}ms"), Value::Object(by_delay));
    }

    // Ratios.
    let get = |delay: u64, label: &str, clients: usize| {
        results
            .get(&(delay, label.to_owned(), clients))
            .map(|s| s.calls_per_s)
    };
    let mut ratios = Map::new();
    text.push_str("\nload targets (issue 6):\n");
    for workers in ["1", "2"] {
        for pacing in ["on", "off"] {
            let label = format!("pacing_{pacing}_workers_{workers}");
            if let Some(v) = get(0, &label, 8) {
                let _ = writeln!(
                    text,
                    "  8 clients, 0 ms, {label}: {v:.0} calls/s (target >= {TARGET_CALLS_PER_S:.0}) {}",
                    verdict(v >= TARGET_CALLS_PER_S)
                );
                ratios.insert(
                    format!("calls_per_s_8_clients_0ms_{label}"),
                    json!(round1(v)),
                );
            }
        }
    }
    for workers in ["1", "2"] {
        for pacing in ["on", "off"] {
            let label = format!("pacing_{pacing}_workers_{workers}");
            for clients in CLIENTS {
                let (Some(g), Some(d)) = (
                    get(DELAY_MS, &label, clients),
                    get(DELAY_MS, "direct", clients),
                ) else {
                    continue;
                };
                let r = g / d;
                let _ = writeln!(
                    text,
                    "  {DELAY_MS} ms, {clients:>2} clients, {label}: gojira/direct {:.1} % (target >= {:.0} %) {}",
                    r * 100.0,
                    TARGET_DIRECT_RATIO * 100.0,
                    verdict(r >= TARGET_DIRECT_RATIO)
                );
                ratios.insert(
                    format!("gojira_over_direct_{DELAY_MS}ms_{clients}_clients_{label}"),
                    json!(round3(r)),
                );
            }
        }
    }
    for delay in [0, DELAY_MS] {
        for workers in ["1", "2"] {
            for clients in CLIENTS {
                let on = get(delay, &format!("pacing_on_workers_{workers}"), clients);
                let off = get(delay, &format!("pacing_off_workers_{workers}"), clients);
                let (Some(on), Some(off)) = (on, off) else {
                    continue;
                };
                let cost = 1.0 - on / off;
                let _ = writeln!(
                    text,
                    "  pacing cost, {delay} ms, {clients:>2} clients, workers {workers}: {:.1} % (target < {:.0} %) {}",
                    cost * 100.0,
                    TARGET_PACING_COST * 100.0,
                    verdict(cost < TARGET_PACING_COST)
                );
                ratios.insert(
                    format!("pacing_cost_{delay}ms_{clients}_clients_workers_{workers}"),
                    json!(round3(cost)),
                );
            }
        }
    }
    json_out.insert("ratios".to_owned(), Value::Object(ratios));
    json_out.insert(
        "method".to_owned(),
        json!({
            "warmup_ms": WARMUP.as_millis(),
            "duration_ms": DURATION.as_millis(),
            "slow_fake_delay_ms": DELAY_MS,
            "upstream_rate_when_pacing_on": 100000,
            "upstream_burst_when_pacing_on": 1000000,
            "inbound_limits": "off",
        }),
    );
    report.insert("load", Value::Object(json_out));
    text.push('\n');
    Ok(text)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// `clients` threads hammer `url` for the warm-up and the measured window;
/// calls completing inside the window count.
fn measure(url: &str, path: Path, clients: usize) -> anyhow::Result<Sample> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(KeepAlive::connect(url)?);
    }
    let request = match conns.first() {
        Some(c) => match path {
            Path::Direct => c.encode("GET", Some(DIRECT_PATH), &direct_headers(), None),
            Path::Tool => {
                let (headers, body) = mcp_request(
                    "tools/call",
                    json!({"name": "jira.getProject", "arguments": {"project": "BENCH"}}),
                );
                c.encode("POST", None, &headers, Some(&body))
            }
        },
        None => bail!("no clients"),
    };
    let start = Instant::now();
    let window = (start + WARMUP, start + WARMUP + DURATION);
    let per_thread: Vec<anyhow::Result<(Vec<f64>, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .map(|conn| {
                let request = &request;
                scope.spawn(move || client_loop(conn, url, request, path, window))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("client thread panicked")))
            })
            .collect()
    });
    let mut latencies = Vec::new();
    let mut errors = 0;
    for r in per_thread {
        let (l, e) = r?;
        latencies.extend(l);
        errors += e;
    }
    let calls = latencies.len() as f64;
    Ok(Sample {
        calls_per_s: calls / DURATION.as_secs_f64(),
        p50_ms: percentile(&mut latencies, 0.5),
        p99_ms: percentile(&mut latencies, 0.99),
        errors,
    })
}

/// One client: successful calls' latencies (ms) and the error count, both
/// for calls completing inside `window`.
fn client_loop(
    mut conn: KeepAlive,
    url: &str,
    request: &[u8],
    path: Path,
    (from, to): (Instant, Instant),
) -> anyhow::Result<(Vec<f64>, u64)> {
    const OK: &[u8] = br#""isError":false"#;
    let mut latencies = Vec::with_capacity(4096);
    let mut errors = 0;
    loop {
        let sent = Instant::now();
        if sent >= to {
            break;
        }
        let answer = conn.send(request);
        let done = Instant::now();
        let ok = match &answer {
            Ok((200, body)) => path == Path::Direct || contains(body, OK),
            _ => false,
        };
        if answer.is_err() {
            // A broken connection: count it and start a new one.
            conn = KeepAlive::connect(url)?;
        }
        if done >= from && done < to {
            if ok {
                latencies.push(ms(done - sent));
            } else {
                errors += 1;
            }
        }
    }
    Ok((latencies, errors))
}

/// Whether `needle` occurs in `haystack` (std's substring search, which is
/// fast even in a debug build of xtask).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    match (std::str::from_utf8(haystack), std::str::from_utf8(needle)) {
        (Ok(h), Ok(n)) => h.contains(n),
        _ => false,
    }
}
