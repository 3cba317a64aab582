//! The contract each tool offers, as a comparable snapshot, and the
//! difference between two snapshots.
//!
//! regen keeps the snapshot of the last committed generation in
//! `generated/contract.json`; after a spec update (or a tools.yaml edit) it
//! compares that with the new one and lists what changed per tool: arguments
//! added, removed, renamed or newly required, enum values gone, a paging style
//! that changed or vanished, request-body fields gone. Breaking changes come
//! first. Pure: the caller reads and writes the files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ir::{Catalog, PageStyle, ParamKind, ToolDef};

/// Version of the snapshot format; a snapshot of another format is not
/// compared (regen says so and writes the new one).
pub const FORMAT: u32 = 1;

/// Deepest body nesting recorded (Atlassian bodies rarely pass 4).
const MAX_DEPTH: usize = 8;

/// Every tool's contract, per product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// [`FORMAT`].
    pub format: u32,
    /// Products by key.
    pub products: BTreeMap<String, ProductContract>,
}

/// One product: the spec it came from and its tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductContract {
    /// Spec file name.
    pub spec: String,
    /// The spec's `info.version`.
    pub spec_version: String,
    /// Tools by MCP name.
    pub tools: BTreeMap<String, ToolContract>,
}

/// What the model may send to one tool, and what the tool sends upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolContract {
    /// `product#operationId`.
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Arguments other than `body` (and other than `cursor`/`limit`, which
    /// `paging` stands for), by the name the model uses.
    pub args: BTreeMap<String, Arg>,
    /// How `cursor`/`limit` reach the upstream, when the tool pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
    /// The JSON request body, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// Where an argument goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgIn {
    /// A path parameter.
    Path,
    /// A query parameter.
    Query,
    /// Read by the server itself (`raw`, `commit`, `planDigest`).
    Control,
}

/// One argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arg {
    /// Path, query or control.
    #[serde(rename = "in")]
    pub location: ArgIn,
    /// Upstream name, when it differs from the argument's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<String>,
    /// The model must send it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// JSON Schema type, compact (`string`, `array<integer>`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// Allowed values (of the items, for an array), when restricted.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<Value>>,
}

/// The upstream paging parameters behind `cursor` and `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// `offset` or `token`.
    pub style: String,
    /// Upstream parameter `cursor` fills.
    pub cursor: String,
    /// Upstream parameter `limit` fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// The request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// The model must send it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// JSON Schema type of the body itself.
    #[serde(rename = "type")]
    pub ty: String,
    /// Fields by dotted path (`holder.type`, `items[].id`, `labels{}.x`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Field>,
}

/// One body field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Required within its parent object.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// JSON Schema type, compact.
    #[serde(rename = "type")]
    pub ty: String,
    /// Allowed values, when restricted.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<Value>>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Contract {
    /// The contract of every tool in a lowered catalog.
    pub fn from_catalog(catalog: &Catalog) -> Contract {
        let products = catalog
            .products
            .iter()
            .map(|p| {
                let tools = p
                    .tools
                    .iter()
                    .map(|t| (t.name.clone(), ToolContract::from_tool(t)))
                    .collect();
                (
                    p.key.clone(),
                    ProductContract {
                        spec: p.spec_file.clone(),
                        spec_version: p.spec_version.clone(),
                        tools,
                    },
                )
            })
            .collect();
        Contract {
            format: FORMAT,
            products,
        }
    }

    /// Pretty JSON with a trailing newline, as committed.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses a committed snapshot.
    pub fn from_json(text: &str) -> Result<Contract, serde_json::Error> {
        serde_json::from_str(text)
    }

    fn tools(&self) -> BTreeMap<&str, &ToolContract> {
        self.products
            .values()
            .flat_map(|p| p.tools.iter().map(|(n, t)| (n.as_str(), t)))
            .collect()
    }
}

