//! Concurrency: N clients (OS threads, each with its own keep-alive
//! connection) send `jira.getProject` through gojira, or the same GET straight
//! to the fake, as fast as answers come.
//!
//! Against a zero-delay fake and one that waits [`DELAY_MS`] per answer, on
//! the default single worker thread and on two, a pacing-on server (at a rate
//! that never throttles) and a pacing-off server run side by side, and the
//! three paths (direct, pacing on, pacing off) take turns in [`ROUNDS`]
//! rounds of [`WARMUP`] + [`WINDOW`] each: other load on the machine then
//! weighs on all three alike, which matters for ratios of a few per cent.
//! Ratios answer issue 6's targets: calls/s at 8 clients without delay;
//! gojira/direct with delay (head-of-line blocking); pacing cost when no
//! limit is near, as throughput and as the server's CPU time per call (read
//! from `/proc/PID/stat`), which other load on the machine does not skew.
//!
//! xtask is a debug build, so the timed loop only writes pre-built request
//! bytes, reads the answer, and looks for `"isError":false`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Map, Value, json};

use super::client::{DIRECT_PATH, KeepAlive, direct_headers, mcp_request};
use super::{Report, ServerCmd, ms, percentile};

/// The slow fake's wait before every answer.
pub const DELAY_MS: u64 = 20;
const WARMUP: Duration = Duration::from_millis(500);
const WINDOW: Duration = Duration::from_secs(1);
const ROUNDS: u32 = 3;
const CLIENTS: [usize; 4] = [1, 8, 16, 64];
/// Worker threads measured (`None`: the default, one) and from how many clients.
const WORKERS: [(Option<&str>, usize); 2] = [(None, 1), (Some("2"), 8)];
const TARGET_CALLS_PER_S: f64 = 3500.0;
const TARGET_DIRECT_RATIO: f64 = 0.90;
const TARGET_PACING_COST: f64 = 0.05;
/// The paths that take turns, as named in the report.
const PATHS: [&str; 3] = ["direct", "pacing_on", "pacing_off"];

/// One measurement (all rounds pooled).
#[derive(Debug, Clone, Default)]
struct Sample {
    latencies: Vec<f64>,
    errors: u64,
    seconds: f64,
    /// Server CPU seconds, and the calls answered meanwhile (warm-up included).
    cpu_s: f64,
    cpu_calls: u64,
}

impl Sample {
    fn calls_per_s(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds.max(f64::EPSILON)
    }

    fn add(&mut self, run: Run) {
        self.latencies.extend(run.latencies);
        self.errors += run.errors;
        self.seconds += WINDOW.as_secs_f64();
        self.cpu_s += run.cpu_s;
        self.cpu_calls += run.all_calls;
    }

    /// Server CPU microseconds per call (`None` for the direct path).
    fn cpu_us_per_call(&self) -> Option<f64> {
        (self.cpu_s > 0.0).then(|| self.cpu_s * 1e6 / self.cpu_calls.max(1) as f64)
    }

    /// calls/s, p50, p99, errors.
    fn figures(&mut self) -> (f64, f64, f64, u64) {
        (
            self.calls_per_s(),
            percentile(&mut self.latencies, 0.5),
            percentile(&mut self.latencies, 0.99),
            self.errors,
        )
    }
}

