//! OAuth mode end to end: the real binary over HTTP against a strict fake
//! Atlassian (unknown credentials refused), a real rmcp client carrying our
//! bearer, raw 2026-07-28 stateless calls, and the browser leg driven with
//! reqwest (register → /authorize → consent page → the fake's /authorize →
//! /oauth/callback → the client's redirect → /token).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::oauth::*;
use common::*;
use fake_atlassian::{
    CredentialKind, DEFAULT_ACCOUNT_ID, DEFAULT_CLOUD_ID, DEFAULT_EMAIL, FakeSite, FakeUser,
};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_reach_atlassian_as_the_signed_in_user() {
    let fake = strict_fake().await;
    let server = start_server(&oauth_env(&fake, "utility,read_projects"));
    let tokens = sign_in(&server).await;

    // A 2025-11-25 session.
    let client = connect_as(&server, &tokens.access).await;
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert_eq!(error_code(&result), None, "{}", text(&result));
    let sent = requests_to(&fake, "/rest/api/3/project/ABC");
    assert_eq!(sent.len(), 1, "{sent:?}");
    let r = &sent[0];
    assert_eq!(r.principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    assert_eq!(r.credential_kind, Some(CredentialKind::OAuth));
    assert_eq!(r.cloud_id.as_deref(), Some(DEFAULT_CLOUD_ID));
    assert!(
        r.path
            .starts_with(&format!("/ex/jira/{DEFAULT_CLOUD_ID}/rest/")),
        "{}",
        r.path
    );
    let me = call(&client, "gojira.whoami", json!({})).await.unwrap();
    let me = me.structured_content.unwrap();
    assert_eq!(me["principal"], format!("oauth:{DEFAULT_ACCOUNT_ID}"));
    assert_eq!(me["authMode"], "oauth");
    assert_eq!(me["sites"], json!([DEFAULT_CLOUD_ID]));
    // Identity never comes from arguments.
    let spoof = call(
        &client,
        "gojira.whoami",
        json!({"principal": "oauth:someone"}),
    )
    .await
    .unwrap();
    assert_eq!(spoof.is_error, Some(true));

    // A stateless 2026-07-28 call.
    let result = stateless_call(
        &server,
        &tokens.access,
        "jira.getProject",
        json!({"project": "XYZ"}),
    )
    .await;
    assert_eq!(result["isError"], json!(false), "{result}");
    let sent = requests_to(&fake, "/rest/api/3/project/XYZ");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    assert_eq!(sent[0].credential_kind, Some(CredentialKind::OAuth));
    assert_eq!(sent[0].cloud_id.as_deref(), Some(DEFAULT_CLOUD_ID));
    let me = stateless_call(&server, &tokens.access, "gojira.whoami", json!({})).await;
    assert_eq!(
        me["structuredContent"]["principal"],
        format!("oauth:{DEFAULT_ACCOUNT_ID}")
    );

    client.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&tokens], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_needs_a_bearer_in_the_header() {
    let fake = strict_fake().await;
    let server = start_server(&oauth_env(&fake, "read_projects"));
    let tokens = sign_in(&server).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let post = |url: String| {
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .json(&body)
            .send()
    };
    let none = post(server.mcp_url()).await.unwrap();
    assert_eq!(none.status(), 401);
    let challenge = none
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            server.base
        )),
        "{challenge}"
    );
    // The metadata it names answers, and names this server's /mcp.
    let prm: Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(prm["resource"], server.mcp_url());
    // Browser clients (the MCP Inspector) may read the JSON endpoints cross-origin.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/token", server.base))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "*",
        "{:?}",
        preflight.headers()
    );
    let prm = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.base
    ))
    .await
    .unwrap();
    assert_eq!(prm.headers()["access-control-allow-origin"], "*");
    // A token in the query string is ignored.
    for name in ["access_token", "token", "bearer"] {
        let r = post(format!("{}?{name}={}", server.mcp_url(), tokens.access))
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "?{name}= must not authenticate");
    }
    // Health stays outside the auth boundary.
    let health = reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_no_secret_logged(&server, &fake, &[&tokens], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_get_their_own_principal_and_cache() {
    let fake = strict_fake().await;
    fake.fake().add_user(FakeUser::new(BOB, BOB_EMAIL, "Bob"));
    let server = start_server(&oauth_env(&fake, "utility,read_projects"));
    let alice = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let bob = sign_in_as(&server, &fake, BOB).await;
    let alice_client = connect_as(&server, &alice.access).await;
    let bob_client = connect_as(&server, &bob.access).await;
    let search = "/rest/api/3/project/search";

    let a = call(&alice_client, "jira.searchProjects", json!({}))
        .await
        .unwrap();
    assert_eq!(error_code(&a), None, "{}", text(&a));
    let a2 = call(&alice_client, "jira.searchProjects", json!({}))
        .await
        .unwrap();
    assert_eq!(a.structured_content, a2.structured_content);
    assert_eq!(
        requests_to(&fake, search).len(),
        1,
        "alice's second read is a hit"
    );
    // Bob's identical read is not served from alice's cache.
    let b = call(&bob_client, "jira.searchProjects", json!({}))
        .await
        .unwrap();
    assert_eq!(error_code(&b), None, "{}", text(&b));
    let sent = requests_to(&fake, search);
    assert_eq!(sent.len(), 2, "bob's read went upstream");
    assert_eq!(sent[0].principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    assert_eq!(sent[1].principal.as_deref(), Some(BOB));
    assert!(
        sent.iter()
            .all(|r| r.credential_kind == Some(CredentialKind::OAuth))
    );

    assert_eq!(
        principal_of(&alice_client).await,
        format!("oauth:{DEFAULT_ACCOUNT_ID}")
    );
    assert_eq!(principal_of(&bob_client).await, format!("oauth:{BOB}"));
    alice_client.cancel().await.ok();
    bob_client.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&alice, &bob], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_calls_with_an_expired_atlassian_token_refresh_once() {
    let fake = strict_fake().await;
    let server = start_server(&oauth_env(&fake, "read_projects"));
    // A token that is within gojira's 60 s refresh margin two seconds after sign-in.
    fake.fake()
        .set_access_token_lifetime(Duration::from_secs(62));
    let tokens = sign_in(&server).await;
    fake.fake()
        .set_access_token_lifetime(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(fake.fake().refresh_grant_count(), 0);

    let client = connect_as(&server, &tokens.access).await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..20 {
        let peer = client.peer().clone();
        calls.spawn(async move {
            let mut params = rmcp::model::CallToolRequestParams::new("jira.getProject");
            params.arguments = json!({"project": format!("P{i}")}).as_object().cloned();
            peer.call_tool(params).await.unwrap()
        });
    }
    for result in calls.join_all().await {
        assert_eq!(error_code(&result), None, "{}", text(&result));
    }
    assert_eq!(
        fake.fake().refresh_grant_count(),
        1,
        "exactly one refresh grant"
    );
    let issued = fake.fake().issued_access_tokens();
    assert_eq!(issued.len(), 2, "sign-in and one refresh");
    // Every call went with the new token's user, over OAuth.
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/rest/api/3/project/P"))
        .collect();
    assert_eq!(sent.len(), 20);
    assert!(
        sent.iter()
            .all(|r| r.status == 200 && r.credential_kind == Some(CredentialKind::OAuth))
    );
    client.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&tokens], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_refresh_token_asks_the_user_to_sign_in_again() {
    let fake = strict_fake().await;
    let server = start_server(&oauth_env(&fake, "read_projects"));
    // gojira refreshes this token on its first use (within its 60 s margin)...
    fake.fake()
        .set_access_token_lifetime(Duration::from_secs(61));
    let tokens = sign_in(&server).await;
    // ...and Atlassian refuses the refresh: 91 days later the refresh token
    // is past its idle expiry, and the fake answers 403 invalid_grant.
    fake.fake()
        .advance_clock(Duration::from_secs(91 * 24 * 3600));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let client = connect_as(&server, &tokens.access).await;
    for _ in 0..2 {
        let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
            .await
            .unwrap();
        assert_eq!(
            error_code(&result).as_deref(),
            Some("RECONSENT_NEEDED"),
            "{}",
            text(&result)
        );
        assert!(text(&result).contains("sign in again"), "{}", text(&result));
    }
    assert_eq!(
        fake.fake().refresh_grant_count(),
        1,
        "marked: no second refresh attempt until the user signs in again"
    );
    assert!(requests_to(&fake, "/rest/api/3/project/ABC").is_empty());
    // Signing in again clears it.
    fake.fake()
        .set_access_token_lifetime(Duration::from_secs(3600));
    let again = sign_in(&server).await;
    let client2 = connect_as(&server, &again.access).await;
    let result = call(&client2, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert_eq!(error_code(&result), None, "{}", text(&result));
    client.cancel().await.ok();
    client2.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&tokens, &again], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_products_use_the_callers_bound_token() {
    const TOKEN: &str = "ATATT3xFfGF0-alice-api-token-0123456789";
    const BOB_TOKEN: &str = "ATATT3xFfGF0-bob-api-token-9876543210";
    let fake = strict_fake().await;
    fake.fake().add_user(FakeUser::new(BOB, BOB_EMAIL, "Bob"));
    fake.fake().add_api_token(DEFAULT_ACCOUNT_ID, TOKEN);
    fake.fake().add_api_token(BOB, BOB_TOKEN);
    let server = start_server(&oauth_env(&fake, "utility,read_jsm_admin"));
    let tokens = sign_in(&server).await;
    let client = connect_as(&server, &tokens.access).await;

    // Without a bound token: a tool error naming the way out, nothing sent.
    let unbound = call(&client, "jsm.listServiceDesks", json!({}))
        .await
        .unwrap();
    assert_eq!(error_code(&unbound).as_deref(), Some("API_TOKEN_REQUIRED"));
    assert!(
        text(&unbound).contains("gojira.bindApiToken"),
        "{}",
        text(&unbound)
    );
    assert!(requests_to(&fake, "/servicedesk").is_empty());

    // A wrong token is refused, and so is someone else's.
    let wrong = call(
        &client,
        "gojira.bindApiToken",
        json!({"email": DEFAULT_EMAIL, "token": "not-the-token"}),
    )
    .await
    .unwrap();
    assert_eq!(
        error_code(&wrong).as_deref(),
        Some("INVALID_ARGUMENTS"),
        "{}",
        text(&wrong)
    );
    let foreign = call(
        &client,
        "gojira.bindApiToken",
        json!({"email": BOB_EMAIL, "token": BOB_TOKEN}),
    )
    .await
    .unwrap();
    assert_eq!(error_code(&foreign).as_deref(), Some("INVALID_ARGUMENTS"));
    assert!(
        text(&foreign).contains("another Atlassian account"),
        "{}",
        text(&foreign)
    );
    let still = call(&client, "jsm.listServiceDesks", json!({}))
        .await
        .unwrap();
    assert_eq!(error_code(&still).as_deref(), Some("API_TOKEN_REQUIRED"));

    // The right one binds (and is not echoed back).
    let bound = call(
        &client,
        "gojira.bindApiToken",
        json!({"email": DEFAULT_EMAIL, "token": TOKEN}),
    )
    .await
    .unwrap();
    assert_eq!(error_code(&bound), None, "{}", text(&bound));
    let answer = bound.structured_content.clone().unwrap();
    assert_eq!(answer["accountId"], DEFAULT_ACCOUNT_ID);
    assert_eq!(answer["kind"], "classic");
    assert!(!format!("{bound:?}").contains(TOKEN));
    let myself = requests_to(&fake, "/rest/api/3/myself");
    assert!(
        myself
            .iter()
            .any(|r| r.credential_kind == Some(CredentialKind::ApiToken)
                && r.principal.as_deref() == Some(DEFAULT_ACCOUNT_ID))
    );

    // JSM now goes with Basic and that user's token.
    let desks = call(&client, "jsm.listServiceDesks", json!({}))
        .await
        .unwrap();
    assert_eq!(error_code(&desks), None, "{}", text(&desks));
    let sent = requests_to(&fake, "/rest/servicedeskapi/servicedesk");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].auth_scheme.as_deref(), Some("Basic"));
    assert_eq!(sent[0].credential_kind, Some(CredentialKind::ApiToken));
    assert_eq!(sent[0].principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));

    // Also on a stateless 2026-07-28 call.
    let result = stateless_call(
        &server,
        &tokens.access,
        "jsm.listServiceDesks",
        json!({"limit": 5}),
    )
    .await;
    assert_eq!(result["isError"], json!(false), "{result}");

    client.cancel().await.ok();
    assert_no_secret_logged(
        &server,
        &fake,
        &[&tokens],
        &[TOKEN, BOB_TOKEN, "not-the-token"],
    );
}

fn audit_lines(env: &BTreeMap<String, String>) -> Vec<Value> {
    let path = env["GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET"]
        .strip_prefix("file:")
        .unwrap()
        .to_owned();
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_admin_tools_need_an_org_admin_and_are_audited() {
    let fake = strict_fake().await;
    fake.fake()
        .add_user(FakeUser::new(BOB, BOB_EMAIL, "Bob").org_admin(false));
    let env = oauth_env(&fake, "utility,admin_org,read_projects");
    let server = start_server(&env);
    let admin = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let bob = sign_in_as(&server, &fake, BOB).await;
    let admin_client = connect_as(&server, &admin.access).await;
    let bob_client = connect_as(&server, &bob.access).await;

    let allowed = call(&admin_client, "org.listOrgs", json!({}))
        .await
        .unwrap();
    assert_eq!(error_code(&allowed), None, "{}", text(&allowed));
    let refused = call(&bob_client, "org.listOrgs", json!({})).await.unwrap();
    assert_eq!(
        error_code(&refused).as_deref(),
        Some("INSUFFICIENT_PERMISSIONS"),
        "{}",
        text(&refused)
    );
    // The check is cached: a second refused call asks Atlassian nothing.
    let before = requests_to(&fake, "/role-assignments").len();
    let again = call(&bob_client, "org.listOrgs", json!({})).await.unwrap();
    assert_eq!(
        error_code(&again).as_deref(),
        Some("INSUFFICIENT_PERMISSIONS")
    );
    assert_eq!(requests_to(&fake, "/role-assignments").len(), before);
    // Only the admin's call reached the org API.
    let orgs = requests_to(&fake, "/admin/v1/orgs");
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    assert_eq!(orgs[0].credential_kind, Some(CredentialKind::OrgKey));
    // And an OAuth tool still works for bob.
    let project = call(&bob_client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert_eq!(error_code(&project), None);

    // The org key went only to /admin, and nothing else went there.
    for r in fake.requests() {
        let admin_path = r.path.starts_with("/admin/");
        match r.credential_kind {
            Some(CredentialKind::OrgKey) => assert!(admin_path, "org key sent to {}", r.path),
            Some(_) => assert!(!admin_path, "{:?} sent to {}", r.credential_kind, r.path),
            None => {}
        }
    }

    let lines = audit_lines(&env);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["principal"], format!("oauth:{DEFAULT_ACCOUNT_ID}"));
    assert_eq!(lines[0]["tool"], "org.listOrgs");
    assert_eq!(lines[0]["outcome"], "allowed");
    assert_eq!(lines[0]["upstreamStatus"], 200);
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["principal"], format!("oauth:{BOB}"));
    assert_eq!(lines[1]["outcome"], "refused");
    assert_eq!(lines[1]["errorCode"], "INSUFFICIENT_PERMISSIONS");
    assert!(lines[1].get("arguments").is_some());
    // Only org-admin tools are audited.
    assert!(lines.iter().all(|l| l["tool"] == "org.listOrgs"));

    admin_client.cancel().await.ok();
    bob_client.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&admin, &bob], &[]);
}

