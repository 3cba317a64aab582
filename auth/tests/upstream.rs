//! The Atlassian side against the fake's 3LO server: pinning at sign-in,
//! single-flight refresh, rotation persistence, re-consent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::*;
use fake_atlassian::{DEFAULT_ACCOUNT_ID, Fault};
use gojira_auth::{Principal, UpstreamAuthError};
use serde_json::json;

/// Signs in and returns the principal `/mcp` sees.
async fn principal(h: &Harness) -> Principal {
    let (_, tokens) = h.sign_in().await;
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {}", tokens["access_token"].as_str().unwrap())
            .parse()
            .unwrap(),
    );
    h.server.verify(&headers).await.unwrap()
}

#[tokio::test]
async fn pinned_site_refuses_a_login_without_it() {
    let h = harness_with(&[(
        "ATLASSIAN_PINNED_CLOUD_ID",
        "99999999-0000-0000-0000-000000000000",
    )])
    .await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (_, challenge) = pkce();
    let consent = h
        .consent_page(&AuthzRequest::new(&h, &client_id, &challenge))
        .await;
    let r = h.approve_and_return(&consent).await;
    assert_eq!(r.status(), 302);
    let q = query(&location(&r));
    assert!(location(&r).starts_with(CLIENT_REDIRECT));
    assert_eq!(q["error"], "access_denied");
    assert!(
        q["error_description"].contains("99999999-0000-0000-0000-000000000000"),
        "{q:?}"
    );
    assert_eq!(q["state"], "st4te");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn pinned_site_allows_a_login_with_it() {
    let h = harness_with(&[(
        "ATLASSIAN_PINNED_CLOUD_ID",
        fake_atlassian::DEFAULT_CLOUD_ID,
    )])
    .await;
    let p = principal(&h).await;
    assert_eq!(
        p.cloud_ids,
        vec![fake_atlassian::DEFAULT_CLOUD_ID.to_owned()]
    );
}

#[tokio::test]
async fn fresh_token_is_returned_without_a_refresh() {
    let h = harness().await;
    let p = principal(&h).await;
    let token = h.server.atlassian_access_token(&p).await.unwrap();
    let issued = h.fake.fake().issued_access_tokens();
    assert_eq!(token.expose(), issued.last().unwrap().access_token);
    assert_eq!(h.fake.fake().refresh_grant_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_calls_refresh_once() {
    let h = harness().await;
    let p = principal(&h).await;
    let before = h.server.atlassian_access_token(&p).await.unwrap();
    // Within 60 s of expiry counts as expired.
    h.clock.advance(Duration::from_secs(3600 - 30));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let server = h.server.clone();
        let p = p.clone();
        calls.spawn(async move { server.atlassian_access_token(&p).await });
    }
    let results = calls.join_all().await;
    assert_eq!(
        h.fake.fake().refresh_grant_count(),
        1,
        "exactly one refresh grant"
    );
    let tokens: Vec<String> = results
        .into_iter()
        .map(|r| r.unwrap().expose().to_owned())
        .collect();
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "everyone got the new token"
    );
    assert_ne!(tokens[0], before.expose());
    // The new token is the fake's newest, and it works upstream.
    let issued = h.fake.fake().issued_access_tokens();
    assert_eq!(tokens[0], issued.last().unwrap().access_token);
    // Persisted: another call does not refresh again.
    h.server.atlassian_access_token(&p).await.unwrap();
    assert_eq!(h.fake.fake().refresh_grant_count(), 1);
}

#[tokio::test]
async fn refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let h = harness().await;
    let p = principal(&h).await;
    h.fake.fake().omit_next_refresh_token();
    h.clock.advance(Duration::from_secs(3600));
    let second = h.server.atlassian_access_token(&p).await.unwrap();
    assert_eq!(h.fake.fake().refresh_grant_count(), 1);
    // The stored refresh token was kept, so the next refresh still works.
    h.clock.advance(Duration::from_secs(3600));
    let third = h.server.atlassian_access_token(&p).await.unwrap();
    assert_eq!(h.fake.fake().refresh_grant_count(), 2);
    assert_ne!(second.expose(), third.expose());
}

#[tokio::test]
async fn invalid_grant_asks_the_user_to_reconnect() {
    let h = harness().await;
    let p = principal(&h).await;
    h.fake.inject(
        Fault::status(403)
            .on_path("/oauth/token")
            .with_body(json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}))
            .times(1),
    );
    h.clock.advance(Duration::from_secs(3600));
    let err = h.server.atlassian_access_token(&p).await.unwrap_err();
    assert!(matches!(err, UpstreamAuthError::ReconsentNeeded), "{err:?}");
    assert!(err.to_string().contains("sign in again"), "{err}");
    // Marked: no further refresh attempts until the user signs in again.
    let err = h.server.atlassian_access_token(&p).await.unwrap_err();
    assert!(matches!(err, UpstreamAuthError::ReconsentNeeded));
    assert_eq!(h.fake.fake().refresh_grant_count(), 0, "the fault answered");
    // Signing in again clears it.
    let p2 = principal(&h).await;
    assert_eq!(p2.account_id, DEFAULT_ACCOUNT_ID);
    h.server.atlassian_access_token(&p2).await.unwrap();
}

#[tokio::test]
async fn unknown_user_is_not_connected() {
    let h = harness().await;
    let p = Principal {
        account_id: "nobody".into(),
        client_id: "c".into(),
        scopes: vec![],
        cloud_ids: vec![],
        email: None,
    };
    let err = h.server.atlassian_access_token(&p).await.unwrap_err();
    assert!(matches!(err, UpstreamAuthError::NotConnected));
}