/// What the clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Tool,
    Direct,
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
        "load: jira.getProject; direct, pacing on and pacing off take turns, {ROUNDS} rounds of \
         {} ms warm-up + {} s each; one keep-alive connection per client\n\
         {:<7} {:<8} {:<11} {:>7} {:>9} {:>8} {:>8} {:>6} {:>9}\n",
        WARMUP.as_millis(),
        WINDOW.as_secs_f64(),
        "delay",
        "workers",
        "path",
        "clients",
        "calls/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "cpu us/call"
    );
    // server CPU µs per call by the same key (gojira paths only)
    let mut cpu_us = BTreeMap::<(u64, &str, &str, usize), f64>::new();
    // calls/s by (delay, workers, path, clients)
    let mut rates = BTreeMap::<(u64, &str, &str, usize), f64>::new();
    for (delay, fake_url) in [(0, fast_url), (DELAY_MS, slow_url)] {
        let mut by_delay = Map::new();
        for (workers, min_clients) in WORKERS {
            let w = workers.unwrap_or("1");
            let mut env = vec![("GOJIRA_UPSTREAM_PACING", "on")];
            if let Some(w) = workers {
                env.push(("GOJIRA_WORKER_THREADS", w));
            }
            let on = servers.start_beside(&format!("w{w}-on"), fake_url, &env)?;
            env[0].1 = "off";
            let off = servers.start_beside(&format!("w{w}-off"), fake_url, &env)?;
            let targets = [
                (fake_url, Path::Direct, None),
                (on.url.as_str(), Path::Tool, Some(on.pid)),
                (off.url.as_str(), Path::Tool, Some(off.pid)),
            ];
            let mut by_path: [Map<String, Value>; 3] = Default::default();
            for clients in CLIENTS.into_iter().filter(|c| *c >= min_clients) {
                let mut samples: [Sample; 3] = Default::default();
                for _ in 0..ROUNDS {
                    for (sample, (url, path, pid)) in samples.iter_mut().zip(targets) {
                        sample.add(measure(url, path, clients, pid)?);
                    }
                }
                for ((sample, name), out) in samples.iter_mut().zip(PATHS).zip(by_path.iter_mut()) {
                    let (rate, p50, p99, errors) = sample.figures();
                    let cpu = sample.cpu_us_per_call();
                    let _ = writeln!(
                        text,
                        "{:<7} {:<8} {:<11} {:>7} {:>9.0} {:>8.3} {:>8.3} {:>6} {:>9}",
                        format!("{delay} ms"),
                        w,
                        name,
                        clients,
                        rate,
                        p50,
                        p99,
                        errors,
                        cpu.map_or("-".to_owned(), |c| format!("{c:.0}"))
                    );
                    if let Some(c) = cpu {
                        cpu_us.insert((delay, w, name, clients), c);
                    }
                    eprintln!(
                        "bench: load {delay} ms, workers {w}, {name}, {clients} clients: \
                         {rate:.0} calls/s, p50 {p50:.3} ms, p99 {p99:.3} ms, {errors} errors"
                    );
                    out.insert(
                        format!("clients_{clients}"),
                        json!({
                            "calls_per_s": round1(rate),
                            "p50_ms": round3(p50),
                            "p99_ms": round3(p99),
                            "errors": errors,
                            "server_cpu_us_per_call": cpu.map(round1),
                        }),
                    );
                    rates.insert((delay, w, name, clients), rate);
                }
            }
            let mut group = Map::new();
            for (name, out) in PATHS.into_iter().zip(by_path) {
                group.insert(name.to_owned(), Value::Object(out));
            }
            by_delay.insert(format!("workers_{w}"), Value::Object(group));
        }
        json_out.insert(format!("delay_{delay}ms"), Value::Object(by_delay));
    }

    // Ratios.
    let get = |delay, workers, path, clients| rates.get(&(delay, workers, path, clients)).copied();
    let mut ratios = Map::new();
    text.push_str("\nload targets (issue 6):\n");
    for w in ["1", "2"] {
        for path in ["pacing_on", "pacing_off"] {
            if let Some(v) = get(0, w, path, 8) {
                let _ = writeln!(
                    text,
                    "  0 ms, 8 clients, workers {w}, {path}: {v:.0} calls/s (target >= {TARGET_CALLS_PER_S:.0}) {}",
                    verdict(v >= TARGET_CALLS_PER_S)
                );
                ratios.insert(
                    format!("calls_per_s_0ms_8_clients_workers_{w}_{path}"),
                    json!(round1(v)),
                );
            }
        }
    }
    for w in ["1", "2"] {
        for path in ["pacing_on", "pacing_off"] {
            for clients in CLIENTS {
                let (Some(g), Some(d)) = (
                    get(DELAY_MS, w, path, clients),
                    get(DELAY_MS, w, "direct", clients),
                ) else {
                    continue;
                };
                let r = g / d;
                let _ = writeln!(
                    text,
                    "  {DELAY_MS} ms, {clients:>2} clients, workers {w}, {path}: gojira/direct {:.1} % (target >= {:.0} %) {}",
                    r * 100.0,
                    TARGET_DIRECT_RATIO * 100.0,
                    verdict(r >= TARGET_DIRECT_RATIO)
                );
                ratios.insert(
                    format!("gojira_over_direct_{DELAY_MS}ms_{clients}_clients_workers_{w}_{path}"),
                    json!(round3(r)),
                );
            }
        }
    }
    for delay in [0, DELAY_MS] {
        for w in ["1", "2"] {
            for clients in CLIENTS {
                let (Some(on), Some(off)) = (
                    get(delay, w, "pacing_on", clients),
                    get(delay, w, "pacing_off", clients),
                ) else {
                    continue;
                };
                let cost = 1.0 - on / off;
                let _ = writeln!(
                    text,
                    "  pacing cost, {delay:>2} ms, {clients:>2} clients, workers {w}: {:.1} % (target < {:.0} %) {}",
                    cost * 100.0,
                    TARGET_PACING_COST * 100.0,
                    verdict(cost < TARGET_PACING_COST)
                );
                ratios.insert(
                    format!("pacing_cost_{delay}ms_{clients}_clients_workers_{w}"),
                    json!(round3(cost)),
                );
            }
        }
    }
    for delay in [0, DELAY_MS] {
        for w in ["1", "2"] {
            for clients in CLIENTS {
                let on = cpu_us.get(&(delay, w, "pacing_on", clients));
                let off = cpu_us.get(&(delay, w, "pacing_off", clients));
                let (Some(on), Some(off)) = (on, off) else {
                    continue;
                };
                let cost = on / off - 1.0;
                let _ = writeln!(
                    text,
                    "  pacing CPU cost, {delay:>2} ms, {clients:>2} clients, workers {w}: {on:.0} vs {off:.0} us/call, {:+.1} % (target < {:.0} %) {}",
                    cost * 100.0,
                    TARGET_PACING_COST * 100.0,
                    verdict(cost < TARGET_PACING_COST)
                );
                ratios.insert(
                    format!("pacing_cpu_cost_{delay}ms_{clients}_clients_workers_{w}"),
                    json!(round3(cost)),
                );
            }
        }
    }
    // One turn is short and the machine is shared: single pacing-cost figures
    // swing by ±10 % either way, so the verdict is on the mean over all turns.
    let mean_of = |ratios: &Map<String, Value>, prefix: &str| {
        let v: Vec<f64> = ratios
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter_map(|(_, v)| v.as_f64())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    for (name, prefix) in [
        ("throughput", "pacing_cost_"),
        ("server CPU per call", "pacing_cpu_cost_"),
    ] {
        if let Some(m) = mean_of(&ratios, prefix) {
            let _ = writeln!(
                text,
                "  pacing cost in {name}, mean over all configurations: {:+.1} % (target < {:.0} %) {}",
                m * 100.0,
                TARGET_PACING_COST * 100.0,
                verdict(m < TARGET_PACING_COST)
            );
            ratios.insert(format!("{prefix}mean"), json!(round3(m)));
        }
    }
    json_out.insert("ratios".to_owned(), Value::Object(ratios));
    json_out.insert(
        "method".to_owned(),
        json!({
            "rounds": ROUNDS,
            "warmup_ms_per_round": WARMUP.as_millis(),
            "window_ms_per_round": WINDOW.as_millis(),
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

/// One turn of one path.
struct Run {
    /// Latencies (ms) of the successful calls completing inside the window.
    latencies: Vec<f64>,
    /// Failed calls completing inside the window.
    errors: u64,
    /// Successful calls over the whole turn (warm-up included).
    all_calls: u64,
    /// The server's CPU seconds over the whole turn (0 without a server pid).
    cpu_s: f64,
}

/// `clients` threads hammer `url` for the warm-up and the window; calls
/// completing inside the window count. With `pid`, the server's CPU time
/// over the whole turn is measured too.
fn measure(url: &str, path: Path, clients: usize, pid: Option<u32>) -> anyhow::Result<Run> {
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
    let cpu_before = pid.map(cpu_seconds).transpose()?;
    let start = Instant::now();
    let window = (start + WARMUP, start + WARMUP + WINDOW);
    let per_thread: Vec<anyhow::Result<(Vec<f64>, u64, u64)>> = std::thread::scope(|scope| {
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
    let cpu_s = match (pid, cpu_before) {
        (Some(pid), Some(before)) => cpu_seconds(pid)? - before,
        _ => 0.0,
    };
    let mut run = Run {
        latencies: Vec::new(),
        errors: 0,
        all_calls: 0,
        cpu_s,
    };
    for r in per_thread {
        let (l, e, all) = r?;
        run.latencies.extend(l);
        run.errors += e;
        run.all_calls += all;
    }
    Ok(run)
}

/// User + system CPU seconds of a process (`/proc/PID/stat`, in USER_HZ = 100 ticks).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<f64> {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no field {i} in /proc/{pid}/stat"))
    };
    // `rest` starts at field 3 (state), so field n is at index n - 3.
    Ok((tick(14 - 3)? + tick(15 - 3)?) / 100.0)
}

/// One client: successful calls' latencies (ms) and the error count, both
/// for calls completing inside `window`.
fn client_loop(
    mut conn: KeepAlive,
    url: &str,
    request: &[u8],
    path: Path,
    (from, to): (Instant, Instant),
) -> anyhow::Result<(Vec<f64>, u64, u64)> {
    const OK: &[u8] = br#""isError":false"#;
    let mut latencies = Vec::with_capacity(4096);
    let mut errors = 0;
    let mut all_calls = 0;
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
        all_calls += u64::from(ok);
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
    Ok((latencies, errors, all_calls))
}

/// Whether `needle` occurs in `haystack` (std's substring search, which is
/// fast even in a debug build of xtask).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    match (std::str::from_utf8(haystack), std::str::from_utf8(needle)) {
        (Ok(h), Ok(n)) => h.contains(n),
        _ => false,
    }
}
