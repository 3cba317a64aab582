//! The write path: every writing tool goes through here.
//!
//! 1. **Plan.** Build the exact upstream request, read the prior state
//!    (the tool's `snapshot`), predict the state after it, and digest all of
//!    that (with the principal) into a *plan digest*.
//! 2. **Consent.** A `consent: commit` tool called without `commit: true`
//!    sends nothing and answers the preview: the request, the RFC 6902 JSON
//!    Patch from the snapshot to the predicted state, whether it can be
//!    reverted, and the digest. The commit call must carry `commit: true` and
//!    that digest; if the target changed since (the fresh plan digests
//!    differently), it is refused with the new preview.
//! 3. **Journal, then send.** The intent is journaled before the request
//!    goes; the outcome (status, Atlassian's request id, the answer, the
//!    state after) when it returns. If the journal cannot record the intent,
//!    nothing is sent. Both are redacted ([`crate::redact`]): secret-named
//!    fields, credential patterns and the call's own credentials never
//!    reach the journal. A revert whose inverse would write a redacted
//!    value back is refused.
//!
//! [`revert`] plans and performs inverses of journaled writes, and
//! [`recover`] resolves writes a crash left without an outcome.

pub mod impact;
pub mod journal;
pub mod safety;

use std::time::Duration;

use serde_json::{Map, Value, json};
use tracing::{info, warn};

use crate::catalog::{Method, Tool as CatalogTool, UpstreamRequest};
pub use crate::digest::digest;
use crate::error::{ErrorCode, ToolError};
use crate::redact;
use crate::state::{CallContext, ServerState};
use crate::upstream::shape;
use crate::writes::journal::{Intent, Outcome, Status};
use crate::writes::safety::{Consent, Revert, Safety};

/// A planned write: what would be sent, and to what.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The writing tool.
    pub tool: &'a CatalogTool,
    /// Its arguments (without `commit`/`planDigest`).
    pub args: Map<String, Value>,
    /// The upstream request.
    pub request: UpstreamRequest,
    /// The prior state (when the tool declares a snapshot).
    pub snapshot: Option<Value>,
    /// The predicted state after the write, when it can be predicted.
    pub predicted: Option<Value>,
    /// What else uses what the write changes (the tool's `impact`), as
    /// [`impact::Impacted::to_json`] shows it.
    pub impact: Option<Value>,
    /// The plan digest.
    pub digest: String,
}

impl Plan<'_> {
    /// The request as JSON (for previews and the journal).
    pub fn request_json(&self) -> Value {
        let mut r = json!({
            "method": self.request.method.as_str(),
            "operation": self.tool.spec.operation,
            "path": self.request.path,
        });
        if !self.request.query.is_empty() {
            r["query"] = Value::Array(
                self.request
                    .query
                    .iter()
                    .map(|(k, v)| json!([k, v]))
                    .collect(),
            );
        }
        if let Some(body) = &self.request.body {
            r["body"] = body.clone();
        }
        r
    }

    /// RFC 6902 patch from the snapshot to the predicted state (`None` when
    /// the effect cannot be predicted, e.g. an archive action).
    pub fn patch(&self) -> Option<Value> {
        let predicted = self.predicted.as_ref()?;
        let before = self.snapshot.clone().unwrap_or(Value::Null);
        serde_json::to_value(json_patch::diff(&before, predicted)).ok()
    }

    /// The preview answered instead of performing a `commit` write.
    pub fn preview(&self, safety: &Safety) -> Value {
        let name = self.tool.spec.name;
        let mut v = json!({
            "dryRun": true,
            "performed": false,
            "tool": name,
            "requests": [self.request_json()],
            "revert": revert_summary(safety),
            "planDigest": self.digest,
            "next": format!(
                "Nothing was changed. Show this plan to the user; to perform it, call {name} again with the same arguments plus \"commit\": true and \"planDigest\": \"{}\".",
                self.digest
            ),
        });
        if let Some(s) = &self.snapshot {
            v["before"] = s.clone();
        }
        if let Some(impact) = &self.impact {
            v["impact"] = impact.clone();
        }
        match self.patch() {
            Some(p) => v["patch"] = p,
            None => {
                v["patch"] = Value::Null;
                v["effect"] = Value::String(format!(
                    "{} ({}); the resulting state cannot be predicted field by field",
                    self.tool.spec.title, self.tool.spec.operation
                ));
            }
        }
        v
    }
}

