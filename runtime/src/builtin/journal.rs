//! `gojira.journal.list`, `gojira.journal.get`, `gojira.journal.verify` and
//! `gojira.revert`: the operation journal, read and undone.

use serde_json::{Map, Value, json};

use super::Builtin;
use crate::error::{ErrorCode, ToolError};
use crate::journal::{Filter, Operation, Status};
use crate::pacing::parse_timestamp_ms;
use crate::server::{CallContext, ServerState};
use crate::write;

pub(super) static LIST: Builtin = Builtin {
    name: "gojira.journal.list",
    title: "List journaled writes",
    description: "Writes made through gojira, oldest first: id, time, who, tool, status (pending, completed, failed, unknown). Filter by principal, tool, status, since/until (ISO 8601).",
    input_schema: r#"{"type":"object","properties":{"principal":{"type":"string"},"tool":{"type":"string"},"status":{"enum":["pending","completed","failed","unknown"]},"since":{"type":"string"},"until":{"type":"string"},"cursor":{"type":"string"},"limit":{"type":"integer","minimum":1,"maximum":100}},"additionalProperties":false}"#,
    read_only: true,
    destructive: false,
};

pub(super) static GET: Builtin = Builtin {
    name: "gojira.journal.get",
    title: "Get a journaled write",
    description: "One journaled write by id: arguments, the exact request, the state before and after, the outcome and Atlassian's request id.",
    input_schema: r#"{"type":"object","properties":{"id":{"type":"integer","minimum":1}},"required":["id"],"additionalProperties":false}"#,
    read_only: true,
    destructive: false,
};

pub(super) static VERIFY: Builtin = Builtin {
    name: "gojira.journal.verify",
    title: "Verify the journal",
    description: "Check the journal's hash chain: names any entry changed or removed since it was written.",
    input_schema: r#"{"type":"object","properties":{},"additionalProperties":false}"#,
    read_only: true,
    destructive: false,
};

pub(super) static REVERT: Builtin = Builtin {
    name: "gojira.revert",
    title: "Revert journaled writes",
    description: "Undo writes by journal id, newest first. Without commit: a preview and planDigest, nothing changed. Refuses when a resource changed since (force: true overwrites).",
    input_schema: r#"{"type":"object","properties":{"journalIds":{"type":"array","items":{"type":"integer","minimum":1},"minItems":1,"maxItems":20},"commit":{"type":"boolean"},"planDigest":{"type":"string"},"force":{"type":"boolean"}},"required":["journalIds"],"additionalProperties":false}"#,
    read_only: false,
    destructive: true,
};

fn journal_error(e: crate::journal::JournalError) -> ToolError {
    ToolError::with_code(
        ErrorCode::JournalUnavailable,
        format!("{e}. Next: try again when the server's store answers"),
        None,
    )
}

fn time_arg(args: &Map<String, Value>, name: &str) -> Result<Option<u64>, ToolError> {
    match args.get(name).and_then(Value::as_str) {
        None => Ok(None),
        Some(text) => parse_timestamp_ms(text).map(Some).ok_or_else(|| {
            ToolError::invalid_arguments(format!(
                "{name}: {text:?} is not an ISO 8601 time (e.g. 2026-11-22T08:00:00Z)"
            ))
        }),
    }
}

fn summary(op: &Operation) -> Value {
    let mut v = json!({
        "id": op.id,
        "at": crate::pacing::format_timestamp(op.intent.at_ms),
        "principal": op.intent.principal,
        "tool": op.intent.tool,
        "status": op.status,
    });
    if let Some(o) = &op.outcome
        && let Some(s) = o.upstream_status
    {
        v["upstreamStatus"] = json!(s);
    }
    if let Some(of) = op.intent.revert_of {
        v["revertOf"] = json!(of);
    }
    v
}

pub(super) async fn list(
    state: &ServerState,
    _ctx: &CallContext,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let status = match args.get("status").and_then(Value::as_str) {
        None => None,
        Some("pending") => Some(Status::Pending),
        Some("completed") => Some(Status::Completed),
        Some("failed") => Some(Status::Failed),
        Some(_) => Some(Status::Unknown),
    };
    let filter = Filter {
        principal: args
            .get("principal")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tool: args.get("tool").and_then(Value::as_str).map(str::to_owned),
        since_ms: time_arg(&args, "since")?,
        until_ms: time_arg(&args, "until")?,
        status,
    };
    let from = match args.get("cursor").and_then(Value::as_str) {
        None => 1,
        Some(c) => c.parse::<u64>().map_err(|_| {
            ToolError::invalid_arguments(
                "cursor is not one this tool issued; pass nextCursor from its previous answer",
            )
        })?,
    };
    let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(25) as usize;
    let (ops, next) = state
        .journal()
        .list(&filter, from, limit)
        .await
        .map_err(journal_error)?;
    let mut out = json!({"operations": ops.iter().map(summary).collect::<Vec<_>>()});
    if let Some(next) = next {
        out["nextCursor"] = json!(next.to_string());
    }
    Ok(out)
}

pub(super) async fn get(
    state: &ServerState,
    _ctx: &CallContext,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let id = args.get("id").and_then(Value::as_u64).unwrap_or_default();
    match state.journal().get(id).await.map_err(journal_error)? {
        Some(op) => {
            let mut v =
                serde_json::to_value(&op).map_err(|e| ToolError::internal(e.to_string()))?;
            v["at"] = json!(crate::pacing::format_timestamp(op.intent.at_ms));
            Ok(v)
        }
        None => Err(ToolError::with_code(
            ErrorCode::UpstreamNotFound,
            format!(
                "journal entry {id} is not a write (it may be an outcome, expired, or never existed). Next: gojira.journal.list shows the writes"
            ),
            None,
        )),
    }
}

pub(super) async fn verify(
    state: &ServerState,
    _ctx: &CallContext,
    _args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let v = state.journal().verify().await.map_err(journal_error)?;
    serde_json::to_value(v).map_err(|e| ToolError::internal(e.to_string()))
}

pub(super) async fn revert(
    state: &ServerState,
    ctx: &CallContext,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let ids: Vec<u64> = args
        .get("journalIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let commit = args.get("commit").and_then(Value::as_bool) == Some(true);
    let digest = args
        .get("planDigest")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let force = args.get("force").and_then(Value::as_bool) == Some(true);
    write::revert(state, ctx, ids, commit, digest, force).await
}
