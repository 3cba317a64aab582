//! Conversion of OpenAPI 3.0 schema objects into JSON Schema (draft 7).
//!
//! Every converted schema refers to component schemas only through
//! `{"$ref": "#/definitions/<Name>"}`; the validator (see `validate.rs`) embeds
//! the referenced definitions next to the schema it compiles, and the response
//! synthesizer (see `synth.rs`) looks them up in the spec's definition map.
//!
//! The known defects of Atlassian's specs that concern schemas (see
//! `specs/SOURCES.md`, "Known defects") are corrected here:
//! Java regex classes, a pattern that lost its brackets, trailing newlines in
//! patterns, `oneOf` over open objects, `nullable` next to `anyOf`, `required`
//! names that are not declared under `additionalProperties: false`, and
//! `type: string` parameters whose real schema hides under `items`.

use serde_json::{Map, Value, json};

/// Types that JSON Schema knows; anything else in a `type` is dropped.
const JSON_TYPES: [&str; 7] = [
    "string", "number", "integer", "boolean", "array", "object", "null",
];

/// Keywords copied unchanged (after recursion where they hold schemas).
const KEPT: [&str; 18] = [
    "format",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "default",
    "readOnly",
    "writeOnly",
    "const",
    "enum",
    "required",
    "pattern",
];

/// How deep inlined (non-component) references may nest before giving up.
const MAX_INLINE_DEPTH: usize = 24;

/// Prefix of references to component schemas in an OpenAPI document.
const COMPONENT_PREFIX: &str = "#/components/schemas/";

/// Converts schemas of one OpenAPI document.
pub(crate) struct Converter<'a> {
    /// The whole (raw) OpenAPI document, for resolving references.
    doc: &'a Value,
}

impl<'a> Converter<'a> {
    /// A converter for schemas of `doc`.
    pub(crate) fn new(doc: &'a Value) -> Self {
        Self { doc }
    }

    /// Convert one OpenAPI schema object into JSON Schema draft 7.
    pub(crate) fn convert(&self, schema: &Value) -> Value {
        self.convert_at(schema, 0)
    }

