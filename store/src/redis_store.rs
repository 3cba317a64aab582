//! The Redis backend: Redis 7 (standalone, or any single-endpoint deployment)
//! shared by several gojira instances.
//!
//! # Connection
//!
//! [`RedisStore::connect`] is *lazy*: it validates the URL and returns at once,
//! even when Redis is down. The connection is made in the background (a
//! warm-up `PING` logs a warning when Redis does not answer) and by the first
//! operation. A [`ConnectionManager`] reconnects by itself with exponential
//! backoff (100 ms doubling to 2 s); every operation is bounded by the
//! `op_timeout` given to `connect` and fails with
//! [`StoreError::Unavailable`] (backend `redis`) when Redis does not answer in
//! time, and operations succeed again once Redis is back. When operations
//! keep timing out (a half-open TCP connection, a server that vanished
//! without a reset), the connection manager itself is replaced, at most once
//! per `op_timeout`.
//!
//! Both `redis://` and `rediss://` (TLS through rustls; the process must have
//! installed a rustls crypto provider) URLs are accepted, with optional
//! credentials and database: `redis://:password@host:6379/0`,
//! `rediss://user:password@host:6380/2`. The password never appears in logs,
//! errors or `Debug` output.
//!
//! # Key layout
//!
//! With the deployment prefix `P` (may be empty):
//!
//! - values, counters, locks: `P` + [`Key`] (`gojira:{kind}:{id}`), a string;
//! - token buckets: `P` + [`Key`], a hash `{tokens, ts}` (ts in ms of the
//!   store's [`Clock`]), expiring after twice the full-refill time;
//! - journal `L` (`:` and `%` in `L` are escaped as `%3A` and `%25`):
//!   - `Pgojira:journal:L:seq`: the id counter (never deleted, so ids are never reused);
//!   - `Pgojira:journal:L:entry:{id}`: a hash `{principal, data}`;
//!   - `Pgojira:journal:L:ids`: a sorted set of all ids (score = id);
//!   - `Pgojira:journal:L:by:{principal}`: a sorted set of that principal's ids.
//!
//! # Atomicity
//!
//! Each primitive is one Redis command or one Lua script, so it is atomic
//! with respect to every other client. The journal scripts compute entry keys
//! inside the script, which standalone Redis allows (Redis Cluster does not:
//! use a single-shard endpoint).
//!
//! # Errors
//!
//! Timeouts, connection failures and server-side conditions (loading,
//! out of memory, persistence errors, read-only replica, ...) are
//! [`StoreError::Unavailable`]. A value of the wrong type or shape under one
//! of our keys is [`StoreError::Corrupt`] for that key only.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ErrorKind, IntoConnectionInfo, RedisError, RedisResult, Script, Value};

use crate::{
    Backend, BucketOutcome, BucketSpec, Clock, Health, JournalEntry, JournalId, Key, RETRY_NEVER,
    StoreError,
};

const BACKEND: &str = "redis";

/// Error code our scripts raise when they find a value they did not write.
const CORRUPT_CODE: &str = "GOJIRA_CORRUPT";

/// Entries removed per `journal_truncate` script call (each call is atomic
/// and short, so a large truncation does not block Redis).
const TRUNCATE_BATCH: usize = 500;

/// Longest expiry given to an idle token bucket (keeps PEXPIRE in range for
/// absurd specs; a bucket idle that long is full anyway for any sane spec).
const MAX_BUCKET_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// Compare-and-delete: `DEL` only when the value equals `ARGV[1]`.
const CAD_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Counter increment; the expiry (`ARGV[2]` ms, 0 = none) is set only when
/// this call created the counter. Returns the exact new value (as a string,
/// since Lua numbers are doubles).
const INCR_LUA: &str = r"
local existed = redis.call('EXISTS', KEYS[1])
redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])
";

/// Token bucket. ARGV: capacity, refill per second, tokens wanted, now (ms,
/// from the store's clock, never Redis TIME), expiry in ms (0 = none).
/// A missing bucket starts full. Returns {granted 0/1, remaining as a
/// string} (a string keeps the fraction).
const BUCKET_LUA: &str = r"
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local f = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = cap
local ts = now
if f[1] or f[2] then
  tokens = tonumber(f[1])
  ts = tonumber(f[2])
  if tokens == nil or ts == nil then
    return redis.error_reply('GOJIRA_CORRUPT the bucket fields tokens/ts are not numbers')
  end
  if now > ts then
    tokens = tokens + (now - ts) / 1000 * rate
    ts = now
  end
  if tokens > cap then
    tokens = cap
  end
end
local granted = 0
if tokens >= want then
  tokens = tokens - want
  granted = 1
end
local left = string.format('%.17g', tokens)
redis.call('HSET', KEYS[1], 'tokens', left, 'ts', string.format('%d', ts))
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])
end
return {granted, left}
";

/// Journal append. KEYS: seq, ids, by-principal index. ARGV: entry key
/// prefix, principal, data. Returns the new id as a string. Should the
/// counter ever be behind the index (deleted by hand), it skips past the
/// highest id still present, so an id is never reused.
const APPEND_LUA: &str = r"
local id = redis.call('INCR', KEYS[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1)
if last[1] and tonumber(last[1]) >= id then
  id = tonumber(last[1]) + 1
  redis.call('SET', KEYS[1], string.format('%d', id))
end
local sid = string.format('%d', id)
redis.call('HSET', ARGV[1] .. sid, 'principal', ARGV[2], 'data', ARGV[3])
redis.call('ZADD', KEYS[2], sid, sid)
redis.call('ZADD', KEYS[3], sid, sid)
return sid
";

/// Journal update: replaces `data` of an existing entry; 0 when absent.
const UPDATE_LUA: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'data', ARGV[1])
return 1
";

