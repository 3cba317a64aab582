//! The blast radius of a write (its `impact` declaration): what else uses
//! the resource it changes, read when the write is planned, so that it is
//! shown in the preview the user confirms and covered by the plan digest (a
//! change in usage between preview and commit is a new plan). With
//! `refuse_when_used`, a write whose list is not empty is refused before
//! anything is sent, naming each user and the tool that moves it away.
//!
//! Product-agnostic: the tools, mappings and the list's shape all come from
//! the declaration; items are shown as the reads answer them.

use serde_json::{Map, Value, json};

use crate::catalog::Tool as CatalogTool;
use crate::error::{ErrorCode, ToolError};
use crate::state::{CallContext, ServerState};
use crate::upstream::shape;
use crate::writes::safety::{self, Impact};

/// Pages of the listing read followed at most.
const MAX_PAGES: usize = 10;
/// Items checked one by one (`each`) at most: each costs a read per plan.
const MAX_EACH: usize = 100;

/// The users of what a write changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Impacted {
    /// The users, as the reads answer them (noise trimmed).
    pub used_by: Vec<Value>,
    /// Whether every user was seen (false when the listing had more pages
    /// than gojira reads, or more items than it checks one by one).
    pub complete: bool,
}

impl Impacted {
    /// The JSON shown in previews and digested with the plan.
    pub fn to_json(&self, impact: &Impact) -> Value {
        let mut v = json!({
            "usedBy": self.used_by,
            "count": self.used_by.len(),
            "complete": self.complete,
            "note": "the write changes what every one of these uses, not only the one it names",
        });
        if !self.complete {
            v["note"] = Value::String(format!(
                "at least these use it: gojira reads at most {MAX_PAGES} pages of {} (and checks at most {MAX_EACH} items one by one); the write changes what every one of its users uses",
                impact.tool
            ));
        }
        v
    }
}

/// Reads the users of what a write of `tool` with `args` changes.
///
/// # Errors
/// A read fails (nothing is sent then), or a mapping fails on live data.
pub(crate) async fn read(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    impact: &Impact,
    args: &Map<String, Value>,
) -> Result<Impacted, ToolError> {
    let mapping_error = |what: &str, e: String| {
        ToolError::internal(format!("impact {what} of {}: {e}", tool.spec.name))
    };
    let context = json!({"args": args});
    let list_args = safety::args(&impact.args, &context).map_err(|e| mapping_error("args", e))?;
    let lister = reader(state, &impact.tool)?;
    // A write that names no target (its mapping left a required argument of
    // the read unset, e.g. an update listing no workflow) affects nothing.
    let names_its_target = lister
        .input_schema()
        .get("required")
        .and_then(Value::as_array)
        .is_none_or(|required| {
            required
                .iter()
                .filter_map(Value::as_str)
                .all(|name| list_args.contains_key(name))
        });
    if !names_its_target {
        return Ok(Impacted {
            used_by: Vec::new(),
            complete: true,
        });
    }
    let mut listed: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut page_args = list_args.clone();
        if let Some(c) = &cursor {
            page_args.insert("cursor".into(), Value::String(c.clone()));
        }
        let response = read_one(state, ctx, lister, page_args).await?;
        cursor = response
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let picked = match &impact.pick {
            Some(pick) => safety::eval(pick, &json!({"response": response, "args": args}))
                .map_err(|e| mapping_error("pick", e))?
                .unwrap_or(Value::Null),
            None => response,
        };
        match picked {
            Value::Array(items) => listed.extend(items),
            Value::Null => {}
            one => listed.push(one),
        }
        pages += 1;
        let enough = impact.each.is_some() && listed.len() >= MAX_EACH;
        if cursor.is_none() || pages >= MAX_PAGES || enough {
            break;
        }
    }
    let mut complete = cursor.is_none();
    let Some(each) = &impact.each else {
        return Ok(Impacted {
            used_by: listed,
            complete,
        });
    };
    if listed.len() > MAX_EACH {
        listed.truncate(MAX_EACH);
        complete = false;
    }
    let checker = reader(state, &each.tool)?;
    let mut used_by = Vec::new();
    for item in listed {
        let context = json!({"item": item, "args": args});
        let read_args =
            safety::args(&each.args, &context).map_err(|e| mapping_error("each.args", e))?;
        let response = read_one(state, ctx, checker, read_args).await?;
        let keep = safety::eval(
            &each.keep,
            &json!({"response": response, "item": item, "args": args}),
        )
        .map_err(|e| mapping_error("each.keep", e))?;
        if matches!(keep, Some(v) if v != Value::Bool(false)) {
            used_by.push(item);
        }
    }
    Ok(Impacted { used_by, complete })
}