    fn convert_at(&self, schema: &Value, depth: usize) -> Value {
        let Some(obj) = schema.as_object() else {
            // `true`/`false` or garbage: booleans are valid schemas, the rest accepts anything.
            return match schema {
                Value::Bool(_) => schema.clone(),
                _ => json!({}),
            };
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            let converted = self.convert_ref(reference, depth);
            return if obj.get("nullable") == Some(&Value::Bool(true)) {
                json!({"anyOf": [converted, {"type": "null"}]})
            } else {
                // Draft 7 ignores siblings of `$ref`; OpenAPI 3.0 too (they are docs, or an
                // invalid `type` as in org-admin's `GroupCounts`).
                converted
            };
        }
        // Confluence v2: `{"type":"string","items":{...}}` hides the real (enum) schema under items.
        if obj.get("type").and_then(Value::as_str) == Some("string")
            && let Some(items) = obj.get("items")
        {
            let mut inner = self.convert_at(items, depth);
            if obj.get("nullable") == Some(&Value::Bool(true)) {
                inner = json!({"anyOf": [inner, {"type": "null"}]});
            }
            return inner;
        }

        let mut out = Map::new();
        let nullable = obj.get("nullable") == Some(&Value::Bool(true));
        for (key, value) in obj {
            match key.as_str() {
                "type" => {
                    if let Some(t) = value.as_str()
                        && JSON_TYPES.contains(&t)
                    {
                        out.insert(key.clone(), value.clone());
                    }
                }
                "properties" => {
                    if let Some(props) = value.as_object() {
                        let converted: Map<String, Value> = props
                            .iter()
                            .map(|(name, s)| (name.clone(), self.convert_at(s, depth)))
                            .collect();
                        out.insert(key.clone(), Value::Object(converted));
                    }
                }
                "items" | "not" => {
                    out.insert(key.clone(), self.convert_at(value, depth));
                }
                "additionalProperties" => {
                    let converted = match value {
                        Value::Bool(_) => value.clone(),
                        other => self.convert_at(other, depth),
                    };
                    out.insert(key.clone(), converted);
                }
                "allOf" | "anyOf" | "oneOf" => {
                    if let Some(branches) = value.as_array() {
                        let converted: Vec<Value> =
                            branches.iter().map(|b| self.convert_at(b, depth)).collect();
                        let name = if key == "oneOf" && self.any_open_branch(branches) {
                            "anyOf"
                        } else {
                            key.as_str()
                        };
                        // `type: object` + `oneOf` + ... may already hold an anyOf: combine via allOf.
                        if let Some(existing) = out.remove(name) {
                            let prev = json!({ name: existing });
                            let next = json!({ name: converted });
                            push_all_of(&mut out, prev);
                            push_all_of(&mut out, next);
                        } else {
                            out.insert(name.to_string(), Value::Array(converted));
                        }
                    }
                }
                "pattern" => {
                    if let Some(p) = value.as_str() {
                        out.insert(key.clone(), Value::String(fix_pattern(p)));
                    }
                }
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    // Handled below (OpenAPI 3.0 uses booleans, draft 7 numbers).
                }
                k if KEPT.contains(&k) => {
                    out.insert(key.clone(), value.clone());
                }
                // nullable (handled below), discriminator, xml, example, externalDocs,
                // title, description, deprecated, x-* ... : dropped.
                _ => {}
            }
        }
        fix_exclusive(obj, &mut out, "exclusiveMinimum", "minimum");
        fix_exclusive(obj, &mut out, "exclusiveMaximum", "maximum");
        fix_required(&mut out);
        if nullable {
            return make_nullable(out);
        }
        Value::Object(out)
    }

    /// Convert a `$ref`: component schemas stay references (to `#/definitions/`),
    /// anything deeper or elsewhere in the document is inlined.
    fn convert_ref(&self, reference: &str, depth: usize) -> Value {
        if let Some(rest) = reference.strip_prefix(COMPONENT_PREFIX)
            && !rest.contains('/')
        {
            let name = decode_pointer_segment(rest);
            return json!({"$ref": definition_ref(&name)});
        }
        if depth >= MAX_INLINE_DEPTH {
            return json!({});
        }
        match resolve_pointer(self.doc, reference) {
            Some(target) => self.convert_at(target, depth + 1),
            None => json!({}),
        }
    }

    /// Whether any `oneOf` branch is an "open" object (no `required`, no
    /// `additionalProperties: false`) or an unconstrained schema: such branches
    /// overlap, so strict `oneOf` would reject valid data (SOURCES.md defect).
    fn any_open_branch(&self, branches: &[Value]) -> bool {
        branches.iter().any(|branch| {
            let resolved = self.resolve_shallow(branch);
            let Some(obj) = resolved.as_object() else {
                return true;
            };
            let typ = obj.get("type").and_then(Value::as_str);
            let objectish = typ == Some("object") || obj.contains_key("properties");
            if typ.is_none() && !objectish {
                // Compositions or untyped: treat as open (cannot prove disjointness cheaply).
                return true;
            }
            if !objectish {
                return false;
            }
            let has_required = obj
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty());
            let closed = obj.get("additionalProperties") == Some(&Value::Bool(false));
            !has_required && !closed
        })
    }

    /// Follow `$ref`s (a few hops) in the raw document.
    fn resolve_shallow<'v>(&'v self, value: &'v Value) -> &'v Value {
        let mut current = value;
        for _ in 0..8 {
            match current.get("$ref").and_then(Value::as_str) {
                Some(r) => match resolve_pointer(self.doc, r) {
                    Some(target) => current = target,
                    None => return current,
                },
                None => return current,
            }
        }
        current
    }
}

/// Add `schema` to the `allOf` of `out`.
fn push_all_of(out: &mut Map<String, Value>, schema: Value) {
    match out.get_mut("allOf").and_then(Value::as_array_mut) {
        Some(list) => list.push(schema),
        None => {
            out.insert("allOf".to_string(), Value::Array(vec![schema]));
        }
    }
}

/// OpenAPI 3.0 `exclusiveMinimum: true` + `minimum: m` → draft 7 `exclusiveMinimum: m`.
fn fix_exclusive(src: &Map<String, Value>, out: &mut Map<String, Value>, key: &str, bound: &str) {
    match src.get(key) {
        Some(Value::Bool(true)) => {
            if let Some(limit) = out.remove(bound) {
                out.insert(key.to_string(), limit);
            }
        }
        Some(v @ Value::Number(_)) => {
            out.insert(key.to_string(), v.clone());
        }
        _ => {}
    }
}