/// Journal range over an index (all ids or one principal's). KEYS: index.
/// ARGV: entry key prefix, from id, limit. Returns a flat array
/// id, principal, data, ... (nil for a missing field).
const RANGE_LUA: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf', 'LIMIT', 0, ARGV[3])
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', ARGV[1] .. id, 'principal', 'data')
  out[#out + 1] = id
  out[#out + 1] = f[1]
  out[#out + 1] = f[2]
end
return out
";

/// Journal truncation, one batch. KEYS: ids. ARGV: entry key prefix,
/// by-principal key prefix, before (exclusive), batch size. Removes each
/// entry with its index entries. Returns {ids examined, entries deleted}.
const TRUNCATE_LUA: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, ARGV[4])
local deleted = 0
for _, id in ipairs(ids) do
  local ek = ARGV[1] .. id
  local p = redis.call('HGET', ek, 'principal')
  if p then
    redis.call('ZREM', ARGV[2] .. p, id)
  end
  deleted = deleted + redis.call('DEL', ek)
  redis.call('ZREM', KEYS[1], id)
end
return {#ids, deleted}
";

static CAD: LazyLock<Script> = LazyLock::new(|| Script::new(CAD_LUA));
static INCR: LazyLock<Script> = LazyLock::new(|| Script::new(INCR_LUA));
static BUCKET: LazyLock<Script> = LazyLock::new(|| Script::new(BUCKET_LUA));
static APPEND: LazyLock<Script> = LazyLock::new(|| Script::new(APPEND_LUA));
static UPDATE: LazyLock<Script> = LazyLock::new(|| Script::new(UPDATE_LUA));
static RANGE: LazyLock<Script> = LazyLock::new(|| Script::new(RANGE_LUA));
static TRUNCATE: LazyLock<Script> = LazyLock::new(|| Script::new(TRUNCATE_LUA));

/// The Redis backend. Cheap to clone (clones share one connection).
///
/// See the [module documentation](self) for connection behaviour, key
/// layout and error mapping.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    config: ConnectionManagerConfig,
    manager: RwLock<ConnectionManager>,
    /// When the manager was last replaced (throttles replacement).
    last_rebuild: Mutex<Option<Instant>>,
    prefix: String,
    clock: Clock,
    op_timeout: Duration,
    /// The URL with its password replaced by `***`.
    redacted_url: String,
    /// Secrets to scrub from any message we produce.
    secrets: Vec<String>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.inner.redacted_url)
            .field("prefix", &self.inner.prefix)
            .field("op_timeout", &self.inner.op_timeout)
            .field("clock", &self.inner.clock)
            .finish()
    }
}

impl RedisStore {
    /// Prepares a store on the Redis at `url` (`redis://` or `rediss://`,
    /// e.g. `redis://:password@host:6379/0`), with every key prefixed by
    /// `prefix` (may be empty), bucket time from `clock`, and every operation
    /// bounded by `op_timeout` (also the connect timeout).
    ///
    /// Lazy: this returns `Ok` at once even when Redis is unreachable (a
    /// background `PING` logs a warning); operations then fail with
    /// [`StoreError::Unavailable`] within `op_timeout` and succeed again once
    /// Redis answers. Fails only with [`StoreError::Open`] for a URL that does
    /// not parse or is not a Redis URL (the message never contains the
    /// password).
    pub async fn connect(
        url: &str,
        prefix: &str,
        clock: Clock,
        op_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let redacted_url = redact_url(url);
        let op_timeout = op_timeout.max(Duration::from_millis(1));
        let scheme_ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|s| {
                url.get(..s.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(s))
            });
        // Secrets known before parsing, so even a parse error is scrubbed.
        let mut secrets = url_password(url).into_iter().collect::<Vec<_>>();
        let scrub_early = |msg: &str| scrub(msg, url, &redacted_url, &secrets);
        if !scheme_ok {
            return Err(StoreError::Open(format!(
                "{redacted_url} is not a Redis URL (expected redis:// or rediss://)"
            )));
        }
        let info = url.into_connection_info().map_err(|e| {
            StoreError::Open(format!(
                "invalid Redis URL {redacted_url}: {}",
                scrub_early(&e.to_string())
            ))
        })?;
        if let Some(pw) = info.redis_settings().password() {
            secrets.push(pw.to_owned());
        }
        secrets.retain(|s| s.len() >= 4);
        let tcp = redis::io::tcp::TcpSettings::default().set_nodelay(true);
        // Unacknowledged writes on a dead peer fail the socket after this,
        // instead of the kernel's ~15 minutes.
        #[cfg(target_os = "linux")]
        let tcp = tcp.set_user_timeout((op_timeout * 3).max(Duration::from_secs(5)));
        let info = info.set_tcp_settings(tcp);
        let client = Client::open(info).map_err(|e| {
            StoreError::Open(format!(
                "invalid Redis URL {redacted_url}: {}",
                scrub(&e.to_string(), url, &redacted_url, &secrets)
            ))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(op_timeout))
            .set_response_timeout(Some(op_timeout))
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(2))
            .set_exponent_base(2.0)
            .set_number_of_retries(6);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| {
                StoreError::Open(format!(
                    "cannot set up the Redis connection to {redacted_url}: {}",
                    scrub(&e.to_string(), url, &redacted_url, &secrets)
                ))
            })?;
        let store = Self {
            inner: Arc::new(Inner {
                client,
                config,
                manager: RwLock::new(manager),
                last_rebuild: Mutex::new(None),
                prefix: prefix.to_owned(),
                clock,
                op_timeout,
                redacted_url,
                secrets,
            }),
        };
        // Warm up in the background: connect now rather than on the first
        // request, and say so early when Redis is not there.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let warm = store.clone();
            rt.spawn(async move {
                let health = warm.health().await;
                if health.ok {
                    tracing::debug!(url = %warm.inner.redacted_url, "connected to Redis");
                } else {
                    tracing::warn!(
                        url = %warm.inner.redacted_url,
                        detail = health.detail.as_deref().unwrap_or(""),
                        "Redis does not answer yet; store operations fail as unavailable until it does"
                    );
                }
            });
        }
        Ok(store)
    }

    /// The key prefix given to [`RedisStore::connect`].
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The per-operation time bound given to [`RedisStore::connect`].
    pub fn op_timeout(&self) -> Duration {
        self.inner.op_timeout
    }

    /// The URL with its password replaced by `***` (safe to log).
    pub fn redacted_url(&self) -> &str {
        &self.inner.redacted_url
    }
}

impl Backend for RedisStore {
    /// Reads a value (`GET`; expired values read as absent). See [`Backend::get`].
    async fn get(&self, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
        let rk = self.rkey(key);
        let mut con = self.conn();
        let v = self
            .run(key, redis::cmd("GET").arg(&rk).query_async(&mut con))
            .await?;
        opt_bytes(v).map_err(|r| corrupt(key, r))
    }

