//! `/authorize` (validation and the consent page), `/authorize/consent`, and
//! Atlassian's return to `/oauth/callback`.
//!
//! Until the client and its redirect URI are validated, errors are an HTML
//! page; after, they go back to the client's redirect URI with `state` and
//! `iss`, so a client never hangs.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use gojira_store::crypto::ct_eq;
use gojira_store::records::{decode, encode};
use gojira_store::{Key, Kind, StoreError};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::AuthServer;
use crate::atlassian::{CallError, Credential};
use crate::clients::ClientError;
use crate::tokens::{CodeRecord, Grant};
use crate::util::{
    cookie, error_page, html_escape, html_page, parse_form, random_token, redirect, sha256_b64,
    with_query,
};

/// The CSRF cookie (double-submit; `__Host-`: Secure, Path=/, no Domain).
pub(crate) const CSRF_COOKIE: &str = "__Host-gojira_csrf";
/// Binds the Atlassian leg of a sign-in to the browser that approved our
/// consent page: set at approval, required (and cleared) at the callback.
/// `SameSite=Lax`, so Atlassian's top-level redirect back carries it.
pub(crate) const SIGNIN_COOKIE: &str = "__Host-gojira_signin";
const PENDING_TTL: Duration = Duration::from_secs(600);
const RECORD_VERSION: u16 = 1;
const MAX_STATE_LEN: usize = 2048;

/// A validated authorization request waiting for consent (and then for
/// Atlassian).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    resource: Option<String>,
    scopes: Vec<String>,
    /// SHA-256 of the CSRF token on the consent page.
    csrf_hash: String,
    /// SHA-256 of the sign-in cookie given to the approving browser (set
    /// once consent is approved; the callback must present the cookie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    browser_hash: Option<String>,
}

/// Where errors go once the redirect URI is trusted.
struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: String,
}

impl Back<'_> {
    fn with(&self, params: &[(&str, &str)]) -> Response {
        let Ok(base) = Url::parse(self.redirect_uri) else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The redirect address is not valid.",
            );
        };
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(state) = self.state {
            all.push(("state", state));
        }
        all.push(("iss", &self.issuer));
        redirect(&with_query(&base, &all))
    }

    fn error(&self, error: &str, description: &str) -> Response {
        self.with(&[("error", error), ("error_description", description)])
    }
}

fn store_failure(e: &StoreError) -> Response {
    tracing::warn!(error = %e, "authorization: store error");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server could not complete this step (storage unavailable). Try again shortly.",
    )
}

