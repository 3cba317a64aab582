//! Safe writes in tools.yaml: every writing tool declares `consent`, and a
//! `revert` (an inverse tool call, or `irreversible` with a reason); most
//! also declare a `snapshot` (the read of the state they change).
//!
//! Mappings are minijinja expressions, checked here so that a mapping that
//! names an argument or field that does not exist is a regen diagnostic,
//! not a runtime surprise:
//! - snapshot `args`: over `args` (this tool's arguments);
//! - snapshot `pick`: over `response` (the snapshot tool's answer) and `args`;
//! - revert `args`: over `args`, `snapshot` (the picked prior state) and
//!   `result` (this write's answer).
//!
//! [`lower`] checks one tool's declarations; [`check_references`] checks
//! them against the other tools once all are lowered.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::diagnostics::{Diagnostic, Location};
use crate::ir::{RevertDef, SafetyDef, SnapshotDef, ToolDef};
use crate::manifest::{self, Consent, Tool};

/// Lowers one tool's declarations. Read-only tools must declare none;
/// writes must declare `consent` and `revert`; destructive writes need
/// `consent: commit`.
pub fn lower(
    file: &str,
    tool: &Tool,
    read_only: bool,
    destructive: bool,
    errors: &mut Vec<Diagnostic>,
) -> Option<SafetyDef> {
    let name = tool.name.value.as_str();
    let loc = manifest::location_of(file, &tool.name, Some(name));
    if read_only {
        if tool.consent.is_some() || tool.snapshot.is_some() || tool.revert.is_some() {
            errors.push(Diagnostic::error(
                loc,
                "consent, snapshot and revert are for writing tools; this tool only reads",
            ));
        }
        return None;
    }
    let (Some(consent), Some(revert)) = (&tool.consent, &tool.revert) else {
        errors.push(Diagnostic::error(
            loc,
            "a writing tool must declare consent (none or commit) and revert (tool + args, or irreversible: reason)",
        ));
        return None;
    };
    let consent_loc = manifest::location_of(file, consent, Some(name));
    if destructive && consent.value != Consent::Commit {
        errors.push(Diagnostic::error(
            consent_loc.clone(),
            "a destructive tool needs consent: commit",
        ));
    }
    let revert = match (&revert.tool, &revert.irreversible) {
        (Some(target), None) => RevertDef::Tool {
            tool: target.value.clone(),
            args: to_map(&revert.args),
        },
        (None, Some(reason)) if !reason.trim().is_empty() && revert.args.is_empty() => {
            RevertDef::Irreversible {
                reason: reason.trim().to_owned(),
            }
        }
        _ => {
            errors.push(Diagnostic::error(
                loc.clone(),
                "revert takes either tool (with args) or irreversible: <reason>, not both and not neither",
            ));
            return None;
        }
    };
    let snapshot = tool.snapshot.as_ref().map(|s| SnapshotDef {
        tool: s.tool.value.clone(),
        args: to_map(&s.args),
        pick: s.pick.clone(),
    });
    Some(SafetyDef {
        consent: consent.value,
        snapshot,
        revert,
        location: consent_loc,
    })
}

fn to_map(args: &BTreeMap<String, Value>) -> Map<String, Value> {
    args.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Checks every tool's snapshot and revert against the tools they name.
pub fn check_references<'a>(
    tools: impl IntoIterator<Item = &'a ToolDef> + Clone,
) -> Vec<Diagnostic> {
    let by_name: BTreeMap<&str, &ToolDef> = tools
        .clone()
        .into_iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let mut out = Vec::new();
    for tool in tools {
        let Some(safety) = &tool.safety else { continue };
        let mut ctx = Checker {
            tool,
            loc: &safety.location,
            out: &mut out,
        };
        let snapshot_tool = safety.snapshot.as_ref().and_then(|s| {
            let target = ctx.target(&s.tool, "snapshot", true, &by_name)?;
            ctx.check_args(&s.args, target, &["args"], None, "snapshot");
            if let Some(pick) = &s.pick {
                ctx.check_expression(pick, &["response", "args"], Some(target), "snapshot.pick");
            }
            Some((target, s.pick.is_some()))
        });
        if let RevertDef::Tool { tool: name, args } = &safety.revert {
            let Some(target) = ctx.target(name, "revert", false, &by_name) else {
                continue;
            };
            // `snapshot.x` is checked against the snapshot tool's answer unless a pick reshapes it.
            let snapshot_shape = match snapshot_tool {
                Some((t, false)) => Some(Some(t)),
                Some((_, true)) => Some(None),
                None => None,
            };
            ctx.check_args(
                args,
                target,
                &["args", "snapshot", "result"],
                snapshot_shape,
                "revert",
            );
        }
    }
    out
}

