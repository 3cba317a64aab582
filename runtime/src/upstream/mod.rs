//! The one HTTP client toward Atlassian: base-URL expansion, upstream auth,
//! pacing within Atlassian's rate limits ([`crate::upstream::pacing`]), retries of
//! idempotent requests, a deadline on every call, and Atlassian error bodies
//! turned into messages a person (or a model) can act on.
//!
//! Retries: GET, PUT and DELETE only (POST and PATCH never: a repeated create
//! may create twice), on 429, 502, 503, 504 and connection failures, after
//! an exponential backoff with full jitter (100 ms base, 2 s cap) and never
//! before `Retry-After`; at most [`MAX_ATTEMPTS`] attempts, all within the
//! call's one deadline.
//!
//! Answers: at most [`MAX_RESPONSE_BYTES`] of a body are read (the body is
//! streamed and the connection dropped at the cap). Whatever comes back,
//! answer or error, has the call's credentials and credential patterns
//! redacted ([`crate::redact`]) before anyone sees it.

pub mod cache;
pub mod pacing;
pub mod shape;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tracing::debug;

use crate::catalog::{AuthKind, Method, Product, UpstreamRequest};
use crate::config::{Credential, SITE_VARS, Secret, UpstreamConfig};
use crate::error::{ErrorCode, ToolError};
use crate::redact::{self, Known};
use crate::upstream::pacing::{Class, Pacer, PacingLimits, Scope, Signals};

/// Largest upstream response body read (16 MiB); reading stops there.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Most attempts of one request (the deadline usually ends retries first).
pub const MAX_ATTEMPTS: u32 = 5;
/// Backoff before the first retry is drawn from `0..=BACKOFF_BASE`, doubling per retry...
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// ... up to this.
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// A successful upstream answer.
#[derive(Debug)]
pub struct UpstreamResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body, if any (non-JSON bodies become a string).
    pub body: Option<Value>,
    /// Atlassian's request/trace id, when sent.
    pub request_id: Option<String>,
    /// The `Location` header (an asynchronous operation's task), when sent.
    pub location: Option<String>,
}

/// The credential one call uses toward Atlassian (org-admin products always
/// use the org key, whatever this says).
#[derive(Debug, Clone)]
pub enum CallCredential {
    /// The credential from the environment (local mode).
    Configured,
    /// The user's OAuth access token, through `{api}/ex/{site var}/{cloud_id}`.
    Bearer {
        /// Access token.
        token: Secret,
        /// The site.
        cloud_id: String,
        /// Whose token (pacing scope; never the token).
        owner: String,
    },
    /// The user's own API token (Basic `email:token`): classic tokens go to
    /// the site URL, scoped ones through `{api}/ex/{site var}/{cloud_id}`.
    Basic {
        /// Account email.
        email: String,
        /// API token.
        token: Secret,
        /// `Some(cloud)` for a scoped token.
        scoped_cloud_id: Option<String>,
        /// Whose token (pacing scope; never the token).
        owner: String,
    },
}

impl CallCredential {
    /// The pacing scope's credential label: the kind and whose it is.
    fn label(&self, product: &Product, configured: &Credential) -> String {
        match (product.auth, self) {
            (AuthKind::OrgAdmin, _) => "org_key".to_owned(),
            (_, CallCredential::Bearer { owner, .. }) => format!("bearer:{owner}"),
            (_, CallCredential::Basic { owner, .. }) => format!("basic:{owner}"),
            (_, CallCredential::Configured) => match configured {
                Credential::ApiToken { .. } => "basic",
                Credential::Bearer { .. } => "bearer",
                Credential::None => "none",
            }
            .to_owned(),
        }
    }

