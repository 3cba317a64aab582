//! Loading Atlassian OpenAPI spec files into a catalog of operations.
//!
//! Each spec file is read as raw JSON, its component schemas are converted
//! once to JSON Schema (`convert.rs`), and each operation keeps what the fake
//! needs: method, full path template (mount + spec path), label, parameters,
//! JSON request body schema and the success response to synthesize. The raw
//! document is dropped after loading.
//!
//! Spec-level defects of SOURCES.md corrected here: header parameters named
//! `Authorization`/`Accept`/`Content-Type` are ignored, a declared path
//! parameter missing from its template takes the template's undeclared name
//! (org-admin `accountId` vs `{userId}`), path-item `$ref` aliases (automation)
//! are resolved, `DashboardGadgetPosition`'s sentence property names become
//! `column`/`row`, and multipart bodies are never validated.

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::RouteDef;
use crate::convert::{Converter, resolve_pointer};
use crate::error::FakeError;
use crate::router::{RouteTable, Template};
use crate::validate::CompiledOp;

/// A spec file the fake knows, and where its paths are mounted.
#[derive(Debug, Clone, Copy)]
pub struct SpecFile {
    /// File stem (`jira-platform` for `jira-platform.json`), also the label prefix.
    pub stem: &'static str,
    /// Prefix of every path of this spec on the fake's origin.
    pub mount: &'static str,
}

/// The spec files the fake loads, with their mounts.
pub const KNOWN_SPECS: [SpecFile; 9] = [
    SpecFile {
        stem: "jira-platform",
        mount: "",
    },
    SpecFile {
        stem: "jira-software",
        mount: "",
    },
    SpecFile {
        stem: "jsm",
        mount: "",
    },
    SpecFile {
        stem: "assets",
        mount: "/jsm/assets/workspace/{workspaceId}/v1",
    },
    SpecFile {
        stem: "confluence-v1",
        mount: "",
    },
    SpecFile {
        stem: "confluence-v2",
        mount: "/wiki/api/v2",
    },
    SpecFile {
        stem: "org-admin",
        mount: "/admin",
    },
    SpecFile {
        stem: "user-management",
        mount: "",
    },
    SpecFile {
        stem: "automation",
        mount: "/automation/public/{product}/{cloudid}",
    },
];

/// HTTP methods that OpenAPI path items may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Header parameters that OpenAPI 3.0 says to ignore (SOURCES.md defect in jira-software).
const IGNORED_HEADERS: [&str; 3] = ["authorization", "accept", "content-type"];

/// Converted component schemas of one spec.
#[derive(Debug)]
pub(crate) struct SpecDefs {
    /// Spec file stem (or `routes` for [`crate::FakeAtlassian::from_routes`]).
    pub(crate) name: String,
    /// Component schemas converted to JSON Schema, by name.
    pub(crate) defs: Map<String, Value>,
}

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamLocation {
    /// A path template variable.
    Path,
    /// A query string parameter.
    Query,
    /// A request header.
    Header,
}

impl ParamLocation {
    /// Word used in violation messages.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
        }
    }
}

/// One declared parameter with its converted schema.
#[derive(Debug)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) location: ParamLocation,
    pub(crate) required: bool,
    pub(crate) schema: Value,
}

/// The request body of an operation.
#[derive(Debug)]
pub(crate) struct BodySpec {
    /// Whether a body must be sent.
    pub(crate) required: bool,
    /// Schema of the JSON media type, if the operation takes JSON.
    pub(crate) json_schema: Option<Value>,
    /// Whether some non-JSON media type (multipart, text, `*/*`) is accepted too.
    pub(crate) accepts_other: bool,
}

/// What the success response carries.
#[derive(Debug, Clone)]
pub(crate) enum ResponseBody {
    /// No body.
    Empty,
    /// A JSON body synthesized from this (converted) schema.
    Schema(Value),
    /// A literal JSON example (the response declares no schema).
    Example(Value),
}

/// The response the fake gives when the request is fine.
#[derive(Debug, Clone)]
pub(crate) struct ResponseSpec {
    pub(crate) status: u16,
    pub(crate) body: ResponseBody,
    /// The documented example of the same response, when it has one (answered
    /// instead of a synthesized body by [`crate::FakeAtlassian::with_examples`]).
    pub(crate) example: Option<Value>,
}

