//! Synthesis of minimal, schema-valid, deterministic JSON instances.
//!
//! Only what the schema demands is produced: required properties, `minItems`
//! array items, `minProperties` entries. Enums take their first value,
//! `oneOf`/`anyOf` their first non-null branch, `allOf` branches are merged.
//! Strings honour `format` (date-time, date, uri, email, uuid, ...),
//! `minLength`/`maxLength` and, where possible, `pattern` (a few candidate
//! strings are tried). Recursion is bounded by depth and by not expanding a
//! definition that is already being expanded.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use crate::convert::definition_name;

/// Deeper than this, objects are `{}` and arrays `[]`.
const MAX_DEPTH: usize = 24;

/// Candidate strings tried against a `pattern`, in order.
const PATTERN_CANDIDATES: [&str; 16] = [
    "string",
    "10000",
    "ABC",
    "abc",
    "a",
    "A",
    "1",
    "ABC-1",
    "abc-123",
    "5b10ac8d82e05b22cc7d4ef5",
    "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
    "00000000-0000-4000-8000-000000000000",
    "ari:cloud:jira::site/00000000-0000-4000-8000-000000000000",
    "att10000",
    "https://example.atlassian.net",
    "a@example.com",
];

/// Cache of pattern → chosen string (compiling regexes is not free).
static PATTERN_CACHE: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// Synthesizes instances of schemas converted by `convert.rs`.
pub(crate) struct Synth<'a> {
    defs: &'a Map<String, Value>,
}

impl<'a> Synth<'a> {
    /// A synthesizer resolving references in `defs`.
    pub(crate) fn new(defs: &'a Map<String, Value>) -> Self {
        Self { defs }
    }

    /// A minimal valid instance of `schema`.
    pub(crate) fn instance(&self, schema: &Value) -> Value {
        let mut stack = Vec::new();
        self.gen_value(schema, 0, &mut stack)
    }

