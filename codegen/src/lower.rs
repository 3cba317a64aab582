//! Manifest + specs → IR. All validation of tools.yaml against the specs and
//! every naming decision happens here; each problem is a diagnostic.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::diagnostics::{Diagnostic, Location};
use crate::ir::{
    BodyDef, Catalog, GroupDef, PageStyle, PaginationDef, ParamDef, ParamKind, PathPart,
    ProductDef, ToolDef,
};
use crate::manifest::{self, Access, Manifest, Tool};
use crate::naming;
use crate::safety;
use crate::schema::{self, RustType, TypeSpace};
use crate::spec::{Lookup, Method, Operation, ParamIn, Spec};

/// Longest tool name accepted (Cursor rejects more than 60).
pub const MAX_TOOL_NAME: usize = 60;

/// Lowers a parsed manifest. Tools with errors are left out of the catalog;
/// the diagnostics say why.
/// A product whose spec is not in `specs` (not given, reported by
/// [`crate::products::check`], or given but did not parse, reported with the
/// parse error) is skipped with its tools, without further noise.
pub fn lower(
    file: &str,
    manifest: &Manifest,
    specs: &BTreeMap<String, Spec>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Catalog {
    let groups: Vec<GroupDef> = manifest
        .groups
        .iter()
        .map(|(name, g)| GroupDef {
            name: name.clone(),
            access: g.access,
            product: g.product.clone(),
            description: g.description.clone(),
        })
        .collect();

    let mut products: BTreeMap<String, ProductDef> = BTreeMap::new();
    let mut spaces: BTreeMap<String, TypeSpace<'_>> = BTreeMap::new();
    let mut unavailable: BTreeSet<&str> = BTreeSet::new();
    for (key, product) in &manifest.products {
        let Some(spec) = specs.get(&product.spec.value) else {
            unavailable.insert(key.as_str());
            continue;
        };
        products.insert(
            key.clone(),
            ProductDef {
                key: key.clone(),
                module: naming::module_name(key),
                title: product.title.clone(),
                spec_file: product.spec.value.clone(),
                spec_title: spec.title.clone(),
                spec_version: spec.version.clone(),
                base_url: product.base_url.value.clone(),
                auth: product.auth.value,
                tools: Vec::new(),
                types: BTreeMap::new(),
            },
        );
        spaces.insert(key.clone(), TypeSpace::new(spec));
    }

    let mut seen_names: BTreeMap<String, usize> = BTreeMap::new();
    let mut struct_names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for tool in &manifest.tools {
        let name = tool.name.value.as_str();
        let name_loc = manifest::location_of(file, &tool.name, Some(name));
        let mut ok = check_name(name, &name_loc, diagnostics);
        if let Some(line) = seen_names.get(name) {
            diagnostics.push(Diagnostic::error(
                name_loc.clone(),
                format!("duplicate tool name {name} (first declared on line {line})"),
            ));
            ok = false;
        } else {
            seen_names.insert(name.to_owned(), tool.name.referenced.line() as usize);
        }
        let group_loc = manifest::location_of(file, &tool.group, Some(name));
        let Some(group) = manifest.groups.get(&tool.group.value) else {
            let valid: Vec<&str> = manifest.groups.keys().map(String::as_str).collect();
            diagnostics.push(Diagnostic::error(
                group_loc,
                format!(
                    "unknown group {:?}; declared groups: {}",
                    tool.group.value,
                    valid.join(", ")
                ),
            ));
            continue;
        };
        let op_loc = manifest::location_of(file, &tool.operation, Some(name));
        let Some((product_key, reference)) = tool.operation.value.split_once('#') else {
            diagnostics.push(Diagnostic::error(
                op_loc,
                "operation must be `product#operationId` or `product#METHOD /path`",
            ));
            continue;
        };
        if unavailable.contains(product_key) {
            // Its spec is missing or broken; that was reported once already.
            continue;
        }
        let (Some(product), Some(space)) =
            (products.get_mut(product_key), spaces.get_mut(product_key))
        else {
            let valid: Vec<&str> = manifest.products.keys().map(String::as_str).collect();
            diagnostics.push(Diagnostic::error(
                op_loc,
                format!(
                    "unknown product {product_key:?}; declared products: {}",
                    valid.join(", ")
                ),
            ));
            continue;
        };
        let Some(spec) = specs.get(&product.spec_file) else {
            continue;
        };
        let op = match spec.lookup(reference) {
            Lookup::Found(op) => op,
            Lookup::Ambiguous(ops) => {
                let forms: Vec<String> = ops
                    .iter()
                    .map(|o| format!("{product_key}#{} {}", o.method.as_str(), o.path))
                    .collect();
                diagnostics.push(Diagnostic::error(
                    op_loc,
                    format!(
                        "operationId {reference} is used by {} operations in {}; name one as {}",
                        ops.len(),
                        spec.file,
                        forms.join(" or ")
                    ),
                ));
                continue;
            }
            Lookup::Missing(nearest) => {
                let hint = if nearest.is_empty() {
                    String::new()
                } else {
                    format!("; nearest: {}", nearest.join(", "))
                };
                diagnostics.push(Diagnostic::error(
                    op_loc,
                    format!("unknown operation {reference} in {}{hint}", spec.file),
                ));
                continue;
            }
        };
        ok &= check_access(tool, group.access, op, &group_loc, diagnostics);
        if op.deprecated {
            diagnostics.push(Diagnostic::warning(
                op_loc.clone(),
                format!("{reference} is deprecated in {}", spec.file),
            ));
        }
        let taken = struct_names.entry(product_key.to_owned()).or_default();
        let args_struct = naming::uniquify(taken, naming::args_struct_name(name));
        match lower_tool(
            file,
            tool,
            product_key,
            op,
            spec,
            space,
            args_struct,
            group.access,
        ) {
            Ok(def) if ok => product.tools.push(def),
            Ok(_) => {}
            Err(mut errs) => diagnostics.append(&mut errs),
        }
    }

    diagnostics.extend(safety::check_references(
        products.values().flat_map(|p| p.tools.iter()),
    ));
    let reached = safety::referenced(products.values().flat_map(|p| p.tools.iter()));
    for tool in manifest.tools.iter().filter(|t| t.hidden) {
        let name = tool.name.value.as_str();
        if !reached.contains(name) {
            diagnostics.push(Diagnostic::error(
                manifest::location_of(file, &tool.name, Some(name)),
                format!(
                    "{name} is hidden but no snapshot or revert names it, so nothing could ever call it; remove hidden: true, or name it in another tool's revert"
                ),
            ));
        }
    }

    for (key, space) in spaces {
        diagnostics.extend(space.diagnostics.iter().cloned());
        if let Some(product) = products.get_mut(&key) {
            product.types = space.types;
        }
    }
    Catalog {
        products: products.into_values().collect(),
        groups,
    }
}

fn check_name(name: &str, loc: &Location, diagnostics: &mut Vec<Diagnostic>) -> bool {
    let mut ok = true;
    if name.is_empty() || name.chars().count() > MAX_TOOL_NAME {
        diagnostics.push(Diagnostic::error(
            loc.clone(),
            format!(
                "tool name {name:?} is {} characters; MCP hosts accept at most {MAX_TOOL_NAME}",
                name.chars().count()
            ),
        ));
        ok = false;
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        diagnostics.push(Diagnostic::error(
            loc.clone(),
            format!("tool name {name:?} contains {bad:?}; use only [A-Za-z0-9_.-]"),
        ));
        ok = false;
    }
    ok
}

fn check_access(
    tool: &Tool,
    access: Access,
    op: &Operation,
    loc: &Location,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    let scope = op.connect_scope.as_deref();
    let method = op.method;
    let describe = format!(
        "{} {}{}",
        method.as_str(),
        op.path,
        scope
            .map(|s| format!(" (x-atlassian-connect-scope {s})"))
            .unwrap_or_default()
    );
    // What the operation does decides, never the connect-scope label alone:
    // Atlassian labels by the permission an operation needs (`readWorkflows`
    // is INACCESSIBLE, `readWorkflowSchemes` ADMIN, `deleteWebhookById` READ).
    let problem = match access {
        _ if tool.read_only && !matches!(method, Method::Get | Method::Post) => Some(format!(
            "read_only: true cannot mark a {} ({describe}); it is for a POST that only reads",
            method.as_str()
        )),
        Access::Read if method == Method::Delete => Some(format!(
            "a DELETE ({describe}) cannot be in read group {}",
            tool.group.value
        )),
        Access::Read if method != Method::Get && !tool.read_only => Some(format!(
            "{describe} writes, but group {} is read-only; move it to a write group, or set read_only: true if it only reads",
            tool.group.value
        )),
        Access::Write | Access::Delete if method == Method::Get => {
            Some(format!("{describe} only reads; put it in a read group"))
        }
        Access::Write | Access::Delete if tool.read_only => Some(format!(
            "{describe} is marked read_only: true, so it only reads; put it in a read group"
        )),
        Access::Delete if method != Method::Delete => Some(format!(
            "group {} holds deletes only; {describe} is not a DELETE",
            tool.group.value
        )),
        Access::Utility => Some(format!(
            "group {} is for gojira's own tools; Atlassian operations belong in a product group",
            tool.group.value
        )),
        _ => None,
    };
    match problem {
        Some(message) => {
            diagnostics.push(Diagnostic::error(loc.clone(), message));
            false
        }
        None => true,
    }
}

#[allow(clippy::too_many_arguments)]
fn lower_tool(
    file: &str,
    tool: &Tool,
    product_key: &str,
    op: &Operation,
    spec: &Spec,
    space: &mut TypeSpace<'_>,
    args_struct: String,
    access: Access,
) -> Result<ToolDef, Vec<Diagnostic>> {
    let name = tool.name.value.clone();
    let loc = manifest::location_of(file, &tool.name, Some(&name));
    let spec_loc = |pointer: &str| Location::Spec {
        file: spec.file.clone(),
        pointer: pointer.to_owned(),
    };
    let mut errors = Vec::new();

    // Path template variables, and the path parameters that fill them.
    let template_vars = template_variables(&op.path);
    let mut path_params: Vec<&crate::spec::Param> = op
        .params
        .iter()
        .filter(|p| p.location == ParamIn::Path)
        .collect();
    let mut renamed_path: BTreeMap<String, String> = BTreeMap::new();
    let unmatched_params: Vec<String> = path_params
        .iter()
        .filter(|p| !template_vars.contains(&p.name))
        .map(|p| p.name.clone())
        .collect();
    let unmatched_vars: Vec<String> = template_vars
        .iter()
        .filter(|v| !path_params.iter().any(|p| &&p.name == v))
        .cloned()
        .collect();
    if let ([param], [var]) = (unmatched_params.as_slice(), unmatched_vars.as_slice()) {
        // org-admin names a parameter `accountId` on a path templated `{userId}`.
        space.diagnostics.push(Diagnostic::warning(
            spec_loc(&op.pointer),
            format!("path parameter {param} does not match template variable {{{var}}}; using the template's name"),
        ));
        renamed_path.insert(param.clone(), var.clone());
    } else if !unmatched_vars.is_empty() || !unmatched_params.is_empty() {
        errors.push(Diagnostic::error(
            spec_loc(&op.pointer),
            format!(
                "path template {} and its path parameters disagree (template-only: {:?}, parameter-only: {:?})",
                op.path, unmatched_vars, unmatched_params
            ),
        ));
        return Err(errors);
    }
    path_params.sort_by_key(|p| {
        let wire = renamed_path.get(&p.name).unwrap_or(&p.name);
        template_vars.iter().position(|v| v == wire)
    });

    // Check overrides name real parameters.
    let body_props: BTreeSet<String> = body_property_names(spec, op);
    for key in tool.params.keys() {
        let known = if let Some(prop) = key.strip_prefix("body.") {
            // Nested keys (`body.a.b`) are checked where they are applied.
            body_props.contains(prop.split('.').next().unwrap_or(prop))
        } else {
            op.params
                .iter()
                .any(|p| &p.name == key && matches!(p.location, ParamIn::Path | ParamIn::Query))
        };
        if !known {
            let mut names: Vec<String> = op
                .params
                .iter()
                .filter(|p| matches!(p.location, ParamIn::Path | ParamIn::Query))
                .map(|p| p.name.clone())
                .collect();
            names.extend(body_props.iter().map(|p| format!("body.{p}")));
            errors.push(Diagnostic::error(
                loc.clone(),
                format!(
                    "params.{key} names no parameter of {}; parameters: {}",
                    tool.operation.value,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
        }
    }

    let mut params = Vec::new();
    let mut fixed_query = Vec::new();
    let mut props = Map::new();
    let mut required = Vec::new();
    let mut idents = BTreeSet::new();
    let mut arg_names = BTreeSet::new();
    let hint_base = naming::type_name(args_struct.trim_end_matches("Args"));
    let ordered: Vec<&crate::spec::Param> = path_params
        .iter()
        .copied()
        .chain(op.params.iter().filter(|p| p.location == ParamIn::Query))
        .collect();
    for param in ordered {
        let over = tool.params.get(&param.name);
        let wire = renamed_path
            .get(&param.name)
            .cloned()
            .unwrap_or_else(|| param.name.clone());
        let kind = match param.location {
            ParamIn::Path => ParamKind::Path,
            _ => ParamKind::Query {
                explode: param.explode,
            },
        };
        let default = over.and_then(|o| o.default.clone());
        if let Some(default) = &default
            && !is_scalar(default)
        {
            errors.push(Diagnostic::error(
                loc.clone(),
                format!(
                    "params.{}.default must be a string, number or boolean",
                    param.name
                ),
            ));
        }
        if over.is_some_and(|o| o.hide) {
            match (&default, param.required) {
                (Some(value), _) => {
                    if kind == ParamKind::Path {
                        errors.push(Diagnostic::error(
                            loc.clone(),
                            format!("params.{}: path parameters cannot be hidden", param.name),
                        ));
                    }
                    fixed_query.push((wire.clone(), value.clone()));
                }
                (None, true) => errors.push(Diagnostic::error(
                    loc.clone(),
                    format!(
                        "params.{}: a required parameter can be hidden only with a default",
                        param.name
                    ),
                )),
                (None, false) => {}
            }
            continue;
        }
        let hint = format!("{hint_base}{}", naming::type_name(&param.name));
        let (ty, mut json) = space.lower(&param.schema, &param.pointer, &hint);
        let arg_name = over
            .and_then(|o| o.rename.clone())
            .unwrap_or_else(|| wire.clone());
        let body_taken =
            arg_name == "body" && op.body.as_ref().is_some_and(|b| b.json_schema.is_some());
        if !arg_names.insert(arg_name.clone()) || body_taken {
            errors.push(Diagnostic::error(
                loc.clone(),
                format!("argument name {arg_name:?} is used twice; rename one in params"),
            ));
        }
        let doc = over
            .and_then(|o| o.description.clone())
            .or_else(|| param.description.clone());
        if let Some(doc) = &doc {
            let short = if over.and_then(|o| o.description.as_ref()).is_some() {
                doc.clone()
            } else {
                naming::short_description(doc, schema::DESCRIPTION_MAX)
            };
            schema::set_description(&mut json, &short);
        }
        if let (Some(default), Some(map)) = (&default, json.as_object_mut()) {
            map.insert("default".into(), default.clone());
        }
        let is_required = param.required && default.is_none();
        if is_required {
            required.push(Value::String(arg_name.clone()));
            // A required list sent empty is no parameter at all (Atlassian
            // answers 400 "missing"): refuse it before anything is sent.
            if let Some(map) = json.as_object_mut()
                && map.get("type").and_then(Value::as_str) == Some("array")
                && !map.contains_key("minItems")
            {
                map.insert("minItems".into(), json!(1));
            }
        }
        props.insert(arg_name.clone(), json);
        params.push(ParamDef {
            api_name: wire,
            ident: naming::uniquify_field(&mut idents, naming::field_ident(&arg_name)),
            arg_name,
            kind,
            ty,
            required: is_required,
            default,
            doc,
        });
    }

    // One pagination shape for the model: `cursor` + `limit`, whatever the
    // upstream calls them. These and `raw` are explained once, in the server's
    // instructions, rather than in every schema (each byte here is sent on
    // every tools/list).
    // A GET reads; a POST reads when tools.yaml says so (`read_only: true`,
    // refused on other methods by `check_access`). Everything else writes.
    let read_only = op.method == Method::Get || (tool.read_only && op.method == Method::Post);
    let pagination = if read_only {
        detect_pagination(&params, &props)
    } else {
        None
    };
    if let Some(page) = &pagination {
        // Every paging parameter goes, including a second mechanism beside
        // the one used (Confluence v1 offers both `start` and `cursor`).
        let internal: Vec<&str> = params
            .iter()
            .filter(|p| {
                matches!(p.kind, ParamKind::Query { .. })
                    && PAGING_PARAMS.contains(&p.api_name.as_str())
            })
            .map(|p| p.arg_name.as_str())
            .chain(std::iter::once(page.cursor_arg.as_str()))
            .chain(page.limit_arg.as_deref())
            .collect();
        for name in ["cursor", "limit"] {
            if !internal.contains(&name) && props.contains_key(name) {
                errors.push(Diagnostic::error(
                    loc.clone(),
                    format!("argument {name:?} clashes with the pagination arguments; rename it in params"),
                ));
            }
        }
        for name in &internal {
            props.remove(*name);
        }
        required.retain(|r| !internal.iter().any(|n| r.as_str() == Some(n)));
        props.insert("cursor".into(), json!({"type": "string"}));
        props.insert(
            "limit".into(),
            json!({"type": "integer", "minimum": 1, "maximum": page.max_limit}),
        );
    }
    let trims = read_only
        && op
            .success
            .as_ref()
            .and_then(|r| r.json_schema.as_ref())
            .is_some_and(|s| has_noise(&spec.raw, s, 0));
    if trims {
        if props.contains_key("raw") {
            errors.push(Diagnostic::error(
                loc.clone(),
                "argument \"raw\" clashes with the untrimmed-response flag; rename it in params",
            ));
        }
        props.insert("raw".into(), json!({"type": "boolean"}));
    }

    // Body.
    let mut body = None;
    let mut body_defs = BTreeMap::new();
    if let Some(spec_body) = &op.body {
        match &spec_body.json_schema {
            Some(schema_value) => {
                let hint = format!("{hint_base}Body");
                let lowered = space.lower_body(schema_value, &spec_body.pointer, &hint);
                let (ty, mut json, mut defs) = (lowered.ty, lowered.json, lowered.defs);
                let hidden = apply_body_overrides(tool, &mut json, &mut defs, &loc, &mut errors);
                check_losses(
                    tool,
                    &lowered.losses,
                    &hidden,
                    &spec.file,
                    &loc,
                    &mut errors,
                );
                if !defs.is_empty() {
                    body_defs = defs;
                }
                if spec_body.required {
                    required.push(json!("body"));
                }
                props.insert("body".into(), json);
                idents.insert("body".into());
                body = Some(BodyDef {
                    ty,
                    required: spec_body.required,
                });
            }
            None if spec_body.required => errors.push(Diagnostic::error(
                spec_loc(&spec_body.pointer),
                format!(
                    "request body content type {} is not supported (only application/json)",
                    spec_body.content_types.join(", ")
                ),
            )),
            None => space.diagnostics.push(Diagnostic::warning(
                spec_loc(&spec_body.pointer),
                format!(
                    "optional request body of type {} is not offered to the model",
                    spec_body.content_types.join(", ")
                ),
            )),
        }
    }

    if tool.loose_body.is_some() && body.is_none() {
        errors.push(Diagnostic::error(
            loc.clone(),
            format!(
                "loose_body is declared but {} has no JSON request body; remove loose_body",
                tool.operation.value
            ),
        ));
    }

    let destructive = !read_only && (op.method == Method::Delete || tool.destructive);
    // The operation's own nature decides (a write put in a read group is
    // reported by the group check, not again here).
    let safety = if access == Access::Read && !read_only {
        None
    } else {
        safety::lower(file, tool, read_only, destructive, &mut errors)
    };
    if safety
        .as_ref()
        .is_some_and(|s| s.consent == manifest::Consent::Commit)
    {
        // Explained once in the server's instructions, not per schema.
        for name in ["commit", "planDigest"] {
            if props.contains_key(name) {
                errors.push(Diagnostic::error(
                    loc.clone(),
                    format!(
                        "argument {name:?} clashes with the consent arguments; rename it in params"
                    ),
                ));
            }
        }
        props.insert("commit".into(), json!({"type": "boolean"}));
        props.insert("planDigest".into(), json!({"type": "string"}));
    }
    let mut input_schema =
        json!({"type": "object", "properties": props, "additionalProperties": false});
    // A type only a hidden body field used is not sent.
    let body_defs = reachable_defs(&input_schema, body_defs);
    if !body_defs.is_empty()
        && let Some(map) = input_schema.as_object_mut()
    {
        // Recursive body types: `$ref: #/$defs/<Type>` points here.
        let defs: Map<String, Value> = body_defs.into_iter().collect();
        map.insert("$defs".into(), Value::Object(defs));
    }
    if !required.is_empty()
        && let Some(map) = input_schema.as_object_mut()
    {
        map.insert("required".into(), Value::Array(required));
    }

    let output_schema = match &op.success {
        Some(resp) if resp.example_only => {
            space.diagnostics.push(Diagnostic::warning(
                spec_loc(&op.pointer),
                "JSON response has an example but no schema; no outputSchema",
            ));
            None
        }
        Some(resp) => resp
            .json_schema
            .as_ref()
            .and_then(|s| space.output_schema(s)),
        None => None,
    };
    let output_schema = output_schema.map(|mut schema| {
        if pagination.is_some()
            && let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut)
        {
            props.insert("nextCursor".into(), json!({"type": "string"}));
        }
        schema
    });

    let path = build_path(&op.path, &params);
    let idempotent = matches!(op.method, Method::Get | Method::Put | Method::Delete);

    if let Some(ttl) = tool.cache {
        if !read_only {
            errors.push(Diagnostic::error(
                loc.clone(),
                "cache is allowed on read-only tools only (a cached write would not happen)",
            ));
        } else if ttl == 0 || ttl > 3600 {
            errors.push(Diagnostic::error(
                loc.clone(),
                format!("cache: {ttl} must be between 1 and 3600 seconds"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The id labels the operation only when it names exactly one.
    let unique_id = op.operation_id.as_ref().filter(|id| {
        spec.operations
            .iter()
            .filter(|o| o.operation_id.as_ref() == Some(*id))
            .count()
            == 1
    });
    let operation = match unique_id {
        Some(id) => format!("{product_key}#{id}"),
        None => format!("{product_key}#{} {}", op.method.as_str(), op.path),
    };
    Ok(ToolDef {
        name,
        title: tool.title.trim().to_owned(),
        description: tool.description.trim().to_owned(),
        group: tool.group.value.clone(),
        operation,
        method: op.method,
        path_template: op.path.clone(),
        path,
        args_struct,
        params,
        fixed_query,
        body,
        input_schema,
        output_schema,
        read_only,
        destructive,
        hidden: tool.hidden,
        idempotent,
        safety,
        experimental: op.experimental,
        cache_ttl_s: tool.cache,
        pagination,
        trims,
    })
}

/// Upstream paging parameters, all replaced by `cursor` and `limit`.
const PAGING_PARAMS: [&str; 6] = [
    "startAt",
    "start",
    "maxResults",
    "limit",
    "nextPageToken",
    "cursor",
];

/// Largest page offered when the spec sets no `maximum`.
const MAX_PAGE_SIZE: u32 = 100;

/// Recognizes Atlassian's paging parameters: `startAt`/`start` with
/// `maxResults`/`limit` (offset), or `nextPageToken`/`cursor` (token).
fn detect_pagination(params: &[ParamDef], props: &Map<String, Value>) -> Option<PaginationDef> {
    let query = |name: &str| {
        params
            .iter()
            .find(|p| matches!(p.kind, ParamKind::Query { .. }) && p.api_name == name)
    };
    let limit = query("maxResults").or_else(|| query("limit"));
    let token = query("nextPageToken").or_else(|| query("cursor"));
    let offset = query("startAt").or_else(|| query("start"));
    // A token, where offered, is stable under concurrent changes; offsets are not.
    let (style, cursor) = match (token, offset, limit) {
        (Some(token), _, _) => (PageStyle::Token, token),
        (None, Some(offset), Some(_)) => (PageStyle::Offset, offset),
        _ => return None,
    };
    let max_limit = limit
        .and_then(|l| props.get(&l.arg_name))
        .and_then(|schema| schema.get("maximum"))
        .and_then(Value::as_u64)
        .map_or(MAX_PAGE_SIZE, |m| {
            m.clamp(1, u64::from(MAX_PAGE_SIZE)) as u32
        });
    Some(PaginationDef {
        style,
        cursor_arg: cursor.arg_name.clone(),
        limit_arg: limit.map(|l| l.arg_name.clone()),
        max_limit,
    })
}

/// Keys the runtime trims from answers (see the runtime's `shape` module).
const NOISE_KEYS: [&str; 4] = ["self", "avatarUrls", "expand", "_expandable"];

/// Whether a response schema can carry keys the runtime trims (three levels deep).
fn has_noise(raw: &Value, schema: &Value, depth: usize) -> bool {
    if depth > 3 {
        return false;
    }
    let (schema, _) = crate::spec::deref(raw, schema);
    let props = schema.get("properties").and_then(Value::as_object);
    if props.is_some_and(|p| NOISE_KEYS.iter().any(|k| p.contains_key(*k))) {
        return true;
    }
    let children = props
        .into_iter()
        .flat_map(|p| p.values())
        .chain(schema.get("items"))
        .chain(
            ["allOf", "oneOf", "anyOf"]
                .iter()
                .filter_map(|k| schema.get(*k).and_then(Value::as_array))
                .flatten(),
        );
    for child in children {
        if has_noise(raw, child, depth + 1) {
            return true;
        }
    }
    false
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// Applies `params.body.<path>` overrides to the body's JSON Schema. A path
/// goes through properties by name and through array items, map values and
/// combinator branches implicitly (`body.permissions.holder.type`). Returns
/// the hidden paths. Deep fields written once under `$defs` are reached
/// through their `$ref` (the change applies wherever this tool's schema
/// uses that definition).
fn apply_body_overrides(
    tool: &Tool,
    json: &mut Value,
    defs: &mut BTreeMap<String, Value>,
    loc: &Location,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Vec<String>> {
    let mut hidden = Vec::new();
    for (key, over) in &tool.params {
        let Some(prop) = key.strip_prefix("body.") else {
            continue;
        };
        if over.rename.is_some() || over.default.is_some() {
            errors.push(Diagnostic::error(
                loc.clone(),
                format!("params.{key}: body properties support only hide and description"),
            ));
            continue;
        }
        let segments: Vec<&str> = prop.split('.').collect();
        let mut required_hit = false;
        let hits = apply_at(
            json,
            defs,
            &mut Vec::new(),
            &segments,
            &mut |parent, name| {
                let is_required = parent
                    .get("required")
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|v| v == name));
                if over.hide {
                    if is_required {
                        required_hit = true;
                    } else if let Some(props) =
                        parent.get_mut("properties").and_then(Value::as_object_mut)
                    {
                        props.remove(name);
                    }
                }
                if let Some(description) = &over.description
                    && let Some(target) = parent.get_mut("properties").and_then(|p| p.get_mut(name))
                {
                    schema::set_description(target, description);
                }
            },
        );
        if hits == 0 && segments.len() > 1 {
            // (A single unknown name was reported with the parameter list.)
            errors.push(Diagnostic::error(
                loc.clone(),
                format!(
                    "params.{key} names no field of the request body of {}",
                    tool.operation.value
                ),
            ));
        } else if hits == 0 {
        } else if required_hit {
            errors.push(Diagnostic::error(
                loc.clone(),
                format!("params.{key}: a required body property cannot be hidden"),
            ));
        } else if over.hide {
            hidden.push(segments.iter().map(|s| (*s).to_owned()).collect());
        }
    }
    hidden
}

/// Calls `f(parent object schema, property name)` wherever `segments` leads;
/// returns how many places it reached.
fn apply_at(
    node: &mut Value,
    defs: &mut BTreeMap<String, Value>,
    visiting: &mut Vec<String>,
    segments: &[&str],
    f: &mut dyn FnMut(&mut Map<String, Value>, &str),
) -> usize {
    let Some((first, rest)) = segments.split_first() else {
        return 0;
    };
    let Some(map) = node.as_object_mut() else {
        return 0;
    };
    if let Some(name) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .map(str::to_owned)
    {
        // Follow the definition once per path (recursive types loop back).
        if visiting.contains(&name) {
            return 0;
        }
        let Some(mut def) = defs.remove(&name) else {
            return 0;
        };
        visiting.push(name.clone());
        let hits = apply_at(&mut def, defs, visiting, segments, f);
        visiting.pop();
        defs.insert(name, def);
        return hits;
    }
    let mut hits = 0;
    let has_prop = map
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key(*first));
    if has_prop {
        if rest.is_empty() {
            f(map, first);
            hits += 1;
        } else if let Some(child) = map.get_mut("properties").and_then(|p| p.get_mut(*first)) {
            hits += apply_at(child, defs, visiting, rest, f);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get_mut(key) {
            hits += apply_at(child, defs, visiting, segments, f);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(key) {
            for branch in branches {
                hits += apply_at(branch, defs, visiting, segments, f);
            }
        }
    }
    hits
}

/// A body shape that could not be typed fails the tool, naming where it is
/// and what would fix it, unless the tool declares `loose_body`.
fn check_losses(
    tool: &Tool,
    losses: &[schema::Loss],
    hidden: &[Vec<String>],
    spec_file: &str,
    loc: &Location,
    errors: &mut Vec<Diagnostic>,
) {
    let remaining: Vec<&schema::Loss> = losses
        .iter()
        .filter(|l| !hidden.iter().any(|h| l.path.starts_with(h)))
        .collect();
    match (&tool.loose_body, remaining.is_empty()) {
        (Some(_), true) => errors.push(Diagnostic::error(
            loc.clone(),
            format!(
                "loose_body is declared but the request body of {} is fully typed; remove loose_body",
                tool.operation.value
            ),
        )),
        (Some(reason), false) if reason.trim().is_empty() => errors.push(Diagnostic::error(
            loc.clone(),
            "loose_body needs a reason (why a free-form body is acceptable)",
        )),
        (None, false) => {
            for loss in remaining {
                let field = if loss.path.is_empty() {
                    "body".to_owned()
                } else {
                    format!("body.{}", loss.path.join("."))
                };
                let fix = if loss.path.is_empty() {
                    "declare `loose_body: \"<reason>\"` on the tool".to_owned()
                } else {
                    format!(
                        "hide the field with `params: {{{field}: {{hide: true}}}}` (optional fields only) or declare `loose_body: \"<reason>\"` on the tool"
                    )
                };
                errors.push(Diagnostic::error(
                    loc.clone(),
                    format!(
                        "request body field {field} cannot be typed ({} at {spec_file}#{}); {fix}",
                        loss.reason, loss.pointer
                    ),
                ));
            }
        }
        _ => {}
    }
}

fn body_property_names(spec: &Spec, op: &Operation) -> BTreeSet<String> {
    let Some(schema) = op.body.as_ref().and_then(|b| b.json_schema.as_ref()) else {
        return BTreeSet::new();
    };
    let (resolved, _) = crate::spec::deref(&spec.raw, schema);
    resolved
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// `{name}` variables of a path template, in order.
pub fn template_variables(path: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        vars.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    vars
}

fn build_path(template: &str, params: &[ParamDef]) -> Vec<PathPart> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        if start > 0 {
            parts.push(PathPart::Literal(rest[..start].to_owned()));
        }
        let var = &after[..end];
        if let Some(param) = params
            .iter()
            .find(|p| p.kind == ParamKind::Path && p.api_name == var)
        {
            parts.push(PathPart::Param {
                ident: param.ident.clone(),
                api_name: param.api_name.clone(),
            });
        }
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(PathPart::Literal(rest.to_owned()));
    }
    parts
}

/// True when the type needs no `Option` to be absent (used by emitters).
pub fn is_value(ty: &RustType) -> bool {
    matches!(ty, RustType::Value)
}

/// The `$defs` entries `schema` refers to, directly or through each other.
fn reachable_defs(schema: &Value, mut defs: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    fn refs(node: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(name) = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                {
                    out.push(name.to_owned());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut kept = BTreeMap::new();
    let mut pending = Vec::new();
    refs(schema, &mut pending);
    while let Some(name) = pending.pop() {
        if let Some(def) = defs.remove(&name) {
            refs(&def, &mut pending);
            kept.insert(name, def);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_defs_a_schema_reaches_are_kept() {
        let defs: BTreeMap<String, Value> = [
            (
                "Used",
                json!({"properties": {"next": {"$ref": "#/$defs/Chained"}}}),
            ),
            ("Chained", json!({"type": "string"})),
            ("OnlyAHiddenFieldUsedIt", json!({"type": "object"})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let schema = json!({"properties": {"a": {"items": {"$ref": "#/$defs/Used"}}}});
        let kept = reachable_defs(&schema, defs);
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["Chained", "Used"]);
    }
}
