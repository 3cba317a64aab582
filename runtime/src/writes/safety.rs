//! The safety declarations of a writing tool (consent, snapshot, revert), as
//! codegen wrote them into the catalog, and the evaluation of their
//! argument mappings (minijinja expressions, checked at regen).
//!
//! A mapping is a JSON value: a string is an expression, an object or array
//! maps each member, anything else is itself. An expression that yields
//! `none` or undefined drops its member, so `"snapshot.name if
//! args.body.name is defined"` restores only what the write changed.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Whether a write needs `commit: true` and a preview's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Performed at once (still journaled).
    None,
    /// Previewed first; performed only with `commit: true` and the digest.
    Commit,
}

/// The read of the prior state.
#[derive(Debug, Clone, Deserialize)]
pub struct Snapshot {
    /// A read-only tool.
    pub tool: String,
    /// Its argument mapping (over `args`).
    #[serde(default)]
    pub args: Map<String, Value>,
    /// Expression over `response` and `args` selecting the resource.
    #[serde(default)]
    pub pick: Option<String>,
}

/// The inverse of a write.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revert {
    /// A writing tool and its argument mapping (over `args`, `snapshot`, `result`).
    Tool {
        /// The tool.
        tool: String,
        /// The mapping.
        args: Map<String, Value>,
    },
    /// Writing tools called in this order (e.g. disable, then delete),
    /// previewed and journaled as one revert.
    Steps {
        /// The calls.
        steps: Vec<RevertStep>,
    },
    /// No inverse.
    Irreversible {
        /// Why.
        reason: String,
    },
}

/// One call of a revert sequence.
#[derive(Debug, Clone, Deserialize)]
pub struct RevertStep {
    /// The writing tool.
    pub tool: String,
    /// Its argument mapping (over `args`, `snapshot`, `result`).
    pub args: Map<String, Value>,
}

impl Revert {
    /// The inverse's calls in order (none when irreversible).
    pub fn calls(&self) -> Vec<(&str, &Map<String, Value>)> {
        match self {
            Self::Tool { tool, args } => vec![(tool.as_str(), args)],
            Self::Steps { steps } => steps.iter().map(|s| (s.tool.as_str(), &s.args)).collect(),
            Self::Irreversible { .. } => Vec::new(),
        }
    }
}

/// The blast radius of a write: what else uses the resource it changes
/// (evaluated by [`crate::impact`]).
#[derive(Debug, Clone, Deserialize)]
pub struct Impact {
    /// A read-only tool listing the users (followed over its pages).
    pub tool: String,
    /// Its argument mapping (over `args`).
    #[serde(default)]
    pub args: Map<String, Value>,
    /// Expression over `response` and `args` selecting the list.
    #[serde(default)]
    pub pick: Option<String>,
    /// One read per listed item, keeping those `keep` accepts.
    #[serde(default)]
    pub each: Option<ImpactEach>,
    /// Refuse the write while the list is not empty.
    #[serde(default)]
    pub refuse_when_used: bool,
    /// The writing tool that moves a user off the resource (named in the refusal).
    #[serde(default)]
    pub resolve_with: Option<String>,
}

/// The per-item read of an [`Impact`].
#[derive(Debug, Clone, Deserialize)]
pub struct ImpactEach {
    /// A read-only tool.
    pub tool: String,
    /// Its argument mapping (over `item` and `args`).
    #[serde(default)]
    pub args: Map<String, Value>,
    /// Expression over `response`, `item` and `args`: whether the item is a user.
    pub keep: String,
}

/// A writing tool's declarations.
#[derive(Debug, Clone, Deserialize)]
pub struct Safety {
    /// Consent rule.
    pub consent: Consent,
    /// Prior-state read.
    #[serde(default)]
    pub snapshot: Option<Snapshot>,
    /// Inverse.
    pub revert: Revert,
    /// Blast radius.
    #[serde(default)]
    pub impact: Option<Impact>,
}

impl Safety {
    /// Parses the catalog's JSON.
    ///
    /// # Errors
    /// The parser's message (a generator bug: regen wrote this text).
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(Environment::new)
}

/// Evaluates one expression; `None` for `none`/undefined.
///
/// # Errors
/// The expression fails to compile or evaluate (a type error on live data).
pub fn eval(expr: &str, context: &Value) -> Result<Option<Value>, String> {
    let compiled = env()
        .compile_expression(expr)
        .map_err(|e| format!("{expr:?}: {e}"))?;
    let value = compiled
        .eval(minijinja::value::Serde(context))
        .map_err(|e| format!("{expr:?}: {e}"))?;
    if value.is_undefined() || value.is_none() {
        return Ok(None);
    }
    serde_json::to_value(&value)
        .map(Some)
        .map_err(|e| format!("{expr:?}: {e}"))
}

