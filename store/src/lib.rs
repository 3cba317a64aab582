//! gojira-mcp's storage contract: everything stateful (OAuth artifacts,
//! upstream credentials, state handles, rate buckets, the operation journal)
//! goes through [`Store`], which has two real backends with identical
//! semantics:
//!
//! - [`embedded::EmbeddedStore`] (default): redb in `GOJIRA_DATA_DIR`, durable commits;
//! - [`redis_store::RedisStore`]: Redis 7 via `GOJIRA_REDIS_URL`, shared by several instances.
//!
//! Every primitive is atomic on both backends. Keys are namespaced
//! `gojira:{kind}:{id}` ([`Key`]). Values are bytes; [`records`] adds versioned
//! serialization and [`crypto`] seals secrets.
//!
//! Module map: `key` (namespacing), `clock` (injectable time), `error`,
//! `embedded`, `redis_store`, `crypto`, `records`.

pub mod clock;
pub mod crypto;
pub mod embedded;
pub mod error;
pub mod key;
pub mod records;
pub mod redis_store;

use std::future::Future;
use std::time::Duration;

pub use clock::Clock;
pub use error::StoreError;
pub use key::{Key, Kind};

/// A token bucket's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSpec {
    /// Most tokens the bucket holds (and starts with).
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_sec: f64,
}

/// The answer of [`Store::take_tokens`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketOutcome {
    /// Whether the requested tokens were granted (and deducted).
    pub granted: bool,
    /// Tokens left after this call.
    pub remaining: f64,
    /// When not granted: how long until enough tokens have refilled.
    pub retry_after: Duration,
}

/// [`BucketOutcome::retry_after`] for a request that can never be granted
/// (more tokens than the capacity, or no refill), on both backends: about a
/// year, so a caller's `Instant + retry_after` cannot overflow.
pub const RETRY_NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// A journal entry id: increasing within one log, starting at 1.
pub type JournalId = u64;

/// One journal entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Its id.
    pub id: JournalId,
    /// Who wrote it (for [`Store::journal_by_principal`]).
    pub principal: String,
    /// The payload (opaque to the store).
    pub data: Vec<u8>,
}

/// Backend health for `/health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `embedded` or `redis`.
    pub backend: &'static str,
    /// True when the backend answers.
    pub ok: bool,
    /// Why not, when not.
    pub detail: Option<String>,
}

