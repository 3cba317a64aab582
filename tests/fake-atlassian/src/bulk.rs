//! Bulk operations of a seeded tenant: endpoints that read, create, update
//! or delete several records of a collection in one request, with the
//! records in the request body or the ids in the body or the query (Jira's
//! `POST /workflows`, `PUT /statuses`, `DELETE /statuses?id=…`), and item
//! endpoints whose records travel wrapped in a member (`{"rule": {…}}`) or
//! below a path the generic item routes do not recognise.
//!
//! A seed's `bulk` entries say, as data, where the records and ids are and
//! where the answer holds them; nothing here knows a product.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::engine::{Outgoing, Responder, lock};
use crate::state::{Record, Store, declared_properties, overlay};
use crate::synth::Synth;
use crate::validate::{effective_type, ref_target};

/// What a bulk operation does to its collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// Answer the records named by `ids` (or the path's item).
    Read,
    /// Create one record per item of `items`.
    Create,
    /// Merge each item of `items` (or the body's `from_body` fields) into the record it names.
    Update,
    /// Remove the records named by `ids` (or the path's item).
    Delete,
}

/// One bulk endpoint of a seeded tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bulk {
    /// HTTP method.
    pub(crate) method: String,
    /// Concrete path; `{}` matches one segment. With `item`, the last `{}` names the record.
    pub(crate) path: String,
    /// The store collection (any key; a seed collection of that name is its start).
    pub(crate) collection: String,
    /// What it does.
    pub(crate) kind: Kind,
    /// The path's last `{}` names the one record read, updated or deleted.
    #[serde(default)]
    pub(crate) item: bool,
    /// JSON pointer to the records in the body: an array, or one object (`""` = the body).
    #[serde(default)]
    pub(crate) items: Option<String>,
    /// Where the ids (or names) are: body JSON pointers (`/workflowIds`) or query parameters (`?id`).
    #[serde(default)]
    pub(crate) ids: Vec<String>,
    /// JSON pointer in the answer where the records go (`""` = the answer); none keeps the synthesized answer.
    #[serde(default)]
    pub(crate) answer: Option<String>,
    /// The answer member that receives the (first) record's id (`ruleUuid`).
    #[serde(default)]
    pub(crate) answer_id: Option<String>,
    /// Fields set on every record created or updated.
    #[serde(default)]
    pub(crate) set: Map<String, Value>,
    /// Fields set from the request body: field → JSON pointer (`/value`).
    #[serde(default)]
    pub(crate) from_body: BTreeMap<String, String>,
    /// JSON pointer to a record's version number: an update naming another
    /// version is refused with 409, and a successful one increments it.
    #[serde(default)]
    pub(crate) version: Option<String>,
}

/// Why a bulk request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 404: a named record does not exist.
    Missing(String),
    /// 409: an update names a version other than the record's.
    Conflict(String),
    /// 400: the body holds no records where the seed says.
    NoItems(String),
}

impl Bulk {
    /// The ids (or names) a request names: the path's item, the body's lists, the query's values.
    pub(crate) fn named(
        &self,
        captured: &[String],
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        if self.item
            && let Some(last) = captured.last()
        {
            out.push(last.clone());
        }
        for source in &self.ids {
            if let Some(param) = source.strip_prefix('?') {
                out.extend(
                    query
                        .iter()
                        .filter(|(k, _)| k == param)
                        .flat_map(|(_, v)| v.split(','))
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned),
                );
            } else if let Some(found) = body.and_then(|b| b.pointer(source)) {
                match found {
                    Value::Array(list) => out.extend(list.iter().map(text)),
                    other => out.push(text(other)),
                }
            }
        }
        out
    }

    /// The records the body holds at `items` (one object counts as one).
    pub(crate) fn items(&self, body: Option<&Value>) -> Result<Vec<Map<String, Value>>, Refusal> {
        let Some(pointer) = &self.items else {
            return Ok(Vec::new());
        };
        match body.and_then(|b| b.pointer(pointer)) {
            Some(Value::Array(list)) => {
                Ok(list.iter().filter_map(|v| v.as_object().cloned()).collect())
            }
            Some(Value::Object(one)) => Ok(vec![one.clone()]),
            _ => Err(Refusal::NoItems(format!(
                "the request body has no records at {pointer}"
            ))),
        }
    }

    /// The fields an update or create sets besides the item's own.
    pub(crate) fn extra_fields(&self, body: Option<&Value>) -> Map<String, Value> {
        let mut fields = self.set.clone();
        for (field, pointer) in &self.from_body {
            if let Some(value) = body.and_then(|b| b.pointer(pointer)) {
                fields.insert(field.clone(), value.clone());
            }
        }
        fields
    }

    /// Check an update's version against the record's, and the record's next version.
    pub(crate) fn next_version(
        &self,
        record: &Map<String, Value>,
        update: &Map<String, Value>,
    ) -> Result<Option<(String, Value)>, Refusal> {
        let Some(pointer) = &self.version else {
            return Ok(None);
        };
        let record = Value::Object(record.clone());
        let current = record.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
        if let Some(asked) = Value::Object(update.clone()).pointer(pointer)
            && asked.as_i64() != Some(current)
        {
            return Err(Refusal::Conflict(format!(
                "version {asked} is not the current version {current}: read the record again"
            )));
        }
        Ok(Some((pointer.clone(), Value::from(current + 1))))
    }
}