/// `GET /authorize`.
pub(crate) async fn authorize(
    State(server): State<Arc<AuthServer>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match parse_form(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &format!("Invalid request: {e}.")),
    };
    let Some(client_id) = params.get("client_id") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request: client_id is missing.",
        );
    };
    let client = match server.client(client_id).await {
        Ok(c) => c,
        Err(ClientError::Invalid(reason)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("Unknown client: {reason}."),
            );
        }
        Err(ClientError::Store(e)) => return store_failure(&e),
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request: redirect_uri is missing.",
        );
    };
    if !client.allows_redirect(redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request: redirect_uri is not one this client registered.",
        );
    }
    let state = params.get("state").map(String::as_str);
    let back = Back {
        redirect_uri,
        state,
        issuer: server.config().issuer(),
    };
    if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return back.error("invalid_request", "state is too long");
    }
    if params.get("response_type").map(String::as_str) != Some("code") {
        return back.with(&[
            ("error", "unsupported_response_type"),
            ("error_description", "response_type must be code"),
        ]);
    }
    let Some(challenge) = params.get("code_challenge") else {
        return back.error(
            "invalid_request",
            "code_challenge is required (PKCE with S256)",
        );
    };
    if params.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return back.error(
            "invalid_request",
            "code_challenge_method must be S256 (plain is not supported)",
        );
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return back.error(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 (43 characters)",
        );
    }
    let resource = params.get("resource").cloned();
    if let Some(r) = &resource
        && r != server.config().resource.as_str()
    {
        return back.error(
            "invalid_target",
            &format!("resource must be {}", server.config().resource),
        );
    }
    let offered = &server.config().scopes;
    let scopes: Vec<String> = match params.get("scope") {
        Some(s) if !s.trim().is_empty() => {
            let asked: Vec<&str> = s
                .split_whitespace()
                .filter(|a| !crate::scopes::IGNORED.contains(a))
                .collect();
            if let Some(bad) = asked.iter().find(|a| !offered.iter().any(|o| o == *a)) {
                return back.error(
                    "invalid_scope",
                    &format!(
                        "scope {bad:?} is not offered by this server (it offers: {})",
                        offered.join(" ")
                    ),
                );
            }
            crate::scopes::canonical(asked)
        }
        _ => offered.clone(),
    };
    if scopes.is_empty() {
        return back.error(
            "invalid_scope",
            &format!(
                "no usable scope was asked for; ask for some of: {}",
                offered.join(" ")
            ),
        );
    }
    let csrf = random_token();
    let request_id = random_token();
    let pending = Pending {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        state: state.map(str::to_owned),
        code_challenge: challenge.clone(),
        resource,
        scopes,
        csrf_hash: sha256_b64(csrf.as_bytes()),
        browser_hash: None,
    };
    let stored = match encode(RECORD_VERSION, &pending) {
        Ok(bytes) => {
            server
                .store
                .set(
                    &Key::new(Kind::Session, format!("authz:{request_id}")),
                    &bytes,
                    Some(PENDING_TTL),
                )
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        tracing::warn!(error = %e, "authorization: store error");
        return back.error(
            "temporarily_unavailable",
            "the server could not store the request; try again",
        );
    }
    consent_page(&client, &pending, &request_id, &csrf)
}

fn consent_page(
    client: &crate::clients::ClientRecord,
    pending: &Pending,
    request_id: &str,
    csrf: &str,
) -> Response {
    let host = Url::parse(&pending.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let scopes: String = pending
        .scopes
        .iter()
        .map(|s| {
            format!(
                "<li><code>{}</code>: {}</li>",
                html_escape(s),
                html_escape(crate::scopes::describe(s))
            )
        })
        .collect();
    let body = format!(
        "<p><strong>{name}</strong> wants to use gojira-mcp on your behalf.</p>\
<p>After you continue, you sign in at Atlassian; you will then be sent back to <strong>{host}</strong>.</p>\
<p>It will be able to act in Atlassian as you, through gojira-mcp, with exactly these permissions (and never more than your own Atlassian permissions allow):</p><ul>{scopes}</ul>\
<p><small>Client id: <code>{id}</code>. The client chose its own name; continue only if you started this from an app you trust.</small></p>\
<form method=\"post\" action=\"/authorize/consent\">\
<input type=\"hidden\" name=\"request_id\" value=\"{request_id}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" name=\"decision\" value=\"approve\">Continue to Atlassian</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        name = html_escape(client.display_name()),
        host = html_escape(&host),
        id = html_escape(&client.client_id),
        request_id = html_escape(request_id),
        csrf = html_escape(csrf),
    );
    let mut response = html_page(StatusCode::OK, "Allow access to gojira-mcp?", &body);
    set_cookie(&mut response, CSRF_COOKIE, csrf, PENDING_TTL);
    response
}

/// `POST /authorize/consent`.
pub(crate) async fn consent(
    State(server): State<Arc<AuthServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &format!("Invalid request: {e}.")),
    };
    let (Some(request_id), Some(csrf)) = (form.get("request_id"), form.get("csrf")) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request: the consent form is incomplete.",
        );
    };
    let forbidden = || {
        error_page(
            StatusCode::FORBIDDEN,
            "This approval did not come from the consent page shown to you (CSRF check failed).",
        )
    };
    let Some(cookie_value) = cookie(&headers, CSRF_COOKIE) else {
        return forbidden();
    };
    if !ct_eq(cookie_value.as_bytes(), csrf.as_bytes()) {
        return forbidden();
    }
    let key = Key::new(Kind::Session, format!("authz:{request_id}"));
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request has expired or was already used.",
        )
    };
    let pending: Pending = match server.store.get(&key).await {
        Ok(Some(bytes)) => match decode(&key, &bytes, |v| v == RECORD_VERSION) {
            Ok((_, p)) => p,
            Err(e) => return store_failure(&e),
        },
        Ok(None) => return expired(),
        Err(e) => return store_failure(&e),
    };
    if !ct_eq(
        sha256_b64(csrf.as_bytes()).as_bytes(),
        pending.csrf_hash.as_bytes(),
    ) {
        return forbidden();
    }
    // Single use: of two submissions, one proceeds.
    match server.store.take(&key).await {
        Ok(Some(_)) => {}
        Ok(None) => return expired(),
        Err(e) => return store_failure(&e),
    }
    let back = Back {
        redirect_uri: &pending.redirect_uri,
        state: pending.state.as_deref(),
        issuer: server.config().issuer(),
    };
    let mut response = match form.get("decision").map(String::as_str) {
        Some("approve") => {
            let upstream_state = random_token();
            let browser = random_token();
            let pending = Pending {
                browser_hash: Some(sha256_b64(browser.as_bytes())),
                ..pending.clone()
            };
            let stored = match encode(RECORD_VERSION, &pending) {
                Ok(bytes) => {
                    server
                        .store
                        .set(
                            &Key::new(Kind::OauthState, upstream_state.clone()),
                            &bytes,
                            Some(PENDING_TTL),
                        )
                        .await
                }
                Err(e) => Err(e),
            };
            match stored {
                Ok(()) => {
                    let mut response = redirect(&server.atlassian_authorize_url(&upstream_state));
                    set_cookie(&mut response, SIGNIN_COOKIE, &browser, PENDING_TTL);
                    response
                }
                Err(e) => {
                    tracing::warn!(error = %e, "consent: store error");
                    back.error(
                        "temporarily_unavailable",
                        "the server could not store the request; try again",
                    )
                }
            }
        }
        _ => back.error("access_denied", "the user denied access"),
    };
    set_cookie(&mut response, CSRF_COOKIE, "", Duration::ZERO);
    response
}

