//! The authorization server over real HTTP against the fake Atlassian: the
//! happy path, the metadata, and the attack checklist.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::*;
use fake_atlassian::{DEFAULT_ACCOUNT_ID, DEFAULT_CLOUD_ID, DEFAULT_EMAIL};
use gojira_store::{Key, Kind};
use serde_json::{Value, json};

#[tokio::test]
async fn metadata_documents() {
    let h = harness().await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let prm: Value = h
            .http
            .get(h.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(prm["resource"], h.resource.as_str(), "{path}");
        assert_eq!(prm["authorization_servers"], json!([h.base]));
        // gojira's own scopes; offline_access grants nothing here and is not offered.
        assert_eq!(
            prm["scopes_supported"],
            json!([
                "gojira:read",
                "gojira:write",
                "gojira:delete",
                "gojira:org-admin"
            ])
        );
    }
    let r = h
        .http
        .get(h.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let asm: Value = r.json().await.unwrap();
    assert_eq!(asm["issuer"], h.base.as_str());
    assert_eq!(asm["authorization_endpoint"], h.url("/authorize"));
    assert_eq!(asm["token_endpoint"], h.url("/token"));
    assert_eq!(asm["registration_endpoint"], h.url("/register"));
    assert_eq!(asm["revocation_endpoint"], h.url("/revoke"));
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(asm["authorization_response_iss_parameter_supported"], true);
    assert_eq!(asm["client_id_metadata_document_supported"], true);
    assert_eq!(
        asm["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert_eq!(
        asm["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
}

#[tokio::test]
async fn challenge_headers_and_query_tokens_ignored() {
    let h = harness().await;
    let r = h.http.get(h.url("/mcp")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        www.starts_with(&format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"gojira:read gojira:write gojira:delete gojira:org-admin\""
        , h.base)),
        "{www}"
    );
    assert!(!www.contains("error="), "no token, no error: {www}");

    let (_, tokens) = h.sign_in().await;
    let access = tokens["access_token"].as_str().unwrap();
    // In the query string: ignored, so still unauthenticated.
    let r = h
        .http
        .get(format!("{}?access_token={access}", h.url("/mcp")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        !r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=")
    );
    // A garbage token: invalid_token.
    let r = h.mcp("not-a-token").await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn full_flow_gives_a_principal() {
    let h = harness().await;
    let (client_id, tokens) = h.sign_in().await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().unwrap();
    assert!(access.len() >= 43);
    let r = h.mcp(access).await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["account_id"], DEFAULT_ACCOUNT_ID);
    assert_eq!(p["client_id"], client_id.as_str());
    assert_eq!(p["cloud_ids"], json!([DEFAULT_CLOUD_ID]));
    assert_eq!(p["email"], DEFAULT_EMAIL);
    // The token is stored only as its hash.
    let raw = Key::new(Kind::Token, format!("at:{access}"));
    assert!(h.store.get(&raw).await.unwrap().is_none());
    // The Atlassian credential is stored sealed, never in clear.
    let cred = Key::new(
        Kind::Credential,
        format!("atlassian-oauth:{DEFAULT_ACCOUNT_ID}"),
    );
    let sealed = h.store.get(&cred).await.unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("refresh_token"));
    // An Atlassian access token is not one of ours.
    let theirs = h.fake.fake().issued_access_tokens();
    let theirs = &theirs.last().unwrap().access_token;
    assert_eq!(h.mcp(theirs).await.status(), 401);
}

#[tokio::test]
async fn token_answers_are_not_cached() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (verifier, challenge) = pkce();
    let code = h.code_for(&client_id, &challenge).await;
    let r = h.redeem(&client_id, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let r = h.redeem(&client_id, "nope", &verifier).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn pkce_missing_or_plain_goes_back_to_the_client() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (_, challenge) = pkce();
    for (challenge, method) in [
        (None, None),
        (Some(challenge.clone()), None),
        (Some(challenge.clone()), Some("plain")),
    ] {
        let mut req = AuthzRequest::new(&h, &client_id, "");
        req.challenge = challenge;
        req.method = method.map(str::to_owned);
        let r = h.authorize(&req).await;
        assert_eq!(r.status(), 302);
        let to = location(&r);
        assert!(to.starts_with(CLIENT_REDIRECT), "{to}");
        let q = query(&to);
        assert_eq!(q["error"], "invalid_request");
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["iss"], h.base);
    }
}

#[tokio::test]
async fn wrong_verifier_is_refused() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (verifier, challenge) = pkce();
    let code = h.code_for(&client_id, &challenge).await;
    let (_, other) = pkce();
    let r = h.redeem(&client_id, &code, &other).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    let r = h
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", CLIENT_REDIRECT),
        ])
        .await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    // The right verifier still works (a failed attempt does not burn the code).
    assert_eq!(h.redeem(&client_id, &code, &verifier).await.status(), 200);
}