impl Refusal {
    fn answer(self) -> Outgoing {
        match self {
            Self::Missing(m) => Outgoing::error(404, m),
            Self::Conflict(m) => Outgoing::error(409, m),
            Self::NoItems(m) => Outgoing::error(400, m),
        }
    }
}

impl Responder<'_> {
    /// The answer of a seeded bulk endpoint, if `method path` is one.
    pub(crate) fn bulk_answer(
        &self,
        store: &Mutex<Store>,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Option<Outgoing> {
        let seed = self.seed.as_ref()?;
        let (bulk, captured) = seed.bulk(method, path)?;
        let records = {
            let mut guard = lock(store);
            apply(bulk, &mut guard, &captured, query, body)
        };
        let records = match records {
            Ok(records) => records,
            Err(refusal) => return Some(refusal.answer()),
        };
        let mut out = self.synthesized(self.op.response.status);
        if let (Some(pointer), Some(value), Some(schema)) =
            (&bulk.answer, out.body.as_mut(), self.schema())
        {
            self.place(value, &schema, pointer, &records);
        }
        if let (Some(member), Some(Value::Object(map)), Some(first)) =
            (&bulk.answer_id, out.body.as_mut(), records.first())
        {
            map.insert(member.clone(), first.id.clone());
        }
        Some(out)
    }

    /// Write `records` at `pointer` of the answer: as its items when the
    /// schema there is an array, else the first record's fields.
    fn place(&self, value: &mut Value, schema: &Value, pointer: &str, records: &[Record]) {
        let mut value = value;
        let mut schema = schema.clone();
        for part in pointer.split('/').filter(|p| !p.is_empty()) {
            let Some(next) = declared_properties(&schema, self.defs).get(part).cloned() else {
                return;
            };
            let Value::Object(map) = value else { return };
            value = map
                .entry(part.to_string())
                .or_insert_with(|| Synth::new(self.defs).instance(&next));
            schema = next;
        }
        if effective_type(&schema, self.defs, 0).as_deref() == Some("array") {
            let resolved = ref_target(&schema, self.defs).unwrap_or(&schema);
            let items = resolved.get("items").cloned().unwrap_or(Value::Null);
            let synth = Synth::new(self.defs);
            *value = Value::Array(
                records
                    .iter()
                    .map(|r| {
                        let mut v = synth.instance(&items);
                        overlay(&mut v, &items, &r.fields, self.defs, self.trusted);
                        v
                    })
                    .collect(),
            );
        } else if let Some(first) = records.first() {
            overlay(value, &schema, &first.fields, self.defs, self.trusted);
        }
    }
}

