//! End to end: the real binary, a real MCP client over real HTTP, and the
//! fake Atlassian validating every upstream request against the specs.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::*;
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

/// Spec file stem of each product, to match the fake's operation labels.
fn spec_stem(product: &str) -> &'static str {
    gojira_generated::PRODUCTS
        .iter()
        .find(|p| p.key == product)
        .map(|p| p.spec.trim_end_matches(".json"))
        .expect("known product")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_follows_the_group_allowlist() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects,read_agile"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    let expected: BTreeSet<String> = gojira_generated::TOOLSETS
        .iter()
        .flat_map(|set| set.iter())
        .filter(|t| t.group == "read_projects" || t.group == "read_agile")
        .map(|t| t.name.to_owned())
        .collect();
    assert_eq!(names, expected);
    assert!(names.contains("jira.getProject"));
    assert!(!names.contains("jira.createProject"));
    for tool in &tools {
        assert!(
            tool.title.as_deref().is_some_and(|t| !t.is_empty()),
            "{} has a title",
            tool.name
        );
        let ann = tool.annotations.as_ref().expect("annotations");
        assert_eq!(ann.read_only_hint, Some(true), "{} is read-only", tool.name);
        assert_eq!(ann.destructive_hint, Some(false));
        assert_eq!(ann.idempotent_hint, None, "implied for read-only tools");
        assert_eq!(ann.open_world_hint, None, "default true, not repeated");
        assert_eq!(tool.input_schema.get("type"), Some(&json!("object")));
        assert!(
            !serde_json::to_string(&*tool.input_schema)
                .unwrap()
                .contains("$ref")
        );
    }
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_sends_a_request_the_fake_accepts() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, &all_groups()));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.len() >= 25, "at least 25 tools, got {}", tools.len());
    let mut failures = Vec::new();
    let generated = tools.iter().filter(|t| !t.name.starts_with("gojira."));
    for tool in generated {
        // Each call sees a fresh fake, where unknown ids are synthesized.
        fake.reset_state();
        fake.clear_requests();
        let args = minimal(&Value::Object((*tool.input_schema).clone()));
        let spec = gojira_generated::TOOLSETS
            .iter()
            .flat_map(|s| s.iter())
            .find(|t| t.name == tool.name)
            .expect("generated spec");
        let takes_commit = tool
            .input_schema
            .get("properties")
            .is_some_and(|p| p.get("commit").is_some());
        let result = if takes_commit {
            let (_, done) = preview_and_commit(&client, &tool.name, args.clone()).await;
            done
        } else {
            call(&client, &tool.name, args.clone())
                .await
                .expect("tools/call")
        };
        // A write's snapshot reads (before and after) are GETs, or POSTs
        // that only read (jira.getWorkflows before jira.updateWorkflows):
        // the request under test is the one with the tool's own method and,
        // when a snapshot read shares it, the tool's own operation.
        let mut requests: Vec<_> = fake
            .requests()
            .into_iter()
            .filter(|r| r.method == spec.method.as_str())
            .collect();
        if requests.len() > 1
            && let Some((_, op)) = spec.operation.split_once('#')
        {
            let own = format!("#{op}");
            requests.retain(|r| r.operation.as_deref().is_some_and(|o| o.ends_with(&own)));
        }
        let ann = tool.annotations.as_ref().expect("annotations");
        assert!(
            ann.read_only_hint.is_some() && ann.destructive_hint.is_some(),
            "{}: explicit hints",
            tool.name
        );
        if spec.method == gojira_runtime::catalog::Method::Delete {
            assert_eq!(ann.destructive_hint, Some(true), "{} deletes", tool.name);
            assert_eq!(
                ann.idempotent_hint,
                Some(true),
                "{} deletes idempotently",
                tool.name
            );
        }
        if spec.method == gojira_runtime::catalog::Method::Get {
            assert_eq!(ann.read_only_hint, Some(true), "{} reads", tool.name);
        }
        match requests.as_slice() {
            [req] => {
                if result.is_error == Some(true)
                    || req.violation.is_some()
                    || !(200..400).contains(&req.status)
                {
                    failures.push(format!(
                        "{} {args}: status {} violation {:?} result {}",
                        tool.name,
                        req.status,
                        req.violation,
                        text(&result)
                    ));
                }
                if let Some((_, op_id)) = spec.operation.split_once('#')
                    && !op_id.contains(' ')
                {
                    let expected = format!("{}#{op_id}", spec_stem(spec.product));
                    if req.operation.as_deref() != Some(expected.as_str()) {
                        failures.push(format!(
                            "{}: fake saw {:?}, expected {expected}",
                            tool.name, req.operation
                        ));
                    }
                }
                assert_eq!(
                    req.auth_scheme.as_deref(),
                    Some(if spec.product == "org" {
                        "Bearer"
                    } else {
                        "Basic"
                    })
                );
                assert!(
                    result.structured_content.is_some(),
                    "{} returns structuredContent",
                    tool.name
                );
            }
            other => failures.push(format!(
                "{}: expected one upstream request, saw {}: {}",
                tool.name,
                other.len(),
                text(&result)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} tools failed:\n{}",
        failures.len(),
        tools.len(),
        failures.join("\n")
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_tool_errors_naming_the_field() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, &all_groups()));
    let client = connect(&server, ProtocolVersion::V_2025_06_18).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    for tool in &tools {
        let mut args = minimal(&Value::Object((*tool.input_schema).clone()));
        args.as_object_mut()
            .unwrap()
            .insert("bogusArgument".into(), json!(1));
        let result = call(&client, &tool.name, args).await.expect("tools/call");
        assert_eq!(
            result.is_error,
            Some(true),
            "{}: unknown argument refused",
            tool.name
        );
        let message = text(&result);
        assert!(
            message.contains("INVALID_ARGUMENTS") && message.contains("bogusArgument"),
            "{}: {message}",
            tool.name
        );
    }
    // A wrong type names the field and what was expected.
    let result = call(&client, "jira.getProject", json!({"project": 42}))
        .await
        .unwrap();
    let message = text(&result);
    assert_eq!(result.is_error, Some(true));
    assert!(
        message.contains("project") && message.contains("string"),
        "{message}"
    );
    // A missing required argument too.
    let result = call(&client, "jira.getProject", json!({})).await.unwrap();
    assert!(
        text(&result).contains("\"project\" is a required property"),
        "{}",
        text(&result)
    );
    assert!(
        fake.requests().is_empty(),
        "no upstream call for bad arguments"
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_disabled_tools_are_refused() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let err = call(&client, "jira.noSuchTool", json!({}))
        .await
        .expect_err("unknown tool");
    assert!(err.to_string().contains("unknown tool"), "{err}");
    let err = call(&client, "jira.deleteProject", json!({"project": "ABC"}))
        .await
        .expect_err("tool outside the allowlist");
    assert!(err.to_string().contains("delete_projects"), "{err}");
    assert!(fake.requests().is_empty(), "nothing reached Atlassian");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_round_trip_create_get_update_delete() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(
        &fake,
        "read_projects,write_projects,delete_projects",
    ));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let (_, created) = preview_and_commit(
        &client,
        "jira.createProject",
        json!({"body": {"key": "GOJ", "name": "Gojira", "projectTypeKey": "software", "leadAccountId": "5b10a2844c20165700ede21g"}}),
    )
    .await;
    assert_ne!(created.is_error, Some(true), "{}", text(&created));
    let got = call(&client, "jira.getProject", json!({"project": "GOJ"}))
        .await
        .unwrap();
    assert_ne!(got.is_error, Some(true), "{}", text(&got));
    assert_eq!(got.structured_content.as_ref().unwrap()["name"], "Gojira");
    let (_, updated) = preview_and_commit(
        &client,
        "jira.updateProject",
        json!({"project": "GOJ", "body": {"name": "Gojira 2"}}),
    )
    .await;
    assert_ne!(updated.is_error, Some(true), "{}", text(&updated));
    let got = call(&client, "jira.getProject", json!({"project": "GOJ"}))
        .await
        .unwrap();
    assert_eq!(got.structured_content.as_ref().unwrap()["name"], "Gojira 2");
    let (_, deleted) =
        preview_and_commit(&client, "jira.deleteProject", json!({"project": "GOJ"})).await;
    assert_ne!(deleted.is_error, Some(true), "{}", text(&deleted));
    let gone = call(&client, "jira.getProject", json!({"project": "GOJ"}))
        .await
        .unwrap();
    assert_eq!(gone.is_error, Some(true));
    let message = text(&gone);
    assert!(
        message.contains("HTTP 404") && message.contains("UPSTREAM_NOT_FOUND"),
        "{message}"
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_become_clear_tool_errors() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    fake.inject(
        fake_atlassian::Fault::status(403)
            .on_path("/rest/api/3/project/")
            .with_body(
                json!({"errorMessages": ["You do not have permission to view this project."]}),
            )
            .times(1),
    );
    let result = call(&client, "jira.getProject", json!({"project": "SEC"}))
        .await
        .unwrap();
    let message = text(&result);
    assert_eq!(result.is_error, Some(true));
    assert!(
        message.contains("HTTP 403") && message.contains("You do not have permission"),
        "{message}"
    );
    assert!(message.contains("Next:"), "{message}");
    assert_eq!(
        result.structured_content.as_ref().unwrap()["error"]["code"],
        "UPSTREAM_FORBIDDEN"
    );
    // A GET is retried on 503, so the outage must last for the error to surface.
    fake.inject(fake_atlassian::Fault::status(503).on_path("/rest/api/3/project/"));
    let result = call(&client, "jira.getProject", json!({"project": "SEC"}))
        .await
        .unwrap();
    assert!(
        text(&result).contains("UPSTREAM_UNAVAILABLE"),
        "{}",
        text(&result)
    );
    // The credential never shows up in the server's logs.
    assert!(!server.stderr().contains("e2e-secret-token"));
    client.cancel().await.ok();
}

/// How many tools of `group` tools/list shows (its tools that are not hidden).
fn listed_in(group: &str) -> usize {
    gojira_generated::TOOLSETS
        .iter()
        .flat_map(|set| set.iter())
        .filter(|t| t.group == group && !t.hidden)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_unauthenticated_and_reports_the_tool_count() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let body: Value = reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["tools"], listed_in("read_projects"));
    assert_eq!(body["store"]["backend"], "embedded");
    assert_eq!(body["store"]["ok"], true);
}

