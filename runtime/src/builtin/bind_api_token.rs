//! `gojira.bindApiToken`: binds the caller's own Atlassian API token, for
//! the tools whose auth kind is `api_token` (OAuth cannot reach them).

use serde_json::{Map, Value};

use super::Builtin;
use crate::error::ToolError;
use crate::state::{CallContext, ServerState};

pub(super) static TOOL: Builtin = Builtin {
    name: "gojira.bindApiToken",
    title: "Bind your Atlassian API token",
    description: "Stores your own Atlassian API token (encrypted) for the tools that need one instead of OAuth (service-desk and Assets administration). Checked against Atlassian as your signed-in account before it is kept; never shown again. Call once, or again after rotating the token.",
    input_schema: r#"{"type":"object","properties":{"email":{"type":"string","minLength":3,"maxLength":254,"description":"The email of your Atlassian account"},"token":{"type":"string","minLength":1,"maxLength":1024,"description":"An API token of that account (classic or scoped)"}},"required":["email","token"],"additionalProperties":false}"#,
    read_only: false,
    destructive: false,
    scope: gojira_auth::scopes::READ,
};

pub(super) async fn call(
    state: &ServerState,
    ctx: &CallContext,
    mut args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let take = |args: &mut Map<String, Value>, name: &str| match args.remove(name) {
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        _ => Err(ToolError::invalid_arguments(format!(
            "{name} must be a string"
        ))),
    };
    let email = take(&mut args, "email")?;
    let token = take(&mut args, "token")?;
    crate::identity::bind_api_token(state, ctx, email, token).await
}
