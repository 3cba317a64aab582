//! The one HTTP client toward Atlassian: base-URL expansion, upstream auth,
//! a deadline on every call, and Atlassian error bodies turned into
//! messages a person (or a model) can act on.

use std::time::Duration;

use serde_json::Value;
use tracing::debug;

use crate::catalog::{AuthKind, Method, Product, UpstreamRequest};
use crate::config::{Credential, UpstreamConfig};
use crate::error::ToolError;

/// Largest upstream response body accepted.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A successful upstream answer.
#[derive(Debug)]
pub struct UpstreamResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body, if any (non-JSON bodies become a string).
    pub body: Option<Value>,
    /// Atlassian's request/trace id, when sent.
    pub request_id: Option<String>,
}

/// The upstream HTTP client.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    config: UpstreamConfig,
}

impl Upstream {
    /// Builds the pooled rustls client.
    pub fn new(config: UpstreamConfig) -> Result<Self, ToolError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(concat!("gojira-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ToolError::internal(format!("could not build the HTTP client: {e}")))?;
        Ok(Self { client, config })
    }

    /// Expands a product's base URL template.
    pub fn base_url(&self, product: &Product) -> Result<String, ToolError> {
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
            let value = self.config.vars.get(var).ok_or_else(|| {
                ToolError::not_configured(format!(
                    "{} tools need {} to be configured; set {}",
                    product.title,
                    var,
                    env_var_for(var)
                ))
            })?;
            out.push_str(value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Sends one request with a deadline.
    pub async fn send(
        &self,
        product: &Product,
        operation: &str,
        request: &UpstreamRequest,
        deadline: Duration,
    ) -> Result<UpstreamResponse, ToolError> {
        let base = self.base_url(product)?;
        let url = format!("{base}{}", request.path);
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut builder = self
            .client
            .request(method, &url)
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
        builder = self.authorize(product, builder)?;
        debug!(operation, method = request.method.as_str(), path = %request.path, "upstream request");
        let call = async {
            let response = builder.send().await.map_err(|e| {
                ToolError::upstream_unavailable(format!(
                    "{operation}: could not reach Atlassian ({})",
                    reqwest_reason(&e)
                ))
            })?;
            let status = response.status().as_u16();
            let request_id = response
                .headers()
                .get("atl-traceid")
                .or_else(|| response.headers().get("x-arequestid"))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = response.bytes().await.map_err(|e| {
                ToolError::upstream_unavailable(format!(
                    "{operation}: response was cut off ({})",
                    reqwest_reason(&e)
                ))
            })?;
            if bytes.len() > MAX_RESPONSE_BYTES {
                return Err(ToolError::upstream_unavailable(format!(
                    "{operation}: response of {} bytes exceeds the {MAX_RESPONSE_BYTES}-byte limit; narrow the query",
                    bytes.len()
                )));
            }
            let body = if bytes.is_empty() {
                // Atlassian answers some long-running operations with 303 and a task URL.
                location.map(|l| serde_json::json!({ "status": status, "location": l }))
            } else {
                Some(serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&bytes).chars().take(2000).collect())
                }))
            };
            if (200..400).contains(&status) {
                Ok(UpstreamResponse {
                    status,
                    body,
                    request_id,
                })
            } else {
                Err(ToolError::from_upstream_status(
                    operation,
                    status,
                    body.as_ref(),
                    retry_after.as_deref(),
                    request_id.as_deref(),
                ))
            }
        };
        match tokio::time::timeout(deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(ToolError::timeout(format!(
                "{operation} did not answer within {} ms; try again, or narrow the request",
                deadline.as_millis()
            ))),
        }
    }

    fn authorize(
        &self,
        product: &Product,
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
            AuthKind::Oauth | AuthKind::ApiToken => match &self.config.credential {
                Credential::ApiToken { email, token } => {
                    Ok(builder.basic_auth(email, Some(token.expose())))
                }
                Credential::Bearer { token } => Ok(builder.bearer_auth(token.expose())),
                Credential::None => Err(ToolError::not_configured(
                    "no Atlassian credential is configured; set ATLASSIAN_SITE_URL, ATLASSIAN_EMAIL and ATLASSIAN_API_TOKEN (or run `gojira-mcp serve --sandbox`)",
                )),
            },
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

fn reqwest_reason(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection failed".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_body() || e.is_decode() {
        "bad response body".to_owned()
    } else {
        // reqwest's Display includes the URL, never headers.
        e.to_string()
    }
}

/// Installs rustls' ring provider once (reqwest is built without a default provider).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