struct Checker<'a> {
    tool: &'a ToolDef,
    loc: &'a Location,
    out: &'a mut Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    fn error(&mut self, message: String) {
        self.out.push(Diagnostic::error(self.loc.clone(), message));
    }

    fn target<'t>(
        &mut self,
        name: &str,
        role: &str,
        read_only: bool,
        by_name: &BTreeMap<&str, &'t ToolDef>,
    ) -> Option<&'t ToolDef> {
        let Some(target) = by_name.get(name).copied() else {
            self.error(format!("{role}.tool {name} is not a tool in tools.yaml"));
            return None;
        };
        if target.read_only != read_only {
            self.error(format!(
                "{role}.tool {name} must be a {} tool",
                if read_only { "read-only" } else { "writing" }
            ));
            return None;
        }
        Some(target)
    }

    /// The target tool's arguments: every key one it takes, every required one given.
    fn check_args(
        &mut self,
        args: &Map<String, Value>,
        target: &ToolDef,
        roots: &[&str],
        snapshot_shape: Option<Option<&ToolDef>>,
        role: &str,
    ) {
        let props = properties(&target.input_schema);
        for (key, mapping) in args {
            let Some(prop) = props.and_then(|p| p.get(key)) else {
                self.error(format!(
                    "{role}.args.{key}: {} takes no argument {key:?}",
                    target.name
                ));
                continue;
            };
            self.check_mapping(
                mapping,
                prop,
                roots,
                snapshot_shape,
                &format!("{role}.args.{key}"),
            );
        }
        for required in target
            .input_schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !args.contains_key(required) {
                self.error(format!(
                    "{role}.args: {} needs argument {required:?}",
                    target.name
                ));
            }
        }
    }

    fn check_mapping(
        &mut self,
        mapping: &Value,
        schema: &Value,
        roots: &[&str],
        snapshot_shape: Option<Option<&ToolDef>>,
        at: &str,
    ) {
        match mapping {
            Value::String(expr) => {
                self.check_expression_with(expr, roots, snapshot_shape, None, at);
            }
            Value::Object(map) => {
                let props = properties(schema);
                for (key, inner) in map {
                    let inner_schema = match props {
                        Some(p) => match p.get(key) {
                            Some(s) => s,
                            None => {
                                self.error(format!("{at}.{key}: no such property"));
                                continue;
                            }
                        },
                        None => &Value::Null,
                    };
                    self.check_mapping(
                        inner,
                        inner_schema,
                        roots,
                        snapshot_shape,
                        &format!("{at}.{key}"),
                    );
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.check_mapping(
                        item,
                        &Value::Null,
                        roots,
                        snapshot_shape,
                        &format!("{at}[{i}]"),
                    );
                }
            }
            _ => {}
        }
    }

    fn check_expression(
        &mut self,
        expr: &str,
        roots: &[&str],
        response: Option<&ToolDef>,
        at: &str,
    ) {
        self.check_expression_with(expr, roots, None, response, at);
    }

    /// Parses `expr` and checks each variable it reads: a known root, and a
    /// first field that exists where the shape is known.
    fn check_expression_with(
        &mut self,
        expr: &str,
        roots: &[&str],
        snapshot_shape: Option<Option<&ToolDef>>,
        response: Option<&ToolDef>,
        at: &str,
    ) {
        let env = minijinja::Environment::new();
        let compiled = match env.compile_expression(expr) {
            Ok(c) => c,
            Err(e) => {
                self.error(format!("{at}: {expr:?} is not a valid expression: {e}"));
                return;
            }
        };
        let mut vars: Vec<String> = compiled.undeclared_variables(true).into_iter().collect();
        vars.sort();
        for var in vars {
            let mut parts = var.splitn(3, '.');
            let root = parts.next().unwrap_or_default();
            let field = parts.next();
            if !roots.contains(&root) {
                self.error(format!(
                    "{at}: {expr:?} reads {root:?}; it may read only {}",
                    roots.join(", ")
                ));
                continue;
            }
            let shape: Option<&Value> = match root {
                "args" => Some(&self.tool.input_schema),
                "result" => self.tool.output_schema.as_ref(),
                "response" => response.and_then(|t| t.output_schema.as_ref()),
                "snapshot" => match snapshot_shape {
                    None => {
                        self.error(format!(
                            "{at}: {expr:?} reads snapshot, but {} declares no snapshot",
                            self.tool.name
                        ));
                        continue;
                    }
                    Some(t) => t.and_then(|t| t.output_schema.as_ref()),
                },
                _ => None,
            };
            if let (Some(field), Some(props)) = (field, shape.and_then(properties))
                && !props.contains_key(field)
            {
                let mut known: Vec<&str> = props.keys().map(String::as_str).collect();
                known.retain(|k| !["commit", "planDigest", "raw", "cursor", "limit"].contains(k));
                self.error(format!(
                    "{at}: {expr:?} reads {root}.{field}, which does not exist; {root} has: {}",
                    known.join(", ")
                ));
            }
        }
    }
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}