impl ToolContract {
    fn from_tool(tool: &ToolDef) -> ToolContract {
        let schema = &tool.input_schema;
        let props = schema.get("properties").and_then(Value::as_object);
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let paging = tool.pagination.as_ref().map(|page| {
            let wire = |arg: &str| {
                tool.params
                    .iter()
                    .find(|p| p.arg_name == arg)
                    .map_or_else(|| arg.to_owned(), |p| p.api_name.clone())
            };
            Paging {
                style: match page.style {
                    PageStyle::Offset => "offset".to_owned(),
                    PageStyle::Token => "token".to_owned(),
                },
                cursor: wire(&page.cursor_arg),
                limit: page.limit_arg.as_deref().map(wire),
            }
        });
        let mut args = BTreeMap::new();
        let mut body = None;
        for (name, prop) in props.into_iter().flatten() {
            if name == "body" {
                let mut fields = BTreeMap::new();
                walk_body(schema, prop, "", &mut fields, 0, &mut Vec::new());
                body = Some(Body {
                    required: required.contains("body"),
                    ty: type_of(schema, prop),
                    fields,
                });
                continue;
            }
            if paging.is_some() && (name == "cursor" || name == "limit") {
                continue;
            }
            let param = tool.params.iter().find(|p| &p.arg_name == name);
            let location = match param.map(|p| p.kind) {
                Some(ParamKind::Path) => ArgIn::Path,
                Some(ParamKind::Query { .. }) => ArgIn::Query,
                None => ArgIn::Control,
            };
            args.insert(
                name.clone(),
                Arg {
                    location,
                    wire: param
                        .filter(|p| &p.api_name != name)
                        .map(|p| p.api_name.clone()),
                    required: required.contains(name.as_str()),
                    ty: type_of(schema, prop),
                    enum_values: enum_of(schema, prop),
                },
            );
        }
        ToolContract {
            operation: tool.operation.clone(),
            method: tool.method.as_str().to_owned(),
            path: tool.path_template.clone(),
            args,
            paging,
            body,
        }
    }
}

/// Follows a local `$ref` (`#/...`) within the input schema, a few hops at most.
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..MAX_DEPTH {
        let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
        else {
            break;
        };
        schema = target;
    }
    schema
}

/// A compact type label: `string`, `integer|null`, `array<string>`, `object`,
/// `oneOf`, `any`.
fn type_of(root: &Value, schema: &Value) -> String {
    type_label(root, schema, 0)
}

fn type_label(root: &Value, schema: &Value, depth: usize) -> String {
    let schema = resolve(root, schema);
    let base = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("|"),
        _ => ["oneOf", "anyOf", "allOf"]
            .iter()
            .find(|k| schema.get(**k).is_some())
            .map_or_else(
                || {
                    if schema.get("properties").is_some() {
                        "object".to_owned()
                    } else {
                        "any".to_owned()
                    }
                },
                |k| (*k).to_owned(),
            ),
    };
    match schema.get("items") {
        Some(items) if base.contains("array") && depth < MAX_DEPTH => base.replacen(
            "array",
            &format!("array<{}>", type_label(root, items, depth + 1)),
            1,
        ),
        _ => base,
    }
}

/// The allowed values of a scalar, or of an array's items.
fn enum_of(root: &Value, schema: &Value) -> Option<Vec<Value>> {
    let schema = resolve(root, schema);
    schema
        .get("enum")
        .or_else(|| {
            schema
                .get("items")
                .map(|items| resolve(root, items))
                .and_then(|items| items.get("enum"))
        })
        .and_then(Value::as_array)
        .cloned()
}

/// Records every field under `schema` (properties, `allOf` members merged,
/// array items as `[]`, typed maps as `{}`, `oneOf`/`anyOf` variants as
/// optional fields) by dotted path.
fn walk_body(
    root: &Value,
    schema: &Value,
    prefix: &str,
    out: &mut BTreeMap<String, Field>,
    depth: usize,
    refs: &mut Vec<String>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    // A recursive schema is recorded down to its first repetition.
    let reference = schema
        .get("$ref")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(r) = &reference {
        if refs.contains(r) {
            return;
        }
        refs.push(r.clone());
    }
    let schema = resolve(root, schema);
    let mut members = vec![(schema, true)];
    for key in ["allOf", "oneOf", "anyOf"] {
        for member in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            members.push((resolve(root, member), key == "allOf"));
        }
    }
    for (member, binding) in members {
        let required: BTreeSet<&str> = member
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, sub) in member
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let path = format!("{prefix}{name}");
            let field = Field {
                required: binding && required.contains(name.as_str()),
                ty: type_of(root, sub),
                enum_values: enum_of(root, sub),
            };
            match out.get_mut(&path) {
                Some(existing) => existing.required |= field.required,
                None => {
                    out.insert(path.clone(), field);
                }
            }
            walk_body(root, sub, &format!("{path}."), out, depth + 1, refs);
        }
        if let Some(items) = member.get("items") {
            walk_body(root, items, &format!("{prefix}[]."), out, depth + 1, refs);
        }
        if let Some(values) = member.get("additionalProperties").filter(|v| v.is_object()) {
            walk_body(
                root,
                values,
                &format!("{prefix}{{}}."),
                out,
                depth + 1,
                refs,
            );
        }
    }
    if reference.is_some() {
        refs.pop();
    }
}

