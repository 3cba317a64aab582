//! Test harness: the real `gojira-mcp` binary, started as a child process
//! against our fake Atlassian, and a real rmcp client over real HTTP.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fake_atlassian::{FakeAtlassian, FakeHandle};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProtocolVersion,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Map, Value, json};

pub mod oauth;
/// The test Redis (shared with the store's tests).
#[path = "../../../store/tests/support/redis.rs"]
pub mod redis;

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_gojira-mcp");

/// Starts the fake Atlassian from the real specs, or fails with a clear message.
pub async fn start_fake() -> FakeHandle {
    // reqwest is built without a default TLS provider; tests use it directly too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = fake_atlassian::find_specs_dir().unwrap_or_else(|| {
        panic!(
            "the Atlassian spec files are needed by the end-to-end tests and none were found: \
             run `cargo xtask fetch-specs` or set GOJIRA_SPECS_DIR"
        )
    });
    FakeAtlassian::load(&dir)
        .expect("fake Atlassian loads the specs")
        .serve(0)
        .await
        .expect("fake Atlassian binds")
}

/// A running server child process. Killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The MCP endpoint.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Sends the process `signal` (`TERM`, `INT`, ...) with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits at most `timeout` for the process to exit.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if started.elapsed() >= timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A fresh data directory for one server (the embedded store locks its file).
pub fn data_dir() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir()
        .join(format!("gojira-e2e-{}-{n}", std::process::id()))
        .display()
        .to_string()
}

/// Environment pointing every product at the fake.
pub fn fake_env(fake: &FakeHandle, groups: &str) -> BTreeMap<String, String> {
    let base = fake.base_url();
    let data = data_dir();
    [
        ("GOJIRA_DATA_DIR", data.as_str()),
        ("GOJIRA_ENABLED_GROUPS", groups),
        ("MCP_PORT", "0"),
        ("ATLASSIAN_SITE_URL", base.as_str()),
        ("ATLASSIAN_API_BASE_URL", base.as_str()),
        ("ATLASSIAN_EMAIL", "e2e@example.com"),
        ("ATLASSIAN_API_TOKEN", "e2e-secret-token"),
        ("GOJIRA_ASSETS_WORKSPACE_ID", "ws-1"),
        // Fills {cloudId} of the automation product's base URL.
        ("ATLASSIAN_CLOUD_ID", fake_atlassian::DEFAULT_CLOUD_ID),
        ("GOJIRA_ORG_ID", "org-1"),
        ("GOJIRA_ENABLE_ORG_ADMIN", "true"),
        ("GOJIRA_ORG_ADMIN_TOKEN", "e2e-org-key"),
        ("LOG_LEVEL", "info"),
        // One credential from the environment for every caller (auth.rs tests oauth).
        ("GOJIRA_AUTH_MODE", "local"),
        // Tests that sweep the whole catalog send a few hundred requests a
        // second; inbound limits have their own test (inbound.rs).
        ("GOJIRA_INBOUND_RATE", "1000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Every group the catalog declares that holds a tool, comma-separated
/// (start-up refuses enabling a group without tools).
pub fn all_groups() -> String {
    let with_tools: std::collections::BTreeSet<&str> = gojira_generated::TOOLSETS
        .iter()
        .flat_map(|set| set.iter())
        .map(|tool| tool.group)
        .chain(std::iter::once(gojira_runtime::builtin::GROUP))
        .collect();
    gojira_generated::GROUPS
        .iter()
        .map(|g| g.name)
        .filter(|g| with_tools.contains(g))
        .collect::<Vec<_>>()
        .join(",")
}

fn command(args: &[&str], env: &BTreeMap<String, String>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    with_test_io(cmd, env)
}

fn with_test_io(mut cmd: Command, env: &BTreeMap<String, String>) -> Command {
    cmd.env_clear()
        .envs(env)
        .current_dir(std::env::temp_dir()) // no stray .env
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts `gojira-mcp serve` and waits for its ready line.
pub fn start_server(env: &BTreeMap<String, String>) -> Server {
    start_server_with(&["serve"], env)
}

/// Starts the binary with `args` and waits for its ready line.
pub fn start_server_with(args: &[&str], env: &BTreeMap<String, String>) -> Server {
    spawn_until_ready(command(args, env))
}

/// Starts `gojira-mcp serve` with its open-file limit (soft and hard)
/// lowered to `nofile` (through `sh`'s `ulimit -n`, then `exec`), and waits
/// for its ready line.
pub fn start_server_with_nofile(env: &BTreeMap<String, String>, nofile: u64) -> Server {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" serve"))
        .arg(BIN);
    spawn_until_ready(with_test_io(cmd, env))
}

fn spawn_until_ready(mut cmd: Command) -> Server {
    let mut child = cmd.spawn().expect("spawn gojira-mcp");
    let stderr = child.stderr.take().expect("stderr");
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("gojira-mcp ready: http://") {
                let addr = rest.split('/').next().unwrap_or_default().to_owned();
                let _ = tx.send(addr);
            }
            sink.lock().unwrap().push(line);
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(addr) => addr,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "server did not become ready: {}",
                lines.lock().unwrap().join("\n")
            );
        }
    };
    Server {
        child,
        base: format!("http://{addr}"),
        stderr: lines,
    }
}