fn revert_summary(safety: &Safety) -> Value {
    match &safety.revert {
        Revert::Tool { tool, .. } => json!({"possible": true, "with": tool}),
        Revert::Steps { steps } => json!({
            "possible": true,
            "with": steps.iter().map(|s| s.tool.as_str()).collect::<Vec<_>>(),
        }),
        Revert::Irreversible { reason } => json!({"possible": false, "reason": reason}),
    }
}

/// Deep merge of `patch` into `base` (objects merge, anything else replaces).
fn merge(base: &Value, patch: &Value) -> Value {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            let mut out = b.clone();
            for (k, v) in p {
                let merged = match out.get(k) {
                    Some(existing) => merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, p) => p.clone(),
    }
}

/// Runs a writing tool: plan, consent, journal, send.
pub(crate) async fn execute(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    safety: &Safety,
    mut args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let commit = args.shift_remove("commit").and_then(|v| v.as_bool()) == Some(true);
    let given_digest = args
        .shift_remove("planDigest")
        .and_then(|v| v.as_str().map(str::to_owned));
    let plan = plan(state, ctx, tool, safety, args).await?;
    if safety.consent == Consent::Commit {
        if !commit {
            return Ok(plan.preview(safety));
        }
        match given_digest {
            None => {
                return Err(ToolError::with_code(
                    ErrorCode::ConsentRequired,
                    format!(
                        "{} needs a preview first: call it without commit, show the plan to the user, then call again with commit: true and the planDigest it returned. Nothing was changed",
                        tool.spec.name
                    ),
                    Some(plan.preview(safety)),
                ));
            }
            Some(d) if d != plan.digest => {
                return Err(ToolError::with_code(
                    ErrorCode::PlanChanged,
                    format!(
                        "the target changed since the preview (or the arguments differ), so nothing was changed. Next: review the new plan in details and, if it is still wanted, commit with planDigest {}",
                        plan.digest
                    ),
                    Some(plan.preview(safety)),
                ));
            }
            Some(_) => {}
        }
    }
    perform(state, ctx, &plan, safety, None).await
}

/// Plans a write of `tool` with `args`.
pub(crate) async fn plan<'a>(
    state: &ServerState,
    ctx: &CallContext,
    tool: &'a CatalogTool,
    safety: &Safety,
    args: Map<String, Value>,
) -> Result<Plan<'a>, ToolError> {
    let request = state.build_request(tool, &args)?;
    let snapshot = match &safety.snapshot {
        Some(s) => Some(read_snapshot(state, ctx, s, &args).await?),
        None => None,
    };
    let impact = match &safety.impact {
        Some(decl) => {
            let impacted = impact::read(state, ctx, tool, decl, &args).await?;
            if let Some(refused) = impact::refusal(tool.spec.name, decl, &impacted) {
                return Err(refused);
            }
            Some(impacted.to_json(decl))
        }
        None => None,
    };
    let predicted = match (request.method, &request.body, &snapshot) {
        (Method::Delete, _, _) => Some(Value::Null),
        (_, Some(body), Some(before)) if before.is_object() && body.is_object() => {
            Some(merge(before, body))
        }
        (Method::Post, Some(body), None) => Some(body.clone()),
        _ => None,
    };
    let mut plan = Plan {
        tool,
        args,
        request,
        snapshot,
        predicted,
        impact,
        digest: String::new(),
    };
    let mut digested = json!({
        "principal": ctx.principal,
        "tool": tool.spec.name,
        "args": plan.args,
        "request": plan.request_json(),
        "before": plan.snapshot,
    });
    if let Some(impact) = &plan.impact {
        // What uses the target is part of what the user confirms.
        digested["impact"] = impact.clone();
    }
    plan.digest = digest(&digested);
    Ok(plan)
}