/// One difference between two contracts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Breaks a caller that worked before (listed first).
    pub breaking: bool,
    /// The tool (or `product <key>` for product-level notes).
    pub tool: String,
    /// What changed, in words.
    pub what: String,
}

/// The differences from `old` to `new`: breaking changes first, then by tool.
pub fn diff(old: &Contract, new: &Contract) -> Vec<Change> {
    let mut changes = Vec::new();
    for (key, product) in &new.products {
        if let Some(before) = old.products.get(key)
            && (before.spec != product.spec || before.spec_version != product.spec_version)
        {
            changes.push(Change {
                breaking: false,
                tool: format!("product {key}"),
                what: format!(
                    "spec {} {} -> {} {}",
                    before.spec, before.spec_version, product.spec, product.spec_version
                ),
            });
        }
    }
    let (old_tools, new_tools) = (old.tools(), new.tools());
    for (name, before) in &old_tools {
        let mut push = |breaking: bool, what: String| {
            changes.push(Change {
                breaking,
                tool: (*name).to_owned(),
                what,
            });
        };
        match new_tools.get(name) {
            None => push(true, "tool removed".to_owned()),
            Some(after) => diff_tool(before, after, &mut push),
        }
    }
    for name in new_tools.keys() {
        if !old_tools.contains_key(name) {
            changes.push(Change {
                breaking: false,
                tool: (*name).to_owned(),
                what: "tool added".to_owned(),
            });
        }
    }
    // Breaking first; product notes before tools; by tool, keeping each tool's own order.
    let tool_note = |c: &Change| !c.tool.starts_with("product ");
    changes.sort_by(|a, b| {
        b.breaking
            .cmp(&a.breaking)
            .then_with(|| tool_note(a).cmp(&tool_note(b)))
            .then_with(|| a.tool.cmp(&b.tool))
    });
    changes
}

fn diff_tool(old: &ToolContract, new: &ToolContract, push: &mut impl FnMut(bool, String)) {
    if old.method != new.method {
        push(
            true,
            format!(
                "method {} -> {} ({})",
                old.method, new.method, new.operation
            ),
        );
    }
    if old.path != new.path {
        push(false, format!("upstream path {} -> {}", old.path, new.path));
    }
    if old.operation != new.operation {
        push(
            false,
            format!("operation {} -> {}", old.operation, new.operation),
        );
    }
    diff_paging(old.paging.as_ref(), new.paging.as_ref(), push);

    let removed: Vec<&String> = old
        .args
        .keys()
        .filter(|k| !new.args.contains_key(*k))
        .collect();
    let added: Vec<&String> = new
        .args
        .keys()
        .filter(|k| !old.args.contains_key(*k))
        .collect();
    // One argument gone and one come, at the same place with the same type:
    // a rename (the old name is refused now: schemas allow no other keys).
    let renamed = match (removed.as_slice(), added.as_slice()) {
        ([gone], [came])
            if old.args[*gone].location == new.args[*came].location
                && old.args[*gone].ty == new.args[*came].ty
                && old.args[*gone].location != ArgIn::Control =>
        {
            Some((*gone, *came))
        }
        _ => None,
    };
    for name in &removed {
        match renamed {
            Some((gone, came)) if gone == *name => push(
                true,
                format!(
                    "parameter `{gone}` renamed to `{came}`{}",
                    if new.args[came].required {
                        " (required)"
                    } else {
                        ""
                    }
                ),
            ),
            _ => push(true, format!("parameter `{name}` removed")),
        }
    }
    for name in &added {
        if renamed.is_some_and(|(_, came)| came == *name) {
            continue;
        }
        let arg = &new.args[*name];
        if arg.required {
            push(true, format!("parameter `{name}` added, required"));
        } else {
            push(false, format!("parameter `{name}` added (optional)"));
        }
    }
    for (name, before) in &old.args {
        let Some(after) = new.args.get(name) else {
            continue;
        };
        let what = format!("parameter `{name}`");
        if !before.required && after.required {
            push(true, format!("{what} is now required"));
        } else if before.required && !after.required {
            push(false, format!("{what} is now optional"));
        }
        if before.ty != after.ty {
            push(true, format!("{what} type {} -> {}", before.ty, after.ty));
        }
        if before.location != after.location || before.wire != after.wire {
            push(
                false,
                format!(
                    "{what} now sent as {} `{}`",
                    location_word(after.location),
                    after.wire.as_deref().unwrap_or(name)
                ),
            );
        }
        diff_enum(
            &what,
            before.enum_values.as_deref(),
            after.enum_values.as_deref(),
            push,
        );
    }

    match (&old.body, &new.body) {
        (None, None) => {}
        (Some(_), None) => push(true, "request body removed".to_owned()),
        (None, Some(body)) => push(
            body.required,
            format!(
                "request body added{}",
                if body.required { ", required" } else { "" }
            ),
        ),
        (Some(before), Some(after)) => diff_body(before, after, push),
    }
}

