//! Asynchronous operations: Atlassian answers some calls with `202
//! Accepted` (or `303 See Other`) and a task to poll instead of the result.
//! Whatever the product, and for a read as for a write, gojira answers in
//! one shape,
//!
//! ```json
//! {"task": {"handle", "id", "status": "running|complete|failed|cancelled",
//!           "product", "progress"?, "result"?},
//!  "journalId" (writes only), "next": "call gojira.task.get with ..."}
//! ```
//!
//! A write is journaled `running` (never `completed`) and its final
//! outcome is appended, once, by [`poll`] when it sees the task end:
//! through `gojira.task.get`, or through the server's own upkeep
//! ([`follow_unpolled`]) when nobody polls, with the credential of the user
//! who made the write. Past its horizon (`GOJIRA_TASK_POLL_*`,
//! `GOJIRA_TASK_HORIZON_MS`) a task still running is journaled `unknown`
//! and its handle answers `NOT_FOUND`. A read is not journaled.
//!
//! Where a task is polled comes from data, never from the model: the
//! upstream's `Location` header (or the task's own link in the answer),
//! made relative to the product's base URL, validated like a path
//! parameter, and kept in the store behind a random handle bound to the
//! principal that started it, for the horizon at most and never longer
//! than its journal entry. The handle is all the model ever sees.

use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};

use super::Builtin;
use crate::catalog::{Method, Tool as CatalogTool, UpstreamRequest};
use crate::error::{ErrorCode, ToolError};
use gojira_store::JournalId;

use crate::state::{CallContext, ServerState};
use crate::writes::journal::{self, Outcome, RunningTask, Status, TaskRecord, TaskRef};

pub(super) static GET: Builtin = Builtin {
    name: "gojira.task.get",
    title: "Get an asynchronous task",
    description: "Progress of an Atlassian task a call started (a call that answered with `task`): status running, complete, failed or cancelled, progress, and the result when it ended. Pass the task handle the call answered. Records a write's final outcome in the journal when the task ends.",
    input_schema: r#"{"type":"object","properties":{"task":{"type":"string","description":"The task handle a call answered (task.handle)","pattern":"^gt_[0-9a-f]{32}$"}},"required":["task"],"additionalProperties":false}"#,
    read_only: true,
    destructive: false,
    scope: gojira_auth::scopes::READ,
};

/// Prefix of the handles gojira issues.
const HANDLE_PREFIX: &str = "gt_";

/// Whether `handle` has the form of a handle gojira issues.
fn valid_handle(handle: &str) -> bool {
    handle.strip_prefix(HANDLE_PREFIX).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn new_handle() -> String {
    let random = gojira_store::crypto::generate_key();
    format!(
        "{HANDLE_PREFIX}{}",
        hex::encode(&Sha256::digest(random.as_bytes())[..16])
    )
}

/// A task's state as gojira answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Complete,
    Failed,
    Cancelled,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Complete => "complete",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    fn ended(self) -> bool {
        self != State::Running
    }

    /// The task's state from an upstream task body: a `status` word
    /// (ENQUEUED, RUNNING, COMPLETE, FAILED, CANCELLED and the like), else
    /// `finished` and `successful` flags.
    fn of(body: &Value) -> State {
        let word = body
            .get("status")
            .and_then(|s| s.as_str().or_else(|| s.get("key").and_then(Value::as_str)))
            .map(str::to_ascii_uppercase);
        match word.as_deref() {
            Some("COMPLETE" | "COMPLETED" | "SUCCESS" | "SUCCEEDED" | "SUCCESSFUL" | "DONE") => {
                return State::Complete;
            }
            Some("FAILED" | "FAILURE" | "DEAD" | "ERROR" | "ABORTED") => return State::Failed,
            Some("CANCELLED" | "CANCELED") => return State::Cancelled,
            _ => {}
        }
        match (
            body.get("finished").and_then(Value::as_bool),
            body.get("successful").and_then(Value::as_bool),
        ) {
            (Some(true), Some(false)) => State::Failed,
            (Some(true), _) => State::Complete,
            _ => State::Running,
        }
    }
}

