//! Limit-aware pacing of upstream requests: token buckets and pauses shared
//! by every call of this process and, through the [`Store`], by every
//! instance using the same Redis.
//!
//! # Scopes, classes, keys
//!
//! A *scope* is one tenant seen with one kind of credential: the product's
//! base URL without its scheme (host, port, path: a site, a cloud id in an
//! `/ex/...` URL, a workspace or org id), plus `@cloudId` when one is
//! configured, plus the credential kind (`basic`, `bearer`, `org_key`).
//! Products with the same base URL share a scope.
//!
//! Within a scope there are three *classes*, after Atlassian's
//! `RateLimit-Reason` values:
//!
//! - `burst` (`*-burst-based`, and any unknown reason): the per-second limits;
//! - `quota` (`*-quota-*-based`): the hourly quotas;
//! - `per_issue_write` (`*-per-issue-on-write`): writes to one issue.
//!
//! Before it is sent, every request has a *home class*: `per_issue_write` for
//! a write (any method but GET) to a path containing `/issue/`, `burst` for
//! everything else. It takes one token from its home class's bucket (one
//! `take_tokens` per request, local or in the store). Defaults: burst 10/s
//! with a capacity of 20 (`GOJIRA_UPSTREAM_RATE`, `GOJIRA_UPSTREAM_BURST`),
//! per-issue writes 1/s with a capacity of 5, quota 1000 an hour.
//!
//! A `429` pauses the class its `RateLimit-Reason` names (no reason: the
//! request's home class) until `Retry-After` / `Beta-Retry-After` (the later)
//! or `X-RateLimit-Reset`; so does any answer with `X-RateLimit-Remaining: 0`
//! and a future `X-RateLimit-Reset`. A pause is kept under
//! `gojira:bucket:pause:{scope}:{class}` with a TTL (buckets under
//! `gojira:bucket:rate:{scope}:{class}`), so every instance holds that
//! class: no request of a paused home class is sent before the pause ends.
//! A retry also waits for the pause of the class that refused it. Classes
//! are independent: a burst pause does not hold per-issue writes, and a
//! quota pause holds only the retries of the requests the quota refused
//! (they cannot succeed before the reset) while other traffic flows. Quota
//! answers (a quota `429` or `X-RateLimit-NearLimit` with a quota reason)
//! instead put the scope under *quota watch* until the reset (an hour
//! without one): while watched, every request also takes a token from the
//! quota bucket, which paces, never pauses.
//!
//! A `429` with none of those headers (no `Retry-After`, no reset) still
//! pauses its class: gojira backs off by itself, 1 s after the first such
//! `429`, doubling with each consecutive one up to
//! `GOJIRA_UPSTREAM_BACKOFF_MAX_SECS` (default 60), shared like any pause.
//! Header-less `429`s that arrive while the class is already paused (the
//! requests that were in flight) do not double it again; a success of the
//! class resets the back-off to 1 s.
//!
//! `X-RateLimit-NearLimit: true` (on any answer) takes half the class's
//! capacity from its bucket at once, so the next requests slow to the
//! refill rate sooner.
//!
//! # Where state lives
//!
//! With Redis, buckets and pauses are read in the store on every request
//! (the token and the pause of the home class in one concurrent round
//! trip). The embedded store can serve one process only (redb's lock), so
//! with it the buckets live in this process, which is the same thing
//! without a blocking-pool hop and a write transaction per request; pauses
//! are still written to the store so that a restart honours them.
//!
//! Fail open: when the store does not answer, this instance paces with
//! in-process buckets of the same shape (and its own pauses), logs one
//! warning (then at most one every ten minutes), and asks the store again
//! after a few seconds. Authentication is not affected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gojira_store::{BucketOutcome, BucketSpec, Key, Kind, Store, StoreError};
use reqwest::header::{HeaderMap, HeaderValue};
use tracing::{info, warn};

use crate::catalog::Method;

/// Longest pause honoured from one answer (a wrong header must not stop a
/// class for a day).
const MAX_PAUSE_MS: u64 = 2 * 3600 * 1000;
/// How long a quota watch lasts when the answer gives no reset time.
const QUOTA_WATCH_MS: u64 = 3600 * 1000;
/// After a store failure, how long to pace locally before asking again.
const STORE_RETRY_MS: u64 = 5_000;
/// The first back-off after a header-less `429`; it doubles per consecutive one.
const BACKOFF_FIRST_MS: u64 = 1_000;
/// What a pause gojira set by itself says (a tool error shows it).
const BACKOFF_REASON: &str = "a 429 without rate-limit headers; gojira backs off";
/// At most one "store unavailable" warning this often.
const WARN_EVERY_MS: u64 = 10 * 60 * 1000;

/// A rate-limit class (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Per-second limits (and unknown reasons).
    Burst,
    /// Hourly quotas.
    Quota,
    /// Writes to one issue.
    PerIssueWrite,
}