#[test]
fn start_up_refuses_bad_configuration_naming_the_variable() {
    let mut env = std::collections::BTreeMap::new();
    env.insert("MCP_PORT".to_owned(), "0".to_owned());
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok);
    assert!(stderr.contains("GOJIRA_ENABLED_GROUPS"), "{stderr}");
    env.insert(
        "GOJIRA_ENABLED_GROUPS".to_owned(),
        "read_projects,read_everything".to_owned(),
    );
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok);
    assert!(
        stderr.contains("read_everything") && stderr.contains("write_projects"),
        "{stderr}"
    );
    env.insert(
        "GOJIRA_ENABLED_GROUPS".to_owned(),
        "read_projects".to_owned(),
    );
    env.insert("MCP_PORT".to_owned(), "http".to_owned());
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok && stderr.contains("MCP_PORT"), "{stderr}");
}

/// 2026-07-28 is stateless: no initialize, no session id, `server/discover`,
/// and per-request metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_2026_07_28_requests_need_no_session() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    let http = reqwest::Client::new();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let post = |method: &'static str, params: Value| {
        http.post(server.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method)
            .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
            .send()
    };
    let discover = post("server/discover", json!({"_meta": meta}))
        .await
        .unwrap();
    assert_eq!(discover.status(), 200);
    assert!(
        discover.headers().get("mcp-session-id").is_none(),
        "no session on 2026-07-28"
    );
    let body: Value = discover.json().await.unwrap();
    let versions = body["result"]["supportedVersions"]
        .as_array()
        .expect("supportedVersions");
    for v in ["2025-06-18", "2025-11-25", "2026-07-28"] {
        assert!(versions.contains(&json!(v)), "{v} in {versions:?}");
    }
    assert!(body["result"]["capabilities"]["tools"].is_object());
    assert!(
        body["result"]["capabilities"].get("prompts").is_none(),
        "prompts are not declared"
    );

    let list: Value = post("tools/list", json!({"_meta": meta}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["result"]["tools"].as_array().map(Vec::len),
        Some(listed_in("read_projects")),
        "{list}"
    );
    assert!(
        list["result"]["ttlMs"].is_u64() && list["result"]["cacheScope"].is_string(),
        "{list}"
    );

    let mut call_params = json!({"name": "jira.getProject", "arguments": {"project": "ABC"}});
    call_params["_meta"] = meta.clone();
    let reply = http
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "jira.getProject")
        .json(&json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": call_params}))
        .send()
        .await
        .unwrap();
    let reply: Value = reply.json().await.unwrap();
    assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
    assert_eq!(
        reply["result"]["structuredContent"]["key"], "ABC",
        "{reply}"
    );

    // Undeclared methods are not answered.
    let prompts: Value = post("prompts/list", json!({"_meta": meta}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prompts["error"]["code"], -32601, "{prompts}");
}

/// An rmcp client in discover mode (2026-07-28) works like one that initializes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_discover_client_lists_and_calls() {
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_agile"));
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(server.mcp_url());
    let client = rmcp::model::ClientConfig::new(
        rmcp::model::ClientCapabilities::default(),
        rmcp::model::Implementation::new("gojira-e2e", "0.1.0"),
    )
    .serve_with_lifecycle(
        transport,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("discover");
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "agile.getBoard"));
    let result = call(&client, "agile.getBoard", json!({"boardId": 12}))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    let seen = fake.requests();
    assert_eq!(
        seen.last().map(|r| r.path.as_str()),
        Some("/rest/agile/1.0/board/12")
    );
}