/// The task's link in an accepted answer: the `Location` header, else the
/// task's own link in the body.
fn task_link<'a>(location: Option<&'a str>, body: &'a Value) -> Option<&'a str> {
    location
        .or_else(|| body.get("location").and_then(Value::as_str))
        .or_else(|| body.pointer("/links/status").and_then(Value::as_str))
        .or_else(|| body.get("self").and_then(Value::as_str))
}

/// `link` as a path below `base` (the product's base URL for the call), if
/// it is a plain path: no query, fragment, dot segments, empty segments or
/// characters a path parameter could not carry.
fn relative_path(link: &str, base: Option<&str>) -> Option<String> {
    let path = if link.starts_with('/') && !link.starts_with("//") {
        link.split(['?', '#']).next().unwrap_or_default().to_owned()
    } else {
        reqwest::Url::parse(link).ok()?.path().to_owned()
    };
    let base_path = base
        .and_then(|b| reqwest::Url::parse(b).ok())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let path = match path.strip_prefix(base_path.as_str()) {
        Some(rest) if !base_path.is_empty() && rest.starts_with('/') => rest.to_owned(),
        _ => path,
    };
    let plain = path.len() <= 512
        && path.starts_with('/')
        && path[1..]
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~%".contains(&b))
        && !path.to_ascii_lowercase().contains("%2f")
        && !path.contains("%2e")
        && !path.contains("%2E");
    plain.then_some(path)
}

/// The task's fields as gojira answers them.
fn task_json(task: Option<&TaskRef>, product: &str, state: State, body: &Value) -> Value {
    let mut t = Map::new();
    if let Some(task) = task {
        t.insert("handle".into(), json!(task.handle));
        if let Some(id) = &task.id {
            t.insert("id".into(), json!(id));
        }
    }
    t.insert("status".into(), json!(state.as_str()));
    t.insert("product".into(), json!(product));
    if let Some(p) = body
        .get("progress")
        .or_else(|| body.get("percentageComplete"))
        .filter(|p| p.is_number())
    {
        t.insert("progress".into(), p.clone());
    }
    if let Some(m) = body.get("message").filter(|m| m.is_string()) {
        t.insert("message".into(), m.clone());
    }
    if state.ended()
        && let Some(r) = body.get("result")
    {
        t.insert("result".into(), r.clone());
    }
    Value::Object(t)
}

fn next_for(handle: Option<&str>, state: State, write: bool) -> String {
    let dont = if write {
        "; do not repeat the write"
    } else {
        ""
    };
    match (handle, state) {
        (_, State::Complete) => "The task is complete.".into(),
        (_, State::Failed) => {
            "The task failed; see message. Check the resource in Atlassian before retrying.".into()
        }
        (_, State::Cancelled) => "The task was cancelled; nothing more will happen.".into(),
        (Some(h), State::Running) => format!(
            "Atlassian runs this as a task that has not ended. Call gojira.task.get with {{\"task\": \"{h}\"}} in a few seconds to follow it{dont}."
        ),
        (None, State::Running) => format!(
            "Atlassian accepted this and runs it in the background, without a task gojira can follow. Check the resource in Atlassian later{dont}."
        ),
    }
}

fn journal_status(state: State) -> Status {
    match state {
        State::Running => Status::Running,
        State::Complete => Status::Completed,
        State::Failed | State::Cancelled => Status::Failed,
    }
}

/// An asynchronous answer: what the journal records (for a write) and
/// what the caller is answered.
pub(crate) struct Accepted {
    /// The journal status (`running` unless the answer says it ended).
    pub(crate) status: Status,
    /// The task, when it can be followed.
    pub(crate) task: Option<TaskRef>,
    /// The answer in gojira's task shape.
    pub(crate) answer: Value,
}