impl Class {
    /// Every class, in index order.
    pub const ALL: [Class; 3] = [Class::Burst, Class::Quota, Class::PerIssueWrite];

    /// The name used in keys, logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Burst => "burst",
            Class::Quota => "quota",
            Class::PerIssueWrite => "per_issue_write",
        }
    }

    fn index(self) -> usize {
        match self {
            Class::Burst => 0,
            Class::Quota => 1,
            Class::PerIssueWrite => 2,
        }
    }

    /// The home class of a request, decided before it is sent.
    pub fn of_request(method: Method, path: &str) -> Class {
        if method != Method::Get && path.contains("/issue/") {
            Class::PerIssueWrite
        } else {
            Class::Burst
        }
    }

    /// The class a `RateLimit-Reason` value names; `None` when unknown.
    pub fn of_reason(reason: &str) -> Option<Class> {
        let reason = reason.to_ascii_lowercase();
        if reason.contains("quota") {
            Some(Class::Quota)
        } else if reason.contains("issue") {
            Some(Class::PerIssueWrite)
        } else if reason.contains("burst") {
            Some(Class::Burst)
        } else {
            None
        }
    }
}

/// The bucket shape of each class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacingLimits {
    /// `burst`: `GOJIRA_UPSTREAM_RATE`/s, capacity `GOJIRA_UPSTREAM_BURST`.
    pub burst: BucketSpec,
    /// `quota`: 1000 an hour.
    pub quota: BucketSpec,
    /// `per_issue_write`: 1/s, capacity 5.
    pub per_issue_write: BucketSpec,
    /// The longest back-off after consecutive header-less `429`s
    /// (`GOJIRA_UPSTREAM_BACKOFF_MAX_SECS`, default 60 s).
    pub backoff_max: Duration,
}

impl PacingLimits {
    /// The defaults, with the burst class at `rate_per_sec` and `capacity`.
    pub fn new(rate_per_sec: f64, capacity: f64) -> Self {
        Self {
            burst: BucketSpec {
                capacity: capacity.max(1.0),
                refill_per_sec: rate_per_sec,
            },
            quota: BucketSpec {
                capacity: 1000.0,
                refill_per_sec: 1000.0 / 3600.0,
            },
            per_issue_write: BucketSpec {
                capacity: 5.0,
                refill_per_sec: 1.0,
            },
            backoff_max: Duration::from_secs(60),
        }
    }

    /// The same, with the longest back-off after header-less `429`s.
    #[must_use]
    pub fn with_backoff_max(mut self, backoff_max: Duration) -> Self {
        self.backoff_max = backoff_max.max(Duration::from_millis(BACKOFF_FIRST_MS));
        self
    }

    /// The shape of `class`.
    pub fn spec(&self, class: Class) -> BucketSpec {
        match class {
            Class::Burst => self.burst,
            Class::Quota => self.quota,
            Class::PerIssueWrite => self.per_issue_write,
        }
    }
}

impl Default for PacingLimits {
    fn default() -> Self {
        Self::new(10.0, 20.0)
    }
}

/// What an answer's headers say about the limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// The later of `Retry-After` and `Beta-Retry-After` (seconds).
    pub retry_after: Option<Duration>,
    /// `X-RateLimit-NearLimit: true`.
    pub near_limit: bool,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<f64>,
    /// `X-RateLimit-Reset`, in ms since the epoch.
    pub reset_at_ms: Option<u64>,
    /// `RateLimit-Reason`.
    pub reason: Option<String>,
}

impl Signals {
    /// Reads the rate-limit headers (a few lookups; allocates only for a reason).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let retry_after = match (
            headers.get("retry-after").and_then(parse_seconds),
            headers.get("beta-retry-after").and_then(parse_seconds),
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Self {
            retry_after,
            near_limit: headers
                .get("x-ratelimit-nearlimit")
                .is_some_and(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"true")),
            remaining: headers
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite()),
            reset_at_ms: headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_timestamp_ms),
            reason: headers
                .get("ratelimit-reason")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
        }
    }

    /// True when nothing here asks the pacer to act (the common case).
    pub fn is_quiet(&self) -> bool {
        !self.near_limit && self.reset_at_ms.is_none() && self.reason.is_none()
    }
}

/// Why the pacer will not let a request go within the call's deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Denied {
    /// The scope (tenant and credential kind).
    pub scope: String,
    /// The class holding the request.
    pub class: Class,
    /// How long until it could go.
    pub wait: Duration,
    /// Set when Atlassian paused the class: the `RateLimit-Reason` (or a description).
    pub paused_by: Option<String>,
}

