//! The harness: our authorization server on 127.0.0.1:0 (plus a `/mcp`
//! route behind the middleware) over an embedded store in a temp dir, the
//! fake Atlassian as the upstream identity provider, and a reqwest client
//! that follows no redirects.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine as _;
use fake_atlassian::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeAtlassian, FakeHandle};
use gojira_auth::{AuthConfig, AuthServer, Principal};
use gojira_store::crypto::{KEY_LEN, Keyring};
use gojira_store::embedded::EmbeddedStore;
use gojira_store::records::Secrets;
use gojira_store::{Clock, Store};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The MCP client's redirect URI in most tests.
pub const CLIENT_REDIRECT: &str = "http://127.0.0.1:7777/callback";

pub struct Harness {
    pub base: String,
    pub resource: String,
    pub server: Arc<AuthServer>,
    pub store: Store,
    pub clock: Clock,
    pub fake: FakeHandle,
    pub http: reqwest::Client,
    dir: std::path::PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.fake.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn protected(Extension(p): Extension<Principal>) -> Json<Value> {
    Json(json!({
        "account_id": p.account_id,
        "client_id": p.client_id,
        "scopes": p.scopes,
        "cloud_ids": p.cloud_ids,
        "email": p.email,
    }))
}

/// A harness with extra configuration variables.
pub async fn harness_with(vars: &[(&str, &str)]) -> Harness {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeAtlassian::from_routes(Vec::new())
        .serve(0)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let resource = format!("{base}/mcp");
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    map.insert("ATLASSIAN_OAUTH_CLIENT_ID".into(), DEFAULT_CLIENT_ID.into());
    map.insert(
        "ATLASSIAN_OAUTH_CLIENT_SECRET".into(),
        DEFAULT_CLIENT_SECRET.into(),
    );
    map.insert("ATLASSIAN_AUTH_BASE_URL".into(), fake.base_url());
    map.insert("ATLASSIAN_API_BASE_URL".into(), fake.base_url());
    for (k, v) in vars {
        map.insert((*k).into(), (*v).into());
    }
    let config = AuthConfig::from_lookup(
        |name| map.get(name).cloned(),
        url::Url::parse(&resource).unwrap(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "gojira-auth-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let clock = Clock::manual(1_700_000_000_000);
    let store = Store::Embedded(EmbeddedStore::open(&dir, clock.clone()).unwrap());
    let keyring = Arc::new(Keyring::from_keys(&[7u8; KEY_LEN], &[]).unwrap());
    let secrets = Secrets::new(store.clone(), keyring).with_clock(clock.clone());
    let server = AuthServer::new(config, store.clone(), secrets, clock.clone()).unwrap();
    let app = server.router().merge(
        Router::new()
            .route("/mcp", get(protected).post(protected))
            .route_layer(server.middleware()),
    );
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Harness {
        base,
        resource,
        server,
        store,
        clock,
        fake,
        http,
        dir,
    }
}

pub async fn harness() -> Harness {
    harness_with(&[]).await
}

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = format!(
        "verifier-{}-{}",
        COUNTER.fetch_add(1, Ordering::SeqCst),
        "x".repeat(40)
    );
    (verifier.clone(), s256(&verifier))
}

pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn hash_prefix(token: &str) -> String {
    s256(token).chars().take(16).collect()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub fn query(url: &str) -> BTreeMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location (status {})", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The hidden input `name`'s value on a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The consent page's pieces.
pub struct Consent {
    pub cookie: String,
    pub request_id: String,
    pub csrf: String,
    pub html: String,
}

/// Parameters of an authorization request.
pub struct AuthzRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub method: Option<String>,
    pub resource: Option<String>,
    pub state: String,
}

impl AuthzRequest {
    pub fn new(h: &Harness, client_id: &str, challenge: &str) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uri: CLIENT_REDIRECT.into(),
            challenge: Some(challenge.into()),
            method: Some("S256".into()),
            resource: Some(h.resource.clone()),
            state: "st4te".into(),
        }
    }
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a client (DCR) with `redirect_uris`; returns its client_id.
    pub async fn register(&self, redirect_uris: &[&str]) -> String {
        let r = self
            .http
            .post(self.url("/register"))
            .json(&json!({"redirect_uris": redirect_uris, "client_name": "Test Client"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["client_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn authorize(&self, req: &AuthzRequest) -> reqwest::Response {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", req.client_id.as_str()),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("state", req.state.as_str()),
        ];
        if let Some(c) = &req.challenge {
            pairs.push(("code_challenge", c));
        }
        if let Some(m) = &req.method {
            pairs.push(("code_challenge_method", m));
        }
        if let Some(r) = &req.resource {
            pairs.push(("resource", r));
        }
        self.http
            .get(format!("{}?{}", self.url("/authorize"), form(&pairs)))
            .send()
            .await
            .unwrap()
    }

    /// `/authorize` answered with the consent page; its pieces.
    pub async fn consent_page(&self, req: &AuthzRequest) -> Consent {
        let r = self.authorize(req).await;
        assert_eq!(r.status(), 200, "consent page expected");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("__Host-gojira_csrf="))
            .unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let html = r.text().await.unwrap();
        Consent {
            cookie,
            request_id: hidden(&html, "request_id"),
            csrf: hidden(&html, "csrf"),
            html,
        }
    }

    pub async fn post_consent(
        &self,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut rb = self
            .http
            .post(self.url("/authorize/consent"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(fields));
        if let Some(c) = cookie {
            rb = rb.header("cookie", c);
        }
        rb.send().await.unwrap()
    }

    /// Consent → Atlassian (the fake consents) → our callback; returns the
    /// callback's answer (a redirect to the client).
    pub async fn approve_and_return(&self, consent: &Consent) -> reqwest::Response {
        let r = self
            .post_consent(
                Some(&consent.cookie),
                &[
                    ("request_id", &consent.request_id),
                    ("csrf", &consent.csrf),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(r.status(), 302);
        // The sign-in cookie binds the Atlassian leg to this browser.
        let browser = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("__Host-gojira_signin="))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .expect("the sign-in cookie");
        let to_atlassian = location(&r);
        assert!(
            to_atlassian.starts_with(&self.fake.base_url()),
            "{to_atlassian}"
        );
        let r = self.http.get(&to_atlassian).send().await.unwrap();
        assert_eq!(r.status(), 302, "the fake consents");
        let callback = location(&r);
        assert!(
            callback.starts_with(&self.url("/oauth/callback")),
            "{callback}"
        );
        self.http
            .get(&callback)
            .header("cookie", browser)
            .send()
            .await
            .unwrap()
    }

    /// The whole browser leg; returns our authorization code.
    pub async fn code_for(&self, client_id: &str, challenge: &str) -> String {
        let req = AuthzRequest::new(self, client_id, challenge);
        let consent = self.consent_page(&req).await;
        let r = self.approve_and_return(&consent).await;
        assert_eq!(r.status(), 302);
        let q = query(&location(&r));
        assert_eq!(q.get("state").map(String::as_str), Some("st4te"));
        assert_eq!(q.get("iss"), Some(&self.base));
        q.get("code")
            .unwrap_or_else(|| panic!("no code: {q:?}"))
            .clone()
    }

    pub async fn token(&self, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .unwrap()
    }

    pub async fn redeem(&self, client_id: &str, code: &str, verifier: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", verifier),
            ("resource", &self.resource),
        ])
        .await
    }

    /// Signs in end to end; returns (client_id, token response).
    pub async fn sign_in(&self) -> (String, Value) {
        let client_id = self.register(&[CLIENT_REDIRECT]).await;
        let (verifier, challenge) = pkce();
        let code = self.code_for(&client_id, &challenge).await;
        let r = self.redeem(&client_id, &code, &verifier).await;
        assert_eq!(r.status(), 200);
        (client_id, r.json().await.unwrap())
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// GET /mcp with `Authorization: Bearer token`.
    pub async fn mcp(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/mcp"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

pub async fn oauth_error(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}