/// One operation (method + path template) of a spec.
#[derive(Debug)]
pub(crate) struct Operation {
    /// Index into [`Catalog::specs`].
    pub(crate) spec: usize,
    /// Upper-case HTTP method.
    pub(crate) method: String,
    /// Full template, mount included.
    pub(crate) template: Template,
    /// `stem#operationId`, or `stem#METHOD /path` without an operationId.
    pub(crate) label: String,
    pub(crate) params: Vec<Param>,
    pub(crate) body: Option<BodySpec>,
    pub(crate) response: ResponseSpec,
    /// Whether requests are validated (false for lenient routes).
    pub(crate) validate: bool,
    /// POST on a collection that also has an item template (`C` and `C/{id}`),
    /// or on `C/create` (the Assets and Automation spelling).
    pub(crate) creates: bool,
    /// Validators, compiled on first use.
    pub(crate) compiled: OnceLock<CompiledOp>,
}

/// All loaded operations and their routing table.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) specs: Vec<SpecDefs>,
    pub(crate) ops: Vec<Operation>,
    pub(crate) routes: RouteTable,
}

impl Catalog {
    /// Load every known spec present in `dir`.
    pub(crate) fn load(dir: &Path) -> Result<Self, FakeError> {
        let mut catalog = Self::default();
        for file in KNOWN_SPECS {
            let path = dir.join(format!("{}.json", file.stem));
            if !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|source| FakeError::Io {
                path: path.clone(),
                source,
            })?;
            let doc: Value = serde_json::from_slice(&bytes).map_err(|source| FakeError::Json {
                path: path.clone(),
                source,
            })?;
            drop(bytes);
            catalog.add_spec(file, doc, &path)?;
        }
        if catalog.specs.is_empty() {
            return Err(FakeError::NoSpecs {
                dir: dir.to_path_buf(),
                expected: KNOWN_SPECS
                    .iter()
                    .map(|f| format!("{}.json", f.stem))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        catalog.finish();
        Ok(catalog)
    }

    /// One spec document from its bytes, loaded as the known spec `file`
    /// (`path` only names it in errors); what [`Self::load`] does per file.
    pub(crate) fn from_bytes(file: SpecFile, bytes: &[u8], path: &Path) -> Result<Self, FakeError> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|source| FakeError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let mut catalog = Self::default();
        catalog.add_spec(file, doc, path)?;
        catalog.finish();
        Ok(catalog)
    }

    /// A lenient catalog from explicit routes (no validation).
    pub(crate) fn from_routes(routes: Vec<RouteDef>) -> Self {
        let mut catalog = Self::default();
        let empty = json!({});
        let converter = Converter::new(&empty);
        catalog.specs.push(SpecDefs {
            name: "routes".to_string(),
            defs: Map::new(),
        });
        for route in routes {
            let schema = route
                .response_schema
                .as_ref()
                .map_or_else(|| json!({}), |s| converter.convert(s));
            catalog.ops.push(Operation {
                spec: 0,
                method: route.method.to_ascii_uppercase(),
                template: Template::parse(&route.path),
                label: route.operation,
                params: Vec::new(),
                body: None,
                response: ResponseSpec {
                    status: 200,
                    body: ResponseBody::Schema(schema),
                    example: None,
                },
                validate: false,
                creates: false,
                compiled: OnceLock::new(),
            });
        }
        catalog.finish();
        catalog
    }

    /// Number of loaded specs (0 for a lenient catalog without specs).
    pub(crate) fn spec_count(&self) -> usize {
        self.specs.iter().filter(|s| s.name != "routes").count()
    }

    /// Compute `creates` flags and build the route table.
    fn finish(&mut self) {
        let parents: HashSet<(usize, String)> = self
            .ops
            .iter()
            .filter(|op| op.template.ends_with_var())
            .filter_map(|op| op.template.parent_text().map(|p| (op.spec, p.to_string())))
            .collect();
        for op in &mut self.ops {
            let collection = op.template.create_collection();
            op.creates = op.method == "POST"
                && collection.is_some_and(|c| parents.contains(&(op.spec, c.to_string())));
        }
        let mut routes = RouteTable::default();
        for op in &self.ops {
            routes.push(&op.method, op.template.clone());
        }
        self.routes = routes;
    }

    /// Convert one parsed spec document and add its operations.
    fn add_spec(&mut self, file: SpecFile, mut doc: Value, path: &Path) -> Result<(), FakeError> {
        let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
            return Err(FakeError::InvalidSpec {
                path: path.to_path_buf(),
                reason: "no `paths` object".to_string(),
            });
        };
        if paths.is_empty() {
            return Err(FakeError::InvalidSpec {
                path: path.to_path_buf(),
                reason: "`paths` is empty".to_string(),
            });
        }
        fix_raw_document(&mut doc);
        let spec_index = self.specs.len();
        let converter = Converter::new(&doc);
        let defs: Map<String, Value> = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .map(|schemas| {
                schemas
                    .iter()
                    .map(|(name, s)| (name.clone(), converter.convert(s)))
                    .collect()
            })
            .unwrap_or_default();
        let builder = OpBuilder {
            doc: &doc,
            converter: &converter,
            file,
            spec_index,
        };
        let mut ops = Vec::new();
        if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
            for (spec_path, item) in paths {
                let item = resolve(&doc, item);
                for method in METHODS {
                    if let Some(op) = item.get(method) {
                        ops.push(builder.build(spec_path, item, method, op));
                    }
                }
            }
        }
        self.specs.push(SpecDefs {
            name: file.stem.to_string(),
            defs,
        });
        self.ops.extend(ops);
        Ok(())
    }
}

