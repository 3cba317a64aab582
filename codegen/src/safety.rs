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
//!   `result` (this write's answer);
//! - impact `args`: over `args`; impact `pick`: over `response` (the impact
//!   tool's answer) and `args`; `each.args` over `item` (one picked element)
//!   and `args`; `each.keep` over `response` (the per-item answer), `item`
//!   and `args`.
//!
//! Every filter, test and function a mapping uses must be one the runtime
//! registers ([`names`]): anything else would fail on every call.
//!
//! [`lower`] checks one tool's declarations; [`check_references`] checks
//! them against the other tools once all are lowered.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;
use serde_json::{Map, Value};

use crate::diagnostics::{Diagnostic, Location};
use crate::ir::{
    ImpactDef, ImpactEachDef, RevertDef, RevertStepDef, SafetyDef, SnapshotDef, ToolDef,
};
use crate::manifest::{self, Consent, Tool};

/// The filters, tests and functions the runtime registers in the Environment
/// that evaluates mappings. The same file is include!d by a runtime test that
/// asserts the runtime registers exactly these (neither crate may depend on
/// the other).
pub mod names {
    include!("minijinja_names.rs");
}

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
        if tool.consent.is_some()
            || tool.snapshot.is_some()
            || tool.revert.is_some()
            || tool.impact.is_some()
        {
            errors.push(Diagnostic::error(
                loc,
                "consent, snapshot, revert and impact are for writing tools; this tool only reads",
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
    let revert = match (&revert.tool, &revert.steps, &revert.irreversible) {
        (Some(target), None, None) => RevertDef::Tool {
            tool: target.value.clone(),
            args: to_map(&revert.args),
        },
        (None, Some(steps), None) if revert.args.is_empty() && !steps.is_empty() => {
            if steps.len() == 1 {
                errors.push(Diagnostic::error(
                    loc.clone(),
                    "revert.steps has one step; write it as revert: {tool, args}",
                ));
                return None;
            }
            RevertDef::Steps {
                steps: steps
                    .iter()
                    .map(|s| RevertStepDef {
                        tool: s.tool.value.clone(),
                        args: to_map(&s.args),
                    })
                    .collect(),
            }
        }
        (None, None, Some(reason)) if !reason.trim().is_empty() && revert.args.is_empty() => {
            RevertDef::Irreversible {
                reason: reason.trim().to_owned(),
            }
        }
        _ => {
            errors.push(Diagnostic::error(
                loc.clone(),
                "revert takes exactly one of: tool (with args), steps (a list of {tool, args}, run in order), or irreversible: <reason>",
            ));
            return None;
        }
    };
    let snapshot = tool.snapshot.as_ref().map(|s| SnapshotDef {
        tool: s.tool.value.clone(),
        args: to_map(&s.args),
        pick: s.pick.clone(),
    });
    let impact = match &tool.impact {
        None => None,
        Some(i) => {
            if i.refuse_when_used != i.resolve_with.is_some() {
                errors.push(Diagnostic::error(
                    manifest::location_of(file, &i.tool, Some(name)),
                    "impact.refuse_when_used: true needs impact.resolve_with (the writing tool that moves a user off the resource, named in the refusal), and resolve_with is only for refuse_when_used",
                ));
                return None;
            }
            Some(ImpactDef {
                tool: i.tool.value.clone(),
                args: to_map(&i.args),
                pick: i.pick.clone(),
                each: i.each.as_ref().map(|e| ImpactEachDef {
                    tool: e.tool.value.clone(),
                    args: to_map(&e.args),
                    keep: e.keep.clone(),
                }),
                refuse_when_used: i.refuse_when_used,
                resolve_with: i.resolve_with.as_ref().map(|r| r.value.clone()),
            })
        }
    };
    Some(SafetyDef {
        consent: consent.value,
        snapshot,
        revert,
        impact,
        location: consent_loc,
    })
}

fn to_map(args: &BTreeMap<String, Value>) -> Map<String, Value> {
    args.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The tools some snapshot or revert names (what a hidden tool needs to be
/// reachable at all).
pub fn referenced<'a>(tools: impl IntoIterator<Item = &'a ToolDef>) -> BTreeSet<&'a str> {
    let mut reached = BTreeSet::new();
    for safety in tools.into_iter().filter_map(|t| t.safety.as_ref()) {
        reached.extend(safety.snapshot.iter().map(|s| s.tool.as_str()));
        if let Some(impact) = &safety.impact {
            reached.insert(impact.tool.as_str());
            reached.extend(impact.each.iter().map(|e| e.tool.as_str()));
        }
        match &safety.revert {
            RevertDef::Tool { tool, .. } => {
                reached.insert(tool.as_str());
            }
            RevertDef::Steps { steps } => reached.extend(steps.iter().map(|s| s.tool.as_str())),
            RevertDef::Irreversible { .. } => {}
        }
    }
    reached
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
        // `snapshot.x` is checked against the snapshot tool's answer unless a pick reshapes it.
        let snapshot_shape = match snapshot_tool {
            Some((t, false)) => Some(Some(t)),
            Some((_, true)) => Some(None),
            None => None,
        };
        let calls: Vec<(&String, &Map<String, Value>, String)> = match &safety.revert {
            RevertDef::Tool { tool: name, args } => vec![(name, args, "revert".to_owned())],
            RevertDef::Steps { steps } => steps
                .iter()
                .enumerate()
                .map(|(i, s)| (&s.tool, &s.args, format!("revert.steps[{i}]")))
                .collect(),
            RevertDef::Irreversible { .. } => Vec::new(),
        };
        for (name, args, role) in calls {
            let Some(target) = ctx.target(name, &role, false, &by_name) else {
                continue;
            };
            ctx.check_args(
                args,
                target,
                &["args", "snapshot", "result"],
                snapshot_shape,
                &role,
            );
        }
        if let Some(impact) = &safety.impact {
            ctx.check_impact(impact, &by_name);
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
        // `impact.resolve_with` names a tool itself; the others have a `tool` key.
        let what = if role.ends_with("resolve_with") {
            role.to_owned()
        } else {
            format!("{role}.tool")
        };
        let Some(target) = by_name.get(name).copied() else {
            self.error(format!("{what} {name} is not a tool in tools.yaml"));
            return None;
        };
        if target.read_only != read_only {
            self.error(format!(
                "{what} {name} must be a {} tool",
                if read_only { "read-only" } else { "writing" }
            ));
            return None;
        }
        Some(target)
    }

    /// An impact declaration: its reads exist and only read, their mappings
    /// name real arguments and fields, and the tool it names to resolve a
    /// refusal is a write.
    fn check_impact(&mut self, impact: &ImpactDef, by_name: &BTreeMap<&str, &ToolDef>) {
        if let Some(target) = self.target(&impact.tool, "impact", true, by_name) {
            self.check_args(&impact.args, target, &["args"], None, "impact");
            if let Some(pick) = &impact.pick {
                self.check_expression(pick, &["response", "args"], Some(target), "impact.pick");
            }
        }
        if let Some(each) = &impact.each
            && let Some(target) = self.target(&each.tool, "impact.each", true, by_name)
        {
            self.check_args(&each.args, target, &["item", "args"], None, "impact.each");
            self.check_expression(
                &each.keep,
                &["response", "item", "args"],
                Some(target),
                "impact.each.keep",
            );
        }
        if let Some(resolve) = &impact.resolve_with {
            self.target(resolve, "impact.resolve_with", false, by_name);
        }
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
        let called = self.check_names(expr, at);
        let mut vars: Vec<String> = compiled.undeclared_variables(true).into_iter().collect();
        vars.sort();
        for var in vars {
            let mut parts = var.splitn(3, '.');
            let root = parts.next().unwrap_or_default();
            let field = parts.next();
            if called.contains(root) {
                // A function (checked by `check_names`), not a variable.
                continue;
            }
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

    /// Checks every filter, test and function `expr` uses against the ones
    /// the runtime registers; returns the names it calls as functions.
    fn check_names(&mut self, expr: &str, at: &str) -> BTreeSet<String> {
        let mut called = BTreeSet::new();
        for (kind, name) in used_names(expr) {
            if kind == NameKind::Function {
                called.insert(name.clone());
            }
            if kind.registered().contains(&name.as_str()) {
                continue;
            }
            let kinds = [NameKind::Filter, NameKind::Test, NameKind::Function];
            let hint = match kinds
                .into_iter()
                .find(|k| *k != kind && k.registered().contains(&name.as_str()))
            {
                Some(other) => format!(" ({name} is a {other}: {})", other.usage(&name)),
                // A near name of another kind that fits better: `lenght(x)` → `x | length`.
                None => {
                    let best = |k: NameKind| nearest(&name, k.registered()).into_iter().next();
                    let own = best(kind).map_or(0.0, |(score, _)| score);
                    kinds
                        .into_iter()
                        .filter(|k| *k != kind)
                        .filter_map(|k| best(k).map(|(score, n)| (score, k, n)))
                        .filter(|(score, _, _)| *score >= 0.9 && *score > own)
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .map(|(_, k, n)| format!(" (did you mean the {k} {n}: {}?)", k.usage(n)))
                        .unwrap_or_default()
                }
            };
            let known = if kind == NameKind::Function {
                // Only a few: name them all.
                format!("the functions are {}", kind.registered().join(", "))
            } else {
                let near: Vec<&str> = nearest(&name, kind.registered())
                    .into_iter()
                    .enumerate()
                    .filter(|(i, (score, _))| *i == 0 || *score >= 0.75)
                    .map(|(_, (_, n))| n)
                    .collect();
                format!("nearest {kind}s: {}", near.join(", "))
            };
            self.error(format!(
                "{at}: {expr:?} uses {kind} {name:?}, which the runtime does not register{hint}; {known}"
            ));
        }
        called
    }
}

/// What a name in an expression is looked up as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NameKind {
    Filter,
    Test,
    Function,
}

impl NameKind {
    /// How a name of this kind is written.
    fn usage(self, name: &str) -> String {
        match self {
            NameKind::Filter => format!("`x | {name}`"),
            NameKind::Test => format!("`x is {name}`"),
            NameKind::Function => format!("`{name}(...)`"),
        }
    }

    fn registered(self) -> &'static [&'static str] {
        match self {
            NameKind::Filter => names::FILTERS,
            NameKind::Test => names::TESTS,
            NameKind::Function => names::FUNCTIONS,
        }
    }
}

impl std::fmt::Display for NameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameKind::Filter => "filter",
            NameKind::Test => "test",
            NameKind::Function => "function",
        })
    }
}