    /// The value of base-URL variable `var` this credential decides, if any.
    fn var(&self, var: &str, config: &UpstreamConfig) -> Option<Result<String, ToolError>> {
        let api = || config.vars.get("api").cloned().unwrap_or_default();
        let cloud = match self {
            CallCredential::Configured => return None,
            CallCredential::Bearer { cloud_id, .. } => Some(cloud_id),
            CallCredential::Basic {
                scoped_cloud_id, ..
            } => scoped_cloud_id.as_ref(),
        };
        match cloud {
            Some(cloud) if var == "cloudId" => Some(Ok(cloud.clone())),
            Some(cloud) if SITE_VARS.contains(&var) => {
                Some(Ok(format!("{}/ex/{var}/{cloud}", api())))
            }
            None if SITE_VARS.contains(&var) => Some(config.site_url.clone().ok_or_else(|| {
                ToolError::not_configured(
                    "a classic API token is used against the site URL, which is not configured; the operator must set ATLASSIAN_SITE_URL",
                )
            })),
            _ => None,
        }
    }
}

/// A pacing scope's identity: (product key, credential label).
type ScopeId = (&'static str, String);

/// The upstream HTTP client.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    config: UpstreamConfig,
    pacer: Pacer,
    /// (product key, credential label) → its pacing scope (tenant + credential).
    scopes: Arc<Mutex<HashMap<ScopeId, Arc<Scope>>>>,
    /// The configured credentials (API token, bearer, org key), redacted from everything.
    configured: Known,
}

/// One attempt's answer (any status).
struct Answer {
    status: u16,
    body: Option<Value>,
    request_id: Option<String>,
    retry_after: Option<String>,
    location: Option<String>,
    signals: Signals,
}

/// One attempt that got no (complete) answer.
enum Failure {
    /// Network trouble; `sent` is false when the connection was never made.
    Network { reason: String, sent: bool },
    /// An answer that cannot be used, whatever the retries.
    Final(ToolError),
}

impl Upstream {
    /// Builds the pooled rustls client and the pacer (shared through
    /// `store` when it is Redis; see [`crate::upstream::pacing`]).
    pub fn new(
        config: UpstreamConfig,
        store: Option<gojira_store::Store>,
    ) -> Result<Self, ToolError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(concat!("gojira-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ToolError::internal(format!("could not build the HTTP client: {e}")))?;
        let limits = PacingLimits::new(config.rate_per_sec, config.burst_capacity)
            .with_backoff_max(config.backoff_max);
        let mut configured = Known::new();
        match &config.credential {
            Credential::ApiToken { email, token } => configured.add_basic(email, token.expose()),
            Credential::Bearer { token } => configured.add(token.expose()),
            Credential::None => {}
        }
        if let Some(key) = &config.org_admin_token {
            configured.add(key.expose());
        }
        Ok(Self {
            client,
            config,
            pacer: Pacer::new(limits, store),
            scopes: Arc::default(),
            configured,
        })
    }

    /// The configured credentials, as secrets to redact.
    pub fn configured_secrets(&self) -> &Known {
        &self.configured
    }

    /// The secrets a call as `credential` knows: the configured ones and the
    /// user's own.
    pub fn secrets_of(&self, credential: &CallCredential) -> Known {
        let mut known = self.configured.clone();
        match credential {
            CallCredential::Configured => {}
            CallCredential::Bearer { token, .. } => known.add(token.expose()),
            CallCredential::Basic { email, token, .. } => known.add_basic(email, token.expose()),
        }
        known
    }

    /// The pacer (shared by every call).
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// A base-URL variable's configured value (`api`, `orgId`, ...).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.config.vars.get(name).map(String::as_str)
    }

    /// Expands a product's base URL template with the configured credential.
    pub fn base_url(&self, product: &Product) -> Result<String, ToolError> {
        self.base_url_for(product, &CallCredential::Configured)
    }

