//! gojira-mcp's OAuth 2.1 authorization server for MCP clients, the
//! resource-server side that verifies our tokens on `/mcp`, and the
//! Atlassian 3LO leg behind both.
//!
//! The flow: an MCP client registers (RFC 7591) or names a Client ID
//! Metadata Document, sends the user to `/authorize` (PKCE S256), the user
//! approves on our consent page, signs in at Atlassian, Atlassian calls
//! `/oauth/callback`; we keep the user's Atlassian tokens sealed in the store
//! and give the client our own authorization code, which `/token` exchanges
//! for our opaque, audience-bound, hashed-at-rest tokens. Tool calls then use
//! [`AuthServer::atlassian_access_token`], which refreshes the user's
//! Atlassian token once across all instances.
//!
//! Module map: `config` (env), `clients` (DCR, metadata documents, redirect
//! rules), `authorize` (`/authorize`, consent, callback), `tokens` (`/token`,
//! `/revoke`, verification, families), `atlassian` (3LO HTTP calls, stored
//! credentials, single-flight refresh), `metadata` (RFC 9728 / RFC 8414),
//! `util`.

mod atlassian;
mod authorize;
mod clients;
pub mod config;
mod metadata;
pub mod scopes;
mod tokens;
mod util;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{FromFnLayer, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gojira_store::records::Secrets;
use gojira_store::{Clock, Store};

pub use atlassian::UpstreamAuthError;
pub use config::{AuthConfig, AuthConfigError};
pub use gojira_store::crypto::SecretString;

/// Who is calling: established from our bearer token only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The Atlassian account id of the user who signed in.
    pub account_id: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Scopes the token carries.
    pub scopes: Vec<String>,
    /// Atlassian sites (cloud ids) the user granted at sign-in.
    pub cloud_ids: Vec<String>,
    /// The user's email, when Atlassian shared it.
    pub email: Option<String>,
}

/// A refused request to the protected resource: 401 (no or bad token) or 403
/// (insufficient scope) with an RFC 6750 / RFC 9728 `WWW-Authenticate`
/// header, or 503 when the store cannot answer.
#[derive(Debug, Clone)]
pub struct Challenge {
    status: StatusCode,
    error: Option<&'static str>,
    description: Option<String>,
    resource_metadata: String,
    scope: String,
}

impl Challenge {
    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The RFC 6750 error code, when a token was presented.
    pub fn error(&self) -> Option<&'static str> {
        self.error
    }

    /// The `WWW-Authenticate` value.
    pub fn www_authenticate(&self) -> String {
        let mut value = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            self.resource_metadata, self.scope
        );
        if let Some(error) = self.error {
            value.push_str(&format!(", error=\"{error}\""));
        }
        if let Some(description) = &self.description {
            let clean: String = description
                .chars()
                .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
                .collect();
            value.push_str(&format!(", error_description=\"{clean}\""));
        }
        value
    }

    /// 403 `insufficient_scope` (MCP 2025-11-25 step-up) for `principal`,
    /// whose token lacks `needed`: `scope` names what it already has plus
    /// what it needs, so a client that replaces its scope set (rather than
    /// adding to it) keeps what was granted.
    pub fn insufficient_scope(server: &AuthServer, principal: &Principal, needed: &str) -> Self {
        let scope = scopes::canonical(
            principal
                .scopes
                .iter()
                .map(String::as_str)
                .chain(std::iter::once(needed)),
        )
        .join(" ");
        Self {
            status: StatusCode::FORBIDDEN,
            error: Some("insufficient_scope"),
            description: Some(format!(
                "this needs the {needed} scope, which this sign-in did not grant; sign in again granting it"
            )),
            resource_metadata: server.resource_metadata_url(),
            scope,
        }
    }
}

impl IntoResponse for Challenge {
    fn into_response(self) -> Response {
        let mut response = match self.status {
            StatusCode::SERVICE_UNAVAILABLE => (
                self.status,
                axum::Json(serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": "authorization is temporarily unavailable; try again",
                })),
            )
                .into_response(),
            status => (
                status,
                axum::Json(serde_json::json!({
                    "error": self.error.unwrap_or("unauthorized"),
                    "error_description": self.description.clone().unwrap_or_else(|| "a bearer token is required".into()),
                })),
            )
                .into_response(),
        };
        if let Ok(value) = HeaderValue::from_str(&self.www_authenticate()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The authorization server: shared behind an `Arc` by the router, the
/// middleware and tool calls.
#[derive(Debug)]
pub struct AuthServer {
    config: AuthConfig,
    store: Store,
    secrets: Secrets,
    clock: Clock,
    http: reqwest::Client,
}

/// The authorization server's HTTP client could not be built (the TLS
/// roots or resolver could not be loaded).
#[derive(Debug, thiserror::Error)]
#[error(
    "the authorization server's HTTP client (for Atlassian and client metadata documents) could not be built: {0}; check the system's TLS certificates and resolver configuration"
)]
pub struct HttpClientError(reqwest::Error);