/// Reads the resource a write changes, as the tool's `snapshot` says.
pub(crate) async fn read_snapshot(
    state: &ServerState,
    ctx: &CallContext,
    snapshot: &safety::Snapshot,
    args: &Map<String, Value>,
) -> Result<Value, ToolError> {
    let context = json!({"args": args});
    let read_args = safety::args(&snapshot.args, &context).map_err(|e| {
        ToolError::internal(format!("snapshot arguments for {}: {e}", snapshot.tool))
    })?;
    let reader = state.catalog_tool(&snapshot.tool).ok_or_else(|| {
        ToolError::internal(format!(
            "snapshot tool {} is not in the catalog",
            snapshot.tool
        ))
    })?;
    let mut response = state
        .read_fresh(ctx, reader, read_args)
        .await
        .map_err(|e| ToolError {
            message: format!(
                "could not read the current state with {} before writing, so nothing was changed: {}",
                snapshot.tool, e.message
            ),
            ..e
        })?;
    shape::trim(&mut response);
    match &snapshot.pick {
        Some(pick) => Ok(
            safety::eval(pick, &json!({"response": response, "args": args}))
                .map_err(|e| {
                    ToolError::internal(format!("snapshot pick of {}: {e}", snapshot.tool))
                })?
                .unwrap_or(Value::Null),
        ),
        None => Ok(response),
    }
}

/// Journals and sends a planned write; the answer carries its `journalId`.
pub(crate) async fn perform(
    state: &ServerState,
    ctx: &CallContext,
    plan: &Plan<'_>,
    safety: &Safety,
    revert_of: Option<u64>,
) -> Result<Value, ToolError> {
    let tool = plan.tool;
    if let Some(of) = revert_of
        && redact::contains_marker(&Value::Object(plan.args.clone()))
    {
        // The journal redacted a secret the inverse would restore: writing
        // the marker back would destroy the value, not restore it.
        return Err(ToolError::invalid_arguments(format!(
            "journal entry {of} cannot be reverted by gojira: its inverse ({}) would write back values the journal redacted as secrets ({}), so nothing was changed. Next: restore the write by hand in Atlassian (gojira.journal.get {of} shows which fields were redacted)",
            tool.spec.name,
            redact::MARKER
        )));
    }
    // What the call's credentials are, so no copy of one is journaled.
    let known = crate::identity::known_secrets(state, ctx, tool).await;
    let mut intent = Intent {
        principal: ctx.principal.clone(),
        tool: tool.spec.name.to_owned(),
        args: plan.args.clone(),
        request: plan.request_json(),
        site: state.site_of(ctx, tool),
        snapshot: plan.snapshot.clone(),
        plan_digest: plan.digest.clone(),
        revert_of,
        at_ms: journal::now_ms(),
    };
    journal::redact_intent(&mut intent, &known);
    let id = state.journal().record_intent(intent).await.map_err(|e| {
        ToolError::with_code(
            ErrorCode::JournalUnavailable,
            format!("{e}; the write was not sent. Next: try again when the server's store answers"),
            None,
        )
    })?;
    info!(
        journal_id = id,
        tool = tool.spec.name,
        "write journaled; sending"
    );
    let sent = state.send_located(ctx, tool, &plan.request).await;
    let mut outcome = Outcome {
        of: id,
        status: Status::Completed,
        upstream_status: None,
        request_id: None,
        result: None,
        after: None,
        error: None,
        resolution: None,
        task: None,
        at_ms: 0,
    };
    let answer = match sent {
        Ok((status, request_id, location, value)) => {
            outcome.upstream_status = Some(status);
            outcome.request_id = request_id;
            outcome.result = Some(value.clone());
            // Accepted as an asynchronous task: not completed until the
            // task ends (gojira.task.get appends the final outcome).
            match crate::builtin::task::accepted(
                state,
                ctx,
                tool,
                Some(id),
                status,
                location.as_deref(),
                &value,
            )
            .await
            {
                Some(accepted) => {
                    outcome.status = accepted.status;
                    outcome.task = accepted.task;
                    Ok(accepted.answer)
                }
                None => {
                    if let Some(s) = &safety.snapshot {
                        outcome.after = read_snapshot(state, ctx, s, &plan.args).await.ok();
                    }
                    Ok(value)
                }
            }
        }
        Err(e) => {
            outcome.status = match (e.code, e.status) {
                // Sent, but the answer was lost (or too large to read).
                (ErrorCode::Timeout | ErrorCode::ResponseTooLarge, _)
                | (ErrorCode::UpstreamUnavailable, None) => Status::Unknown,
                _ => Status::Failed,
            };
            outcome.upstream_status = e.status;
            outcome.error = Some(e.message.clone());
            Err(e)
        }
    };
    outcome.at_ms = journal::now_ms();
    journal::redact_outcome(&mut outcome, &known);
    let status = outcome.status;
    if let Err(e) = state
        .journal()
        .record_outcome(&ctx.principal, outcome)
        .await
    {
        // The intent is there; start-up recovery will resolve it.
        warn!(journal_id = id, error = %e, "could not record a write's outcome");
    }
    state.invalidate_cache(ctx, tool).await;
    match answer {
        Ok(mut value) => {
            if let Value::Object(map) = &mut value {
                map.insert("journalId".into(), json!(id));
            }
            Ok(value)
        }
        Err(mut e) => {
            e.message.push_str(&format!(
                " (journal entry {id}: {})",
                match status {
                    Status::Unknown => "outcome unknown; check the resource before retrying",
                    _ => "failed",
                }
            ));
            Err(e)
        }
    }
}