fn reader<'s>(state: &'s ServerState, name: &str) -> Result<&'s CatalogTool, ToolError> {
    state
        .catalog_tool(name)
        .ok_or_else(|| ToolError::internal(format!("impact tool {name} is not in the catalog")))
}

async fn read_one(
    state: &ServerState,
    ctx: &CallContext,
    reader: &CatalogTool,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let mut response = state
        .read_fresh_page(ctx, reader, args)
        .await
        .map_err(|e| ToolError {
            message: format!(
                "could not read what uses the target with {} before writing, so nothing was changed: {}",
                reader.spec.name, e.message
            ),
            ..e
        })?;
    shape::trim(&mut response);
    Ok(response)
}

/// The refusal of a `refuse_when_used` write whose target is in use, or
/// `None` when it may go ahead.
pub(crate) fn refusal(tool: &str, impact: &Impact, impacted: &Impacted) -> Option<ToolError> {
    if !impact.refuse_when_used || impacted.used_by.is_empty() {
        return None;
    }
    let names: Vec<String> = impacted.used_by.iter().map(label).collect();
    let more = if impacted.complete {
        ""
    } else {
        " (at least; gojira did not read every page)"
    };
    let next = match &impact.resolve_with {
        Some(resolve) => {
            format!("move each of them to another one first with {resolve}, then call {tool} again")
        }
        None => format!("move each of them to another one first, then call {tool} again"),
    };
    Some(ToolError::with_code(
        ErrorCode::InUse,
        format!(
            "{tool} was refused and nothing was sent: what it would change is in use by {}{more}: {}. Next: {next}",
            names.len(),
            names.join(", ")
        ),
        Some(json!({"usedBy": impacted.used_by, "resolveWith": impact.resolve_with})),
    ))
}

/// How an item is named in a refusal: `KEY (Name)`, else its name, key or id.
fn label(item: &Value) -> String {
    let text = |k: &str| match item.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match (text("key"), text("name"), text("id")) {
        (Some(key), Some(name), _) => format!("{key} ({name})"),
        (Some(one), None, _) | (None, Some(one), _) | (None, None, Some(one)) => one,
        (None, None, None) => item.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn impact(refuse: bool) -> Impact {
        Impact {
            tool: "t.list".into(),
            args: Map::new(),
            pick: None,
            each: None,
            refuse_when_used: refuse,
            resolve_with: refuse.then(|| "t.move".to_owned()),
        }
    }

    /// The per-item test tools.yaml uses for issue type schemes (a project's
    /// scheme is nested in a page of associations).
    #[test]
    fn a_dotted_attribute_map_reaches_nested_ids() {
        let keep = "args.issueTypeSchemeId | string in (response['values'] | default([]) | map(attribute='issueTypeScheme.id') | list)";
        let used = json!({"response": {"values": [{"issueTypeScheme": {"id": "10001"}, "projectIds": ["10000"]}]}, "args": {"issueTypeSchemeId": 10001}});
        assert_eq!(safety::eval(keep, &used).unwrap(), Some(json!(true)));
        let other = json!({"response": {"values": [{"issueTypeScheme": {"id": "10002"}}]}, "args": {"issueTypeSchemeId": 10001}});
        assert_eq!(safety::eval(keep, &other).unwrap(), Some(json!(false)));
        let empty = json!({"response": {}, "args": {"issueTypeSchemeId": 10001}});
        assert_eq!(safety::eval(keep, &empty).unwrap(), Some(json!(false)));
    }

    #[test]
    fn a_refusal_names_every_user_and_the_tool_that_moves_it() {
        let impacted = Impacted {
            used_by: vec![
                json!({"id": "1", "key": "ABC", "name": "Alpha"}),
                json!({"id": "2", "name": "Beta"}),
                json!({"id": 3}),
            ],
            complete: true,
        };
        let e = refusal("t.delete", &impact(true), &impacted).unwrap();
        assert_eq!(e.code, ErrorCode::InUse);
        assert!(
            e.message.contains("in use by 3: ABC (Alpha), Beta, 3."),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("with t.move, then call t.delete again"),
            "{}",
            e.message
        );
        assert!(refusal("t.update", &impact(false), &impacted).is_none());
        let unused = Impacted {
            used_by: Vec::new(),
            complete: true,
        };
        assert!(refusal("t.delete", &impact(true), &unused).is_none());
    }
}
