//! Generic resource state: records kept per collection path.
//!
//! A POST to a collection path `C` (an operation that also has an item
//! template `C/{param}`) creates a record with a fresh id; the item operations
//! on `C/{value}` find the record whose id, key or name equals the value.
//! Nothing here knows about Jira, Confluence or any other product.
//!
//! [`overlay`] writes a record's fields into a synthesized response, keeping
//! only what the response schema declares, converted to the declared type, so
//! that the response stays schema-valid.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::seed::Seed;
use crate::synth::Synth;
use crate::validate::{effective_type, ref_target};

/// Collections that two APIs expose under different paths, mapped to one store
/// (data, not product logic): Confluence spaces are created and read through v2,
/// but updated and deleted only through v1 (`/wiki/rest/api/space/{spaceKey}`).
const COLLECTION_ALIASES: [(&str, &str); 1] = [("/wiki/rest/api/space", "/wiki/api/v2/spaces")];

/// The store key of a concrete collection path (aliases resolved, trailing `/` dropped).
pub(crate) fn canonical_collection(path: &str) -> &str {
    let path = path.trim_end_matches('/');
    COLLECTION_ALIASES
        .iter()
        .find(|(alias, _)| *alias == path)
        .map_or(path, |(_, canonical)| canonical)
}

/// First id handed out.
const FIRST_ID: u64 = 10000;

/// A stored resource.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Its id (string or integer, as the create response declares).
    pub(crate) id: Value,
    /// The fields sent on create and updates (`id` included).
    pub(crate) fields: Map<String, Value>,
}

impl Record {
    /// Whether `ident` names this record (its id, key or name).
    fn is(&self, ident: &str) -> bool {
        let id_matches = match &self.id {
            Value::String(s) => s == ident,
            Value::Number(n) => ident.parse::<serde_json::Number>().is_ok_and(|p| p == *n),
            _ => false,
        };
        id_matches
            || ["key", "name"]
                .iter()
                .any(|k| self.fields.get(*k).and_then(Value::as_str) == Some(ident))
    }
}

/// All collections, keyed by concrete collection path (`/rest/api/3/project`).
#[derive(Debug)]
pub(crate) struct Store {
    collections: HashMap<String, Vec<Record>>,
    next_id: u64,
    /// The tenant loaded at start and on every reset, if any.
    seed: Option<Arc<Seed>>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            collections: HashMap::new(),
            next_id: FIRST_ID,
            seed: None,
        }
    }
}

impl Store {
    /// Replace everything with the seed's records (kept for later resets).
    pub(crate) fn set_seed(&mut self, seed: Arc<Seed>) {
        self.seed = Some(seed);
        self.clear();
    }

    /// The seed, if the store has one.
    pub(crate) fn seed(&self) -> Option<Arc<Seed>> {
        self.seed.clone()
    }

    /// Load the seed's records; new ids start above the largest numeric seeded id.
    fn apply_seed(&mut self) {
        let Some(seed) = self.seed.clone() else {
            return;
        };
        for (collection, records) in &seed.collections {
            let stored = self
                .collections
                .entry(canonical_collection(collection).to_string())
                .or_default();
            for fields in records {
                let id = fields.get("id").cloned().unwrap_or(Value::Null);
                let numeric = match &id {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse::<u64>().ok(),
                    _ => None,
                };
                if let Some(n) = numeric {
                    self.next_id = self.next_id.max(n + 1);
                }
                stored.push(Record {
                    id,
                    fields: fields.clone(),
                });
            }
        }
    }
    /// Create a record in `collection` from a request body.
    pub(crate) fn create(
        &mut self,
        collection: &str,
        body: Option<&Value>,
        integer_id: bool,
    ) -> Record {
        let n = self.next_id;
        self.next_id += 1;
        let template = self
            .seed
            .as_ref()
            .and_then(|s| s.ids.get(collection))
            .filter(|t| t.contains("{}"));
        let id = match template {
            Some(template) => Value::String(template.replace("{}", &n.to_string())),
            None if integer_id => Value::from(n),
            None => Value::String(n.to_string()),
        };
        let mut fields = body.and_then(Value::as_object).cloned().unwrap_or_default();
        fields.insert("id".to_string(), id.clone());
        if let Some(defaults) = self.seed.as_ref().and_then(|s| s.defaults.get(collection)) {
            let id_text = id.as_str().map_or_else(|| id.to_string(), str::to_owned);
            for (name, value) in defaults {
                if !fields.contains_key(name) {
                    let value = match value {
                        Value::String(s) => Value::String(s.replace("{id}", &id_text)),
                        other => other.clone(),
                    };
                    fields.insert(name.clone(), value);
                }
            }
        }
        let record = Record { id, fields };
        self.collections
            .entry(collection.to_string())
            .or_default()
            .push(record.clone());
        record
    }