    /// Writes a value (`SET`, with `PX` when `ttl` is given; a zero ttl is
    /// 1 ms). See [`Backend::set`].
    async fn set(&self, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        let rk = self.rkey(key);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&rk).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_ms(ttl));
        }
        let mut con = self.conn();
        match self.run(key, cmd.query_async(&mut con)).await? {
            Value::Okay => Ok(()),
            Value::SimpleString(s) if s == "OK" => Ok(()),
            other => Err(corrupt(key, format!("unexpected reply to SET: {other:?}"))),
        }
    }

    /// Deletes a value (`DEL`); true when one existed. See [`Backend::delete`].
    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let rk = self.rkey(key);
        let mut con = self.conn();
        let v = self
            .run(key, redis::cmd("DEL").arg(&rk).query_async(&mut con))
            .await?;
        Ok(int(&v).map_err(|r| corrupt(key, r))? > 0)
    }

    /// Gets and deletes atomically (`GETDEL`, Redis ≥ 6.2). See [`Backend::take`].
    async fn take(&self, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
        let rk = self.rkey(key);
        let mut con = self.conn();
        let v = self
            .run(key, redis::cmd("GETDEL").arg(&rk).query_async(&mut con))
            .await?;
        opt_bytes(v).map_err(|r| corrupt(key, r))
    }

    /// Writes only when absent (`SET NX PX`); true when written. See
    /// [`crate::Store::set_if_absent`].
    async fn set_if_absent(
        &self,
        key: &Key,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let rk = self.rkey(key);
        let mut con = self.conn();
        let v = self
            .run(
                key,
                redis::cmd("SET")
                    .arg(&rk)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .query_async(&mut con),
            )
            .await?;
        match v {
            Value::Nil => Ok(false),
            Value::Okay => Ok(true),
            Value::SimpleString(s) if s == "OK" => Ok(true),
            other => Err(corrupt(
                key,
                format!("unexpected reply to SET NX: {other:?}"),
            )),
        }
    }

    /// Deletes only when the value equals `expected` (a Lua `GET`/`DEL`);
    /// true when deleted. See [`Backend::compare_and_delete`].
    async fn compare_and_delete(&self, key: &Key, expected: &[u8]) -> Result<bool, StoreError> {
        let rk = self.rkey(key);
        let mut con = self.conn();
        let v = self
            .run(key, CAD.key(&rk).arg(expected).invoke_async(&mut con))
            .await?;
        Ok(int(&v).map_err(|r| corrupt(key, r))? > 0)
    }

    /// Adds `by` (a Lua `INCRBY`, with `PEXPIRE` only when the counter was
    /// created by this call). See [`Backend::incr`].
    async fn incr(&self, key: &Key, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError> {
        let rk = self.rkey(key);
        let ttl = ttl.map_or(0, ttl_ms);
        let mut con = self.conn();
        let v = self
            .run(key, INCR.key(&rk).arg(by).arg(ttl).invoke_async(&mut con))
            .await?;
        int(&v).map_err(|r| corrupt(key, r))
    }

    /// Token bucket (a Lua script over a hash `{tokens, ts}`), timed by the
    /// store's [`Clock`]. An idle bucket expires after twice its full-refill
    /// time (at least 1 s, at most 30 days), which is the same as being full.
    ///
    /// Non-finite or negative `capacity`/`refill_per_sec` count as 0; a
    /// request that can never be met (more than the capacity, or no refill)
    /// is denied with [`RETRY_NEVER`]. See [`Backend::take_tokens`].
    async fn take_tokens(
        &self,
        key: &Key,
        spec: BucketSpec,
        tokens: f64,
    ) -> Result<BucketOutcome, StoreError> {
        let cap = sane(spec.capacity);
        let rate = sane(spec.refill_per_sec);
        let want = if tokens.is_nan() {
            f64::INFINITY
        } else {
            tokens.max(0.0)
        };
        let ttl = if rate > 0.0 {
            let full_ms = (cap / rate * 2000.0).ceil();
            if full_ms.is_finite() {
                (full_ms as u64).clamp(1000, MAX_BUCKET_TTL_MS)
            } else {
                MAX_BUCKET_TTL_MS
            }
        } else {
            0
        };
        let now = self.inner.clock.now_ms();
        let rk = self.rkey(key);
        let mut con = self.conn();
        let v = self
            .run(
                key,
                BUCKET
                    .key(&rk)
                    .arg(lua_num(cap))
                    .arg(lua_num(rate))
                    .arg(lua_num(want))
                    .arg(now)
                    .arg(ttl)
                    .invoke_async(&mut con),
            )
            .await?;
        let (granted, remaining) = parse_bucket(v).map_err(|r| corrupt(key, r))?;
        let retry_after = if granted {
            Duration::ZERO
        } else if want > cap || rate <= 0.0 {
            RETRY_NEVER
        } else {
            let secs = (want - remaining) / rate;
            // Round up to whole ms (minus float noise), so retrying after it succeeds.
            let ms = (secs * 1000.0 - 1e-6).ceil().max(0.0);
            Duration::try_from_secs_f64(ms / 1000.0).map_or(RETRY_NEVER, |d| d.min(RETRY_NEVER))
        };
        Ok(BucketOutcome {
            granted,
            remaining,
            retry_after,
        })
    }

    /// Appends an entry (one Lua script: `INCR` the log's counter, write the
    /// entry hash, index it in the log and under its principal). Returns its
    /// id; ids increase and are never reused.
    ///
    /// Durability: the append has been executed and acknowledged by Redis
    /// when this returns; whether it survives a Redis restart is decided by
    /// the server's persistence configuration (AOF with `appendfsync always`
    /// for per-write disk durability, `everysec` for up to ~1 s of loss, none
    /// for memory only). As with any remote write, an `Unavailable` error
    /// (a timeout) does not prove the append did not happen. See
    /// [`crate::Store::journal_append`].
    async fn journal_append(
        &self,
        log: &str,
        principal: &str,
        data: &[u8],
    ) -> Result<JournalId, StoreError> {
        let j = self.journal_keys(log);
        let by = format!("{}{principal}", j.by_prefix);
        let mut con = self.conn();
        let v = self
            .run_k(
                &j.seq_display,
                APPEND
                    .key(&j.seq)
                    .key(&j.ids)
                    .key(&by)
                    .arg(&j.entry_prefix)
                    .arg(principal)
                    .arg(data)
                    .invoke_async(&mut con),
            )
            .await?;
        let id = int(&v).map_err(|r| corrupt_k(&j.seq_display, r))?;
        u64::try_from(id)
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| corrupt_k(&j.seq_display, format!("the journal counter gave id {id}")))
    }

    /// Replaces an entry's payload; false when absent. See [`Backend::journal_update`].
    async fn journal_update(
        &self,
        log: &str,
        id: JournalId,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        let j = self.journal_keys(log);
        let ek = format!("{}{id}", j.entry_prefix);
        let shown = j.entry_display(id);
        let mut con = self.conn();
        let v = self
            .run_k(&shown, UPDATE.key(&ek).arg(data).invoke_async(&mut con))
            .await?;
        Ok(int(&v).map_err(|r| corrupt_k(&shown, r))? > 0)
    }

    /// One entry by id (`HMGET`). See [`Backend::journal_get`].
    async fn journal_get(
        &self,
        log: &str,
        id: JournalId,
    ) -> Result<Option<JournalEntry>, StoreError> {
        let j = self.journal_keys(log);
        let ek = format!("{}{id}", j.entry_prefix);
        let shown = j.entry_display(id);
        let mut con = self.conn();
        let v = self
            .run_k(
                &shown,
                redis::cmd("HMGET")
                    .arg(&ek)
                    .arg("principal")
                    .arg("data")
                    .query_async(&mut con),
            )
            .await?;
        let mut fields = array(v).map_err(|r| corrupt_k(&shown, r))?.into_iter();
        let (Some(p), Some(d), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(corrupt_k(&shown, "HMGET gave other than two fields".into()));
        };
        let p = opt_bytes(p).map_err(|r| corrupt_k(&shown, r))?;
        let d = opt_bytes(d).map_err(|r| corrupt_k(&shown, r))?;
        match (p, d) {
            (None, None) => Ok(None),
            (p, d) => entry(id, p, d).map(Some).map_err(|r| corrupt_k(&shown, r)),
        }
    }

    /// Entries with id ≥ `from`, ascending, at most `limit` (one Lua script:
    /// `ZRANGEBYSCORE … LIMIT` then the entries, a consistent snapshot). An
    /// unreadable entry is skipped with a warning rather than failing the
    /// whole range. See [`Backend::journal_range`].
    async fn journal_range(
        &self,
        log: &str,
        from: JournalId,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let j = self.journal_keys(log);
        self.range(&j, &j.ids, from, limit).await
    }

    /// One principal's entries with id ≥ `from`, ascending, at most `limit`
    /// (as `journal_range`, over the principal's index). See
    /// [`crate::Store::journal_by_principal`].
    async fn journal_by_principal(
        &self,
        log: &str,
        principal: &str,
        from: JournalId,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let j = self.journal_keys(log);
        let by = format!("{}{principal}", j.by_prefix);
        self.range(&j, &by, from, limit).await
    }

    /// Deletes entries with id < `before`, with their index entries; returns
    /// how many. Runs in atomic batches of 500 (each bounded by the
    /// operation timeout), so a large truncation does not block Redis; an
    /// error part-way leaves a consistent, partly truncated log. The id
    /// counter is kept, so ids are never reused. See [`Backend::journal_truncate`].
    async fn journal_truncate(&self, log: &str, before: JournalId) -> Result<u64, StoreError> {
        let j = self.journal_keys(log);
        let mut total = 0u64;
        if before <= 1 {
            return Ok(0);
        }
        loop {
            let mut con = self.conn();
            let v = self
                .run_k(
                    &j.ids_display,
                    TRUNCATE
                        .key(&j.ids)
                        .arg(&j.entry_prefix)
                        .arg(&j.by_prefix)
                        .arg(before)
                        .arg(TRUNCATE_BATCH)
                        .invoke_async(&mut con),
                )
                .await?;
            let pair = array(v).map_err(|r| corrupt_k(&j.ids_display, r))?;
            let [seen, deleted] = pair.as_slice() else {
                return Err(corrupt_k(
                    &j.ids_display,
                    "the truncate script gave other than two numbers".into(),
                ));
            };
            let seen = int(seen).map_err(|r| corrupt_k(&j.ids_display, r))?;
            let deleted = int(deleted).map_err(|r| corrupt_k(&j.ids_display, r))?;
            total += u64::try_from(deleted).unwrap_or(0);
            if usize::try_from(seen).map_or(true, |s| s < TRUNCATE_BATCH) {
                return Ok(total);
            }
        }
    }

    /// `PING` within the operation timeout; `detail` says why not.
    async fn health(&self) -> Health {
        let mut con = self.conn();
        let res = self
            .run_k("PING", redis::cmd("PING").query_async(&mut con))
            .await;
        let detail = match res {
            Ok(Value::SimpleString(s)) if s == "PONG" => None,
            Ok(Value::BulkString(b)) if b == b"PONG" => None,
            Ok(other) => Some(format!("unexpected reply to PING: {other:?}")),
            Err(StoreError::Unavailable { reason, .. }) => Some(reason),
            Err(e) => Some(e.to_string()),
        };
        Health {
            backend: BACKEND,
            ok: detail.is_none(),
            detail,
        }
    }
}

