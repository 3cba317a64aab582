//! OpenAPI 3.0 schema → (Rust type, self-contained MCP JSON Schema).
//!
//! One walker produces both, so the typed struct and the schema the model
//! sees can never disagree. It types the shapes Atlassian's specs use:
//! `allOf` (merged), `oneOf`/`anyOf` (an untagged enum; the JSON Schema keeps
//! the combinator and any `discriminator`), `additionalProperties` (typed maps,
//! flattened beside typed properties), `nullable`, recursive schemas (boxed in
//! Rust, `$defs` + `$ref` in the JSON Schema) and free-form `{}` values.
//! A shape it still cannot type becomes `serde_json::Value` and is recorded as
//! a [`Loss`] with its path inside the value; for a request body the caller
//! turns losses into errors (unless the tool declares `loose_body`), for a
//! parameter into warnings. Nothing here panics on spec input.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::diagnostics::{Diagnostic, Location};
use crate::naming;
use crate::spec::{Spec, deref};

/// Longest description kept for a top-level argument or body property.
pub const DESCRIPTION_MAX: usize = 80;
/// Body depth (in properties) from which a referenced object or union is
/// written once under `$defs` and referred to, instead of inlined again:
/// keeps the schemas of deeply nested bodies small.
const INLINE_DEPTH: usize = 3;
/// Deepest `allOf` nesting merged (guards against `allOf` reference loops).
const MAX_ALL_OF_NESTING: usize = 16;

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
    /// `Option<T>` inside a collection: a nullable array item or map value.
    Nullable(Box<RustType>),
    /// `Box<T>`: the back edge of a recursive schema.
    Boxed(Box<RustType>),
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
        /// Other members (`additionalProperties`), flattened into a map.
        additional: Option<Field>,
    },
    /// A string enum.
    Enum {
        /// Doc comment.
        doc: Option<String>,
        /// `(variant ident, wire value)` pairs.
        variants: Vec<(String, String)>,
    },
    /// `oneOf`/`anyOf`: an untagged enum, one variant per branch.
    Untagged {
        /// Doc comment.
        doc: Option<String>,
        /// `(variant ident, type)` pairs in spec order.
        variants: Vec<(String, RustType)>,
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
    /// Required but `nullable`: an `Option` that is sent as `null` when `None`.
    pub nullable: bool,
    /// Doc comment.
    pub doc: Option<String>,
}

/// A shape the walker could not type (it became `serde_json::Value`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loss {
    /// Property names from the lowered value down to the shape (array items,
    /// map values and combinator branches add no segment).
    pub path: Vec<String>,
    /// JSON pointer of the shape in the spec.
    pub pointer: String,
    /// What could not be typed.
    pub reason: String,
}

/// The result of lowering a request body.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// The Rust type.
    pub ty: RustType,
    /// The JSON Schema (may contain `$ref: #/$defs/...` for recursive types).
    pub json: Value,
    /// Shapes typed as `serde_json::Value` because they could not be typed.
    pub losses: Vec<Loss>,
    /// `$defs` the JSON Schema needs at its root (recursive types).
    pub defs: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
