//! OpenAPI 3.0 schema → (Rust type, self-contained MCP JSON Schema).
//!
//! One walker produces both, so the typed struct and the schema the model
//! sees can never disagree. Shapes we cannot type precisely become
//! `serde_json::Value` with a permissive schema and a warning; nothing here
//! panics on spec input.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::diagnostics::{Diagnostic, Location};
use crate::naming;
use crate::spec::{Spec, deref};

/// Nesting depth (objects inside objects) beyond which schemas become free-form.
const MAX_DEPTH: usize = 4;
/// Longest description kept for a top-level argument or body property.
pub const DESCRIPTION_MAX: usize = 80;

/// A Rust type as the emitter prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RustType {
    /// `String`
    String,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f64`
    F64,
    /// `bool`
    Bool,
    /// `serde_json::Value`
    Value,
    /// `Vec<T>`
    Vec(Box<RustType>),
    /// `BTreeMap<String, T>`
    Map(Box<RustType>),
    /// A generated type in the product's `types` module.
    Named(String),
}

/// A generated type definition.
#[derive(Debug, Clone)]
pub enum TypeDef {
    /// A struct with named fields.
    Struct {
        /// Doc comment.
        doc: Option<String>,
        /// Fields in spec order.
        fields: Vec<Field>,
    },
    /// A string enum.
    Enum {
        /// Doc comment.
        doc: Option<String>,
        /// `(variant ident, wire value)` pairs.
        variants: Vec<(String, String)>,
    },
}

/// A struct field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Wire name.
    pub api_name: String,
    /// Rust identifier.
    pub ident: String,
    /// Type (without the `Option` wrapper).
    pub ty: RustType,
    /// `Option<...>` when false.
    pub required: bool,
    /// Doc comment.
    pub doc: Option<String>,
}

/// The generated types of one product, and the diagnostics found making them.
#[derive(Debug)]
pub struct TypeSpace<'s> {
    spec: &'s Spec,
    /// Types by name, in stable order.
    pub types: BTreeMap<String, TypeDef>,
    names: BTreeSet<String>,
    by_ref: BTreeMap<String, (RustType, Value)>,
    stack: Vec<String>,
    /// Warnings for degraded shapes.
    pub diagnostics: Vec<Diagnostic>,
}

impl<'s> TypeSpace<'s> {
    /// An empty type space over one spec.
    pub fn new(spec: &'s Spec) -> Self {
        Self {
            spec,
            types: BTreeMap::new(),
            names: BTreeSet::new(),
            by_ref: BTreeMap::new(),
            stack: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    fn warn(&mut self, pointer: &str, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(
            Location::Spec {
                file: self.spec.file.clone(),
                pointer: pointer.to_owned(),
            },
            message,
        ));
    }

    /// Lowers a schema used as a request value. `hint` names the type if one
    /// must be created for an inline object or enum.
    pub fn lower(&mut self, schema: &Value, pointer: &str, hint: &str) -> (RustType, Value) {
        self.lower_at(schema, pointer, hint, 0)
    }

    fn lower_at(
        &mut self,
        schema: &Value,
        pointer: &str,
        hint: &str,
        depth: usize,
    ) -> (RustType, Value) {
        let Some(obj) = schema.as_object() else {
            // `true`/missing schemas accept anything.
            return (RustType::Value, json!({}));
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            // Keys beside `$ref` (kept because we read raw JSON) still apply.
            let (ty, mut json) = self.lower_ref(reference, pointer, depth);
            if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
                make_nullable(&mut json);
            }
            return (ty, json);
        }
        let (ty, mut json) = self.lower_inline(obj, pointer, hint, depth);
        if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
            make_nullable(&mut json);
        }
        (ty, json)
    }

    fn lower_ref(&mut self, reference: &str, pointer: &str, depth: usize) -> (RustType, Value) {
        if let Some(found) = self.by_ref.get(reference) {
            return found.clone();
        }
        let ref_name = reference.rsplit('/').next().unwrap_or(reference).to_owned();
        if self.stack.iter().any(|r| r == reference) {
            // A reference cycle: cut it at the back edge.
            self.warn(
                pointer,
                format!("reference cycle through {reference}; typed as serde_json::Value here"),
            );
            return (RustType::Value, json!({}));
        }
        let Some(target) = self.spec.resolve_ref(reference).cloned() else {
            self.warn(
                pointer,
                format!("unresolved $ref {reference}; typed as serde_json::Value"),
            );
            return (RustType::Value, json!({}));
        };
        let target_pointer = reference.trim_start_matches('#').to_owned();
        self.stack.push(reference.to_owned());
        let result = self.lower_at(&target, &target_pointer, &ref_name, depth);
        self.stack.pop();
        self.by_ref.insert(reference.to_owned(), result.clone());
        result
    }

    fn lower_inline(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
        depth: usize,
    ) -> (RustType, Value) {
        // allOf: a single branch is that branch; several object branches merge.
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            if let [single] = all.as_slice() {
                return self.lower_at(single, &format!("{pointer}/allOf/0"), hint, depth);
            }
            return self.lower_all_of(all, obj, pointer, hint, depth);
        }
        if obj.contains_key("oneOf") || obj.contains_key("anyOf") {
            let both = obj.contains_key("oneOf") && obj.contains_key("anyOf");
            self.warn(
                pointer,
                if both {
                    "oneOf together with anyOf; typed as serde_json::Value"
                } else {
                    "oneOf/anyOf; typed as serde_json::Value"
                },
            );
            return (RustType::Value, json!({}));
        }
        match obj.get("type") {
            Some(Value::String(t)) => match t.as_str() {
                "string" => self.lower_string(obj, hint),
                "integer" => {
                    let ty = if obj.get("format").and_then(Value::as_str) == Some("int32") {
                        RustType::I32
                    } else {
                        RustType::I64
                    };
                    let mut json = json!({"type": "integer"});
                    copy_keys(obj, &mut json, &["enum", "minimum", "maximum"]);
                    (ty, json)
                }
                "number" => {
                    let mut json = json!({"type": "number"});
                    copy_keys(obj, &mut json, &["minimum", "maximum"]);
                    (RustType::F64, json)
                }
                "boolean" => (RustType::Bool, json!({"type": "boolean"})),
                "array" => {
                    let items = obj.get("items").cloned().unwrap_or(json!({}));
                    let (item_ty, item_json) = self.lower_at(
                        &items,
                        &format!("{pointer}/items"),
                        &format!("{hint}Item"),
                        depth,
                    );
                    let mut json = json!({"type": "array", "items": item_json});
                    copy_keys(obj, &mut json, &["minItems", "maxItems", "uniqueItems"]);
                    (RustType::Vec(Box::new(item_ty)), json)
                }
                "object" => self.lower_object(obj, pointer, hint, depth),
                other => {
                    self.warn(
                        pointer,
                        format!("unknown type {other:?}; typed as serde_json::Value"),
                    );
                    (RustType::Value, json!({}))
                }
            },
            Some(Value::Array(_)) => {
                self.warn(
                    pointer,
                    "type array (OpenAPI 3.1 style); typed as serde_json::Value",
                );
                (RustType::Value, json!({}))
            }
            Some(_) => {
                self.warn(pointer, "malformed type; typed as serde_json::Value");
                (RustType::Value, json!({}))
            }
            None if obj.contains_key("properties") => self.lower_object(obj, pointer, hint, depth),
            None => (RustType::Value, json!({})),
        }
    }

    fn lower_string(&mut self, obj: &Map<String, Value>, hint: &str) -> (RustType, Value) {
        let Some(values) = obj.get("enum").and_then(Value::as_array) else {
            return (RustType::String, json!({"type": "string"}));
        };
        let wire: Vec<String> = values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if wire.len() != values.len() || wire.is_empty() {
            return (RustType::String, json!({"type": "string", "enum": values}));
        }
        let mut taken = BTreeSet::new();
        let variants: Vec<(String, String)> = wire
            .iter()
            .map(|w| {
                (
                    naming::uniquify(&mut taken, naming::variant_name(w)),
                    w.clone(),
                )
            })
            .collect();
        let name = self.fresh_name(hint);
        self.types.insert(
            name.clone(),
            TypeDef::Enum {
                doc: description_of(obj),
                variants,
            },
        );
        (
            RustType::Named(name),
            json!({"type": "string", "enum": wire}),
        )
    }

    fn lower_object(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
        depth: usize,
    ) -> (RustType, Value) {
        let properties = obj.get("properties").and_then(Value::as_object);
        let additional = obj.get("additionalProperties");
        let has_props = properties.is_some_and(|p| !p.is_empty());
        if !has_props {
            return match additional {
                Some(Value::Object(schema)) if !schema.is_empty() => {
                    let (value_ty, value_json) = self.lower_at(
                        &Value::Object(schema.clone()),
                        &format!("{pointer}/additionalProperties"),
                        &format!("{hint}Value"),
                        depth + 1,
                    );
                    (
                        RustType::Map(Box::new(value_ty)),
                        json!({"type": "object", "additionalProperties": value_json}),
                    )
                }
                _ => (
                    RustType::Map(Box::new(RustType::Value)),
                    json!({"type": "object"}),
                ),
            };
        }
        if depth >= MAX_DEPTH {
            return (
                RustType::Map(Box::new(RustType::Value)),
                json!({"type": "object"}),
            );
        }
        if matches!(additional, Some(Value::Bool(true)) | Some(Value::Object(_))) {
            self.warn(
                pointer,
                "object with both properties and additionalProperties; typed as serde_json::Value",
            );
            return (RustType::Value, json!({"type": "object"}));
        }
        let name = self.fresh_name(hint);
        // Reserve the name before recursing so nested types do not take it.
        self.types.insert(
            name.clone(),
            TypeDef::Struct {
                doc: None,
                fields: Vec::new(),
            },
        );
        let required: BTreeSet<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields = Vec::new();
        let mut json_props = Map::new();
        let mut json_required = Vec::new();
        let mut idents = BTreeSet::new();
        for (prop, prop_schema) in properties.into_iter().flatten() {
            let (resolved, _) = deref(&self.spec.raw, prop_schema);
            if resolved.get("readOnly").and_then(Value::as_bool) == Some(true)
                || prop_schema.get("readOnly").and_then(Value::as_bool) == Some(true)
            {
                // Read-only properties are never sent.
                continue;
            }
            let prop_pointer = format!(
                "{pointer}/properties/{}",
                crate::diagnostics::pointer_token(prop)
            );
            let prop_hint = format!("{name}{}", naming::type_name(prop));
            let (ty, mut prop_json) =
                self.lower_at(prop_schema, &prop_pointer, &prop_hint, depth + 1);
            let doc = description_of(prop_schema.as_object().unwrap_or(&Map::new()))
                .or_else(|| resolved.as_object().and_then(description_of));
            if depth == 0
                && let Some(doc) = &doc
            {
                set_description(
                    &mut prop_json,
                    &naming::short_description(doc, DESCRIPTION_MAX),
                );
            }
            let is_required = required.contains(prop.as_str());
            let nullable = resolved.get("nullable").and_then(Value::as_bool) == Some(true)
                || prop_schema.get("nullable").and_then(Value::as_bool) == Some(true);
            if is_required {
                json_required.push(Value::String(prop.clone()));
            }
            json_props.insert(prop.clone(), prop_json);
            fields.push(Field {
                api_name: prop.clone(),
                ident: naming::uniquify_field(&mut idents, naming::field_ident(prop)),
                ty,
                required: is_required && !nullable,
                doc,
            });
        }
        let mut json =
            json!({"type": "object", "properties": json_props, "additionalProperties": false});
        if !json_required.is_empty()
            && let Some(map) = json.as_object_mut()
        {
            map.insert("required".into(), Value::Array(json_required));
        }
        self.types.insert(
            name.clone(),
            TypeDef::Struct {
                doc: description_of(obj),
                fields,
            },
        );
        (RustType::Named(name), json)
    }

    fn lower_all_of(
        &mut self,
        all: &[Value],
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
        depth: usize,
    ) -> (RustType, Value) {
        let mut merged = Map::new();
        let mut properties = Map::new();
        let mut required = Vec::new();
        for branch in all {
            let (resolved, _) = deref(&self.spec.raw, branch);
            let Some(branch) = resolved.as_object() else {
                continue;
            };
            let is_object = branch.get("type").and_then(Value::as_str) == Some("object")
                || branch.contains_key("properties");
            if !is_object {
                self.warn(
                    pointer,
                    "allOf over non-object branches; typed as serde_json::Value",
                );
                return (RustType::Value, json!({}));
            }
            if let Some(p) = branch.get("properties").and_then(Value::as_object) {
                properties.extend(p.clone());
            }
            if let Some(r) = branch.get("required").and_then(Value::as_array) {
                required.extend(r.iter().cloned());
            }
        }
        merged.insert("type".into(), json!("object"));
        merged.insert("properties".into(), Value::Object(properties));
        merged.insert("required".into(), Value::Array(required));
        if let Some(description) = obj.get("description") {
            merged.insert("description".into(), description.clone());
        }
        self.lower_object(&merged, pointer, hint, depth)
    }

    fn fresh_name(&mut self, hint: &str) -> String {
        let mut name = naming::type_name(hint);
        if naming::RESERVED_TYPE_NAMES.contains(&name.as_str()) {
            name.push_str("Type");
        }
        naming::uniquify(&mut self.names, name)
    }

    /// A loose output schema for a JSON response: top-level property names
    /// and their JSON types, nothing required. `None` unless the response is
    /// an object.
    pub fn output_schema(&self, schema: &Value) -> Option<Value> {
        let (resolved, _) = deref(&self.spec.raw, schema);
        let obj = resolved.as_object()?;
        let properties = obj.get("properties").and_then(Value::as_object)?;
        let is_object = obj
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "object");
        if !is_object || properties.is_empty() {
            return None;
        }
        let mut props = Map::new();
        for (name, prop) in properties {
            let (prop, _) = deref(&self.spec.raw, prop);
            let nullable = prop.get("nullable").and_then(Value::as_bool) == Some(true);
            let json_type = prop
                .get("type")
                .and_then(Value::as_str)
                .or_else(|| prop.get("properties").map(|_| "object"));
            let entry = match json_type {
                Some(t)
                    if !nullable
                        && matches!(
                            t,
                            "string" | "integer" | "number" | "boolean" | "array" | "object"
                        ) =>
                {
                    json!({"type": t})
                }
                _ => json!({}),
            };
            props.insert(name.clone(), entry);
        }
        Some(json!({"type": "object", "properties": props}))
    }
}

fn description_of(obj: &Map<String, Value>) -> Option<String> {
    obj.get("description")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
}

fn copy_keys(from: &Map<String, Value>, to: &mut Value, keys: &[&str]) {
    if let Some(to) = to.as_object_mut() {
        for key in keys {
            if let Some(v) = from.get(*key) {
                to.insert((*key).to_owned(), v.clone());
            }
        }
    }
}

/// Adds `null` to a schema's accepted types.
pub fn make_nullable(json: &mut Value) {
    let Some(map) = json.as_object_mut() else {
        return;
    };
    if let Some(Value::String(t)) = map.get("type").cloned() {
        map.insert("type".into(), json!([t, "null"]));
        if let Some(Value::Array(values)) = map.get_mut("enum") {
            values.push(Value::Null);
        }
    }
}

/// Sets `description` on a schema object.
pub fn set_description(json: &mut Value, description: &str) {
    if description.is_empty() {
        return;
    }
    if let Some(map) = json.as_object_mut() {
        map.insert("description".into(), Value::String(description.to_owned()));
    }
}