impl Denied {
    /// The tool-facing message: the rate limit, and when to retry.
    pub fn message(&self, operation: &str) -> String {
        let secs = self.wait.as_millis().div_ceil(1000).max(1);
        let at = format_timestamp(now_ms().saturating_add(self.wait.as_millis() as u64));
        match &self.paused_by {
            Some(reason) => format!(
                "{operation} was not sent: Atlassian rate-limited {} requests to {} ({reason}); the class is paused until {at}, {secs} s from now, beyond this call's deadline. Next: wait {secs} s before retrying",
                self.class.as_str(),
                self.scope
            ),
            None => format!(
                "{operation} was not sent: gojira paces {} requests to {} to stay within Atlassian's rate limit (GOJIRA_UPSTREAM_RATE), and the next slot ({at}, {secs} s from now) is beyond this call's deadline. Next: wait {secs} s before retrying",
                self.class.as_str(),
                self.scope
            ),
        }
    }
}

/// One tenant + credential kind: its keys and this process's view of its state.
#[derive(Debug)]
pub struct Scope {
    label: String,
    buckets: [Key; 3],
    pauses: [Key; 3],
    local: Mutex<[LocalBucket; 3]>,
    paused_until_ms: [AtomicU64; 3],
    pause_reasons: Mutex<[Option<String>; 3]>,
    quota_watch_until_ms: AtomicU64,
    /// Consecutive header-less `429`s of each class (reset by a success).
    backoffs: [AtomicU32; 3],
    loaded: tokio::sync::OnceCell<()>,
}

impl Scope {
    fn new(label: String) -> Self {
        let key = |prefix: &str, class: Class| {
            Key::new(Kind::Bucket, format!("{prefix}:{label}:{}", class.as_str()))
        };
        let [b, q, p] = Class::ALL;
        Self {
            buckets: [key("rate", b), key("rate", q), key("rate", p)],
            pauses: [key("pause", b), key("pause", q), key("pause", p)],
            local: Mutex::new([LocalBucket::default(); 3]),
            paused_until_ms: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            pause_reasons: Mutex::new([None, None, None]),
            quota_watch_until_ms: AtomicU64::new(0),
            backoffs: [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)],
            loaded: tokio::sync::OnceCell::new(),
            label,
        }
    }

    /// `tenant:credential`, as used in keys and messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// When the class's pause ends (ms since the epoch; 0 = none seen).
    pub fn paused_until_ms(&self, class: Class) -> u64 {
        self.paused_until_ms[class.index()].load(Ordering::Relaxed)
    }

    /// Records a pause in this process (keeping the later one).
    fn note_pause(&self, class: Class, until_ms: u64, reason: &str) {
        let previous = self.paused_until_ms[class.index()].fetch_max(until_ms, Ordering::Relaxed);
        if until_ms > previous {
            lock(&self.pause_reasons)[class.index()] = Some(reason.to_owned());
        }
    }

    fn pause_reason(&self, class: Class) -> String {
        lock(&self.pause_reasons)[class.index()]
            .clone()
            .unwrap_or_else(|| "a 429 answer".to_owned())
    }
}

/// An in-process token bucket (the same arithmetic as the store's).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LocalBucket {
    tokens: f64,
    last: Option<Instant>,
}

impl LocalBucket {
    fn refill(&mut self, spec: BucketSpec, now: Instant) -> f64 {
        self.tokens = match self.last {
            None => spec.capacity,
            Some(last) => (self.tokens
                + now.saturating_duration_since(last).as_secs_f64() * spec.refill_per_sec)
                .min(spec.capacity),
        };
        self.last = Some(now.max(self.last.unwrap_or(now)));
        self.tokens
    }

    pub(crate) fn take(&mut self, spec: BucketSpec, tokens: f64, now: Instant) -> BucketOutcome {
        let available = self.refill(spec, now);
        if available >= tokens {
            self.tokens = available - tokens;
            return BucketOutcome {
                granted: true,
                remaining: self.tokens,
                retry_after: Duration::ZERO,
            };
        }
        let secs = if spec.refill_per_sec > 0.0 {
            (tokens - available) / spec.refill_per_sec
        } else {
            f64::INFINITY
        };
        BucketOutcome {
            granted: false,
            remaining: available,
            retry_after: Duration::try_from_secs_f64(secs)
                .unwrap_or(Duration::MAX)
                .max(Duration::from_millis(1)),
        }
    }

    fn drain(&mut self, spec: BucketSpec, tokens: f64, now: Instant) {
        let available = self.refill(spec, now);
        self.tokens = (available - tokens).max(0.0);
    }
}

/// The pacer: cheap to clone, shared by every call.
#[derive(Debug, Clone)]
pub struct Pacer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limits: PacingLimits,
    /// Where pauses are kept (and, when `shared`, buckets).
    store: Option<Store>,
    /// Buckets and pauses are read in the store on every request (Redis).
    shared: bool,
    scopes: Mutex<HashMap<String, Arc<Scope>>>,
    store_down_until_ms: AtomicU64,
    last_warning_ms: AtomicU64,
}

