//! `mcp_jsonrpc`: HTTP requests to `/mcp` through the real axum router,
//! in-process (`tower::ServiceExt::oneshot`, no socket).
//!
//! The server is the one `gojira-mcp serve` builds in local mode: the
//! generated catalog with every group enabled, an embedded store, native
//! consent keyed, the org-admin path on. Every product's base URL is
//! `http://127.0.0.1:9` (the discard port: nothing listens, the connection
//! is refused at once) and a call's deadline is 10 ms, so an upstream call
//! costs microseconds, never leaves the machine and never waits on a retry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Result, Unstructured};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request};
use gojira_runtime::config::{self, Config};
use gojira_runtime::identity::{AuditLog, Identity};
use gojira_runtime::transport::{self, CancellationToken};
use gojira_runtime::upstream::Upstream;
use gojira_runtime::{ServerState, builtin};
use gojira_store::embedded::EmbeddedStore;
use gojira_store::{Clock, Store};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use crate::{json, panics};

/// Nothing listens on the discard port of the loopback interface.
const UNREACHABLE: &str = "http://127.0.0.1:9";
/// The port the router believes it is bound to (nothing is bound).
const PORT: u16 = 8081;
/// Longest wait for one answer: a call's deadline is 10 ms, so an answer
/// this late means the server hangs.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

const VERSIONS: &[&str] = &[
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

/// MCP method names (client → server, plus a few that only a server sends).
const METHODS: &[&str] = &[
    "initialize",
    "notifications/initialized",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "roots/list",
    "sampling/createMessage",
    "elicitation/create",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tasks/cancel",
    "server/discover",
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    config: Config,
    state: Arc<ServerState>,
    /// Tool names and input schemas, as `tools/list` shows them.
    tools: Vec<(String, Value)>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::start)
}

impl Harness {
    fn start() -> Self {
        // In memory where the system has it: the store's durable commits
        // then cost no disk flush.
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "gojira-fuzz-mcp-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir for the store");
        let catalog = gojira_runtime::Catalog::new(
            gojira_generated::PRODUCTS,
            gojira_generated::GROUPS,
            gojira_generated::TOOLSETS,
        )
        .expect("the generated catalog loads");
        let mut groups: BTreeSet<String> = catalog.groups.keys().map(|g| (*g).to_owned()).collect();
        groups.insert(builtin::GROUP.to_owned());
        let groups_var = groups.iter().cloned().collect::<Vec<_>>().join(",");
        let vars: BTreeMap<String, String> = [
            ("GOJIRA_AUTH_MODE", "local"),
            ("GOJIRA_ENABLED_GROUPS", groups_var.as_str()),
            ("ATLASSIAN_SITE_URL", UNREACHABLE),
            ("ATLASSIAN_API_BASE_URL", UNREACHABLE),
            ("ATLASSIAN_EMAIL", "fuzz@example.com"),
            ("ATLASSIAN_API_TOKEN", "fuzz-token"),
            ("ATLASSIAN_CLOUD_ID", "fuzz-cloud"),
            ("GOJIRA_ASSETS_WORKSPACE_ID", "fuzz-workspace"),
            ("GOJIRA_ORG_ID", "fuzz-org"),
            ("GOJIRA_ENABLE_ORG_ADMIN", "true"),
            ("GOJIRA_ORG_ADMIN_TOKEN", "fuzz-org-key"),
            ("GOJIRA_UPSTREAM_PACING", "off"),
            ("GOJIRA_INBOUND_RATE", "off"),
            ("GOJIRA_INBOUND_CLIENT_RATE", "off"),
            ("LOG_LEVEL", "off"),
            ("GOJIRA_DATA_DIR", dir.to_str().expect("a UTF-8 temp dir")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = config::from_vars(&vars).expect("the fuzz configuration is valid");
        catalog
            .check_groups(&config.enabled_groups)
            .expect("every group exists");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let state = runtime.block_on(async {
            let store = Store::Embedded(
                EmbeddedStore::open(&dir, Clock::System).expect("the embedded store opens"),
            );
            let upstream = Upstream::new(config.upstream.clone(), Some(store.clone()))
                .expect("the upstream client builds");
            let audit = AuditLog::open(&dir.join("org-admin-audit.log")).expect("an audit log");
            ServerState::new(
                catalog,
                config.enabled_groups.clone(),
                upstream,
                Duration::from_millis(10),
                store,
                gojira_runtime::cache::principal(&config.upstream),
            )
            .with_identity(
                Identity::local()
                    .with_endpoints(gojira_generated::IDENTITY_ENDPOINTS)
                    .with_audit(audit),
            )
            .with_consent_secret(b"fuzz-consent-secret-of-32-bytes!")
        });
        // The store and the audit log hold their files open: unlinking the
        // directory now leaves nothing behind when the process ends
        // (libFuzzer exits without running destructors).
        let _ = std::fs::remove_dir_all(&dir);
        let tools = state
            .tools()
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    Value::Object(t.input_schema.as_ref().clone()),
                )
            })
            .collect();
        Self {
            runtime,
            config,
            state: Arc::new(state),
            tools,
        }
    }
}

