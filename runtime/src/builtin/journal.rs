//! `gojira.journal.list`, `gojira.journal.get`, `gojira.journal.verify` and
//! `gojira.revert`: the operation journal, read and undone.

use serde_json::{Map, Value, json};

use super::Builtin;
use crate::error::{ErrorCode, ToolError};
use crate::state::{CallContext, ServerState};
use crate::writes;
use crate::writes::journal::{Filter, Operation, Status};

pub(super) static LIST: Builtin = Builtin {
    name: "gojira.journal.list",
    title: "List journaled writes",
    description: "Your writes made through gojira, oldest first: id, time, tool, status (pending, running, completed, failed, unknown). Filter by tool, status, since/until (RFC 3339). Operators may pass allUsers (and principal).",
    input_schema: r#"{"type":"object","properties":{"tool":{"type":"string"},"status":{"enum":["pending","running","completed","failed","unknown"]},"since":{"type":"string","format":"date-time"},"until":{"type":"string","format":"date-time"},"allUsers":{"type":"boolean","description":"Operators only (GOJIRA_JOURNAL_OPERATORS): every user's writes; audited"},"principal":{"type":"string","description":"With allUsers: one user's writes (oauth:<accountId>)"},"cursor":{"type":"string"},"limit":{"type":"integer","minimum":1,"maximum":100}},"additionalProperties":false}"#,
    read_only: true,
    destructive: false,
    scope: gojira_auth::scopes::READ,
};

pub(super) static GET: Builtin = Builtin {
    name: "gojira.journal.get",
    title: "Get a journaled write",
    description: "One of your journaled writes by id: arguments, the exact request, the state before and after, the outcome and Atlassian's request id.",
    input_schema: r#"{"type":"object","properties":{"id":{"type":"integer","minimum":1},"allUsers":{"type":"boolean","description":"Operators only: any user's entry; audited"}},"required":["id"],"additionalProperties":false}"#,
    read_only: true,
    destructive: false,
    scope: gojira_auth::scopes::READ,
};

pub(super) static VERIFY: Builtin = Builtin {
    name: "gojira.journal.verify",
    title: "Verify the journal",
    description: "Check the journal's hash chain: names any of your entries changed or removed since written, and says whether the whole chain is intact.",
    input_schema: r#"{"type":"object","properties":{"allUsers":{"type":"boolean","description":"Operators only: name every broken entry; audited"}},"additionalProperties":false}"#,
    read_only: true,
    destructive: false,
    scope: gojira_auth::scopes::READ,
};

pub(super) static REVERT: Builtin = Builtin {
    name: "gojira.revert",
    title: "Revert journaled writes",
    description: "Undo writes by journal id, newest first. Without commit: a preview and planDigest, nothing changed. Refuses when a resource changed since (force: true overwrites).",
    input_schema: r#"{"type":"object","properties":{"journalIds":{"type":"array","items":{"type":"integer","minimum":1},"minItems":1,"maxItems":20},"commit":{"type":"boolean"},"planDigest":{"type":"string"},"force":{"type":"boolean"}},"required":["journalIds"],"additionalProperties":false}"#,
    read_only: false,
    destructive: true,
    scope: gojira_auth::scopes::WRITE,
};

fn journal_error(e: crate::writes::journal::JournalError) -> ToolError {
    ToolError::with_code(
        ErrorCode::JournalUnavailable,
        format!("{e}. Next: try again when the server's store answers"),
        None,
    )
}

fn time_arg(args: &Map<String, Value>, name: &str) -> Result<Option<u64>, ToolError> {
    match args.get(name).and_then(Value::as_str) {
        None => Ok(None),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
            .map(Some)
            .ok_or_else(|| {
                ToolError::invalid_arguments(format!(
                    "{name}: {text:?} is not an RFC 3339 date-time (e.g. 2026-11-22T08:00:00Z)"
                ))
            }),
    }
}

/// Whose entries a call may see: `None` for every user's (an operator who
/// asked, audited), else the caller's own.
fn visibility(
    state: &ServerState,
    ctx: &CallContext,
    tool: &str,
    args: &Map<String, Value>,
) -> Result<Option<String>, ToolError> {
    if args.get("allUsers").and_then(Value::as_bool) != Some(true) {
        return Ok(Some(ctx.principal.clone()));
    }
    if !state.is_journal_operator(&ctx.principal) {
        return Err(ToolError::new(
            ErrorCode::InsufficientPermissions,
            format!(
                "allUsers is for journal operators, which this server's GOJIRA_JOURNAL_OPERATORS does not list you as. Next: call {tool} without allUsers to see your own writes"
            ),
        ));
    }
    state.audit_journal_view(ctx, tool, args);
    Ok(None)
}

fn summary(op: &Operation) -> Value {
    let mut v = json!({
        "id": op.id,
        "at": crate::upstream::pacing::format_timestamp(op.intent.at_ms),
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
    ctx: &CallContext,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let own = visibility(state, ctx, LIST.name, &args)?;
    let asked = args.get("principal").and_then(Value::as_str);
    if own.is_some() && asked.is_some() {
        return Err(ToolError::new(
            ErrorCode::InsufficientPermissions,
            "principal filters other users' writes, which only journal operators may read (with allUsers: true). Next: call gojira.journal.list without principal to see your own writes",
        ));
    }
    let status = match args.get("status").and_then(Value::as_str) {
        None => None,
        Some("pending") => Some(Status::Pending),
        Some("running") => Some(Status::Running),
        Some("completed") => Some(Status::Completed),
        Some("failed") => Some(Status::Failed),
        Some(_) => Some(Status::Unknown),
    };
    let filter = Filter {
        principal: own.or_else(|| asked.map(str::to_owned)),
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
    ctx: &CallContext,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let id = args.get("id").and_then(Value::as_u64).unwrap_or_default();
    let own = visibility(state, ctx, GET.name, &args)?;
    let entry = state.journal().get(id).await.map_err(journal_error)?;
    // Another user's entry answers exactly as a missing one.
    match entry.filter(|op| own.as_ref().is_none_or(|p| p == &op.intent.principal)) {
        Some(op) => {
            let mut v =
                serde_json::to_value(&op).map_err(|e| ToolError::internal(e.to_string()))?;
            v["at"] = json!(crate::upstream::pacing::format_timestamp(op.intent.at_ms));
            Ok(v)
        }
        None => Err(ToolError::new(
            ErrorCode::NotFound,
            format!(
                "journal entry {id} is not one of your writes (it may be an outcome, expired, another user's, or never existed). Next: gojira.journal.list shows yours"
            ),
        )),
    }
}

pub(super) async fn verify(
    state: &ServerState,
    ctx: &CallContext,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let own = visibility(state, ctx, VERIFY.name, &args)?;
    let v = state
        .journal()
        .verify_for(own.as_deref())
        .await
        .map_err(journal_error)?;
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
    writes::revert(state, ctx, ids, commit, digest, force).await
}
