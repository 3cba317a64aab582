//! Loading an Atlassian spec. The only module that imports `openapiv3`.
//!
//! `openapiv3` gives the typed operation index (paths, methods, parameters,
//! bodies, responses). Schemas are read from the raw JSON instead, because
//! `openapiv3` drops keys written beside `$ref` and types some schemas as
//! `Any`; the raw document keeps everything.

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, ReferenceOr};
use serde_json::Value;

use crate::diagnostics::pointer_token;

/// HTTP methods an operation can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
    /// PATCH
    Patch,
}

impl Method {
    /// Upper-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    /// Lower-case key used in the spec's path items.
    pub fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
            Method::Patch => "patch",
        }
    }

    /// Parses `GET`, `get`, ...
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "PUT" => Some(Method::Put),
            "POST" => Some(Method::Post),
            "DELETE" => Some(Method::Delete),
            "PATCH" => Some(Method::Patch),
            _ => None,
        }
    }

    const ALL: [Method; 5] = [
        Method::Get,
        Method::Put,
        Method::Post,
        Method::Delete,
        Method::Patch,
    ];
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    /// A path template variable.
    Path,
    /// A query-string parameter.
    Query,
    /// A header (ignored: auth and content negotiation are the runtime's).
    Header,
    /// A cookie (ignored).
    Cookie,
}

/// One parameter of an operation, resolved.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name as in the spec.
    pub name: String,
    /// Location.
    pub location: ParamIn,
    /// Required?
    pub required: bool,
    /// Description from the spec.
    pub description: Option<String>,
    /// Raw JSON schema of the parameter (`{}` when missing).
    pub schema: Value,
    /// JSON pointer of the schema, for diagnostics.
    pub pointer: String,
    /// `explode` (form style default: true).
    pub explode: bool,
    /// Deprecated in the spec.
    pub deprecated: bool,
}

/// A request body, resolved.
#[derive(Debug, Clone)]
pub struct Body {
    /// Required?
    pub required: bool,
    /// Content types offered, in spec order.
    pub content_types: Vec<String>,
    /// Raw JSON schema of the `application/json` content, if any.
    pub json_schema: Option<Value>,
    /// Pointer of that schema.
    pub pointer: String,
}

/// The success response, resolved.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Raw JSON schema of the JSON content, if any.
    pub json_schema: Option<Value>,
    /// True when the response has an example but no schema.
    pub example_only: bool,
    /// Content types.
    pub content_types: Vec<String>,
}

/// One operation, as the lowering needs it.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`, if present.
    pub operation_id: Option<String>,
    /// Method.
    pub method: Method,
    /// Path template, as in the spec.
    pub path: String,
    /// JSON pointer of the operation object.
    pub pointer: String,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Parameters (path-item level merged with operation level).
    pub params: Vec<Param>,
    /// Request body.
    pub body: Option<Body>,
    /// Lowest 2xx response.
    pub success: Option<Response>,
    /// `x-atlassian-connect-scope`, when present.
    pub connect_scope: Option<String>,
    /// Deprecated in the spec.
    pub deprecated: bool,
    /// `x-experimental: true`: Atlassian requires `X-ExperimentalApi: opt-in`.
    pub experimental: bool,
}

/// Errors loading a spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not JSON.
    #[error("{file} is not valid JSON: {source}")]
    Json {
        /// File name.
        file: String,
        /// Cause.
        source: serde_json::Error,
    },
    /// JSON but not OpenAPI 3.0.
    #[error("{file} is not an OpenAPI 3.0 document: {source}")]
    OpenApi {
        /// File name.
        file: String,
        /// Cause.
        source: serde_json::Error,
    },
}

/// A loaded spec: typed index plus the raw document.
#[derive(Debug)]
pub struct Spec {
    /// File name (e.g. `jira-platform.json`).
    pub file: String,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// Raw JSON.
    pub raw: Value,
    /// Operations in path order.
    pub operations: Vec<Operation>,
}