/// stdio: only protocol on stdout, logs on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_transport_speaks_only_protocol_on_stdout() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let fake = start_fake().await;
    let mut env = fake_env(&fake, "read_projects");
    env.insert("LOG_LEVEL".into(), "debug".into());
    let mut child = tokio::process::Command::new(BIN)
        .arg("stdio")
        .env_clear()
        .envs(&env)
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "stdio-test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "jira.getProject", "arguments": {"project": "STD"}}}),
    ];
    for m in &messages {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    stdin.flush().await.unwrap();
    let mut replies = Vec::new();
    while replies.len() < 3 {
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("stdio answer in time")
            .unwrap()
            .expect("stdout open");
        let parsed: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("non-protocol line on stdout {line:?}: {e}"));
        assert_eq!(parsed["jsonrpc"], "2.0", "{line}");
        replies.push(parsed);
    }
    assert_eq!(replies[0]["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(
        replies[1]["result"]["tools"].as_array().map(Vec::len),
        Some(listed_in("read_projects"))
    );
    assert_eq!(
        replies[2]["result"]["structuredContent"]["key"], "STD",
        "{}",
        replies[2]
    );
    drop(stdin);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await;
}

/// A fresh clone has no spec files: the sandbox still serves every tool from
/// the committed catalog, with a lenient fake, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_runs_from_the_committed_catalog_without_specs() {
    let empty = std::env::temp_dir().join(format!("gojira-no-specs-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let mut env = std::collections::BTreeMap::new();
    env.insert("MCP_PORT".to_owned(), "0".to_owned());
    env.insert("GOJIRA_SPECS_DIR".to_owned(), empty.display().to_string());
    env.insert("GOJIRA_DATA_DIR".to_owned(), data_dir());
    env.insert("GOJIRA_AUTH_MODE".to_owned(), "local".to_owned());
    let server = start_server_with(&["serve", "--sandbox"], &env);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let tools = client.list_all_tools().await.unwrap();
    // Hidden tools are catalog-only (revert calls them): never listed.
    let catalog_size = gojira_generated::TOOLSETS
        .iter()
        .flat_map(|s| s.iter())
        .filter(|t| !t.hidden)
        .count();
    assert_eq!(
        tools.len(),
        catalog_size + gojira_runtime::builtin::ALL.len(),
        "the sandbox enables every group, utility included"
    );
    let result = call(&client, "jira.getProject", json!({"project": "SBX"}))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    assert!(
        server.stderr().contains("no Atlassian spec files found"),
        "{}",
        server.stderr()
    );
    client.cancel().await.ok();
    let _ = std::fs::remove_dir(&empty);
}

#[test]
fn generate_key_and_key_validation() {
    let (ok, _) = run_to_exit(&["generate-key"], &std::collections::BTreeMap::new());
    assert!(ok);
    let out = std::process::Command::new(BIN)
        .arg("generate-key")
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout).unwrap();
    let key = key.trim();
    assert_eq!(key.len(), 44, "base64 of 32 bytes: {key}");
    let out2 = std::process::Command::new(BIN)
        .arg("generate-key")
        .output()
        .unwrap();
    assert_ne!(
        String::from_utf8(out2.stdout).unwrap().trim(),
        key,
        "fresh randomness each time"
    );

    let mut env = std::collections::BTreeMap::new();
    env.insert("MCP_PORT".to_owned(), "0".to_owned());
    env.insert(
        "GOJIRA_ENABLED_GROUPS".to_owned(),
        "read_projects".to_owned(),
    );
    env.insert("GOJIRA_DATA_DIR".to_owned(), data_dir());
    env.insert(
        "TOKEN_ENCRYPTION_KEY".to_owned(),
        "c2hvcnQta2V5LXZhbHVl".to_owned(),
    );
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok, "a malformed key refuses start-up");
    assert!(stderr.contains("TOKEN_ENCRYPTION_KEY"), "{stderr}");
    assert!(
        !stderr.contains("c2hvcnQta2V5LXZhbHVl"),
        "the bad value is never echoed: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_in_use_is_refused_with_a_clear_error() {
    let fake = start_fake().await;
    let env = fake_env(&fake, "read_projects");
    let _first = start_server(&env);
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok);
    assert!(
        stderr.contains("GOJIRA_DATA_DIR") && stderr.contains("another gojira-mcp"),
        "{stderr}"
    );
}

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[allow(clippy::zombie_processes)] // the caller kills and waits
fn start_redis(port: u16) -> std::process::Child {
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is on PATH (.ci/run installs it)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("redis-server did not start on {port}");
}