/// The future the middleware returns.
pub type GuardFuture = Pin<Box<dyn Future<Output = Response> + Send>>;
/// The middleware function.
pub type GuardFn = fn(State<Arc<AuthServer>>, Request, Next) -> GuardFuture;
/// The layer [`AuthServer::middleware`] returns (`Router::route_layer` it).
pub type AuthLayer = FromFnLayer<GuardFn, Arc<AuthServer>, (State<Arc<AuthServer>>, Request)>;

impl AuthServer {
    /// A server over `store` (`secrets` seals Atlassian credentials in the
    /// same store; `clock` should be the store's).
    ///
    /// # Errors
    /// [`HttpClientError`] when the HTTP client for Atlassian and metadata
    /// documents cannot be built: start-up fails rather than fall back to a
    /// client without timeouts that follows redirects.
    pub fn new(
        config: AuthConfig,
        store: Store,
        secrets: Secrets,
        clock: Clock,
    ) -> Result<Arc<Self>, HttpClientError> {
        // reqwest is built without a default TLS provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("gojira-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(HttpClientError)?;
        Ok(Arc::new(Self {
            config,
            store,
            secrets,
            clock,
            http,
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Every endpoint (metadata, registration, authorize, consent, callback,
    /// token, revoke), to be merged beside `/mcp` at the server's root. For
    /// per-IP registration limits serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(
                "/.well-known/oauth-protected-resource",
                get(metadata::protected_resource),
            )
            .route(
                "/.well-known/oauth-protected-resource/{*path}",
                get(metadata::protected_resource),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(metadata::authorization_server),
            )
            .route(
                "/register",
                post(clients::register)
                    .layer(DefaultBodyLimit::max(clients::MAX_REGISTRATION_BYTES)),
            )
            .route("/authorize", get(authorize::authorize))
            .route(
                "/authorize/consent",
                post(authorize::consent).layer(DefaultBodyLimit::max(8 * 1024)),
            )
            .route("/oauth/callback", get(authorize::callback))
            .route(
                "/token",
                post(tokens::token).layer(DefaultBodyLimit::max(8 * 1024)),
            )
            .route(
                "/revoke",
                post(tokens::revoke).layer(DefaultBodyLimit::max(8 * 1024)),
            )
            .with_state(Arc::clone(self))
    }

    /// Middleware for the protected routes: verifies the bearer token,
    /// inserts the [`Principal`] into the request's extensions, or answers
    /// with the [`Challenge`].
    pub fn middleware(self: &Arc<Self>) -> AuthLayer {
        axum::middleware::from_fn_with_state(Arc::clone(self), guard as GuardFn)
    }

    /// Verifies the `Authorization: Bearer` token in `headers` (tokens in
    /// query strings are never looked at).
    pub async fn verify(&self, headers: &HeaderMap) -> Result<Principal, Challenge> {
        self.verify_impl(headers).await
    }

    /// The user's Atlassian access token for an upstream call, refreshed
    /// (once across all instances) when it expires within 60 s.
    pub async fn atlassian_access_token(
        &self,
        principal: &Principal,
    ) -> Result<SecretString, UpstreamAuthError> {
        self.atlassian_access_token_impl(&principal.account_id)
            .await
    }

    /// `{origin}/.well-known/oauth-protected-resource{resource path}`.
    pub fn resource_metadata_url(&self) -> String {
        let path = self.config.resource.path().trim_end_matches('/');
        format!(
            "{}/.well-known/oauth-protected-resource{}",
            self.config.issuer(),
            path
        )
    }

    fn challenge(&self, error: Option<&'static str>, description: Option<&str>) -> Challenge {
        Challenge {
            status: StatusCode::UNAUTHORIZED,
            error,
            description: description.map(str::to_owned),
            resource_metadata: self.resource_metadata_url(),
            scope: self.config.scopes.join(" "),
        }
    }
}

impl Principal {
    /// Whether the token carries `scope` (see [`scopes`]).
    pub fn has_scope(&self, scope: &str) -> bool {
        scopes::carries(&self.scopes, scope)
    }
}

fn guard(State(server): State<Arc<AuthServer>>, mut request: Request, next: Next) -> GuardFuture {
    Box::pin(async move {
        match server.verify(request.headers()).await {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                next.run(request).await
            }
            Err(challenge) => challenge.into_response(),
        }
    })
}