/// One planned revert step: the inverse of one journal entry.
struct Step<'a> {
    /// The journal entry being reverted.
    id: u64,
    /// The inverse writes, in order (more than one for a declared sequence),
    /// each with its tool's declarations.
    calls: Vec<(Plan<'a>, &'a Safety)>,
    /// When the resource changed since the original write: the patch from
    /// the state the write left to the live state.
    conflict: Option<Value>,
}

/// Plans (and with `commit`, performs) the inverse of journaled writes, the
/// newest first. A revert is itself a consent-`commit` write: previewed,
/// then committed with the digest; each step is journaled as a new write
/// linked to the one it reverts, so a revert can be reverted.
pub(crate) async fn revert(
    state: &ServerState,
    ctx: &CallContext,
    mut ids: Vec<u64>,
    commit: bool,
    given_digest: Option<String>,
    force: bool,
) -> Result<Value, ToolError> {
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    let steps = plan_reverts(state, ctx, &ids).await?;
    let digest = batch_digest(&steps);
    let preview = revert_preview(&steps, &digest);
    if !commit {
        return Ok(preview);
    }
    match given_digest {
        None => {
            return Err(ToolError::with_code(
                ErrorCode::ConsentRequired,
                "gojira.revert needs a preview first: call it without commit, show the plan, then commit with its planDigest. Nothing was changed",
                Some(preview),
            ));
        }
        Some(d) if d != digest => {
            return Err(ToolError::with_code(
                ErrorCode::PlanChanged,
                format!(
                    "the resources changed since the preview, so nothing was reverted. Next: review the new plan in details; commit with planDigest {digest} if it is still wanted"
                ),
                Some(preview),
            ));
        }
        Some(_) => {}
    }
    let mut reverted = Vec::new();
    let mut not_reverted: Vec<Value> = Vec::new();
    let mut stop: Option<ToolError> = None;
    for step in &steps {
        if stop.is_some() {
            not_reverted.push(json!({"journalId": step.id, "reason": "not attempted: an earlier step stopped the batch"}));
            continue;
        }
        if let Some(conflict) = &step.conflict
            && !force
        {
            not_reverted.push(
                json!({"journalId": step.id, "reason": "conflict", "changedSince": conflict}),
            );
            stop = Some(ToolError::with_code(
                ErrorCode::RevertConflict,
                format!(
                    "journal entry {} was changed by someone else after the original write; reverting would overwrite that change. Nothing more was reverted. Next: review changedSince, then call again with force: true to overwrite",
                    step.id
                ),
                None,
            ));
            continue;
        }
        // A sequence stops at its first failure; what it did is reported.
        let mut done: Vec<Value> = Vec::new();
        for (plan, safety) in &step.calls {
            match perform(state, ctx, plan, safety, Some(step.id)).await {
                Ok(answer) => done.push(json!({
                    "revertJournalId": answer.get("journalId").cloned().unwrap_or(Value::Null),
                    "tool": plan.tool.spec.name,
                })),
                Err(e) => {
                    let mut entry = json!({"journalId": step.id, "reason": e.message});
                    if step.calls.len() > 1 {
                        entry["failedTool"] = json!(plan.tool.spec.name);
                        entry["done"] = Value::Array(std::mem::take(&mut done));
                        entry["note"] = json!(
                            "the sequence stopped at this call; the calls in done were performed and are journaled"
                        );
                    }
                    not_reverted.push(entry);
                    stop = Some(e);
                    break;
                }
            }
        }
        if stop.is_some() {
            continue;
        }
        reverted.push(match <[Value; 1]>::try_from(done) {
            Ok([only]) => json!({
                "journalId": step.id,
                "revertJournalId": only["revertJournalId"],
                "tool": only["tool"],
            }),
            Err(done) => json!({"journalId": step.id, "sequence": done}),
        });
    }
    let report = json!({"reverted": reverted, "notReverted": not_reverted});
    match stop {
        None => Ok(report),
        Some(mut e) => {
            e.details = Some(report);
            Err(e)
        }
    }
}

