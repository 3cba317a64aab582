//! The fake's identity side over real HTTP: the OAuth 2.0 (3LO) flow, refresh
//! token rotation and reuse, accessible-resources, /me, /myself per user,
//! /ex/ routing, the org admin key, and what is recorded about credentials.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{Raw, fake, http, send};
use fake_atlassian::{
    CredentialKind, DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CLOUD_ID,
    DEFAULT_EMAIL, DEFAULT_ORG_ADMIN_KEY, DEFAULT_ORG_ID, FakeHandle, FakeSite, FakeUser,
    ORG_ADMIN_PRINCIPAL,
};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:8765/callback";
const BOB: &str = "5b10ac8d82e05b22cc7d0b0b";

/// A served strict fake (unknown credentials refused).
async fn serve_strict() -> FakeHandle {
    fake().strict_auth().serve(0).await.unwrap()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn authorize(base: &str, client_id: &str, redirect: &str, scope: &str) -> Raw {
    let path = format!(
        "/authorize?audience=api.atlassian.com&client_id={}&scope={}&redirect_uri={}&state=xyz&response_type=code&prompt=consent",
        enc(client_id),
        enc(scope),
        enc(redirect)
    );
    http(base, "GET", &path, &[], b"").await
}

/// The query pairs of a redirect's `Location`.
fn location_query(resp: &Raw) -> Vec<(String, String)> {
    let location = resp.header("location").unwrap();
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// POST /oauth/token with a JSON body.
async fn token_json(base: &str, body: Value) -> Raw {
    let bytes = serde_json::to_vec(&body).unwrap();
    http(
        base,
        "POST",
        "/oauth/token",
        &[("Content-Type", "application/json")],
        &bytes,
    )
    .await
}

/// POST /oauth/token with a form body.
async fn token_form(base: &str, pairs: &[(&str, &str)]) -> Raw {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    http(
        base,
        "POST",
        "/oauth/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .await
}

/// Consent and exchange the code: the token response.
async fn consent(base: &str, scope: &str) -> Value {
    let redirect = authorize(base, DEFAULT_CLIENT_ID, REDIRECT, scope).await;
    assert_eq!(redirect.status, 302, "{}", redirect.text);
    let pairs = location_query(&redirect);
    let code = param(&pairs, "code").unwrap();
    let resp = token_json(
        base,
        json!({
            "grant_type": "authorization_code",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "code": code,
            "redirect_uri": REDIRECT,
        }),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.json()
}

async fn refresh(base: &str, refresh_token: &str) -> Raw {
    token_form(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn get(base: &str, path: &str, auth: &str) -> Raw {
    http(base, "GET", path, &[("Authorization", auth)], b"").await
}

fn bearer(token: &Value) -> String {
    format!("Bearer {}", token.as_str().unwrap())
}

fn basic(email: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"))
    )
}

const SCOPES: &str = "read:jira-work read:jira-user offline_access";

#[tokio::test]
async fn three_legged_flow_issues_tokens_that_reach_the_site_through_ex() {
    let handle = serve_strict().await;
    let base = handle.base_url();

    let redirect = authorize(&base, DEFAULT_CLIENT_ID, REDIRECT, SCOPES).await;
    assert_eq!(redirect.status, 302, "{}", redirect.text);
    let location = redirect.header("location").unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let pairs = location_query(&redirect);
    assert_eq!(param(&pairs, "state"), Some("xyz"));
    assert!(param(&pairs, "code").is_some());

    let tokens = consent(&base, SCOPES).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], SCOPES);
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let auth = bearer(&tokens["access_token"]);

    let resources = get(&base, "/oauth/token/accessible-resources", &auth).await;
    assert_eq!(resources.status, 200, "{}", resources.text);
    assert_eq!(
        resources.json(),
        json!([{
            "id": DEFAULT_CLOUD_ID,
            "url": base,
            "name": "sandbox",
            "scopes": ["read:jira-work", "read:jira-user"],
            "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png",
        }])
    );

    let me = get(&base, "/me", &auth).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let me = me.json();
    assert_eq!(me["account_id"], DEFAULT_ACCOUNT_ID);
    assert_eq!(me["email"], DEFAULT_EMAIL);
    assert_eq!(me["account_status"], "active");
    assert!(me["name"].is_string() && me["picture"].is_string());

    let myself = get(
        &base,
        &format!("/ex/jira/{DEFAULT_CLOUD_ID}/rest/api/3/myself"),
        &auth,
    )
    .await;
    assert_eq!(myself.status, 200, "{}", myself.text);
    let myself = myself.json();
    assert_eq!(myself["accountId"], DEFAULT_ACCOUNT_ID);
    assert_eq!(myself["emailAddress"], DEFAULT_EMAIL);
    assert_eq!(myself["active"], true);
    assert_eq!(myself["accountType"], "atlassian");

    let recorded = handle.requests();
    let last = recorded.last().unwrap();
    assert_eq!(
        last.operation.as_deref(),
        Some("jira-platform#getCurrentUser")
    );
    assert_eq!(last.principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    assert_eq!(last.credential_kind, Some(CredentialKind::OAuth));
    assert_eq!(last.cloud_id.as_deref(), Some(DEFAULT_CLOUD_ID));
    assert_eq!(
        last.host.as_deref(),
        Some(base.trim_start_matches("http://"))
    );
    assert_eq!(recorded[0].operation.as_deref(), Some("oauth#authorize"));
    let me_record = recorded
        .iter()
        .find(|r| r.operation.as_deref() == Some("identity#me"))
        .unwrap();
    assert_eq!(me_record.principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    assert_eq!(me_record.credential_kind, Some(CredentialKind::OAuth));
    let issued = handle.fake().issued_access_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].access_token, tokens["access_token"]);
    handle.shutdown();
}

#[tokio::test]
async fn authorization_codes_are_single_use_and_live_ten_minutes() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let exchange = |code: String| {
        let base = base.clone();
        async move {
            token_json(
                &base,
                json!({
                    "grant_type": "authorization_code",
                    "client_id": DEFAULT_CLIENT_ID,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                    "code": code,
                    "redirect_uri": REDIRECT,
                }),
            )
            .await
        }
    };
    let first = authorize(&base, DEFAULT_CLIENT_ID, REDIRECT, SCOPES).await;
    let code = param(&location_query(&first), "code").unwrap().to_string();
    assert_eq!(exchange(code.clone()).await.status, 200);
    let replay = exchange(code).await;
    assert_eq!(replay.status, 403, "{}", replay.text);
    assert_eq!(replay.json()["error"], "invalid_grant");

    let second = authorize(&base, DEFAULT_CLIENT_ID, REDIRECT, SCOPES).await;
    let code = param(&location_query(&second), "code").unwrap().to_string();
    handle.fake().advance_clock(Duration::from_secs(11 * 60));
    let late = exchange(code).await;
    assert_eq!(late.status, 403, "{}", late.text);
    assert_eq!(late.json()["error"], "invalid_grant");
    handle.shutdown();
}

#[tokio::test]
async fn authorize_refuses_bad_clients_without_redirecting() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let unknown = authorize(&base, "nobody", REDIRECT, SCOPES).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.header("location").is_none());
    assert!(unknown.text.contains("client"), "{}", unknown.text);

    let foreign = authorize(&base, DEFAULT_CLIENT_ID, "https://evil.example/cb", SCOPES).await;
    assert_eq!(foreign.status, 400);
    assert!(foreign.header("location").is_none());

    handle.fake().register_oauth_client(
        "partner",
        "partner-secret",
        &["https://app.example/callback"],
    );
    let registered = authorize(&base, "partner", "https://app.example/callback", SCOPES).await;
    assert_eq!(registered.status, 302, "{}", registered.text);
    let loopback = authorize(&base, "partner", REDIRECT, SCOPES).await;
    assert_eq!(
        loopback.status, 400,
        "only the default client accepts any loopback URI"
    );

    // Other errors go back to the client.
    let path = format!(
        "/authorize?client_id={DEFAULT_CLIENT_ID}&scope=read%3Ajira-work&redirect_uri={}&state=s1&response_type=code",
        enc(REDIRECT)
    );
    let no_audience = http(&base, "GET", &path, &[], b"").await;
    assert_eq!(no_audience.status, 302);
    let pairs = location_query(&no_audience);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
    assert_eq!(param(&pairs, "state"), Some("s1"));
    assert!(param(&pairs, "code").is_none());

    let bad_secret = token_json(
        &base,
        json!({"grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID,
               "client_secret": "wrong", "code": "x", "redirect_uri": REDIRECT}),
    )
    .await;
    assert_eq!(bad_secret.status, 401);
    assert_eq!(bad_secret.json()["error"], "invalid_client");
    handle.shutdown();
}