    /// Whether anything was ever created in `collection` (it is then authoritative).
    pub(crate) fn knows(&self, collection: &str) -> bool {
        self.collections.contains_key(collection)
    }

    /// The record of `collection` named by `ident`.
    pub(crate) fn find(&self, collection: &str, ident: &str) -> Option<Record> {
        self.collections
            .get(collection)?
            .iter()
            .find(|r| r.is(ident))
            .cloned()
    }

    /// Merge `body`'s fields into the record (the id stays).
    pub(crate) fn update(
        &mut self,
        collection: &str,
        ident: &str,
        body: Option<&Value>,
    ) -> Option<Record> {
        let record = self
            .collections
            .get_mut(collection)?
            .iter_mut()
            .find(|r| r.is(ident))?;
        if let Some(patch) = body.and_then(Value::as_object) {
            for (k, v) in patch {
                if k != "id" {
                    record.fields.insert(k.clone(), v.clone());
                }
            }
        }
        Some(record.clone())
    }

    /// Remove the record; the collection stays known.
    pub(crate) fn delete(&mut self, collection: &str, ident: &str) -> Option<Record> {
        let records = self.collections.get_mut(collection)?;
        let index = records.iter().position(|r| r.is(ident))?;
        Some(records.remove(index))
    }

    /// Records of `collection`, in creation order.
    pub(crate) fn list(&self, collection: &str) -> Vec<Record> {
        self.collections
            .get(collection)
            .cloned()
            .unwrap_or_default()
    }

    /// Forget everything created since start (back to the seed, if any).
    pub(crate) fn clear(&mut self) {
        self.collections.clear();
        self.next_id = FIRST_ID;
        self.apply_seed();
    }
}

/// Properties a schema declares (through `$ref` and compositions), first declaration wins.
pub(crate) fn declared_properties(schema: &Value, defs: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    collect_properties(schema, defs, 0, &mut out);
    out
}

fn collect_properties(
    schema: &Value,
    defs: &Map<String, Value>,
    depth: usize,
    out: &mut Map<String, Value>,
) {
    if depth > 12 {
        return;
    }
    if let Some(def) = ref_target(schema, defs) {
        collect_properties(def, defs, depth + 1, out);
        return;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            if !out.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let take = if key == "allOf" { branches.len() } else { 1 };
            for branch in branches
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                .take(take)
            {
                collect_properties(branch, defs, depth + 1, out);
            }
        }
    }
}

/// Write `fields` into the synthesized object `value` where `schema` declares
/// them. `trusted` fields (a seeded tenant's) also keep nested read-only
/// values and fill a free-form object (a schema that declares no property).
pub(crate) fn overlay(
    value: &mut Value,
    schema: &Value,
    fields: &Map<String, Value>,
    defs: &Map<String, Value>,
    trusted: bool,
) {
    let Value::Object(target) = value else {
        return;
    };
    let declared = declared_properties(schema, defs);
    let resolved = resolve_refs(schema, defs);
    let free_form = trusted
        && declared.is_empty()
        && resolved.get("additionalProperties") != Some(&Value::Bool(false));
    // A name the schema requires without declaring it (Atlassian's specs have some).
    let required_only = |name: &str| {
        trusted
            && !declared.contains_key(name)
            && resolved
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|n| n.as_str() == Some(name)))
    };
    for (name, field) in fields {
        if let Some(prop) = declared.get(name)
            && let Some(fitted) = fit_with(field, prop, defs, 0, trusted)
        {
            target.insert(name.clone(), fitted);
        } else if (free_form || required_only(name)) && !field.is_null() {
            target.insert(name.clone(), field.clone());
        }
    }
}

/// `value` converted to what `schema` expects, or `None` if it cannot be made to fit.
pub(crate) fn fit(
    value: &Value,
    schema: &Value,
    defs: &Map<String, Value>,
    depth: usize,
) -> Option<Value> {
    fit_with(value, schema, defs, depth, false)
}

