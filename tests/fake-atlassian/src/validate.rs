//! Request validation against an operation's parameters and body schema.
//!
//! Validators are compiled lazily, once per operation, with the `jsonschema`
//! crate (draft 7, format assertions off: Atlassian accepts more date/URI
//! spellings than the formats allow). Each compiled schema embeds the
//! component definitions it references (transitively) under `definitions`.
//! In request schemas, properties marked `readOnly` are not required.
//!
//! Query, path and header values arrive as strings and are coerced to the
//! parameter's type first (integer, number, boolean; arrays from repeated keys
//! or comma-separated values); a value that cannot be coerced is a violation.

use std::collections::{BTreeSet, VecDeque};

use jsonschema::Validator;
use serde_json::{Map, Value, json};

use crate::convert::definition_name;
use crate::spec::{BodySpec, Operation, Param, ParamLocation, is_json_media};

/// At most this many schema violations are reported per body.
const MAX_BODY_ERRORS: usize = 10;

/// Validators of one operation, compiled on first use.
#[derive(Debug)]
pub(crate) struct CompiledOp {
    /// One validator per declared parameter (same order); `None` = nothing to check.
    params: Vec<Option<Validator>>,
    /// The JSON body validator.
    body: Option<Validator>,
    /// Schemas that failed to compile (their checks are skipped).
    pub(crate) problems: Vec<String>,
}

impl CompiledOp {
    /// The first violation of `body` against the body schema, if any.
    pub(crate) fn body_violation(&self, body: &Value) -> Option<String> {
        let validator = self.body.as_ref()?;
        validator
            .iter_errors(body)
            .next()
            .map(|e| format!("{}: {e}", e.instance_path().as_str()))
    }
}

/// Why a request is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// 400, or 415 for a body of the wrong media type.
    pub(crate) status: u16,
    /// One message per violation, naming its location.
    pub(crate) messages: Vec<String>,
}

/// What validation looks at in a request.
#[derive(Debug)]
pub(crate) struct RequestParts<'a> {
    /// Captured path variables (decoded).
    pub(crate) path_params: &'a [(String, String)],
    /// Decoded query pairs, in order.
    pub(crate) query: &'a [(String, String)],
    /// Headers with lower-case names.
    pub(crate) headers: &'a [(String, String)],
    /// The content type, if sent.
    pub(crate) content_type: Option<&'a str>,
    /// The raw body.
    pub(crate) body: &'a [u8],
}

/// Compile the validators of `op` (its spec's definitions in `defs`).
pub(crate) fn compile(op: &Operation, defs: &Map<String, Value>) -> CompiledOp {
    let mut problems = Vec::new();
    let mut compile_one = |what: String, schema: &Value| -> Option<Validator> {
        if is_trivial(schema) {
            return None;
        }
        match build_validator(schema, defs, true) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(operation = %op.label, %what, error = %e, "schema does not compile; not validated");
                problems.push(format!("{what}: {e}"));
                None
            }
        }
    };
    let params = op
        .params
        .iter()
        .map(|p| compile_one(format!("{} {}", p.location.word(), p.name), &p.schema))
        .collect();
    let body = op
        .body
        .as_ref()
        .and_then(|b| b.json_schema.as_ref())
        .and_then(|s| compile_one("body".to_string(), s));
    CompiledOp {
        params,
        body,
        problems,
    }
}

/// Compile `schema` with the definitions it references.
/// `request` drops `readOnly` properties from `required`.
pub(crate) fn build_validator(
    schema: &Value,
    defs: &Map<String, Value>,
    request: bool,
) -> Result<Validator, String> {
    let document = assemble(schema, defs, request);
    jsonschema::draft7::options()
        .should_validate_formats(false)
        .build(&document)
        .map_err(|e| e.to_string())
}