#[tokio::test]
async fn no_offline_access_means_no_refresh_token() {
    let handle = serve_strict().await;
    let tokens = consent(&handle.base_url(), "read:jira-work").await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert!(tokens["access_token"].is_string());
    handle.shutdown();
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_late_reuse_revokes_the_family() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let fake = handle.fake();
    let tokens = consent(&base, SCOPES).await;
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let first_access = bearer(&tokens["access_token"]);

    let rotated = refresh(&base, &first_refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let rotated = rotated.json();
    let second_refresh = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first_refresh, "refresh tokens rotate");
    assert_ne!(rotated["access_token"], tokens["access_token"]);

    // Inside the reuse window the old token still answers a fresh pair.
    fake.advance_clock(Duration::from_secs(5 * 60));
    let reused = refresh(&base, &first_refresh).await;
    assert_eq!(reused.status, 200, "{}", reused.text);
    let reused = reused.json();
    assert!(reused["refresh_token"].is_string());
    assert_ne!(reused["refresh_token"], second_refresh);

    // After it, presenting the old token revokes everything from that consent.
    fake.advance_clock(Duration::from_secs(6 * 60));
    let late = refresh(&base, &first_refresh).await;
    assert_eq!(late.status, 403);
    assert_eq!(
        late.json(),
        json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
    );
    assert_eq!(fake.token_family_revoked(&first_refresh), Some(true));
    let newest = bearer(&reused["access_token"]);
    for auth in [&first_access, &newest] {
        let myself = get(&base, "/rest/api/3/myself", auth).await;
        assert_eq!(myself.status, 401, "{}", myself.text);
        assert_eq!(get(&base, "/me", auth).await.status, 401);
    }
    assert_eq!(refresh(&base, &second_refresh).await.status, 403);
    assert!(fake.issued_access_tokens().iter().all(|t| t.revoked));
    assert_eq!(fake.refresh_grant_count(), 4);
    handle.shutdown();
}