/// Polls /health for up to 10 s until the status is `want`.
async fn wait_for_status(server: &Server, want: &str) -> bool {
    for _ in 0..100 {
        if store_health(server).await["status"] == want {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

async fn store_health(server: &Server) -> Value {
    reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Redis down at start, up later, down again, back again: /health follows
/// within bounded time and tools that need no state keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outages_degrade_health_and_recover_by_themselves() {
    let fake = start_fake().await;
    let port = free_port();
    let mut env = fake_env(&fake, "read_projects");
    env.insert(
        "GOJIRA_REDIS_URL".into(),
        format!("redis://127.0.0.1:{port}/0"),
    );
    let server = start_server(&env);
    let started = std::time::Instant::now();
    let health = store_health(&server).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "health answers in bounded time"
    );
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["store"]["backend"], "redis");
    assert!(health["store"]["detail"].is_string(), "{health}");
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let result = call(&client, "jira.getProject", json!({"project": "RDS"}))
        .await
        .unwrap();
    assert_ne!(
        result.is_error,
        Some(true),
        "tools without state work while Redis is down"
    );

    let mut redis = start_redis(port);
    assert!(
        wait_for_status(&server, "ok").await,
        "the server reconnects by itself"
    );

    redis.kill().unwrap();
    redis.wait().unwrap();
    assert!(
        wait_for_status(&server, "degraded").await,
        "a mid-run outage shows in /health"
    );

    let mut redis = start_redis(port);
    let back = wait_for_status(&server, "ok").await;
    redis.kill().ok();
    redis.wait().ok();
    assert!(back, "and recovers again when Redis returns");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_names_the_principal_and_the_groups_without_calling_atlassian() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "utility,read_projects"));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let tools = client.list_all_tools().await.unwrap();
    let whoami = tools
        .iter()
        .find(|t| t.name == "gojira.whoami")
        .expect("listed with utility");
    let ann = whoami.annotations.as_ref().unwrap();
    assert_eq!(
        (
            ann.read_only_hint,
            ann.destructive_hint,
            ann.open_world_hint
        ),
        (Some(true), Some(false), Some(false))
    );
    let result = call(&client, "gojira.whoami", json!({})).await.unwrap();
    let answer = result.structured_content.clone().unwrap();
    assert_eq!(answer["principal"], "api-token:e2e@example.com", "{answer}");
    assert_eq!(answer["enabledGroups"], json!(["read_projects", "utility"]));
    let bad = call(&client, "gojira.whoami", json!({"as": "someone-else"}))
        .await
        .unwrap();
    assert_eq!(
        bad.is_error,
        Some(true),
        "identity never comes from arguments"
    );
    assert!(fake.requests().is_empty());

    let without = start_server(&fake_env(&fake, "read_projects"));
    let client = connect(&without, ProtocolVersion::V_2025_11_25).await;
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("gojira.")), "{names:?}");
    let refused = call(&client, "gojira.whoami", json!({})).await;
    assert!(
        refused.is_err() || refused.unwrap().is_error == Some(true),
        "not served without utility"
    );
}

