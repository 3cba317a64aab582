//! Transports: Streamable HTTP at `/mcp` (with `/health`) on axum, and stdio.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
pub use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::Config;
use crate::mcp::inbound::{Caller, InboundLimiter};
use crate::mcp::server::GojiraServer;
use crate::state::ServerState;

/// Errors starting or running a transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Binding the port failed.
    #[error("could not listen on {addr}: {source}; is another server using MCP_PORT?")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
    /// The stdio session failed to start.
    #[error("stdio session failed: {0}")]
    Stdio(String),
}

#[derive(Clone)]
struct HealthState {
    state: Arc<ServerState>,
    started: Instant,
}

/// The axum app: `/mcp` and `/health`, and in OAuth mode the authorization
/// server's endpoints at the root with `/mcp` behind its bearer check (which
/// runs before the inbound limits, so they key on the verified user). `port`
/// is the bound port (which differs from `MCP_PORT` when that is 0).
pub fn router(
    config: &Config,
    state: Arc<ServerState>,
    shutdown: CancellationToken,
    port: u16,
) -> Router {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = config.server_url.host_str() {
        hosts.push(host.trim_matches(['[', ']']).to_owned());
    }
    let mut http = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_json_response(true)
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(MAX_BODY_BYTES);
    http = match &config.allowed_origins {
        None => http.disable_allowed_origins(),
        Some(list) => {
            let own = config.server_url.origin().ascii_serialization();
            let mut origins = list.clone();
            origins.push(own);
            origins.push(format!("http://localhost:{port}"));
            origins.push(format!("http://127.0.0.1:{port}"));
            http.with_allowed_origins(origins)
                .enforce_origin_validation()
        }
    };
    let factory_state = state.clone();
    let sessions = Arc::new(LocalSessionManager::default());
    let mcp = StreamableHttpService::new(
        move || Ok(GojiraServer::new(factory_state.clone())),
        sessions.clone(),
        http,
    );
    let limits = Arc::new(LimitState {
        limiter: InboundLimiter::new(config.inbound, state.store()),
        state: state.clone(),
    });
    let mut mcp = Router::new()
        .fallback_service(mcp)
        .layer(middleware::from_fn_with_state(sessions, close_session))
        .layer(middleware::from_fn_with_state(limits, inbound_limit));
    let auth = state.identity().oauth_server().cloned();
    let mut app = Router::new()
        .route("/health", get(health))
        .with_state(HealthState {
            state: state.clone(),
            started: Instant::now(),
        });
    if let Some(auth) = auth {
        // Layers run outermost first: the bearer check, then the caller, the
        // session binding, the scope step-up, then the limits.
        let sessions = Arc::new(SessionOwners::default());
        mcp = mcp
            .layer(middleware::from_fn_with_state(
                Arc::new(StepUp {
                    state: state.clone(),
                    auth: auth.clone(),
                }),
                scope_step_up,
            ))
            .layer(middleware::from_fn_with_state(sessions, bind_sessions))
            .layer(middleware::from_fn(caller_from_principal))
            .layer(auth.middleware());
        app = app.merge(
            auth.router()
                .layer(middleware::from_fn(cors_for_oauth_endpoints)),
        );
    }
    app.nest("/mcp", mcp)
}

/// Browser-based MCP clients (the MCP Inspector among them) fetch the
/// metadata and call registration, token and revocation from their own
/// origin: those JSON endpoints answer CORS (any origin, never with
/// credentials, so cookies never ride along). `/authorize` and the consent
/// page are navigations and get nothing.
async fn cors_for_oauth_endpoints(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path();
    let json_endpoint =
        path.starts_with("/.well-known/") || matches!(path, "/register" | "/token" | "/revoke");
    if !json_endpoint {
        return next.run(request).await;
    }
    let headers = [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "authorization, content-type, mcp-protocol-version",
        ),
        (header::ACCESS_CONTROL_MAX_AGE, "600"),
    ];
    if request.method() == axum::http::Method::OPTIONS {
        return (StatusCode::NO_CONTENT, headers).into_response();
    }
    let mut response = next.run(request).await;
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

struct StepUp {
    state: Arc<ServerState>,
    auth: Arc<gojira_auth::AuthServer>,
}