#[tokio::test]
async fn tokens_expire_on_the_fake_clock() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let fake = handle.fake();
    fake.set_access_token_lifetime(Duration::from_secs(600));
    let tokens = consent(&base, SCOPES).await;
    assert_eq!(tokens["expires_in"], 600);
    let auth = bearer(&tokens["access_token"]);
    assert_eq!(get(&base, "/rest/api/3/myself", &auth).await.status, 200);
    fake.advance_clock(Duration::from_secs(601));
    assert_eq!(get(&base, "/rest/api/3/myself", &auth).await.status, 401);
    assert_eq!(
        get(&base, "/oauth/token/accessible-resources", &auth)
            .await
            .status,
        401
    );

    let refreshed = refresh(&base, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, 200);
    let refreshed = refreshed.json();
    // A refresh token unused for 90 days expires.
    fake.advance_clock(Duration::from_secs(91 * 24 * 3600));
    let idle = refresh(&base, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(idle.status, 403);
    assert_eq!(idle.json()["error"], "invalid_grant");
    handle.shutdown();
}

#[tokio::test]
async fn the_omit_knob_drops_refresh_token_once_and_keeps_the_old_one_current() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let fake = handle.fake();
    let tokens = consent(&base, SCOPES).await;
    let original = tokens["refresh_token"].as_str().unwrap();
    fake.omit_next_refresh_token();
    let without = refresh(&base, original).await.json();
    assert!(without.get("refresh_token").is_none(), "{without}");
    assert!(without["access_token"].is_string());
    // Not rotated: still usable long after, and the knob was one-shot.
    fake.advance_clock(Duration::from_secs(3600));
    let with = refresh(&base, original).await;
    assert_eq!(with.status, 200, "{}", with.text);
    assert!(with.json()["refresh_token"].is_string());
    assert_eq!(fake.refresh_grant_count(), 2);
    handle.shutdown();
}