/// Runs the binary to completion; returns (success, stdout, stderr).
pub fn run_with_output(args: &[&str], env: &BTreeMap<String, String>) -> (bool, String, String) {
    let out = command(args, env).output().expect("run gojira-mcp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary to completion (for start-up failures); returns (success, stderr).
pub fn run_to_exit(args: &[&str], env: &BTreeMap<String, String>) -> (bool, String) {
    let out = command(args, env).output().expect("run gojira-mcp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub type Client = RunningService<RoleClient, ClientConfig>;

/// An rmcp client over Streamable HTTP, negotiating `version` with `initialize`.
pub async fn connect(server: &Server, version: ProtocolVersion) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let transport = StreamableHttpClientTransport::from_uri(server.mcp_url());
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("gojira-e2e", "0.1.0"),
    )
    .with_protocol_version(version)
    .serve(transport)
    .await
    .expect("client connects")
}

/// Calls a tool with JSON arguments.
pub async fn call(
    client: &Client,
    name: &str,
    args: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = args.as_object().cloned();
    client.call_tool(params).await
}

/// Calls a consent-`commit` tool the way an agent must: preview (which must
/// change nothing and return a plan digest), then commit with that digest.
/// Returns the preview and the committed result.
pub async fn preview_and_commit(
    client: &Client,
    name: &str,
    args: Value,
) -> (Value, CallToolResult) {
    let preview = call(client, name, args.clone()).await.expect("preview");
    assert_ne!(
        preview.is_error,
        Some(true),
        "{name} preview: {}",
        text(&preview)
    );
    let plan = preview
        .structured_content
        .clone()
        .expect("a preview is structured");
    assert_eq!(plan["dryRun"], true, "{name}: {plan}");
    let digest = plan["planDigest"].as_str().expect("planDigest").to_owned();
    let mut args = args;
    args["commit"] = Value::Bool(true);
    args["planDigest"] = Value::String(digest);
    let done = call(client, name, args).await.expect("commit");
    (plan, done)
}

/// The text of a result's first content block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A minimal instance of a JSON schema: required properties only.
pub fn minimal(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => "object",
    };
    match ty {
        "string" => json!("10000"),
        "integer" => json!(
            schema
                .get("minimum")
                .and_then(Value::as_i64)
                .unwrap_or(10000)
                .max(1)
        ),
        "number" => json!(1.0),
        "boolean" => json!(false),
        "array" => {
            // One item at least: a required list is rarely accepted empty
            // (jira.deleteStatuses needs an id to read and to delete).
            let n = schema
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            let item = minimal(schema.get("items").unwrap_or(&json!({})));
            Value::Array((0..n).map(|_| item.clone()).collect())
        }
        "null" => Value::Null,
        _ => {
            let mut out = Map::new();
            let props = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = name.as_str() else { continue };
                let prop = props
                    .and_then(|p| p.get(name))
                    .cloned()
                    .unwrap_or(json!({"type": "string"}));
                out.insert(name.to_owned(), minimal(&prop));
            }
            Value::Object(out)
        }
    }
}

/// Opens a 2025-11-25 session over raw HTTP (`initialize`, then
/// `notifications/initialized`) and returns its id.
pub async fn open_raw_session(http: &reqwest::Client, server: &Server) -> String {
    let post = |body: Value, session: Option<&str>| {
        let mut request = http
            .post(server.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(id) = session {
            request = request
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(init.status(), 200);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(&session),
    )
    .await
    .unwrap();
    assert!(initialized.status().is_success());
    session
}
