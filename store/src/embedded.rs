//! The embedded backend (redb): one file, `gojira.redb`, in the data directory.
//!
//! # Layout
//!
//! | table                  | key                           | value                                             |
//! |------------------------|-------------------------------|---------------------------------------------------|
//! | `kv`                   | `gojira:{kind}:{id}` (`&str`) | 8-byte big-endian `expires_at_ms` (0 = never), then the value |
//! | `journal`              | `(log, id)`                   | 4-byte big-endian principal length, principal (UTF-8), payload |
//! | `journal_by_principal` | `(log, principal, id)`        | `()`                                              |
//! | `journal_seq`          | `log`                         | the last id assigned in that log (8-byte big-endian) |
//!
//! Values are raw bytes decoded here, so a damaged value yields
//! [`StoreError::Corrupt`] for its key and affects nothing else.
//!
//! # Concurrency and durability
//!
//! redb runs one write transaction at a time, so every read-modify-write
//! primitive is a single write transaction and therefore atomic. Commits use
//! redb's default durability (immediate: durable when `commit` returns),
//! except `take_tokens`, whose bucket state is committed
//! without an fsync (see there).
//! All redb calls are synchronous and run on Tokio's blocking pool, never on
//! the async thread.
//!
//! # Expiry
//!
//! Expired values read as absent (lazily); [`EmbeddedStore::sweep_expired`]
//! deletes them, and [`EmbeddedStore::spawn_sweeper`] runs it periodically.
//! Time always comes from the store's [`Clock`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redb::{
    Database, DatabaseError, Durability, ReadTransaction, ReadableDatabase, ReadableTable,
    StorageError, TableDefinition, WriteTransaction,
};

use crate::{
    Backend, BucketOutcome, BucketSpec, Clock, Health, JournalEntry, JournalId, Key, RETRY_NEVER,
    StoreError,
};

const BACKEND: &str = "embedded";

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "gojira.redb";

/// Key → expiry header + value.
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
/// (log, id) → principal + payload.
const JOURNAL: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("journal");
/// (log, principal, id) → ().
const JOURNAL_BY_PRINCIPAL: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("journal_by_principal");
/// log → last assigned id.
const JOURNAL_SEQ: TableDefinition<&str, &[u8]> = TableDefinition::new("journal_seq");

/// `expires_at_ms` meaning "never".
const NO_EXPIRY: u64 = 0;
/// Length of the expiry header in front of every `kv` value.
const HEADER_LEN: usize = 8;
/// Stored bucket state: tokens (f64) + last refill (u64 ms).
const BUCKET_STATE_LEN: usize = 16;

/// Creates `dir` (and missing parents) readable by the owner only (0700);
/// an existing directory open to others is left as it is, with a warning
/// (it may be shared on purpose, and the file inside is private anyway).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        let existed = dir.is_dir();
        builder.create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if existed && mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                "the data directory is open to other users (mode {mode:o}); chmod 700 it"
            );
        }
        Ok(())
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Creates the database file readable and writable by the owner only
/// (0600) before redb opens it; an existing file open to others is made
/// private again (it holds the journal and sealed credentials).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
            tracing::warn!(
                path = %path.display(),
                "the database file was open to other users (mode {mode:o}); it is now 0600"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The embedded backend (redb).
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    clock: Clock,
    path: Arc<PathBuf>,
}