async fn plan_reverts<'a>(
    state: &'a ServerState,
    ctx: &CallContext,
    ids: &[u64],
) -> Result<Vec<Step<'a>>, ToolError> {
    let mut steps = Vec::new();
    for &id in ids {
        let refuse = |why: String| {
            ToolError::invalid_arguments(format!(
                "journal entry {id} cannot be reverted: {why}. Nothing was changed"
            ))
        };
        let op = state
            .journal()
            .get(id)
            .await
            .map_err(|e| ToolError::with_code(ErrorCode::JournalUnavailable, e.to_string(), None))?
            .filter(|op| op.intent.principal == ctx.principal)
            // Another user's entry answers exactly as a missing one: its
            // existence is not the caller's to learn.
            .ok_or_else(|| {
                refuse(
                    "it is not one of your writes in the journal (gojira.journal.list shows yours)"
                        .into(),
                )
            })?;
        if op.status != Status::Completed {
            return Err(refuse(format!(
                "its write did not complete (status {})",
                serde_json::to_value(op.status).unwrap_or_default()
            )));
        }
        let original = state
            .safety_of(&op.intent.tool)
            .ok_or_else(|| refuse(format!("{} is no longer in the catalog", op.intent.tool)))?;
        if let Revert::Irreversible { reason } = &original.revert {
            return Err(refuse(format!(
                "{} is irreversible: {reason}",
                op.intent.tool
            )));
        }
        // Every call of the inverse is checked before any is planned: a
        // sequence is refused whole, never half-planned.
        let mut targets = Vec::new();
        for (target_name, mapping) in original.revert.calls() {
            let target = state
                .catalog_tool(target_name)
                .ok_or_else(|| refuse(format!("{target_name} is not in the catalog")))?;
            // A hidden inverse obeys the same rule: usable only in an enabled group.
            if !state.is_enabled(target) {
                return Err(refuse(format!(
                    "its inverse, {target_name}, is in permission group {} which this server does not enable",
                    target.spec.group
                )));
            }
            state.check_scope(ctx, target_name).map_err(|mut e| {
                e.message = format!("journal entry {id} cannot be reverted: {}", e.message);
                e
            })?;
            let site = state.site_of(ctx, target);
            if let Some(written) = &op.intent.site
                && site.as_ref() != Some(written)
            {
                return Err(refuse(format!(
                    "it was made on site {written}, and your calls now go to {}; revert it from a sign-in on that site",
                    site.as_deref().unwrap_or("no site")
                )));
            }
            let target_safety = state
                .safety_of(target_name)
                .ok_or_else(|| refuse(format!("{target_name} has no safety declarations")))?;
            targets.push((target, target_safety, mapping));
        }
        let outcome = op.outcome.as_ref();
        let context = json!({
            "args": op.intent.args,
            "snapshot": op.intent.snapshot,
            "result": outcome.and_then(|o| o.result.clone()),
        });
        let mut mapped = Vec::with_capacity(targets.len());
        for (target, target_safety, mapping) in targets {
            let args = safety::args(mapping, &context).map_err(|e| {
                refuse(format!(
                    "its revert mapping failed on the journaled values: {e}"
                ))
            })?;
            mapped.push((target, target_safety, args));
        }
        let conflict = match (&original.snapshot, outcome.and_then(|o| o.after.as_ref())) {
            (Some(decl), Some(after)) => {
                // The state after was journaled redacted: compare like with like.
                let mut live = read_snapshot(state, ctx, decl, &op.intent.args).await?;
                redact::fields(&mut live, &redact::Known::new());
                (&live != after).then(|| {
                    serde_json::to_value(json_patch::diff(after, &live)).unwrap_or_default()
                })
            }
            _ => None,
        };
        let mut calls = Vec::with_capacity(mapped.len());
        for (target, target_safety, args) in mapped {
            calls.push((
                plan(state, ctx, target, target_safety, args).await?,
                target_safety,
            ));
        }
        steps.push(Step {
            id,
            calls,
            conflict,
        });
    }
    Ok(steps)
}