#[tokio::test]
async fn redirect_variants_get_an_error_page_not_a_redirect() {
    let h = harness().await;
    let client_id = h
        .register(&["https://good.example/cb", CLIENT_REDIRECT])
        .await;
    let (_, challenge) = pkce();
    for bad in [
        "https://good.example/cb/",
        "https://GOOD.example/cb",
        "https://good.example/CB",
        "https://good.example/cb?extra=1",
        "https://good.example@evil.example/cb",
        "https://good.example/cb#x",
        "http://127.0.0.1:7777/callback/",
        "http://localhost:7777/callback",
        "https://evil.example/cb",
    ] {
        let mut req = AuthzRequest::new(&h, &client_id, &challenge);
        req.redirect_uri = bad.into();
        let r = h.authorize(&req).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.headers().get("location").is_none(), "{bad}");
        assert!(r.text().await.unwrap().contains("redirect_uri"), "{bad}");
    }
    // Loopback: any port, same path.
    let mut req = AuthzRequest::new(&h, &client_id, &challenge);
    req.redirect_uri = "http://127.0.0.1:51234/callback".into();
    assert_eq!(h.authorize(&req).await.status(), 200);
    // Unknown client: an error page too.
    let req = AuthzRequest::new(&h, "no-such-client", &challenge);
    let r = h.authorize(&req).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}

#[tokio::test]
async fn code_replay_revokes_what_the_code_issued() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (verifier, challenge) = pkce();
    let code = h.code_for(&client_id, &challenge).await;
    let first: Value = h
        .redeem(&client_id, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(h.mcp(access).await.status(), 200);
    let r = h.redeem(&client_id, &code, &verifier).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    assert_eq!(h.mcp(access).await.status(), 401, "access token revoked");
    let r = h
        .refresh(&client_id, first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    let audit = Key::new(
        Kind::Audit,
        format!(
            "{:013}-code-replay-{}",
            h.clock.now_ms(),
            hash_prefix(&code)
        ),
    );
    let event: Value =
        serde_json::from_slice(&h.store.get(&audit).await.unwrap().unwrap()).unwrap();
    assert_eq!(event["event"], "AUTHORIZATION_CODE_REPLAY");
}

#[tokio::test]
async fn concurrent_redemptions_issue_at_most_one_live_token_set() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (verifier, challenge) = pkce();
    let code = h.code_for(&client_id, &challenge).await;
    let (a, b) = tokio::join!(
        h.redeem(&client_id, &code, &verifier),
        h.redeem(&client_id, &code, &verifier)
    );
    let mut live = 0;
    for r in [a, b] {
        if r.status() == 200 {
            let t: Value = r.json().await.unwrap();
            if h.mcp(t["access_token"].as_str().unwrap()).await.status() == 200 {
                live += 1;
            }
        }
    }
    assert_eq!(live, 0, "a replayed code leaves no usable tokens");
}

#[tokio::test]
async fn wrong_resource_is_refused() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (verifier, challenge) = pkce();
    let mut req = AuthzRequest::new(&h, &client_id, &challenge);
    req.resource = Some("https://other.example/mcp".into());
    let r = h.authorize(&req).await;
    assert_eq!(r.status(), 302);
    assert_eq!(query(&location(&r))["error"], "invalid_target");
    let code = h.code_for(&client_id, &challenge).await;
    let r = h
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &verifier),
            ("resource", &format!("{}/", h.resource)),
        ])
        .await;
    assert_eq!(oauth_error(r).await, (400, "invalid_target".into()));
}

