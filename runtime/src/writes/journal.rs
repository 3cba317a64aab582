//! The operation journal: every write through gojira, recorded **before**
//! it is sent and completed after, append-only and hash-chained.
//!
//! Two kinds of entries go into one store log (`ops`): an *intent* (who,
//! which tool, the arguments, the exact request, the prior-state
//! snapshot, the plan digest; all redacted by [`crate::redact`] as they are
//! appended) and, later, an *outcome* naming its intent
//! (`completed`, `failed` or `unknown`, with the upstream status and request
//! id and the state after). Nothing is ever rewritten: each entry carries
//! the SHA-256 of the previous entry's bytes (`prev`), so `verify` finds an
//! edited, removed or reordered entry.
//!
//! Appends are serialized by a store lock (several instances share one
//! chain through Redis). Beside the chain the journal keeps indexes that are
//! not part of it (`gojira:journal:*`): the chain head, each intent's
//! outcome id, and a checkpoint below which no intent is pending.
//!
//! At start-up, intents older than the tool deadline without an outcome
//! (the process died between sending and recording) get an `unknown`
//! outcome; the server then compares the live state with the snapshot to
//! say whether the write happened ([`Journal::pending`]).

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gojira_store::{JournalEntry, JournalId, Key, Kind, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::redact::{Known, fields, fields_of_map, text};

/// The store log the journal lives in.
const LOG: &str = "ops";
/// How long one append may hold the chain lock.
const LOCK_TTL: Duration = Duration::from_secs(5);
/// Version of the index records.
const INDEX_VERSION: u16 = 1;
/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The store failed.
    #[error("the journal's store failed: {0}")]
    Store(#[from] StoreError),
    /// The chain lock could not be taken in time.
    #[error("the journal is busy (another write is being recorded); try again")]
    Busy,
    /// An entry does not parse.
    #[error("journal entry {id} is unreadable: {message}")]
    Corrupt {
        /// Entry id.
        id: JournalId,
        /// Parser message.
        message: String,
    },
}

/// A write about to be sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// Principal the write acts for.
    pub principal: String,
    /// Tool name.
    pub tool: String,
    /// Arguments, secrets redacted.
    pub args: Map<String, Value>,
    /// The upstream request (method, path, query, body).
    pub request: Value,
    /// The site (`cloudId`, or the site URL) the write goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Prior state, when the tool declares a snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Value>,
    /// Digest of the previewed plan.
    pub plan_digest: String,
    /// The journal id this write reverts, for revert operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_of: Option<JournalId>,
    /// When the intent was recorded (ms since the epoch).
    pub at_ms: u64,
}

/// How a write ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recorded, not yet completed (only in views: never written).
    Pending,
    /// Atlassian accepted it as an asynchronous task that has not ended
    /// yet; a later outcome (appended when `gojira.task.get` sees the task
    /// end) says how it ended.
    Running,
    /// Atlassian accepted it.
    Completed,
    /// Atlassian refused it, or it was never sent.
    Failed,
    /// Sent, but gojira does not know what happened.
    Unknown,
}

/// The end of a write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The intent it completes.
    pub of: JournalId,
    /// How it ended.
    pub status: Status,
    /// Upstream HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
    /// Atlassian's request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The upstream answer (for creates: what `result` means in a revert mapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The state after the write (re-read through the snapshot), for revert's conflict check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `unknown` outcomes: what the comparison with the live state found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// For writes Atlassian ran as an asynchronous task: the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskRef>,
    /// When (ms since the epoch).
    pub at_ms: u64,
}

/// An upstream asynchronous task, as journaled and as kept behind a handle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TaskRef {
    /// The opaque handle `gojira.task.get` takes.
    pub handle: String,
    /// Atlassian's task id, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The product (catalog name) the task runs in.
    pub product: String,
}

/// What a task handle stands for (kept in the store, never shown): whose
/// it is and where Atlassian answers its progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    /// The principal that started it; only they may poll it.
    pub principal: String,
    /// The write tool that started it (its product's base URL and
    /// credentials are the poll's).
    pub tool: String,
    /// The task's path below the product's base URL (validated when kept).
    pub path: String,
    /// Atlassian's task id, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The journal entry (intent) of the write; none for a read, which is
    /// not journaled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_id: Option<JournalId>,
    /// When the handle stops answering (ms since the epoch): the task's
    /// horizon (`GOJIRA_TASK_HORIZON_MS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

/// A write whose latest outcome is `running`, with its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningTask {
    /// The write's journal entry (intent).
    pub journal_id: JournalId,
    /// Who made the write.
    pub principal: String,
    /// The task; none when Atlassian gave no task gojira can follow (the
    /// write is only ended at the horizon, `unknown`).
    pub task: Option<TaskRef>,
    /// When the write was accepted as a task (ms since the epoch).
    pub since_ms: u64,
}

/// What an entry records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A write about to be sent.
    Intent(Intent),
    /// How it ended.
    Outcome(Outcome),
}