    /// Expands a product's base URL template for `credential` (a user's
    /// token routes the site variables through `{api}/ex/...`).
    pub fn base_url_for(
        &self,
        product: &Product,
        credential: &CallCredential,
    ) -> Result<String, ToolError> {
        let mut out = String::new();
        let mut rest = product.base_url;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let var = &after[..end];
            let value = match credential.var(var, &self.config) {
                Some(decided) => decided?,
                None => self.config.vars.get(var).cloned().ok_or_else(|| {
                    ToolError::not_configured(format!(
                        "{} tools need {} to be configured; set {}",
                        product.title,
                        var,
                        env_var_for(var)
                    ))
                })?,
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Sends one request with the configured credential; see [`Upstream::send_with`].
    pub async fn send(
        &self,
        product: &Product,
        operation: &str,
        request: &UpstreamRequest,
        deadline: Duration,
    ) -> Result<UpstreamResponse, ToolError> {
        self.send_with(
            &CallCredential::Configured,
            product,
            operation,
            request,
            deadline,
        )
        .await
    }

    /// Sends one request as `credential`, paced and retried (idempotent
    /// methods only) within `deadline`, the budget of the whole call. The
    /// answer and any error come back with the credentials redacted.
    pub async fn send_with(
        &self,
        credential: &CallCredential,
        product: &Product,
        operation: &str,
        request: &UpstreamRequest,
        deadline: Duration,
    ) -> Result<UpstreamResponse, ToolError> {
        let known = self.secrets_of(credential);
        self.send_redacted(credential, product, operation, request, deadline, &known)
            .await
            .map_err(|mut e| {
                redact::error(&mut e, &known);
                e
            })
    }

    async fn send_redacted(
        &self,
        credential: &CallCredential,
        product: &Product,
        operation: &str,
        request: &UpstreamRequest,
        deadline: Duration,
        known: &Known,
    ) -> Result<UpstreamResponse, ToolError> {
        let deadline_at = Instant::now() + deadline;
        let base = self.base_url_for(product, credential)?;
        let url = format!("{base}{}", request.path);
        // Configuration errors surface before any token is spent.
        let mut next = Some(self.build(product, credential, &url, request)?);
        let scope = self.scope(product, credential, &base);
        let home = Class::of_request(request.method, &request.path);
        let idempotent = matches!(request.method, Method::Get | Method::Put | Method::Delete);
        let timed_out = |attempts: u32| {
            with_attempts(
                ToolError::timeout(format!(
                    "{operation} did not answer within {} ms; try again, or narrow the request",
                    deadline.as_millis()
                )),
                attempts,
            )
        };
        let mut refused_by = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let builder = match next.take() {
                Some(builder) => builder,
                None => self.build(product, credential, &url, request)?,
            };
            let paced = if self.config.pacing {
                tokio::time::timeout_at(
                    deadline_at,
                    self.pacer.acquire(&scope, home, refused_by, deadline_at),
                )
                .await
            } else {
                Ok(Ok(()))
            };
            match paced {
                Ok(Ok(())) => {}
                Ok(Err(denied)) => {
                    return Err(with_attempts(
                        ToolError::with_code(
                            ErrorCode::UpstreamRateLimited,
                            denied.message(operation),
                            None,
                        ),
                        attempt - 1,
                    ));
                }
                Err(_) => return Err(timed_out(attempt - 1)),
            }
            debug!(operation, method = request.method.as_str(), path = %request.path, attempt, "upstream request");
            let outcome =
                match tokio::time::timeout_at(deadline_at, self.attempt(builder, operation, known))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => return Err(timed_out(attempt)),
                };
            // What to say if this is the last attempt, and the least wait before the next.
            let (final_error, min_wait) = match outcome {
                Ok(answer) => {
                    refused_by = if !self.config.pacing
                        || (answer.signals.is_quiet() && answer.status != 429)
                    {
                        None
                    } else {
                        self.pacer
                            .observe(&scope, home, answer.status, &answer.signals)
                            .await
                    };
                    if (200..400).contains(&answer.status) {
                        if self.config.pacing {
                            self.pacer.succeeded(&scope, home);
                        }
                        return Ok(UpstreamResponse {
                            status: answer.status,
                            body: answer.body,
                            request_id: answer.request_id,
                            location: answer.location,
                        });
                    }
                    let min_wait = answer.signals.retry_after.unwrap_or(Duration::ZERO);
                    let retry_after = answer.retry_after.or_else(|| {
                        (answer.status == 429)
                            .then(|| {
                                let paused = scope.paused_until_ms(refused_by.unwrap_or(home));
                                let ms = paused.saturating_sub(crate::upstream::pacing::now_ms());
                                (ms > 0).then(|| ms.div_ceil(1000).to_string())
                            })
                            .flatten()
                    });
                    let error = ToolError::from_upstream_status(
                        operation,
                        answer.status,
                        answer.body.as_ref(),
                        retry_after.as_deref(),
                        answer.request_id.as_deref(),
                    );
                    if !(idempotent && matches!(answer.status, 429 | 502 | 503 | 504)) {
                        return Err(with_attempts(error, attempt));
                    }
                    (error, min_wait)
                }
                Err(Failure::Final(error)) => return Err(with_attempts(error, attempt)),
                Err(Failure::Network { reason, sent }) => {
                    if !sent && !idempotent {
                        return Err(with_attempts(
                            ToolError::upstream_unavailable(format!(
                                "{operation}: could not reach Atlassian ({reason}); nothing was sent, so calling again is safe"
                            )),
                            attempt,
                        ));
                    } else if !idempotent {
                        return Err(with_attempts(
                            ToolError::upstream_unavailable(format!(
                                "{operation}: the connection failed after the request was sent ({reason}); the request may or may not have been applied; check the resource before retrying"
                            )),
                            attempt,
                        ));
                    } else {
                        let error = ToolError::upstream_unavailable(format!(
                            "{operation}: could not reach Atlassian ({reason})"
                        ));
                        (error, Duration::ZERO)
                    }
                }
            };
            let wait = backoff(attempt).max(min_wait);
            if attempt >= MAX_ATTEMPTS || Instant::now() + wait >= deadline_at {
                return Err(with_attempts(final_error, attempt));
            }
            debug!(
                operation,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying upstream request"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The pacing scope of `product` (tenant: its base URL without the
    /// scheme, plus the configured cloud id; and the credential: its kind,
    /// and whose it is for a user's own).
    fn scope(&self, product: &Product, credential: &CallCredential, base: &str) -> Arc<Scope> {
        let label = credential.label(product, &self.config.credential);
        let mut scopes = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        let id = (product.key, label);
        if let Some(scope) = scopes.get(&id) {
            return scope.clone();
        }
        let host_and_path = base
            .split_once("://")
            .map_or(base, |(_, rest)| rest)
            .trim_end_matches('/');
        let tenant = match self.config.vars.get("cloudId") {
            Some(cloud) if !host_and_path.contains(cloud.as_str()) => {
                format!("{host_and_path}@{cloud}")
            }
            _ => host_and_path.to_owned(),
        };
        let scope = self.pacer.scope(&tenant, &id.1);
        scopes.insert(id, scope.clone());
        scope
    }

    /// The request of one attempt, authorized.
    fn build(
        &self,
        product: &Product,
        credential: &CallCredential,
        url: &str,
        request: &UpstreamRequest,
    ) -> Result<reqwest::RequestBuilder, ToolError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut builder = self
            .client
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, *value);
        }
        self.authorize(product, credential, builder)
    }