impl RedisStore {
    async fn range(
        &self,
        j: &JournalKeys,
        index: &str,
        from: JournalId,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut con = self.conn();
        let v = self
            .run_k(
                &j.ids_display,
                RANGE
                    .key(index)
                    .arg(&j.entry_prefix)
                    .arg(from)
                    .arg(limit)
                    .invoke_async(&mut con),
            )
            .await?;
        let items = array(v).map_err(|r| corrupt_k(&j.ids_display, r))?;
        if items.len() % 3 != 0 {
            return Err(corrupt_k(
                &j.ids_display,
                "the range script gave a partial entry".into(),
            ));
        }
        let mut out = Vec::with_capacity(items.len() / 3);
        let mut it = items.into_iter();
        while let (Some(id), Some(p), Some(d)) = (it.next(), it.next(), it.next()) {
            let parsed = int(&id)
                .and_then(|id| u64::try_from(id).map_err(|_| format!("negative id {id}")))
                .and_then(|id| entry(id, opt_bytes(p)?, opt_bytes(d)?));
            match parsed {
                Ok(e) => out.push(e),
                Err(reason) => {
                    tracing::warn!(index = %self.scrubbed(index), %reason, "skipping an unreadable journal entry");
                }
            }
        }
        Ok(out)
    }