#[tokio::test]
async fn expired_and_tampered_tokens_are_refused() {
    let h = harness().await;
    let (_, tokens) = h.sign_in().await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let mut tampered = access.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let r = h.mcp(&tampered).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(h.mcp(&access).await.status(), 200);
    h.clock.advance(Duration::from_secs(3601));
    let r = h.mcp(&access).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let h = harness().await;
    let (client_id, first) = h.sign_in().await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let r = h.refresh(&client_id, rt1).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let second: Value = r.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    let at2 = second["access_token"].as_str().unwrap();
    assert_eq!(h.mcp(at2).await.status(), 200);
    // rt1 again, after the grace window (10 s by default): reuse.
    h.clock.advance(Duration::from_secs(11));
    let r = h.refresh(&client_id, rt1).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    assert_eq!(h.mcp(at2).await.status(), 401, "family revoked");
    assert_eq!(
        h.mcp(first["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    let r = h.refresh(&client_id, rt2).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    let audit = Key::new(
        Kind::Audit,
        format!(
            "{:013}-refresh-reuse-{}",
            h.clock.now_ms(),
            hash_prefix(rt1)
        ),
    );
    let raw = h.store.get(&audit).await.unwrap().expect("audit event");
    let text = String::from_utf8(raw).unwrap();
    assert!(
        !text.contains(rt1) && !text.contains(rt2),
        "no token in the audit event"
    );
    let event: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(event["event"], "REFRESH_TOKEN_REUSE");
    assert_eq!(event["account_id"], DEFAULT_ACCOUNT_ID);
    assert_eq!(event["client_id"], client_id.as_str());
    assert!(event["family"].as_str().is_some());
    assert_eq!(event["at_ms"], h.clock.now_ms());
}

#[tokio::test]
async fn a_client_racing_its_own_refresh_gets_one_pair_and_keeps_its_session() {
    let h = harness().await;
    let (client_id, first) = h.sign_in().await;
    let rt = first["refresh_token"].as_str().unwrap();
    let (a, b) = tokio::join!(h.refresh(&client_id, rt), h.refresh(&client_id, rt));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["access_token"], b["access_token"], "the same pair");
    assert_eq!(a["refresh_token"], b["refresh_token"], "the same pair");
    assert_eq!(
        h.mcp(a["access_token"].as_str().unwrap()).await.status(),
        200,
        "the session lives"
    );
    // The same token after the window is reuse: the family goes.
    h.clock.advance(Duration::from_secs(11));
    let r = h.refresh(&client_id, rt).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    assert_eq!(
        h.mcp(a["access_token"].as_str().unwrap()).await.status(),
        401
    );
}

#[tokio::test]
async fn without_a_grace_window_a_concurrent_refresh_revokes_the_family() {
    let h = harness_with(&[("GOJIRA_REFRESH_REUSE_GRACE_S", "0")]).await;
    let (client_id, first) = h.sign_in().await;
    let rt = first["refresh_token"].as_str().unwrap();
    let (a, b) = tokio::join!(h.refresh(&client_id, rt), h.refresh(&client_id, rt));
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    assert!(statuses.contains(&400), "{statuses:?}");
    for r in [a, b] {
        if r.status() == 200 {
            let t: Value = r.json().await.unwrap();
            assert_eq!(
                h.mcp(t["access_token"].as_str().unwrap()).await.status(),
                401
            );
        }
    }
}

#[tokio::test]
async fn refresh_token_expires_when_idle() {
    let h = harness_with(&[("GOJIRA_REFRESH_TOKEN_TTL_S", "600")]).await;
    let (client_id, first) = h.sign_in().await;
    h.clock.advance(Duration::from_secs(601));
    let r = h
        .refresh(&client_id, first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn csrf_on_consent() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (_, challenge) = pkce();
    let consent = h
        .consent_page(&AuthzRequest::new(&h, &client_id, &challenge))
        .await;
    let post = |cookie: Option<String>, csrf: String| {
        let h = &h;
        let request_id = consent.request_id.clone();
        async move {
            h.post_consent(
                cookie.as_deref(),
                &[
                    ("request_id", request_id.as_str()),
                    ("csrf", csrf.as_str()),
                    ("decision", "approve"),
                ],
            )
            .await
            .status()
        }
    };
    let forged = "A".repeat(43);
    // No cookie.
    assert_eq!(post(None, consent.csrf.clone()).await, 403);
    // Cookie and form agree, but not with the pending request.
    assert_eq!(
        post(Some(format!("__Host-gojira_csrf={forged}")), forged.clone()).await,
        403
    );
    // Form differs from cookie.
    assert_eq!(
        post(Some(consent.cookie.clone()), forged.clone()).await,
        403
    );
    // The right pair still works, once.
    assert_eq!(
        post(Some(consent.cookie.clone()), consent.csrf.clone()).await,
        302
    );
    assert_eq!(
        post(Some(consent.cookie.clone()), consent.csrf.clone()).await,
        400,
        "single use"
    );
}

#[tokio::test]
async fn consent_page_headers_and_deny() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (_, challenge) = pkce();
    let r = h
        .authorize(&AuthzRequest::new(&h, &client_id, &challenge))
        .await;
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    let cookie = headers["set-cookie"].to_str().unwrap();
    for attr in [
        "__Host-gojira_csrf=",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let html = r.text().await.unwrap();
    assert!(html.contains("Test Client") && html.contains("127.0.0.1"));
    let consent = h
        .consent_page(&AuthzRequest::new(&h, &client_id, &challenge))
        .await;
    let r = h
        .post_consent(
            Some(&consent.cookie),
            &[
                ("request_id", &consent.request_id),
                ("csrf", &consent.csrf),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(r.status(), 302);
    let q = query(&location(&r));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st4te");
    assert_eq!(q["iss"], h.base);
}

#[tokio::test]
async fn consent_redirects_to_atlassian_with_the_right_parameters() {
    let h = harness().await;
    let client_id = h.register(&[CLIENT_REDIRECT]).await;
    let (_, challenge) = pkce();
    let consent = h
        .consent_page(&AuthzRequest::new(&h, &client_id, &challenge))
        .await;
    let r = h
        .post_consent(
            Some(&consent.cookie),
            &[
                ("request_id", &consent.request_id),
                ("csrf", &consent.csrf),
                ("decision", "approve"),
            ],
        )
        .await;
    let to = location(&r);
    assert!(to.starts_with(&format!("{}/authorize?", h.fake.base_url())));
    let q = query(&to);
    assert_eq!(q["audience"], "api.atlassian.com");
    assert_eq!(q["client_id"], fake_atlassian::DEFAULT_CLIENT_ID);
    assert_eq!(q["redirect_uri"], h.url("/oauth/callback"));
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["prompt"], "consent");
    assert!(q["scope"].split(' ').any(|s| s == "offline_access"));
    // The approving browser gets the sign-in cookie (`__Host-`: Secure, Path=/, no Domain).
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-gojira_signin="))
        .expect("the sign-in cookie");
    assert!(set.contains("Secure") && set.contains("HttpOnly") && set.contains("Path=/"));
    assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    let browser = set.split(';').next().unwrap().to_owned();
    // The upstream state is single use.
    let r = h.http.get(&to).send().await.unwrap();
    let callback = location(&r);
    let done = h
        .http
        .get(&callback)
        .header("cookie", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 302);
    let again = h
        .http
        .get(&callback)
        .header("cookie", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("location").is_none());
}

#[tokio::test]
async fn one_clients_code_and_refresh_token_are_useless_to_another() {
    let h = harness().await;
    let a = h.register(&[CLIENT_REDIRECT]).await;
    let b = h.register(&[CLIENT_REDIRECT]).await;
    let (verifier, challenge) = pkce();
    let code = h.code_for(&a, &challenge).await;
    let r = h.redeem(&b, &code, &verifier).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    let tokens: Value = h.redeem(&a, &code, &verifier).await.json().await.unwrap();
    let r = h
        .refresh(&b, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    // ...and did not disturb A.
    assert_eq!(
        h.refresh(&a, tokens["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    // A client secret is refused (public clients only).
    let r = h
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &a),
            ("client_secret", "x"),
            ("refresh_token", "y"),
        ])
        .await;
    assert_eq!(oauth_error(r).await, (401, "invalid_client".into()));
}

#[tokio::test]
async fn revoke_always_200_and_revokes_the_family() {
    let h = harness().await;
    let (client_id, tokens) = h.sign_in().await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoke = |token: String, client_id: String| {
        let h = &h;
        async move {
            h.http
                .post(h.url("/revoke"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[("token", &token), ("client_id", &client_id)]))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke("unknown-token".into(), client_id.clone()).await, 200);
    assert_eq!(h.mcp(access).await.status(), 200);
    assert_eq!(revoke(refresh.into(), client_id.clone()).await, 200);
    assert_eq!(h.mcp(access).await.status(), 401);
    let r = h.refresh(&client_id, refresh).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_grant".into()));
    // An access token alone.
    let (other, tokens) = h.sign_in().await;
    let access = tokens["access_token"].as_str().unwrap();
    // Another client's token is left alone.
    assert_eq!(revoke(access.into(), client_id.clone()).await, 200);
    assert_eq!(h.mcp(access).await.status(), 200);
    assert_eq!(revoke(access.into(), other).await, 200);
    assert_eq!(h.mcp(access).await.status(), 401);
}