/// Words that may stand before `(` without calling anything.
const KEYWORDS: &[&str] = &["and", "or", "not", "in", "is", "if", "else"];

/// The filters (`x | f`), tests (`x is t`, `x is not t`), and functions
/// (`f(...)`, not methods `x.f(...)`) an expression uses, in order, read
/// with minijinja's own tokenizer; also the test and filter names that
/// `select`/`reject`/`selectattr`/`rejectattr` and `map` take as strings.
fn used_names(expr: &str) -> Vec<(NameKind, String)> {
    let mut tokens: Vec<Token<'_>> = Vec::new();
    for token in tokenize(expr, true, SyntaxConfig::default()) {
        match token {
            Ok((token, _)) => tokens.push(token),
            // The expression compiled, so this does not happen; stop reading.
            Err(_) => break,
        }
    }
    let string_at = |i: usize| match tokens.get(i) {
        Some(Token::Str(s)) => Some((*s).to_owned()),
        Some(Token::String(s)) => Some(s.to_string()),
        _ => None,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let kind = match (&tokens[i], tokens.get(i + 1)) {
            (Token::Pipe, _) => Some(NameKind::Filter),
            (Token::Ident("is"), Some(Token::Ident("not"))) => {
                i += 1;
                Some(NameKind::Test)
            }
            (Token::Ident("is"), _) => Some(NameKind::Test),
            _ => None,
        };
        if let Some(kind) = kind {
            // A (possibly dotted) name: `x | name`, `x is not name`.
            let mut name = String::new();
            let mut j = i + 1;
            while let Some(Token::Ident(part)) = tokens.get(j) {
                name.push_str(part);
                if matches!(tokens.get(j + 1), Some(Token::Dot)) {
                    name.push('.');
                    j += 2;
                } else {
                    j += 1;
                    break;
                }
            }
            if !name.is_empty() {
                if kind == NameKind::Filter && matches!(tokens.get(j), Some(Token::ParenOpen)) {
                    // Test and filter names passed as strings.
                    let named = match name.as_str() {
                        "select" | "reject" => string_at(j + 1).map(|n| (NameKind::Test, n)),
                        "selectattr" | "rejectattr"
                            if string_at(j + 1).is_some()
                                && matches!(tokens.get(j + 2), Some(Token::Comma)) =>
                        {
                            string_at(j + 3).map(|n| (NameKind::Test, n))
                        }
                        "map" => string_at(j + 1).map(|n| (NameKind::Filter, n)),
                        _ => None,
                    };
                    out.push((kind, name));
                    out.extend(named);
                } else {
                    out.push((kind, name));
                }
            }
            i = j;
            continue;
        }
        if let (Token::Ident(name), Some(Token::ParenOpen)) = (&tokens[i], tokens.get(i + 1))
            && !KEYWORDS.contains(name)
            && !matches!(i.checked_sub(1).map(|p| &tokens[p]), Some(Token::Dot))
        {
            out.push((NameKind::Function, (*name).to_owned()));
        }
        i += 1;
    }
    out
}

/// The three registered names nearest to `name`, best first, with their
/// Jaro-Winkler similarity (which favours a shared prefix: `integer` → `int`).
fn nearest(name: &str, known: &'static [&'static str]) -> Vec<(f64, &'static str)> {
    let mut scored: Vec<(f64, &'static str)> = known
        .iter()
        .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.truncate(3);
    scored
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}