    fn rkey(&self, key: &Key) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    fn journal_keys(&self, log: &str) -> JournalKeys {
        let log = escape_log(log);
        let base = format!("{}gojira:journal:{log}:", self.inner.prefix);
        JournalKeys {
            seq: format!("{base}seq"),
            ids: format!("{base}ids"),
            entry_prefix: format!("{base}entry:"),
            by_prefix: format!("{base}by:"),
            seq_display: format!("gojira:journal:{log}:seq"),
            ids_display: format!("gojira:journal:{log}:ids"),
            log,
        }
    }

    fn conn(&self) -> ConnectionManager {
        self.inner
            .manager
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs one Redis exchange under the operation timeout.
    async fn run(
        &self,
        key: &Key,
        fut: impl Future<Output = RedisResult<Value>>,
    ) -> Result<Value, StoreError> {
        self.run_k(&key.to_string(), fut).await
    }

    async fn run_k(
        &self,
        key: &str,
        fut: impl Future<Output = RedisResult<Value>>,
    ) -> Result<Value, StoreError> {
        match tokio::time::timeout(self.inner.op_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.classify(&e, key)),
            Err(_) => {
                self.maybe_rebuild();
                Err(StoreError::Unavailable {
                    backend: BACKEND,
                    reason: format!(
                        "no answer from {} within {} ms",
                        self.inner.redacted_url,
                        self.inner.op_timeout.as_millis()
                    ),
                })
            }
        }
    }

    /// Maps a Redis error: a value of the wrong type or shape under our key
    /// is `Corrupt`; anything else (connection, server state) is `Unavailable`.
    fn classify(&self, e: &RedisError, key: &str) -> StoreError {
        let reason = self.scrubbed(&e.to_string());
        let corrupt = match e.code() {
            Some("WRONGTYPE") => true,
            Some(code) if code == CORRUPT_CODE => true,
            Some("ERR") => {
                let d = e.detail().unwrap_or("");
                [
                    "not an integer",
                    "not a valid float",
                    "overflow",
                    "WRONGTYPE",
                ]
                .iter()
                .any(|p| d.contains(p))
            }
            _ => false,
        };
        if corrupt {
            return StoreError::Corrupt {
                key: key.to_owned(),
                reason,
            };
        }
        if e.is_timeout() || e.kind() == ErrorKind::AuthenticationFailed {
            self.maybe_rebuild();
        }
        StoreError::Unavailable {
            backend: BACKEND,
            reason: format!("{}: {reason}", self.inner.redacted_url),
        }
    }

    /// Replaces the connection manager (at most once per operation timeout,
    /// and at least 1 s apart): the manager reconnects by itself on I/O
    /// errors, but not when requests merely time out (a half-open
    /// connection) or the handshake failed for another reason.
    fn maybe_rebuild(&self) {
        let mut last = self
            .inner
            .last_rebuild
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let gap = self.inner.op_timeout.max(Duration::from_secs(1));
        if last.is_some_and(|t| t.elapsed() < gap) {
            return;
        }
        match ConnectionManager::new_lazy_with_config(
            self.inner.client.clone(),
            self.inner.config.clone(),
        ) {
            Ok(fresh) => {
                *self
                    .inner
                    .manager
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = fresh;
                *last = Some(Instant::now());
                tracing::info!(url = %self.inner.redacted_url, "Redis not answering; replaced its connection");
            }
            Err(e) => {
                tracing::warn!(url = %self.inner.redacted_url, error = %self.scrubbed(&e.to_string()), "could not replace the Redis connection");
            }
        }
    }

    fn scrubbed(&self, msg: &str) -> String {
        let mut out = msg.replace(self.inner.redacted_url.as_str(), "\u{0}");
        for s in &self.inner.secrets {
            out = out.replace(s.as_str(), "***");
        }
        out.replace('\u{0}', &self.inner.redacted_url)
    }
}

/// Key names of one journal.
struct JournalKeys {
    log: String,
    seq: String,
    ids: String,
    entry_prefix: String,
    by_prefix: String,
    seq_display: String,
    ids_display: String,
}

impl JournalKeys {
    fn entry_display(&self, id: JournalId) -> String {
        format!("gojira:journal:{}:entry:{id}", self.log)
    }
}

/// Escapes a log name so it cannot reach into another log's keys.
fn escape_log(log: &str) -> String {
    log.replace('%', "%25").replace(':', "%3A")
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, i64::MAX as u64 / 2)
}

fn sane(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

/// A number as Lua's `tonumber` reads it (`inf` for infinity).
fn lua_num(x: f64) -> String {
    if x.is_infinite() {
        "inf".into()
    } else {
        format!("{x:e}")
    }
}

fn corrupt(key: &Key, reason: String) -> StoreError {
    StoreError::Corrupt {
        key: key.to_string(),
        reason,
    }
}

fn corrupt_k(key: &str, reason: String) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason,
    }
}

fn opt_bytes(v: Value) -> Result<Option<Vec<u8>>, String> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(b) => Ok(Some(b)),
        Value::SimpleString(s) => Ok(Some(s.into_bytes())),
        Value::Okay => Ok(Some(b"OK".to_vec())),
        other => Err(format!("expected a string, found {}", shape(&other))),
    }
}

fn int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "expected an integer, found a non-numeric string".to_owned()),
        Value::SimpleString(s) => s
            .parse()
            .map_err(|_| "expected an integer, found a non-numeric string".to_owned()),
        other => Err(format!("expected an integer, found {}", shape(other))),
    }
}

fn array(v: Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) | Value::Set(a) => Ok(a),
        other => Err(format!("expected an array, found {}", shape(&other))),
    }
}

/// A value's type, without its content (which may be secret).
fn shape(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) => "a string",
        Value::Array(_) => "an array",
        Value::SimpleString(_) | Value::Okay => "a status",
        Value::Map(_) => "a map",
        Value::Set(_) => "a set",
        Value::Double(_) => "a double",
        Value::Boolean(_) => "a boolean",
        Value::ServerError(_) => "an error",
        _ => "an unexpected reply",
    }
}