/// Do what `bulk` says to the store; the records it touched (deleted ones as they were).
fn apply(
    bulk: &Bulk,
    store: &mut Store,
    captured: &[String],
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<Vec<Record>, Refusal> {
    let collection = bulk.collection.as_str();
    let missing = |id: &str| Refusal::Missing(format!("No record {id} in {collection}"));
    match bulk.kind {
        Kind::Read => {
            let named = bulk.named(captured, query, body);
            if bulk.item {
                let id = named.first().cloned().unwrap_or_default();
                return store
                    .find(collection, &id)
                    .map(|r| vec![r])
                    .ok_or_else(|| missing(&id));
            }
            // Like Atlassian's bulk reads, an unknown id is left out, not an error.
            let mut found: Vec<Record> = Vec::new();
            for id in &named {
                if let Some(record) = store.find(collection, id)
                    && !found.iter().any(|f| f.id == record.id)
                {
                    found.push(record);
                }
            }
            Ok(found)
        }
        Kind::Create => {
            let extra = bulk.extra_fields(body);
            let items = bulk.items(body)?;
            Ok(items
                .into_iter()
                .map(|mut item| {
                    item.extend(extra.clone());
                    store.create(collection, Some(&Value::Object(item)), false)
                })
                .collect())
        }
        Kind::Update => {
            let extra = bulk.extra_fields(body);
            let items = if bulk.items.is_some() {
                bulk.items(body)?
            } else {
                vec![Map::new()]
            };
            // Every item is checked before any is written: all or nothing.
            let mut planned = Vec::with_capacity(items.len());
            for item in items {
                let ident = if bulk.item {
                    captured.last().cloned().unwrap_or_default()
                } else {
                    item.get("id").map(text).unwrap_or_default()
                };
                let record = store
                    .find(collection, &ident)
                    .ok_or_else(|| missing(&ident))?;
                let version = bulk.next_version(&record.fields, &item)?;
                let mut patch = item;
                patch.extend(extra.clone());
                if let Some((pointer, next)) = version {
                    let mut fields = record.fields.clone();
                    for (k, v) in &patch {
                        fields.insert(k.clone(), v.clone());
                    }
                    set_pointer(&mut fields, &pointer, next);
                    let top = pointer
                        .trim_start_matches('/')
                        .split('/')
                        .next()
                        .unwrap_or("");
                    if let Some(v) = fields.get(top) {
                        patch.insert(top.to_string(), v.clone());
                    }
                }
                planned.push((ident, patch));
            }
            Ok(planned
                .into_iter()
                .filter_map(|(ident, patch)| {
                    store.update(collection, &ident, Some(&Value::Object(patch)))
                })
                .collect())
        }
        Kind::Delete => {
            let named = bulk.named(captured, query, body);
            if let Some(id) = named.iter().find(|id| store.find(collection, id).is_none()) {
                return Err(missing(id));
            }
            Ok(named
                .iter()
                .filter_map(|id| store.delete(collection, id))
                .collect())
        }
    }
}

/// Set the value at a JSON pointer, creating objects on the way.
pub(crate) fn set_pointer(target: &mut Map<String, Value>, pointer: &str, value: Value) {
    let mut parts = pointer.trim_start_matches('/').split('/').peekable();
    let mut current = target;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            current.insert(part.to_string(), value);
            return;
        }
        let next = current
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(map) = next else { return };
        current = map;
    }
}

/// A scalar's text (strings without quotes).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bulk(text: &str) -> Bulk {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn ids_come_from_the_item_the_body_and_the_query() {
        let read = bulk(
            r#"{"method": "POST", "path": "/w", "collection": "/w", "kind": "read",
                "ids": ["/workflowIds", "/workflowNames", "?id"]}"#,
        );
        let body = json!({"workflowIds": ["a", "b"], "workflowNames": ["Flow"]});
        let query = [("id".to_string(), "c,d".to_string())];
        assert_eq!(
            read.named(&[], &query, Some(&body)),
            ["a", "b", "Flow", "c", "d"]
        );
        let item = bulk(
            r#"{"method": "GET", "path": "/x/{}/r/{}", "collection": "/r", "kind": "read", "item": true}"#,
        );
        assert_eq!(
            item.named(&["cloud".into(), "u1".into()], &[], None),
            ["u1"]
        );
    }

    #[test]
    fn items_are_an_array_or_one_object_and_versions_are_checked() {
        let update = bulk(
            r#"{"method": "POST", "path": "/w/update", "collection": "/w", "kind": "update",
                "items": "/workflows", "version": "/version/versionNumber"}"#,
        );
        let body = json!({"workflows": [{"id": "a", "version": {"versionNumber": 1}}]});
        let items = update.items(Some(&body)).unwrap();
        assert_eq!(items.len(), 1);
        let record = json!({"id": "a", "version": {"id": "v", "versionNumber": 1}});
        let record = record.as_object().unwrap();
        let next = update.next_version(record, &items[0]).unwrap();
        assert_eq!(next, Some(("/version/versionNumber".into(), json!(2))));
        let stale = json!({"id": "a", "version": {"versionNumber": 0}});
        assert!(matches!(
            update.next_version(record, stale.as_object().unwrap()),
            Err(Refusal::Conflict(_))
        ));
        assert!(matches!(
            update.items(Some(&json!({}))),
            Err(Refusal::NoItems(_))
        ));
        let one = bulk(
            r#"{"method": "POST", "path": "/r", "collection": "/r", "kind": "create", "items": "/rule"}"#,
        );
        assert_eq!(
            one.items(Some(&json!({"rule": {"name": "R"}})))
                .unwrap()
                .len(),
            1
        );
        let mut target = record.clone();
        set_pointer(&mut target, "/version/versionNumber", json!(2));
        assert_eq!(target["version"], json!({"id": "v", "versionNumber": 2}));
    }
}
