//! OAuth clients: RFC 7591 dynamic registration, Client ID Metadata
//! Documents (fetched SSRF-safely), and redirect-URI rules.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gojira_store::records::{decode, encode};
use gojira_store::{Key, Kind, StoreError};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::AuthServer;
use crate::util::{no_store_headers, oauth_error, random_token, sha256_b64};

/// Largest registration body.
pub(crate) const MAX_REGISTRATION_BYTES: usize = 16 * 1024;
const MAX_REDIRECT_URIS: usize = 10;
const MAX_REDIRECT_URI_LEN: usize = 2048;
const MAX_CLIENT_NAME_LEN: usize = 200;
/// Largest Client ID Metadata Document.
const MAX_CIMD_BYTES: usize = 5 * 1024;
const CIMD_TIMEOUT: Duration = Duration::from_secs(3);
const CIMD_CACHE_TTL: Duration = Duration::from_secs(300);
const CLIENT_RECORD_VERSION: u16 = 1;

/// A client we know: registered (DCR) or described by its metadata document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClientRecord {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub issued_at: u64,
}

impl ClientRecord {
    /// A name to show on the consent page.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }

    /// Whether `presented` is one of the registered redirect URIs: exact
    /// string match, except that a loopback `http` URI matches on any port
    /// (RFC 8252 §7.3), with everything else (path, query) identical.
    pub fn allows_redirect(&self, presented: &str) -> bool {
        if self.redirect_uris.iter().any(|r| r == presented) {
            return true;
        }
        let Ok(url) = Url::parse(presented) else {
            return false;
        };
        // No normalisation: what was sent must be what we compare.
        if url.as_str() != presented || !is_loopback_http(&url) {
            return false;
        }
        let without_port = |mut u: Url| {
            let _ = u.set_port(None);
            u.to_string()
        };
        let presented = without_port(url);
        self.redirect_uris.iter().any(|r| match Url::parse(r) {
            Ok(reg) if is_loopback_http(&reg) => without_port(reg) == presented,
            _ => false,
        })
    }
}

fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        }
}

/// Checks one redirect URI offered at registration: https, or http on a
/// loopback host; no fragment, no user info; bounded length.
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err(format!(
            "a redirect URI is longer than {MAX_REDIRECT_URI_LEN} bytes"
        ));
    }
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URL: {e}"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(format!("{uri:?} has a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{uri:?} has user information"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback_http(&url) => Ok(()),
        _ => Err(format!(
            "{uri:?} must use https, or http on a loopback host (127.0.0.1, [::1], localhost)"
        )),
    }
}

/// An RFC 7591 registration request (unknown members are ignored).
#[derive(Debug, Deserialize)]
struct RegistrationRequest {
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
}

/// An RFC 7591 error code and its description.
type MetadataError = (&'static str, String);

/// A client's own metadata as we accept it, from DCR or a metadata document.
fn validate_metadata(
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    auth_method: Option<&str>,
    grant_types: Option<&[String]>,
    response_types: Option<&[String]>,
) -> Result<(Vec<String>, Option<String>), MetadataError> {
    let redirect_uris = redirect_uris.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err((
            "invalid_redirect_uri",
            "redirect_uris is required (at least one)".into(),
        ));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err((
            "invalid_redirect_uri",
            format!("at most {MAX_REDIRECT_URIS} redirect_uris are accepted"),
        ));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri).map_err(|m| ("invalid_redirect_uri", m))?;
    }
    if let Some(method) = auth_method
        && method != "none"
    {
        return Err((
            "invalid_client_metadata",
            format!(
                "token_endpoint_auth_method {method:?} is not supported; this server has public clients only (\"none\", with PKCE)"
            ),
        ));
    }
    if let Some(grants) = grant_types
        && let Some(g) = grants
            .iter()
            .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err((
            "invalid_client_metadata",
            format!("grant type {g:?} is not supported (authorization_code, refresh_token)"),
        ));
    }
    if let Some(types) = response_types
        && let Some(t) = types.iter().find(|t| t.as_str() != "code")
    {
        return Err((
            "invalid_client_metadata",
            format!("response type {t:?} is not supported (code)"),
        ));
    }
    let client_name = client_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if let Some(name) = &client_name
        && (name.chars().count() > MAX_CLIENT_NAME_LEN || name.chars().any(char::is_control))
    {
        return Err((
            "invalid_client_metadata",
            format!(
                "client_name must be at most {MAX_CLIENT_NAME_LEN} characters without control characters"
            ),
        ));
    }
    Ok((redirect_uris, client_name))
}