fn batch_digest(steps: &[Step<'_>]) -> String {
    digest(&Value::Array(
        steps
            .iter()
            .map(|s| {
                let digests: Vec<&str> = s.calls.iter().map(|(p, _)| p.digest.as_str()).collect();
                json!([s.id, digests, s.conflict])
            })
            .collect(),
    ))
}

fn revert_preview(steps: &[Step<'_>], digest: &str) -> Value {
    let items: Vec<Value> = steps
        .iter()
        .map(|s| {
            let mut v = match s.calls.as_slice() {
                [(plan, _)] => {
                    let mut v = json!({
                        "journalId": s.id,
                        "tool": plan.tool.spec.name,
                        "requests": [plan.request_json()],
                        "patch": plan.patch(),
                    });
                    if let Some(before) = &plan.snapshot {
                        v["before"] = before.clone();
                    }
                    if let Some(impact) = &plan.impact {
                        v["impact"] = impact.clone();
                    }
                    v
                }
                calls => json!({
                    "journalId": s.id,
                    "tool": calls.iter().map(|(p, _)| p.tool.spec.name).collect::<Vec<_>>().join(" then "),
                    "requests": calls.iter().map(|(p, _)| p.request_json()).collect::<Vec<_>>(),
                    "sequence": calls.iter().map(|(p, _)| {
                        let mut c = json!({
                            "tool": p.tool.spec.name,
                            "request": p.request_json(),
                            "patch": p.patch(),
                        });
                        if let Some(before) = &p.snapshot {
                            c["before"] = before.clone();
                        }
                        c
                    }).collect::<Vec<_>>(),
                    "note": "one revert made of these calls, run in order; each is journaled as its own write linked to this entry, and the sequence stops at the first failure",
                }),
            };
            if let Some(c) = &s.conflict {
                v["conflict"] = json!({
                    "changedSince": c,
                    "note": "the resource changed after the original write; committing stops here unless force: true",
                });
            }
            v
        })
        .collect();
    json!({
        "dryRun": true,
        "performed": false,
        "steps": items,
        "planDigest": digest,
        "next": format!("Nothing was changed. To revert, call gojira.revert again with the same journalIds plus \"commit\": true and \"planDigest\": \"{digest}\" (steps run newest first and stop at the first conflict or failure)."),
    })
}

/// Who the server's own upkeep acts for on behalf of `principal` (the
/// journal keeps the principal id; an OAuth user's stored Atlassian
/// credential is found by the account id it carries), at `site` (the
/// cloudId the user's write went to, as journaled).
pub(crate) fn upkeep_context(principal: &str, site: Option<&str>) -> CallContext {
    CallContext {
        principal: principal.to_owned(),
        user: principal
            .strip_prefix("oauth:")
            .map(|account| gojira_auth::Principal {
                account_id: account.to_owned(),
                client_id: "gojira-upkeep".to_owned(),
                scopes: Vec::new(),
                cloud_ids: site.map(str::to_owned).into_iter().collect(),
                email: None,
            }),
        upstream_status: Default::default(),
    }
}

/// Starts the journal's upkeep: [`recover`] at start, again once `grace`
/// has passed (an intent younger than a call's deadline may still be in
/// flight), then every minute; every task poll interval, the writes whose
/// asynchronous task nobody has seen end are followed
/// ([`crate::builtin::task::follow_unpolled`]); and every hour, deletion of
/// entries older than `retention`.
///
/// The upkeep stops when `stop` is cancelled, between two rounds: a round
/// under way (an outcome being appended) finishes first; see
/// [`Maintenance::finish`].
pub fn spawn_maintenance(
    state: std::sync::Arc<ServerState>,
    grace: Duration,
    retention: Duration,
    stop: tokio_util::sync::CancellationToken,
) -> Maintenance {
    let recovering = state.clone();
    let until = stop.clone();
    let recovery = tokio::spawn(async move {
        recover(&recovering, upkeep_context, grace).await;
        let mut pause = grace;
        loop {
            tokio::select! {
                () = until.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            recover(&recovering, upkeep_context, grace).await;
            pause = Duration::from_secs(60);
        }
    });
    let following = state.clone();
    let until = stop.clone();
    let follow = tokio::spawn(async move {
        let mut tick = tokio::time::interval(following.task_policy().poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = until.cancelled() => return,
                _ = tick.tick() => {}
            }
            crate::builtin::task::follow_unpolled(&following, upkeep_context).await;
        }
    });
    let retention = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let cutoff = journal::now_ms().saturating_sub(retention.as_millis() as u64);
            match state.journal().expire(cutoff).await {
                Ok(0) => {}
                Ok(n) => info!(entries = n, "journal retention: expired old entries"),
                Err(e) => {
                    warn!(error = %e, "journal retention sweep failed; will retry in an hour")
                }
            }
        }
    });
    Maintenance {
        tasks: vec![recovery, follow, retention],
    }
}