/// Follow `$ref`s of non-schema objects (parameters, bodies, responses, path items).
fn resolve<'v>(doc: &'v Value, value: &'v Value) -> &'v Value {
    let mut current = value;
    for _ in 0..8 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(r) => match resolve_pointer(doc, r) {
                Some(target) => current = target,
                None => return current,
            },
            None => return current,
        }
    }
    current
}

/// Defects corrected on the raw document before conversion.
fn fix_raw_document(doc: &mut Value) {
    // jira-platform: DashboardGadgetPosition's property names are sentences; the live API
    // (and the spec's own example) uses `column` / `row`.
    if let Some(Value::Object(schema)) =
        doc.pointer_mut("/components/schemas/DashboardGadgetPosition")
    {
        let renames = [
            ("The column position of the gadget.", "column"),
            ("The row position of the gadget.", "row"),
        ];
        if let Some(Value::Object(props)) = schema.get_mut("properties") {
            for (from, to) in renames {
                if let Some(v) = props.remove(from) {
                    props.insert(to.to_string(), v);
                }
            }
        }
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            for entry in required.iter_mut() {
                for (from, to) in renames {
                    if entry.as_str() == Some(from) {
                        *entry = Value::String(to.to_string());
                    }
                }
            }
        }
    }
}

/// Builds [`Operation`]s of one spec.
struct OpBuilder<'a> {
    doc: &'a Value,
    converter: &'a Converter<'a>,
    file: SpecFile,
    spec_index: usize,
}