struct Cached {
    ty: RustType,
    json: Value,
    losses: Vec<Loss>,
    defs: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct Frame {
    base: usize,
    losses: Vec<Loss>,
    defs: BTreeSet<String>,
}

#[derive(Debug)]
struct InProgress {
    reference: String,
    /// The Rust type name of the referenced schema, once allocated.
    name: Option<String>,
}

/// The generated types of one product, and the diagnostics found making them.
#[derive(Debug)]
pub struct TypeSpace<'s> {
    spec: &'s Spec,
    /// Types by name, in stable order.
    pub types: BTreeMap<String, TypeDef>,
    names: BTreeSet<String>,
    by_ref: BTreeMap<String, Cached>,
    stack: Vec<InProgress>,
    /// Schemas of recursive types by type name, with the defs they need.
    defs: BTreeMap<String, (Value, BTreeSet<String>)>,
    recursive: BTreeSet<String>,
    frames: Vec<Frame>,
    path: Vec<String>,
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
            defs: BTreeMap::new(),
            recursive: BTreeSet::new(),
            frames: Vec::new(),
            path: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Records a shape that could not be typed; it is typed `serde_json::Value`.
    fn lose(&mut self, pointer: &str, reason: impl Into<String>) -> (RustType, Value) {
        let path = match self.frames.last() {
            Some(frame) => self.path.get(frame.base..).unwrap_or_default().to_vec(),
            None => Vec::new(),
        };
        if let Some(frame) = self.frames.last_mut() {
            frame.losses.push(Loss {
                path,
                pointer: pointer.to_owned(),
                reason: reason.into(),
            });
        }
        (RustType::Value, json!({}))
    }

    fn push_frame(&mut self) {
        self.frames.push(Frame {
            base: self.path.len(),
            ..Frame::default()
        });
    }

    fn pop_frame(&mut self) -> Frame {
        self.frames.pop().unwrap_or_default()
    }

    /// Adds a finished child's losses and defs to the current frame; the
    /// child's paths are relative to where it is used now.
    fn merge_into_frame(&mut self, losses: &[Loss], defs: &BTreeSet<String>) {
        let prefix = match self.frames.last() {
            Some(frame) => self.path.get(frame.base..).unwrap_or_default().to_vec(),
            None => return,
        };
        if let Some(frame) = self.frames.last_mut() {
            for loss in losses {
                let mut path = prefix.clone();
                path.extend(loss.path.iter().cloned());
                frame.losses.push(Loss {
                    path,
                    pointer: loss.pointer.clone(),
                    reason: loss.reason.clone(),
                });
            }
            frame.defs.extend(defs.iter().cloned());
        }
    }

    /// Lowers a schema used as a parameter value: shapes that cannot be typed
    /// are warnings. `hint` names the type if one must be created.
    pub fn lower(&mut self, schema: &Value, pointer: &str, hint: &str) -> (RustType, Value) {
        let mut lowered = self.lower_body(schema, pointer, hint);
        if !lowered.defs.is_empty() {
            // A parameter's schema has no `$defs` to point into.
            lowered.losses.push(Loss {
                path: Vec::new(),
                pointer: pointer.to_owned(),
                reason: "recursive or deeply nested parameter schema".into(),
            });
            lowered.ty = RustType::Value;
            lowered.json = json!({});
        }
        for loss in &lowered.losses {
            self.diagnostics.push(Diagnostic::warning(
                Location::Spec {
                    file: self.spec.file.clone(),
                    pointer: loss.pointer.clone(),
                },
                format!("{}; typed as serde_json::Value", loss.reason),
            ));
        }
        (lowered.ty, lowered.json)
    }