    fn gen_value(&self, schema: &Value, depth: usize, stack: &mut Vec<String>) -> Value {
        let Some(obj) = schema.as_object() else {
            return json!({});
        };
        if let Some(name) = obj
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(definition_name)
        {
            let Some(def) = self.defs.get(&name) else {
                return json!({});
            };
            if stack.iter().filter(|n| **n == name).count() >= 2 || depth > MAX_DEPTH {
                return self.shallow(def);
            }
            stack.push(name);
            let value = self.gen_value(def, depth + 1, stack);
            stack.pop();
            return value;
        }
        if let Some(c) = obj.get("const") {
            return c.clone();
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array)
            && let Some(first) = values.iter().find(|v| !v.is_null()).or(values.first())
        {
            return first.clone();
        }
        let mut value = match self.own_type(obj).as_deref() {
            Some("object") => self.gen_object(obj, depth, stack),
            Some("array") => self.gen_array(obj, depth, stack),
            Some("string") => Value::String(gen_string(obj)),
            Some("integer") => gen_integer(obj),
            Some("number") => gen_number(obj),
            Some("boolean") => Value::Bool(false),
            Some("null") => Value::Null,
            _ => Value::Null,
        };
        // Compositions refine (or, without an own type, define) the value.
        if let Some(branches) = obj.get("allOf").and_then(Value::as_array) {
            for branch in branches {
                let part = self.gen_value(branch, depth + 1, stack);
                value = merge(value, part);
            }
        }
        let mut null_branch = false;
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = obj.get(key).and_then(Value::as_array)
                && let Some(branch) = choose_branch(branches, stack)
            {
                let part = self.gen_value(branch, depth + 1, stack);
                null_branch |= part.is_null();
                value = merge(value, part);
            }
        }
        if value.is_null() && !null_branch && !self.allows_null(obj) {
            // Untyped, unconstrained schema: an empty object is as good as anything.
            return json!({});
        }
        value
    }

    /// The schema's own type (first non-null), inferred from keywords when absent.
    fn own_type(&self, obj: &Map<String, Value>) -> Option<String> {
        match obj.get("type") {
            Some(Value::String(t)) => return Some(t.clone()),
            Some(Value::Array(types)) => {
                return types
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                    .or_else(|| types.first().and_then(Value::as_str))
                    .map(str::to_string);
            }
            _ => {}
        }
        if obj.contains_key("properties")
            || obj.contains_key("required")
            || obj.contains_key("additionalProperties")
        {
            return Some("object".to_string());
        }
        if obj.contains_key("items") {
            return Some("array".to_string());
        }
        None
    }

    /// Whether `null` is what an untyped schema means (only `{"type": "null"}`).
    fn allows_null(&self, obj: &Map<String, Value>) -> bool {
        obj.get("type").and_then(Value::as_str) == Some("null")
    }

    fn gen_object(&self, obj: &Map<String, Value>, depth: usize, stack: &mut Vec<String>) -> Value {
        let mut out = Map::new();
        if depth > MAX_DEPTH {
            return Value::Object(out);
        }
        let empty = Map::new();
        let props = obj
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let extra = obj.get("additionalProperties");
        // Declared order first, then required names only `additionalProperties` covers.
        for (name, schema) in props {
            if required.contains(&name.as_str()) {
                out.insert(name.clone(), self.gen_value(schema, depth + 1, stack));
            }
        }
        for name in &required {
            if !out.contains_key(*name) {
                let value = match extra {
                    Some(s @ Value::Object(_)) => self.gen_value(s, depth + 1, stack),
                    _ => Value::String("string".to_string()),
                };
                out.insert((*name).to_string(), value);
            }
        }
        let min_props = obj
            .get("minProperties")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut candidates = props.iter();
        while (out.len() as u64) < min_props {
            if let Some((name, schema)) = candidates.next() {
                if !out.contains_key(name) {
                    out.insert(name.clone(), self.gen_value(schema, depth + 1, stack));
                }
            } else {
                let key = format!("key{}", out.len());
                let value = match extra {
                    Some(s @ Value::Object(_)) => self.gen_value(s, depth + 1, stack),
                    _ => Value::String("string".to_string()),
                };
                out.insert(key, value);
            }
        }
        Value::Object(out)
    }

    fn gen_array(&self, obj: &Map<String, Value>, depth: usize, stack: &mut Vec<String>) -> Value {
        let min = obj.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        if min == 0 || depth > MAX_DEPTH {
            return json!([]);
        }
        let items = obj.get("items").cloned().unwrap_or_else(|| json!({}));
        let first = self.gen_value(&items, depth + 1, stack);
        let unique = obj.get("uniqueItems") == Some(&Value::Bool(true));
        let mut out = vec![first];
        while (out.len() as u64) < min {
            let next = match (unique, out.last()) {
                (true, Some(prev)) => vary(prev, out.len()),
                (_, Some(prev)) => prev.clone(),
                (_, None) => json!({}),
            };
            out.push(next);
        }
        Value::Array(out)
    }

    /// A cheap instance of a definition met again while expanding itself.
    fn shallow(&self, def: &Value) -> Value {
        match def.as_object().and_then(|o| self.own_type(o)).as_deref() {
            Some("array") => json!([]),
            Some("string") => Value::String(gen_string(def.as_object().unwrap_or(&Map::new()))),
            Some("integer") | Some("number") => json!(0),
            Some("boolean") => json!(false),
            _ => json!({}),
        }
    }
}

/// The first branch that is neither `{"type": "null"}` nor a reference to a
/// definition being expanded; else a null branch (ends recursion); else the first.
fn choose_branch<'v>(branches: &'v [Value], stack: &[String]) -> Option<&'v Value> {
    let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
    let is_recursive = |b: &Value| {
        b.get("$ref")
            .and_then(Value::as_str)
            .and_then(definition_name)
            .is_some_and(|name| stack.contains(&name))
    };
    branches
        .iter()
        .find(|b| !is_null(b) && !is_recursive(b))
        .or_else(|| branches.iter().find(|b| is_null(b)))
        .or(branches.first())
}

/// Merge two instances: objects key by key (recursively), otherwise the first non-null.
fn merge(base: Value, part: Value) -> Value {
    match (base, part) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                let merged = match a.remove(&k) {
                    Some(existing) => merge(existing, v),
                    None => v,
                };
                a.insert(k, merged);
            }
            Value::Object(a)
        }
        (Value::Null, part) => part,
        (base, _) => base,
    }
}

/// A different value of the same shape (for `uniqueItems`).
fn vary(prev: &Value, n: usize) -> Value {
    match prev {
        Value::String(s) => Value::String(format!("{s}{n}")),
        Value::Number(x) => json!(x.as_f64().unwrap_or(0.0) as i64 + n as i64),
        Value::Bool(b) => Value::Bool(!b),
        other => other.clone(),
    }
}