/// An entry as stored: the record plus the previous entry's hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Stored {
    /// SHA-256 (hex) of the previous entry's bytes; empty for the first.
    prev: String,
    #[serde(flatten)]
    record: Record,
}

/// The chain head: the last entry's id and hash.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Head {
    id: JournalId,
    hash: String,
}

/// An intent with what became of it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The intent's journal id.
    pub id: JournalId,
    /// Current status.
    pub status: Status,
    /// The intent.
    #[serde(flatten)]
    pub intent: Intent,
    /// Its outcome, once recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// The result of [`Journal::verify`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Whether every link of the entries verified holds.
    pub ok: bool,
    /// Whether the whole chain holds (for one principal's view: whether
    /// anything else is broken too, without naming it).
    pub chain_intact: bool,
    /// Entries checked (for one principal's view: theirs).
    pub checked: u64,
    /// The first id checked (earlier entries expired by retention).
    pub first_id: Option<JournalId>,
    /// Each broken entry: id and why.
    pub broken: Vec<Broken>,
}

/// One entry that fails verification.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Broken {
    /// Entry id.
    pub id: JournalId,
    /// What is wrong.
    pub reason: String,
    /// Whose entry it is, when known (removed entries have no owner left).
    #[serde(skip)]
    pub principal: Option<String>,
}

/// Filters for [`Journal::list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this principal's operations.
    pub principal: Option<String>,
    /// Only this tool.
    pub tool: Option<String>,
    /// Only at or after (ms).
    pub since_ms: Option<u64>,
    /// Only before (ms).
    pub until_ms: Option<u64>,
    /// Only this status.
    pub status: Option<Status>,
}

/// The journal over the store.
#[derive(Debug, Clone)]
pub struct Journal {
    store: Store,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn index_key(name: &str) -> Key {
    Key::new(Kind::Journal, format!("{LOG}:{name}"))
}

/// A copy of `args` with secrets redacted (see [`crate::redact`]: secret-named
/// fields at any depth, arrays included, and credentials inside strings).
pub fn redact(args: &Map<String, Value>) -> Map<String, Value> {
    let mut args = args.clone();
    crate::redact::fields_of_map(&mut args, &crate::redact::Known::new());
    args
}

impl Journal {
    /// A journal over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn get_index<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, JournalError> {
        let key = index_key(name);
        match self.store.get(&key).await? {
            Some(bytes) => {
                let (_, value) =
                    gojira_store::records::decode(&key, &bytes, |v| v == INDEX_VERSION)?;
                Ok(Some(value))
            }
            None => Ok(None),
        }
    }

    async fn put_index<T: Serialize>(&self, name: &str, value: &T) -> Result<(), JournalError> {
        let bytes = gojira_store::records::encode(INDEX_VERSION, value)?;
        self.store.set(&index_key(name), &bytes, None).await?;
        Ok(())
    }

    /// Records an intent (durably, before the write is sent); returns its id.
    ///
    /// # Errors
    /// The store failed or the chain stayed locked: the write must not be sent.
    pub async fn record_intent(&self, mut intent: Intent) -> Result<JournalId, JournalError> {
        // The journal is append-only: a secret written here could never be removed.
        redact_intent(&mut intent, &crate::redact::Known::new());
        let principal = intent.principal.clone();
        let id = self.append(&principal, Record::Intent(intent)).await?;
        Ok(id)
    }

    /// Records how the intent `outcome.of` ended.
    ///
    /// # Errors
    /// The store failed.
    pub async fn record_outcome(
        &self,
        principal: &str,
        mut outcome: Outcome,
    ) -> Result<JournalId, JournalError> {
        redact_outcome(&mut outcome, &crate::redact::Known::new());
        let of = outcome.of;
        let id = self.append(principal, Record::Outcome(outcome)).await?;
        self.put_index(&format!("outcome:{of}"), &id).await?;
        Ok(id)
    }

    /// Keeps what task handle `handle` stands for, for `ttl` at most (the
    /// store forgets it then; [`Self::live_task`] also checks the time).
    ///
    /// # Errors
    /// The store failed.
    pub async fn put_task(
        &self,
        handle: &str,
        task: &TaskRecord,
        ttl: Duration,
    ) -> Result<(), JournalError> {
        let bytes = gojira_store::records::encode(INDEX_VERSION, task)?;
        self.store
            .set(&index_key(&format!("task:{handle}")), &bytes, Some(ttl))
            .await?;
        Ok(())
    }