fn parse_bucket(v: Value) -> Result<(bool, f64), String> {
    let items = array(v)?;
    let [granted, remaining] = items.as_slice() else {
        return Err("the bucket script gave other than two values".into());
    };
    let granted = int(granted)? == 1;
    let remaining = match remaining {
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<f64>().ok()),
        _ => None,
    }
    .ok_or_else(|| "the bucket's remaining tokens are not a number".to_owned())?;
    Ok((granted, remaining))
}

fn entry(
    id: JournalId,
    principal: Option<Vec<u8>>,
    data: Option<Vec<u8>>,
) -> Result<JournalEntry, String> {
    let principal = principal.ok_or_else(|| format!("journal entry {id} has no principal"))?;
    let data = data.ok_or_else(|| format!("journal entry {id} has no data"))?;
    let principal = String::from_utf8(principal)
        .map_err(|_| format!("journal entry {id}'s principal is not UTF-8"))?;
    Ok(JournalEntry {
        id,
        principal,
        data,
    })
}

/// The URL with any password (and any `pass…` query value) replaced by `***`.
fn redact_url(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return "<unparseable Redis URL>".into();
    };
    let (head, rest) = url.split_at(start);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let mut out = head.to_owned();
    match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str("***"),
            }
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.to_ascii_lowercase().contains("pass") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

/// The password in a URL as written (possibly percent-encoded), if any.
fn url_password(url: &str) -> Option<String> {
    let rest = url.get(url.find("://")? + 3..)?;
    let authority = rest.get(..rest.find(['/', '?', '#']).unwrap_or(rest.len()))?;
    let userinfo = authority.get(..authority.rfind('@')?)?;
    let pw = userinfo.split_once(':').map_or(userinfo, |(_, pw)| pw);
    (!pw.is_empty()).then(|| pw.to_owned())
}