    /// Sends one attempt and reads its answer (at most
    /// [`MAX_RESPONSE_BYTES`] of it), redacting `known` secrets and
    /// credential patterns from the body.
    async fn attempt(
        &self,
        builder: reqwest::RequestBuilder,
        operation: &str,
        known: &Known,
    ) -> Result<Answer, Failure> {
        let mut response = builder.send().await.map_err(|e| Failure::Network {
            reason: reqwest_reason(&e),
            sent: !e.is_connect(),
        })?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let request_id = headers
            .get("atl-traceid")
            .or_else(|| headers.get("x-arequestid"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let signals = Signals::from_headers(headers);
        let too_large = || {
            Failure::Final(ToolError::new(
                ErrorCode::ResponseTooLarge,
                format!(
                    "{operation}: Atlassian's answer is larger than the {} MiB gojira reads, so it stopped reading. Next: ask for less: a smaller `limit` on a paged tool, or narrower filters",
                    MAX_RESPONSE_BYTES / (1024 * 1024)
                ),
            ))
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        // Streamed, so an endless answer costs at most the cap; dropping
        // `response` early closes the connection.
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| Failure::Network {
            reason: format!("the response was cut off: {}", reqwest_reason(&e)),
            sent: true,
        })? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let mut body = if bytes.is_empty() {
            // Atlassian answers some long-running operations with 303 and a task URL.
            location
                .clone()
                .map(|l| serde_json::json!({ "status": status, "location": l }))
        } else {
            Some(serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|_| {
                // Redacted whole before it is cut, so no secret is cut in half.
                let text = String::from_utf8_lossy(&bytes);
                Value::String(redact::text(&text, known).chars().take(2000).collect())
            }))
        };
        if let Some(body) = &mut body {
            redact::strings(body, known);
        }
        Ok(Answer {
            status,
            body,
            request_id,
            retry_after,
            location,
            signals,
        })
    }

    fn authorize(
        &self,
        product: &Product,
        credential: &CallCredential,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ToolError> {
        match product.auth {
            AuthKind::OrgAdmin => {
                if !self.config.org_admin_enabled {
                    return Err(ToolError::not_configured(
                        "org-admin tools are disabled; set GOJIRA_ENABLE_ORG_ADMIN=true and GOJIRA_ORG_ADMIN_TOKEN",
                    ));
                }
                let token = self.config.org_admin_token.as_ref().ok_or_else(|| {
                    ToolError::not_configured(
                        "set GOJIRA_ORG_ADMIN_TOKEN to an organization API key",
                    )
                })?;
                Ok(builder.bearer_auth(token.expose()))
            }
            AuthKind::Oauth | AuthKind::ApiToken => match credential {
                CallCredential::Bearer { token, .. } => Ok(builder.bearer_auth(token.expose())),
                CallCredential::Basic { email, token, .. } => {
                    Ok(builder.basic_auth(email, Some(token.expose())))
                }
                CallCredential::Configured => self.authorize_configured(builder),
            },
        }
    }

    fn authorize_configured(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ToolError> {
        match &self.config.credential {
            Credential::ApiToken { email, token } => {
                Ok(builder.basic_auth(email, Some(token.expose())))
            }
            Credential::Bearer { token } => Ok(builder.bearer_auth(token.expose())),
            Credential::None => Err(ToolError::not_configured(
                "no Atlassian credential is configured; set ATLASSIAN_SITE_URL, ATLASSIAN_EMAIL and ATLASSIAN_API_TOKEN (or run `gojira-mcp serve --sandbox`)",
            )),
        }
    }
}

fn env_var_for(var: &str) -> &'static str {
    match var {
        "jira" | "confluence" => {
            "ATLASSIAN_SITE_URL (or ATLASSIAN_ACCESS_TOKEN with ATLASSIAN_CLOUD_ID)"
        }
        "api" => "ATLASSIAN_API_BASE_URL",
        "workspaceId" => "GOJIRA_ASSETS_WORKSPACE_ID",
        "orgId" => "GOJIRA_ORG_ID",
        "cloudId" => "ATLASSIAN_CLOUD_ID",
        _ => "the matching variable (see README)",
    }
}

/// Adds how many attempts were made, when more than one.
fn with_attempts(mut error: ToolError, attempts: u32) -> ToolError {
    if attempts > 1 {
        error
            .message
            .push_str(&format!(" ({attempts} attempts were made)"));
    }
    error
}

/// Full jitter: a uniform draw from zero to `BACKOFF_BASE * 2^(failures - 1)`, capped.
fn backoff(failures: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let ms = ceiling.as_millis() as u64;
    Duration::from_millis(random_u64() % (ms + 1))
}

/// A random number (std's randomly keyed hasher; no dependency needed for jitter).
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

fn reqwest_reason(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection failed".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_body() || e.is_decode() {
        "bad response body".to_owned()
    } else if std::error::Error::source(e).is_some() {
        // e.g. "connection closed before message completed" (the URL is left out).
        let mut reason = String::from("connection failed");
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            reason = inner.to_string();
            source = inner.source();
        }
        reason
    } else {
        // reqwest's Display includes the URL, never headers.
        e.to_string()
    }
}

