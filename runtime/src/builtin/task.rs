//! Asynchronous operations: Atlassian answers some writes with `202
//! Accepted` (or `303 See Other`) and a task to poll instead of the result.
//! Whatever the product, gojira answers such a write in one shape,
//!
//! ```json
//! {"task": {"handle", "id", "status": "running|complete|failed|cancelled",
//!           "product", "progress"?, "result"?},
//!  "journalId", "next": "call gojira.task.get with ..."}
//! ```
//!
//! journals it `running` (never `completed`), and `gojira.task.get` polls
//! the task and appends the final outcome to the journal when it ends.
//!
//! Where a task is polled comes from data, never from the model: the
//! upstream's `Location` header (or the task's own link in the answer),
//! made relative to the product's base URL, validated like a path
//! parameter, and kept in the store behind a random handle bound to the
//! principal that started it. The handle is all the model ever sees.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tracing::warn;

use super::Builtin;
use crate::catalog::{Method, Tool as CatalogTool, UpstreamRequest};
use crate::error::{ErrorCode, ToolError};
use gojira_store::JournalId;

use crate::state::{CallContext, ServerState};
use crate::writes::journal::{self, Outcome, Status, TaskRecord, TaskRef};

pub(super) static GET: Builtin = Builtin {
    name: "gojira.task.get",
    title: "Get an asynchronous task",
    description: "Progress of an Atlassian task a write started (a write that answered with `task`): status running, complete, failed or cancelled, progress, and the result when it ended. Pass the task handle the write answered. Records the write's final outcome in the journal when the task ends.",
    input_schema: r#"{"type":"object","properties":{"task":{"type":"string","description":"The task handle a write answered (task.handle)","pattern":"^gt_[0-9a-f]{32}$"}},"required":["task"],"additionalProperties":false}"#,
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

fn next_for(handle: Option<&str>, state: State) -> String {
    match (handle, state) {
        (_, State::Complete) => "The task is complete.".into(),
        (_, State::Failed) => {
            "The task failed; see message. Check the resource in Atlassian before retrying.".into()
        }
        (_, State::Cancelled) => "The task was cancelled; nothing more will happen.".into(),
        (Some(h), State::Running) => format!(
            "Atlassian runs this as a task that has not ended. Call gojira.task.get with {{\"task\": \"{h}\"}} in a few seconds to follow it; do not repeat the write."
        ),
        (None, State::Running) => "Atlassian accepted this and runs it in the background, without a task gojira can follow. Check the resource in Atlassian later; do not repeat the write.".into(),
    }
}

fn journal_status(state: State) -> Status {
    match state {
        State::Running => Status::Running,
        State::Complete => Status::Completed,
        State::Failed | State::Cancelled => Status::Failed,
    }
}

/// An asynchronous write's answer: what the journal records and what the
/// caller is answered.
pub(crate) struct Accepted {
    /// The journal status (`running` unless the answer says it ended).
    pub(crate) status: Status,
    /// The task, when it can be followed.
    pub(crate) task: Option<TaskRef>,
    /// The answer in gojira's task shape.
    pub(crate) answer: Value,
}

/// When the upstream answered a write asynchronously (202, or 303 with a
/// task), keeps the task behind a handle bound to the caller and answers
/// it in gojira's task shape; `None` for an ordinary answer.
pub(crate) async fn accepted(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    journal_id: JournalId,
    status: u16,
    location: Option<&str>,
    body: &Value,
) -> Option<Accepted> {
    if status != 202 && status != 303 {
        return None;
    }
    let link = task_link(location, body);
    if status == 303 && link.is_none() {
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
        let record = TaskRecord {
            principal: ctx.principal.clone(),
            tool: tool.spec.name.to_owned(),
            path,
            id: id.clone(),
            journal_id,
        };
        match state.journal().put_task(&handle, &record).await {
            Ok(()) => {
                task = Some(TaskRef {
                    handle,
                    id: id.clone(),
                    product: tool.spec.product.to_owned(),
                })
            }
            Err(e) => warn!(journal_id, error = %e, "could not keep an asynchronous task's handle"),
        }
    }
    let mut shown = task_json(task.as_ref(), tool.spec.product, task_state, body);
    if task.is_none()
        && let (Some(id), Value::Object(map)) = (&id, &mut shown)
    {
        map.insert("id".into(), json!(id));
    }
    let answer = json!({
        "task": shown,
        "journalId": journal_id,
        "next": next_for(task.as_ref().map(|t| t.handle.as_str()), task_state),
    });
    Some(Accepted {
        status: journal_status(task_state),
        task,
        answer,
    })
}

fn unknown_task() -> ToolError {
    ToolError::new(
        ErrorCode::NotFound,
        "no such task: a task handle is valid only for the user whose write started it. Next: use the task.handle a write of yours answered, or find the write with gojira.journal.list",
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
            "task must be a task handle a write answered (task.handle, gt_ and 32 hex digits)",
        ));
    }
    let journal_err = |e: journal::JournalError| {
        ToolError::with_code(
            ErrorCode::JournalUnavailable,
            format!("{e}. Next: try again when the server's store answers"),
            None,
        )
    };
    let record = state.journal().task(handle).await.map_err(journal_err)?;
    let Some(record) = record.filter(|r| r.principal == ctx.principal) else {
        return Err(unknown_task());
    };
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
    let mut answer = json!({
        "task": task_json(Some(&task), tool.spec.product, task_state, &body),
        "journalId": record.journal_id,
        "next": next_for(Some(handle), task_state),
    });
    if task_state.ended() {
        let current = state
            .journal()
            .get(record.journal_id)
            .await
            .map_err(journal_err)?;
        // Once: a later poll of an ended task appends nothing.
        if current.is_some_and(|op| op.status == Status::Running) {
            let outcome = Outcome {
                of: record.journal_id,
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
            state
                .journal()
                .record_outcome(&ctx.principal, outcome)
                .await
                .map_err(journal_err)?;
            state.invalidate_cache(ctx, tool).await;
        }
        answer["journalStatus"] = json!(journal_status(task_state));
    }
    Ok(answer)
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
    fn handles_are_opaque_and_checked() {
        let h = new_handle();
        assert!(valid_handle(&h), "{h}");
        assert_ne!(h, new_handle());
        assert!(!valid_handle("gt_../../api/v9/project"));
        assert!(!valid_handle("/api/v9/task/1"));
    }
}