/// The journal's upkeep tasks (see [`spawn_maintenance`]).
#[derive(Debug)]
pub struct Maintenance {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Maintenance {
    /// At shutdown, once `stop` is cancelled: waits at most `within` for the
    /// rounds under way to finish (their outcomes land in the journal), then
    /// abandons them (an intent left without an outcome is recovered at the
    /// next start).
    pub async fn finish(self, within: Duration) {
        let all = futures_join(self.tasks);
        if tokio::time::timeout(within, all).await.is_err() {
            warn!(
                "shutdown: the journal's upkeep did not finish a round in time; the next start recovers what it left"
            );
        }
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

/// At start-up: intents older than `grace` without an outcome (the process
/// died between sending and recording) get an `unknown` outcome whose
/// resolution compares the live state with the snapshot.
pub async fn recover(
    state: &ServerState,
    ctx_for: impl Fn(&str, Option<&str>) -> CallContext,
    grace: Duration,
) {
    let cutoff = journal::now_ms().saturating_sub(grace.as_millis() as u64);
    let pending = match state.journal().pending(cutoff).await {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "journal recovery could not list pending writes");
            return;
        }
    };
    for op in pending {
        let ctx = ctx_for(&op.intent.principal, op.intent.site.as_deref());
        let (after, resolution) = resolve(state, &ctx, &op.intent).await;
        let outcome = Outcome {
            of: op.id,
            status: Status::Unknown,
            upstream_status: None,
            request_id: None,
            result: None,
            after,
            error: Some("the server stopped before the outcome was recorded".into()),
            resolution: Some(resolution.clone()),
            task: None,
            at_ms: journal::now_ms(),
        };
        match state
            .journal()
            .record_outcome(&op.intent.principal, outcome)
            .await
        {
            Ok(_) => {
                info!(journal_id = op.id, %resolution, "resolved a write interrupted by a crash")
            }
            Err(e) => {
                warn!(journal_id = op.id, error = %e, "could not resolve an interrupted write")
            }
        }
    }
}

async fn resolve(
    state: &ServerState,
    ctx: &CallContext,
    intent: &Intent,
) -> (Option<Value>, String) {
    let Some(safety) = state.safety_of(&intent.tool) else {
        return (
            None,
            "cannot tell: the tool is no longer in the catalog".into(),
        );
    };
    let (Some(snapshot_decl), Some(before)) = (&safety.snapshot, &intent.snapshot) else {
        return (
            None,
            "cannot tell: the tool declares no snapshot; check the resource in Atlassian".into(),
        );
    };
    // The snapshot was journaled redacted: compare like with like.
    let live = read_snapshot(state, ctx, snapshot_decl, &intent.args)
        .await
        .map(|mut live| {
            redact::fields(&mut live, &redact::Known::new());
            live
        });
    match live {
        Ok(live) if &live == before => (
            Some(live),
            "not applied: the live state equals the state before the write".into(),
        ),
        Ok(live) => (
            Some(live),
            "probably applied: the live state differs from the state before the write".into(),
        ),
        Err(e) if e.code == ErrorCode::UpstreamNotFound => (
            Some(Value::Null),
            "probably applied: the resource no longer exists".into(),
        ),
        Err(e) => (
            None,
            format!("cannot tell: reading the live state failed: {}", e.message),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn digests_ignore_key_order_and_see_values() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": null}});
        let b = json!({"a": {"x": null, "y": [1, 2]}, "b": 1});
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(
            digest(&a),
            digest(&json!({"b": 2, "a": {"y": [1, 2], "x": null}}))
        );
        assert_eq!(digest(&a).len(), 32);
    }

    #[test]
    fn merge_predicts_partial_updates() {
        let before = json!({"name": "old", "lead": {"accountId": "a", "name": "A"}, "key": "K"});
        let body = json!({"name": "new", "lead": {"accountId": "b"}});
        assert_eq!(
            merge(&before, &body),
            json!({"name": "new", "lead": {"accountId": "b", "name": "A"}, "key": "K"})
        );
    }

    fn no_request(_: Value) -> Result<UpstreamRequest, crate::catalog::ArgsError> {
        Ok(UpstreamRequest::new(Method::Post))
    }

    const fn spec(name: &'static str, path: &'static str) -> crate::catalog::ToolSpec {
        crate::catalog::ToolSpec {
            name,
            title: name,
            description: name,
            group: "write_fx",
            product: "fx",
            operation: name,
            method: Method::Post,
            path,
            input_schema: "{}",
            output_schema: None,
            annotations: crate::catalog::Annotations {
                read_only: false,
                destructive: false,
                idempotent: false,
                open_world: true,
            },
            safety: None,
            cache_ttl_s: None,
            pagination: None,
            trims: false,
            hidden: true,
            build: no_request,
        }
    }

    static SPECS: &[crate::catalog::ToolSpec] = &[
        spec("fx.disable", "/thing/7/disable"),
        spec("fx.delete", "/thing/7"),
    ];

    fn plan_of<'a>(catalog: &'a crate::catalog::Catalog, name: &str, digest: &str) -> Plan<'a> {
        let tool = catalog.tools.get(name).unwrap();
        let mut request = UpstreamRequest::new(Method::Post);
        request.path = tool.spec.path.to_owned();
        Plan {
            tool,
            args: Map::new(),
            request,
            snapshot: None,
            predicted: None,
            impact: None,
            digest: digest.to_owned(),
        }
    }

