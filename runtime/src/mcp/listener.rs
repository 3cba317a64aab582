//! The HTTP listener: our own accept loop over hyper's HTTP/1 server, so
//! that idle and half-sent connections can neither pile up forever nor hold
//! every file descriptor of the process (`axum::serve` has no timeouts and
//! no cap).
//!
//! Each connection is in one of three phases:
//!
//! - **head**: waiting for a request head: a new connection, or a kept-alive
//!   one on which the first byte of a next request arrived. Closed when the
//!   head is not complete within the header timeout.
//! - **busy**: serving a request, from its complete head until its response
//!   body ends. No timer closes it: an open Streamable HTTP event stream
//!   (`GET /mcp`) is a response in progress. The request body must arrive
//!   within the body timeout.
//! - **idle**: kept alive between requests; closed after the idle timeout.
//!
//! hyper's own header timer restarts as soon as a connection goes idle, so it
//! cannot tell an idle client from a slow head; it stays set (to the sum of
//! both timeouts) only as a backstop behind the phases above.
//!
//! At most `max_connections` connections are open at once, with headroom
//! below the open-file limit for the store, upstream sockets and the
//! listener. At the cap a new connection is not refused and does not wait:
//! it takes the place of the connection that has waited longest for a
//! request head (an unauthenticated client that never finished a request:
//! what a flood of idle or half-sent sockets looks like), else of the one
//! idle longest (its client reconnects, as after any keep-alive close). A
//! request in progress is never cut. Only when every connection is busy does
//! the listener stop accepting until one ends (the kernel's backlog holds
//! the rest). So no number of idle sockets locks out `/health` or a real
//! client.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower_service::Service;
use tracing::{debug, info, warn};

pub use crate::config::{DEFAULT_MAX_CONNECTIONS, ListenerLimits};

/// Descriptors kept free of connections for everything else the process
/// opens (store, upstream and Redis sockets, logs, the listener itself).
fn headroom(nofile: u64) -> u64 {
    (nofile / 4).max(64)
}

/// Connections that fit below `nofile` with [`headroom`].
fn cap_below(nofile: u64) -> usize {
    usize::try_from(nofile.saturating_sub(headroom(nofile)).max(8)).unwrap_or(usize::MAX)
}

/// The open-file limit that fits `connections` with [`headroom`].
fn nofile_for(connections: usize) -> u64 {
    let c = connections as u64;
    c.saturating_add((c / 3).max(64))
}

/// The connection cap in force, and the open-file limit it was derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCap {
    /// Connections open at once.
    pub max: usize,
    /// The soft open-file limit after raising it (`None`: unknown).
    pub nofile: Option<u64>,
}