/// Bytes starting with `{` or `[` (after whitespace) are a raw POST body,
/// sent on a session opened by a fixed handshake; anything else decodes to
/// a sequence of up to six structured exchanges ([`Step`]). Any HTTP status
/// is fine; a panic (in the handler or any task it spawns) or an answer
/// that never ends is not.
pub fn mcp_jsonrpc(data: &[u8]) {
    panics::watch();
    let _one = panics::one_at_a_time();
    let harness = harness();
    let before = panics::count();
    // A fresh router per case: sessions opened by one case end with it.
    let shutdown = CancellationToken::new();
    let app = transport::router(
        &harness.config,
        harness.state.clone(),
        shutdown.clone(),
        PORT,
    );
    harness.runtime.block_on(async {
        let raw = data
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| matches!(b, b'{' | b'['));
        if raw {
            raw_case(&app, data).await;
        } else {
            structured_case(&app, harness, data).await;
        }
    });
    shutdown.cancel();
    // Let the cancelled sessions and any stray task run to their end.
    harness.runtime.block_on(async {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    });
    panics::assert_none_since(before, "serving this case");
}

/// What earlier answers gave that later requests may reuse.
#[derive(Default)]
struct Memory {
    session: Option<String>,
    version: Option<&'static str>,
    request_states: Vec<String>,
    digests: Vec<String>,
    server_request_ids: Vec<Value>,
}

async fn raw_case(app: &Router, body: &[u8]) {
    let mut memory = Memory::default();
    handshake(app, &mut memory, "2025-11-25").await;
    let mut request = post(Body::from(body.to_vec()));
    if let Some(session) = &memory.session {
        header(&mut request, "mcp-session-id", session);
    }
    header(&mut request, "mcp-protocol-version", "2025-11-25");
    send(app, request, &mut memory).await;
}

/// `initialize` then `notifications/initialized`, as a client opens a session.
async fn handshake(app: &Router, memory: &mut Memory, version: &'static str) {
    let init = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {"elicitation": {}},
            "clientInfo": {"name": "fuzz", "version": "1"}
        }
    });
    send(app, post(Body::from(init.to_string())), memory).await;
    memory.version = Some(version);
    let mut initialized = post(Body::from(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    ));
    if let Some(session) = &memory.session {
        header(&mut initialized, "mcp-session-id", session);
    }
    header(&mut initialized, "mcp-protocol-version", version);
    send(app, initialized, memory).await;
}

async fn structured_case(app: &Router, harness: &Harness, data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut memory = Memory::default();
    match u.int_in_range(0..=3u8).unwrap_or(0) {
        0 => handshake(app, &mut memory, "2025-11-25").await,
        1 => memory.version = Some("2026-07-28"),
        2 => handshake(app, &mut memory, "2025-06-18").await,
        _ => {}
    }
    let steps = u.int_in_range(1..=6u8).unwrap_or(1);
    for _ in 0..steps {
        let Ok(request) = step(&mut u, harness, &memory) else {
            break;
        };
        send(app, request, &mut memory).await;
    }
}

/// Sends one request and reads its whole answer (but for a GET's event
/// stream, which stays open by design), remembering what it carries.
async fn send(app: &Router, request: Request<Body>, memory: &mut Memory) {
    let get = request.method() == Method::GET;
    let shown = trace().then(|| format!("{} {}", request.method(), request.uri()));
    let Ok(response) = tokio::time::timeout(ANSWER_WITHIN, app.clone().oneshot(request)).await
    else {
        panic!("no answer headers within {ANSWER_WITHIN:?}");
    };
    let Ok(response) = response;
    if let Some(session) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        memory.session = Some(session.to_owned());
    }
    if get {
        return;
    }
    let sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(ANSWER_WITHIN, async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
            }
            // A request from the server (elicitation) waits for our answer,
            // which a later step may send: stop reading like a client would.
            if sse && remember(&bytes, &mut Memory::default()) {
                return;
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the answer did not end within {ANSWER_WITHIN:?}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if let Some(shown) = shown {
        let text = String::from_utf8_lossy(&bytes);
        eprintln!("{shown} -> {}", text.chars().take(300).collect::<String>());
    }
    remember(&bytes, memory);
}

