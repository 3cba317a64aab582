//! `gojira.whoami`: who the server acts as for this caller, and what it may do.

use serde_json::{Map, Value, json};

use super::Builtin;
use crate::error::ToolError;
use crate::state::{CallContext, ServerState};

pub(super) static TOOL: Builtin = Builtin {
    name: "gojira.whoami",
    title: "Who am I",
    description: "Who gojira acts as for you upstream, and which permission groups this server enables. Call first when a tool answers 401/403.",
    input_schema: r#"{"type":"object","properties":{},"additionalProperties":false}"#,
    read_only: true,
    destructive: false,
    scope: gojira_auth::scopes::READ,
};

pub(super) async fn call(
    state: &ServerState,
    ctx: &CallContext,
    _args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let mut out = json!({
        "principal": ctx.principal,
        "authMode": if state.identity().is_oauth() { "oauth" } else { "local" },
        "enabledGroups": state.enabled_groups(),
    });
    if let (Some(user), Value::Object(map)) = (&ctx.user, &mut out) {
        map.insert("accountId".into(), json!(user.account_id));
        map.insert("client".into(), json!(user.client_id));
        map.insert("sites".into(), json!(user.cloud_ids));
        if let Some(email) = &user.email {
            map.insert("email".into(), json!(email));
        }
    }
    Ok(out)
}