/// The body cap on `/mcp` (rmcp enforces the same).
const MAX_MCP_BODY: usize = 1024 * 1024;

/// MCP 2025-11-25 step-up: a `tools/call` of a tool the bearer's scopes do
/// not allow is answered 403 with `WWW-Authenticate: Bearer
/// error="insufficient_scope", scope="…"` before anything runs. Only a
/// token lacking some offered scope pays for reading the body here.
async fn scope_step_up(
    State(step_up): State<Arc<StepUp>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let Some(user) = request.extensions().get::<gojira_auth::Principal>() else {
        return next.run(request).await;
    };
    let offered = step_up.auth.config().scopes.iter();
    if request.method() != axum::http::Method::POST || offered.clone().all(|s| user.has_scope(s)) {
        return next.run(request).await;
    }
    let user = user.clone();
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_MCP_BODY).await else {
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": -32600, "message": format!("the request body is over the {MAX_MCP_BODY}-byte limit, or could not be read")},
        });
        return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response();
    };
    if let Some(needed) = called_tool(&bytes).and_then(|name| step_up.state.required_scope(&name))
        && !user.has_scope(needed)
    {
        info!(
            needed,
            "refused a tool call outside the token's scopes (step-up)"
        );
        return gojira_auth::Challenge::insufficient_scope(&step_up.auth, &user, needed)
            .into_response();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// The tool a single JSON-RPC `tools/call` message names.
fn called_tool(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Message {
        method: String,
        params: Option<Params>,
    }
    #[derive(serde::Deserialize)]
    struct Params {
        name: Option<String>,
    }
    let message: Message = serde_json::from_slice(body).ok()?;
    (message.method == "tools/call")
        .then_some(message.params?.name)
        .flatten()
}

/// Turns the verified [`gojira_auth::Principal`] into the [`Caller`] the
/// inbound limits read.
async fn caller_from_principal(
    mut request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    if let Some(user) = request.extensions().get::<gojira_auth::Principal>() {
        let caller = Caller {
            principal: crate::identity::principal_id(user),
            client: user.client_id.clone(),
        };
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

/// Which principal opened each MCP session (2025 revisions), least
/// recently used first out when full.
struct SessionOwners(std::sync::Mutex<lru::LruCache<String, String>>);

impl Default for SessionOwners {
    fn default() -> Self {
        Self::with_capacity(MAX_SESSION_BINDINGS)
    }
}

impl SessionOwners {
    fn with_capacity(capacity: std::num::NonZeroUsize) -> Self {
        Self(std::sync::Mutex::new(lru::LruCache::new(capacity)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `principal` may use `session`: yes when it opened it, or when
    /// the session is not bound (it is then bound to `principal`).
    fn claim(&self, session: &str, principal: &str) -> bool {
        let mut map = self.lock();
        match map.get(session) {
            Some(owner) => owner == principal,
            None => {
                map.put(session.to_owned(), principal.to_owned());
                true
            }
        }
    }

    fn bind(&self, session: &str, principal: &str) {
        self.lock().put(session.to_owned(), principal.to_owned());
    }

    fn forget(&self, session: &str) {
        self.lock().pop(session);
    }
}

/// Sessions kept before the least recently used binding is forgotten (a
/// forgotten session is bound again to the next principal that uses it;
/// rmcp closes a session idle for 5 minutes, long before 100,000 others
/// are used after it).
const MAX_SESSION_BINDINGS: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(100_000) {
    Some(n) => n,
    None => std::num::NonZeroUsize::MIN,
};

/// Binds an MCP session to the user who opened it: a request bearing
/// another user's token with that session id is refused (403), so a leaked
/// session id is worth nothing to anyone else. Each request is still
/// verified on its own bearer; sessions never carry identity.
async fn bind_sessions(
    State(owners): State<Arc<SessionOwners>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await;
    };
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let deleting = request.method() == axum::http::Method::DELETE;
    if let Some(id) = &session
        && !owners.claim(id, &caller.principal)
    {
        info!("refused a session opened by another user");
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": -32001, "message": "this MCP session belongs to another user; start your own session (initialize) with your own sign-in"},
        });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    let response = next.run(request).await;
    match (
        &session,
        response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok()),
    ) {
        (Some(id), _) if deleting && response.status().is_success() => owners.forget(id),
        (None, Some(created)) => owners.bind(created, &caller.principal),
        _ => {}
    }
    response
}

/// `DELETE /mcp` (a client ending its session): 404 for a session this
/// server does not hold (never opened, or already closed), as for any other
/// request naming it, and 204 once rmcp has closed it (rmcp answers 202,
/// which says nothing was done yet). Runs after the bearer check and the
/// session binding, so only the session's own user gets this far.
async fn close_session(
    State(sessions): State<Arc<LocalSessionManager>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use rmcp::transport::streamable_http_server::SessionManager;
    if request.method() != axum::http::Method::DELETE {
        return next.run(request).await;
    }
    let known = match request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        // rmcp answers a DELETE without a session id (400).
        None => true,
        Some(id) => sessions.has_session(&Arc::from(id)).await.unwrap_or(false),
    };
    if !known {
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": -32001, "message": "no such MCP session (it was closed or never opened); start a new one with initialize"},
        });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let mut response = next.run(request).await;
    if response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.body_mut() = axum::body::Body::empty();
        response.headers_mut().remove(header::CONTENT_TYPE);
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    response
}

struct LimitState {
    limiter: InboundLimiter,
    state: Arc<ServerState>,
}

/// Inbound limits on `/mcp`: 429 with `Retry-After` and a JSON-RPC error
/// naming the limit. Identity comes from the request's [`Caller`] extension
/// when an authenticating layer set one, else the configured credential.
async fn inbound_limit(
    State(limits): State<Arc<LimitState>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller {
            principal: limits.state.principal().to_owned(),
            client: "local".to_owned(),
        });
    match limits.limiter.check(&caller).await {
        Ok(()) => next.run(request).await,
        Err(limited) => {
            let secs = limited.retry_after.as_secs_f64().ceil().max(1.0) as u64;
            info!(
                limit = limited.limit,
                retry_after_s = secs,
                "inbound limit reached"
            );
            let body = json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {
                    "code": -32000,
                    "message": format!(
                        "too many requests for this {}: wait {secs} s before the next request (the server limits MCP requests per user and per client)",
                        limited.limit
                    ),
                    "data": {"code": "RATE_LIMITED", "limit": limited.limit, "retryAfterSeconds": secs},
                },
            });
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                axum::Json(body),
            )
                .into_response()
        }
    }
}