/// When the upstream answered a call asynchronously (202, or 303 with a
/// task), keeps the task behind a handle bound to the caller and answers
/// it in gojira's task shape; `None` for an ordinary answer. `journal_id`
/// is the write's journal entry; `None` for a read.
pub(crate) async fn accepted(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    journal_id: Option<JournalId>,
    status: u16,
    location: Option<&str>,
    body: &Value,
) -> Option<Accepted> {
    if status != 202 && status != 303 {
        return None;
    }
    let link = task_link(location, body);
    // A 303 is a task only with its link; so is a read's 202 (a read
    // without a task to follow answers its body as it is).
    if (status == 303 || journal_id.is_none()) && link.is_none() {
        return None;
    }
    let task_state = State::of(body);
    let id = body
        .get("id")
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
        .or_else(|| link.and_then(|l| l.rsplit('/').next()).map(str::to_owned))
        .filter(|id| !id.is_empty() && id.len() <= 128);
    let base = state.base_url_of_call(ctx, tool).await;
    let path = link.and_then(|l| relative_path(l, base.as_deref()));
    let mut task = None;
    if let Some(path) = path
        && !task_state.ended()
    {
        let handle = new_handle();
        let horizon = state.task_policy().horizon;
        let record = TaskRecord {
            principal: ctx.principal.clone(),
            tool: tool.spec.name.to_owned(),
            path,
            id: id.clone(),
            journal_id,
            expires_at_ms: Some(journal::now_ms().saturating_add(horizon.as_millis() as u64)),
        };
        match state.journal().put_task(&handle, &record, horizon).await {
            Ok(()) => {
                task = Some(TaskRef {
                    handle,
                    id: id.clone(),
                    product: tool.spec.product.to_owned(),
                })
            }
            Err(e) => {
                warn!(?journal_id, error = %e, "could not keep an asynchronous task's handle")
            }
        }
    }
    let mut shown = task_json(task.as_ref(), tool.spec.product, task_state, body);
    if task.is_none()
        && let (Some(id), Value::Object(map)) = (&id, &mut shown)
    {
        map.insert("id".into(), json!(id));
    }
    let mut answer = json!({
        "task": shown,
        "next": next_for(
            task.as_ref().map(|t| t.handle.as_str()),
            task_state,
            journal_id.is_some(),
        ),
    });
    if let Some(id) = journal_id {
        answer["journalId"] = json!(id);
    }
    Some(Accepted {
        status: journal_status(task_state),
        task,
        answer,
    })
}

fn unknown_task() -> ToolError {
    ToolError::new(
        ErrorCode::NotFound,
        "no such task: a task handle answers only for the user whose call started it, and only until the task's horizon (or while its journal entry is kept). Next: for a write, check its outcome with gojira.journal.get (its journalId; gojira.journal.list finds it); for a read, call the read again",
    )
}

fn journal_err(e: journal::JournalError) -> ToolError {
    ToolError::with_code(
        ErrorCode::JournalUnavailable,
        format!("{e}. Next: try again when the server's store answers"),
        None,
    )
}

pub(super) async fn get(
    state: &ServerState,
    ctx: &CallContext,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let handle = args.get("task").and_then(Value::as_str).unwrap_or_default();
    if !valid_handle(handle) {
        return Err(ToolError::invalid_arguments(
            "task must be a task handle a call answered (task.handle, gt_ and 32 hex digits)",
        ));
    }
    let record = state
        .journal()
        .live_task(handle, journal::now_ms())
        .await
        .map_err(journal_err)?;
    let Some(record) = record.filter(|r| r.principal == ctx.principal) else {
        return Err(unknown_task());
    };
    poll(state, ctx, handle, &record).await
}