impl OpBuilder<'_> {
    fn build(&self, spec_path: &str, item: &Value, method: &str, op: &Value) -> Operation {
        let template = Template::parse(&format!("{}{}", self.file.mount, spec_path));
        let upper = method.to_ascii_uppercase();
        let label = match op.get("operationId").and_then(Value::as_str) {
            Some(id) => format!("{}#{}", self.file.stem, id),
            None => format!("{}#{} {}", self.file.stem, upper, spec_path),
        };
        Operation {
            spec: self.spec_index,
            method: upper,
            params: self.params(item, op, spec_path),
            template,
            label,
            body: op.get("requestBody").map(|b| self.body(b)),
            response: self.response(op),
            validate: true,
            creates: false,
            compiled: OnceLock::new(),
        }
    }

    /// Path-item and operation parameters merged (the operation's win), defects fixed.
    fn params(&self, item: &Value, op: &Value, spec_path: &str) -> Vec<Param> {
        let mut raw: Vec<&Value> = Vec::new();
        let sources = [item.get("parameters"), op.get("parameters")];
        for list in sources.into_iter().flatten().filter_map(Value::as_array) {
            for p in list {
                let p = resolve(self.doc, p);
                let key = (p.get("name"), p.get("in"));
                raw.retain(|q| (q.get("name"), q.get("in")) != key);
                raw.push(p);
            }
        }
        let spec_template = Template::parse(spec_path);
        let template_vars: Vec<&str> = spec_template.var_names().collect();
        let declared_path: Vec<&str> = raw
            .iter()
            .filter(|p| p.get("in").and_then(Value::as_str) == Some("path"))
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .collect();
        let undeclared: Vec<&str> = template_vars
            .iter()
            .copied()
            .filter(|v| !declared_path.contains(v))
            .collect();

        let mut params = Vec::new();
        for p in raw {
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                continue;
            };
            let location = match p.get("in").and_then(Value::as_str) {
                Some("path") => ParamLocation::Path,
                Some("query") => ParamLocation::Query,
                Some("header") => {
                    if IGNORED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                        continue;
                    }
                    ParamLocation::Header
                }
                _ => continue,
            };
            let mut name = name.to_string();
            if location == ParamLocation::Path && !template_vars.contains(&name.as_str()) {
                // org-admin: `accountId` declared on a template that says `{userId}`.
                match undeclared.as_slice() {
                    [only] => name = (*only).to_string(),
                    _ => continue,
                }
            }
            let schema = p
                .get("schema")
                .or_else(|| {
                    p.get("content")
                        .and_then(Value::as_object)
                        .and_then(|c| c.values().next())
                        .and_then(|m| m.get("schema"))
                })
                .map_or_else(|| json!({}), |s| self.converter.convert(s));
            params.push(Param {
                name,
                location,
                required: location == ParamLocation::Path
                    || p.get("required") == Some(&Value::Bool(true)),
                schema,
            });
        }
        params
    }

    /// The request body: its JSON schema, if any, and whether it is required.
    fn body(&self, body: &Value) -> BodySpec {
        let body = resolve(self.doc, body);
        let content = body.get("content").and_then(Value::as_object);
        let mut json_schema = None;
        let mut accepts_other = false;
        if let Some(content) = content {
            let json_media = content
                .iter()
                .filter(|(media, _)| is_json_media(media))
                .min_by_key(|(media, _)| !media.starts_with("application/json"));
            if let Some((_, media)) = json_media {
                json_schema = Some(
                    media
                        .get("schema")
                        .map_or_else(|| json!({}), |s| self.converter.convert(s)),
                );
            }
            accepts_other = content.keys().any(|m| !is_json_media(m) || m == "*/*");
        }
        BodySpec {
            required: body.get("required") == Some(&Value::Bool(true)),
            json_schema,
            accepts_other,
        }
    }

    /// The success response: lowest 2xx with a JSON body, else the lowest 2xx
    /// (empty), else the lowest 3xx (empty), else `200 {}`.
    fn response(&self, op: &Value) -> ResponseSpec {
        let mut codes: Vec<(u16, &Value)> = op
            .get("responses")
            .and_then(Value::as_object)
            .map(|r| {
                r.iter()
                    .filter_map(|(code, resp)| {
                        let code = if code == "default" {
                            200
                        } else {
                            code.parse().ok()?
                        };
                        Some((code, resolve(self.doc, resp)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        codes.sort_by_key(|(code, _)| *code);
        let success = codes.iter().filter(|(c, _)| (200..300).contains(c));
        for (code, resp) in success.clone() {
            if *code == 204 || *code == 205 {
                continue;
            }
            if let Some((body, example)) = self.json_response_body(resp) {
                return ResponseSpec {
                    status: *code,
                    body,
                    example,
                };
            }
        }
        let fallback = success
            .map(|(c, _)| *c)
            .next()
            .or_else(|| {
                codes
                    .iter()
                    .map(|(c, _)| *c)
                    .find(|c| (300..400).contains(c))
            })
            .unwrap_or(200);
        ResponseSpec {
            status: fallback,
            body: if fallback == 200 && codes.is_empty() {
                ResponseBody::Schema(json!({}))
            } else {
                ResponseBody::Empty
            },
            example: None,
        }
    }

    /// The JSON body of a response object (schema, else example, else `{}`)
    /// and its documented example, if any.
    fn json_response_body(&self, resp: &Value) -> Option<(ResponseBody, Option<Value>)> {
        let content = resp.get("content").and_then(Value::as_object)?;
        let (_, media) = content
            .iter()
            .filter(|(m, _)| is_json_media(m))
            .min_by_key(|(m, _)| !m.starts_with("application/json"))?;
        let example = documented_example(self.doc, media);
        let body = match (media.get("schema"), &example) {
            (Some(schema), _) => ResponseBody::Schema(self.converter.convert(schema)),
            (None, Some(example)) => ResponseBody::Example(example.clone()),
            (None, None) => ResponseBody::Schema(json!({})),
        };
        Some((body, example))
    }
}

/// The example of a media type object: `example`, else the `value` of the
/// first of `examples` (an example object may be a reference). Atlassian writes most examples
/// as JSON text: a string that parses as JSON is parsed.
fn documented_example(doc: &Value, media: &Value) -> Option<Value> {
    let example = media.get("example").cloned().or_else(|| {
        media
            .get("examples")
            .and_then(Value::as_object)
            .and_then(|e| e.values().next())
            .map(|e| resolve(doc, e))
            .and_then(|e| e.get("value"))
            .cloned()
    })?;
    Some(match example {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        v => v,
    })
}

/// Media types whose bodies are JSON (`application/json`, `…+json`, `*/*`).
pub(crate) fn is_json_media(media: &str) -> bool {
    let base = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    base == "application/json" || base.ends_with("+json") || base == "*/*"
}