impl Pacer {
    /// A pacer over `store`: shared through it when it is Redis, in-process
    /// buckets (pauses still persisted) when it is embedded, purely
    /// in-process without one.
    pub fn new(limits: PacingLimits, store: Option<Store>) -> Self {
        let shared = matches!(store, Some(Store::Redis(_)));
        Self {
            inner: Arc::new(Inner {
                limits,
                store,
                shared,
                scopes: Mutex::new(HashMap::new()),
                store_down_until_ms: AtomicU64::new(0),
                last_warning_ms: AtomicU64::new(0),
            }),
        }
    }

    /// The bucket shapes.
    pub fn limits(&self) -> &PacingLimits {
        &self.inner.limits
    }

    /// The scope of `tenant` with `credential` (created on first use).
    pub fn scope(&self, tenant: &str, credential: &str) -> Arc<Scope> {
        let label = format!("{tenant}:{credential}");
        lock(&self.inner.scopes)
            .entry(label.clone())
            .or_insert_with(|| Arc::new(Scope::new(label)))
            .clone()
    }

    /// Waits until a request of `home` class may go (one token, no pause),
    /// also honouring the pause of `refused_by` (the class that refused the
    /// previous attempt). Fails fast when that is after `deadline`.
    pub async fn acquire(
        &self,
        scope: &Scope,
        home: Class,
        refused_by: Option<Class>,
        deadline: tokio::time::Instant,
    ) -> Result<(), Denied> {
        if !self.inner.shared && self.inner.store.is_some() {
            scope
                .loaded
                .get_or_init(|| self.load_persisted_pauses(scope))
                .await;
        }
        if let Some(other) = refused_by.filter(|c| *c != home) {
            self.wait_for_pause(scope, other, deadline).await?;
        }
        self.take(scope, home, true, deadline).await?;
        if home != Class::Quota && scope.quota_watch_until_ms.load(Ordering::Relaxed) > now_ms() {
            // Paced by the quota bucket, never held by the quota pause.
            self.take(scope, Class::Quota, false, deadline).await?;
        }
        Ok(())
    }

    /// Acts on an answer's rate-limit headers; returns the class a `429`
    /// names (to be waited for by the retry).
    pub async fn observe(
        &self,
        scope: &Scope,
        home: Class,
        status: u16,
        signals: &Signals,
    ) -> Option<Class> {
        let class = signals
            .reason
            .as_deref()
            .and_then(Class::of_reason)
            .unwrap_or(home);
        let now = now_ms();
        let reset = signals.reset_at_ms.filter(|r| *r > now);
        let until = if status == 429 {
            signals
                .retry_after
                .map(|d| now.saturating_add(d.as_millis() as u64))
                .max(reset)
        } else if signals.remaining.is_some_and(|r| r <= 0.0) {
            reset
        } else {
            None
        };
        if class == Class::Quota && (status == 429 || signals.near_limit || until.is_some()) {
            let watch = reset
                .max(until)
                .unwrap_or(now.saturating_add(QUOTA_WATCH_MS));
            scope
                .quota_watch_until_ms
                .fetch_max(watch, Ordering::Relaxed);
        }
        let until = match until {
            None if status == 429 => self.backoff(scope, class, now),
            until => until,
        };
        if let Some(until) = until {
            let reason = signals.reason.as_deref().unwrap_or(if status == 429 {
                if signals.retry_after.is_some() || reset.is_some() {
                    "429 without RateLimit-Reason"
                } else {
                    BACKOFF_REASON
                }
            } else {
                "X-RateLimit-Remaining: 0"
            });
            self.pause(scope, class, until.min(now + MAX_PAUSE_MS), reason)
                .await;
        }
        if signals.near_limit {
            self.drain(scope, class).await;
        }
        (status == 429).then_some(class)
    }

    /// The end of gojira's own pause after a `429` without any rate-limit
    /// header: 1 s, doubling per consecutive one, at most `backoff_max`;
    /// `None` when the class is already paused (a request that was in flight
    /// when the pause began is not a new refusal).
    fn backoff(&self, scope: &Scope, class: Class, now: u64) -> Option<u64> {
        if scope.paused_until_ms(class) > now {
            return None;
        }
        let level = scope.backoffs[class.index()].fetch_add(1, Ordering::Relaxed);
        let max = self.inner.limits.backoff_max.as_millis() as u64;
        let wait = BACKOFF_FIRST_MS
            .saturating_mul(1u64 << level.min(32))
            .min(max);
        Some(now.saturating_add(wait))
    }

    /// A success of `home`: the next header-less `429` backs off 1 s again
    /// (one relaxed load when there is nothing to reset).
    pub fn succeeded(&self, scope: &Scope, home: Class) {
        let level = &scope.backoffs[home.index()];
        if level.load(Ordering::Relaxed) != 0 {
            level.store(0, Ordering::Relaxed);
        }
    }

