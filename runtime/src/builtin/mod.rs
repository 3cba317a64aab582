//! gojira's own tools (permission group `utility`): hand-written, because
//! they act on gojira's state (identity, journal, credentials) rather than
//! call one Atlassian operation. Each has a module; this file is the
//! registry: the list served in `tools/list`, and the dispatch.
//!
//! Adding one: write `builtin/<name>.rs` with a `pub(super) static TOOL:
//! Builtin` and an `async fn call(...)`, list it in [`ALL`], add its arm in
//! [`call`].

mod bind_api_token;
mod journal;
pub(crate) mod task;
mod whoami;

use serde_json::{Map, Value};

use crate::error::ToolError;
use crate::state::{CallContext, ServerState};

/// The group every built-in tool belongs to.
pub const GROUP: &str = "utility";

/// A built-in tool's definition.
#[derive(Debug)]
pub struct Builtin {
    /// MCP name (`gojira.*`).
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// Description for the model.
    pub description: &'static str,
    /// Input JSON Schema (text).
    pub input_schema: &'static str,
    /// Changes nothing.
    pub read_only: bool,
    /// May destroy data.
    pub destructive: bool,
    /// The OAuth scope a token needs to list and call it (`gojira_auth::scopes`).
    pub scope: &'static str,
}

/// Every built-in tool, in name order.
pub static ALL: &[&Builtin] = &[
    &bind_api_token::TOOL,
    &journal::GET,
    &journal::LIST,
    &journal::VERIFY,
    &journal::REVERT,
    &task::GET,
    &whoami::TOOL,
];

/// Runs built-in tool `name` (already found in [`ALL`] and validated).
pub async fn call(
    state: &ServerState,
    ctx: &CallContext,
    name: &str,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    match name {
        n if n == bind_api_token::TOOL.name => bind_api_token::call(state, ctx, args).await,
        n if n == journal::LIST.name => journal::list(state, ctx, args).await,
        n if n == journal::GET.name => journal::get(state, ctx, args).await,
        n if n == journal::VERIFY.name => journal::verify(state, ctx, args).await,
        n if n == journal::REVERT.name => journal::revert(state, ctx, args).await,
        n if n == task::GET.name => task::get(state, ctx, args).await,
        n if n == whoami::TOOL.name => whoami::call(state, ctx, args).await,
        other => Err(ToolError::internal(format!(
            "built-in tool {other} has no handler"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_schema_compiles_and_names_are_unique_and_sorted() {
        let mut names = Vec::new();
        for def in ALL {
            let schema: Value = serde_json::from_str(def.input_schema).unwrap();
            assert!(jsonschema::draft7::new(&schema).is_ok(), "{}", def.name);
            assert!(
                def.name.starts_with("gojira.") && def.name.len() <= 60,
                "{}",
                def.name
            );
            names.push(def.name);
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "ALL is in name order, without duplicates");
    }
}