/// Polls the task behind `handle` as `ctx` (the principal who started it)
/// and answers it in gojira's task shape; when it ended and started a
/// write, appends the write's final outcome (once). The one path for
/// `gojira.task.get` and for the server's own upkeep.
async fn poll(
    state: &ServerState,
    ctx: &CallContext,
    handle: &str,
    record: &TaskRecord,
) -> Result<Value, ToolError> {
    if record.principal != ctx.principal {
        return Err(unknown_task());
    }
    let tool = state.catalog_tool(&record.tool).ok_or_else(|| {
        ToolError::internal(format!(
            "the tool that started this task, {}, is no longer in the catalog",
            record.tool
        ))
    })?;
    // Kept validated, checked again: the path is sent with the caller's credentials.
    if relative_path(&record.path, None).as_deref() != Some(record.path.as_str()) {
        return Err(unknown_task());
    }
    let mut request = UpstreamRequest::new(Method::Get);
    request.path = record.path.clone();
    let (upstream_status, request_id, body) = state.send(ctx, tool, &request).await?;
    let task_state = State::of(&body);
    let task = TaskRef {
        handle: handle.to_owned(),
        id: record.id.clone(),
        product: tool.spec.product.to_owned(),
    };
    let write = record.journal_id.is_some();
    let mut answer = json!({
        "task": task_json(Some(&task), tool.spec.product, task_state, &body),
        "next": next_for(Some(handle), task_state, write),
    });
    let Some(journal_id) = record.journal_id else {
        return Ok(answer);
    };
    answer["journalId"] = json!(journal_id);
    if task_state.ended() {
        let outcome = Outcome {
            of: journal_id,
            status: journal_status(task_state),
            upstream_status: Some(upstream_status),
            request_id,
            result: Some(body.clone()),
            after: None,
            error: (task_state != State::Complete)
                .then(|| format!("the asynchronous task ended {}", task_state.as_str())),
            resolution: None,
            task: Some(task),
            at_ms: journal::now_ms(),
        };
        // Once: a later poll of an ended task appends nothing.
        if state
            .journal()
            .record_final_outcome(&ctx.principal, outcome)
            .await
            .map_err(journal_err)?
            .is_some()
        {
            state.invalidate_cache(ctx, tool).await;
        }
        answer["journalStatus"] = json!(journal_status(task_state));
    }
    Ok(answer)
}

/// The least time between two of the server's polls of a task `age_ms`
/// old: a quarter of its age, from the poll interval up to five minutes
/// (never below the interval).
fn poll_gap(interval: Duration, age_ms: u64) -> Duration {
    let ceiling = interval.max(Duration::from_secs(300));
    Duration::from_millis(age_ms / 4).clamp(interval, ceiling)
}

/// One look of the server's upkeep at writes whose task nobody has seen
/// end: each one at least a poll interval old and due for its next poll
/// ([`poll_gap`], claimed in the store so instances share the work) is
/// polled through [`poll`] as the principal who made the write
/// (`ctx_for(principal, site)`), at most `poll_batch` of them; one past
/// the horizon (or accepted without a task gojira can follow, which is only
/// ended there) is journaled `unknown` instead. Answers how many it acted on.
pub(crate) async fn follow_unpolled(
    state: &ServerState,
    ctx_for: impl Fn(&str, Option<&str>) -> CallContext,
) -> usize {
    let policy = *state.task_policy();
    let running = match state.journal().running_tasks().await {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "could not list running asynchronous tasks; will look again");
            return 0;
        }
    };
    let mut acted = 0;
    for task in running {
        if acted >= policy.poll_batch {
            break;
        }
        let now = journal::now_ms();
        let age_ms = now.saturating_sub(task.since_ms);
        if age_ms >= policy.horizon.as_millis() as u64 {
            give_up(state, &task, policy.horizon).await;
            acted += 1;
            continue;
        }
        // No task to follow: only its horizon ends it. A young one: its
        // caller's gojira.task.get comes first.
        let Some(task_ref) = task.task.as_ref() else {
            continue;
        };
        if age_ms < policy.poll_interval.as_millis() as u64 {
            continue;
        }
        let handle = task_ref.handle.as_str();
        let gap = poll_gap(policy.poll_interval, age_ms);
        match state.journal().claim_task_poll(handle, gap).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                warn!(error = %e, "could not claim a task poll; will look again");
                return acted;
            }
        }
        acted += 1;
        let record = match state.journal().task(handle).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                give_up(state, &task, policy.horizon).await;
                continue;
            }
            Err(e) => {
                warn!(journal_id = task.journal_id, error = %e, "could not read a task's handle");
                continue;
            }
        };
        // Only the user who made the write: never another credential.
        if record.principal != task.principal || record.journal_id != Some(task.journal_id) {
            warn!(
                journal_id = task.journal_id,
                "a task handle does not match its journal entry; not polled"
            );
            continue;
        }
        let site = match state.journal().get(task.journal_id).await {
            Ok(Some(op)) => op.intent.site,
            _ => None,
        };
        let ctx = ctx_for(&record.principal, site.as_deref());
        match poll(state, &ctx, handle, &record).await {
            Ok(answer) if answer.get("journalStatus").is_some() => {
                info!(journal_id = task.journal_id, status = %answer["task"]["status"], "an asynchronous write's task ended")
            }
            Ok(_) => {}
            Err(e) => debug!(
                journal_id = task.journal_id,
                code = e.code.as_str(),
                "polling an asynchronous write's task failed; will try again"
            ),
        }
    }
    acted
}

