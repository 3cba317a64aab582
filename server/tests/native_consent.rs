//! Consent asked natively: elicitation on 2025-11-25 sessions, and the
//! `input_required` round trip on 2026-07-28 (driven by rmcp's own client,
//! and by hand to tamper with the sealed state).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationCapability, Implementation, ProtocolVersion,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, RequestContext, RoleClient, RunningService,
};
use rmcp::{ClientHandler, ErrorData, ServiceExt};
use serde_json::{Value, json};

/// A client whose user answers every confirmation with `accept`.
#[derive(Clone)]
struct User {
    accept: bool,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        caps.elicitation = Some(ElicitationCapability::new());
        ClientConfig::new(caps, Implementation::new("gojira-e2e-user", "0.1.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.asked.lock().unwrap().push(message);
        }
        Ok(if self.accept {
            ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true}))
        } else {
            ElicitResult::new(ElicitationAction::Decline)
        })
    }
}

fn user(accept: bool) -> User {
    User {
        accept,
        asked: Default::default(),
    }
}

async fn session(server: &Server, who: User) -> RunningService<RoleClient, User> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(server.mcp_url());
    who.serve(transport).await.expect("session")
}

async fn stateless(server: &Server, who: User) -> RunningService<RoleClient, User> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(server.mcp_url());
    who.serve_with_lifecycle(
        transport,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("discover")
}

fn writes(fake: &fake_atlassian::FakeHandle) -> usize {
    fake.requests().iter().filter(|r| r.method != "GET").count()
}

async fn archive(client: &RunningService<RoleClient, User>) -> Value {
    let mut params = rmcp::model::CallToolRequestParams::new("jira.archiveProject");
    params.arguments = json!({"project": "ABC"}).as_object().cloned();
    let result = client.call_tool(params).await.expect("call");
    assert_ne!(result.is_error, Some(true), "{:?}", result.content);
    result.structured_content.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2025_session_is_asked_by_elicitation() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects,write_projects"));

    let declining = user(false);
    let client = session(&server, declining.clone()).await;
    let answer = archive(&client).await;
    assert_eq!(answer["performed"], false, "{answer}");
    assert_eq!(writes(&fake), 0, "a declined write is never sent");
    let asked = declining.asked.lock().unwrap().clone();
    assert!(
        asked[0].contains("/rest/api/3/project/ABC/archive") && asked[0].contains("reverted"),
        "{asked:?}"
    );

    let accepting = user(true);
    let client = session(&server, accepting.clone()).await;
    let answer = archive(&client).await;
    assert!(
        answer["journalId"].is_u64(),
        "performed and journaled: {answer}"
    );
    assert_eq!(writes(&fake), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_client_gets_input_required_and_retries_with_the_answer() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects,write_projects"));
    let accepting = user(true);
    let client = stateless(&server, accepting.clone()).await;
    // rmcp's client fulfils the input request through its handler and retries.
    let answer = archive(&client).await;
    assert!(answer["journalId"].is_u64(), "{answer}");
    assert_eq!(accepting.asked.lock().unwrap().len(), 1);
    assert_eq!(writes(&fake), 1);

    let declining = user(false);
    let client = stateless(&server, declining).await;
    let answer = archive(&client).await;
    assert_eq!(answer["performed"], false);
    assert_eq!(writes(&fake), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_replayed_or_rebound_request_state_is_refused() {
    let fake = start_fake().await;
    let server = start_server(&fake_env(&fake, "read_projects,write_projects"));
    let http = reqwest::Client::new();
    let send = |args: Value, extra: Value| {
        let mut params = json!({
            "name": "jira.archiveProject",
            "arguments": args,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}
            }
        });
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        http.post(server.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "jira.archiveProject")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}))
            .send()
    };
    let first: Value = send(json!({"project": "ABC"}), json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let form = &result["inputRequests"]["confirm"];
    assert_eq!(form["method"], "elicitation/create", "{first}");
    let state = result["requestState"].as_str().unwrap().to_owned();
    assert_eq!(writes(&fake), 0);
    let yes = json!({"confirm": {"action": "accept", "content": {"confirm": true}}});

    let refused = |reply: &Value| {
        reply["result"]["isError"] == true
            && reply["result"]["structuredContent"]["error"]["code"] == "CONSENT_REQUIRED"
    };
    // Tampered.
    let mut forged = state.clone().into_bytes();
    let last = forged.len() - 3;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let reply: Value = send(
        json!({"project": "ABC"}),
        json!({"inputResponses": yes, "requestState": String::from_utf8(forged).unwrap()}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(refused(&reply), "{reply}");
    // Bound to other arguments.
    let reply: Value = send(
        json!({"project": "XYZ"}),
        json!({"inputResponses": yes, "requestState": state}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(refused(&reply), "{reply}");
    assert_eq!(writes(&fake), 0);
    // The real answer performs it, once.
    let reply: Value = send(
        json!({"project": "ABC"}),
        json!({"inputResponses": yes, "requestState": state}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        reply["result"]["structuredContent"]["journalId"].is_u64(),
        "{reply}"
    );
    assert_eq!(writes(&fake), 1);
    let reply: Value = send(
        json!({"project": "ABC"}),
        json!({"inputResponses": yes, "requestState": state}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(refused(&reply), "a replayed state is refused: {reply}");
    assert_eq!(writes(&fake), 1);
}