/// Drop duplicate `required` names, and names that `additionalProperties: false`
/// makes unsatisfiable (SOURCES.md defect in jira-platform).
fn fix_required(out: &mut Map<String, Value>) {
    let closed = out.get("additionalProperties") == Some(&Value::Bool(false));
    let declared: Vec<String> = out
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let Some(required) = out.get("required").and_then(Value::as_array) else {
        if out.contains_key("required") {
            out.remove("required");
        }
        return;
    };
    let mut kept: Vec<Value> = Vec::new();
    for name in required {
        let Some(n) = name.as_str() else { continue };
        if closed && !declared.iter().any(|d| d == n) {
            continue;
        }
        if !kept.iter().any(|k| k.as_str() == Some(n)) {
            kept.push(Value::String(n.to_string()));
        }
    }
    if kept.is_empty() {
        out.remove("required");
    } else {
        out.insert("required".to_string(), Value::Array(kept));
    }
}

/// Make a converted schema also accept `null` (OpenAPI 3.0 `nullable: true`).
fn make_nullable(mut out: Map<String, Value>) -> Value {
    if let Some(Value::Array(values)) = out.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    let constrains_type = out.contains_key("allOf")
        || out.contains_key("anyOf")
        || out.contains_key("oneOf")
        || out.contains_key("not")
        || out.contains_key("const");
    match out.get("type").and_then(Value::as_str).map(str::to_string) {
        Some(t) if !constrains_type => {
            out.insert("type".to_string(), json!([t, "null"]));
            Value::Object(out)
        }
        None if !constrains_type => Value::Object(out),
        _ => json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
    }
}

/// Letters for Java's `\p{L}`/`\p{Alpha}` in ECMAScript without the `u` flag:
/// ASCII letters and everything from U+00C0 up (close enough for a fake).
const LETTERS: &str = "A-Za-z\\u00C0-\\uFFFF";