/// Appends a `__Host-` cookie (Secure, HttpOnly, SameSite=Lax, Path=/);
/// an empty value with a zero lifetime clears it.
fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: Duration) {
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{name}={value}; Secure; HttpOnly; SameSite=Lax; Path=/; Max-Age={}",
        max_age.as_secs()
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

impl AuthServer {
    fn atlassian_authorize_url(&self, state: &str) -> String {
        let scope = self.config.atlassian_scopes.join(" ");
        let params: Vec<(&str, &str)> = vec![
            ("audience", "api.atlassian.com"),
            ("client_id", &self.config.atlassian_client_id),
            ("scope", &scope),
            ("redirect_uri", ""),
            ("state", state),
            ("response_type", "code"),
            ("prompt", "consent"),
        ];
        let callback = self.callback_url();
        let mut url = format!("{}/authorize?", self.config.atlassian_auth_base);
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, if k == "redirect_uri" { &callback } else { v });
        }
        url.push_str(&ser.finish());
        url
    }
}

/// `GET /oauth/callback`: Atlassian sends the user back here. Completes
/// only in the browser that approved our consent page (the sign-in cookie),
/// so a link to Atlassian approved by someone else signs nobody in.
pub(crate) async fn callback(
    State(server): State<Arc<AuthServer>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut response = callback_impl(&server, &headers, query).await;
    set_cookie(&mut response, SIGNIN_COOKIE, "", Duration::ZERO);
    response
}