/// `GOJIRA_FUZZ_TRACE=1` prints each request line and the start of its answer.
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("GOJIRA_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

/// Harvests session-bound values from a JSON or event-stream answer;
/// true when it holds a request from the server.
fn remember(bytes: &[u8], memory: &mut Memory) -> bool {
    let mut values = Vec::new();
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        values.push(value);
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        values.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok()),
        );
    }
    let mut asked = false;
    for value in &values {
        harvest(value, memory, 0);
        if value.get("method").is_some()
            && let Some(id) = value.get("id")
        {
            memory.server_request_ids.push(id.clone());
            asked = true;
        }
    }
    asked
}

fn harvest(value: &Value, memory: &mut Memory, depth: u32) {
    if depth > 8 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("requestState", Value::String(s)) => memory.request_states.push(s.clone()),
                    ("planDigest", Value::String(s)) => memory.digests.push(s.clone()),
                    _ => harvest(v, memory, depth + 1),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| harvest(v, memory, depth + 1)),
        _ => {}
    }
}

fn post(body: Body) -> Request<Body> {
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = axum::http::Uri::from_static("/mcp");
    header(&mut request, "host", "127.0.0.1:8081");
    header(
        &mut request,
        "accept",
        "application/json, text/event-stream",
    );
    header(&mut request, "content-type", "application/json");
    request
}

/// Sets a header when the value is a valid header value (fuzzed values may not be).
fn header(request: &mut Request<Body>, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        request.headers_mut().insert(name, value);
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum HttpMethod {
    Post,
    Post2,
    Post3,
    Post4,
    Get,
    Delete,
    Put,
    Options,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Choice {
    Usual,
    Usual2,
    Usual3,
    Missing,
    Odd,
    Arbitrary,
}

/// One request of a structured case.
fn step(u: &mut Unstructured<'_>, harness: &Harness, memory: &Memory) -> Result<Request<Body>> {
    // One request in four strays from what a client sends (method, path,
    // headers); the others reach the JSON-RPC layer.
    let tamper = json::rarely(u, 4)?;
    let choice = |u: &mut Unstructured<'_>| -> Result<Choice> {
        if tamper {
            u.arbitrary()
        } else {
            Ok(Choice::Usual)
        }
    };
    let method = match if tamper {
        u.arbitrary()?
    } else {
        HttpMethod::Post
    } {
        HttpMethod::Get => Method::GET,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Options => Method::OPTIONS,
        _ => Method::POST,
    };
    let body: Vec<u8> = match u.int_in_range(0..=15u8)? {
        0..=11 => message(u, harness, memory)?.to_string().into_bytes(),
        12 => Vec::new(),
        13 => u.arbitrary::<Vec<u8>>()?,
        14 => {
            let n = u.int_in_range(0..=4)?;
            let mut batch = Vec::with_capacity(n);
            for _ in 0..n {
                batch.push(message(u, harness, memory)?);
            }
            Value::Array(batch).to_string().into_bytes()
        }
        _ => {
            // A message cut short.
            let mut bytes = message(u, harness, memory)?.to_string().into_bytes();
            let keep = u.int_in_range(0..=bytes.len())?;
            bytes.truncate(keep);
            bytes
        }
    };
    let tool_name = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.pointer("/params/name")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let rpc_method = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("method").and_then(Value::as_str).map(str::to_owned));
    let mut request = Request::new(Body::from(body));
    *request.method_mut() = method;
    *request.uri_mut() = axum::http::Uri::from_static(if tamper {
        u.choose(&["/mcp", "/mcp/", "/mcp?x=1", "/health", "/"])?
    } else {
        "/mcp"
    });
    match choice(u)? {
        Choice::Missing => {}
        Choice::Odd => header(&mut request, "host", "evil.example"),
        Choice::Arbitrary => header(&mut request, "host", &u.arbitrary::<String>()?),
        _ => header(&mut request, "host", "127.0.0.1:8081"),
    }
    match choice(u)? {
        Choice::Missing => {}
        Choice::Odd => header(&mut request, "accept", "application/json"),
        Choice::Arbitrary => header(&mut request, "accept", &u.arbitrary::<String>()?),
        _ => header(
            &mut request,
            "accept",
            "application/json, text/event-stream",
        ),
    }
    match choice(u)? {
        Choice::Missing => {}
        Choice::Odd => header(&mut request, "content-type", "text/plain"),
        Choice::Arbitrary => header(&mut request, "content-type", &u.arbitrary::<String>()?),
        Choice::Usual3 => header(
            &mut request,
            "content-type",
            "application/json; charset=utf-8",
        ),
        _ => header(&mut request, "content-type", "application/json"),
    }
    match choice(u)? {
        Choice::Missing => {}
        Choice::Odd => header(&mut request, "mcp-session-id", "no-such-session"),
        Choice::Arbitrary => header(&mut request, "mcp-session-id", &u.arbitrary::<String>()?),
        _ => {
            if let Some(session) = &memory.session {
                header(&mut request, "mcp-session-id", session);
            }
        }
    }
    match choice(u)? {
        Choice::Missing => {}
        Choice::Odd => header(&mut request, "mcp-protocol-version", u.choose(VERSIONS)?),
        Choice::Arbitrary => header(
            &mut request,
            "mcp-protocol-version",
            &u.arbitrary::<String>()?,
        ),
        _ => {
            if let Some(version) = memory.version {
                header(&mut request, "mcp-protocol-version", version);
            }
        }
    }
    if memory.version == Some("2026-07-28") || json::rarely(u, 8)? {
        // SEP-2243 standard headers, mirroring the body (or not).
        if let Some(m) = &rpc_method {
            header(&mut request, "mcp-method", m);
        }
        if let Some(name) = &tool_name {
            header(&mut request, "mcp-name", name);
        }
        if json::rarely(u, 8)? {
            header(&mut request, "mcp-name", &json::string(u)?);
        }
    }
    if json::rarely(u, 8)? {
        let origin = *u.choose(&[
            "http://127.0.0.1:8081",
            "http://localhost:8081",
            "https://evil.example",
            "null",
            "",
        ])?;
        header(&mut request, "origin", origin);
    }
    if json::rarely(u, 16)? {
        header(&mut request, "authorization", "Bearer fuzz-not-a-token");
    }
    if json::rarely(u, 16)? {
        header(&mut request, "last-event-id", &json::string(u)?);
    }
    Ok(request)
}