/// Correct regex patterns that are not ECMAScript regexes (SOURCES.md defects):
/// Java classes `\p{Digit}`/`\p{L}`/`\p{Alpha}`, lost brackets in `(att)?0-9+`,
/// trailing newlines.
pub(crate) fn fix_pattern(pattern: &str) -> String {
    let p = pattern.trim_end_matches(['\n', '\r']);
    if p == "(att)?0-9+" {
        return "(att)?[0-9]+".to_string();
    }
    if !p.contains("\\p{") && !p.contains("\\P{") {
        return p.to_string();
    }
    let mut out = String::with_capacity(p.len() + 16);
    let mut in_class = false;
    let mut rest = p;
    while let Some(c) = rest.chars().next() {
        let replacement = [
            ("\\p{Digit}", "\\d", "\\d"),
            ("\\P{Digit}", "\\D", "\\D"),
            ("\\p{L}", LETTERS, ""),
            ("\\p{Alpha}", LETTERS, ""),
        ]
        .into_iter()
        .find(|(java, _, _)| rest.starts_with(java));
        if let Some((java, inner, outer)) = replacement {
            if in_class {
                out.push_str(inner);
            } else if outer.is_empty() {
                out.push('[');
                out.push_str(inner);
                out.push(']');
            } else {
                out.push_str(outer);
            }
            rest = &rest[java.len()..];
            continue;
        }
        if c == '\\' {
            let mut chars = rest.chars();
            chars.next();
            let escaped_len = 1 + chars.next().map_or(0, char::len_utf8);
            out.push_str(&rest[..escaped_len]);
            rest = &rest[escaped_len..];
            continue;
        }
        match c {
            '[' => in_class = true,
            ']' => in_class = false,
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `#/definitions/<name>` with the name escaped as a JSON pointer segment and
/// percent-encoded where a URI fragment needs it.
pub(crate) fn definition_ref(name: &str) -> String {
    let escaped = name.replace('~', "~0").replace('/', "~1");
    let encoded = percent_encoding::utf8_percent_encode(&escaped, FRAGMENT).to_string();
    format!("#/definitions/{encoded}")
}

/// Characters percent-encoded in a definition reference.
const FRAGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'%')
    .add(b'{')
    .add(b'}')
    .add(b'[')
    .add(b']')
    .add(b'^')
    .add(b'|')
    .add(b'\\');

/// The definition name a converted `$ref` points at, if it is a definition reference.
pub(crate) fn definition_name(reference: &str) -> Option<String> {
    reference
        .strip_prefix("#/definitions/")
        .map(decode_pointer_segment)
}

/// Percent-decode and JSON-pointer-unescape one pointer segment.
pub(crate) fn decode_pointer_segment(segment: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    decoded.replace("~1", "/").replace("~0", "~")
}

/// Resolve a local reference (`#/a/b`) in `doc`; the pointer may be percent-encoded
/// (automation.json writes `%7BruleUuid%7D`).
pub(crate) fn resolve_pointer<'v>(doc: &'v Value, reference: &str) -> Option<&'v Value> {
    let fragment = reference.strip_prefix('#')?;
    if fragment.is_empty() {
        return Some(doc);
    }
    let mut current = doc;
    for raw in fragment.strip_prefix('/')?.split('/') {
        let segment = decode_pointer_segment(raw);
        current = match current {
            Value::Object(map) => map.get(&segment)?,
            Value::Array(list) => list.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(schema: Value) -> Value {
        let doc = json!({"components": {"schemas": {
            "Open": {"type": "object", "properties": {"a": {"type": "string"}}},
            "Closed": {"type": "object", "required": ["b"], "properties": {"b": {"type": "string"}}, "additionalProperties": false},
            "Deep": {"type": "object", "properties": {"inner": {"type": "integer"}}}
        }}});
        Converter::new(&doc).convert(&schema)
    }

    #[test]
    fn nullable_types_accept_null() {
        assert_eq!(
            conv(json!({"type": "string", "nullable": true})),
            json!({"type": ["string", "null"]})
        );
        assert_eq!(
            conv(json!({"anyOf": [{"type": "string"}], "nullable": true})),
            json!({"anyOf": [{"anyOf": [{"type": "string"}]}, {"type": "null"}]})
        );
        assert_eq!(
            conv(json!({"type": "string", "enum": ["a"], "nullable": true})),
            json!({"type": ["string", "null"], "enum": ["a", null]})
        );
    }

    #[test]
    fn refs_and_dropped_keywords() {
        assert_eq!(
            conv(
                json!({"$ref": "#/components/schemas/Open", "description": "x", "type": "GroupCounts"})
            ),
            json!({"$ref": "#/definitions/Open"})
        );
        assert_eq!(
            conv(json!({"$ref": "#/components/schemas/Deep/properties/inner"})),
            json!({"type": "integer"})
        );
        assert_eq!(
            conv(
                json!({"type": "object", "xml": {"name": "x"}, "example": {}, "discriminator": {}, "externalDocs": {}})
            ),
            json!({"type": "object"})
        );
    }

    #[test]
    fn one_of_over_open_objects_becomes_any_of() {
        let open = conv(
            json!({"oneOf": [{"$ref": "#/components/schemas/Open"}, {"$ref": "#/components/schemas/Closed"}]}),
        );
        assert!(open.get("anyOf").is_some());
        let strict = conv(json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}));
        assert!(strict.get("oneOf").is_some());
    }

    #[test]
    fn pattern_and_required_fixes() {
        assert_eq!(fix_pattern("\\p{Digit}+\n"), "\\d+");
        let java = "^\\p{L}[\\p{L}\\p{Digit}_]{1,255}-\\p{Digit}{1,255}$";
        let fixed = fix_pattern(java);
        assert_eq!(
            fixed,
            "^[A-Za-z\\u00C0-\\uFFFF][A-Za-z\\u00C0-\\uFFFF\\d_]{1,255}-\\d{1,255}$"
        );
        let validator = jsonschema::draft7::new(&json!({"pattern": fixed})).unwrap();
        assert!(validator.is_valid(&json!("ABC-12")));
        assert!(validator.is_valid(&json!("ÄBC-12")));
        assert!(!validator.is_valid(&json!("1BC-12")));
        assert_eq!(fix_pattern("(att)?0-9+"), "(att)?[0-9]+");
        let fixed = conv(
            json!({"type": "object", "required": ["a", "ghost"], "properties": {"a": {}}, "additionalProperties": false}),
        );
        assert_eq!(fixed["required"], json!(["a"]));
        let excl = conv(json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true}));
        assert_eq!(excl, json!({"type": "integer", "exclusiveMinimum": 0}));
    }

    #[test]
    fn string_with_items_uses_items() {
        assert_eq!(
            conv(json!({"type": "string", "items": {"$ref": "#/components/schemas/Open"}})),
            json!({"$ref": "#/definitions/Open"})
        );
    }

    #[test]
    fn pointer_resolution_handles_percent_encoding() {
        let doc = json!({"paths": {"/a/{id}": {"get": 1}}});
        assert_eq!(
            resolve_pointer(&doc, "#/paths/~1a~1%7Bid%7D/get"),
            Some(&json!(1))
        );
        assert_eq!(definition_ref("A B"), "#/definitions/A%20B");
        assert_eq!(
            definition_name("#/definitions/A%20B").as_deref(),
            Some("A B")
        );
    }
}