/// Liveness plus the store's state: `degraded` (still HTTP 200: the process
/// is alive and serves what needs no state) with the reason when the store
/// does not answer.
async fn health(State(h): State<HealthState>) -> impl IntoResponse {
    let store = h.state.store().health().await;
    axum::Json(json!({
        "status": if store.ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "tools": h.state.tools().len(),
        "uptime_s": h.started.elapsed().as_secs(),
        "store": {"backend": store.backend, "ok": store.ok, "detail": store.detail},
    }))
}

/// Connections the kernel completes and queues before we accept them; a
/// burst beyond it has its handshakes dropped (and retried by the client).
const LISTEN_BACKLOG: u32 = 1024;

/// Binds `MCP_HOST:MCP_PORT`.
pub async fn bind(config: &Config) -> Result<tokio::net::TcpListener, TransportError> {
    let addr = std::net::SocketAddr::new(config.host, config.port);
    let listen = || {
        let socket = match addr {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().map_err(|source| TransportError::Bind {
        addr: addr.to_string(),
        source,
    })
}

/// Serves HTTP until `shutdown` is cancelled, SIGTERM or Ctrl-C. `on_ready` gets the
/// bound address (useful with `MCP_PORT=0`).
pub async fn serve_http(
    config: &Config,
    state: Arc<ServerState>,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), TransportError> {
    let listener = bind(config).await?;
    serve_listener(listener, config, state, shutdown, on_ready).await
}

/// [`serve_http`] on a listener already bound (see [`bind`]): our own
/// accept loop (see [`crate::mcp::listener`]: header, idle and body timeouts, a
/// connection cap below the open-file limit, `TCP_NODELAY`, the client's
/// address as `ConnectInfo<SocketAddr>`), with a declared body over
/// [`MAX_BODY_BYTES`] refused before it is read. At shutdown (`shutdown`
/// cancelled, SIGTERM or Ctrl-C) the listener closes at once (new
/// connections are refused) and requests in progress get
/// `GOJIRA_SHUTDOWN_GRACE_SECS` to finish; event streams end then.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    config: &Config,
    state: Arc<ServerState>,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), TransportError> {
    let local = listener.local_addr()?;
    let cap = crate::mcp::listener::connection_cap(config.listener.max_connections);
    crate::mcp::listener::log_limits(&config.listener, &cap);
    let app = router(config, state, shutdown.clone(), local.port())
        .layer(middleware::from_fn(refuse_oversized_body));
    info!(%local, "gojira-mcp listening (MCP at /mcp, health at /health)");
    on_ready(local);
    let stop = shutdown.clone();
    crate::mcp::listener::serve(
        listener,
        app,
        config.listener,
        cap.max,
        async move {
            let signal = tokio::select! {
                () = stop.cancelled() => return,
                _ = tokio::signal::ctrl_c() => "SIGINT",
                () = terminate() => "SIGTERM",
            };
            info!(
                signal,
                "shutting down: no new connections; calls in flight get GOJIRA_SHUTDOWN_GRACE_SECS to finish"
            );
        },
        crate::mcp::listener::Shutdown {
            grace: config.shutdown_grace,
            streams: shutdown.clone(),
        },
    )
    .await;
    shutdown.cancel();
    Ok(())
}

/// Completes at SIGTERM (what Kubernetes, systemd and `docker stop` send);
/// never where there is no such signal or it cannot be watched.
async fn terminate() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch SIGTERM: only Ctrl-C drains"),
        }
    }
    std::future::pending::<()>().await;
}