fn location_word(location: ArgIn) -> &'static str {
    match location {
        ArgIn::Path => "path parameter",
        ArgIn::Query => "query parameter",
        ArgIn::Control => "server argument",
    }
}

fn describe_paging(paging: &Paging) -> String {
    match &paging.limit {
        Some(limit) => format!("{} ({}, {limit})", paging.style, paging.cursor),
        None => format!("{} ({})", paging.style, paging.cursor),
    }
}

fn diff_paging(old: Option<&Paging>, new: Option<&Paging>, push: &mut impl FnMut(bool, String)) {
    match (old, new) {
        (None, None) => {}
        (Some(before), None) => push(
            true,
            format!(
                "paging {} -> none: `cursor`/`limit` are gone (an upstream paging parameter was \
                 renamed or removed)",
                describe_paging(before)
            ),
        ),
        (None, Some(after)) => push(
            false,
            format!(
                "paging none -> {}: `cursor`/`limit` added",
                describe_paging(after)
            ),
        ),
        (Some(before), Some(after)) if before != after => push(
            before.style != after.style || (before.limit.is_some() && after.limit.is_none()),
            format!(
                "paging {} -> {}",
                describe_paging(before),
                describe_paging(after)
            ),
        ),
        _ => {}
    }
}

fn diff_enum(
    what: &str,
    old: Option<&[Value]>,
    new: Option<&[Value]>,
    push: &mut impl FnMut(bool, String),
) {
    match (old, new) {
        (None, None) => {}
        (Some(_), None) => push(
            false,
            format!("{what} accepts any value now (enum dropped)"),
        ),
        (None, Some(values)) => push(
            true,
            format!("{what} restricted to {}", join_values(values)),
        ),
        (Some(before), Some(after)) => {
            let gone: Vec<Value> = before
                .iter()
                .filter(|v| !after.contains(v))
                .cloned()
                .collect();
            let came: Vec<Value> = after
                .iter()
                .filter(|v| !before.contains(v))
                .cloned()
                .collect();
            if !gone.is_empty() {
                push(
                    true,
                    format!("{what} enum value(s) gone: {}", join_values(&gone)),
                );
            }
            if !came.is_empty() {
                push(
                    false,
                    format!("{what} enum value(s) added: {}", join_values(&came)),
                );
            }
        }
    }
}

fn join_values(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn diff_body(old: &Body, new: &Body, push: &mut impl FnMut(bool, String)) {
    if !old.required && new.required {
        push(true, "request body is now required".to_owned());
    }
    if old.ty != new.ty {
        push(true, format!("request body type {} -> {}", old.ty, new.ty));
    }
    // A field under a removed field is not listed again.
    let mut gone: Vec<&str> = Vec::new();
    for (path, before) in &old.fields {
        let what = format!("body field `{path}`");
        let Some(after) = new.fields.get(path) else {
            if !gone.iter().any(|g| is_under(path, g)) {
                push(true, format!("{what} removed"));
                gone.push(path);
            }
            continue;
        };
        if !before.required && after.required {
            push(true, format!("{what} is now required"));
        } else if before.required && !after.required {
            push(false, format!("{what} is now optional"));
        }
        if before.ty != after.ty {
            push(true, format!("{what} type {} -> {}", before.ty, after.ty));
        }
        diff_enum(
            &what,
            before.enum_values.as_deref(),
            after.enum_values.as_deref(),
            push,
        );
    }
    let mut came: Vec<&str> = Vec::new();
    for (path, field) in &new.fields {
        if old.fields.contains_key(path) || came.iter().any(|c| is_under(path, c)) {
            continue;
        }
        came.push(path);
        if field.required {
            push(true, format!("body field `{path}` added, required"));
        } else {
            push(false, format!("body field `{path}` added (optional)"));
        }
    }
}

/// `a.b.c` is under `a.b`; `a.b[].c` and `a.b{}.c` too.
fn is_under(path: &str, parent: &str) -> bool {
    path.strip_prefix(parent).is_some_and(|rest| {
        rest.starts_with('.') || rest.starts_with("[]") || rest.starts_with("{}")
    })
}

/// True when any change is breaking.
pub fn has_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.breaking)
}