/// `POST /register`.
pub(crate) async fn register(State(server): State<Arc<AuthServer>>, request: Request) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let body = match axum::body::to_bytes(request.into_body(), MAX_REGISTRATION_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return oauth_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_client_metadata",
                "the registration request is larger than 16 KiB",
            );
        }
    };
    match server.register_client(&ip, &body).await {
        Ok(record) => {
            let mut response = (
                StatusCode::CREATED,
                axum::Json(serde_json::json!({
                    "client_id": record.client_id,
                    "client_id_issued_at": record.issued_at,
                    "client_name": record.client_name,
                    "redirect_uris": record.redirect_uris,
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                })),
            )
                .into_response();
            no_store_headers(response.headers_mut());
            response
        }
        Err(RegisterError::Invalid(code, message)) => {
            oauth_error(StatusCode::BAD_REQUEST, code, &message)
        }
        Err(RegisterError::RateLimited) => {
            let mut response = oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many registrations from this address; try again in a minute",
            );
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("60"),
            );
            response
        }
        Err(RegisterError::Store(e)) => {
            tracing::warn!(error = %e, "client registration failed in the store");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "registration is temporarily unavailable",
            )
        }
    }
}

pub(crate) enum RegisterError {
    Invalid(&'static str, String),
    RateLimited,
    Store(StoreError),
}

/// Why a client could not be resolved.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// Unknown client id, or a metadata document that is unusable (the reason).
    Invalid(String),
    Store(StoreError),
}

impl AuthServer {
    pub(crate) async fn register_client(
        &self,
        ip: &str,
        body: &Bytes,
    ) -> Result<ClientRecord, RegisterError> {
        let minute = self.clock.now_ms() / 60_000;
        let counter = Key::new(Kind::Counter, format!("dcr:{ip}:{minute}"));
        let n = self
            .store
            .incr(&counter, 1, Some(Duration::from_secs(120)))
            .await
            .map_err(RegisterError::Store)?;
        if n > i64::from(self.config.dcr_rate) {
            return Err(RegisterError::RateLimited);
        }
        let request: RegistrationRequest = serde_json::from_slice(body).map_err(|_| {
            RegisterError::Invalid(
                "invalid_client_metadata",
                "the body must be a JSON object of client metadata (RFC 7591)".into(),
            )
        })?;
        let (redirect_uris, client_name) = validate_metadata(
            request.redirect_uris,
            request.client_name,
            request.token_endpoint_auth_method.as_deref(),
            request.grant_types.as_deref(),
            request.response_types.as_deref(),
        )
        .map_err(|(code, m)| RegisterError::Invalid(code, m))?;
        let record = ClientRecord {
            client_id: format!("gojira-{}", random_token()),
            client_name,
            redirect_uris,
            issued_at: self.clock.now_ms() / 1000,
        };
        let bytes = encode(CLIENT_RECORD_VERSION, &record).map_err(RegisterError::Store)?;
        self.store
            .set(
                &Key::new(Kind::OauthClient, record.client_id.clone()),
                &bytes,
                None,
            )
            .await
            .map_err(RegisterError::Store)?;
        tracing::info!(client_id = %record.client_id, name = ?record.client_name, "registered an OAuth client");
        Ok(record)
    }

    /// The client `client_id` names: registered, or (a URL) its metadata document.
    pub(crate) async fn client(&self, client_id: &str) -> Result<ClientRecord, ClientError> {
        if client_id.is_empty() || client_id.len() > MAX_REDIRECT_URI_LEN {
            return Err(ClientError::Invalid(
                "client_id is missing or too long".into(),
            ));
        }
        if client_id.starts_with("https://") || client_id.starts_with("http://") {
            return self.metadata_document_client(client_id).await;
        }
        let key = Key::new(Kind::OauthClient, client_id);
        match self.store.get(&key).await.map_err(ClientError::Store)? {
            Some(bytes) => decode::<ClientRecord>(&key, &bytes, |v| v == CLIENT_RECORD_VERSION)
                .map(|(_, r)| r)
                .map_err(ClientError::Store),
            None => Err(ClientError::Invalid(
                "this client is not registered with this server".into(),
            )),
        }
    }

    async fn metadata_document_client(&self, client_id: &str) -> Result<ClientRecord, ClientError> {
        let cache = Key::new(
            Kind::OauthClient,
            format!("cimd:{}", sha256_b64(client_id.as_bytes())),
        );
        if let Some(bytes) = self.store.get(&cache).await.map_err(ClientError::Store)?
            && let Ok((_, record)) =
                decode::<ClientRecord>(&cache, &bytes, |v| v == CLIENT_RECORD_VERSION)
            && record.client_id == client_id
        {
            return Ok(record);
        }
        let record = self
            .fetch_metadata_document(client_id)
            .await
            .map_err(|reason| {
                tracing::info!(client_id, %reason, "refused a client ID metadata document");
                ClientError::Invalid(format!(
                    "the client's metadata document is not usable: {reason}"
                ))
            })?;
        let bytes = encode(CLIENT_RECORD_VERSION, &record).map_err(ClientError::Store)?;
        if let Err(e) = self.store.set(&cache, &bytes, Some(CIMD_CACHE_TTL)).await {
            tracing::warn!(error = %e, "could not cache a client ID metadata document");
        }
        Ok(record)
    }

