//! The HTTP side: an axum router whose single fallback handler feeds the
//! engine, and the served fake's handle.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::{Engine, Incoming, Outgoing};
use crate::error::FakeError;
use crate::faults::Fault;
use crate::record::RecordedRequest;

/// Largest request body accepted (attachments in tests are small).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// An axum router answering every request through `engine`.
pub(crate) fn router(engine: Arc<Engine>) -> Router {
    Router::new().fallback(fallback).with_state(engine)
}

async fn fallback(State(engine): State<Arc<Engine>>, req: Request) -> Response {
    call(&engine, req).await
}

/// Answer one HTTP request in-process.
pub(crate) async fn call(engine: &Engine, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return to_response(Outgoing {
                status: 413,
                headers: Vec::new(),
                body: Some(
                    serde_json::json!({"errorMessages": [format!("cannot read body: {e}")]}),
                ),
                text: None,
            });
        }
    };
    let incoming = Incoming {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: bytes.to_vec(),
    };
    to_response(engine.handle(incoming).await)
}

/// Turn the engine's answer into an HTTP response.
fn to_response(out: Outgoing) -> Response {
    let bytes = match &out.text {
        Some(text) => text.clone().into_bytes(),
        None => out
            .body
            .as_ref()
            .and_then(|b| serde_json::to_vec(b).ok())
            .unwrap_or_default(),
    };
    let has_body = out.body.is_some() && out.text.is_none();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() =
        StatusCode::from_u16(out.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if has_body {
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
    }
    for (name, value) in out.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(n, v);
        }
    }
    response
}

/// Bind 127.0.0.1:`port` and serve `engine` in a tokio task.
pub(crate) async fn serve(engine: Arc<Engine>, port: u16) -> Result<FakeHandle, FakeError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| FakeError::Bind { port, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| FakeError::Bind { port, source })?;
    let (tx, mut rx) = watch::channel(false);
    let app = router(engine.clone());
    let task = tokio::spawn(async move {
        let stop = async move {
            if rx.wait_for(|stop| *stop).await.is_err() {
                // Every handle was dropped without shutdown(): keep serving.
                std::future::pending::<()>().await;
            }
        };
        // Like Atlassian's edge, answer without Nagle delays.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "fake-atlassian server stopped");
        }
    });
    Ok(FakeHandle {
        inner: Arc::new(HandleInner {
            engine,
            addr,
            shutdown: tx,
            task: Mutex::new(Some(task)),
        }),
    })
}

/// A running fake: its address, request log, faults, and stop switch.
/// Cheap to clone (all clones control the same server).
#[derive(Clone, Debug)]
pub struct FakeHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    engine: Arc<Engine>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl FakeHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The served fake, for its identity knobs and accessors.
    pub fn fake(&self) -> crate::FakeAtlassian {
        crate::FakeAtlassian::from_engine(self.inner.engine.clone())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.engine.requests()
    }

    /// Forget the recorded requests (and the count of dropped ones).
    pub fn clear_requests(&self) {
        self.inner.engine.clear_requests();
    }

    /// How many recorded requests were dropped to stay within the log's cap
    /// (see [`crate::FakeAtlassian::with_request_log_cap`]).
    pub fn dropped_requests(&self) -> u64 {
        crate::engine::lock(&self.inner.engine.log).dropped()
    }

    /// Add a fault (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        self.inner.engine.inject(fault);
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.inner.engine.clear_faults();
    }

    /// Forget every created resource.
    pub fn reset_state(&self) {
        self.inner.engine.reset_state();
    }

    /// Stop accepting connections and finish in-flight requests (returns at once;
    /// await [`FakeHandle::stopped`] to wait for the end).
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Wait until the server task has ended (after [`FakeHandle::shutdown`]).
    pub async fn stopped(&self) {
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "fake-atlassian server task failed");
        }
    }
}