    /// A declared sequence (disable, then delete) is one revert step: both
    /// calls previewed in order under one journal id, both in the digest.
    #[test]
    fn a_revert_sequence_is_previewed_and_digested_as_one_step() {
        let catalog = crate::catalog::Catalog::new(&[], &[], &[SPECS]).unwrap();
        let safety =
            Safety::parse(r#"{"consent":"commit","revert":{"irreversible":{"reason":"x"}}}"#)
                .unwrap();
        let steps = |second: &str| {
            vec![Step {
                id: 4,
                calls: vec![
                    (plan_of(&catalog, "fx.disable", "d1"), &safety),
                    (plan_of(&catalog, "fx.delete", second), &safety),
                ],
                conflict: None,
            }]
        };
        let planned = steps("d2");
        let digest = batch_digest(&planned);
        let preview = revert_preview(&planned, &digest);
        let step = &preview["steps"][0];
        assert_eq!(step["journalId"], 4);
        assert_eq!(step["tool"], "fx.disable then fx.delete");
        assert_eq!(step["requests"].as_array().unwrap().len(), 2);
        assert_eq!(step["sequence"][0]["tool"], "fx.disable");
        assert_eq!(step["sequence"][0]["request"]["path"], "/thing/7/disable");
        assert_eq!(step["sequence"][1]["tool"], "fx.delete");
        assert_eq!(preview["planDigest"], digest.as_str());
        // Any call of the sequence changing changes the one digest.
        assert_ne!(batch_digest(&steps("other")), digest);
        // A single inverse keeps the single-call preview.
        let single = vec![Step {
            id: 5,
            calls: vec![(plan_of(&catalog, "fx.delete", "d3"), &safety)],
            conflict: None,
        }];
        let preview = revert_preview(&single, &batch_digest(&single));
        assert_eq!(preview["steps"][0]["tool"], "fx.delete");
        assert!(preview["steps"][0].get("sequence").is_none());
    }
}