/// A string for a string schema: format, then pattern, then length bounds.
fn gen_string(obj: &Map<String, Value>) -> String {
    let format = obj.get("format").and_then(Value::as_str).unwrap_or("");
    let mut s = match format {
        "date-time" => "2024-01-01T00:00:00.000Z".to_string(),
        "date" => "2024-01-01".to_string(),
        "time" => "00:00:00Z".to_string(),
        "uri" | "url" | "uri-reference" | "iri" => "https://example.atlassian.net/".to_string(),
        "email" | "idn-email" => "user@example.com".to_string(),
        "uuid" => "00000000-0000-4000-8000-000000000000".to_string(),
        "hostname" => "example.atlassian.net".to_string(),
        "ipv4" => "127.0.0.1".to_string(),
        "ipv6" => "::1".to_string(),
        "byte" => "c3RyaW5n".to_string(),
        _ => "string".to_string(),
    };
    if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
        s = string_for_pattern(pattern, &s);
    }
    let min = obj.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = obj
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    while s.chars().count() < min {
        s.push('x');
    }
    if let Some(max) = max
        && s.chars().count() > max
    {
        s = s.chars().take(max.max(min)).collect();
    }
    s
}

/// The first candidate (the preferred one first) matching `pattern`; the preferred one if none does.
fn string_for_pattern(pattern: &str, preferred: &str) -> String {
    let cache_key = format!("{preferred}\u{0}{pattern}");
    if let Ok(guard) = PATTERN_CACHE.lock()
        && let Some(found) = guard.as_ref().and_then(|m| m.get(&cache_key))
    {
        return found.clone();
    }
    let chosen = match jsonschema::draft7::options().build(&json!({"pattern": pattern})) {
        Ok(validator) => std::iter::once(preferred)
            .chain(PATTERN_CANDIDATES)
            .find(|c| validator.is_valid(&json!(c)))
            .unwrap_or(preferred)
            .to_string(),
        Err(_) => preferred.to_string(),
    };
    if let Ok(mut guard) = PATTERN_CACHE.lock() {
        guard
            .get_or_insert_with(HashMap::new)
            .insert(cache_key, chosen.clone());
    }
    chosen
}

/// An integer within `minimum`/`maximum` (0 when unconstrained).
fn gen_integer(obj: &Map<String, Value>) -> Value {
    let mut n: i64 = 0;
    if let Some(min) = obj.get("minimum").and_then(Value::as_f64) {
        n = min.ceil() as i64;
    }
    if let Some(min) = obj.get("exclusiveMinimum").and_then(Value::as_f64) {
        n = min.floor() as i64 + 1;
    }
    if let Some(max) = obj.get("maximum").and_then(Value::as_f64)
        && (n as f64) > max
    {
        n = max.floor() as i64;
    }
    if let Some(max) = obj.get("exclusiveMaximum").and_then(Value::as_f64)
        && (n as f64) >= max
    {
        n = max.ceil() as i64 - 1;
    }
    json!(n)
}

/// A number within bounds (integral, so it also satisfies `multipleOf: 1`).
fn gen_number(obj: &Map<String, Value>) -> Value {
    gen_integer(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_instances() {
        let mut defs = Map::new();
        defs.insert(
            "Node".into(),
            json!({"type": "object", "required": ["child", "name"], "properties": {
                "name": {"type": "string", "minLength": 8},
                "child": {"anyOf": [{"$ref": "#/definitions/Node"}, {"type": "null"}]}
            }}),
        );
        let synth = Synth::new(&defs);
        let v = synth.instance(&json!({"$ref": "#/definitions/Node"}));
        assert_eq!(v["name"], json!("stringxx"));
        assert!(v["child"].is_null());
        assert_eq!(
            synth.instance(&json!({"type": "string", "format": "date-time"})),
            json!("2024-01-01T00:00:00.000Z")
        );
        assert_eq!(
            synth.instance(&json!({"type": "integer", "minimum": 5})),
            json!(5)
        );
        assert_eq!(synth.instance(&json!({"enum": ["b", "a"]})), json!("b"));
        assert_eq!(
            synth.instance(&json!({"type": "array", "minItems": 2, "uniqueItems": true, "items": {"type": "string"}})),
            json!(["string", "string1"])
        );
        assert_eq!(
            synth.instance(&json!({"type": "string", "pattern": "^[A-Z]+$"})),
            json!("ABC")
        );
    }
}