#[tokio::test]
async fn myself_answers_each_principal() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let fake = handle.fake();
    fake.add_user(FakeUser::new(BOB, "bob@example.com", "Bob Builder"));
    fake.add_api_token(BOB, "bob-token");
    fake.add_api_token(DEFAULT_ACCOUNT_ID, "admin-token");

    let as_bob = get(
        &base,
        "/rest/api/3/myself",
        &basic("bob@example.com", "bob-token"),
    )
    .await;
    assert_eq!(as_bob.status, 200, "{}", as_bob.text);
    assert_eq!(as_bob.json()["accountId"], BOB);
    assert_eq!(as_bob.json()["displayName"], "Bob Builder");
    let as_admin = get(
        &base,
        "/rest/api/3/myself",
        &basic(DEFAULT_EMAIL, "admin-token"),
    )
    .await;
    assert_eq!(as_admin.json()["accountId"], DEFAULT_ACCOUNT_ID);
    let wrong = get(
        &base,
        "/rest/api/3/myself",
        &basic("bob@example.com", "admin-token"),
    )
    .await;
    assert_eq!(wrong.status, 401);

    fake.set_consenting_user(BOB);
    let tokens = consent(&base, SCOPES).await;
    let via_ex = get(
        &base,
        &format!("/ex/jira/{DEFAULT_CLOUD_ID}/rest/api/3/myself"),
        &bearer(&tokens["access_token"]),
    )
    .await;
    assert_eq!(via_ex.json()["emailAddress"], "bob@example.com");
    let me = get(&base, "/me", &bearer(&tokens["access_token"])).await;
    assert_eq!(me.json()["account_id"], BOB);

    let kinds: Vec<_> = handle
        .requests()
        .iter()
        .filter(|r| r.operation.as_deref() == Some("jira-platform#getCurrentUser"))
        .map(|r| (r.credential_kind, r.principal.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Some(CredentialKind::ApiToken), Some(BOB.to_string())),
            (
                Some(CredentialKind::ApiToken),
                Some(DEFAULT_ACCOUNT_ID.to_string())
            ),
            (Some(CredentialKind::Unknown), None),
            (Some(CredentialKind::OAuth), Some(BOB.to_string())),
        ]
    );
    handle.shutdown();
}

