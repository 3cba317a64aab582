//! Scopes: a token does exactly what its scopes allow, at `tools/list` and
//! at dispatch, and a refresh never widens it.

use fake_atlassian::{DEFAULT_ACCOUNT_ID, FakeUser};
use serde_json::{Value, json};

use crate::common::oauth::*;
use crate::common::*;

const BOB: &str = "5b10ac8d82e05b22cc7d4bob";
const GROUPS: &str = "utility,read_projects,write_projects,delete_projects";

fn tool_names(list: &Value) -> Vec<String> {
    list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("a tool list: {list}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(server: &Server, token: &str) -> Vec<String> {
    let r = raw_mcp(server, token, "tools/list", json!({})).await;
    assert_eq!(r.status(), 200);
    tool_names(&r.json().await.unwrap())
}

/// Alice signs in with `gojira:read` only, Bob with every scope. Alice
/// sees and calls reads only: a write or delete is refused with the
/// step-up answer (403, `insufficient_scope`, the scope to ask for) and
/// never reaches Atlassian; Bob, on the same server, is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_lists_and_calls_only_what_its_scopes_allow() {
    let fake = strict_fake().await;
    fake.fake()
        .add_user(FakeUser::new(BOB, "bob@example.com", "Bob"));
    let server = start_server(&oauth_env(&fake, GROUPS));

    // The consent page shows exactly the scopes asked for.
    let alice = sign_in_as_with_scope(&server, &fake, DEFAULT_ACCOUNT_ID, "gojira:read").await;
    assert!(alice.consent_html.contains("gojira:read"));
    assert!(
        !alice.consent_html.contains("gojira:write"),
        "the consent page shows only what was asked: {}",
        alice.consent_html
    );
    assert_eq!(alice.token_response["scope"], "gojira:read");
    let bob = sign_in_as(&server, &fake, BOB).await;

    let alice_tools = list(&server, &alice.tokens.access).await;
    let bob_tools = list(&server, &bob.access).await;
    for write in ["jira.createProject", "jira.deleteProject", "gojira.revert"] {
        assert!(
            !alice_tools.iter().any(|t| t == write),
            "a read-only token does not list {write}: {alice_tools:?}"
        );
        assert!(bob_tools.iter().any(|t| t == write), "{bob_tools:?}");
    }
    assert!(alice_tools.iter().any(|t| t == "jira.getProject"));
    assert!(alice_tools.iter().any(|t| t == "gojira.journal.list"));

    // A write and a delete by Alice: 403 with the step-up challenge.
    for (tool, args, needed) in [
        (
            "jira.createProject",
            json!({"body": {"key": "EVIL", "name": "Evil", "projectTypeKey": "software", "leadAccountId": DEFAULT_ACCOUNT_ID}}),
            "gojira:write",
        ),
        (
            "jira.deleteProject",
            json!({"project": "ABC", "commit": true, "planDigest": "x"}),
            "gojira:delete",
        ),
    ] {
        let before = fake.requests().len();
        let r = raw_mcp(
            &server,
            &alice.tokens.access,
            "tools/call",
            json!({"name": tool, "arguments": args}),
        )
        .await;
        let status = r.status();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = r.text().await.unwrap();
        assert_eq!(status, 403, "{tool} by a read-only token: {body}");
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!("scope=\"gojira:read {needed}\"")),
            "the challenge names what was granted plus what is needed: {challenge}"
        );
        assert!(challenge.contains("resource_metadata="), "{challenge}");
        assert_eq!(
            fake.requests().len(),
            before,
            "nothing reached Atlassian for {tool}"
        );
    }
    // Bob's write goes through.
    let bob_client = connect_as(&server, &bob.access).await;
    let (_, created) = preview_and_commit(
        &bob_client,
        "jira.createProject",
        json!({"body": {"key": "BOBS", "name": "Bob's", "projectTypeKey": "software", "leadAccountId": BOB}}),
    )
    .await;
    assert_ne!(created.is_error, Some(true), "{}", text(&created));
    bob_client.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&alice.tokens, &bob], &[]);
}

/// Where the call itself is allowed but a step inside it is not, the answer
/// is a tool error naming the scope: Carol (read and write, no delete)
/// creates a project, and its revert (a delete) is refused before anything
/// is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_needs_the_scope_of_its_inverse() {
    let fake = strict_fake().await;
    let server = start_server(&oauth_env(&fake, GROUPS));
    let carol = sign_in_as_with_scope(
        &server,
        &fake,
        DEFAULT_ACCOUNT_ID,
        "gojira:read gojira:write",
    )
    .await;
    let client = connect_as(&server, &carol.tokens.access).await;
    let (_, created) = preview_and_commit(
        &client,
        "jira.createProject",
        json!({"body": {"key": "CAR", "name": "Carol", "projectTypeKey": "software", "leadAccountId": DEFAULT_ACCOUNT_ID}}),
    )
    .await;
    assert_ne!(created.is_error, Some(true), "{}", text(&created));
    let id = created.structured_content.unwrap()["journalId"].clone();
    let revert = call(&client, "gojira.revert", json!({"journalIds": [id]}))
        .await
        .unwrap();
    assert_eq!(revert.is_error, Some(true), "{}", text(&revert));
    assert_eq!(
        error_code(&revert).as_deref(),
        Some("INSUFFICIENT_SCOPE"),
        "{}",
        text(&revert)
    );
    assert!(text(&revert).contains("gojira:delete"), "{}", text(&revert));
    assert!(
        requests_to(&fake, "/project/CAR")
            .iter()
            .all(|r| r.method != "DELETE"),
        "no delete was sent"
    );
    client.cancel().await.ok();
}

/// A refresh keeps the grant's scopes or narrows them; asking for more is
/// refused, and the refreshed token still cannot write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_never_widens_the_grant() {
    let fake = strict_fake().await;
    let server = start_server(&oauth_env(&fake, GROUPS));
    let alice = sign_in_as_with_scope(&server, &fake, DEFAULT_ACCOUNT_ID, "gojira:read").await;
    let (status, wider) = token_endpoint(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &alice.client_id),
            ("refresh_token", &alice.tokens.refresh),
            ("scope", "gojira:read gojira:write"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{wider}");
    assert_eq!(wider["error"], "invalid_scope");
    let (status, same) = token_endpoint(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &alice.client_id),
            ("refresh_token", &alice.tokens.refresh),
        ],
    )
    .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["scope"], "gojira:read");
    let tools = list(&server, same["access_token"].as_str().unwrap()).await;
    assert!(
        !tools.iter().any(|t| t == "jira.createProject"),
        "{tools:?}"
    );
}

/// `offline_access` is never advertised as a gojira scope: neither in the
/// 401 challenge nor in the protected-resource metadata, which name
/// gojira's own scopes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_challenge_and_metadata_name_gojira_scopes_without_offline_access() {
    let fake = strict_fake().await;
    let server = start_server(&oauth_env(&fake, GROUPS));
    let r = reqwest::Client::new()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(!challenge.contains("offline_access"), "{challenge}");
    // The groups enabled here need read, write and delete; not org-admin.
    assert!(
        challenge.contains("scope=\"gojira:read gojira:write gojira:delete\""),
        "{challenge}"
    );
    let prm: Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        prm["scopes_supported"],
        json!(["gojira:read", "gojira:write", "gojira:delete"]),
        "{prm}"
    );
}