    /// Lowers a request body: the type, its JSON Schema, the `$defs` that
    /// schema needs, and every shape that could not be typed.
    pub fn lower_body(&mut self, schema: &Value, pointer: &str, hint: &str) -> Lowered {
        let saved_path = std::mem::take(&mut self.path);
        self.push_frame();
        let (ty, json) = self.lower_at(schema, pointer, hint, false);
        let frame = self.pop_frame();
        self.path = saved_path;
        // A recursive body type is written out at the root (its back edges
        // still point into `$defs`), so overrides and checks can walk it.
        let json = match json.get("$ref").and_then(Value::as_str) {
            Some(target) if json.as_object().is_some_and(|m| m.len() == 1) => target
                .strip_prefix("#/$defs/")
                .and_then(|name| self.defs.get(name))
                .map_or(json.clone(), |(def, _)| def.clone()),
            _ => json,
        };
        let mut defs = BTreeMap::new();
        let mut todo: Vec<String> = frame.defs.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            if defs.contains_key(&name) {
                continue;
            }
            if let Some((def, needs)) = self.defs.get(&name) {
                defs.insert(name.clone(), def.clone());
                todo.extend(needs.iter().cloned());
            }
        }
        let mut losses = frame.losses;
        losses.sort();
        losses.dedup();
        Lowered {
            ty,
            json,
            losses,
            defs,
        }
    }

    fn lower_at(
        &mut self,
        schema: &Value,
        pointer: &str,
        hint: &str,
        claim: bool,
    ) -> (RustType, Value) {
        let Some(obj) = schema.as_object() else {
            // `true`/missing schemas accept anything.
            return (RustType::Value, json!({}));
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            // Keys beside `$ref` (kept because we read raw JSON) still apply.
            let (ty, mut json) = self.lower_ref(reference, pointer);
            if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
                make_nullable(&mut json);
            }
            return (ty, json);
        }
        let (ty, mut json) = self.lower_inline(obj, pointer, hint, claim);
        if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
            make_nullable(&mut json);
        }
        (ty, json)
    }

    fn lower_ref(&mut self, reference: &str, pointer: &str) -> (RustType, Value) {
        if let Some(found) = self.by_ref.get(reference).cloned() {
            self.merge_into_frame(&found.losses, &found.defs);
            let json = self.defer_if_deep(&found.ty, found.json, &found.defs);
            return (found.ty, json);
        }
        let ref_name = reference.rsplit('/').next().unwrap_or(reference).to_owned();
        if let Some(entry) = self.stack.iter().find(|e| e.reference == reference) {
            // A recursive schema: the back edge is a `Box` in Rust and a
            // `$ref` into the input schema's `$defs`.
            let Some(name) = entry.name.clone() else {
                return self.lose(
                    pointer,
                    format!("recursive schema {reference} that is not an object or a oneOf/anyOf"),
                );
            };
            self.recursive.insert(reference.to_owned());
            if let Some(frame) = self.frames.last_mut() {
                frame.defs.insert(name.clone());
            }
            return (
                RustType::Boxed(Box::new(RustType::Named(name.clone()))),
                json!({"$ref": format!("#/$defs/{name}")}),
            );
        }
        let Some(target) = self.spec.resolve_ref(reference).cloned() else {
            return self.lose(pointer, format!("unresolved $ref {reference}"));
        };
        let target_pointer = reference.trim_start_matches('#').to_owned();
        self.stack.push(InProgress {
            reference: reference.to_owned(),
            name: None,
        });
        self.push_frame();
        let (ty, mut json) = self.lower_at(&target, &target_pointer, &ref_name, true);
        let mut frame = self.pop_frame();
        let entry = self.stack.pop();
        if self.recursive.contains(reference)
            && let Some(name) = entry.and_then(|e| e.name)
        {
            let mut needs = frame.defs.clone();
            needs.remove(&name);
            self.defs.insert(name.clone(), (json, needs));
            json = json!({"$ref": format!("#/$defs/{name}")});
            frame.defs.insert(name);
        }
        let cached = Cached {
            ty: ty.clone(),
            json: json.clone(),
            losses: frame.losses,
            defs: frame.defs,
        };
        self.merge_into_frame(&cached.losses, &cached.defs);
        let defs = cached.defs.clone();
        self.by_ref.insert(reference.to_owned(), cached);
        let json = self.defer_if_deep(&ty, json, &defs);
        (ty, json)
    }

    /// Deep in a body, a named object or union is written once under `$defs`
    /// and referred to.
    fn defer_if_deep(&mut self, ty: &RustType, json: Value, needs: &BTreeSet<String>) -> Value {
        let RustType::Named(name) = ty else {
            return json;
        };
        let is_compound = matches!(
            self.types.get(name),
            Some(TypeDef::Struct { .. } | TypeDef::Untagged { .. })
        );
        if self.frames.is_empty()
            || self.path.len() < INLINE_DEPTH
            || !is_compound
            || json.get("$ref").is_some()
        {
            return json;
        }
        self.defs
            .entry(name.clone())
            .or_insert_with(|| (json, needs.clone()));
        if let Some(frame) = self.frames.last_mut() {
            frame.defs.insert(name.clone());
        }
        json!({"$ref": format!("#/$defs/{name}")})
    }

    /// Gives the type being created the name the reference in progress
    /// needs for its back edges.
    fn claim_name(&mut self, claim: bool, name: &str) {
        if claim && let Some(entry) = self.stack.last_mut() {
            entry.name = Some(name.to_owned());
        }
    }

    fn lower_inline(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
        claim: bool,
    ) -> (RustType, Value) {
        // allOf: a single branch is that branch; several merge into one object.
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            if let [single] = all.as_slice() {
                return self.lower_at(single, &format!("{pointer}/allOf/0"), hint, claim);
            }
            return self.lower_all_of(obj, pointer, hint, claim);
        }
        let one_of = obj.get("oneOf").and_then(Value::as_array);
        let any_of = obj.get("anyOf").and_then(Value::as_array);
        match (one_of, any_of) {
            (Some(_), Some(_)) => {
                return self.lose(pointer, "oneOf together with anyOf");
            }
            (Some(branches), None) | (None, Some(branches))
                if !branches.iter().all(is_constraint_only) =>
            {
                let keyword = if one_of.is_some() { "oneOf" } else { "anyOf" };
                return self.lower_union(obj, keyword, branches, pointer, hint, claim);
            }
            _ => {}
        }
        let (ty, mut json) = match obj.get("type") {
            Some(Value::String(t)) => self.lower_typed(t, obj, pointer, hint, claim),
            Some(Value::Array(types)) => {
                // OpenAPI 3.1 style: `[T, "null"]` is a nullable T.
                let named: Vec<&str> = types
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|t| *t != "null")
                    .collect();
                match named.as_slice() {
                    [t] if named.len() + 1 >= types.len() => {
                        let (ty, mut json) = self.lower_typed(t, obj, pointer, hint, claim);
                        if named.len() < types.len() {
                            make_nullable(&mut json);
                        }
                        (ty, json)
                    }
                    _ => self.lose(pointer, "type array (OpenAPI 3.1 style) of several types"),
                }
            }
            Some(_) => self.lose(pointer, "malformed type"),
            None if obj.contains_key("properties") || obj.contains_key("additionalProperties") => {
                self.lower_object(obj, pointer, hint, claim)
            }
            None => (RustType::Value, json!({})),
        };
        // Constraint-only combinators (`oneOf: [{required: [a]}, {required: [b]}]`)
        // do not change the type; the model still sees them.
        for keyword in ["oneOf", "anyOf"] {
            if let (Some(branches), Some(map)) = (obj.get(keyword), json.as_object_mut()) {
                map.insert(keyword.to_owned(), branches.clone());
            }
        }
        (ty, json)
    }

    fn lower_typed(
        &mut self,
        t: &str,
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
        claim: bool,
    ) -> (RustType, Value) {
        match t {
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
                    false,
                );
                let item_ty = nullable_in_collection(item_ty, &item_json);
                let mut json = json!({"type": "array", "items": item_json});
                copy_keys(obj, &mut json, &["minItems", "maxItems", "uniqueItems"]);
                (RustType::Vec(Box::new(item_ty)), json)
            }
            "object" => self.lower_object(obj, pointer, hint, claim),
            other => self.lose(pointer, format!("unknown type {other:?}")),
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
        claim: bool,
    ) -> (RustType, Value) {
        let properties = obj.get("properties").and_then(Value::as_object);
        let has_props = properties.is_some_and(|p| !p.is_empty());
        // `additionalProperties`: a schema types the other members; `true`
        // (or, without properties, absence) leaves them free-form.
        let additional = match obj.get("additionalProperties") {
            Some(Value::Object(schema)) if !schema.is_empty() => {
                Some(Value::Object(schema.clone()))
            }
            Some(Value::Object(_)) | Some(Value::Bool(true)) => Some(json!({})),
            Some(_) => None,
            None if !has_props => Some(json!({})),
            None => None,
        };
        let lower_additional = |space: &mut Self, schema: &Value, value_hint: &str| {
            let (ty, json) = space.lower_at(
                schema,
                &format!("{pointer}/additionalProperties"),
                value_hint,
                false,
            );
            (nullable_in_collection(ty, &json), json)
        };
        if !has_props {
            let Some(schema) = additional else {
                // `additionalProperties: false` and no properties: an empty object.
                return (
                    RustType::Map(Box::new(RustType::Value)),
                    json!({"type": "object", "additionalProperties": false}),
                );
            };
            let (value_ty, value_json) = lower_additional(self, &schema, &format!("{hint}Value"));
            let json = if value_json.as_object().is_some_and(Map::is_empty) {
                json!({"type": "object"})
            } else {
                json!({"type": "object", "additionalProperties": value_json})
            };
            return (RustType::Map(Box::new(value_ty)), json);
        }
        let name = self.fresh_name(hint);
        self.claim_name(claim, &name);
        // Reserve the name before recursing so nested types do not take it.
        self.types.insert(
            name.clone(),
            TypeDef::Struct {
                doc: None,
                fields: Vec::new(),
                additional: None,
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
            self.path.push(prop.clone());
            let top_level = self.path.len() == 1;
            let (ty, mut prop_json) = self.lower_at(prop_schema, &prop_pointer, &prop_hint, false);
            self.path.pop();
            let doc = description_of(prop_schema.as_object().unwrap_or(&Map::new()))
                .or_else(|| resolved.as_object().and_then(description_of));
            if top_level && let Some(doc) = &doc {
                set_description(
                    &mut prop_json,
                    &naming::short_description(doc, DESCRIPTION_MAX),
                );
            }
            let is_required = required.contains(prop.as_str());
            let nullable = resolved.get("nullable").and_then(Value::as_bool) == Some(true)
                || prop_schema.get("nullable").and_then(Value::as_bool) == Some(true)
                || accepts_null(&prop_json);
            if is_required {
                json_required.push(Value::String(prop.clone()));
            }
            json_props.insert(prop.clone(), prop_json);
            fields.push(Field {
                api_name: prop.clone(),
                ident: naming::uniquify_field(&mut idents, naming::field_ident(prop)),
                ty,
                required: is_required && !nullable,
                nullable: is_required && nullable,
                doc,
            });
        }
        let mut json = json!({"type": "object", "properties": json_props});
        let additional = match additional {
            Some(schema) => {
                let (value_ty, value_json) =
                    lower_additional(self, &schema, &format!("{name}Value"));
                if let Some(map) = json.as_object_mut()
                    && !value_json.as_object().is_some_and(Map::is_empty)
                {
                    map.insert("additionalProperties".into(), value_json);
                }
                Some(Field {
                    api_name: String::new(),
                    ident: naming::uniquify_field(&mut idents, "additional_properties".into()),
                    ty: RustType::Map(Box::new(value_ty)),
                    required: true,
                    nullable: false,
                    doc: Some("Members beside the named properties.".into()),
                })
            }
            None => {
                if let Some(map) = json.as_object_mut() {
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                None
            }
        };
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
                additional,
            },
        );
        (RustType::Named(name), json)
    }

    /// Merges the object branches of an `allOf` (following `$ref`s and
    /// nested `allOf`s) into one object and lowers that.
    fn lower_all_of(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
        claim: bool,
    ) -> (RustType, Value) {
        let mut merged = Map::new();
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut additional: Option<Value> = None;
        if let Err(reason) =
            self.collect_all_of(obj, &mut properties, &mut required, &mut additional, 0)
        {
            return self.lose(pointer, reason);
        }
        merged.insert("type".into(), json!("object"));
        merged.insert("properties".into(), Value::Object(properties));
        merged.insert("required".into(), Value::Array(required));
        if let Some(additional) = additional {
            merged.insert("additionalProperties".into(), additional);
        }
        if let Some(description) = obj.get("description") {
            merged.insert("description".into(), description.clone());
        }
        self.lower_object(&merged, pointer, hint, claim)
    }

    fn collect_all_of(
        &self,
        obj: &Map<String, Value>,
        properties: &mut Map<String, Value>,
        required: &mut Vec<Value>,
        additional: &mut Option<Value>,
        nesting: usize,
    ) -> Result<(), String> {
        if nesting > MAX_ALL_OF_NESTING {
            return Err("allOf nested too deeply (a reference loop?)".into());
        }
        if let Some(p) = obj.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                properties.insert(k.clone(), v.clone());
            }
        }
        if let Some(r) = obj.get("required").and_then(Value::as_array) {
            for name in r {
                if !required.contains(name) {
                    required.push(name.clone());
                }
            }
        }
        if let Some(a) = obj.get("additionalProperties")
            && a != &Value::Bool(false)
        {
            *additional = Some(a.clone());
        }
        for branch in obj
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (resolved, _) = deref(&self.spec.raw, branch);
            let Some(branch) = resolved.as_object() else {
                continue;
            };
            if branch.contains_key("oneOf") || branch.contains_key("anyOf") {
                if branch
                    .get("oneOf")
                    .or_else(|| branch.get("anyOf"))
                    .and_then(Value::as_array)
                    .is_some_and(|b| b.iter().all(is_constraint_only))
                {
                    // Constraints only; the merged object keeps its members.
                } else {
                    return Err("allOf with a oneOf/anyOf branch".into());
                }
            }
            let kind = branch.get("type").and_then(Value::as_str);
            let is_object = kind == Some("object")
                || branch.contains_key("properties")
                || branch.contains_key("allOf")
                || branch.contains_key("additionalProperties");
            if !is_object && kind.is_some() {
                return Err(format!(
                    "allOf over a non-object branch (type {})",
                    kind.unwrap_or_default()
                ));
            }
            // A branch without a type only annotates (description, nullable).
            self.collect_all_of(branch, properties, required, additional, nesting + 1)?;
        }
        Ok(())
    }

    /// `oneOf`/`anyOf`: an untagged enum with one variant per branch. A
    /// `{type: null}` branch makes the whole nullable; a single remaining
    /// branch is that branch.
    fn lower_union(
        &mut self,
        obj: &Map<String, Value>,
        keyword: &str,
        branches: &[Value],
        pointer: &str,
        hint: &str,
        claim: bool,
    ) -> (RustType, Value) {
        let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
        let non_null: Vec<(usize, &Value)> = branches
            .iter()
            .enumerate()
            .filter(|(_, b)| !is_null(b))
            .collect();
        let nullable = non_null.len() < branches.len();
        if let [(index, single)] = non_null.as_slice() {
            let (ty, mut json) =
                self.lower_at(single, &format!("{pointer}/{keyword}/{index}"), hint, claim);
            if nullable {
                make_nullable(&mut json);
            }
            return (ty, json);
        }
        if non_null.is_empty() {
            return self.lose(pointer, format!("{keyword} without branches"));
        }
        let name = self.fresh_name(hint);
        self.claim_name(claim, &name);
        self.types.insert(
            name.clone(),
            TypeDef::Untagged {
                doc: None,
                variants: Vec::new(),
            },
        );
        let mut taken = BTreeSet::new();
        let mut variants = Vec::new();
        let mut json_branches = Vec::new();
        for (index, branch) in non_null {
            let label = branch_label(&self.spec.raw, branch, index);
            let variant = naming::uniquify(&mut taken, naming::type_name(&label));
            let (ty, json) = self.lower_at(
                branch,
                &format!("{pointer}/{keyword}/{index}"),
                &format!("{name}{variant}"),
                false,
            );
            variants.push((variant, ty));
            json_branches.push(json);
        }
        if nullable {
            json_branches.push(json!({"type": "null"}));
        }
        let mut json = Map::new();
        json.insert(keyword.to_owned(), Value::Array(json_branches));
        if let Some(property) = obj
            .get("discriminator")
            .and_then(|d| d.get("propertyName"))
            .cloned()
        {
            json.insert("discriminator".into(), json!({"propertyName": property}));
        }
        self.types.insert(
            name.clone(),
            TypeDef::Untagged {
                doc: description_of(obj),
                variants,
            },
        );
        (RustType::Named(name), Value::Object(json))
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

/// Adds `null` to a schema's accepted values.
pub fn make_nullable(json: &mut Value) {
    let Some(map) = json.as_object_mut() else {
        return;
    };
    if map.is_empty() {
        // `{}` already accepts null.
        return;
    }
    if let Some(Value::String(t)) = map.get("type").cloned() {
        map.insert("type".into(), json!([t, "null"]));
        if let Some(Value::Array(values)) = map.get_mut("enum") {
            values.push(Value::Null);
        }
        return;
    }
    if map.contains_key("type") {
        return;
    }
    for keyword in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(keyword) {
            if !branches.iter().any(|b| b == &json!({"type": "null"})) {
                branches.push(json!({"type": "null"}));
            }
            return;
        }
    }
    // A `$ref`: its siblings would be ignored by draft-7 validators.
    let inner = std::mem::take(map);
    map.insert(
        "anyOf".into(),
        json!([Value::Object(inner), {"type": "null"}]),
    );
}