/// How an operation reference resolved.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// Exactly one operation.
    Found(&'a Operation),
    /// The operationId is used by several operations; use `METHOD /path`.
    Ambiguous(Vec<&'a Operation>),
    /// Nothing matched; nearest candidates (best first).
    Missing(Vec<String>),
}

impl Spec {
    /// Parses a spec from its bytes.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, SpecError> {
        let raw: Value = serde_json::from_slice(bytes).map_err(|source| SpecError::Json {
            file: file.to_owned(),
            source,
        })?;
        // openapiv3 only builds the operation index; schemas are read from `raw`.
        // It rejects OpenAPI 3.1 `type` arrays, so hand it a copy without them.
        let mut for_index = raw.clone();
        flatten_type_arrays(&mut for_index);
        let api: OpenAPI =
            serde_json::from_value(for_index).map_err(|source| SpecError::OpenApi {
                file: file.to_owned(),
                source,
            })?;
        let operations = index_operations(&api, &raw);
        Ok(Spec {
            file: file.to_owned(),
            title: api.info.title.clone(),
            version: api.info.version.clone(),
            raw,
            operations,
        })
    }

    /// Resolves `operationId` or `METHOD /path`.
    pub fn lookup(&self, reference: &str) -> Lookup<'_> {
        let reference = reference.trim();
        if let Some((method, path)) = reference.split_once(' ')
            && let Some(method) = Method::parse(method)
        {
            let path = path.trim();
            if let Some(op) = self
                .operations
                .iter()
                .find(|o| o.method == method && o.path == path)
            {
                return Lookup::Found(op);
            }
            let candidates = self
                .operations
                .iter()
                .map(|o| format!("{} {}", o.method.as_str(), o.path));
            return Lookup::Missing(nearest(reference, candidates));
        }
        let matches: Vec<&Operation> = self
            .operations
            .iter()
            .filter(|o| o.operation_id.as_deref() == Some(reference))
            .collect();
        match matches.len() {
            1 => matches
                .first()
                .map_or(Lookup::Missing(Vec::new()), |op| Lookup::Found(op)),
            0 => {
                let candidates = self
                    .operations
                    .iter()
                    .filter_map(|o| o.operation_id.clone());
                Lookup::Missing(nearest(reference, candidates))
            }
            _ => Lookup::Ambiguous(matches),
        }
    }

    /// Follows a local `$ref` (`#/components/...`) in the raw document.
    pub fn resolve_ref(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        self.raw.pointer(pointer)
    }
}

/// Replaces every `"type": [..]` by its first non-null member (only for the
/// copy `openapiv3` indexes; the raw document keeps the array).
fn flatten_type_arrays(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type") {
                let first = types
                    .iter()
                    .find(|t| t.as_str() != Some("null"))
                    .cloned()
                    .unwrap_or(Value::String("string".into()));
                map.insert("type".into(), first);
            }
            map.values_mut().for_each(flatten_type_arrays);
        }
        Value::Array(items) => items.iter_mut().for_each(flatten_type_arrays),
        _ => {}
    }
}

/// Up to five nearest names by normalized Levenshtein similarity.
fn nearest(target: &str, candidates: impl Iterator<Item = String>) -> Vec<String> {
    let target_lower = target.to_ascii_lowercase();
    let mut scored: Vec<(f64, String)> = candidates
        .map(|c| {
            let score = strsim::normalized_levenshtein(&target_lower, &c.to_ascii_lowercase());
            (score, c)
        })
        .filter(|(score, _)| *score > 0.4)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.into_iter().take(5).map(|(_, c)| c).collect()
}