/// Tests that share a Redis between instances (pacing, cache) check it
/// first: with nothing listening at `GOJIRA_TEST_REDIS_URL`'s address they
/// fail within a second or two saying to start redis-server, instead of with
/// a timing assertion a minute later.
#[test]
fn redis_backed_tests_say_so_at_once_when_no_redis_answers() {
    let url = format!("redis://:secret-pw@127.0.0.1:{}/0", free_port());
    let started = std::time::Instant::now();
    let err = common::redis::check(&url).unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains("start redis-server (see README)"), "{err}");
    assert!(
        err.contains("nothing answered at redis://127.0.0.1:"),
        "{err}"
    );
    assert!(!err.contains("secret-pw"), "{err}");
    // And the shared test Redis, when it is up, passes the same check.
    if common::redis::check(&common::redis::redis_url()).is_ok() {
        assert_eq!(common::redis::require_redis(), common::redis::redis_url());
    }
}

/// Runs the binary until it exits or reports ready (then it is killed):
/// `Some(success)` when it exited, `None` when it became ready; and stderr.
fn run_until_exit_or_ready(
    args: &[&str],
    env: &std::collections::BTreeMap<String, String>,
) -> (Option<bool>, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(line) => {
                let ready = line.starts_with("gojira-mcp ready:");
                lines.push(line);
                if ready {
                    let _ = child.kill();
                    let _ = child.wait();
                    return (None, lines.join("\n"));
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().unwrap();
                return (Some(status.success()), lines.join("\n"));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "neither exited nor became ready in 30 s:\n{}",
                lines.join("\n")
            );
        }
    }
}