/// A self-contained draft-7 document: `{"definitions": {...}, "allOf": [schema]}`.
pub(crate) fn assemble(schema: &Value, defs: &Map<String, Value>, request: bool) -> Value {
    let mut needed: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<&Value> = VecDeque::from([schema]);
    while let Some(value) = queue.pop_front() {
        let mut refs = Vec::new();
        collect_refs(value, &mut refs);
        for name in refs {
            if let Some(def) = defs.get(&name)
                && needed.insert(name)
            {
                queue.push_back(def);
            }
        }
    }
    let mut definitions = Map::new();
    for name in needed {
        if let Some(def) = defs.get(&name) {
            definitions.insert(name, def.clone());
        }
    }
    let mut document = json!({"definitions": definitions, "allOf": [schema.clone()]});
    if request {
        strip_read_only_required(&mut document, defs);
    }
    document
}

/// Names of definitions referenced anywhere in `value`.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref" {
                    if let Some(name) = v.as_str().and_then(definition_name) {
                        out.push(name);
                    }
                } else if key != "enum" && key != "default" && key != "const" {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Remove `readOnly` properties from every `required` list (request schemas only).
fn strip_read_only_required(value: &mut Value, defs: &Map<String, Value>) {
    match value {
        Value::Object(map) => {
            let read_only: Vec<String> = match map.get("properties").and_then(Value::as_object) {
                Some(props) if map.contains_key("required") => props
                    .iter()
                    .filter(|(_, s)| is_read_only(s, defs))
                    .map(|(name, _)| name.clone())
                    .collect(),
                _ => Vec::new(),
            };
            if !read_only.is_empty()
                && let Some(Value::Array(required)) = map.get_mut("required")
            {
                required.retain(|r| !r.as_str().is_some_and(|n| read_only.iter().any(|x| x == n)));
                if required.is_empty() {
                    map.remove("required");
                }
            }
            for (key, v) in map.iter_mut() {
                if key != "enum" && key != "default" && key != "const" {
                    strip_read_only_required(v, defs);
                }
            }
        }
        Value::Array(list) => list
            .iter_mut()
            .for_each(|v| strip_read_only_required(v, defs)),
        _ => {}
    }
}

/// Whether a property schema is `readOnly` (directly or through one `$ref`).
fn is_read_only(schema: &Value, defs: &Map<String, Value>) -> bool {
    if schema.get("readOnly") == Some(&Value::Bool(true)) {
        return true;
    }
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(definition_name)
        .and_then(|name| defs.get(&name))
        .is_some_and(|def| def.get("readOnly") == Some(&Value::Bool(true)))
}

/// Schemas that accept everything need no validator.
fn is_trivial(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(map) => map
            .keys()
            .all(|k| matches!(k.as_str(), "readOnly" | "writeOnly" | "default" | "format")),
        _ => true,
    }
}

/// Validate a request against `op`; `Err` lists every violation found.
pub(crate) fn validate(
    op: &Operation,
    compiled: &CompiledOp,
    defs: &Map<String, Value>,
    req: &RequestParts<'_>,
) -> Result<(), Rejection> {
    let mut messages = Vec::new();
    for (index, param) in op.params.iter().enumerate() {
        let validator = compiled.params.get(index).and_then(Option::as_ref);
        check_param(param, validator, defs, req, &mut messages);
    }
    // Template variables no parameter declares (mount variables such as
    // `{workspaceId}`, assets' undeclared `{importSourceId}`) must not be empty either.
    for (name, value) in req.path_params {
        let declared = op
            .params
            .iter()
            .any(|p| p.location == ParamLocation::Path && &p.name == name);
        if value.is_empty() && !declared {
            messages.push(format!("path {name}: missing"));
        }
    }
    if let Some(body) = &op.body {
        match check_body(body, compiled.body.as_ref(), req) {
            Ok(mut found) => messages.append(&mut found),
            Err(rejection) if messages.is_empty() => return Err(rejection),
            Err(mut rejection) => messages.append(&mut rejection.messages),
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            status: 400,
            messages,
        })
    }
}