/// Scrubs the raw URL and secrets from a message.
fn scrub(msg: &str, url: &str, redacted: &str, secrets: &[String]) -> String {
    let mut out = msg.replace(url, redacted);
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;
    use std::sync::atomic::{AtomicU64, Ordering};

    const URL: &str = "redis://127.0.0.1:6379/0";
    const START_HINT: &str = "start one with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no";

    static SEQ: AtomicU64 = AtomicU64::new(0);

    fn unique_prefix() -> String {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!(
            "test:{}:{millis}:{}:",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// Deletes the test's keys when dropped (even when the test fails).
    struct Cleanup {
        prefix: String,
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            delete_prefixed(&self.prefix);
        }
    }

    fn delete_prefixed(prefix: &str) {
        let Ok(client) = redis::Client::open(URL) else {
            return;
        };
        let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        let mut cursor: u64 = 0;
        loop {
            let r: RedisResult<(u64, Vec<Vec<u8>>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(1000)
                .query(&mut con);
            let Ok((next, keys)) = r else { return };
            if !keys.is_empty() {
                let _: RedisResult<i64> = redis::cmd("DEL").arg(&keys).query(&mut con);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }

    fn count_prefixed(prefix: &str) -> usize {
        let client = redis::Client::open(URL).unwrap();
        let mut con = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut con)
            .unwrap();
        keys.len()
    }

    async fn open_with(clock: Clock) -> (RedisStore, Cleanup) {
        let prefix = unique_prefix();
        let store = RedisStore::connect(URL, &prefix, clock, Duration::from_secs(2))
            .await
            .unwrap();
        let h = store.health().await;
        assert!(
            h.ok,
            "Redis is not reachable at 127.0.0.1:6379 ({:?}); {START_HINT}",
            h.detail
        );
        (store, Cleanup { prefix })
    }

    async fn open() -> (RedisStore, Cleanup) {
        open_with(Clock::System).await
    }

    fn k(id: &str) -> Key {
        Key::new(Kind::Test, id)
    }

    async fn raw(store: &RedisStore, cmd: &redis::Cmd) -> Value {
        let mut con = store.conn();
        cmd.query_async(&mut con).await.unwrap()
    }

    /// The layout is prefix + `gojira:{kind}:{id}`, and a value written
    /// without a ttl has none (the semantics are in `tests/conformance.rs`).
    #[tokio::test]
    async fn keys_are_the_prefix_and_the_key() {
        let (s, _c) = open().await;
        s.set(&k("bin"), b"v", None).await.unwrap();
        let v = raw(
            &s,
            redis::cmd("EXISTS").arg(format!("{}gojira:test:bin", s.prefix())),
        )
        .await;
        assert_eq!(v, Value::Int(1));
        let pttl = raw(&s, redis::cmd("PTTL").arg(s.rkey(&k("bin")))).await;
        assert_eq!(pttl, Value::Int(-1));
    }

    #[tokio::test]
    async fn lock_between_two_instances() {
        let (a, _c) = open().await;
        // A second, independent store (own connection) on the same prefix.
        let b = RedisStore::connect(URL, a.prefix(), Clock::System, Duration::from_secs(2))
            .await
            .unwrap();
        let lock = k("lock");
        let ttl = Duration::from_secs(10);
        assert!(a.set_if_absent(&lock, b"holder-a", ttl).await.unwrap());
        assert!(!b.set_if_absent(&lock, b"holder-b", ttl).await.unwrap());
        assert!(
            !b.compare_and_delete(&lock, b"holder-b").await.unwrap(),
            "B cannot release A's lock"
        );
        assert_eq!(
            b.get(&lock).await.unwrap().as_deref(),
            Some(&b"holder-a"[..])
        );
        assert!(a.compare_and_delete(&lock, b"holder-a").await.unwrap());
        assert!(
            !a.compare_and_delete(&lock, b"holder-a").await.unwrap(),
            "already released"
        );
        assert!(b.set_if_absent(&lock, b"holder-b", ttl).await.unwrap());

        // A stale holder (its lock expired and was taken over) cannot release the new holder's lock.
        let l2 = k("lock2");
        assert!(
            a.set_if_absent(&l2, b"a-1", Duration::from_millis(150))
                .await
                .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(b.set_if_absent(&l2, b"b-1", ttl).await.unwrap());
        assert!(!a.compare_and_delete(&l2, b"a-1").await.unwrap());
        assert_eq!(a.get(&l2).await.unwrap().as_deref(), Some(&b"b-1"[..]));
        assert!(!a.compare_and_delete(&k("never"), b"x").await.unwrap());
    }

    /// An idle bucket's hash expires after twice the full-refill time (the
    /// arithmetic is in `tests/conformance.rs`).
    #[tokio::test]
    async fn idle_buckets_expire_after_twice_the_full_refill_time() {
        let (s, _c) = open_with(Clock::manual(1_700_000_000_000)).await;
        let spec = BucketSpec {
            capacity: 10.0,
            refill_per_sec: 2.0,
        };
        assert!(
            s.take_tokens(&k("bucket"), spec, 4.0)
                .await
                .unwrap()
                .granted
        );
        let Value::Int(pttl) = raw(&s, redis::cmd("PTTL").arg(s.rkey(&k("bucket")))).await else {
            panic!()
        };
        assert!(pttl > 9_000 && pttl <= 10_000, "{pttl}");
    }

    /// Truncation removes the entries' index members too, and the test
    /// cleanup leaves no key behind (the semantics are in
    /// `tests/conformance.rs`).
    #[tokio::test]
    async fn truncate_removes_index_members() {
        let (s, c) = open().await;
        let log = "ops";
        for i in 0..10u8 {
            let who = if i % 3 == 0 { "alice" } else { "bob" };
            s.journal_append(log, who, &[i]).await.unwrap();
        }
        assert_eq!(s.journal_truncate(log, 5).await.unwrap(), 4);
        let v = raw(
            &s,
            redis::cmd("ZCARD").arg(format!("{}gojira:journal:ops:by:alice", s.prefix())),
        )
        .await;
        assert_eq!(v, Value::Int(2));
        drop(c);
        assert_eq!(count_prefixed(s.prefix()), 0);
    }

    #[tokio::test]
    async fn journal_truncate_in_batches_and_log_names_are_escaped() {
        let (s, _c) = open().await;
        for i in 0..1203u32 {
            s.journal_append("big", &format!("p{}", i % 7), &i.to_be_bytes())
                .await
                .unwrap();
        }
        assert_eq!(s.journal_truncate("big", 1201).await.unwrap(), 1200);
        let left = s.journal_range("big", 0, 10).await.unwrap();
        assert_eq!(
            left.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![1201, 1202, 1203]
        );
        let total: usize = {
            let mut n = 0;
            for p in 0..7 {
                n += s
                    .journal_by_principal("big", &format!("p{p}"), 0, 10_000)
                    .await
                    .unwrap()
                    .len();
            }
            n
        };
        assert_eq!(total, 3);

        // "a:by:x" must not read or write log "a"'s principal index for "x:seq".
        s.journal_append("a", "x:seq", b"1").await.unwrap();
        assert_eq!(s.journal_append("a:by:x", "p", b"2").await.unwrap(), 1);
        assert_eq!(
            s.journal_by_principal("a", "x:seq", 0, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(s.journal_range("a:by:x", 0, 10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn corrupt_values_are_reported_for_their_key_only() {
        let (s, _c) = open().await;
        raw(
            &s,
            redis::cmd("HSET").arg(s.rkey(&k("hash"))).arg("f").arg("v"),
        )
        .await;
        s.set(&k("text"), b"abc", None).await.unwrap();
        s.set(&k("fine"), b"ok", None).await.unwrap();
        let e = s.get(&k("hash")).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt { key, .. } if key == "gojira:test:hash"),
            "{e:?}"
        );
        assert!(matches!(
            s.take(&k("hash")).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            s.compare_and_delete(&k("hash"), b"v").await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            s.incr(&k("text"), 1, None).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            s.incr(&k("hash"), 1, None).await,
            Err(StoreError::Corrupt { .. })
        ));
        let spec = BucketSpec {
            capacity: 1.0,
            refill_per_sec: 1.0,
        };
        assert!(matches!(
            s.take_tokens(&k("text"), spec, 1.0).await,
            Err(StoreError::Corrupt { .. })
        ));
        raw(
            &s,
            redis::cmd("HSET")
                .arg(s.rkey(&k("badbucket")))
                .arg("tokens")
                .arg("x")
                .arg("ts")
                .arg("1"),
        )
        .await;
        let e = s.take_tokens(&k("badbucket"), spec, 1.0).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt { key, .. } if key == "gojira:test:badbucket"),
            "{e:?}"
        );
        // The rest still works.
        assert_eq!(
            s.get(&k("fine")).await.unwrap().as_deref(),
            Some(&b"ok"[..])
        );
        // A journal entry missing a field: get says corrupt, range skips it.
        s.journal_append("j", "p", b"1").await.unwrap();
        s.journal_append("j", "p", b"2").await.unwrap();
        raw(
            &s,
            redis::cmd("HDEL")
                .arg(format!("{}gojira:journal:j:entry:1", s.prefix()))
                .arg("data"),
        )
        .await;
        let e = s.journal_get("j", 1).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt { key, .. } if key == "gojira:journal:j:entry:1"),
            "{e:?}"
        );
        let r = s.journal_range("j", 0, 10).await.unwrap();
        assert_eq!(r.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2]);
    }

    #[tokio::test]
    async fn dead_server_fails_fast_as_unavailable() {
        let op = Duration::from_millis(500);
        let t0 = Instant::now();
        let s = RedisStore::connect(
            "redis://:hunter2secret@127.0.0.1:1/0",
            &unique_prefix(),
            Clock::System,
            op,
        )
        .await
        .unwrap();
        assert!(
            t0.elapsed() < Duration::from_millis(200),
            "connect is lazy: {:?}",
            t0.elapsed()
        );
        for _ in 0..3 {
            let t = Instant::now();
            let e = s.get(&k("x")).await.unwrap_err();
            assert!(
                t.elapsed() < op + Duration::from_secs(1),
                "{:?}",
                t.elapsed()
            );
            let StoreError::Unavailable { backend, reason } = &e else {
                panic!("{e:?}")
            };
            assert_eq!(*backend, "redis");
            assert!(!reason.contains("hunter2secret"), "{reason}");
        }
        let t = Instant::now();
        assert!(matches!(
            s.journal_append("l", "p", b"d").await,
            Err(StoreError::Unavailable { .. })
        ));
        assert!(t.elapsed() < op + Duration::from_secs(1));
        let h = s.health().await;
        assert!(!h.ok);
        assert_eq!(h.backend, "redis");
        assert!(h.detail.is_some_and(|d| !d.contains("hunter2secret")));
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("hunter2secret") && dbg.contains(":***@127.0.0.1:1"),
            "{dbg}"
        );
    }

    #[tokio::test]
    async fn tls_url_to_dead_server_is_unavailable() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let op = Duration::from_millis(400);
        let s = RedisStore::connect(
            "rediss://user:tlspassword@127.0.0.1:1/2",
            "p:",
            Clock::System,
            op,
        )
        .await
        .unwrap();
        let t = Instant::now();
        assert!(matches!(
            s.set(&k("x"), b"v", None).await,
            Err(StoreError::Unavailable { .. })
        ));
        assert!(t.elapsed() < op + Duration::from_secs(1));
        assert_eq!(s.redacted_url(), "rediss://user:***@127.0.0.1:1/2");
    }

    #[tokio::test]
    async fn bad_urls_are_open_errors_without_the_password() {
        for url in [
            "http://:pw-secret-1@host/",
            "redis://:pw-secret-1@host:notaport/",
            "nonsense",
        ] {
            let e = RedisStore::connect(url, "", Clock::System, Duration::from_secs(1))
                .await
                .unwrap_err();
            let StoreError::Open(msg) = &e else {
                panic!("{url}: {e:?}")
            };
            assert!(!msg.contains("pw-secret-1"), "{msg}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact_url("redis://u:p%40ss@h"), "redis://u:***@h");
        assert_eq!(
            redact_url("redis://secretonly@h:6379"),
            "redis://***@h:6379"
        );
        assert_eq!(redact_url("redis://h:6379/3"), "redis://h:6379/3");
        assert_eq!(
            redact_url("redis+unix:///run/r.sock?db=1&pass=xyz"),
            "redis+unix:///run/r.sock?db=1&pass=***"
        );
        assert_eq!(
            url_password("redis://u:p%40ss@h/0").as_deref(),
            Some("p%40ss")
        );
        assert_eq!(url_password("redis://h/0"), None);
        assert_eq!(escape_log("a:b%c"), "a%3Ab%25c");
        assert_eq!(lua_num(2.0), "2e0");
        assert_eq!(lua_num(0.1), "1e-1");
        assert_eq!(lua_num(f64::INFINITY), "inf");
    }

    /// A `redis-server` child on a free port, killed on drop.
    struct Server {
        child: std::process::Child,
    }

    impl Server {
        fn start(port: u16) -> Server {
            let child = std::process::Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "this test needs redis-server on PATH (apt-get install redis-server): {e}"
                    )
                });
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "redis-server did not start on port {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Server { child }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[tokio::test]
    async fn recovers_when_redis_restarts() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Server::start(port);
        let op = Duration::from_millis(500);
        let s = RedisStore::connect(
            &format!("redis://127.0.0.1:{port}"),
            "t:",
            Clock::System,
            op,
        )
        .await
        .unwrap();
        s.set(&k("a"), b"1", None).await.unwrap();
        assert_eq!(s.get(&k("a")).await.unwrap().as_deref(), Some(&b"1"[..]));

        drop(server);
        let t = Instant::now();
        let e = s.get(&k("a")).await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        assert!(t.elapsed() < op + Duration::from_secs(1));
        assert!(!s.health().await.ok);
        // Stay down a while (past the manager's own retries), with traffic.
        let down = Instant::now();
        while down.elapsed() < Duration::from_secs(3) {
            let t = Instant::now();
            assert!(matches!(
                s.get(&k("a")).await,
                Err(StoreError::Unavailable { .. })
            ));
            assert!(t.elapsed() < op + Duration::from_secs(1));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let _server = Server::start(port);
        let t = Instant::now();
        loop {
            match s.set(&k("a"), b"2", None).await {
                Ok(()) => break,
                Err(e) => {
                    assert!(
                        t.elapsed() < Duration::from_secs(8),
                        "no recovery after restart: {e:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        assert_eq!(s.get(&k("a")).await.unwrap().as_deref(), Some(&b"2"[..]));
        assert!(s.health().await.ok);
        eprintln!("recovered {:?} after the restart", t.elapsed());
    }

    #[tokio::test]
    async fn hung_server_times_out_then_recovers() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Server::start(port);
        let pid = server.child.id().to_string();
        let op = Duration::from_millis(300);
        let s = RedisStore::connect(
            &format!("redis://127.0.0.1:{port}"),
            "t:",
            Clock::System,
            op,
        )
        .await
        .unwrap();
        s.set(&k("a"), b"1", None).await.unwrap();
        assert!(
            std::process::Command::new("kill")
                .args(["-STOP", &pid])
                .status()
                .unwrap()
                .success()
        );
        for _ in 0..3 {
            let t = Instant::now();
            let e = s.get(&k("a")).await.unwrap_err();
            assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
            assert!(
                t.elapsed() < op + Duration::from_secs(1),
                "{:?}",
                t.elapsed()
            );
        }
        assert!(
            std::process::Command::new("kill")
                .args(["-CONT", &pid])
                .status()
                .unwrap()
                .success()
        );
        let t = Instant::now();
        while let Err(e) = s.get(&k("a")).await {
            assert!(t.elapsed() < Duration::from_secs(8), "no recovery: {e:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("answering again {:?} after SIGCONT", t.elapsed());
    }

    #[tokio::test]
    async fn works_once_redis_comes_up_after_connect() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let op = Duration::from_millis(300);
        let s = RedisStore::connect(
            &format!("redis://127.0.0.1:{port}"),
            "t:",
            Clock::System,
            op,
        )
        .await
        .unwrap();
        assert!(matches!(
            s.get(&k("a")).await,
            Err(StoreError::Unavailable { .. })
        ));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _server = Server::start(port);
        let t = Instant::now();
        while let Err(e) = s.incr(&k("n"), 1, None).await {
            assert!(t.elapsed() < Duration::from_secs(8), "no recovery: {e:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(s.health().await.ok);
        eprintln!("came up {:?} after the server started", t.elapsed());
    }
}