/// One JSON-RPC message: mostly a request, else a notification or a
/// response (to a server request id seen earlier, or made up).
fn message(u: &mut Unstructured<'_>, harness: &Harness, memory: &Memory) -> Result<Value> {
    let mut map = Map::new();
    match u.int_in_range(0..=15u8)? {
        0..=13 => {
            map.insert("jsonrpc".into(), "2.0".into());
        }
        14 => {}
        _ => {
            map.insert("jsonrpc".into(), json::value(u, 1, &[])?);
        }
    }
    let kind = u.int_in_range(0..=15u8)?;
    if kind == 15 {
        // A response.
        let id = if memory.server_request_ids.is_empty() || json::rarely(u, 4)? {
            id(u)?
        } else {
            u.choose(&memory.server_request_ids)?.clone()
        };
        map.insert("id".into(), id);
        if u.arbitrary()? {
            let result = if u.arbitrary()? {
                json!({"action": *u.choose(&["accept", "decline", "cancel"])?, "content": {"confirm": u.arbitrary::<bool>()?}})
            } else {
                json::value(u, 3, &["action", "content", "confirm"])?
            };
            map.insert("result".into(), result);
        } else {
            map.insert(
                "error".into(),
                json!({"code": u.arbitrary::<i32>()?, "message": json::string(u)?}),
            );
        }
        return Ok(Value::Object(map));
    }
    let method: String = match u.int_in_range(0..=15u8)? {
        0..=6 => "tools/call".to_owned(),
        7..=14 => (*u.choose(METHODS)?).to_owned(),
        _ => json::string(u)?,
    };
    if kind < 13 && !method.starts_with("notifications/") || kind == 14 {
        map.insert("id".into(), id(u)?);
    }
    if let Some(params) = params(u, harness, memory, &method)? {
        map.insert("params".into(), params);
    }
    map.insert("method".into(), method.into());
    Ok(Value::Object(map))
}

fn id(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=7u8)? {
        0..=3 => Value::from(u.int_in_range(0..=50u32)?),
        4 => Value::String(json::string(u)?),
        5 => Value::Null,
        6 => json::number(u)?,
        _ => json::value(u, 2, &[])?,
    })
}