/// Check one parameter: presence, coercion, schema.
fn check_param(
    param: &Param,
    validator: Option<&Validator>,
    defs: &Map<String, Value>,
    req: &RequestParts<'_>,
    messages: &mut Vec<String>,
) {
    let prefix = format!("{} {}", param.location.word(), param.name);
    let raw: Vec<&str> = match param.location {
        ParamLocation::Path => req
            .path_params
            .iter()
            .filter(|(n, v)| n == &param.name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect(),
        ParamLocation::Query => req
            .query
            .iter()
            .filter(|(n, _)| n == &param.name)
            .map(|(_, v)| v.as_str())
            .collect(),
        ParamLocation::Header => req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&param.name))
            .map(|(_, v)| v.as_str())
            .collect(),
    };
    if raw.is_empty() {
        if param.required {
            messages.push(format!("{prefix}: missing"));
        }
        return;
    }
    let value = match coerce(&raw, &param.schema, defs) {
        Ok(Some(v)) => v,
        Ok(None) => return,
        Err(message) => {
            messages.push(format!("{prefix}: {message}"));
            return;
        }
    };
    if let Some(validator) = validator {
        for error in validator.iter_errors(&value) {
            let at = error.instance_path().as_str().to_string();
            if at.is_empty() {
                messages.push(format!("{prefix}: {error}"));
            } else {
                messages.push(format!("{prefix}: {at}: {error}"));
            }
        }
    }
}

/// Check the JSON body (when the operation takes one).
fn check_body(
    spec: &BodySpec,
    validator: Option<&Validator>,
    req: &RequestParts<'_>,
) -> Result<Vec<String>, Rejection> {
    let empty = req.body.iter().all(u8::is_ascii_whitespace);
    if empty {
        return Ok(if spec.required {
            vec!["body: missing (this operation requires a request body)".to_string()]
        } else {
            Vec::new()
        });
    }
    let Some(_) = &spec.json_schema else {
        return Ok(Vec::new()); // multipart, text: not validated
    };
    let sent_json = req.content_type.is_none_or(is_json_media);
    if !sent_json {
        if spec.accepts_other {
            return Ok(Vec::new());
        }
        return Err(Rejection {
            status: 415,
            messages: vec![format!(
                "body: unsupported content type {}; expected application/json",
                req.content_type.unwrap_or("")
            )],
        });
    }
    let value: Value = match serde_json::from_slice(req.body) {
        Ok(v) => v,
        Err(e) => return Ok(vec![format!("body: invalid JSON ({e})")]),
    };
    let Some(validator) = validator else {
        return Ok(Vec::new());
    };
    Ok(validator
        .iter_errors(&value)
        .take(MAX_BODY_ERRORS)
        .map(|error| {
            let at = error.instance_path().as_str().to_string();
            if at.is_empty() {
                format!("body: {error}")
            } else {
                format!("body: {at}: {error}")
            }
        })
        .collect())
}

/// Coerce string values to the schema's type. `Ok(None)` = not checkable (objects).
fn coerce(
    raw: &[&str],
    schema: &Value,
    defs: &Map<String, Value>,
) -> Result<Option<Value>, String> {
    let typ = effective_type(schema, defs, 0);
    match typ.as_deref() {
        Some("array") => {
            let items = item_schema(schema, defs, 0).unwrap_or(&Value::Null);
            let item_type = effective_type(items, defs, 0);
            let mut out = Vec::new();
            for part in raw.iter().flat_map(|r| r.split(',')) {
                match coerce_scalar(part, item_type.as_deref())? {
                    Some(v) => out.push(v),
                    None => return Ok(None),
                }
            }
            Ok(Some(Value::Array(out)))
        }
        other => match raw.first() {
            Some(first) => coerce_scalar(first, other),
            None => Ok(None),
        },
    }
}