/// An array item or map value the schema lets be `null` is an `Option`
/// (`serde_json::Value` holds `null` itself).
fn nullable_in_collection(ty: RustType, json: &Value) -> RustType {
    if accepts_null(json) && ty != RustType::Value {
        RustType::Nullable(Box::new(ty))
    } else {
        ty
    }
}

/// True when a lowered schema says `null` explicitly (a `[T, "null"]` type or
/// a `{type: null}` branch).
fn accepts_null(json: &Value) -> bool {
    let null = json!("null");
    json.get("type")
        .and_then(Value::as_array)
        .is_some_and(|t| t.contains(&null))
        || ["oneOf", "anyOf"].iter().any(|k| {
            json.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|b| b.iter().any(|b| b.get("type") == Some(&null)))
        })
}

/// A combinator branch that only constrains (e.g. `{required: [a]}`), with
/// no type of its own.
fn is_constraint_only(branch: &Value) -> bool {
    branch.as_object().is_some_and(|b| {
        !b.is_empty()
            && b.keys().all(|k| {
                matches!(
                    k.as_str(),
                    "required"
                        | "description"
                        | "title"
                        | "not"
                        | "minProperties"
                        | "maxProperties"
                )
            })
    })
}

/// A variant name for a combinator branch: the referenced schema's name,
/// else its type, else its position.
fn branch_label(raw: &Value, branch: &Value, index: usize) -> String {
    if let Some(reference) = branch.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    let (resolved, _) = deref(raw, branch);
    if let Some(title) = resolved.get("title").and_then(Value::as_str)
        && title.chars().any(char::is_alphanumeric)
    {
        return title.to_owned();
    }
    match resolved.get("type").and_then(Value::as_str) {
        Some("string") => "String".into(),
        Some("integer") => "Integer".into(),
        Some("number") => "Number".into(),
        Some("boolean") => "Boolean".into(),
        Some("array") => "Array".into(),
        Some("object") => "Object".into(),
        _ => format!("Variant{index}"),
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