/// The changes for a terminal: breaking first, one line each.
pub fn render_text(changes: &[Change]) -> String {
    let mut out = String::new();
    let breaking = changes.iter().filter(|c| c.breaking).count();
    for (title, want) in [("BREAKING", true), ("compatible", false)] {
        let group: Vec<&Change> = changes.iter().filter(|c| c.breaking == want).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title} ({}):", group.len());
        for change in group {
            let _ = writeln!(out, "  {}: {}", change.tool, change.what);
        }
    }
    if changes.is_empty() {
        out.push_str("no contract changes\n");
    } else if breaking == 0 {
        out.push_str("no breaking changes\n");
    }
    out
}

/// The changes for a reviewer (`generated/CONTRACT-CHANGES.md`).
pub fn render_markdown(changes: &[Change], old: &Contract, new: &Contract) -> String {
    let mut out = String::from(
        "# Contract changes\n\n\
         Written by `cargo xtask regen` when a tool's contract changed: the difference between \
         the previously committed `generated/contract.json` and the regenerated one. Breaking \
         changes (a call that worked before can fail now) are listed first; regen refuses them \
         unless run with `--accept-breaking`.\n\n",
    );
    let mut specs = Vec::new();
    for (key, product) in &new.products {
        let before = old
            .products
            .get(key)
            .map_or("(new product)".to_owned(), |p| {
                format!("{} {}", p.spec, p.spec_version)
            });
        let after = format!("{} {}", product.spec, product.spec_version);
        if before != after {
            specs.push(format!("| {key} | {before} | {after} |"));
        }
    }
    if specs.is_empty() {
        out.push_str("No spec changed: the changes come from tools.yaml or the generator.\n\n");
    } else {
        out.push_str("| product | spec before | spec after |\n|---|---|---|\n");
        for line in specs {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    for (title, want) in [("Breaking", true), ("Compatible", false)] {
        let group: Vec<&Change> = changes.iter().filter(|c| c.breaking == want).collect();
        let _ = writeln!(out, "## {title} ({})\n", group.len());
        if group.is_empty() {
            out.push_str("None.\n\n");
            continue;
        }
        for change in group {
            let _ = writeln!(out, "- `{}`: {}", change.tool, change.what);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn nested_paths_are_recognized() {
        assert!(is_under("a.b.c", "a.b"));
        assert!(is_under("a.b[].c", "a.b"));
        assert!(is_under("a.b{}.c", "a.b"));
        assert!(!is_under("a.bc", "a.b"));
    }

    #[test]
    fn snapshot_round_trips() {
        let mut tools = BTreeMap::new();
        let mut args = BTreeMap::new();
        args.insert(
            "mode".to_owned(),
            Arg {
                location: ArgIn::Query,
                wire: None,
                required: true,
                ty: "string".into(),
                enum_values: Some(vec![Value::from("a")]),
            },
        );
        tools.insert(
            "p.t".to_owned(),
            ToolContract {
                operation: "p#t".into(),
                method: "GET".into(),
                path: "/t".into(),
                args,
                paging: None,
                body: None,
            },
        );
        let mut contract = Contract {
            format: FORMAT,
            ..Contract::default()
        };
        contract.products.insert(
            "p".into(),
            ProductContract {
                spec: "p.json".into(),
                spec_version: "1".into(),
                tools,
            },
        );
        let back = Contract::from_json(&contract.to_json()).unwrap();
        assert_eq!(back, contract);
        assert!(diff(&contract, &back).is_empty());
    }
}