async fn callback_impl(
    server: &AuthServer,
    headers: &HeaderMap,
    query: Option<String>,
) -> Response {
    let params = match parse_form(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &format!("Invalid callback: {e}.")),
    };
    let Some(state) = params.get("state") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid callback: state is missing.",
        );
    };
    let key = Key::new(Kind::OauthState, state.clone());
    let pending: Pending = match server.store.take(&key).await {
        Ok(Some(bytes)) => match decode(&key, &bytes, |v| v == RECORD_VERSION) {
            Ok((_, p)) => p,
            Err(e) => return store_failure(&e),
        },
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in has expired or was already completed.",
            );
        }
        Err(e) => return store_failure(&e),
    };
    let same_browser = match (cookie(headers, SIGNIN_COOKIE), &pending.browser_hash) {
        (Some(presented), Some(expected)) => ct_eq(
            sha256_b64(presented.as_bytes()).as_bytes(),
            expected.as_bytes(),
        ),
        _ => false,
    };
    if !same_browser {
        tracing::warn!(client = %pending.client_id, "refused a sign-in callback from a browser that did not approve it");
        return error_page(
            StatusCode::FORBIDDEN,
            "This sign-in was started in a different browser, so gojira-mcp did not sign you in and sent nothing to the app. \
If you started it yourself, start again from your app in this browser; if someone sent you this link, ignore it.",
        );
    }
    let back = Back {
        redirect_uri: &pending.redirect_uri,
        state: pending.state.as_deref(),
        issuer: server.config().issuer(),
    };
    if let Some(error) = params.get("error") {
        let code = if error == "access_denied" {
            "access_denied"
        } else {
            "server_error"
        };
        return back.error(code, "Atlassian did not grant access");
    }
    let Some(code) = params.get("code") else {
        return back.error("server_error", "Atlassian returned no authorization code");
    };
    match server.complete_sign_in(&pending, code).await {
        Ok(our_code) => back.with(&[("code", &our_code)]),
        Err((error, description)) => back.error(error, &description),
    }
}

impl AuthServer {
    /// Exchanges Atlassian's code, learns the user and sites, enforces the
    /// pin, stores the credential, and issues our code.
    async fn complete_sign_in(
        &self,
        pending: &Pending,
        code: &str,
    ) -> Result<String, (&'static str, String)> {
        let upstream = |e: CallError| match e {
            CallError::InvalidGrant => (
                "access_denied",
                "Atlassian refused the sign-in; try again".to_string(),
            ),
            CallError::Other(reason) => {
                tracing::warn!(%reason, "Atlassian sign-in failed");
                (
                    "temporarily_unavailable",
                    format!("signing in at Atlassian failed: {reason}"),
                )
            }
        };
        let store = |e: StoreError| {
            tracing::warn!(error = %e, "sign-in: store error");
            (
                "temporarily_unavailable",
                "the server could not store the sign-in; try again".to_string(),
            )
        };
        let tokens = self.exchange_code(code).await.map_err(upstream)?;
        let sites = self
            .accessible_resources(&tokens.access_token)
            .await
            .map_err(upstream)?;
        let me = self.me(&tokens.access_token).await.map_err(upstream)?;
        let cloud_ids: Vec<String> = sites.into_iter().map(|s| s.id).collect();
        if let Some(pin) = &self.config.pinned_cloud_id
            && !cloud_ids.iter().any(|c| c == pin)
        {
            tracing::warn!(account = %me.account_id, "refused a sign-in without access to the pinned site");
            return Err((
                "access_denied",
                format!(
                    "this gojira-mcp server only serves the Atlassian site {pin}, and this sign-in did not grant access to it; sign in with an account on that site and select it"
                ),
            ));
        }
        let granted: Vec<String> = tokens
            .scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_else(|| self.config.atlassian_scopes.clone());
        let credential = Credential {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_at_ms: self
                .clock
                .now_ms()
                .saturating_add(tokens.expires_in.unwrap_or(3600).saturating_mul(1000)),
            cloud_ids: cloud_ids.clone(),
            scopes: granted,
            reconsent_needed: false,
        };
        self.save_credential(&me.account_id, &credential)
            .await
            .map_err(store)?;
        // gojira's scopes are what the user approved on the consent page.
        let scopes = pending.scopes.clone();
        let record = CodeRecord {
            grant: Grant {
                account_id: me.account_id.clone(),
                client_id: pending.client_id.clone(),
                scopes,
                cloud_ids,
                email: me.email,
                audience: self.config.resource.to_string(),
            },
            redirect_uri: pending.redirect_uri.clone(),
            code_challenge: pending.code_challenge.clone(),
            resource: pending.resource.clone(),
        };
        tracing::info!(account = %me.account_id, client = %pending.client_id, "user signed in");
        self.issue_code(&record).await.map_err(store)
    }
}
