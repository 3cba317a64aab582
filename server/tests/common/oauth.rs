//! OAuth-mode helpers: a strict fake Atlassian, the oauth environment, the
//! browser leg driven with reqwest (register → /authorize → consent page →
//! the fake's /authorize → /oauth/callback → the client's redirect →
//! /token), bearer-carrying clients, and the no-secret-in-logs check.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use base64::Engine as _;
use fake_atlassian::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ADMIN_KEY, DEFAULT_ORG_ID, FakeAtlassian,
    FakeHandle,
};
use rmcp::ServiceExt;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::{Client, Server, fake_env};

/// The MCP client's redirect URI.
pub const CLIENT_REDIRECT: &str = "http://127.0.0.1:7777/callback";
/// A valid TOKEN_ENCRYPTION_KEY (base64 of 32 bytes).
pub const KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
/// A second user of the fake.
pub const BOB: &str = "5b10ac8d82e05b22cc7d4bob";
pub const BOB_EMAIL: &str = "bob@example.com";

pub async fn strict_fake() -> FakeHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir =
        fake_atlassian::find_specs_dir().expect("the Atlassian specs (cargo xtask fetch-specs)");
    FakeAtlassian::load(&dir)
        .unwrap()
        .strict_auth()
        .serve(0)
        .await
        .unwrap()
}