    /// What task handle `handle` stands for, if gojira issued it and it
    /// still answers: before its horizon, and (for a write) while its
    /// journal entry is kept. A handle never outlives its journal entry.
    ///
    /// # Errors
    /// The store failed.
    pub async fn live_task(
        &self,
        handle: &str,
        now_ms: u64,
    ) -> Result<Option<TaskRecord>, JournalError> {
        let Some(record) = self
            .get_index::<TaskRecord>(&format!("task:{handle}"))
            .await?
        else {
            return Ok(None);
        };
        if record.expires_at_ms.is_some_and(|at| now_ms >= at) {
            return Ok(None);
        }
        if let Some(id) = record.journal_id
            && self.store.journal_get(LOG, id).await?.is_none()
        {
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// What task handle `handle` stands for, as kept (expired or not).
    ///
    /// # Errors
    /// The store failed.
    pub async fn task(&self, handle: &str) -> Result<Option<TaskRecord>, JournalError> {
        self.get_index(&format!("task:{handle}")).await
    }

    /// Claims the next poll of task `handle` for `gap`: true for the one
    /// caller (across instances) that may poll it now.
    ///
    /// # Errors
    /// The store failed.
    pub async fn claim_task_poll(&self, handle: &str, gap: Duration) -> Result<bool, JournalError> {
        Ok(self
            .store
            .set_if_absent(&index_key(&format!("task-poll:{handle}")), b"1", gap)
            .await?)
    }

    /// Records a running write's final outcome, once: under the chain lock,
    /// and only while the write's latest outcome is still `running`
    /// (`None` when it is not: someone else recorded the end first).
    ///
    /// # Errors
    /// The store failed.
    pub async fn record_final_outcome(
        &self,
        principal: &str,
        mut outcome: Outcome,
    ) -> Result<Option<JournalId>, JournalError> {
        redact_outcome(&mut outcome, &crate::redact::Known::new());
        let of = outcome.of;
        let Some(id) = self
            .append_if(principal, Record::Outcome(outcome), Some(of))
            .await?
        else {
            return Ok(None);
        };
        self.put_index(&format!("outcome:{of}"), &id).await?;
        Ok(Some(id))
    }

    /// Writes whose latest outcome is `running`, oldest first,
    /// from the task checkpoint on; the checkpoint then moves to the oldest
    /// still running (or past the end).
    ///
    /// # Errors
    /// The store failed.
    pub async fn running_tasks(&self) -> Result<Vec<RunningTask>, JournalError> {
        const PAGE: usize = 200;
        let start: JournalId = self.get_index("task-checkpoint").await?.unwrap_or(1);
        let mut cursor = start;
        let mut out = Vec::new();
        loop {
            let entries = self.store.journal_range(LOG, cursor, PAGE).await?;
            for entry in &entries {
                let Ok(Record::Outcome(outcome)) = Self::parse(entry) else {
                    continue;
                };
                let task = outcome.task.clone();
                if outcome.status != Status::Running {
                    continue;
                }
                // Still the latest outcome of its write? (No link yet: it
                // was just appended, and its link is written after.)
                let latest = self.outcome_of(outcome.of).await?;
                if latest.is_none_or(|o| o.status == Status::Running) {
                    out.push(RunningTask {
                        journal_id: outcome.of,
                        principal: entry.principal.clone(),
                        task,
                        since_ms: outcome.at_ms,
                    });
                }
            }
            match entries.last() {
                Some(last) => {
                    cursor = last.id + 1;
                    if entries.len() < PAGE {
                        break;
                    }
                }
                None => break,
            }
        }
        // The oldest still running (its intent; its outcome comes after),
        // else past the end. Written only when it moves.
        let checkpoint = out.first().map_or(cursor, |t| t.journal_id);
        if checkpoint != start {
            self.put_index("task-checkpoint", &checkpoint).await?;
        }
        Ok(out)
    }

    async fn append(&self, principal: &str, record: Record) -> Result<JournalId, JournalError> {
        match self.append_if(principal, record, None).await? {
            Some(id) => Ok(id),
            None => Err(JournalError::Busy),
        }
    }

    /// Appends `record` under the chain lock; with `while_running`, only
    /// while that write's latest outcome is `running` (`None` otherwise).
    async fn append_if(
        &self,
        principal: &str,
        record: Record,
        while_running: Option<JournalId>,
    ) -> Result<Option<JournalId>, JournalError> {
        let lock = index_key("lock");
        let owner = gojira_store::crypto::generate_key();
        let deadline = tokio::time::Instant::now() + LOCK_TTL;
        loop {
            if self
                .store
                .set_if_absent(&lock, owner.as_bytes(), LOCK_TTL)
                .await?
            {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(JournalError::Busy);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let result = match while_running {
            Some(of) => match self.outcome_of(of).await {
                Ok(Some(o)) if o.status == Status::Running => {
                    self.append_locked(principal, record).await.map(Some)
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            },
            None => self.append_locked(principal, record).await.map(Some),
        };
        if let Err(e) = self.store.compare_and_delete(&lock, owner.as_bytes()).await {
            warn!(error = %e, "could not release the journal lock; it expires by itself");
        }
        result
    }

    async fn append_locked(
        &self,
        principal: &str,
        record: Record,
    ) -> Result<JournalId, JournalError> {
        let mut head: Head = self.get_index("head").await?.unwrap_or_default();
        // A crash between an append and the head update leaves the head
        // behind: walk forward to the real end before linking.
        while let Some(next) = self.store.journal_get(LOG, head.id + 1).await? {
            head = Head {
                id: next.id,
                hash: sha256_hex(&next.data),
            };
        }
        let stored = Stored {
            prev: head.hash,
            record,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| JournalError::Corrupt {
            id: head.id + 1,
            message: e.to_string(),
        })?;
        let id = self.store.journal_append(LOG, principal, &bytes).await?;
        let new_head = Head {
            id,
            hash: sha256_hex(&bytes),
        };
        self.put_index("head", &new_head).await?;
        Ok(id)
    }

    fn parse(entry: &JournalEntry) -> Result<Record, JournalError> {
        serde_json::from_slice::<Stored>(&entry.data)
            .map(|s| s.record)
            .map_err(|e| JournalError::Corrupt {
                id: entry.id,
                message: e.to_string(),
            })
    }

    /// One operation (an intent and its outcome) by the intent's id.
    ///
    /// # Errors
    /// The store failed or the entry is unreadable.
    pub async fn get(&self, id: JournalId) -> Result<Option<Operation>, JournalError> {
        let Some(entry) = self.store.journal_get(LOG, id).await? else {
            return Ok(None);
        };
        let Record::Intent(intent) = Self::parse(&entry)? else {
            return Ok(None);
        };
        let outcome = self.outcome_of(id).await?;
        Ok(Some(Operation {
            id,
            status: outcome.as_ref().map_or(Status::Pending, |o| o.status),
            intent,
            outcome,
        }))
    }

    async fn outcome_of(&self, id: JournalId) -> Result<Option<Outcome>, JournalError> {
        let Some(outcome_id) = self
            .get_index::<JournalId>(&format!("outcome:{id}"))
            .await?
        else {
            return Ok(None);
        };
        let Some(entry) = self.store.journal_get(LOG, outcome_id).await? else {
            return Ok(None);
        };
        match Self::parse(&entry)? {
            Record::Outcome(o) if o.of == id => Ok(Some(o)),
            _ => Ok(None),
        }
    }

    /// Operations matching `filter`, oldest first, starting at id `from`;
    /// returns them and the id to continue from (when there may be more).
    ///
    /// # Errors
    /// The store failed or an entry is unreadable.
    pub async fn list(
        &self,
        filter: &Filter,
        from: JournalId,
        limit: usize,
    ) -> Result<(Vec<Operation>, Option<JournalId>), JournalError> {
        const PAGE: usize = 200;
        let mut out = Vec::new();
        let mut cursor = from.max(1);
        loop {
            let entries = match &filter.principal {
                Some(p) => {
                    self.store
                        .journal_by_principal(LOG, p, cursor, PAGE)
                        .await?
                }
                None => self.store.journal_range(LOG, cursor, PAGE).await?,
            };
            let Some(last) = entries.last().map(|e| e.id) else {
                return Ok((out, None));
            };
            for entry in &entries {
                let Record::Intent(intent) = Self::parse(entry)? else {
                    continue;
                };
                if filter.tool.as_ref().is_some_and(|t| t != &intent.tool)
                    || filter.since_ms.is_some_and(|s| intent.at_ms < s)
                    || filter.until_ms.is_some_and(|u| intent.at_ms >= u)
                {
                    continue;
                }
                let outcome = self.outcome_of(entry.id).await?;
                let status = outcome.as_ref().map_or(Status::Pending, |o| o.status);
                if filter.status.is_some_and(|s| s != status) {
                    continue;
                }
                out.push(Operation {
                    id: entry.id,
                    status,
                    intent,
                    outcome,
                });
                if out.len() >= limit {
                    return Ok((out, Some(entry.id + 1)));
                }
            }
            if entries.len() < PAGE {
                return Ok((out, None));
            }
            cursor = last + 1;
        }
    }

    /// Walks the whole chain: each entry must parse, and each entry's
    /// content must still hash to what the next entry (or, for the last,
    /// the head index) recorded. A changed entry is named by its own id.
    ///
    /// # Errors
    /// The store failed.
    pub async fn verify(&self) -> Result<Verification, JournalError> {
        self.verify_for(None).await
    }

    /// [`Journal::verify`] as `principal` sees it: the whole chain is
    /// walked, but only their entries are counted and named; anything else
    /// broken shows only as `chain_intact: false`.
    ///
    /// # Errors
    /// The store failed.
    pub async fn verify_for(&self, principal: Option<&str>) -> Result<Verification, JournalError> {
        const PAGE: usize = 500;
        let mut broken = Vec::new();
        let mut checked = 0;
        let mut first_id = None;
        // The previous entry: id, the hash of its current bytes, its owner.
        let mut prev: Option<(JournalId, String, String)> = None;
        let mut cursor = 1;
        loop {
            let entries = self.store.journal_range(LOG, cursor, PAGE).await?;
            for entry in &entries {
                if principal.is_none_or(|p| p == entry.principal) {
                    checked += 1;
                }
                first_id.get_or_insert(entry.id);
                let owner = Some(entry.principal.clone());
                match serde_json::from_slice::<Stored>(&entry.data) {
                    Err(e) => broken.push(Broken {
                        id: entry.id,
                        reason: format!("does not parse: {e}"),
                        principal: owner,
                    }),
                    Ok(stored) => match &prev {
                        Some((prev_id, _, _)) if prev_id + 1 != entry.id => broken.push(Broken {
                            id: prev_id + 1,
                            reason: format!("entries {} to {} were removed", prev_id + 1, entry.id - 1),
                            principal: None,
                        }),
                        Some((prev_id, prev_hash, prev_owner)) if &stored.prev != prev_hash => broken.push(Broken {
                            id: *prev_id,
                            reason: format!("changed after it was written: entry {} recorded a different hash of it", entry.id),
                            principal: Some(prev_owner.clone()),
                        }),
                        None if entry.id == 1 && !stored.prev.is_empty() => broken.push(Broken {
                            id: entry.id,
                            reason: "the first entry links to a predecessor".into(),
                            principal: owner,
                        }),
                        _ => {}
                    },
                }
                prev = Some((entry.id, sha256_hex(&entry.data), entry.principal.clone()));
            }
            match entries.last() {
                Some(last) if entries.len() == PAGE => cursor = last.id + 1,
                _ => break,
            }
        }
        // The head index holds the last entry's id and hash: a changed last
        // entry, or a removed tail, shows here.
        if let Ok(Some(head)) = self.get_index::<Head>("head").await {
            match &prev {
                Some((last, _, _)) if head.id > *last => broken.push(Broken {
                    id: last + 1,
                    reason: format!("entries {} to {} were removed", last + 1, head.id),
                    principal: None,
                }),
                Some((last, hash, owner)) if head.id == *last && &head.hash != hash => broken.push(Broken {
                    id: *last,
                    reason: "changed after it was written: the chain head recorded a different hash of it".into(),
                    principal: Some(owner.clone()),
                }),
                None if head.id > 0 => broken.push(Broken {
                    id: 1,
                    reason: format!("entries 1 to {} were removed", head.id),
                    principal: None,
                }),
                _ => {}
            }
        }
        let chain_intact = broken.is_empty();
        if let Some(p) = principal {
            broken.retain(|b| b.principal.as_deref() == Some(p));
        }
        Ok(Verification {
            ok: broken.is_empty(),
            chain_intact,
            checked,
            first_id,
            broken,
        })
    }

    /// Intents recorded before `older_than_ms` that have no outcome, from
    /// the checkpoint on. The checkpoint then moves to the oldest intent
    /// still pending (a younger one, perhaps in flight), or past the end.
    ///
    /// # Errors
    /// The store failed.
    pub async fn pending(&self, older_than_ms: u64) -> Result<Vec<Operation>, JournalError> {
        const PAGE: usize = 200;
        let mut cursor: JournalId = self.get_index("checkpoint").await?.unwrap_or(1);
        let mut out = Vec::new();
        let mut next_checkpoint = None;
        loop {
            let entries = self.store.journal_range(LOG, cursor, PAGE).await?;
            for entry in &entries {
                let Ok(Record::Intent(intent)) = Self::parse(entry) else {
                    continue;
                };
                if self.outcome_of(entry.id).await?.is_some() {
                    continue;
                }
                if intent.at_ms < older_than_ms {
                    out.push(Operation {
                        id: entry.id,
                        status: Status::Pending,
                        intent,
                        outcome: None,
                    });
                } else {
                    next_checkpoint.get_or_insert(entry.id);
                }
            }
            match entries.last() {
                Some(last) if entries.len() == PAGE => cursor = last.id + 1,
                Some(last) => {
                    cursor = last.id + 1;
                    break;
                }
                None => break,
            }
        }
        // Resolved ones get an outcome right after this; a younger pending
        // intent keeps the checkpoint at itself.
        let checkpoint = next_checkpoint.unwrap_or(cursor);
        let checkpoint = out.first().map_or(checkpoint, |o| o.id.min(checkpoint));
        self.put_index("checkpoint", &checkpoint).await?;
        Ok(out)
    }

    /// Deletes entries recorded before `cutoff_ms` (retention); returns how many.
    ///
    /// # Errors
    /// The store failed.
    pub async fn expire(&self, cutoff_ms: u64) -> Result<u64, JournalError> {
        let mut first_kept = None;
        let mut cursor = 1;
        'scan: loop {
            let entries = self.store.journal_range(LOG, cursor, 200).await?;
            for entry in &entries {
                let at = match Self::parse(entry) {
                    Ok(Record::Intent(i)) => i.at_ms,
                    Ok(Record::Outcome(o)) => o.at_ms,
                    Err(_) => 0,
                };
                if at >= cutoff_ms {
                    first_kept = Some(entry.id);
                    break 'scan;
                }
            }
            match entries.last() {
                Some(last) if entries.len() == 200 => cursor = last.id + 1,
                Some(last) => {
                    first_kept = Some(last.id + 1);
                    break;
                }
                None => break,
            }
        }
        match first_kept {
            Some(before) if before > 1 => Ok(self.store.journal_truncate(LOG, before).await?),
            _ => Ok(0),
        }
    }
}

/// An intent as it may be journaled: arguments, request (query and body),
/// site and snapshot redacted with [`fields`].
pub fn redact_intent(intent: &mut Intent, known: &Known) {
    fields_of_map(&mut intent.args, known);
    fields(&mut intent.request, known);
    if let Some(site) = &mut intent.site
        && let Cow::Owned(clean) = text(site, known)
    {
        *site = clean;
    }
    if let Some(snapshot) = &mut intent.snapshot {
        fields(snapshot, known);
    }
}

/// An outcome as it may be journaled: result, state after, error and
/// resolution redacted.
pub fn redact_outcome(outcome: &mut Outcome, known: &Known) {
    for value in [&mut outcome.result, &mut outcome.after]
        .into_iter()
        .flatten()
    {
        fields(value, known);
    }
    for message in [&mut outcome.error, &mut outcome.resolution]
        .into_iter()
        .flatten()
    {
        if let Cow::Owned(clean) = text(message, known) {
            *message = clean;
        }
    }
    if let Some(id) = &mut outcome.request_id
        && let Cow::Owned(clean) = text(id, known)
    {
        *id = clean;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn journal() -> (Journal, Store, tempdir::Dir) {
        let dir = tempdir::Dir::new();
        let store = Store::Embedded(
            gojira_store::embedded::EmbeddedStore::open(&dir.0, gojira_store::Clock::System)
                .expect("open"),
        );
        (Journal::new(store.clone()), store, dir)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let p = std::env::temp_dir().join(format!(
                    "gojira-journal-{}-{}",
                    std::process::id(),
                    gojira_store::crypto::generate_key().replace(['/', '+', '='], "")
                ));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn intent(principal: &str, tool: &str, at_ms: u64) -> Intent {
        Intent {
            principal: principal.into(),
            tool: tool.into(),
            args: redact(
                json!({"id": 1, "apiToken": "s3cret", "body": {"password": "p"}})
                    .as_object()
                    .unwrap(),
            ),
            request: json!({"method": "PUT", "path": "/x/1"}),
            site: None,
            snapshot: Some(json!({"name": "old"})),
            plan_digest: "d".into(),
            revert_of: None,
            at_ms,
        }
    }

    fn outcome(of: JournalId, status: Status) -> Outcome {
        Outcome {
            of,
            status,
            upstream_status: Some(200),
            request_id: Some("req-1".into()),
            result: None,
            after: None,
            error: None,
            resolution: None,
            task: None,
            at_ms: now_ms(),
        }
    }

    #[tokio::test]
    async fn operations_join_intents_and_outcomes_and_filters_apply() {
        let (j, _store, _dir) = journal().await;
        let a = j
            .record_intent(intent("alice", "t.update", 1000))
            .await
            .unwrap();
        let b = j
            .record_intent(intent("bob", "t.delete", 2000))
            .await
            .unwrap();
        j.record_outcome("alice", outcome(a, Status::Completed))
            .await
            .unwrap();
        let op = j.get(a).await.unwrap().unwrap();
        assert_eq!(op.status, Status::Completed);
        assert_eq!(op.intent.args["apiToken"], "[redacted]");
        assert_eq!(op.intent.args["body"]["password"], "[redacted]");
        assert_eq!(j.get(b).await.unwrap().unwrap().status, Status::Pending);
        assert!(
            j.get(a + 2).await.unwrap().is_none(),
            "an outcome id is not an operation"
        );

        let (mine, _) = j
            .list(
                &Filter {
                    principal: Some("bob".into()),
                    ..Filter::default()
                },
                1,
                10,
            )
            .await
            .unwrap();
        assert_eq!(mine.iter().map(|o| o.id).collect::<Vec<_>>(), [b]);
        let (pending, _) = j
            .list(
                &Filter {
                    status: Some(Status::Pending),
                    ..Filter::default()
                },
                1,
                10,
            )
            .await
            .unwrap();
        assert_eq!(pending.len(), 1);
        let (page, next) = j.list(&Filter::default(), 1, 1).await.unwrap();
        assert_eq!((page.len(), next), (1, Some(a + 1)));
        assert_eq!(
            j.pending(1500).await.unwrap().len(),
            0,
            "bob's intent is newer than the cutoff"
        );
        assert_eq!(j.pending(2500).await.unwrap().len(), 1);
    }

    /// An asynchronous write: `running` first, then the task's end is a
    /// new outcome appended (nothing rewritten), which the view then shows;
    /// recovery leaves a running write alone.
    #[tokio::test]
    async fn a_running_write_ends_with_an_appended_outcome() {
        let (j, _store, _dir) = journal().await;
        let a = j
            .record_intent(intent("alice", "t.delete", 1))
            .await
            .unwrap();
        let task = TaskRef {
            handle: "gt_0123456789abcdef0123456789abcdef".into(),
            id: Some("10001".into()),
            product: "p".into(),
        };
        let mut running = outcome(a, Status::Running);
        running.task = Some(task.clone());
        let first = j.record_outcome("alice", running).await.unwrap();
        assert_eq!(j.get(a).await.unwrap().unwrap().status, Status::Running);
        assert!(j.pending(u64::MAX).await.unwrap().is_empty());
        let mut done = outcome(a, Status::Completed);
        done.task = Some(task.clone());
        let second = j.record_outcome("alice", done).await.unwrap();
        assert!(second > first);
        let op = j.get(a).await.unwrap().unwrap();
        assert_eq!(op.status, Status::Completed);
        assert_eq!(op.outcome.unwrap().task, Some(task));
        assert!(j.verify().await.unwrap().ok);
        let record = TaskRecord {
            principal: "alice".into(),
            tool: "t.delete".into(),
            path: "/task/10001".into(),
            id: Some("10001".into()),
            journal_id: Some(a),
            expires_at_ms: None,
        };
        j.put_task("gt_x", &record, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(j.task("gt_x").await.unwrap(), Some(record));
        assert_eq!(j.task("gt_y").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_task_handle_ends_at_its_horizon_and_never_outlives_its_entry() {
        let (j, _store, _dir) = journal().await;
        let a = j
            .record_intent(intent("alice", "t.delete", 1_000))
            .await
            .unwrap();
        let now = now_ms();
        let record = |journal_id, expires_at_ms| TaskRecord {
            principal: "alice".into(),
            tool: "t.delete".into(),
            path: "/task/1".into(),
            id: None,
            journal_id,
            expires_at_ms: Some(expires_at_ms),
        };
        let ttl = Duration::from_secs(60);
        j.put_task("gt_write", &record(Some(a), now + 60_000), ttl)
            .await
            .unwrap();
        j.put_task("gt_read", &record(None, now + 60_000), ttl)
            .await
            .unwrap();
        j.put_task("gt_old", &record(Some(a), now - 1), ttl)
            .await
            .unwrap();
        assert!(j.live_task("gt_write", now).await.unwrap().is_some());
        assert!(j.live_task("gt_read", now).await.unwrap().is_some());
        assert_eq!(
            j.live_task("gt_old", now).await.unwrap(),
            None,
            "past its horizon"
        );
        assert_eq!(j.live_task("gt_none", now).await.unwrap(), None);
        // Retention deletes the write's entry: its handle goes with it.
        assert!(j.expire(now).await.unwrap() > 0);
        assert_eq!(j.live_task("gt_write", now).await.unwrap(), None);
        assert!(j.live_task("gt_read", now).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_final_outcome_is_appended_once_and_only_running_tasks_are_listed() {
        let (j, _store, _dir) = journal().await;
        let task = |n: u8| TaskRef {
            handle: format!("gt_{n:032x}"),
            id: None,
            product: "p".into(),
        };
        let a = j
            .record_intent(intent("alice", "t.delete", 1))
            .await
            .unwrap();
        let b = j.record_intent(intent("bob", "t.delete", 2)).await.unwrap();
        let c = j.record_intent(intent("bob", "t.update", 3)).await.unwrap();
        for (id, who, n) in [(a, "alice", 1), (b, "bob", 2)] {
            let mut running = outcome(id, Status::Running);
            running.task = Some(task(n));
            j.record_outcome(who, running).await.unwrap();
        }
        j.record_outcome("bob", outcome(c, Status::Completed))
            .await
            .unwrap();
        // Accepted without a task to follow: running too, until its horizon.
        let d = j.record_intent(intent("bob", "t.move", 4)).await.unwrap();
        j.record_outcome("bob", outcome(d, Status::Running))
            .await
            .unwrap();
        let listed = j.running_tasks().await.unwrap();
        let seen: Vec<_> = listed
            .iter()
            .map(|t| {
                (
                    t.journal_id,
                    t.principal.as_str(),
                    t.task.clone().map(|t| t.handle),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (a, "alice", Some(task(1).handle)),
                (b, "bob", Some(task(2).handle)),
                (d, "bob", None),
            ]
        );
        // The end is recorded once, however many pollers see it.
        assert!(
            j.record_final_outcome("alice", outcome(a, Status::Completed))
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            j.record_final_outcome("alice", outcome(a, Status::Failed))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            j.record_final_outcome("bob", outcome(c, Status::Unknown))
                .await
                .unwrap(),
            None,
            "not running"
        );
        assert_eq!(j.get(a).await.unwrap().unwrap().status, Status::Completed);
        let left: Vec<_> = j
            .running_tasks()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.journal_id)
            .collect();
        assert_eq!(left, vec![b, d]);
        assert!(j.verify().await.unwrap().ok);
    }

    #[tokio::test]
    async fn verify_names_an_edited_entry() {
        let (j, store, _dir) = journal().await;
        let a = j
            .record_intent(intent("alice", "t.update", 1))
            .await
            .unwrap();
        j.record_outcome("alice", outcome(a, Status::Completed))
            .await
            .unwrap();
        let c = j
            .record_intent(intent("alice", "t.update", 2))
            .await
            .unwrap();
        let v = j.verify().await.unwrap();
        assert!(v.ok && v.checked == 3, "{v:?}");

        // Someone with store access rewrites history: alice's first write "never happened".
        let entry = store.journal_get(LOG, a).await.unwrap().unwrap();
        let forged = String::from_utf8(entry.data)
            .unwrap()
            .replace("t.update", "t.noop");
        store
            .journal_update(LOG, a, forged.as_bytes())
            .await
            .unwrap();
        let v = j.verify().await.unwrap();
        assert!(!v.ok);
        assert_eq!(
            v.broken.iter().map(|b| b.id).collect::<Vec<_>>(),
            [a],
            "the edited entry is named: {v:?}"
        );

        // Editing the last entry is caught by the head.
        let entry = store.journal_get(LOG, c).await.unwrap().unwrap();
        let forged = String::from_utf8(entry.data)
            .unwrap()
            .replace("alice", "mallory");
        store
            .journal_update(LOG, c, forged.as_bytes())
            .await
            .unwrap();
        let v = j.verify().await.unwrap();
        assert_eq!(
            v.broken.iter().map(|b| b.id).collect::<Vec<_>>(),
            [a, c],
            "{v:?}"
        );
    }

    #[tokio::test]
    async fn concurrent_appends_keep_one_chain() {
        let (j, _store, _dir) = journal().await;
        let mut tasks = Vec::new();
        for i in 0..20 {
            let j = j.clone();
            tasks.push(tokio::spawn(async move {
                j.record_intent(intent("p", "t", i)).await.unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let v = j.verify().await.unwrap();
        assert!(v.ok && v.checked == 20, "{v:?}");
    }

    #[tokio::test]
    async fn expiry_keeps_recent_entries_and_verify_starts_after_it() {
        let (j, _store, _dir) = journal().await;
        for at in [100, 200, 300] {
            j.record_intent(intent("p", "t", at)).await.unwrap();
        }
        assert_eq!(j.expire(250).await.unwrap(), 2);
        let v = j.verify().await.unwrap();
        assert!(v.ok, "{v:?}");
        assert_eq!((v.checked, v.first_id), (1, Some(3)));
    }

    /// Whatever a caller puts in an intent or an outcome, no secret reaches
    /// the store: secret-named fields at any depth (arrays too), secret-named
    /// query parameters, and bearer/basic credentials inside any string.
    #[tokio::test]
    async fn no_secret_reaches_the_stored_journal() {
        let (j, store, _dir) = journal().await;
        let secrets = [
            "query-api-token",
            "body-password",
            "array-secret",
            "auth-header-value",
            "cookie-value",
            "bearer-in-text-123",
            "YmFzaWMtaW4tdGV4dA==",
            "snapshot-private-key",
            "result-client-secret",
            "after-credential",
            "error-bearer-456",
        ];
        let mut intent = intent("p", "t.update", 1);
        intent.args =
            json!({"items": [{"apiKey": "array-secret"}], "note": "Bearer bearer-in-text-123"})
                .as_object()
                .unwrap()
                .clone();
        intent.request = json!({
            "method": "POST", "path": "/x",
            "query": [["apiToken", "query-api-token"], ["expand", "all"]],
            "body": {"user": {"password": "body-password"}, "items": [{"secret": "array-secret"}],
                     "headers": {"Authorization": "auth-header-value", "cookie": "cookie-value"},
                     "text": "sent Authorization: Basic YmFzaWMtaW4tdGV4dA== and Bearer bearer-in-text-123"}
        });
        intent.snapshot =
            Some(json!({"name": "n", "settings": [{"privateKey": "snapshot-private-key"}]}));
        let id = j.record_intent(intent).await.unwrap();
        let mut done = outcome(id, Status::Failed);
        done.result = Some(json!({"id": 7, "oauth": {"clientSecret": "result-client-secret"}}));
        done.after = Some(json!({"credentials": ["after-credential"]}));
        done.error = Some("HTTP 401: Authorization: Bearer error-bearer-456 was refused".into());
        j.record_outcome("p", done).await.unwrap();

        for entry_id in [id, id + 1] {
            let entry = store.journal_get(LOG, entry_id).await.unwrap().unwrap();
            let text = String::from_utf8(entry.data).unwrap();
            for secret in secrets {
                assert!(
                    !text.contains(secret),
                    "entry {entry_id} holds {secret:?}: {text}"
                );
            }
        }
        let op = j.get(id).await.unwrap().unwrap();
        assert_eq!(op.intent.request["query"][1], json!(["expand", "all"]));
        assert_eq!(
            op.intent.snapshot.unwrap()["name"],
            "n",
            "ordinary fields stay"
        );
        assert_eq!(op.outcome.unwrap().result.unwrap()["id"], 7);
        assert!(j.verify().await.unwrap().ok);
    }
}