async fn principal_of(client: &Client) -> String {
    let me = call(client, "gojira.whoami", json!({})).await.unwrap();
    me.structured_content.unwrap()["principal"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Whether `needle` shows up in the server's stderr within two seconds (the
/// reader thread signals readiness before it stores the ready line).
fn logged_soon(server: &Server, needle: &str) -> bool {
    for _ in 0..40 {
        if server.stderr().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_site_refuses_users_without_it() {
    const OTHER: &str = "99999999-0000-0000-0000-000000000000";
    let fake = strict_fake().await;
    fake.fake().add_site(FakeSite::new(OTHER, "other"));
    fake.fake()
        .add_user(FakeUser::new(BOB, BOB_EMAIL, "Bob").with_sites(&[OTHER]));
    let port = free_port().to_string();
    let mut env = oauth_env(&fake, "utility,read_projects");
    env.insert("MCP_PORT".into(), port.clone());
    env.insert("MCP_SERVER_URL".into(), format!("http://127.0.0.1:{port}"));
    // Bob signs in while the server is not pinned...
    let unpinned = start_server(&env);
    let bob = sign_in_as(&unpinned, &fake, BOB).await;
    drop(unpinned);
    // ...and calls after it is pinned to a site he cannot reach.
    env.insert("ATLASSIAN_PINNED_CLOUD_ID".into(), DEFAULT_CLOUD_ID.into());
    let server = start_server(&env);
    let sent_before = fake.requests().len();
    let client = connect_as(&server, &bob.access).await;
    let result = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert_eq!(
        error_code(&result).as_deref(),
        Some("SITE_NOT_ALLOWED"),
        "{}",
        text(&result)
    );
    assert!(text(&result).contains(DEFAULT_CLOUD_ID));
    assert_eq!(
        fake.requests().len(),
        sent_before,
        "nothing was sent upstream"
    );
    client.cancel().await.ok();

    // A new sign-in without the pinned site is refused at the callback.
    fake.fake().set_consenting_user(BOB);
    let http = http();
    let registered: Value = http
        .post(format!("{}/register", server.base))
        .json(&json!({"redirect_uris": [CLIENT_REDIRECT]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let redirect = browser_leg(
        &server,
        registered["client_id"].as_str().unwrap(),
        "c".repeat(43).as_str(),
    )
    .await;
    let q = query(&redirect);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("access_denied"),
        "{redirect}"
    );
    assert!(!q.contains_key("code"));

    // The default user (who has the site) is served.
    let alice = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let client = connect_as(&server, &alice.access).await;
    let ok = call(&client, "jira.getProject", json!({"project": "ABC"}))
        .await
        .unwrap();
    assert_eq!(error_code(&ok), None, "{}", text(&ok));
    client.cancel().await.ok();
}

#[test]
fn local_mode_is_refused_on_a_network_bind_unless_forced() {
    let mut env = BTreeMap::new();
    for (k, v) in [
        ("GOJIRA_ENABLED_GROUPS", "read_projects"),
        ("GOJIRA_AUTH_MODE", "local"),
        ("MCP_HOST", "0.0.0.0"),
        ("MCP_PORT", "0"),
        // Local mode needs a credential to start at all.
        ("ATLASSIAN_ACCESS_TOKEN", "local-token"),
        ("ATLASSIAN_CLOUD_ID", "cloud-1"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    env.insert("GOJIRA_DATA_DIR".to_owned(), data_dir());
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok);
    assert!(
        stderr.contains("GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK"),
        "{stderr}"
    );
    // Forced on purpose: it starts.
    env.insert(
        "GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK".to_owned(),
        "true".to_owned(),
    );
    let server = start_server(&env);
    assert!(logged_soon(&server, "; local auth;"), "{}", server.stderr());
}

#[test]
fn oauth_needs_an_encryption_key() {
    let mut env = BTreeMap::new();
    for (k, v) in [
        ("GOJIRA_ENABLED_GROUPS", "read_projects"),
        ("MCP_PORT", "0"),
        ("ATLASSIAN_OAUTH_CLIENT_ID", "cid"),
        ("ATLASSIAN_OAUTH_CLIENT_SECRET", "secret"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    env.insert("GOJIRA_DATA_DIR".to_owned(), data_dir());
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok, "oauth is the default for serve, and needs the key");
    assert!(
        stderr.contains("TOKEN_ENCRYPTION_KEY") && stderr.contains("gojira-mcp generate-key"),
        "{stderr}"
    );
    // With a key but without the 3LO app, the error names that variable.
    env.insert("TOKEN_ENCRYPTION_KEY".to_owned(), KEY.to_owned());
    env.remove("ATLASSIAN_OAUTH_CLIENT_ID");
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok);
    assert!(stderr.contains("ATLASSIAN_OAUTH_CLIENT_ID"), "{stderr}");
    // Org admin in oauth mode needs the audit log target.
    env.insert("ATLASSIAN_OAUTH_CLIENT_ID".to_owned(), "cid".to_owned());
    env.insert("GOJIRA_ENABLE_ORG_ADMIN".to_owned(), "true".to_owned());
    env.insert("GOJIRA_ORG_ADMIN_TOKEN".to_owned(), "k".to_owned());
    let (ok, stderr) = run_to_exit(&["serve"], &env);
    assert!(!ok);
    assert!(
        stderr.contains("GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET"),
        "{stderr}"
    );
}

/// `serve --sandbox` runs oauth against the in-process fake: sign in, call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_walks_the_oauth_flow() {
    let mut env = BTreeMap::new();
    env.insert("MCP_PORT".to_owned(), "0".to_owned());
    env.insert("GOJIRA_DATA_DIR".to_owned(), data_dir());
    let server = start_server_with(&["serve", "--sandbox"], &env);
    assert!(logged_soon(&server, "; oauth;"), "{}", server.stderr());
    let unauthenticated = reqwest::Client::new()
        .post(server.mcp_url())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let tokens = sign_in(&server).await;
    let client = connect_as(&server, &tokens.access).await;
    let result = call(&client, "jira.getProject", json!({"project": "SBX"}))
        .await
        .unwrap();
    assert_eq!(error_code(&result), None, "{}", text(&result));
    let me = call(&client, "gojira.whoami", json!({})).await.unwrap();
    assert_eq!(
        me.structured_content.unwrap()["principal"],
        format!("oauth:{DEFAULT_ACCOUNT_ID}")
    );
    // The sandbox's default user is an org admin.
    let orgs = call(&client, "org.listOrgs", json!({})).await.unwrap();
    assert_eq!(error_code(&orgs), None, "{}", text(&orgs));
    client.cancel().await.ok();
}

/// A token the site refuses is tried as a scoped token through
/// `{api}/ex/jira/{cloudId}`, and JSM calls then go that way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_api_token_goes_through_the_gateway() {
    const TOKEN: &str = "ATSTT3xFfGF0-scoped-token-0123456789";
    let fake = strict_fake().await;
    fake.fake().add_api_token(DEFAULT_ACCOUNT_ID, TOKEN);
    let server = start_server(&oauth_env(&fake, "utility,read_jsm_admin"));
    let tokens = sign_in(&server).await;
    // The site URL answers 401 (as it does for a scoped token).
    fake.inject(
        fake_atlassian::Fault::status(401)
            .on_path("/rest/api/3/myself")
            .times(1),
    );
    let client = connect_as(&server, &tokens.access).await;
    let bound = call(
        &client,
        "gojira.bindApiToken",
        json!({"email": DEFAULT_EMAIL, "token": TOKEN}),
    )
    .await
    .unwrap();
    assert_eq!(error_code(&bound), None, "{}", text(&bound));
    assert_eq!(bound.structured_content.unwrap()["kind"], "scoped");
    let desks = call(&client, "jsm.listServiceDesks", json!({}))
        .await
        .unwrap();
    assert_eq!(error_code(&desks), None, "{}", text(&desks));
    let sent = requests_to(&fake, "/rest/servicedeskapi/servicedesk");
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .path
            .starts_with(&format!("/ex/jira/{DEFAULT_CLOUD_ID}/")),
        "{}",
        sent[0].path
    );
    assert_eq!(sent[0].credential_kind, Some(CredentialKind::ApiToken));
    assert_eq!(sent[0].principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    client.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&tokens], &[TOKEN]);
}

/// A 2025-11-25 session id is no credential: another user presenting it
/// with their own bearer acts as themselves (identity is read from the
/// bearer on every request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_bound_to_the_user_who_opened_it_and_carries_no_identity() {
    let fake = strict_fake().await;
    fake.fake().add_user(FakeUser::new(BOB, BOB_EMAIL, "Bob"));
    let server = start_server(&oauth_env(&fake, "utility"));
    let alice = sign_in_as(&server, &fake, DEFAULT_ACCOUNT_ID).await;
    let bob = sign_in_as(&server, &fake, BOB).await;
    let http = reqwest::Client::new();
    let post = |token: &str, session: Option<&str>, body: Value| {
        let mut rb = http
            .post(server.mcp_url())
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body);
        if let Some(s) = session {
            rb = rb.header("mcp-session-id", s);
        }
        rb.send()
    };
    let init = post(
        &alice.access,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
    )
    .await
    .unwrap();
    assert_eq!(init.status(), 200);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    post(
        &alice.access,
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await
    .unwrap();
    let whoami = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "gojira.whoami", "arguments": {}}});
    // Alice's own session serves Alice.
    let reply = post(&alice.access, Some(&session), whoami.clone())
        .await
        .unwrap();
    let status = reply.status();
    let text = reply.text().await.unwrap();
    // JSON, or an SSE stream whose data line carries it.
    let as_alice: Value = serde_json::from_str(&text)
        .ok()
        .or_else(|| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .find_map(|d| serde_json::from_str(d.trim()).ok())
        })
        .unwrap_or_else(|| panic!("HTTP {status}: {text}"));
    assert_eq!(
        as_alice["result"]["structuredContent"]["principal"],
        format!("oauth:{DEFAULT_ACCOUNT_ID}"),
        "{as_alice}"
    );
    // Bob, with his own valid token, cannot use Alice's session id.
    let reply = post(&bob.access, Some(&session), whoami.clone())
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        403,
        "a session is bound to the user who opened it"
    );
    let body: Value = reply.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another user"),
        "{body}"
    );
    // Without a bearer the session id alone gets nothing.
    let bare = reqwest::Client::new()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .json(&whoami)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    // Nor can Bob close Alice's session: his DELETE is refused and her
    // session still answers her.
    let closed = http
        .delete(server.mcp_url())
        .bearer_auth(&bob.access)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 403, "Bob closed Alice's session");
    let still = post(&alice.access, Some(&session), whoami.clone())
        .await
        .unwrap();
    assert_eq!(still.status(), 200, "Alice's session survived Bob's DELETE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_journaled_as_the_signed_in_user_on_their_site() {
    let fake = strict_fake().await;
    let server = start_server(&oauth_env(
        &fake,
        "utility,read_filters_dashboards,write_filters_dashboards",
    ));
    let tokens = sign_in(&server).await;
    let client = connect_as(&server, &tokens.access).await;
    let created = call(
        &client,
        "jira.createFilter",
        json!({"body": {"name": "Mine", "jql": "project = GOJ"}}),
    )
    .await
    .unwrap();
    assert_eq!(error_code(&created), None, "{}", text(&created));
    let id = created.structured_content.unwrap()["journalId"]
        .as_u64()
        .unwrap();
    let sent = requests_to(&fake, "/rest/api/3/filter");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    assert_eq!(sent[0].credential_kind, Some(CredentialKind::OAuth));
    let entry = call(&client, "gojira.journal.get", json!({"id": id}))
        .await
        .unwrap();
    let entry = entry.structured_content.unwrap();
    assert_eq!(
        entry["principal"],
        format!("oauth:{DEFAULT_ACCOUNT_ID}"),
        "{entry}"
    );
    assert_eq!(
        entry["site"], DEFAULT_CLOUD_ID,
        "the journal names the cloudId: {entry}"
    );
    assert_eq!(entry["status"], "completed");
    client.cancel().await.ok();
    assert_no_secret_logged(&server, &fake, &[&tokens], &[]);
}