/// Coerce one string to a scalar of type `typ`.
fn coerce_scalar(raw: &str, typ: Option<&str>) -> Result<Option<Value>, String> {
    let quoted = Value::String(raw.to_string());
    match typ {
        Some("integer") => raw
            .trim()
            .parse::<i64>()
            .map(|n| Some(Value::from(n)))
            .or_else(|_| raw.trim().parse::<u64>().map(|n| Some(Value::from(n))))
            .map_err(|_| format!("{quoted} is not an integer")),
        Some("number") => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(|n| Some(Value::Number(n)))
            .ok_or_else(|| format!("{quoted} is not a number")),
        Some("boolean") => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(Value::Bool(true))),
            "false" => Ok(Some(Value::Bool(false))),
            _ => Err(format!("{quoted} is not a boolean (true or false)")),
        },
        Some("object") | Some("array") => Ok(serde_json::from_str::<Value>(raw).ok()),
        _ => Ok(Some(quoted)),
    }
}

/// The JSON type a schema expects (following `$ref` and compositions); null excluded.
pub(crate) fn effective_type(
    schema: &Value,
    defs: &Map<String, Value>,
    depth: usize,
) -> Option<String> {
    if depth > 16 {
        return None;
    }
    if let Some(def) = ref_target(schema, defs) {
        return effective_type(def, defs, depth + 1);
    }
    match schema.get("type") {
        Some(Value::String(t)) => return Some(t.clone()),
        Some(Value::Array(types)) => {
            return types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .map(str::to_string);
        }
        _ => {}
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            for branch in branches {
                if let Some(t) = effective_type(branch, defs, depth + 1) {
                    return Some(t);
                }
            }
        }
    }
    None
}

/// The `items` schema of an array schema (following `$ref` and compositions).
fn item_schema<'v>(
    schema: &'v Value,
    defs: &'v Map<String, Value>,
    depth: usize,
) -> Option<&'v Value> {
    if depth > 16 {
        return None;
    }
    if let Some(def) = ref_target(schema, defs) {
        return item_schema(def, defs, depth + 1);
    }
    if let Some(items) = schema.get("items") {
        return Some(items);
    }
    ["allOf", "anyOf", "oneOf"].iter().find_map(|key| {
        schema
            .get(*key)
            .and_then(Value::as_array)
            .and_then(|b| b.iter().find_map(|s| item_schema(s, defs, depth + 1)))
    })
}

/// The definition a `{"$ref": "#/definitions/X"}` schema points at.
pub(crate) fn ref_target<'v>(schema: &Value, defs: &'v Map<String, Value>) -> Option<&'v Value> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(definition_name)
        .and_then(|name| defs.get(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_messages() {
        let defs = Map::new();
        let int = json!({"type": "integer"});
        assert_eq!(coerce(&["12"], &int, &defs), Ok(Some(json!(12))));
        assert_eq!(
            coerce(&["abc"], &int, &defs),
            Err("\"abc\" is not an integer".to_string())
        );
        let arr = json!({"type": "array", "items": {"type": "integer"}});
        assert_eq!(
            coerce(&["1,2", "3"], &arr, &defs),
            Ok(Some(json!([1, 2, 3])))
        );
        let boolean = json!({"type": "boolean"});
        assert!(coerce(&["yes"], &boolean, &defs).is_err());
    }

    #[test]
    fn read_only_properties_are_not_required_in_requests() {
        let mut defs = Map::new();
        defs.insert("Id".into(), json!({"type": "string", "readOnly": true}));
        let schema = json!({
            "type": "object",
            "required": ["id", "self", "name"],
            "properties": {
                "id": {"$ref": "#/definitions/Id"},
                "self": {"type": "string", "readOnly": true},
                "name": {"type": "string"}
            }
        });
        let v = build_validator(&schema, &defs, true).unwrap();
        assert!(v.is_valid(&json!({"name": "x"})));
        assert!(!v.is_valid(&json!({})));
        let strict = build_validator(&schema, &defs, false).unwrap();
        assert!(!strict.is_valid(&json!({"name": "x"})));
    }
}