#[tokio::test]
async fn ex_paths_refuse_unknown_and_foreign_cloud_ids() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let fake = handle.fake();
    let other = "99999999-8888-7777-6666-555555555555";
    fake.add_site(FakeSite::new(other, "elsewhere"));
    fake.add_user(FakeUser::new(BOB, "bob@example.com", "Bob").with_sites(&[other]));
    fake.set_consenting_user(BOB);
    let tokens = consent(&base, SCOPES).await;
    let auth = bearer(&tokens["access_token"]);

    let own = get(
        &base,
        &format!("/ex/jira/{other}/rest/api/3/project/ABC"),
        &auth,
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let body = serde_json::to_vec(&json!({"key": "GOJ", "name": "Gojira", "projectTypeKey": "software", "leadAccountId": BOB})).unwrap();
    let created = http(
        &base,
        "POST",
        &format!("/ex/jira/{other}/rest/api/3/project"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.json()["self"],
        format!("{base}/ex/jira/{other}/rest/api/3/project/10000"),
        "self links keep the /ex/ prefix"
    );
    let foreign = get(
        &base,
        &format!("/ex/jira/{DEFAULT_CLOUD_ID}/rest/api/3/project/ABC"),
        &auth,
    )
    .await;
    assert_eq!(foreign.status, 404, "{}", foreign.text);
    let unknown = get(
        &base,
        "/ex/confluence/00000000-0000-0000-0000-000000000000/wiki/api/v2/spaces",
        &auth,
    )
    .await;
    assert_eq!(unknown.status, 404);

    let resources = get(&base, "/oauth/token/accessible-resources", &auth)
        .await
        .json();
    assert_eq!(resources.as_array().unwrap().len(), 1);
    assert_eq!(resources[0]["id"], other);
    assert_eq!(resources[0]["name"], "elsewhere");

    let clouds: Vec<_> = handle
        .requests()
        .iter()
        .filter_map(|r| r.cloud_id.clone().map(|c| (c, r.status)))
        .collect();
    assert_eq!(clouds.len(), 4);
    assert_eq!(clouds[0], (other.to_string(), 200));
    handle.shutdown();
}

#[tokio::test]
async fn the_org_key_works_only_on_admin_paths_and_oauth_never_does() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let fake = handle.fake();
    fake.add_api_token(DEFAULT_ACCOUNT_ID, "admin-token");
    let key = format!("Bearer {DEFAULT_ORG_ADMIN_KEY}");

    let orgs = get(&base, "/admin/v1/orgs", &key).await;
    assert_eq!(orgs.status, 200, "{}", orgs.text);
    let manage = get(&base, &format!("/users/{BOB}/manage"), &key).await;
    assert_eq!(
        manage.status, 200,
        "the user management API takes the org key too"
    );
    let off_admin = get(&base, "/rest/api/3/myself", &key).await;
    assert_eq!(off_admin.status, 401);

    let tokens = consent(&base, SCOPES).await;
    let oauth_on_admin = get(&base, "/admin/v1/orgs", &bearer(&tokens["access_token"])).await;
    assert_eq!(oauth_on_admin.status, 401);
    let basic_on_admin = get(
        &base,
        "/admin/v1/orgs",
        &basic(DEFAULT_EMAIL, "admin-token"),
    )
    .await;
    assert_eq!(basic_on_admin.status, 401);
    let unknown_key = get(&base, "/admin/v1/orgs", "Bearer not-the-key").await;
    assert_eq!(unknown_key.status, 401, "strict: unknown keys are refused");

    fake.set_org_admin_key("rotated-key");
    assert_eq!(get(&base, "/admin/v1/orgs", &key).await.status, 401);
    assert_eq!(
        get(&base, "/admin/v1/orgs", "Bearer rotated-key")
            .await
            .status,
        200
    );

    let recorded = handle.requests();
    let org_key_paths: Vec<_> = recorded
        .iter()
        .filter(|r| r.credential_kind == Some(CredentialKind::OrgKey))
        .map(|r| (r.path.clone(), r.status, r.principal.clone()))
        .collect();
    let admin = Some(ORG_ADMIN_PRINCIPAL.to_string());
    assert_eq!(
        org_key_paths,
        vec![
            ("/admin/v1/orgs".to_string(), 200, admin.clone()),
            (format!("/users/{BOB}/manage"), 200, admin.clone()),
            ("/rest/api/3/myself".to_string(), 401, None),
            ("/admin/v1/orgs".to_string(), 200, admin),
        ]
    );
    handle.shutdown();
}