fn params(
    u: &mut Unstructured<'_>,
    harness: &Harness,
    memory: &Memory,
    method: &str,
) -> Result<Option<Value>> {
    match u.int_in_range(0..=15u8)? {
        0..=13 => {}
        14 => return Ok(None),
        _ => return Ok(Some(json::value(u, 3, &[])?)),
    }
    let mut params = match method {
        "initialize" => json!({
            "protocolVersion": if !json::rarely(u, 8)? { Value::from(*u.choose(VERSIONS)?) } else { json::value(u, 1, &[])? },
            "capabilities": if !json::rarely(u, 8)? {
                json!({"elicitation": {}, "roots": {"listChanged": u.arbitrary::<bool>()?}})
            } else {
                json::value(u, 3, &["elicitation", "sampling", "roots", "experimental", "tasks"])?
            },
            "clientInfo": {"name": json::string(u)?, "version": "1"},
        }),
        "tools/call" => {
            let (name, schema) = if harness.tools.is_empty() || json::rarely(u, 16)? {
                (json::string(u)?, Value::Bool(true))
            } else {
                let (name, schema) = u.choose(&harness.tools)?;
                (name.clone(), schema.clone())
            };
            let mut arguments = json::guided(u, &schema, 5)?;
            if let Value::Object(args) = &mut arguments {
                if json::rarely(u, 4)? {
                    args.insert("commit".into(), Value::Bool(u.arbitrary()?));
                    let digest = if memory.digests.is_empty() || json::rarely(u, 4)? {
                        json::string(u)?
                    } else {
                        u.choose(&memory.digests)?.clone()
                    };
                    args.insert("planDigest".into(), digest.into());
                }
                if json::rarely(u, 8)? {
                    args.insert("raw".into(), Value::Bool(u.arbitrary()?));
                }
            }
            let mut params = json!({"name": name});
            if !json::rarely(u, 16)? {
                params["arguments"] = arguments;
            }
            if !memory.request_states.is_empty() && json::rarely(u, 2)? || json::rarely(u, 16)? {
                params["requestState"] = if memory.request_states.is_empty() {
                    json::string(u)?
                } else {
                    u.choose(&memory.request_states)?.clone()
                }
                .into();
                params["inputResponses"] = json!({"confirm": {"action": *u.choose(&["accept", "decline", "cancel"])?, "content": {"confirm": u.arbitrary::<bool>()?}}});
            }
            if json::rarely(u, 16)? {
                params["task"] = json!({"ttl": u.arbitrary::<u32>()?});
            }
            params
        }
        "logging/setLevel" => json!({"level": if !json::rarely(u, 8)? {
            Value::from(*u.choose(&["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"])?)
        } else {
            json::value(u, 1, &[])?
        }}),
        "notifications/cancelled" => json!({"requestId": id(u)?, "reason": json::string(u)?}),
        "notifications/progress" => {
            json!({"progressToken": id(u)?, "progress": json::number(u)?, "total": json::number(u)?})
        }
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            json!({"uri": json::string(u)?})
        }
        "prompts/get" => json!({"name": json::string(u)?, "arguments": json::value(u, 2, &[])?}),
        "completion/complete" => json!({
            "ref": {"type": *u.choose(&["ref/prompt", "ref/resource", "ref/tool"])?, "name": json::string(u)?, "uri": json::string(u)?},
            "argument": {"name": json::string(u)?, "value": json::string(u)?}
        }),
        "tasks/get" | "tasks/result" | "tasks/cancel" => json!({"taskId": json::string(u)?}),
        "tools/list"
        | "resources/list"
        | "prompts/list"
        | "tasks/list"
        | "resources/templates/list" => {
            if u.arbitrary()? {
                json!({"cursor": json::string(u)?})
            } else {
                json!({})
            }
        }
        _ => json::value(u, 3, &[])?,
    };
    let stateless = memory.version == Some("2026-07-28");
    if let Value::Object(map) = &mut params
        && (stateless && !json::rarely(u, 8)? || json::rarely(u, 16)?)
    {
        let mut meta = json!({
            "io.modelcontextprotocol/protocolVersion": if !json::rarely(u, 8)? { "2026-07-28".into() } else { json::value(u, 1, &[])? },
            "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": if !json::rarely(u, 8)? { json!({"elicitation": {}}) } else { json::value(u, 2, &["elicitation", "sampling"])? },
        });
        if json::rarely(u, 8)? {
            meta["progressToken"] = id(u)?;
        }
        map.insert("_meta".into(), meta);
    }
    Ok(Some(params))
}