/// OAuth-mode environment against `fake` (debug logs, so the no-secret
/// checks read everything).
pub fn oauth_env(fake: &FakeHandle, groups: &str) -> BTreeMap<String, String> {
    let mut env = fake_env(fake, groups);
    for var in ["ATLASSIAN_EMAIL", "ATLASSIAN_API_TOKEN"] {
        env.remove(var);
    }
    let audit = format!("file:{}/org-admin-audit.log", env["GOJIRA_DATA_DIR"]);
    for (k, v) in [
        ("GOJIRA_AUTH_MODE", "oauth"),
        ("TOKEN_ENCRYPTION_KEY", KEY),
        ("ATLASSIAN_OAUTH_CLIENT_ID", DEFAULT_CLIENT_ID),
        ("ATLASSIAN_OAUTH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
        ("GOJIRA_ORG_ID", DEFAULT_ORG_ID),
        ("GOJIRA_ORG_ADMIN_TOKEN", DEFAULT_ORG_ADMIN_KEY),
        ("GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET", audit.as_str()),
        ("LOG_LEVEL", "debug"),
    ] {
        env.insert(k.into(), v.into());
    }
    env.insert("ATLASSIAN_AUTH_BASE_URL".into(), fake.base_url());
    env
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location (status {})", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query(url: &str) -> BTreeMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Our tokens for one signed-in user.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = format!("verifier-{}", "v".repeat(50));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The `__Host-` cookie named `name` that `response` sets, as `name=value`
/// (empty when it sets none).
pub fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap_or_default()
}

/// The sign-in cookie the consent approval sets (binds the Atlassian leg to
/// this browser), as `name=value`.
pub fn signin_cookie(approved: &reqwest::Response) -> String {
    set_cookie(approved, "__Host-gojira_signin")
}

/// One browser's first steps: `/authorize`, then approve the consent page.
/// Returns the approval's answer (a 302 to Atlassian).
pub async fn approve_consent(
    server: &Server,
    client_id: &str,
    challenge: &str,
) -> reqwest::Response {
    approve_consent_with(server, client_id, challenge, None)
        .await
        .0
}

/// [`approve_consent`] asking for `scope` (none: the server's default);
/// also returns the consent page's HTML.
pub async fn approve_consent_with(
    server: &Server,
    client_id: &str,
    challenge: &str,
    scope: Option<&str>,
) -> (reqwest::Response, String) {
    let http = http();
    let resource = server.mcp_url();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CLIENT_REDIRECT),
        ("state", "st4te"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("resource", &resource),
    ];
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    let authorize = format!("{}/authorize?{}", server.base, form(&params));
    let page = http.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200, "the consent page");
    let cookie = set_cookie(&page, "__Host-gojira_csrf");
    assert!(!cookie.is_empty(), "the CSRF cookie");
    let html = page.text().await.unwrap();
    let consent = http
        .post(format!("{}/authorize/consent", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(form(&[
            ("request_id", &hidden(&html, "request_id")),
            ("csrf", &hidden(&html, "csrf")),
            ("decision", "approve"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        consent.status(),
        302,
        "consent sends the browser to Atlassian"
    );
    (consent, html)
}

/// Where the browser leg ends: the client's redirect (with `code` or `error`).
pub async fn browser_leg(server: &Server, client_id: &str, challenge: &str) -> String {
    browser_leg_with(server, client_id, challenge, None).await.0
}

/// [`browser_leg`] asking for `scope`; also returns the consent page's HTML.
pub async fn browser_leg_with(
    server: &Server,
    client_id: &str,
    challenge: &str,
    scope: Option<&str>,
) -> (String, String) {
    let http = http();
    let (consent, html) = approve_consent_with(server, client_id, challenge, scope).await;
    let browser = signin_cookie(&consent);
    let atlassian = http.get(location(&consent)).send().await.unwrap();
    assert_eq!(atlassian.status(), 302, "the fake consents");
    let callback = location(&atlassian);
    assert!(
        callback.starts_with(&format!("{}/oauth/callback", server.base)),
        "{callback}"
    );
    let back = http
        .get(&callback)
        .header("cookie", browser)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302, "our callback redirects to the client");
    (location(&back), html)
}

/// Registers a public client (RFC 7591) redirecting to [`CLIENT_REDIRECT`];
/// returns its client id.
pub async fn register_client(server: &Server, name: &str) -> String {
    let registered: Value = http()
        .post(format!("{}/register", server.base))
        .json(&json!({"redirect_uris": [CLIENT_REDIRECT], "client_name": name}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    registered["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a client id: {registered}"))
        .to_owned()
}

/// Registers a client and signs the fake's consenting user in.
pub async fn sign_in(server: &Server) -> Tokens {
    sign_in_with_scope(server, None).await.0
}

/// A signed-in client's registration and tokens.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub client_id: String,
    pub tokens: Tokens,
    /// The consent page the user saw.
    pub consent_html: String,
    /// The token endpoint's whole answer.
    pub token_response: Value,
}

/// Registers a client and signs the fake's consenting user in, asking for
/// `scope` (none: the server's default).
pub async fn sign_in_with_scope(server: &Server, scope: Option<&str>) -> (Tokens, SignedIn) {
    let http = http();
    let client_id = register_client(server, "auth e2e").await;
    let (verifier, challenge) = pkce_pair();
    let (redirect, consent_html) = browser_leg_with(server, &client_id, &challenge, scope).await;
    let q = query(&redirect);
    let code = q
        .get("code")
        .unwrap_or_else(|| panic!("no code: {redirect}"));
    let token: Value = http
        .post(format!("{}/token", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &verifier),
            ("resource", &server.mcp_url()),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens = Tokens {
        access: token["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("access_token: {token}"))
            .to_owned(),
        refresh: token["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
    };
    let signed_in = SignedIn {
        client_id,
        tokens: tokens.clone(),
        consent_html,
        token_response: token,
    };
    (tokens, signed_in)
}

/// Signs `account_id` in asking for `scope`.
pub async fn sign_in_as_with_scope(
    server: &Server,
    fake: &FakeHandle,
    account_id: &str,
    scope: &str,
) -> SignedIn {
    fake.fake().set_consenting_user(account_id);
    sign_in_with_scope(server, Some(scope)).await.1
}

/// A raw stateless 2026-07-28 JSON-RPC request to `/mcp` with `token`;
/// the HTTP answer as it is.
pub async fn raw_mcp(
    server: &Server,
    token: &str,
    method: &str,
    params: Value,
) -> reqwest::Response {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let mut params = params;
    params["_meta"] = meta;
    let mut request = reqwest::Client::new()
        .post(server.mcp_url())
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = params.get("name").and_then(Value::as_str) {
        request = request.header("mcp-name", name);
    }
    request
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
}

/// `/token` with `pairs`; the status and JSON answer.
pub async fn token_endpoint(server: &Server, pairs: &[(&str, &str)]) -> (u16, Value) {
    let r = http()
        .post(format!("{}/token", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Signs `account_id` in (the fake consents as them).
pub async fn sign_in_as(server: &Server, fake: &FakeHandle, account_id: &str) -> Tokens {
    fake.fake().set_consenting_user(account_id);
    sign_in(server).await
}

/// An rmcp client over Streamable HTTP carrying `token`.
pub async fn connect_as(server: &Server, token: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(server.mcp_url()).auth_header(token);
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("gojira-auth-e2e", "0.1.0"),
    )
    .with_protocol_version(ProtocolVersion::V_2025_11_25)
    .serve(StreamableHttpClientTransport::from_config(config))
    .await
    .expect("client connects with the bearer")
}

/// One stateless 2026-07-28 `tools/call` (no session), with `token`.
pub async fn stateless_call(server: &Server, token: &str, name: &str, args: Value) -> Value {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let reply = reqwest::Client::new()
        .post(server.mcp_url())
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", name)
        .json(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": name, "arguments": args, "_meta": meta}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    body["result"].clone()
}

/// The tool error code of a result, if it is one.
pub fn error_code(result: &rmcp::model::CallToolResult) -> Option<String> {
    (result.is_error == Some(true)).then(|| {
        result.structured_content.as_ref().unwrap()["error"]["code"]
            .as_str()
            .unwrap()
            .to_owned()
    })
}

/// Requests the fake saw whose path ends with `suffix`.
pub fn requests_to(fake: &FakeHandle, suffix: &str) -> Vec<fake_atlassian::RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.ends_with(suffix))
        .collect()
}

/// No secret appears in the server's stderr (our tokens, every Atlassian
/// access token the fake issued, and `extra`).
pub fn assert_no_secret_logged(
    server: &Server,
    fake: &FakeHandle,
    tokens: &[&Tokens],
    extra: &[&str],
) {
    let stderr = server.stderr();
    assert!(stderr.contains("DEBUG"), "debug logging is on");
    let mut secrets: Vec<String> = fake
        .fake()
        .issued_access_tokens()
        .into_iter()
        .map(|t| t.access_token)
        .collect();
    for t in tokens {
        secrets.push(t.access.clone());
        secrets.push(t.refresh.clone());
    }
    secrets.extend(extra.iter().map(|s| (*s).to_owned()));
    secrets.push(DEFAULT_ORG_ADMIN_KEY.to_owned());
    secrets.push(DEFAULT_CLIENT_SECRET.to_owned());
    for secret in secrets {
        let line = stderr.lines().find(|l| l.contains(&secret));
        assert!(line.is_none(), "a secret was logged: {line:?}");
    }
}
