//! Inbound limits on MCP requests (per principal and per client id), and
//! cancellation: a 2026-07-28 client that closes its stream aborts the
//! upstream work behind it.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use fake_atlassian::Fault;
use serde_json::{Value, json};

fn stateless_call(
    http: &reqwest::Client,
    server: &Server,
    tool: &str,
    args: Value,
) -> reqwest::RequestBuilder {
    let params = json!({
        "name": tool,
        "arguments": args,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}
        }
    });
    http.post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_get_429_with_retry_after_and_health_stays_open() {
    let fake = start_fake().await;
    let mut env = fake_env(&fake, "read_projects");
    // One request a second, a burst of two.
    env.insert("GOJIRA_INBOUND_RATE".into(), "1".into());
    let server = start_server(&env);
    let http = reqwest::Client::new();
    let args = json!({"project": "ABC"});
    for i in 0..2 {
        let ok = stateless_call(&http, &server, "jira.getProject", args.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "request {i} is within the burst");
    }
    let refused = stateless_call(&http, &server, "jira.getProject", args.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["data"]["limit"], "principal", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("wait"),
        "{body}"
    );
    assert_eq!(
        fake.requests().len(),
        2,
        "a refused MCP request sends nothing upstream"
    );
    for _ in 0..5 {
        let health = http
            .get(format!("{}/health", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "health is not limited");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = stateless_call(&http, &server, "jira.getProject", args)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "the bucket refills");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_2026_stream_aborts_the_upstream_work() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects"));
    // The first answer is a 429 asking for a 2 s pause: the server would retry after it.
    fake.inject(
        Fault::status(429)
            .on_path("/rest/api/3/project/ABC")
            .with_header("Retry-After", "2")
            .times(1),
    );
    let http = reqwest::Client::new();
    let gone = stateless_call(&http, &server, "jira.getProject", json!({"project": "ABC"}))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up before the answer");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let sent = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/rest/api/3/project/ABC")
        .count();
    assert_eq!(
        sent, 1,
        "the retry after the pause was never sent: the client had left"
    );
}