/// Groups tools.yaml declares but no tool is in yet (`write_workflows` today).
fn empty_groups() -> Vec<&'static str> {
    let with_tools: BTreeSet<&str> = gojira_generated::TOOLSETS
        .iter()
        .flat_map(|set| set.iter())
        .map(|tool| tool.group)
        .chain(std::iter::once(gojira_runtime::builtin::GROUP))
        .collect();
    gojira_generated::GROUPS
        .iter()
        .map(|g| g.name)
        .filter(|g| !with_tools.contains(g))
        .collect()
}

/// An allowlist that names a group with no tools would silently enable
/// nothing for it: start-up refuses, naming the empty groups and listing the
/// groups that have tools. Once every declared group holds tools (the
/// catalog's groups all filled), the refusal is pinned by the runtime's
/// `enabled_groups_without_tools_are_refused_naming_them`, and here every
/// declared group enabled at once must start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_refuses_enabled_groups_that_hold_no_tools() {
    let fake = start_fake().await;
    let Some(empty) = empty_groups().first().copied() else {
        let every: Vec<&str> = gojira_generated::GROUPS.iter().map(|g| g.name).collect();
        let env = fake_env(&fake, &every.join(","));
        let (exited, stderr) = run_until_exit_or_ready(&["serve"], &env);
        assert_eq!(exited, None, "every declared group holds tools:\n{stderr}");
        return;
    };
    let env = fake_env(&fake, &format!("read_projects,{empty}"));
    let (exited, stderr) = run_until_exit_or_ready(&["serve"], &env);
    assert_eq!(exited, Some(false), "not refused:\n{stderr}");
    assert!(
        stderr.contains(&format!("GOJIRA_ENABLED_GROUPS: {empty} has no tools")),
        "{stderr}"
    );
    assert!(
        stderr.contains("groups with tools: admin_org, delete_projects,")
            && stderr.contains("read_projects")
            && stderr.contains("utility"),
        "{stderr}"
    );
    assert!(!stderr.contains("ready"), "{stderr}");
}