    /// Fetches and validates a Client ID Metadata Document: resolved first
    /// and refused when any address is not public (unless configured for
    /// tests), connected to exactly the addresses checked, no redirects,
    /// no proxy, 3 s, 5 KiB.
    async fn fetch_metadata_document(&self, client_id: &str) -> Result<ClientRecord, String> {
        let url = Url::parse(client_id).map_err(|e| format!("not a URL ({e})"))?;
        let allow_private = self.config.allow_private_cimd_hosts;
        if url.scheme() != "https" && !(allow_private && url.scheme() == "http") {
            return Err("the client_id URL must use https".into());
        }
        if url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.path() == "/"
            || url.as_str() != client_id
        {
            return Err(
                "the client_id URL must be normalized, have a path, and no fragment or user info"
                    .into(),
            );
        }
        let host = url
            .host_str()
            .ok_or("the client_id URL has no host")?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or("the client_id URL has no port")?;
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => tokio::time::timeout(CIMD_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .map_err(|_| "resolving the host timed out".to_string())?
                .map_err(|e| format!("could not resolve the host ({e})"))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err("the host has no addresses".into());
        }
        if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "the host resolves to a non-public address ({})",
                bad.ip()
            ));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(CIMD_TIMEOUT)
            .connect_timeout(CIMD_TIMEOUT)
            .resolve_to_addrs(&host, &addrs)
            .user_agent(concat!("gojira-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("could not build an HTTP client ({e})"))?;
        let fetch = async {
            let mut response = client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| format!("fetch failed ({})", e.without_url()))?;
            if response.status() != reqwest::StatusCode::OK {
                return Err(format!(
                    "the document answered HTTP {}",
                    response.status().as_u16()
                ));
            }
            if response
                .content_length()
                .is_some_and(|n| n > MAX_CIMD_BYTES as u64)
            {
                return Err("the document is larger than 5 KiB".to_string());
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| format!("reading failed ({})", e.without_url()))?
            {
                if body.len() + chunk.len() > MAX_CIMD_BYTES {
                    return Err("the document is larger than 5 KiB".to_string());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        let body = tokio::time::timeout(CIMD_TIMEOUT, fetch)
            .await
            .map_err(|_| "the fetch took longer than 3 s".to_string())??;

        #[derive(Deserialize)]
        struct Document {
            client_id: Option<String>,
            client_name: Option<String>,
            redirect_uris: Option<Vec<String>>,
            token_endpoint_auth_method: Option<String>,
            grant_types: Option<Vec<String>>,
            response_types: Option<Vec<String>>,
        }
        let doc: Document = serde_json::from_slice(&body)
            .map_err(|_| "the document is not a JSON object of client metadata".to_string())?;
        if doc.client_id.as_deref() != Some(client_id) {
            return Err("the document's client_id is not its own URL".into());
        }
        let (redirect_uris, client_name) = validate_metadata(
            doc.redirect_uris,
            doc.client_name,
            doc.token_endpoint_auth_method.as_deref(),
            doc.grant_types.as_deref(),
            doc.response_types.as_deref(),
        )
        .map_err(|(_, m)| m)?;
        Ok(ClientRecord {
            client_id: client_id.to_owned(),
            client_name,
            redirect_uris,
            issued_at: self.clock.now_ms() / 1000,
        })
    }
}

/// Whether an address is globally routable: not private, loopback,
/// link-local, multicast, unspecified, shared (CGNAT), benchmarking,
/// documentation or reserved. IPv4-mapped IPv6 is judged as IPv4.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str]) -> ClientRecord {
        ClientRecord {
            client_id: "c".into(),
            client_name: None,
            redirect_uris: uris.iter().map(|s| (*s).to_owned()).collect(),
            issued_at: 0,
        }
    }

    #[test]
    fn redirect_matching_is_exact_except_loopback_port() {
        let c = client(&[
            "https://app.example.com/cb",
            "http://127.0.0.1:1234/callback",
        ]);
        assert!(c.allows_redirect("https://app.example.com/cb"));
        for bad in [
            "https://app.example.com/cb/",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb?x=1",
            "https://app.example.com@evil.example/cb",
            "https://app.example.com/cb#frag",
            "http://127.0.0.1:9/callback/",
            "http://127.0.0.1:9/callback?x",
            "http://localhost:9/callback",
            "http://127.0.0.1@evil.example:9/callback",
        ] {
            assert!(!c.allows_redirect(bad), "{bad}");
        }
        assert!(c.allows_redirect("http://127.0.0.1:55555/callback"));
        assert!(c.allows_redirect("http://127.0.0.1/callback"));
    }

    #[test]
    fn registration_redirects() {
        for ok in [
            "https://a.example/cb",
            "http://localhost:3000/cb",
            "http://[::1]/x",
            "http://127.0.0.1/",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://a.example/cb",
            "https://a.example/cb#x",
            "https://u:p@a.example/cb",
            "javascript:alert(1)",
            "/relative",
            "myapp://cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        assert!(check_redirect_uri(&format!("https://a.example/{}", "x".repeat(2100))).is_err());
    }

    #[test]
    fn public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