/// Raises the soft open-file limit toward the hard limit (as far as the
/// wanted connections need) and derives the cap from the limit reached.
/// A configured cap the limit cannot hold is lowered, with a warning.
pub fn connection_cap(configured: Option<usize>) -> ConnectionCap {
    let wanted = configured.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    let nofile = match rlimit::increase_nofile_limit(nofile_for(wanted)) {
        Ok(n) => Some(n),
        Err(e) => {
            warn!(error = %e, "could not raise the open-file limit (RLIMIT_NOFILE)");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    };
    let fits = nofile.map_or(DEFAULT_MAX_CONNECTIONS, cap_below);
    let max = match configured {
        Some(c) if c > fits => {
            warn!(
                "GOJIRA_MAX_CONNECTIONS={c} does not fit the open-file limit ({}); using {fits} (raise the hard limit, e.g. LimitNOFILE= or ulimit -Hn, to allow more)",
                nofile.unwrap_or_default()
            );
            fits
        }
        Some(c) => c,
        None => fits.min(DEFAULT_MAX_CONNECTIONS),
    };
    ConnectionCap { max, nofile }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head since then.
    Head(Instant),
    /// Serving a request (`stream`: its response is an event stream).
    Busy { stream: bool },
    /// Kept alive, waiting for a next request since then.
    Idle(Instant),
    /// Evicted to make room; its task is closing it.
    Closing,
}

/// One connection's phase, shared by its I/O, its requests and its task.
///
/// The task is woken only when its timer would otherwise be wrong: a
/// deadline that moves earlier (an idle connection starting a head) or a
/// connection leaving a phase without a deadline while the task sleeps with
/// none (`parked`). A request's own phase changes wake nobody: the timer
/// rechecks the phase when it fires, so a busy keep-alive connection costs
/// no extra poll per request.
struct Conn {
    phase: Mutex<Phase>,
    /// The deadline moved earlier, or the parked task has one again: the
    /// task recomputes its deadline.
    changed: Notify,
    /// The task sleeps without a deadline (the connection was busy when
    /// its timer last fired).
    parked: AtomicBool,
    /// Closed to make room for a new connection.
    evicted: Notify,
}

impl Conn {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
            parked: AtomicBool::new(false),
            evicted: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        *lock(&self.phase)
    }

    /// A request's phase change: it moves no deadline earlier, so only a
    /// task parked without a deadline needs waking.
    fn set(&self, phase: Phase) {
        *lock(&self.phase) = phase;
        if self.parked.swap(false, Ordering::AcqRel) {
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: an idle connection starts a request head.
    fn bytes_read(&self) {
        let mut phase = lock(&self.phase);
        if matches!(*phase, Phase::Idle(_)) {
            *phase = Phase::Head(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Marks the connection closing (and wakes its task to close it) if it
    /// is still in `expected`.
    fn close_if(&self, expected: Phase) -> bool {
        let mut phase = lock(&self.phase);
        if *phase != expected {
            return false;
        }
        *phase = Phase::Closing;
        drop(phase);
        self.evicted.notify_one();
        true
    }

    fn deadline(&self, limits: &ListenerLimits) -> Option<Instant> {
        match self.phase() {
            Phase::Head(since) => Some(since + limits.header_timeout),
            Phase::Idle(since) => Some(since + limits.idle_timeout),
            Phase::Busy { .. } | Phase::Closing => None,
        }
    }
}

/// A request in progress on a connection; dropped (the response body ended
/// or was dropped), the connection is idle.
struct BusyGuard(Arc<Conn>);

impl BusyGuard {
    fn start(conn: Arc<Conn>) -> Self {
        conn.set(Phase::Busy { stream: false });
        Self(conn)
    }

    fn streaming(&self) {
        self.0.set(Phase::Busy { stream: true });
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.set(Phase::Idle(Instant::now()));
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
    /// A connection ended.
    ended: Notify,
}

impl Registry {
    fn len(&self) -> usize {
        lock(&self.conns).len()
    }

    fn insert(&self, id: u64, conn: Arc<Conn>) {
        lock(&self.conns).insert(id, conn);
    }

    fn remove(&self, id: u64) {
        lock(&self.conns).remove(&id);
        self.ended.notify_one();
    }

    /// Makes room for more connections: unless some are already closing,
    /// closes the `batch` connections that have waited longest for a
    /// request head, else (when fewer) those idle longest. `false` when every
    /// connection is busy. A closed connection counts until its task has
    /// dropped its socket. Closing a batch per scan keeps a flood of new
    /// connections from costing a scan of every open one each.
    fn make_room(&self, batch: usize) -> bool {
        let conns = lock(&self.conns);
        let mut candidates = Vec::new();
        for conn in conns.values() {
            match conn.phase() {
                // Head before idle, oldest first.
                Phase::Head(since) => candidates.push(((false, since), conn)),
                Phase::Idle(since) => candidates.push(((true, since), conn)),
                Phase::Closing => return true,
                Phase::Busy { .. } => {}
            }
        }
        let batch = batch.clamp(1, candidates.len().max(1));
        if candidates.len() > batch {
            candidates.select_nth_unstable_by_key(batch - 1, |(order, _)| *order);
            candidates.truncate(batch);
        }
        let mut closed = false;
        for ((idle, since), conn) in candidates {
            let expected = if idle {
                Phase::Idle(since)
            } else {
                Phase::Head(since)
            };
            // A connection whose request just arrived is spared.
            closed |= conn.close_if(expected);
        }
        closed
    }

    /// Requests in progress other than open-ended (GET) event streams.
    fn requests_in_progress(&self) -> usize {
        lock(&self.conns)
            .values()
            .filter(|c| c.phase() == Phase::Busy { stream: false })
            .count()
    }
}

/// The TCP stream, telling its connection when bytes arrive.
struct Watched {
    tcp: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.bytes_read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// A request body that did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s of its head", .0.as_secs_f64())]
struct BodyTimeout(Duration);

/// A request body that must arrive by a deadline.
struct DeadlineBody<B> {
    inner: B,
    deadline: Instant,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> Body for DeadlineBody<B>
where
    B: Body + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(BodyTimeout(this.timeout).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its connection busy until it ends.
struct Tracked<B> {
    inner: B,
    busy: Option<BusyGuard>,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None | Some(Err(_)))) {
            this.busy = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn is_event_stream(response: &axum::response::Response) -> bool {
    response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// How long shutdown waits for requests in progress before it ends event
/// streams and the rest.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// Requests in progress get this long to finish.
    pub grace: Duration,
    /// Cancelled once they did (or the grace ran out): ends event streams.
    pub streams: CancellationToken,
}

/// Accepts on `listener` and serves `app` until `stop` completes, within
/// `limits` and at most `cap` connections (see the module doc). Handlers
/// see the client's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ListenerLimits,
    cap: usize,
    stop: impl Future<Output = ()>,
    shutdown: Shutdown,
) {
    let registry = Arc::new(Registry::default());
    let graceful = GracefulShutdown::new();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout + limits.idle_timeout)
        .keep_alive(true);
    let eviction_batch = (cap / 64).max(1);
    let mut next_id: u64 = 0;
    let mut warned_at: Option<Instant> = None;
    tokio::pin!(stop);
    loop {
        let (tcp, remote) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(&e, &registry).await;
                    continue;
                }
            },
        };
        if registry.len() >= cap
            && warned_at.is_none_or(|at| at.elapsed() > Duration::from_secs(60))
        {
            warn!(
                max_connections = cap,
                "HTTP listener at its connection cap: new connections replace the oldest idle or unfinished ones (GOJIRA_MAX_CONNECTIONS)"
            );
            warned_at = Some(Instant::now());
        }
        // At the cap, wait until a connection is closed to make room (or,
        // when every one is busy, until one ends; the backlog holds the rest).
        while registry.len() >= cap {
            registry.make_room(eviction_batch);
            tokio::select! {
                () = &mut stop => return finish(listener, registry, graceful, shutdown).await,
                () = registry.ended.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        // Small JSON-RPC answers must not wait for Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        let id = next_id;
        next_id += 1;
        let conn = Arc::new(Conn::new());
        registry.insert(id, conn.clone());
        let service = hyper::service::service_fn({
            let app = app.clone();
            let conn = conn.clone();
            move |request: hyper::Request<Incoming>| {
                let busy = BusyGuard::start(conn.clone());
                // A POST answered as an event stream carries one call's
                // answer and ends with it: at shutdown it is a request in
                // progress. A GET's stream is open-ended.
                let open_ended = request.method() == hyper::Method::GET;
                let mut request = request.map(|inner| DeadlineBody {
                    inner,
                    deadline: Instant::now() + limits.body_timeout,
                    timeout: limits.body_timeout,
                    sleep: None,
                });
                // Client addresses feed the authorization server's per-IP registration limit.
                request.extensions_mut().insert(ConnectInfo(remote));
                let mut app = app.clone();
                async move {
                    let response = match app.call(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    if open_ended && is_event_stream(&response) {
                        busy.streaming();
                    }
                    Ok::<_, Infallible>(response.map(|inner| Tracked {
                        inner,
                        busy: Some(busy),
                    }))
                }
            }
        });
        let io = TokioIo::new(Watched {
            tcp,
            conn: conn.clone(),
        });
        let connection = graceful.watch(http1.serve_connection(io, service));
        let registry = registry.clone();
        tokio::spawn(async move {
            // The block drops the connection (its socket) before it leaves the registry.
            {
                tokio::pin!(connection);
                let timer = tokio::time::sleep_until(never());
                tokio::pin!(timer);
                loop {
                    let deadline = conn.deadline(&limits);
                    conn.parked.store(deadline.is_none(), Ordering::Release);
                    // A phase change between the read and the store is seen
                    // again: with a deadline the timer rechecks when it
                    // fires; without one the change found `parked` clear
                    // only if it came before the store, so look once more.
                    let deadline = match (deadline, conn.deadline(&limits)) {
                        (None, Some(d)) => {
                            conn.parked.store(false, Ordering::Release);
                            Some(d)
                        }
                        (d, _) => d,
                    };
                    timer.as_mut().reset(deadline.unwrap_or_else(never));
                    tokio::select! {
                        result = &mut connection => {
                            if let Err(e) = result {
                                debug!(%remote, error = %e, "connection ended");
                            }
                            break;
                        }
                        () = conn.evicted.notified() => {
                            // A request that arrived as it was chosen is served.
                            if conn.phase() == Phase::Closing {
                                debug!(%remote, "connection closed to make room (connection cap)");
                                break;
                            }
                        }
                        () = conn.changed.notified() => {}
                        () = &mut timer => {
                            if conn.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                                debug!(%remote, phase = ?conn.phase(), "connection closed: header or idle timeout");
                                break;
                            }
                        }
                    }
                }
            }
            registry.remove(id);
        });
    }
    finish(listener, registry, graceful, shutdown).await;
}

/// Stops accepting, lets requests in progress finish (within the grace),
/// then ends event streams and waits briefly for the rest.
async fn finish(
    listener: TcpListener,
    registry: Arc<Registry>,
    graceful: GracefulShutdown,
    shutdown: Shutdown,
) {
    drop(listener);
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    let deadline = Instant::now() + shutdown.grace;
    loop {
        if registry.requests_in_progress() == 0 || Instant::now() >= deadline {
            break;
        }
        tokio::select! {
            () = &mut drained => return,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    shutdown.streams.cancel();
    if tokio::time::timeout(Duration::from_secs(2), drained)
        .await
        .is_err()
    {
        debug!(
            open = registry.len(),
            "shutdown: connections still open are dropped"
        );
    }
}

/// A deadline that never comes (a busy connection has none).
fn never() -> Instant {
    Instant::now() + Duration::from_secs(365 * 86_400)
}

/// A failed accept. Out of descriptors (EMFILE/ENFILE, when something else
/// holds more than the headroom): close the oldest unfinished or idle
/// connection and retry once it is closed; a connection the peer aborted:
/// nothing to do.
async fn accept_failed(e: &std::io::Error, registry: &Registry) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    warn!(error = %e, open = registry.len(), "accept failed; closing the oldest idle connection and retrying");
    registry.make_room(1);
    tokio::select! {
        () = registry.ended.notified() => {}
        () = tokio::time::sleep(Duration::from_millis(100)) => {}
    }
}

/// Logs the listener's limits at start.
pub fn log_limits(limits: &ListenerLimits, cap: &ConnectionCap) {
    info!(
        open_file_limit = cap.nofile,
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        idle_timeout_ms = limits.idle_timeout.as_millis() as u64,
        body_timeout_ms = limits.body_timeout.as_millis() as u64,
        "HTTP listener: {} connections at most",
        cap.max
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_headroom_below_the_open_file_limit() {
        assert_eq!(cap_below(256), 192);
        assert_eq!(cap_below(1024), 768);
        assert_eq!(cap_below(20_000), 15_000);
        assert!(nofile_for(DEFAULT_MAX_CONNECTIONS) >= 13_000);
        // The limit asked for holds the connections asked for.
        for c in [10, 100, 1000, 10_000, 50_000] {
            assert!(cap_below(nofile_for(c)) >= c, "{c}");
        }
    }

    #[tokio::test]
    async fn eviction_takes_the_oldest_head_then_the_oldest_idle_never_a_busy_one() {
        let registry = Registry::default();
        let t0 = Instant::now();
        let phases = [
            Phase::Idle(t0),
            Phase::Head(t0 + Duration::from_secs(2)),
            Phase::Busy { stream: false },
            Phase::Head(t0 + Duration::from_secs(1)),
            Phase::Busy { stream: true },
        ];
        for (id, phase) in phases.into_iter().enumerate() {
            let conn = Arc::new(Conn::new());
            *lock(&conn.phase) = phase;
            registry.insert(id as u64, conn);
        }
        // Each round: one is marked closing; its task would then remove it.
        let mut order = Vec::new();
        while registry.make_room(1) {
            let closing = lock(&registry.conns)
                .iter()
                .find(|(_, c)| c.phase() == Phase::Closing)
                .map(|(id, _)| *id)
                .unwrap();
            assert!(registry.make_room(1), "one closing is room enough");
            assert_eq!(
                lock(&registry.conns)
                    .values()
                    .filter(|c| c.phase() == Phase::Closing)
                    .count(),
                1,
                "no second eviction while one is closing"
            );
            registry.remove(closing);
            order.push(closing);
        }
        assert_eq!(order, [3, 1, 0], "oldest head first, then the idle one");
        assert_eq!(
            lock(&registry.conns).keys().copied().collect::<Vec<_>>(),
            [2, 4],
            "busy connections are never evicted"
        );
        assert_eq!(registry.requests_in_progress(), 1);
    }

    #[tokio::test]
    async fn a_batch_closes_the_oldest_heads_first() {
        let registry = Registry::default();
        let t0 = Instant::now();
        for id in 0..10u64 {
            let conn = Arc::new(Conn::new());
            let since = t0 + Duration::from_secs(10 - id);
            *lock(&conn.phase) = if id % 2 == 0 {
                Phase::Idle(since)
            } else {
                Phase::Head(since)
            };
            registry.insert(id, conn);
        }
        assert!(registry.make_room(3));
        let closing: Vec<u64> = lock(&registry.conns)
            .iter()
            .filter(|(_, c)| c.phase() == Phase::Closing)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(closing, [5, 7, 9], "the three oldest heads, not idle ones");
    }
}