    /// Holds `class` of `scope` until `until_ms`, here and in the store.
    pub async fn pause(&self, scope: &Scope, class: Class, until_ms: u64, reason: &str) {
        let now = now_ms();
        if until_ms <= now {
            return;
        }
        scope.note_pause(class, until_ms, reason);
        info!(
            scope = scope.label(),
            class = class.as_str(),
            reason,
            pause_ms = until_ms - now,
            "Atlassian rate limit: holding this class"
        );
        let Some(store) = self.store() else { return };
        let key = &scope.pauses[class.index()];
        if self.inner.shared {
            // Keep a later pause another instance stored (best effort).
            match store.get(key).await {
                Ok(Some(raw)) if parse_pause(&raw).is_some_and(|(u, _)| u >= until_ms) => return,
                Err(e) => return self.store_failed(&e),
                _ => {}
            }
        }
        let value = format!("{until_ms} {reason}");
        let ttl = Duration::from_millis(until_ms - now + 1000);
        if let Err(e) = store.set(key, value.as_bytes(), Some(ttl)).await {
            self.store_failed(&e);
        }
    }

    /// `X-RateLimit-NearLimit`: takes half the class's capacity at once.
    async fn drain(&self, scope: &Scope, class: Class) {
        let spec = self.inner.limits.spec(class);
        let tokens = (spec.capacity / 2.0).max(1.0);
        info!(
            scope = scope.label(),
            class = class.as_str(),
            tokens,
            "Atlassian says a rate limit is near: slowing down"
        );
        if self.inner.shared
            && let Some(store) = self.store()
        {
            let key = &scope.buckets[class.index()];
            match store.take_tokens(key, spec, tokens).await {
                Ok(o) if !o.granted && o.remaining >= 1.0 => {
                    let _ = store.take_tokens(key, spec, o.remaining.floor()).await;
                    return;
                }
                Ok(_) => return,
                Err(e) => self.store_failed(&e),
            }
        }
        lock(&scope.local)[class.index()].drain(spec, tokens, Instant::now());
    }

    /// Waits out the pause of `class` (local view, and the store's when shared).
    async fn wait_for_pause(
        &self,
        scope: &Scope,
        class: Class,
        deadline: tokio::time::Instant,
    ) -> Result<(), Denied> {
        if self.inner.shared
            && let Some(store) = self.store()
        {
            match store.get(&scope.pauses[class.index()]).await {
                Ok(Some(raw)) => {
                    if let Some((until, reason)) = parse_pause(&raw) {
                        scope.note_pause(class, until, reason);
                    }
                }
                Ok(None) => {}
                Err(e) => self.store_failed(&e),
            }
        }
        loop {
            let now = now_ms();
            let until = scope.paused_until_ms(class);
            if until <= now {
                return Ok(());
            }
            self.sleep_or_deny(
                scope,
                class,
                Duration::from_millis(until - now),
                true,
                deadline,
            )
            .await?;
        }
    }

    /// Takes one token of `class`, waiting for refills (and, with
    /// `check_pause`, for the class's pause).
    async fn take(
        &self,
        scope: &Scope,
        class: Class,
        check_pause: bool,
        deadline: tokio::time::Instant,
    ) -> Result<(), Denied> {
        let spec = self.inner.limits.spec(class);
        let i = class.index();
        loop {
            if check_pause {
                let now = now_ms();
                let until = scope.paused_until_ms(class);
                if until > now {
                    let wait = Duration::from_millis(until - now);
                    self.sleep_or_deny(scope, class, wait, true, deadline)
                        .await?;
                    continue;
                }
            }
            let shared_store = if self.inner.shared {
                self.store()
            } else {
                None
            };
            let outcome = match shared_store {
                Some(store) if check_pause => {
                    let (taken, pause) = tokio::join!(
                        store.take_tokens(&scope.buckets[i], spec, 1.0),
                        store.get(&scope.pauses[i])
                    );
                    if let Ok(Some(raw)) = &pause
                        && let Some((until, reason)) = parse_pause(raw)
                        && until > now_ms()
                    {
                        // Another instance paused this class (a token may
                        // have been spent: the pause outlasts it anyway).
                        scope.note_pause(class, until, reason);
                        continue;
                    }
                    self.or_local(scope, class, spec, taken)
                }
                Some(store) => {
                    let taken = store.take_tokens(&scope.buckets[i], spec, 1.0).await;
                    self.or_local(scope, class, spec, taken)
                }
                None => lock(&scope.local)[i].take(spec, 1.0, Instant::now()),
            };
            if outcome.granted {
                return Ok(());
            }
            self.sleep_or_deny(scope, class, outcome.retry_after, false, deadline)
                .await?;
        }
    }