fn index_operations(api: &OpenAPI, raw: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in &api.paths.paths {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        let item_pointer = format!("/paths/{}", pointer_token(path));
        for method in Method::ALL {
            let op = match method {
                Method::Get => item.get.as_ref(),
                Method::Put => item.put.as_ref(),
                Method::Post => item.post.as_ref(),
                Method::Delete => item.delete.as_ref(),
                Method::Patch => item.patch.as_ref(),
            };
            let Some(op) = op else { continue };
            let pointer = format!("{item_pointer}/{}", method.key());
            let raw_op = raw.pointer(&pointer).cloned().unwrap_or(Value::Null);
            let mut params = Vec::new();
            // Path-item parameters first, overridden by operation parameters of the same name+location.
            let item_params = raw
                .pointer(&format!("{item_pointer}/parameters"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, p) in item_params.iter().enumerate() {
                if let Some(param) =
                    resolve_param(raw, p, &format!("{item_pointer}/parameters/{i}"))
                {
                    params.push(param);
                }
            }
            let op_params = raw_op
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, p) in op_params.iter().enumerate() {
                if let Some(param) = resolve_param(raw, p, &format!("{pointer}/parameters/{i}")) {
                    params.retain(|existing: &Param| {
                        !(existing.name == param.name && existing.location == param.location)
                    });
                    params.push(param);
                }
            }
            let body = raw_op
                .get("requestBody")
                .map(|b| resolve_body(raw, b, &format!("{pointer}/requestBody")));
            let success = success_response(raw, &raw_op, &pointer);
            let connect_scope = raw_op
                .get("x-atlassian-connect-scope")
                .and_then(Value::as_str)
                .map(str::to_owned);
            out.push(Operation {
                operation_id: op.operation_id.clone(),
                method,
                path: path.clone(),
                pointer,
                summary: op.summary.clone(),
                description: op.description.clone(),
                params,
                body,
                success,
                connect_scope,
                deprecated: op.deprecated,
                experimental: raw_op.get("x-experimental").and_then(Value::as_bool) == Some(true),
            });
        }
    }
    out
}

/// Follows `$ref` chains in the raw document (bounded).
pub fn deref<'a>(raw: &'a Value, mut value: &'a Value) -> (&'a Value, Option<String>) {
    let mut last_ref = None;
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return (value, last_ref);
        };
        let Some(target) = reference
            .strip_prefix('#')
            .and_then(|pointer| raw.pointer(pointer))
        else {
            return (value, last_ref);
        };
        last_ref = Some(reference.to_owned());
        value = target;
    }
    (value, last_ref)
}

fn resolve_param(raw: &Value, value: &Value, pointer: &str) -> Option<Param> {
    let (param, reference) = deref(raw, value);
    let pointer = reference
        .as_deref()
        .and_then(|r| r.strip_prefix('#'))
        .map_or_else(|| pointer.to_owned(), str::to_owned);
    let name = param.get("name")?.as_str()?.to_owned();
    let location = match param.get("in")?.as_str()? {
        "path" => ParamIn::Path,
        "query" => ParamIn::Query,
        "header" => ParamIn::Header,
        _ => ParamIn::Cookie,
    };
    let schema = param
        .get("schema")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    Some(Param {
        required: param
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || location == ParamIn::Path,
        description: param
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        explode: param
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        deprecated: param
            .get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        name,
        location,
        schema,
        pointer: format!("{pointer}/schema"),
    })
}

fn resolve_body(raw: &Value, value: &Value, pointer: &str) -> Body {
    let (body, _) = deref(raw, value);
    let content = body.get("content").and_then(Value::as_object);
    let content_types: Vec<String> = content
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let json_key = content_types
        .iter()
        .find(|k| k.starts_with("application/json"))
        .cloned();
    let json_schema = json_key
        .as_ref()
        .and_then(|k| content.and_then(|c| c.get(k)))
        .and_then(|media| media.get("schema"))
        .cloned();
    Body {
        required: body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        pointer: json_key.map_or_else(
            || format!("{pointer}/content"),
            |k| format!("{pointer}/content/{}/schema", pointer_token(&k)),
        ),
        content_types,
        json_schema,
    }
}

fn success_response(raw: &Value, raw_op: &Value, _pointer: &str) -> Option<Response> {
    let responses = raw_op.get("responses")?.as_object()?;
    let mut codes: BTreeMap<u16, &Value> = BTreeMap::new();
    for (code, response) in responses {
        if let Ok(status) = code.parse::<u16>()
            && (200..300).contains(&status)
        {
            codes.insert(status, response);
        }
    }
    let (status, response) = codes.into_iter().next()?;
    let (response, _) = deref(raw, response);
    let content = response.get("content").and_then(Value::as_object);
    let content_types: Vec<String> = content
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let media = content.and_then(|c| {
        c.iter()
            .find(|(k, _)| k.starts_with("application/json"))
            .or_else(|| c.iter().find(|(k, _)| k.as_str() == "*/*"))
            .map(|(_, v)| v)
    });
    let json_schema = media.and_then(|m| m.get("schema")).cloned();
    let example_only = json_schema.is_none()
        && media.is_some_and(|m| m.get("example").is_some() || m.get("examples").is_some());
    Some(Response {
        status,
        json_schema,
        example_only,
        content_types,
    })
}