/// Evaluates a mapping (see the module docs).
///
/// # Errors
/// The first expression that fails, with its path.
pub fn map(mapping: &Value, context: &Value) -> Result<Option<Value>, String> {
    match mapping {
        Value::String(expr) => eval(expr, context),
        Value::Object(members) => {
            let mut out = Map::new();
            for (key, member) in members {
                if let Some(v) = map(member, context).map_err(|e| format!("{key}: {e}"))? {
                    out.insert(key.clone(), v);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                if let Some(v) = map(item, context).map_err(|e| format!("[{i}]: {e}"))? {
                    out.push(v);
                }
            }
            Ok(Some(Value::Array(out)))
        }
        other => Ok(Some(other.clone())),
    }
}

/// Evaluates an argument mapping into a tool's arguments object.
///
/// # Errors
/// As [`map`].
pub fn args(mapping: &Map<String, Value>, context: &Value) -> Result<Map<String, Value>, String> {
    match map(&Value::Object(mapping.clone()), context)? {
        Some(Value::Object(out)) => Ok(out),
        _ => Ok(Map::new()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_what_codegen_writes() {
        let s = Safety::parse(r#"{"consent":"commit","snapshot":{"tool":"t.get","args":{"id":"args.id"}},"revert":{"tool":{"tool":"t.update","args":{"id":"args.id"}}}}"#).unwrap();
        assert_eq!(s.consent, Consent::Commit);
        assert!(matches!(s.revert, Revert::Tool { .. }));
        let s = Safety::parse(r#"{"consent":"none","revert":{"irreversible":{"reason":"gone"}}}"#)
            .unwrap();
        assert!(s.impact.is_none());
        let s = Safety::parse(r#"{"consent":"commit","revert":{"irreversible":{"reason":"gone"}},"impact":{"tool":"t.list","args":{"id":"args.id"},"pick":"response['values']","each":{"tool":"t.get","args":{"key":"item.key"},"keep":"response.id == args.id"},"refuse_when_used":true,"resolve_with":"t.move"}}"#).unwrap();
        let impact = s.impact.unwrap();
        assert!(impact.refuse_when_used);
        assert_eq!(impact.resolve_with.as_deref(), Some("t.move"));
        assert_eq!(impact.each.unwrap().keep, "response.id == args.id");
        assert!(matches!(s.revert, Revert::Irreversible { reason } if reason == "gone"));
        let s = Safety::parse(r#"{"consent":"commit","revert":{"steps":{"steps":[{"tool":"t.disable","args":{"id":"args.id"}},{"tool":"t.delete","args":{"id":"args.id"}}]}}}"#).unwrap();
        let calls: Vec<&str> = s.revert.calls().into_iter().map(|(t, _)| t).collect();
        assert_eq!(calls, ["t.disable", "t.delete"]);
    }

    #[test]
    fn mappings_keep_types_and_drop_undefined_members() {
        let ctx = json!({
            "args": {"id": 7, "body": {"name": "new"}},
            "snapshot": {"name": "old", "description": "d", "category": {"id": "10"}},
            "result": {"id": "42"}
        });
        let mapping = json!({
            "id": "args.id",
            "body": {
                "name": "snapshot.name if args.body.name is defined",
                "description": "snapshot.description if args.body.description is defined",
                "categoryId": "snapshot.category.id | int",
                "fixed": true
            },
            "created": "result.id | int",
            "ids": ["args.id"]
        });
        let out = args(mapping.as_object().unwrap(), &ctx).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"id": 7, "body": {"name": "old", "categoryId": 10, "fixed": true}, "created": 42, "ids": [7]})
        );
    }

    /// The names codegen lets a mapping use (codegen may not depend on the
    /// runtime, nor the runtime on codegen: the list is one file both read).
    mod allowed {
        include!("../../../codegen/src/minijinja_names.rs");
    }

    /// The names in one `name: [..]` list of the Environment's `Debug`
    /// output (minijinja offers no other way to list filters and tests).
    fn debug_list(debug: &str, name: &str) -> Vec<String> {
        let start = debug
            .find(&format!("{name}: ["))
            .unwrap_or_else(|| panic!("no {name} list in {debug}"))
            + name.len()
            + 3;
        let end = start + debug[start..].find(']').unwrap();
        let mut names: Vec<String> = debug[start..end]
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(|s| serde_json::from_str::<String>(s).unwrap())
            .collect();
        names.sort();
        names
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        names.sort();
        names
    }

    /// A filter, test or function codegen accepts but the runtime lacks would
    /// fail every call of that write; one the runtime adds but codegen does
    /// not know would be refused at regen. Both sides must list the same.
    #[test]
    fn registers_exactly_the_names_codegen_allows() {
        let env = env();
        let debug = format!("{env:?}");
        assert_eq!(
            debug_list(&debug, "filters"),
            sorted(allowed::FILTERS),
            "filters: update codegen/src/minijinja_names.rs with the runtime's Environment"
        );
        assert_eq!(
            debug_list(&debug, "tests"),
            sorted(allowed::TESTS),
            "tests: update codegen/src/minijinja_names.rs with the runtime's Environment"
        );
        let mut functions: Vec<String> = env.globals().map(|(n, _)| n.to_owned()).collect();
        functions.sort();
        assert_eq!(
            functions,
            sorted(allowed::FUNCTIONS),
            "functions: update codegen/src/minijinja_names.rs with the runtime's Environment"
        );
        // And each one is really callable (not only listed).
        for name in allowed::FILTERS {
            let known = eval("n is filter", &json!({ "n": name })).unwrap();
            assert_eq!(known, Some(json!(true)), "filter {name}");
        }
        for name in allowed::TESTS {
            let known = eval("n is test", &json!({ "n": name })).unwrap();
            assert_eq!(known, Some(json!(true)), "test {name}");
        }
        assert_eq!(
            eval("n is filter", &json!({"n": "integer"})).unwrap(),
            Some(json!(false))
        );
    }

    #[test]
    fn pick_selects_from_lists() {
        let ctx = json!({"response": {"sharePermissions": [{"id": 1, "type": "group"}, {"id": 2, "type": "project"}]}, "args": {"permissionId": 2}});
        let picked = eval(
            "response.sharePermissions | selectattr('id', 'equalto', args.permissionId) | first",
            &ctx,
        )
        .unwrap();
        assert_eq!(picked, Some(json!({"id": 2, "type": "project"})));
        assert_eq!(
            eval(
                "response['values'] | first",
                &json!({"response": {"values": []}})
            )
            .unwrap(),
            None
        );
    }
}