/// [`fit`], keeping nested read-only values when `trusted` (a seeded
/// tenant's data, which plays the server's part).
pub(crate) fn fit_with(
    value: &Value,
    schema: &Value,
    defs: &Map<String, Value>,
    depth: usize,
    trusted: bool,
) -> Option<Value> {
    if depth > 8 {
        return None;
    }
    let resolved = resolve_refs(schema, defs);
    if let Some(allowed) = resolved.get("enum").and_then(Value::as_array) {
        return allowed.contains(value).then(|| value.clone());
    }
    if resolved.get("readOnly").is_some() && depth > 0 && !trusted {
        // Nested read-only values come from the server; keep the synthesized ones.
        return None;
    }
    let typ = effective_type(resolved, defs, 0);
    match (typ.as_deref(), value) {
        (_, Value::Null) => None,
        (Some("string"), Value::String(_)) => Some(value.clone()),
        (Some("string"), Value::Number(n)) => Some(Value::String(n.to_string())),
        (Some("string"), Value::Bool(b)) => Some(Value::String(b.to_string())),
        (Some("integer"), Value::Number(n)) if n.is_i64() || n.is_u64() => Some(value.clone()),
        (Some("integer"), Value::String(s)) => s.parse::<i64>().ok().map(Value::from),
        (Some("number"), Value::Number(_)) => Some(value.clone()),
        (Some("number"), Value::String(s)) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        (Some("boolean"), Value::Bool(_)) => Some(value.clone()),
        (Some("array"), Value::Array(items)) => {
            let item_schema = resolved.get("items").cloned().unwrap_or(Value::Bool(true));
            items
                .iter()
                .map(|item| fit_with(item, &item_schema, defs, depth + 1, trusted))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array)
        }
        (Some("object"), Value::Object(fields)) => {
            let mut base = Synth::new(defs).instance(schema);
            let declared = declared_properties(resolved, defs);
            let extra = resolved.get("additionalProperties");
            if let Value::Object(target) = &mut base {
                for (name, field) in fields {
                    let fitted = match (declared.get(name), extra) {
                        (Some(prop), _) => fit_with(field, prop, defs, depth + 1, trusted),
                        (None, Some(Value::Bool(false))) => None,
                        (None, Some(s @ Value::Object(_))) => {
                            fit_with(field, s, defs, depth + 1, trusted)
                        }
                        (None, _) if declared.is_empty() => Some(field.clone()),
                        (None, _) => None,
                    };
                    if let Some(fitted) = fitted {
                        target.insert(name.clone(), fitted);
                    }
                }
            }
            Some(base)
        }
        (None, _) => {
            let constrained = ["anyOf", "oneOf", "allOf", "not", "const"]
                .iter()
                .any(|k| resolved.get(*k).is_some());
            (!constrained).then(|| value.clone())
        }
        _ => None,
    }
}

/// Follow `$ref`s to the schema that has content.
fn resolve_refs<'v>(schema: &'v Value, defs: &'v Map<String, Value>) -> &'v Value {
    let mut current = schema;
    for _ in 0..8 {
        match ref_target(current, defs) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_find_update_delete() {
        let mut store = Store::default();
        let rec = store.create("/c", Some(&json!({"key": "ABC", "name": "n"})), false);
        assert_eq!(rec.id, json!("10000"));
        assert!(store.find("/c", "ABC").is_some());
        assert!(store.find("/c", "10000").is_some());
        let upd = store
            .update("/c", "ABC", Some(&json!({"name": "m", "id": "x"})))
            .unwrap();
        assert_eq!(upd.fields["name"], json!("m"));
        assert_eq!(upd.id, json!("10000"));
        assert!(store.delete("/c", "10000").is_some());
        assert!(store.find("/c", "ABC").is_none());
        assert!(store.knows("/c"));
        let next = store.create("/d", None, true);
        assert_eq!(next.id, json!(10001));
    }

    #[test]
    fn overlay_converts_to_declared_types() {
        let defs = Map::new();
        let schema = json!({"type": "object", "properties": {
            "id": {"type": "string"}, "count": {"type": "integer"}, "kind": {"enum": ["a", "b"]}
        }});
        let mut value = json!({});
        let fields = json!({"id": 10000, "count": "7", "kind": "z", "undeclared": 1});
        overlay(
            &mut value,
            &schema,
            fields.as_object().unwrap(),
            &defs,
            false,
        );
        assert_eq!(value, json!({"id": "10000", "count": 7}));
    }
}