/// The storage contract. Both backends implement it, so their operations
/// cannot drift apart in signature, and `tests/conformance.rs` runs the same
/// cases against both so they cannot drift in behaviour. Every primitive is
/// atomic. Callers use [`Store`], which dispatches to a backend statically
/// (no boxed future, no allocation per call).
pub trait Backend: Clone + Send + Sync + 'static {
    /// Reads a value (expired values read as absent).
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Writes a value, replacing any, with an optional time to live.
    fn set(
        &self,
        key: &Key,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes a value; true when one existed.
    fn delete(&self, key: &Key) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gets and deletes in one atomic step (one-time use: OAuth codes, states).
    /// Of many concurrent callers, exactly one gets the value.
    fn take(&self, key: &Key) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Writes only when absent (or expired); true when written. Lock acquire.
    fn set_if_absent(
        &self,
        key: &Key,
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes only when the current value equals `expected`; true when deleted.
    /// Lock release by its holder only.
    fn compare_and_delete(
        &self,
        key: &Key,
        expected: &[u8],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Adds `by` to a counter (created at 0), returning the new value; `ttl` is
    /// set when the counter is created.
    fn incr(
        &self,
        key: &Key,
        by: i64,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Refills the bucket by elapsed time (the store's [`Clock`]), then takes
    /// `tokens` if that many are available. Atomic. Not fsynced on the embedded
    /// backend (rate state may come back fuller after a crash; every other
    /// write is durable): a durable commit per request would cap the server
    /// near 800 requests a second.
    fn take_tokens(
        &self,
        key: &Key,
        spec: BucketSpec,
        tokens: f64,
    ) -> impl Future<Output = Result<BucketOutcome, StoreError>> + Send;

    /// Appends to the named log; durable before it returns.
    fn journal_append(
        &self,
        log: &str,
        principal: &str,
        data: &[u8],
    ) -> impl Future<Output = Result<JournalId, StoreError>> + Send;

    /// Replaces an entry's payload (completing a pending entry); false when absent.
    fn journal_update(
        &self,
        log: &str,
        id: JournalId,
        data: &[u8],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// One entry by id.
    fn journal_get(
        &self,
        log: &str,
        id: JournalId,
    ) -> impl Future<Output = Result<Option<JournalEntry>, StoreError>> + Send;

    /// Entries with id >= `from`, ascending, at most `limit`.
    fn journal_range(
        &self,
        log: &str,
        from: JournalId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JournalEntry>, StoreError>> + Send;

    /// One principal's entries with id >= `from`, ascending, at most `limit`.
    fn journal_by_principal(
        &self,
        log: &str,
        principal: &str,
        from: JournalId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JournalEntry>, StoreError>> + Send;

    /// Deletes entries with id < `before` (retention); returns how many.
    fn journal_truncate(
        &self,
        log: &str,
        before: JournalId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Whether the backend answers.
    fn health(&self) -> impl Future<Output = Health> + Send;
}

/// The store: one of two [`Backend`]s, dispatched by a `match` (static calls,
/// no boxed future). Its methods are the [`Backend`] contract's.
#[derive(Debug, Clone)]
pub enum Store {
    /// redb in a data directory.
    Embedded(embedded::EmbeddedStore),
    /// A Redis server (several gojira instances may share it).
    Redis(redis_store::RedisStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Embedded($s) => $call.await,
            Store::Redis($s) => $call.await,
        }
    };
}

impl Store {
    /// See [`Backend::get`].
    pub async fn get(&self, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.get(key))
    }

    /// See [`Backend::set`].
    pub async fn set(
        &self,
        key: &Key,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.set(key, value, ttl))
    }

    /// See [`Backend::delete`].
    pub async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete(key))
    }

    /// See [`Backend::take`].
    pub async fn take(&self, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.take(key))
    }

    /// See [`Backend::set_if_absent`].
    pub async fn set_if_absent(
        &self,
        key: &Key,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.set_if_absent(key, value, ttl))
    }

    /// See [`Backend::compare_and_delete`].
    pub async fn compare_and_delete(&self, key: &Key, expected: &[u8]) -> Result<bool, StoreError> {
        dispatch!(self, s => s.compare_and_delete(key, expected))
    }

    /// See [`Backend::incr`].
    pub async fn incr(&self, key: &Key, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError> {
        dispatch!(self, s => s.incr(key, by, ttl))
    }

    /// See [`Backend::take_tokens`].
    pub async fn take_tokens(
        &self,
        key: &Key,
        spec: BucketSpec,
        tokens: f64,
    ) -> Result<BucketOutcome, StoreError> {
        dispatch!(self, s => s.take_tokens(key, spec, tokens))
    }

    /// See [`Backend::journal_append`].
    pub async fn journal_append(
        &self,
        log: &str,
        principal: &str,
        data: &[u8],
    ) -> Result<JournalId, StoreError> {
        dispatch!(self, s => s.journal_append(log, principal, data))
    }

    /// See [`Backend::journal_update`].
    pub async fn journal_update(
        &self,
        log: &str,
        id: JournalId,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.journal_update(log, id, data))
    }

    /// See [`Backend::journal_get`].
    pub async fn journal_get(
        &self,
        log: &str,
        id: JournalId,
    ) -> Result<Option<JournalEntry>, StoreError> {
        dispatch!(self, s => s.journal_get(log, id))
    }

    /// See [`Backend::journal_range`].
    pub async fn journal_range(
        &self,
        log: &str,
        from: JournalId,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        dispatch!(self, s => s.journal_range(log, from, limit))
    }

    /// See [`Backend::journal_by_principal`].
    pub async fn journal_by_principal(
        &self,
        log: &str,
        principal: &str,
        from: JournalId,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        dispatch!(self, s => s.journal_by_principal(log, principal, from, limit))
    }

    /// See [`Backend::journal_truncate`].
    pub async fn journal_truncate(&self, log: &str, before: JournalId) -> Result<u64, StoreError> {
        dispatch!(self, s => s.journal_truncate(log, before))
    }

    /// See [`Backend::health`].
    pub async fn health(&self) -> Health {
        dispatch!(self, s => s.health())
    }
}