/// Installs rustls' ring provider once (reqwest is built without a default provider).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base-URL placeholders codegen lets tools.yaml use (codegen may
    /// not depend on the runtime, nor the runtime on codegen: the list is one
    /// file both read).
    mod allowed {
        include!("../../../codegen/src/placeholders.rs");
    }

    fn product_at(base_url: &str, auth: AuthKind) -> Product {
        Product {
            key: "p",
            title: "P",
            spec: "",
            spec_version: "",
            base_url: Box::leak(base_url.to_owned().into_boxed_str()),
            auth,
        }
    }

    /// Every configuration variable a base URL can use, set, plus `extra`.
    fn configured(extra: &[(&str, &str)]) -> UpstreamConfig {
        let mut vars: std::collections::BTreeMap<String, String> = [
            ("GOJIRA_ENABLED_GROUPS", "read_projects"),
            ("ATLASSIAN_SITE_URL", "https://example.atlassian.net"),
            ("ATLASSIAN_API_BASE_URL", "https://api.example.com"),
            ("ATLASSIAN_CLOUD_ID", "cloud-1"),
            ("GOJIRA_ASSETS_WORKSPACE_ID", "ws-1"),
            ("GOJIRA_ORG_ID", "org-1"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        vars.retain(|_, v| !v.is_empty());
        crate::config::from_vars(&vars).unwrap().upstream
    }

    /// A placeholder codegen accepts but the runtime leaves unfilled would
    /// fail every call of the product that uses it; one the runtime fills but
    /// codegen refuses could never be used; a root that is not a scheme and
    /// host (or a non-root that is) would make codegen's host checks wrong.
    /// Both sides must list the same, in every mode and for every credential.
    #[test]
    fn fills_exactly_the_placeholders_codegen_allows() {
        let names: std::collections::BTreeSet<&str> =
            allowed::PLACEHOLDERS.iter().map(|p| p.name).collect();
        let roots: std::collections::BTreeSet<&str> = allowed::PLACEHOLDERS
            .iter()
            .filter(|p| p.root)
            .map(|p| p.name)
            .collect();
        let mut expected_roots: std::collections::BTreeSet<&str> = SITE_VARS.into();
        expected_roots.insert("api");
        assert_eq!(
            roots, expected_roots,
            "the roots are the site variables and api"
        );
        assert!(
            allowed::ORG_ADMIN_BASE_URL.starts_with("{api}/"),
            "{}",
            allowed::ORG_ADMIN_BASE_URL
        );

        let user_credentials = [
            CallCredential::Configured,
            CallCredential::Bearer {
                token: Secret::new("bearer-token"),
                cloud_id: "cloud-2".into(),
                owner: "u".into(),
            },
            CallCredential::Basic {
                email: "u@example.com".into(),
                token: Secret::new("api-token"),
                scoped_cloud_id: Some("cloud-2".into()),
                owner: "u".into(),
            },
            CallCredential::Basic {
                email: "u@example.com".into(),
                token: Secret::new("api-token"),
                scoped_cloud_id: None,
                owner: "u".into(),
            },
        ];
        for (mode, extra, credentials) in [
            (
                "local, API token",
                &[
                    ("ATLASSIAN_EMAIL", "a@example.com"),
                    ("ATLASSIAN_API_TOKEN", "t"),
                ][..],
                &user_credentials[..1],
            ),
            (
                "local, access token",
                &[("ATLASSIAN_ACCESS_TOKEN", "t")][..],
                &user_credentials[..1],
            ),
            (
                "oauth (no configured credential)",
                &[][..],
                &user_credentials[1..],
            ),
        ] {
            let config = configured(extra);
            let filled: std::collections::BTreeSet<&str> =
                config.vars.keys().map(String::as_str).collect();
            assert_eq!(
                filled, names,
                "{mode}: update codegen/src/placeholders.rs with what config.rs fills"
            );
            let upstream = Upstream::new(config, None).unwrap();
            for credential in credentials {
                for p in allowed::PLACEHOLDERS {
                    let product = product_at(&format!("{{{}}}", p.name), AuthKind::Oauth);
                    let url = upstream
                        .base_url_for(&product, credential)
                        .unwrap_or_else(|e| panic!("{mode}, {credential:?}: {{{}}}: {e}", p.name));
                    assert_eq!(
                        url.contains("://"),
                        p.root,
                        "{mode}, {credential:?}: {{{}}} expands to {url}",
                        p.name
                    );
                }
                let unknown = product_at("{site}/rest", AuthKind::Oauth);
                let e = upstream.base_url_for(&unknown, credential).unwrap_err();
                assert_eq!(e.code, ErrorCode::NotConfigured, "{e}");
            }
        }

        // What codegen and the README tell a maintainer fills each one is
        // what the runtime's own message names.
        for p in allowed::PLACEHOLDERS {
            assert!(!p.oauth.is_empty(), "{}", p.name);
            for var in env_var_for(p.name)
                .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .filter(|w| w.len() > 3)
            {
                assert!(
                    p.local.contains(var),
                    "{{{}}}: the runtime names {var}, placeholders.rs says {:?}",
                    p.name,
                    p.local
                );
            }
        }
    }

    #[test]
    fn backoff_is_full_jitter_within_the_cap() {
        for failures in 1..10 {
            let ceiling = (100u64 << (failures - 1)).min(2000);
            for _ in 0..50 {
                assert!(backoff(failures) <= Duration::from_millis(ceiling));
            }
        }
        let draws: std::collections::BTreeSet<_> = (0..50).map(|_| backoff(5)).collect();
        assert!(draws.len() > 10, "jittered: {draws:?}");
    }

    /// A local upstream whose answer never ends: 64 MiB of a JSON array,
    /// then the connection stays open, silent. Returns its base URL and
    /// how many bytes it managed to send.
    fn endless_upstream() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        std::thread::spawn(move || {
            let Ok((mut socket, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n[";
            if socket.write_all(head).is_err() {
                return;
            }
            let chunk = "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
                .repeat(1024);
            while counter.load(Ordering::Relaxed) < 64 * 1024 * 1024 {
                if socket.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
                counter.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            // Never finish: hold the connection open until the client leaves.
            while socket.read(&mut buf).is_ok_and(|n| n > 0) {}
        });
        (base, sent)
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_at_the_cap() {
        let (base, sent) = endless_upstream();
        let config = UpstreamConfig {
            vars: [("jira".to_owned(), base)].into_iter().collect(),
            credential: Credential::ApiToken {
                email: "a@example.com".into(),
                token: Secret::new("t0ken-value"),
            },
            org_admin_token: None,
            org_admin_enabled: false,
            rate_per_sec: 10.0,
            burst_capacity: 20.0,
            backoff_max: Duration::from_secs(60),
            pacing: false,
            site_url: None,
        };
        let upstream = Upstream::new(config, None).unwrap();
        let product = Product {
            key: "p",
            title: "P",
            spec: "",
            spec_version: "",
            base_url: "{jira}",
            auth: AuthKind::ApiToken,
        };
        let mut request = UpstreamRequest::new(Method::Get);
        request.path = "/rest/items".into();
        let started = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(30),
            upstream.send(&product, "p#listItems", &request, Duration::from_secs(120)),
        )
        .await
        .expect("the endless answer is cut, not read until the deadline");
        let error = answer.expect_err("an answer over the cap is an error");
        assert_eq!(error.code, ErrorCode::ResponseTooLarge, "{error}");
        assert!(
            error.message.contains("16 MiB") && error.message.contains("smaller `limit`"),
            "{error}"
        );
        // Once gojira stops reading, the upstream can only fill the socket buffers.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            sent < MAX_RESPONSE_BYTES + 16 * 1024 * 1024,
            "stopped reading near the cap: the upstream sent {sent} bytes"
        );
        println!(
            "cut after {:?}; the upstream sent {} MiB",
            started.elapsed(),
            sent / (1024 * 1024)
        );
    }

    #[test]
    fn attempts_are_counted_only_when_several() {
        let e = with_attempts(ToolError::timeout("slow."), 1);
        assert_eq!(e.message, "slow.");
        let e = with_attempts(ToolError::timeout("slow."), 3);
        assert!(e.message.ends_with("(3 attempts were made)"));
    }
}