/// Local mode acts with the configured credential; without one every call
/// would fail, so start-up refuses rather than reporting ready (serve and
/// stdio alike). `--sandbox` brings its own credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_without_a_credential_is_refused_at_start_up() {
    let fake = start_fake().await;
    let mut env = fake_env(&fake, "read_projects");
    env.remove("ATLASSIAN_EMAIL");
    env.remove("ATLASSIAN_API_TOKEN");
    for args in [&["serve"][..], &["stdio"][..]] {
        let (exited, stderr) = run_until_exit_or_ready(args, &env);
        assert_eq!(exited, Some(false), "{args:?} not refused:\n{stderr}");
        assert!(
            stderr.contains("local mode needs an Atlassian credential")
                && stderr.contains("ATLASSIAN_API_TOKEN")
                && stderr.contains("ATLASSIAN_ACCESS_TOKEN"),
            "{args:?}: {stderr}"
        );
    }

    // The sandbox in local mode: no credential given, every group with tools enabled.
    let mut sandbox = std::collections::BTreeMap::new();
    sandbox.insert("MCP_PORT".to_owned(), "0".to_owned());
    sandbox.insert("GOJIRA_DATA_DIR".to_owned(), data_dir());
    sandbox.insert("GOJIRA_AUTH_MODE".to_owned(), "local".to_owned());
    let server = start_server_with(&["serve", "--sandbox"], &sandbox);
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let tools = client.list_all_tools().await.unwrap();
    // Hidden tools are catalog-only (revert calls them): never listed.
    let catalog_size = gojira_generated::TOOLSETS
        .iter()
        .flat_map(|s| s.iter())
        .filter(|t| !t.hidden)
        .count();
    assert_eq!(
        tools.len(),
        catalog_size + gojira_runtime::builtin::ALL.len()
    );
    client.cancel().await.ok();
}

/// The context budget (issue: tools/list ≤ 600 bytes a tool on average, input
/// schema + description + annotations, as `cargo xtask bench` counts it), over
/// the whole catalog as a client sees it with every group enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_keeps_its_context_budget() {
    const BUDGET: f64 = 600.0;
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, &all_groups()));
    let client = connect(&server, ProtocolVersion::V_2025_11_25).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut sizes: Vec<(usize, String)> = tools
        .iter()
        .map(|t| {
            let t = serde_json::to_value(t).unwrap();
            let counted = json!({
                "inputSchema": t["inputSchema"],
                "description": t["description"],
                "annotations": t["annotations"],
            });
            (
                counted.to_string().len(),
                t["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    sizes.sort();
    let mean = sizes.iter().map(|(n, _)| *n as f64).sum::<f64>() / sizes.len() as f64;
    let largest: Vec<String> = sizes
        .iter()
        .rev()
        .take(5)
        .map(|(n, name)| format!("{name} {n}"))
        .collect();
    eprintln!(
        "context budget: {} tools, mean {mean:.0} bytes a tool (budget {BUDGET}); largest: {}",
        sizes.len(),
        largest.join(", ")
    );
    assert!(
        mean <= BUDGET,
        "tools/list averages {mean:.0} bytes a tool over {} tools, over the {BUDGET}-byte budget; \
         largest: {}. Shorten descriptions, hide rarely needed optional parameters or override long \
         parameter descriptions in tools.yaml",
        sizes.len(),
        largest.join(", ")
    );
    client.cancel().await.ok();
}