/// The largest request body any endpoint takes: `/mcp`'s JSON-RPC messages
/// (the authorization server's endpoints read at most their own, smaller,
/// limits).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request whose `Content-Length` is over [`MAX_BODY_BYTES`] gets 413 at
/// once, before its body is read, with a JSON body naming the cap (a
/// JSON-RPC error on `/mcp`, an OAuth error elsewhere); the connection is
/// closed after it.
async fn refuse_oversized_body(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(declared) = declared.filter(|n| *n > MAX_BODY_BYTES as u64) else {
        return next.run(request).await;
    };
    info!(
        declared,
        max = MAX_BODY_BYTES,
        "refused a request body over the cap"
    );
    let message = format!(
        "the request body is {declared} bytes; this server accepts at most {MAX_BODY_BYTES} bytes (1 MiB) per request: send a smaller request"
    );
    let body = if request.uri().path().starts_with("/mcp") {
        json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": -32600,
                "message": message,
                "data": {"code": "PAYLOAD_TOO_LARGE", "maxBytes": MAX_BODY_BYTES},
            },
        })
    } else {
        json!({
            "error": "invalid_request",
            "error_description": message,
            "max_bytes": MAX_BODY_BYTES,
        })
    };
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONNECTION, "close")],
        axum::Json(body),
    )
        .into_response()
}

/// Serves one MCP session over stdin/stdout. Nothing else may write to stdout.
pub async fn serve_stdio(state: Arc<ServerState>) -> Result<(), TransportError> {
    let service = GojiraServer::new(state)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| TransportError::Stdio(e.to_string()))?;
    service
        .waiting()
        .await
        .map_err(|e| TransportError::Stdio(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_session_table_forgets_the_least_recently_used_binding_only() {
        let owners = SessionOwners::with_capacity(std::num::NonZeroUsize::new(3).unwrap());
        owners.bind("s1", "alice");
        owners.bind("s2", "bob");
        assert!(owners.claim("s3", "carol"), "an unbound session is claimed");
        // alice uses s1 again: s2 is now the least recently used.
        assert!(owners.claim("s1", "alice"));
        owners.bind("s4", "dave");
        // Everything but s2 is still bound to its owner.
        for (session, other) in [("s1", "mallory"), ("s3", "mallory"), ("s4", "mallory")] {
            assert!(!owners.claim(session, other), "{session} stays bound");
        }
        assert!(owners.claim("s1", "alice"));
        assert!(owners.claim("s3", "carol"));
        assert!(owners.claim("s4", "dave"));
        assert!(
            owners.lock().peek("s2").is_none(),
            "only the least recently used binding was forgotten"
        );
        owners.forget("s4");
        assert!(owners.claim("s4", "erin"), "a deleted session is unbound");
    }
}
