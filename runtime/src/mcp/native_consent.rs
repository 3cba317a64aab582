//! Consent asked natively, where the client can: instead of the two-step
//! preview → `commit: true` + `planDigest`, the server shows the plan to the
//! user and waits for a yes.
//!
//! - 2025-06-18 / 2025-11-25 clients declaring elicitation: an
//!   `elicitation/create` request while the call waits.
//! - 2026-07-28 clients declaring elicitation: an `input_required` result
//!   whose `requestState` is sealed (HMAC, rmcp's `RequestStateCodec`) and
//!   bound to the principal, the tool and its arguments, valid for ten
//!   minutes and usable once; the client retries the call with the user's
//!   answer and the state. Tampered, expired, replayed or foreign state is
//!   refused.
//!
//! Either way the write then runs as a commit with the previewed digest, so
//! a target that changed while the user read the plan is still refused.

use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ElicitRequest, ElicitRequestParams, ElicitResult,
    ElicitationAction, ElicitationSchema, InputRequest, InputRequiredResult, ProtocolVersion,
    RequestStateCodec, SealOptions,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Map, Value, json};
use tracing::info;

use crate::catalog::Tool as CatalogTool;
use crate::error::{ErrorCode, ToolError};
use crate::state::{CallContext, ServerState};
use crate::writes;
use crate::writes::safety::Safety;

/// How long a sealed confirmation state is valid.
const STATE_TTL: Duration = Duration::from_secs(600);
/// The key of our one input request.
const CONFIRM: &str = "confirm";

/// What to do with a consent-`commit` call that did not say `commit: true`.
pub(crate) enum Decision {
    /// The client cannot be asked: answer the preview (two-step).
    TwoStep,
    /// The user confirmed this plan digest: perform it.
    Confirmed(String),
    /// Answer this instead (an `input_required` result, a refusal, a decline).
    Respond(Box<CallToolResponse>),
}

/// A confirmation codec keyed from `secret` (shared by instances that share it).
pub(crate) fn codec(secret: &[u8]) -> Option<RequestStateCodec> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"gojira:consent-state:v1:");
    hasher.update(secret);
    RequestStateCodec::try_new(hasher.finalize().to_vec()).ok()
}

fn supports_elicitation(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .is_some_and(|c| c.elicitation.is_some())
}

