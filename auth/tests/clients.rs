//! Client registration (RFC 7591) and Client ID Metadata Documents.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::Router;
use axum::routing::get;
use common::*;
use serde_json::{Value, json};

async fn register_raw(h: &Harness, body: &Value) -> reqwest::Response {
    h.http
        .post(h.url("/register"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn registration_answers_rfc7591() {
    let h = harness().await;
    let r = register_raw(
        &h,
        &json!({
            "redirect_uris": ["https://app.example/cb", "http://localhost:3000/cb"],
            "client_name": "Rovo",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "software_id": "ignored"
        }),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    let id = body["client_id"].as_str().unwrap();
    assert!(id.len() >= 43, "unguessable: {id}");
    assert!(body["client_id_issued_at"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["redirect_uris"],
        json!(["https://app.example/cb", "http://localhost:3000/cb"])
    );
    assert!(body.get("client_secret").is_none());
    let other = h.register(&[CLIENT_REDIRECT]).await;
    assert_ne!(id, other);
}

#[tokio::test]
async fn registration_validation() {
    // Every attempt counts toward the rate, valid or not.
    let h = harness_with(&[("GOJIRA_DCR_RATE", "100")]).await;
    let many: Vec<String> = (0..11).map(|i| format!("https://a.example/{i}")).collect();
    for (body, error) in [
        (json!({}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": many}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [format!("https://a.example/{}", "x".repeat(2100))]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let r = register_raw(&h, &body).await;
        assert_eq!(oauth_error(r).await, (400, error.to_owned()), "{body}");
    }
    let huge =
        json!({"redirect_uris": ["https://a.example/cb"], "client_name": "x".repeat(17 * 1024)});
    let r = register_raw(&h, &huge).await;
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn registration_is_rate_limited_per_ip() {
    let h = harness_with(&[("GOJIRA_DCR_RATE", "3")]).await;
    for _ in 0..3 {
        h.register(&[CLIENT_REDIRECT]).await;
    }
    let r = register_raw(&h, &json!({"redirect_uris": [CLIENT_REDIRECT]})).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    // The next minute has a fresh allowance.
    h.clock.advance(std::time::Duration::from_secs(61));
    h.register(&[CLIENT_REDIRECT]).await;
}

/// Serves `document` at `/client.json` on 127.0.0.1; returns the URL. The
/// document's `client_id` is `{url}` unless `client_id` is given.
async fn serve_document(make: impl Fn(&str) -> Value + Send + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let doc = make(&url);
    let app = Router::new()
        .route(
            "/client.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        )
        .route(
            "/redirect.json",
            get(|| async { axum::response::Redirect::temporary("/client.json") }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    url
}

#[tokio::test]
async fn metadata_document_on_a_private_address_is_refused() {
    let h = harness().await;
    let url = serve_document(|url| {
        json!({"client_id": url, "client_name": "Doc Client", "redirect_uris": [CLIENT_REDIRECT]})
    })
    .await;
    let (_, challenge) = pkce();
    let r = h.authorize(&AuthzRequest::new(&h, &url, &challenge)).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let text = r.text().await.unwrap();
    assert!(text.contains("must use https"), "{text}");
    // The https form of a loopback name is refused for its address.
    let https = url.replace("http://", "https://");
    let r = h
        .authorize(&AuthzRequest::new(&h, &https, &challenge))
        .await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("non-public address"), "{text}");
    let named = https.replace("127.0.0.1", "localhost");
    let r = h
        .authorize(&AuthzRequest::new(&h, &named, &challenge))
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("non-public address"));
}

#[tokio::test]
async fn metadata_document_accepted_when_private_hosts_are_allowed() {
    let h = harness_with(&[("GOJIRA_CIMD_ALLOW_PRIVATE", "true")]).await;
    let url = serve_document(|url| {
        json!({"client_id": url, "client_name": "Doc Client", "redirect_uris": [CLIENT_REDIRECT], "token_endpoint_auth_method": "none"})
    })
    .await;
    let (verifier, challenge) = pkce();
    let consent = h
        .consent_page(&AuthzRequest::new(&h, &url, &challenge))
        .await;
    assert!(consent.html.contains("Doc Client"));
    let r = h.approve_and_return(&consent).await;
    let code = query(&location(&r))["code"].clone();
    let r = h.redeem(&url, &code, &verifier).await;
    assert_eq!(r.status(), 200);

    // The document must name itself, and redirects are not followed.
    let liar = serve_document(|_| {
        json!({"client_id": "https://someone-else.example/client.json", "redirect_uris": [CLIENT_REDIRECT]})
    })
    .await;
    let r = h.authorize(&AuthzRequest::new(&h, &liar, &challenge)).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not its own URL"));
    let redirecting = url.replace("/client.json", "/redirect.json");
    let r = h
        .authorize(&AuthzRequest::new(&h, &redirecting, &challenge))
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("HTTP 307"));
}

#[tokio::test]
async fn metadata_document_size_is_capped() {
    let h = harness_with(&[("GOJIRA_CIMD_ALLOW_PRIVATE", "true")]).await;
    let url = serve_document(|url| {
        json!({"client_id": url, "client_name": "x".repeat(6000), "redirect_uris": [CLIENT_REDIRECT]})
    })
    .await;
    let (_, challenge) = pkce();
    let r = h.authorize(&AuthzRequest::new(&h, &url, &challenge)).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("larger than 5 KiB"));
}