#[tokio::test]
async fn role_assignments_reflect_org_admin() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let fake = handle.fake();
    fake.add_user(FakeUser::new(BOB, "bob@example.com", "Bob"));
    let key = format!("Bearer {DEFAULT_ORG_ADMIN_KEY}");
    let roles_of = |account: &str| {
        format!("/admin/v2/orgs/{DEFAULT_ORG_ID}/directories/-/users/{account}/role-assignments")
    };
    let has_org_admin = |page: &Value| {
        page["data"].as_array().unwrap().iter().any(|a| {
            a["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "atlassian/org-admin")
        })
    };

    let admin = get(&base, &roles_of(DEFAULT_ACCOUNT_ID), &key).await;
    assert_eq!(admin.status, 200, "{}", admin.text);
    let admin = admin.json();
    fake.check_response("org-admin#getUserRoleAssignments", &admin)
        .unwrap();
    assert!(has_org_admin(&admin), "{admin}");

    let bob = get(&base, &roles_of(BOB), &key).await.json();
    assert!(!has_org_admin(&bob), "{bob}");
    assert!(!bob["data"].as_array().unwrap().is_empty());

    fake.add_user(FakeUser::new(BOB, "bob@example.com", "Bob").org_admin(true));
    assert!(has_org_admin(
        &get(&base, &roles_of(BOB), &key).await.json()
    ));

    let unknown = get(&base, &roles_of("nobody"), &key).await;
    assert_eq!(unknown.status, 404);
    handle.shutdown();
}

#[tokio::test]
async fn a_lenient_fake_takes_unknown_credentials_as_the_default_user() {
    let fake = fake();
    let myself = send(
        &fake,
        "GET",
        "/rest/api/3/myself",
        Some(common::BASIC),
        None,
    )
    .await;
    assert_eq!(myself.status, 200);
    assert_eq!(myself.body["accountId"], DEFAULT_ACCOUNT_ID);
    let admin = send(&fake, "GET", "/admin/v1/orgs", Some(common::BEARER), None).await;
    assert_eq!(admin.status, 200);
    // Known credentials are still checked: the org key off admin paths.
    let key = format!("Bearer {DEFAULT_ORG_ADMIN_KEY}");
    let off = send(&fake, "GET", "/rest/api/3/myself", Some(&key), None).await;
    assert_eq!(off.status, 401);
    let recorded = fake.requests();
    assert_eq!(recorded[0].credential_kind, Some(CredentialKind::Unknown));
    assert_eq!(recorded[0].principal.as_deref(), Some(DEFAULT_ACCOUNT_ID));
    assert_eq!(recorded[1].principal.as_deref(), Some(ORG_ADMIN_PRINCIPAL));
    assert_eq!(recorded[2].credential_kind, Some(CredentialKind::OrgKey));

    let strict = common::loaded().fresh().strict_auth();
    let refused = send(
        &strict,
        "GET",
        "/rest/api/3/myself",
        Some(common::BASIC),
        None,
    )
    .await;
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn the_refresh_counter_counts_concurrent_grants() {
    let handle = serve_strict().await;
    let base = handle.base_url();
    let tokens = consent(&base, SCOPES).await;
    let token = tokens["refresh_token"].as_str().unwrap().to_string();
    let calls = (0..3).map(|_| {
        let (base, token) = (base.clone(), token.clone());
        async move { refresh(&base, &token).await.status }
    });
    let statuses: Vec<u16> = futures_join_all(calls).await;
    // All within the reuse window: each gets a fresh pair.
    assert_eq!(statuses, vec![200, 200, 200]);
    assert_eq!(handle.fake().refresh_grant_count(), 3);
    handle.shutdown();
}

/// Await futures concurrently (no `futures` dependency).
async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