fn stateless(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

/// Decides how a commit write without `commit: true` gets its consent.
pub(crate) async fn decide(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    safety: &Safety,
    args: &Map<String, Value>,
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> Result<Decision, ToolError> {
    if !supports_elicitation(context) {
        return Ok(Decision::TwoStep);
    }
    let binding =
        writes::digest(&json!({"principal": ctx.principal, "tool": tool.spec.name, "args": args}));
    if stateless(context) {
        let Some(codec) = state.consent_codec() else {
            return Ok(Decision::TwoStep);
        };
        if let Some(sealed) = &request.request_state {
            return resume(state, codec, &binding, sealed, request).await;
        }
        let plan = writes::plan(state, ctx, tool, safety, args.clone()).await?;
        let nonce = gojira_store::crypto::generate_key();
        let payload = json!({"digest": plan.digest, "nonce": nonce}).to_string();
        let sealed = codec.seal_with(
            payload.as_bytes(),
            &SealOptions::new()
                .associated_data(binding.as_bytes())
                .ttl(STATE_TTL),
        );
        let mut requests = rmcp::model::InputRequests::new();
        requests.insert(
            CONFIRM.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(form(&plan.preview(safety)))),
        );
        info!(
            tool = tool.spec.name,
            "asking the user to confirm a write (input_required)"
        );
        return Ok(Decision::Respond(Box::new(CallToolResponse::from(
            InputRequiredResult::new(Some(requests), Some(sealed)),
        ))));
    }
    // A 2025 session: ask while the call waits.
    let plan = writes::plan(state, ctx, tool, safety, args.clone()).await?;
    info!(
        tool = tool.spec.name,
        "asking the user to confirm a write (elicitation)"
    );
    let answer = context
        .peer
        .create_elicitation(form(&plan.preview(safety)))
        .await
        .map_err(|e| {
            ToolError::with_code(
                ErrorCode::ConsentRequired,
                format!("the client did not answer the confirmation request ({e}); nothing was changed. Next: call again with commit: true and the planDigest of a preview"),
                Some(plan.preview(safety)),
            )
        })?;
    Ok(match confirmed(&answer) {
        true => Decision::Confirmed(plan.digest),
        false => Decision::Respond(Box::new(declined(tool))),
    })
}

async fn resume(
    state: &ServerState,
    codec: &RequestStateCodec,
    binding: &str,
    sealed: &str,
    request: &CallToolRequestParams,
) -> Result<Decision, ToolError> {
    let refused = || {
        ToolError::with_code(
            ErrorCode::ConsentRequired,
            "the confirmation state is invalid, expired, already used, or belongs to other arguments; nothing was changed. Next: call the tool again to be asked anew",
            None,
        )
    };
    let payload = codec
        .open_with(sealed, binding.as_bytes())
        .map_err(|_| refused())?;
    let payload: Value = serde_json::from_slice(&payload).map_err(|_| refused())?;
    let (Some(digest), Some(nonce)) = (payload["digest"].as_str(), payload["nonce"].as_str())
    else {
        return Err(refused());
    };
    let first_use = state
        .store()
        .set_if_absent(
            &gojira_store::Key::new(
                gojira_store::Kind::Session,
                format!("consent-nonce:{nonce}"),
            ),
            b"used",
            STATE_TTL,
        )
        .await
        .map_err(|e| ToolError::with_code(ErrorCode::JournalUnavailable, e.to_string(), None))?;
    if !first_use {
        return Err(refused());
    }
    let answer: Option<ElicitResult> = request
        .input_responses
        .as_ref()
        .and_then(|r| r.get(CONFIRM))
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    Ok(match answer {
        Some(a) if confirmed(&a) => Decision::Confirmed(digest.to_owned()),
        _ => Decision::Respond(Box::new(declined_by_name(request.name.as_ref()))),
    })
}

fn confirmed(answer: &ElicitResult) -> bool {
    answer.action == ElicitationAction::Accept
        && answer
            .content
            .as_ref()
            .and_then(|c| c.get(CONFIRM))
            .and_then(Value::as_bool)
            == Some(true)
}

fn declined(tool: &CatalogTool) -> CallToolResponse {
    declined_by_name(tool.spec.name)
}

fn declined_by_name(name: &str) -> CallToolResponse {
    let value = json!({
        "performed": false,
        "declined": true,
        "message": format!("The user did not confirm {name}; nothing was changed."),
    });
    CallToolResponse::from(rmcp::model::CallToolResult::structured(value))
}

/// The confirmation form: the plan in words, one required yes/no.
fn form(preview: &Value) -> ElicitRequestParams {
    let mut message = format!(
        "Confirm this change through gojira?\n{} {} ({})",
        preview["requests"][0]["method"]
            .as_str()
            .unwrap_or_default(),
        preview["requests"][0]["path"].as_str().unwrap_or_default(),
        preview["tool"].as_str().unwrap_or_default(),
    );
    if let Some(patch) = preview["patch"].as_array() {
        for op in patch.iter().take(20) {
            message.push_str(&format!(
                "\n- {} {} {}",
                op["op"].as_str().unwrap_or_default(),
                op["path"].as_str().unwrap_or_default(),
                op.get("value").map(short).unwrap_or_default()
            ));
        }
    } else if let Some(effect) = preview["effect"].as_str() {
        message.push_str(&format!("\n{effect}"));
    }
    match preview["revert"]["possible"].as_bool() {
        Some(true) => message.push_str("\nIt can be reverted (gojira.revert)."),
        _ => message.push_str(&format!(
            "\nIt cannot be reverted: {}",
            preview["revert"]["reason"].as_str().unwrap_or("no inverse")
        )),
    }
    let schema = ElicitationSchema::builder()
        .required_bool(CONFIRM)
        .build_unchecked();
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema: schema,
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}