impl EmbeddedStore {
    /// Opens (creating if needed) `dir/gojira.redb`, creating `dir` and its
    /// parents when missing. Time comes from `clock`.
    ///
    /// Fails with [`StoreError::Open`] naming the path when the directory
    /// cannot be created, the file cannot be opened (permissions, not a
    /// database), or another process holds the database.
    pub fn open(dir: &Path, clock: Clock) -> Result<Self, StoreError> {
        if dir.exists() && !dir.is_dir() {
            return Err(StoreError::Open(format!(
                "the data directory {} exists but is not a directory",
                dir.display()
            )));
        }
        create_private_dir(dir).map_err(|e| {
            StoreError::Open(format!(
                "cannot create the data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(DB_FILE_NAME);
        create_private_file(&path)
            .map_err(|e| open_error(&path, DatabaseError::Storage(StorageError::Io(e))))?;
        // A file changed outside redb fails with an error instead of being
        // trusted (a plain open may panic on it). The check reads the whole
        // file once per start.
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .create(&path)
            .map_err(|e| open_error(&path, e))?;
        init_tables(&db)
            .map_err(|e| StoreError::Open(format!("cannot initialise {}: {e}", path.display())))?;
        Ok(Self {
            db: Arc::new(db),
            clock,
            path: Arc::new(path),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes every expired value; returns how many were removed.
    pub async fn sweep_expired(&self) -> Result<u64, StoreError> {
        self.run(|db, clock| {
            // Find candidates without holding the writer lock, then delete
            // those still expired in one write transaction.
            let candidates = {
                let txn = db.begin_read().map_err(unavailable)?;
                let table = txn.open_table(KV).map_err(unavailable)?;
                let now = clock.now_ms();
                let mut keys = Vec::new();
                for item in table.iter().map_err(unavailable)? {
                    let (k, v) = item.map_err(unavailable)?;
                    if is_expired_raw(v.value(), now) {
                        keys.push(k.value().to_owned());
                    }
                }
                keys
            };
            if candidates.is_empty() {
                return Ok(0);
            }
            write_txn(db, clock, Durability::Immediate, |txn, now| {
                let mut table = txn.open_table(KV).map_err(unavailable)?;
                let mut removed = 0;
                for key in &candidates {
                    let expired = match table.get(key.as_str()).map_err(unavailable)? {
                        Some(v) => is_expired_raw(v.value(), now),
                        None => false,
                    };
                    if expired {
                        table.remove(key.as_str()).map_err(unavailable)?;
                        removed += 1;
                    }
                }
                Ok(if removed == 0 {
                    Txn::Abort(0)
                } else {
                    Txn::Commit(removed)
                })
            })
        })
        .await
    }

    /// Runs [`Self::sweep_expired`] every `every` (at least 1 ms) on the
    /// current Tokio runtime (call it from within one), logging counts and
    /// errors. The task holds no strong reference to the database: it ends
    /// by itself once every clone of this store has been dropped, or when the
    /// returned handle is aborted.
    pub fn spawn_sweeper(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let db = Arc::downgrade(&self.db);
        let clock = self.clock.clone();
        let path = Arc::clone(&self.path);
        let every = every.max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await; // the first tick is immediate
            loop {
                ticker.tick().await;
                let Some(store) = upgrade(&db, &clock, &path) else {
                    tracing::debug!("store closed; expiry sweeper stopping");
                    return;
                };
                match store.sweep_expired().await {
                    Ok(0) => tracing::trace!("expiry sweep: nothing expired"),
                    Ok(n) => tracing::debug!(removed = n, "expiry sweep removed expired values"),
                    Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
                }
            }
        })
    }
}

impl Backend for EmbeddedStore {
    async fn get(&self, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_string();
        self.read(move |txn, now| {
            let table = txn.open_table(KV).map_err(unavailable)?;
            match table.get(key.as_str()).map_err(unavailable)? {
                Some(raw) => Ok(live_value(&key, raw.value(), now)?.map(<[u8]>::to_vec)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set(&self, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        let key = key.to_string();
        let value = value.to_vec();
        self.write(Durability::Immediate, move |txn, now| {
            let mut table = txn.open_table(KV).map_err(unavailable)?;
            let stored = encode_value(expiry(now, ttl), &value);
            table
                .insert(key.as_str(), stored.as_slice())
                .map_err(unavailable)?;
            Ok(Txn::Commit(()))
        })
        .await
    }

    /// A value that has expired but not yet been swept is removed and
    /// reported as absent; an unreadable one is removed and reported as
    /// present.
    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.write(Durability::Immediate, move |txn, now| {
            let mut table = txn.open_table(KV).map_err(unavailable)?;
            let existed = match table.remove(key.as_str()).map_err(unavailable)? {
                Some(raw) => !is_expired_raw(raw.value(), now),
                None => false,
            };
            Ok(Txn::Commit(existed))
        })
        .await
    }

    /// An unreadable value yields [`StoreError::Corrupt`] and is left in place.
    async fn take(&self, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_string();
        self.write(Durability::Immediate, move |txn, now| {
            let mut table = txn.open_table(KV).map_err(unavailable)?;
            let current = table
                .get(key.as_str())
                .map_err(unavailable)?
                .map(|raw| raw.value().to_vec());
            let Some(raw) = current else {
                return Ok(Txn::Abort(None));
            };
            // Check before removing: an error aborts the transaction.
            let value = live_value(&key, &raw, now)?.map(<[u8]>::to_vec);
            table.remove(key.as_str()).map_err(unavailable)?;
            Ok(Txn::Commit(value))
        })
        .await
    }

    /// An expired value counts as absent; an unreadable one yields
    /// [`StoreError::Corrupt`].
    async fn set_if_absent(
        &self,
        key: &Key,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = key.to_string();
        let value = value.to_vec();
        self.write(Durability::Immediate, move |txn, now| {
            let mut table = txn.open_table(KV).map_err(unavailable)?;
            let present = match table.get(key.as_str()).map_err(unavailable)? {
                Some(raw) => live_value(&key, raw.value(), now)?.is_some(),
                None => false,
            };
            if present {
                return Ok(Txn::Abort(false));
            }
            let stored = encode_value(expiry(now, Some(ttl)), &value);
            table
                .insert(key.as_str(), stored.as_slice())
                .map_err(unavailable)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    /// An expired value never matches.
    async fn compare_and_delete(&self, key: &Key, expected: &[u8]) -> Result<bool, StoreError> {
        let key = key.to_string();
        let expected = expected.to_vec();
        self.write(Durability::Immediate, move |txn, now| {
            let mut table = txn.open_table(KV).map_err(unavailable)?;
            let matches = match table.get(key.as_str()).map_err(unavailable)? {
                Some(raw) => live_value(&key, raw.value(), now)? == Some(expected.as_slice()),
                None => false,
            };
            if !matches {
                return Ok(Txn::Abort(false));
            }
            table.remove(key.as_str()).map_err(unavailable)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    /// The counter is an `i64` stored as 8 big-endian bytes; anything else
    /// under the key yields [`StoreError::Corrupt`], as does an overflow. An
    /// existing counter keeps its expiry; an expired one starts again at 0
    /// with `ttl`.
    async fn incr(&self, key: &Key, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError> {
        let key = key.to_string();
        self.write(Durability::Immediate, move |txn, now| {
            let mut table = txn.open_table(KV).map_err(unavailable)?;
            let current = match table.get(key.as_str()).map_err(unavailable)? {
                Some(raw) => live_entry(&key, raw.value(), now)?
                    .map(|(expires_at, value)| {
                        Ok::<_, StoreError>((expires_at, decode_counter(&key, value)?))
                    })
                    .transpose()?,
                None => None,
            };
            let (expires_at, old) = current.unwrap_or((expiry(now, ttl), 0));
            let new = old.checked_add(by).ok_or_else(|| StoreError::Corrupt {
                key: key.clone(),
                reason: format!("adding {by} to the counter {old} overflows i64"),
            })?;
            let stored = encode_value(expires_at, &new.to_be_bytes());
            table
                .insert(key.as_str(), stored.as_slice())
                .map_err(unavailable)?;
            Ok(Txn::Commit(new))
        })
        .await
    }

    /// The state (tokens as f64, last refill in ms) lives under the key; a
    /// missing bucket is full. Refill is `elapsed_ms / 1000 * refill_per_sec`,
    /// capped at the capacity. When not granted, nothing is written and
    /// `retry_after` is the time until enough tokens have refilled (rounded
    /// up to the millisecond; [`RETRY_NEVER`] when that can never happen). The
    /// state expires when the bucket would be full again, so idle buckets are
    /// swept. An unreadable state yields [`StoreError::Corrupt`] for that key.
    ///
    /// The state is committed with [`Durability::None`] (no fsync; about 30x
    /// the throughput): atomicity is unchanged, but after a crash a bucket may
    /// be back at an earlier, fuller state. Committed state is visible to
    /// every later transaction at once, and the next durable commit of any
    /// other operation persists it.
    async fn take_tokens(
        &self,
        key: &Key,
        spec: BucketSpec,
        tokens: f64,
    ) -> Result<BucketOutcome, StoreError> {
        let key = key.to_string();
        self.write(Durability::None, move |txn, now| {
            let capacity = non_negative(spec.capacity);
            let rate = non_negative(spec.refill_per_sec);
            let mut table = txn.open_table(KV).map_err(unavailable)?;
            let state = match table.get(key.as_str()).map_err(unavailable)? {
                Some(raw) => match live_value(&key, raw.value(), now)? {
                    Some(value) => Some(decode_bucket(&key, value)?),
                    None => None,
                },
                None => None,
            };
            let (outcome, new_state) = bucket_step(state, capacity, rate, tokens, now);
            let Some((available, last_ms)) = new_state else {
                return Ok(Txn::Abort(outcome));
            };
            let expires_at = if rate > 0.0 {
                let ms_to_full = ((capacity - available).max(0.0) / rate * 1000.0).ceil();
                expiry(last_ms, Some(Duration::from_millis(f64_to_ms(ms_to_full))))
            } else {
                NO_EXPIRY
            };
            let mut payload = [0u8; BUCKET_STATE_LEN];
            payload[..8].copy_from_slice(&available.to_bits().to_be_bytes());
            payload[8..].copy_from_slice(&last_ms.to_be_bytes());
            let stored = encode_value(expires_at, &payload);
            table
                .insert(key.as_str(), stored.as_slice())
                .map_err(unavailable)?;
            Ok(Txn::Commit(outcome))
        })
        .await
    }

    /// Ids start at 1, increase within the log and are never reused (not
    /// after truncation, not after a restart); the entry is durable when
    /// this returns.
    async fn journal_append(
        &self,
        log: &str,
        principal: &str,
        data: &[u8],
    ) -> Result<JournalId, StoreError> {
        let log = log.to_owned();
        let principal = principal.to_owned();
        let entry = encode_entry(&principal, data)?;
        self.write(Durability::Immediate, move |txn, _now| {
            let mut seq = txn.open_table(JOURNAL_SEQ).map_err(unavailable)?;
            let mut journal = txn.open_table(JOURNAL).map_err(unavailable)?;
            let mut index = txn.open_table(JOURNAL_BY_PRINCIPAL).map_err(unavailable)?;
            let last_seq = match seq.get(log.as_str()).map_err(unavailable)? {
                Some(raw) => decode_seq(&log, raw.value())?,
                None => 0,
            };
            // Belt and braces: never below an id already present.
            let last_present = journal
                .range((log.as_str(), 0)..=(log.as_str(), u64::MAX))
                .map_err(unavailable)?
                .next_back()
                .transpose()
                .map_err(unavailable)?
                .map_or(0, |(k, _)| k.value().1);
            let id =
                last_seq
                    .max(last_present)
                    .checked_add(1)
                    .ok_or_else(|| StoreError::Corrupt {
                        key: seq_key(&log),
                        reason: "journal ids exhausted".into(),
                    })?;
            seq.insert(log.as_str(), id.to_be_bytes().as_slice())
                .map_err(unavailable)?;
            journal
                .insert((log.as_str(), id), entry.as_slice())
                .map_err(unavailable)?;
            index
                .insert((log.as_str(), principal.as_str(), id), ())
                .map_err(unavailable)?;
            Ok(Txn::Commit(id))
        })
        .await
    }

    /// The principal is kept.
    async fn journal_update(
        &self,
        log: &str,
        id: JournalId,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        let log = log.to_owned();
        let data = data.to_vec();
        self.write(Durability::Immediate, move |txn, _now| {
            let mut journal = txn.open_table(JOURNAL).map_err(unavailable)?;
            let current = journal
                .get((log.as_str(), id))
                .map_err(unavailable)?
                .map(|raw| raw.value().to_vec());
            let Some(raw) = current else {
                return Ok(Txn::Abort(false));
            };
            let (principal, _) = decode_entry(&log, id, &raw)?;
            let entry = encode_entry(principal, &data)?;
            journal
                .insert((log.as_str(), id), entry.as_slice())
                .map_err(unavailable)?;
            Ok(Txn::Commit(true))
        })
        .await
    }

    async fn journal_get(
        &self,
        log: &str,
        id: JournalId,
    ) -> Result<Option<JournalEntry>, StoreError> {
        let log = log.to_owned();
        self.read(move |txn, _now| {
            let journal = txn.open_table(JOURNAL).map_err(unavailable)?;
            match journal.get((log.as_str(), id)).map_err(unavailable)? {
                Some(raw) => Ok(Some(entry_from_raw(&log, id, raw.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn journal_range(
        &self,
        log: &str,
        from: JournalId,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let log = log.to_owned();
        self.read(move |txn, _now| {
            let journal = txn.open_table(JOURNAL).map_err(unavailable)?;
            let mut out = Vec::new();
            for item in journal
                .range((log.as_str(), from)..=(log.as_str(), u64::MAX))
                .map_err(unavailable)?
            {
                let (k, v) = item.map_err(unavailable)?;
                out.push(entry_from_raw(&log, k.value().1, v.value())?);
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    async fn journal_by_principal(
        &self,
        log: &str,
        principal: &str,
        from: JournalId,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let log = log.to_owned();
        let principal = principal.to_owned();
        self.read(move |txn, _now| {
            let journal = txn.open_table(JOURNAL).map_err(unavailable)?;
            let index = txn.open_table(JOURNAL_BY_PRINCIPAL).map_err(unavailable)?;
            let (l, p) = (log.as_str(), principal.as_str());
            let mut out = Vec::new();
            for item in index.range((l, p, from)..=(l, p, u64::MAX)).map_err(unavailable)? {
                let (k, _) = item.map_err(unavailable)?;
                let id = k.value().2;
                match journal.get((l, id)).map_err(unavailable)? {
                    Some(raw) => out.push(entry_from_raw(&log, id, raw.value())?),
                    None => {
                        tracing::warn!(log = %log, id, "journal index points at a missing entry; skipped");
                        continue;
                    }
                }
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    /// Entries and their index rows go in one transaction; the id sequence
    /// is kept, so ids are not reused.
    async fn journal_truncate(&self, log: &str, before: JournalId) -> Result<u64, StoreError> {
        if before <= 1 {
            return Ok(0);
        }
        let log = log.to_owned();
        self.write(Durability::Immediate, move |txn, _now| {
            let mut journal = txn.open_table(JOURNAL).map_err(unavailable)?;
            let mut index = txn.open_table(JOURNAL_BY_PRINCIPAL).map_err(unavailable)?;
            let mut doomed: Vec<(u64, Option<String>)> = Vec::new();
            for item in journal
                .range((log.as_str(), 0)..(log.as_str(), before))
                .map_err(unavailable)?
            {
                let (k, v) = item.map_err(unavailable)?;
                let id = k.value().1;
                // An unreadable entry is still removed; only its index
                // row (if any) stays, and readers skip it.
                let principal = decode_entry(&log, id, v.value())
                    .ok()
                    .map(|(p, _)| p.to_owned());
                doomed.push((id, principal));
            }
            for (id, principal) in &doomed {
                journal.remove((log.as_str(), *id)).map_err(unavailable)?;
                if let Some(p) = principal {
                    index
                        .remove((log.as_str(), p.as_str(), *id))
                        .map_err(unavailable)?;
                }
            }
            Ok(Txn::Commit(doomed.len() as u64))
        })
        .await
    }

    /// Ok when a read transaction opens.
    async fn health(&self) -> Health {
        let result = self
            .read(|txn, _now| {
                txn.open_table(KV).map_err(unavailable)?;
                Ok(())
            })
            .await;
        match result {
            Ok(()) => Health {
                backend: BACKEND,
                ok: true,
                detail: None,
            },
            Err(e) => Health {
                backend: BACKEND,
                ok: false,
                detail: Some(e.to_string()),
            },
        }
    }
}

/// What a write transaction's body decided: commit its changes, or abort
/// because it changed nothing (no commit, so no fsync).
enum Txn<T> {
    Commit(T),
    Abort(T),
}

impl EmbeddedStore {
    /// The one read-transaction frame: `body` gets a read transaction and
    /// the store's time, on the blocking pool.
    async fn read<T, F>(&self, body: F) -> Result<T, StoreError>
    where
        F: FnOnce(&ReadTransaction, u64) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |db, clock| {
            let txn = db.begin_read().map_err(unavailable)?;
            body(&txn, clock.now_ms())
        })
        .await
    }

    /// The one write-transaction frame, on the blocking pool: see
    /// [`write_txn`].
    async fn write<T, F>(&self, durability: Durability, body: F) -> Result<T, StoreError>
    where
        F: FnOnce(&WriteTransaction, u64) -> Result<Txn<T>, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |db, clock| write_txn(db, clock, durability, body))
            .await
    }

    /// Runs synchronous redb work off the async thread (on Tokio's blocking
    /// pool; inline when there is no Tokio runtime).
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Database, &Clock) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let clock = self.clock.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || f(&db, &clock))
                .await
                .map_err(|e| StoreError::Unavailable {
                    backend: BACKEND,
                    reason: format!("the storage task failed: {e}"),
                })?,
            Err(_) => f(&db, &clock),
        }
    }
}

/// A store sharing the sweeper's database, while it is still open.
fn upgrade(db: &Weak<Database>, clock: &Clock, path: &Arc<PathBuf>) -> Option<EmbeddedStore> {
    Some(EmbeddedStore {
        db: db.upgrade()?,
        clock: clock.clone(),
        path: Arc::clone(path),
    })
}

/// The one write-transaction frame: begins a write transaction (redb runs
/// one at a time, so the body is atomic), reads the store's time under the
/// writer lock, runs `body`, then commits or aborts as it decided. An error
/// drops the transaction, which aborts it. `Durability::None` (token buckets
/// only) commits without an fsync.
fn write_txn<T>(
    db: &Database,
    clock: &Clock,
    durability: Durability,
    body: impl FnOnce(&WriteTransaction, u64) -> Result<Txn<T>, StoreError>,
) -> Result<T, StoreError> {
    let mut txn = db.begin_write().map_err(unavailable)?;
    if matches!(durability, Durability::None) {
        txn.set_durability(durability).map_err(unavailable)?;
    }
    match body(&txn, clock.now_ms())? {
        Txn::Commit(value) => {
            txn.commit().map_err(unavailable)?;
            Ok(value)
        }
        Txn::Abort(value) => {
            txn.abort().map_err(unavailable)?;
            Ok(value)
        }
    }
}

/// Creates the tables so read transactions always find them.
fn init_tables(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    txn.open_table(KV)?;
    txn.open_table(JOURNAL)?;
    txn.open_table(JOURNAL_BY_PRINCIPAL)?;
    txn.open_table(JOURNAL_SEQ)?;
    txn.commit()?;
    Ok(())
}

/// A clear [`StoreError::Open`] for a failed `Database::create`.
fn open_error(path: &Path, e: DatabaseError) -> StoreError {
    let path = path.display();
    match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            StoreError::Open(format!(
                "{path} is locked by another process: another gojira-mcp may be using GOJIRA_DATA_DIR ({e})"
            ))
        }
        DatabaseError::Storage(StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            StoreError::Open(format!("permission denied opening {path}: {io}"))
        }
        DatabaseError::Storage(StorageError::Io(io)) => {
            StoreError::Open(format!("cannot open {path}: {io}"))
        }
        DatabaseError::Storage(StorageError::Corrupted(why)) => StoreError::Open(format!(
            "{path} is corrupted or not a gojira database: {why}"
        )),
        other => StoreError::Open(format!("cannot open {path}: {other}")),
    }
}

/// Any redb failure during an operation.
fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        backend: BACKEND,
        reason: e.to_string(),
    }
}

fn corrupt(key: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// `expires_at_ms` for a value written at `now` with `ttl` (rounded up to the
/// millisecond; never 0, which means "no expiry").
fn expiry(now: u64, ttl: Option<Duration>) -> u64 {
    let Some(ttl) = ttl else {
        return NO_EXPIRY;
    };
    let mut ms = ttl.as_millis();
    if ttl.subsec_nanos() % 1_000_000 != 0 {
        ms += 1;
    }
    let ms = u64::try_from(ms).unwrap_or(u64::MAX);
    now.saturating_add(ms).max(1)
}

fn is_expired(expires_at: u64, now: u64) -> bool {
    expires_at != NO_EXPIRY && now >= expires_at
}

/// Whether a raw `kv` value has expired (an unreadable one has not).
fn is_expired_raw(raw: &[u8], now: u64) -> bool {
    raw.first_chunk::<HEADER_LEN>()
        .is_some_and(|h| is_expired(u64::from_be_bytes(*h), now))
}

fn encode_value(expires_at: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + value.len());
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// A raw `kv` value's expiry and payload, unless expired.
fn live_entry<'a>(
    key: &str,
    raw: &'a [u8],
    now: u64,
) -> Result<Option<(u64, &'a [u8])>, StoreError> {
    let Some((header, value)) = raw.split_first_chunk::<HEADER_LEN>() else {
        return Err(corrupt(
            key,
            format!("{} bytes, shorter than the expiry header", raw.len()),
        ));
    };
    let expires_at = u64::from_be_bytes(*header);
    Ok((!is_expired(expires_at, now)).then_some((expires_at, value)))
}

/// A raw `kv` value's payload, unless expired.
fn live_value<'a>(key: &str, raw: &'a [u8], now: u64) -> Result<Option<&'a [u8]>, StoreError> {
    Ok(live_entry(key, raw, now)?.map(|(_, v)| v))
}

fn decode_counter(key: &str, value: &[u8]) -> Result<i64, StoreError> {
    let bytes: [u8; 8] = value
        .try_into()
        .map_err(|_| corrupt(key, format!("a counter is 8 bytes, found {}", value.len())))?;
    Ok(i64::from_be_bytes(bytes))
}

/// Bucket state: (tokens, last refill ms).
fn decode_bucket(key: &str, value: &[u8]) -> Result<(f64, u64), StoreError> {
    let bytes: &[u8; BUCKET_STATE_LEN] = value.try_into().map_err(|_| {
        corrupt(
            key,
            format!(
                "a bucket state is {BUCKET_STATE_LEN} bytes, found {}",
                value.len()
            ),
        )
    })?;
    let (t, l) = bytes.split_at(8);
    let tokens = f64::from_bits(u64::from_be_bytes(
        t.try_into().map_err(|_| corrupt(key, "bucket state"))?,
    ));
    let last = u64::from_be_bytes(l.try_into().map_err(|_| corrupt(key, "bucket state"))?);
    if !tokens.is_finite() || tokens < 0.0 {
        return Err(corrupt(key, format!("bucket holds {tokens} tokens")));
    }
    Ok((tokens, last))
}

/// One bucket decision. Returns the outcome and, when granted, the state to
/// store (tokens left, last refill ms).
fn bucket_step(
    state: Option<(f64, u64)>,
    capacity: f64,
    rate: f64,
    requested: f64,
    now: u64,
) -> (BucketOutcome, Option<(f64, u64)>) {
    let (available, last) = match state {
        Some((tokens, last)) => {
            let elapsed = now.saturating_sub(last) as f64;
            let refilled = (tokens + elapsed / 1000.0 * rate).min(capacity);
            (refilled, last.max(now))
        }
        None => (capacity, now),
    };
    if requested.is_finite() && requested >= 0.0 && available >= requested {
        let left = available - requested;
        let outcome = BucketOutcome {
            granted: true,
            remaining: left,
            retry_after: Duration::ZERO,
        };
        return (outcome, Some((left, last)));
    }
    let retry_after = if requested.is_finite() && requested <= capacity && rate > 0.0 {
        let ms = ((requested - available) / rate * 1000.0).ceil();
        Duration::from_millis(f64_to_ms(ms)).min(RETRY_NEVER)
    } else {
        RETRY_NEVER
    };
    let outcome = BucketOutcome {
        granted: false,
        remaining: available,
        retry_after,
    };
    (outcome, None)
}

/// NaN and negatives become 0.
fn non_negative(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 { 0.0 } else { x }
}

/// A non-negative float of milliseconds as u64 (saturating).
fn f64_to_ms(ms: f64) -> u64 {
    if ms.is_nan() || ms <= 0.0 {
        0
    } else {
        ms as u64
    }
}

fn seq_key(log: &str) -> String {
    format!("journal {log} (sequence)")
}

fn entry_key(log: &str, id: JournalId) -> String {
    format!("journal {log} #{id}")
}

fn decode_seq(log: &str, raw: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = raw.try_into().map_err(|_| {
        corrupt(
            &seq_key(log),
            format!("a sequence is 8 bytes, found {}", raw.len()),
        )
    })?;
    Ok(u64::from_be_bytes(bytes))
}

fn encode_entry(principal: &str, data: &[u8]) -> Result<Vec<u8>, StoreError> {
    let len = u32::try_from(principal.len()).map_err(|_| StoreError::Unavailable {
        backend: BACKEND,
        reason: "journal principal longer than 4 GiB".into(),
    })?;
    let mut out = Vec::with_capacity(4 + principal.len() + data.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(principal.as_bytes());
    out.extend_from_slice(data);
    Ok(out)
}

/// A stored entry's principal and payload.
fn decode_entry<'a>(
    log: &str,
    id: JournalId,
    raw: &'a [u8],
) -> Result<(&'a str, &'a [u8]), StoreError> {
    let bad = |reason: &str| corrupt(&entry_key(log, id), reason);
    let (len, rest) = raw
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("shorter than its header"))?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| bad("principal length"))?;
    if rest.len() < len {
        return Err(bad("principal longer than the entry"));
    }
    let (principal, data) = rest.split_at(len);
    let principal = std::str::from_utf8(principal).map_err(|_| bad("principal is not UTF-8"))?;
    Ok((principal, data))
}

fn entry_from_raw(log: &str, id: JournalId, raw: &[u8]) -> Result<JournalEntry, StoreError> {
    let (principal, data) = decode_entry(log, id, raw)?;
    Ok(JournalEntry {
        id,
        principal: principal.to_owned(),
        data: data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A unique directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!(
                "gojira-embedded-{tag}-{}-{}-{nanos}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn open(tag: &str) -> (TempDir, EmbeddedStore, Clock) {
        let dir = TempDir::new(tag);
        let clock = Clock::manual(1_000_000);
        let store = EmbeddedStore::open(&dir.0, clock.clone()).unwrap();
        (dir, store, clock)
    }

    fn key(id: &str) -> Key {
        Key::new(Kind::Test, id)
    }

    /// Writes raw bytes (header included) under a key, bypassing the API.
    fn write_raw(store: &EmbeddedStore, key: &Key, raw: &[u8]) {
        let txn = store.db.begin_write().unwrap();
        {
            let mut t = txn.open_table(KV).unwrap();
            t.insert(key.to_string().as_str(), raw).unwrap();
        }
        txn.commit().unwrap();
    }

    /// Sweeping (embedded only; the expiry rules themselves are in
    /// `tests/conformance.rs`): only expired values go, a zero ttl is
    /// expired at once on the store's clock.
    #[tokio::test]
    async fn sweep_removes_only_expired_values() {
        let (_dir, s, clock) = open("ttl");
        s.set(&key("short"), b"v", Some(Duration::from_secs(10)))
            .await
            .unwrap();
        s.set(&key("long"), b"v", Some(Duration::from_secs(100)))
            .await
            .unwrap();
        s.set(&key("forever"), b"v", None).await.unwrap();
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(s.sweep_expired().await.unwrap(), 0);
        clock.advance(Duration::from_millis(1));
        assert_eq!(s.sweep_expired().await.unwrap(), 1);
        clock.advance(Duration::from_secs(100));
        assert_eq!(s.sweep_expired().await.unwrap(), 1);
        assert_eq!(s.get(&key("long")).await.unwrap(), None);
        assert_eq!(s.get(&key("forever")).await.unwrap(), Some(b"v".to_vec()));
        assert_eq!(s.sweep_expired().await.unwrap(), 0);
        s.set(&key("zero"), b"v", Some(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(s.get(&key("zero")).await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sweeper_task_sweeps_and_stops_when_store_dropped() {
        let dir = TempDir::new("sweeper");
        let clock = Clock::manual(5_000);
        let s = EmbeddedStore::open(&dir.0, clock.clone()).unwrap();
        s.set(&key("x"), b"v", Some(Duration::from_millis(10)))
            .await
            .unwrap();
        let handle = s.spawn_sweeper(Duration::from_millis(5));
        clock.advance(Duration::from_secs(1));
        let mut gone = false;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let txn = s.db.begin_read().unwrap();
            let t = txn.open_table(KV).unwrap();
            if t.get(key("x").to_string().as_str()).unwrap().is_none() {
                gone = true;
                break;
            }
        }
        assert!(gone, "the sweeper removed the expired value");
        drop(s);
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .unwrap()
            .unwrap();
        // The database is closed, so it can be opened again.
        EmbeddedStore::open(&dir.0, clock).unwrap();
    }

    /// Bytes too short for the expiry header (only a damaged file holds
    /// them): Corrupt on read, never swept, removable.
    #[tokio::test]
    async fn a_value_shorter_than_its_header_is_corrupt_and_removable() {
        let (_dir, s, _) = open("corrupt");
        let short = key("short");
        write_raw(&s, &short, b"abc");
        assert!(matches!(
            s.get(&short).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            s.take(&short).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            s.set_if_absent(&short, b"x", Duration::from_secs(1)).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(s.sweep_expired().await.unwrap(), 0);
        assert!(s.delete(&short).await.unwrap());
        assert_eq!(s.get(&short).await.unwrap(), None);
        assert!(s.health().await.ok);
    }

    #[tokio::test]
    async fn bucket_state_expires_when_full_again() {
        let (_dir, s, clock) = open("bucket-exp");
        let k = Key::new(Kind::Bucket, "b");
        let spec = BucketSpec {
            capacity: 10.0,
            refill_per_sec: 2.0,
        };
        assert!(s.take_tokens(&k, spec, 4.0).await.unwrap().granted);
        clock.advance(Duration::from_millis(1999));
        assert_eq!(s.sweep_expired().await.unwrap(), 0);
        clock.advance(Duration::from_millis(1));
        assert_eq!(s.sweep_expired().await.unwrap(), 1);
        assert_eq!(s.take_tokens(&k, spec, 0.0).await.unwrap().remaining, 10.0);
    }

    /// A bucket state of the right length holding NaN tokens is Corrupt
    /// (the garbled-bytes case is in `tests/conformance.rs`).
    #[tokio::test]
    async fn a_nan_bucket_state_is_corrupt() {
        let (_dir, s, _) = open("bucket-corrupt");
        let k = Key::new(Kind::Bucket, "b");
        let spec = BucketSpec {
            capacity: 10.0,
            refill_per_sec: 2.0,
        };
        let mut nan = [0u8; 16];
        nan[..8].copy_from_slice(&f64::NAN.to_bits().to_be_bytes());
        s.set(&k, &nan, None).await.unwrap();
        assert!(matches!(
            s.take_tokens(&k, spec, 1.0).await,
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[tokio::test]
    async fn reopen_keeps_entries_and_continues_ids() {
        let dir = TempDir::new("reopen");
        let clock = Clock::manual(1_000);
        {
            let s = EmbeddedStore::open(&dir.0, clock.clone()).unwrap();
            assert_eq!(s.journal_append("ops", "a", b"1").await.unwrap(), 1);
            assert_eq!(s.journal_append("ops", "a", b"2").await.unwrap(), 2);
            s.journal_truncate("ops", 3).await.unwrap();
            s.set(&key("k"), b"v", None).await.unwrap();
        }
        let s = EmbeddedStore::open(&dir.0, clock.clone()).unwrap();
        assert_eq!(s.get(&key("k")).await.unwrap(), Some(b"v".to_vec()));
        assert_eq!(s.journal_append("ops", "a", b"3").await.unwrap(), 3);
        drop(s);
        let s = EmbeddedStore::open(&dir.0, clock).unwrap();
        let all = s.journal_range("ops", 0, 10).await.unwrap();
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3]);
        assert_eq!(s.journal_append("ops", "a", b"4").await.unwrap(), 4);
    }

    #[tokio::test]
    async fn corrupt_journal_entry_is_reported() {
        let (_dir, s, _) = open("journal-corrupt");
        s.journal_append("ops", "p", b"ok").await.unwrap();
        {
            let txn = s.db.begin_write().unwrap();
            {
                let mut t = txn.open_table(JOURNAL).unwrap();
                t.insert(("ops", 2), &[0xff, 0xff, 0xff, 0xff, 1][..])
                    .unwrap();
            }
            txn.commit().unwrap();
        }
        assert!(matches!(
            s.journal_get("ops", 2).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(s.journal_get("ops", 1).await.unwrap().is_some());
        assert_eq!(s.journal_append("ops", "p", b"3").await.unwrap(), 3);
        assert_eq!(s.journal_truncate("ops", 3).await.unwrap(), 2);
        assert_eq!(s.journal_range("ops", 0, 10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    #[cfg(unix)]
    async fn the_data_dir_and_file_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = TempDir::new("private");
        let data = dir.0.join("data");
        let s = EmbeddedStore::open(&data, Clock::default()).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(s.path()), 0o600);
        let path = s.path().to_owned();
        drop(s);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = EmbeddedStore::open(&data, Clock::default()).unwrap();
        assert_eq!(mode(&path), 0o600, "a file open to others is made private");
        assert!(s.health().await.ok);
    }

    #[tokio::test]
    async fn open_errors_are_clear() {
        let dir = TempDir::new("open");
        // Parents are created.
        let nested = dir.0.join("a").join("b");
        let s = EmbeddedStore::open(&nested, Clock::default()).unwrap();
        assert_eq!(s.path(), nested.join(DB_FILE_NAME));
        assert!(s.health().await.ok);
        // Locked by another handle (a second process behaves the same).
        match EmbeddedStore::open(&nested, Clock::default()) {
            Err(StoreError::Open(msg)) => {
                assert!(msg.contains("GOJIRA_DATA_DIR"), "{msg}");
                assert!(msg.contains(DB_FILE_NAME), "{msg}");
            }
            other => panic!("expected Open error, got {other:?}"),
        }
        drop(s);
        // A file where the directory should be.
        let file = dir.0.join("file");
        std::fs::write(&file, b"x").unwrap();
        match EmbeddedStore::open(&file, Clock::default()) {
            Err(StoreError::Open(msg)) => assert!(msg.contains("file"), "{msg}"),
            other => panic!("expected Open error, got {other:?}"),
        }
        // A foreign file in place of the database.
        let foreign = dir.0.join("foreign");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join(DB_FILE_NAME), vec![0x5a; 10_000]).unwrap();
        match EmbeddedStore::open(&foreign, Clock::default()) {
            Err(StoreError::Open(msg)) => assert!(msg.contains(DB_FILE_NAME), "{msg}"),
            other => panic!("expected Open error, got {other:?}"),
        }
    }

    #[test]
    fn works_without_a_tokio_runtime() {
        let (_dir, s, _) = open("no-runtime");
        let fut = async {
            s.set(&key("k"), b"v", None).await?;
            s.get(&key("k")).await
        };
        // A minimal executor: the future never waits without a runtime.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => assert_eq!(r.unwrap(), Some(b"v".to_vec())),
            std::task::Poll::Pending => panic!("pending without a runtime"),
        }
    }
}