/// Journals a write whose task outlived its horizon as `unknown`.
async fn give_up(state: &ServerState, task: &RunningTask, horizon: Duration) {
    let outcome = Outcome {
        of: task.journal_id,
        status: Status::Unknown,
        upstream_status: None,
        request_id: None,
        result: None,
        after: None,
        error: Some(format!(
            "gojira stopped following the asynchronous task at its horizon ({} s, GOJIRA_TASK_HORIZON_MS) without seeing it end",
            horizon.as_secs()
        )),
        resolution: Some(
            "cannot tell: the task had not ended; check the resource in Atlassian before retrying"
                .into(),
        ),
        task: task.task.clone(),
        at_ms: journal::now_ms(),
    };
    match state
        .journal()
        .record_final_outcome(&task.principal, outcome)
        .await
    {
        Ok(Some(_)) => info!(
            journal_id = task.journal_id,
            "an asynchronous write's task passed its horizon; journaled unknown"
        ),
        Ok(None) => {}
        Err(e) => {
            warn!(journal_id = task.journal_id, error = %e, "could not journal a task past its horizon")
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn task_states_are_read_from_every_products_shape() {
        assert_eq!(State::of(&json!({"status": "ENQUEUED"})), State::Running);
        assert_eq!(State::of(&json!({"status": "RUNNING"})), State::Running);
        assert_eq!(State::of(&json!({"status": "COMPLETE"})), State::Complete);
        assert_eq!(State::of(&json!({"status": "DEAD"})), State::Failed);
        assert_eq!(State::of(&json!({"status": "CANCELLED"})), State::Cancelled);
        assert_eq!(State::of(&json!({"finished": false})), State::Running);
        assert_eq!(
            State::of(&json!({"finished": true, "successful": true})),
            State::Complete
        );
        assert_eq!(
            State::of(&json!({"finished": true, "successful": false})),
            State::Failed
        );
    }

    #[test]
    fn a_task_link_becomes_a_plain_path_below_the_base() {
        let base = Some("https://api.example.com/ex/jira/c1");
        assert_eq!(
            relative_path("https://api.example.com/ex/jira/c1/api/v9/task/7", base).as_deref(),
            Some("/api/v9/task/7")
        );
        assert_eq!(
            relative_path("https://site.example.net/api/v9/task/7?x=1", base).as_deref(),
            Some("/api/v9/task/7")
        );
        assert_eq!(
            relative_path("/site/api/longtask/9", None).as_deref(),
            Some("/site/api/longtask/9")
        );
        for bad in [
            "/api/v9/task/../../admin",
            "/api/v9/task/%2e%2e/x",
            "/api/v9/task/a%2Fb",
            "//evil.example/x",
            "/a//b",
            "not a url",
        ] {
            assert_eq!(relative_path(bad, None), None, "{bad}");
        }
    }

    #[test]
    fn polls_slow_down_as_a_task_ages() {
        let interval = Duration::from_secs(30);
        assert_eq!(poll_gap(interval, 40_000), interval);
        assert_eq!(poll_gap(interval, 200_000), Duration::from_secs(50));
        assert_eq!(poll_gap(interval, 86_400_000), Duration::from_secs(300));
        let short = Duration::from_millis(200);
        assert_eq!(poll_gap(short, 1_000), Duration::from_millis(250));
    }

    #[test]
    fn handles_are_opaque_and_checked() {
        let h = new_handle();
        assert!(valid_handle(&h), "{h}");
        assert_ne!(h, new_handle());
        assert!(!valid_handle("gt_../../api/v9/project"));
        assert!(!valid_handle("/api/v9/task/1"));
    }
}