    /// The store's answer, or the local bucket's when the store failed.
    fn or_local(
        &self,
        scope: &Scope,
        class: Class,
        spec: BucketSpec,
        taken: Result<BucketOutcome, StoreError>,
    ) -> BucketOutcome {
        match taken {
            Ok(outcome) => outcome,
            Err(e) => {
                self.store_failed(&e);
                lock(&scope.local)[class.index()].take(spec, 1.0, Instant::now())
            }
        }
    }

    async fn sleep_or_deny(
        &self,
        scope: &Scope,
        class: Class,
        wait: Duration,
        paused: bool,
        deadline: tokio::time::Instant,
    ) -> Result<(), Denied> {
        let now = tokio::time::Instant::now();
        if now + wait > deadline {
            return Err(Denied {
                scope: scope.label().to_owned(),
                class,
                wait,
                paused_by: paused.then(|| scope.pause_reason(class)),
            });
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Pauses a previous process stored (embedded store: read once per scope).
    async fn load_persisted_pauses(&self, scope: &Scope) {
        let Some(store) = self.store() else { return };
        for class in Class::ALL {
            match store.get(&scope.pauses[class.index()]).await {
                Ok(Some(raw)) => {
                    if let Some((until, reason)) = parse_pause(&raw) {
                        scope.note_pause(class, until, reason);
                    }
                }
                Ok(None) => {}
                Err(e) => return self.store_failed(&e),
            }
        }
    }

    /// The store, unless it failed moments ago.
    fn store(&self) -> Option<&Store> {
        let store = self.inner.store.as_ref()?;
        let down_until = self.inner.store_down_until_ms.load(Ordering::Relaxed);
        if down_until != 0 && now_ms() < down_until {
            return None;
        }
        Some(store)
    }

    /// Fails open: local pacing for a few seconds, one warning at most every ten minutes.
    fn store_failed(&self, error: &StoreError) {
        let now = now_ms();
        self.inner
            .store_down_until_ms
            .store(now + STORE_RETRY_MS, Ordering::Relaxed);
        let last = self.inner.last_warning_ms.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= WARN_EVERY_MS)
            && self
                .inner
                .last_warning_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            warn!(
                error = %error,
                "the store did not answer for rate-limit state: pacing with this instance's own buckets until it does (instances no longer share limits meanwhile; this warning repeats at most every 10 minutes)"
            );
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch (wall clock: pauses are shared between instances).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A stored pause: `"{until_ms} {reason}"`.
fn parse_pause(raw: &[u8]) -> Option<(u64, &str)> {
    let text = std::str::from_utf8(raw).ok()?;
    let (until, reason) = text.split_once(' ').unwrap_or((text, ""));
    Some((until.parse().ok()?, reason))
}

/// `Retry-After` in seconds (fractions allowed; HTTP dates are not used by Atlassian).
fn parse_seconds(value: &HeaderValue) -> Option<Duration> {
    let secs = value.to_str().ok()?.trim().parse::<f64>().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

/// `X-RateLimit-Reset`: ISO 8601 (`2026-03-02T10:15Z`, with optional
/// seconds, fraction and offset; impossible dates such as `2026-02-31` are
/// refused), or Unix seconds. In ms since the epoch.
pub fn parse_timestamp_ms(text: &str) -> Option<u64> {
    use chrono::DateTime;
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = text.parse().ok()?;
        // Unix seconds, or already milliseconds.
        return Some(if n < 100_000_000_000 { n * 1000 } else { n });
    }
    // chrono's `%z` takes `+hh:mm`, `+hhmm` or `+hh` with `#`; `Z` is UTC.
    let zoned = match text.strip_suffix(['Z', 'z']) {
        Some(t) => format!("{t}+00:00"),
        None => text.to_owned(),
    };
    let parsed = ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"]
        .iter()
        .find_map(|f| DateTime::parse_from_str(&zoned.replacen(['t', ' '], "T", 1), f).ok())?;
    u64::try_from(parsed.timestamp_millis()).ok()
}

fn utc(ms: u64) -> chrono::DateTime<chrono::Utc> {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .unwrap_or_default()
}

/// `2026-03-02T10:15:30Z` (UTC, whole seconds).
pub fn format_timestamp(ms: u64) -> String {
    utc(ms).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `2026-03-02T10:15:30.123Z` (UTC, milliseconds).
pub fn format_timestamp_millis(ms: u64) -> String {
    utc(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_from_reasons_and_requests() {
        assert_eq!(Class::of_reason("jira-burst-based"), Some(Class::Burst));
        assert_eq!(
            Class::of_reason("jira-quota-global-based"),
            Some(Class::Quota)
        );
        assert_eq!(
            Class::of_reason("jira-quota-tenant-based"),
            Some(Class::Quota)
        );
        assert_eq!(
            Class::of_reason("jira-per-issue-on-write"),
            Some(Class::PerIssueWrite)
        );
        assert_eq!(Class::of_reason("something-new"), None);
        assert_eq!(
            Class::of_request(Method::Put, "/x/3/issue/ABC-1"),
            Class::PerIssueWrite
        );
        assert_eq!(
            Class::of_request(Method::Get, "/x/3/issue/ABC-1"),
            Class::Burst
        );
        assert_eq!(Class::of_request(Method::Post, "/x/3/issue"), Class::Burst);
    }

    #[test]
    fn timestamps_parse_and_format() {
        let t = parse_timestamp_ms("2026-03-02T10:15Z").unwrap();
        assert_eq!(format_timestamp(t), "2026-03-02T10:15:00Z");
        assert_eq!(
            parse_timestamp_ms("2026-03-02T10:15:30.250Z").unwrap(),
            t + 30_250
        );
        assert_eq!(parse_timestamp_ms("2026-03-02T12:15:00+02:00").unwrap(), t);
        assert_eq!(parse_timestamp_ms("2026-03-02T05:15-0500").unwrap(), t);
        assert_eq!(parse_timestamp_ms("1772446500").unwrap(), t);
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(951_782_400_000), "2000-02-29T00:00:00Z");
        for bad in [
            "",
            "soon",
            "2026-13-01T00:00Z",
            "2026-03-02",
            "2026-03-02T25:00Z",
            "2026-02-31T00:00:00Z",
            "2025-02-29T00:00Z",
        ] {
            assert_eq!(parse_timestamp_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn signals_read_the_headers() {
        let mut h = HeaderMap::new();
        assert!(Signals::from_headers(&h).is_quiet());
        h.insert("Retry-After", HeaderValue::from_static("2"));
        h.insert("Beta-Retry-After", HeaderValue::from_static("5"));
        h.insert("X-RateLimit-NearLimit", HeaderValue::from_static("true"));
        h.insert("X-RateLimit-Remaining", HeaderValue::from_static("0"));
        h.insert(
            "X-RateLimit-Reset",
            HeaderValue::from_static("2026-03-02T10:15Z"),
        );
        h.insert(
            "RateLimit-Reason",
            HeaderValue::from_static("jira-burst-based"),
        );
        let s = Signals::from_headers(&h);
        assert_eq!(s.retry_after, Some(Duration::from_secs(5)));
        assert!(s.near_limit && !s.is_quiet());
        assert_eq!(s.remaining, Some(0.0));
        assert_eq!(s.reset_at_ms, parse_timestamp_ms("2026-03-02T10:15Z"));
        assert_eq!(s.reason.as_deref(), Some("jira-burst-based"));
    }

    fn far() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn local_bucket_paces_and_near_limit_drains() {
        let pacer = Pacer::new(PacingLimits::new(10.0, 4.0), None);
        let scope = pacer.scope("site.example", "basic");
        let started = Instant::now();
        for _ in 0..4 {
            pacer
                .acquire(&scope, Class::Burst, None, far())
                .await
                .unwrap();
        }
        assert!(started.elapsed() < Duration::from_millis(50));
        pacer
            .acquire(&scope, Class::Burst, None, far())
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(90));
        // A short deadline fails fast, naming the pacing.
        let soon = tokio::time::Instant::now() + Duration::from_millis(10);
        let denied = pacer
            .acquire(&scope, Class::Burst, None, soon)
            .await
            .unwrap_err();
        assert!(denied.paused_by.is_none());
        assert!(denied.message("op").contains("GOJIRA_UPSTREAM_RATE"));
        // NearLimit takes half the capacity at once.
        let other = pacer.scope("other.example", "basic");
        let signals = Signals {
            near_limit: true,
            ..Signals::default()
        };
        pacer.observe(&other, Class::Burst, 200, &signals).await;
        let started = Instant::now();
        for _ in 0..3 {
            pacer
                .acquire(&other, Class::Burst, None, far())
                .await
                .unwrap();
        }
        assert!(started.elapsed() >= Duration::from_millis(90));
    }

    #[tokio::test]
    async fn pauses_hold_their_class_only() {
        let pacer = Pacer::new(PacingLimits::default(), None);
        let scope = pacer.scope("site.example", "basic");
        let signals = Signals {
            retry_after: Some(Duration::from_secs(30)),
            reason: Some("jira-burst-based".into()),
            ..Signals::default()
        };
        let refused = pacer.observe(&scope, Class::Burst, 429, &signals).await;
        assert_eq!(refused, Some(Class::Burst));
        let soon = tokio::time::Instant::now() + Duration::from_millis(200);
        let denied = pacer
            .acquire(&scope, Class::Burst, None, soon)
            .await
            .unwrap_err();
        assert_eq!(denied.paused_by.as_deref(), Some("jira-burst-based"));
        assert!(denied.wait > Duration::from_secs(29));
        assert!(denied.message("op").contains("jira-burst-based"));
        pacer
            .acquire(&scope, Class::PerIssueWrite, None, soon)
            .await
            .unwrap();
        // A quota pause holds the refused request's retry, not other traffic,
        // and puts the scope under quota watch.
        let quota = pacer.scope("quota.example", "basic");
        let signals = Signals {
            retry_after: Some(Duration::from_secs(30)),
            reason: Some("jira-quota-tenant-based".into()),
            ..Signals::default()
        };
        let refused = pacer.observe(&quota, Class::Burst, 429, &signals).await;
        assert_eq!(refused, Some(Class::Quota));
        pacer
            .acquire(&quota, Class::Burst, None, soon)
            .await
            .unwrap();
        assert!(
            pacer
                .acquire(&quota, Class::Burst, refused, soon)
                .await
                .is_err()
        );
        assert!(quota.quota_watch_until_ms.load(Ordering::Relaxed) > now_ms());
    }

    #[tokio::test]
    async fn header_less_429s_back_off_exponentially_up_to_the_cap() {
        let limits = PacingLimits::default().with_backoff_max(Duration::from_secs(5));
        let pacer = Pacer::new(limits, None);
        let scope = pacer.scope("site.example", "basic");
        let quiet = Signals::default();
        let pause_ms = |scope: &Scope| scope.paused_until_ms(Class::Burst).saturating_sub(now_ms());
        let end_pause = |scope: &Scope| scope.paused_until_ms[0].store(0, Ordering::Relaxed);
        let mut pauses = Vec::new();
        for _ in 0..5 {
            let refused = pacer.observe(&scope, Class::Burst, 429, &quiet).await;
            assert_eq!(refused, Some(Class::Burst));
            pauses.push(pause_ms(&scope).div_ceil(1000));
            // A 429 of a request that was in flight when the pause began
            // does not double it.
            let before = scope.paused_until_ms(Class::Burst);
            pacer.observe(&scope, Class::Burst, 429, &quiet).await;
            assert_eq!(scope.paused_until_ms(Class::Burst), before);
            end_pause(&scope);
        }
        assert_eq!(pauses, [1, 2, 4, 5, 5]);
        let denied_scope = pacer.scope("denied.example", "basic");
        pacer
            .observe(&denied_scope, Class::Burst, 429, &quiet)
            .await;
        let soon = tokio::time::Instant::now() + Duration::from_millis(100);
        let denied = pacer
            .acquire(&denied_scope, Class::Burst, None, soon)
            .await
            .unwrap_err();
        assert_eq!(denied.paused_by.as_deref(), Some(BACKOFF_REASON));
        assert!(denied.message("op").contains("wait 1 s before retrying"));
        // A success resets it; other classes are not affected.
        pacer.succeeded(&scope, Class::Burst);
        pacer.observe(&scope, Class::Burst, 429, &quiet).await;
        assert_eq!(pause_ms(&scope).div_ceil(1000), 1);
        assert_eq!(scope.paused_until_ms(Class::PerIssueWrite), 0);
    }

    #[tokio::test]
    async fn remaining_zero_with_a_future_reset_pauses() {
        let pacer = Pacer::new(PacingLimits::default(), None);
        let scope = pacer.scope("site.example", "basic");
        let signals = Signals {
            remaining: Some(0.0),
            reset_at_ms: Some(now_ms() + 10_000),
            ..Signals::default()
        };
        assert_eq!(
            pacer.observe(&scope, Class::Burst, 200, &signals).await,
            None
        );
        assert!(scope.paused_until_ms(Class::Burst) > now_ms() + 9_000);
        // A reset in the past does nothing.
        let stale = pacer.scope("stale.example", "basic");
        let signals = Signals {
            remaining: Some(0.0),
            reset_at_ms: Some(now_ms() - 1_000),
            ..Signals::default()
        };
        pacer.observe(&stale, Class::Burst, 200, &signals).await;
        assert_eq!(stale.paused_until_ms(Class::Burst), 0);
    }

    #[tokio::test]
    async fn an_unavailable_store_fails_open() {
        // Nothing listens on port 1: every Redis operation fails.
        let store = gojira_store::redis_store::RedisStore::connect(
            "redis://127.0.0.1:1/0",
            "",
            gojira_store::Clock::System,
            Duration::from_millis(200),
        )
        .await;
        let store = store.expect("the Redis connection is made lazily");
        let pacer = Pacer::new(PacingLimits::new(10.0, 2.0), Some(Store::Redis(store)));
        let scope = pacer.scope("down.example", "basic");
        let started = Instant::now();
        for _ in 0..3 {
            pacer
                .acquire(&scope, Class::Burst, None, far())
                .await
                .unwrap();
        }
        // The local bucket of the same shape paced the third request.
        assert!(started.elapsed() >= Duration::from_millis(90));
        assert!(pacer.inner.last_warning_ms.load(Ordering::Relaxed) > 0);
    }
}
