//! A seeded tenant: records loaded into the store at start (and again on
//! reset), plus the few bits of data that tie paths together so that the
//! seeded resources behave like a site's.
//!
//! Everything product-specific lives in the seed files (`seed/*.json`, one per area, listed in `BUILTIN`),
//! not here: this module only knows collections of records, *views* (a list
//! path that answers the records of another collection, optionally those
//! whose field equals a path segment, searchable by query parameters, with
//! some records hidden), *actions* (a POST on an item's sub-path that sets
//! fields, as archive/restore do) and *envelopes* (item answers that wrap the
//! record in a member, as JSON:API's `data`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::FakeError;
use crate::bulk::Bulk;

/// The tenant `serve --sandbox` starts with (see [`crate::FakeAtlassian::with_seed`]):
/// one file per area (file name, text), merged by [`Seed::parse_all`]. An
/// area adds its own file here rather than growing another's.
pub const BUILTIN: &[(&str, &str)] = &[
    ("tenant.json", include_str!("../seed/tenant.json")),
    ("schemes.json", include_str!("../seed/schemes.json")),
    ("fields.json", include_str!("../seed/fields.json")),
    ("workflows.json", include_str!("../seed/workflows.json")),
];

/// A parsed seed file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seed {
    /// What the tenant is (documentation only).
    #[serde(default)]
    #[allow(dead_code)]
    pub(crate) about: String,
    /// Records per concrete collection path (`/rest/api/3/project`), each with an `id`.
    #[serde(default)]
    pub(crate) collections: BTreeMap<String, Vec<Map<String, Value>>>,
    /// List paths answering another collection's records.
    #[serde(default)]
    pub(crate) views: Vec<View>,
    /// Sub-path operations that set fields of an item.
    #[serde(default)]
    pub(crate) actions: Vec<Action>,
    /// Collection path → the member item answers wrap the record in.
    #[serde(default)]
    pub(crate) envelopes: BTreeMap<String, String>,
    /// Fixed answers of read operations that are not a collection (a
    /// workflow's project usages, a user's last-active dates).
    #[serde(default)]
    pub(crate) documents: Vec<Document>,
    /// Collection path → fields a created record gets unless the request sets
    /// them (what the server fills in; `{id}` in a string is the new id).
    #[serde(default)]
    pub(crate) defaults: BTreeMap<String, Map<String, Value>>,
    /// Collection path → the shape of a created record's id (`customfield_{}`).
    #[serde(default)]
    pub(crate) ids: BTreeMap<String, String>,
    /// Offset paging styles seeded lists honour (the first whose parameter a request sends).
    #[serde(default)]
    pub(crate) paging: Vec<Paging>,
    /// Operations that create or update several records of one collection
    /// at once, the records in one member of the body and of the answer.
    #[serde(default)]
    pub(crate) batches: Vec<Batch>,
    /// Endpoints reading or writing several records, or records wrapped in a member (see `bulk.rs`).
    #[serde(default)]
    pub(crate) bulk: Vec<Bulk>,
}

/// A bulk create (POST) or update (PUT, each element naming its record by
/// `id`) of the collection at `path` (`{}` = one segment, filled from the request).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Batch {
    /// HTTP method: POST creates, PUT updates.
    pub(crate) method: String,
    /// Concrete path of the collection; `{}` matches one segment.
    pub(crate) path: String,
    /// The member of the request and of the answer holding the records (`options`).
    pub(crate) member: String,
}

/// A view's records unnested: one listed item per element of an array
/// field (`projectIds` → one `{contextId, projectId}` per project).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Unnest {
    /// The record's array field.
    pub(crate) field: String,
    /// The item member each element goes into.
    pub(crate) into: String,
    /// The item member the record's id goes into.
    pub(crate) parent: String,
    /// A record whose array is empty or missing lists one item with these
    /// fields instead (the parent id added); without it, none.
    #[serde(default)]
    pub(crate) empty: Option<Map<String, Value>>,
}

impl Unnest {
    /// The items one record lists.
    pub(crate) fn items(&self, id: &Value, fields: &Map<String, Value>) -> Vec<Map<String, Value>> {
        let elements = fields
            .get(&self.field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let item = |extra: Map<String, Value>| {
            let mut item = extra;
            item.insert(self.parent.clone(), id.clone());
            item
        };
        if elements.is_empty() {
            return self.empty.clone().map(item).into_iter().collect();
        }
        elements
            .into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert(self.into.clone(), e);
                item(m)
            })
            .collect()
    }
}

/// An offset paging style: the query parameters, also the answer's members.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Paging {
    /// Index of the first item (`startAt`, `start`).
    pub(crate) offset: String,
    /// Page size (`maxResults`, `limit`).
    pub(crate) limit: String,
    /// The member saying whether this is the last page (`isLast`, `isLastPage`).
    pub(crate) last: String,
}

/// Where a page starts and how long it is, in a given style.
#[derive(Debug, Clone)]
pub(crate) struct Page<'s> {
    pub(crate) style: &'s Paging,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

impl Page<'_> {
    /// The page's slice of `items`, and whether it is the last one.
    pub(crate) fn of<'i, T>(&self, items: &'i [T]) -> (&'i [T], bool) {
        let start = self.offset.min(items.len());
        let end = start.saturating_add(self.limit).min(items.len());
        (&items[start..end], end >= items.len())
    }
}

/// The fixed answer of one concrete path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Document {
    /// HTTP method.
    pub(crate) method: String,
    /// Concrete path (segments compared decoded, so `:` may come as `%3A`).
    pub(crate) path: String,
    /// The answer's fields.
    pub(crate) body: Map<String, Value>,
}

/// A list path that answers (some of) another collection's records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct View {
    /// HTTP method (usually GET; POST for search endpoints).
    pub(crate) method: String,
    /// Concrete path; `{}` matches one segment (e.g. `/rest/agile/1.0/board/{}/sprint`).
    pub(crate) path: String,
    /// The collection whose records are listed; each `{}` in it is filled
    /// with the path's captured segments in order (those are not used by `where`).
    pub(crate) collection: String,
    /// With a `{}` in `path`: only records whose field of this name equals the segment.
    #[serde(default, rename = "where")]
    pub(crate) where_field: Option<String>,
    /// Records whose field equals the given value are left out (e.g. `archived: true`).
    #[serde(default)]
    pub(crate) hide: Map<String, Value>,
    /// Only records whose fields equal these values are listed (e.g. `trashed: true`).
    #[serde(default)]
    pub(crate) only: Map<String, Value>,
    /// List one item per element of a record's array field instead of the records.
    #[serde(default)]
    pub(crate) unnest: Option<Unnest>,
    /// List the elements of this array field of one item (`{}` names the
    /// item, by `where`-less capture): a filter's share permissions.
    #[serde(default)]
    pub(crate) elements: Option<String>,
    /// Query parameter → fields it searches (case-insensitive substring of any).
    #[serde(default)]
    pub(crate) search: BTreeMap<String, Vec<String>>,
    /// Answer the number of records shown in this member instead of listing them.
    #[serde(default)]
    pub(crate) count: Option<String>,
    /// Answer the record another collection holds under an item's field
    /// (`{}` names the item): a project's permission scheme.
    #[serde(default)]
    pub(crate) follow: Option<Follow>,
}

/// A reference from an item's field to a record of another collection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Follow {
    /// The item's field holding the other record's id.
    pub(crate) field: String,
    /// The collection holding the other record.
    pub(crate) collection: String,
}

/// An operation on an item's sub-path that sets fields of the item.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Action {
    /// HTTP method.
    pub(crate) method: String,
    /// Concrete path whose last `{}` stands for the item (e.g. `/rest/api/3/project/{}/archive`);
    /// the collection is what precedes that `/{}`, earlier `{}` filled from the request.
    pub(crate) path: String,
    /// Fields set on the item.
    #[serde(default)]
    pub(crate) set: Map<String, Value>,
    /// Fields set from the request body: field → JSON pointer (`/id`).
    #[serde(default)]
    pub(crate) from_body: BTreeMap<String, String>,
    /// Array fields the body's array at the pointer is added to (no duplicates).
    #[serde(default)]
    pub(crate) append: BTreeMap<String, String>,
    /// Array fields the body's array at the pointer is taken out of.
    #[serde(default)]
    pub(crate) remove: BTreeMap<String, String>,
    /// Array fields that get one element per string of the body's arrays,
    /// each made from a template (no duplicates).
    #[serde(default)]
    pub(crate) add: BTreeMap<String, Vec<Template>>,
    /// Array fields replaced by the elements made from the body's arrays.
    #[serde(default)]
    pub(crate) replace: BTreeMap<String, Vec<Template>>,
    /// Array fields losing the elements whose value at `match` equals the
    /// query parameter `param`.
    #[serde(default)]
    pub(crate) drop: BTreeMap<String, Vec<QueryMatch>>,
    /// Answer the changed record (else the operation's synthesized answer).
    #[serde(default)]
    pub(crate) answer_record: bool,
}

/// Elements made from a body array: each string replaces `{}` in `as`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Template {
    /// JSON pointer of the body array.
    pub(crate) from: String,
    /// The element made from each string (`{}` in its strings).
    #[serde(rename = "as")]
    pub(crate) element: Value,
}

/// A query parameter naming the array elements to drop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryMatch {
    /// Query parameter.
    pub(crate) param: String,
    /// JSON pointer, in each element, of the value compared with it.
    #[serde(rename = "match")]
    pub(crate) pointer: String,
}

impl Template {
    /// The elements made from `body`.
    fn elements(&self, body: Option<&Value>) -> Vec<Value> {
        fn fill_in(value: &Value, with: &str) -> Value {
            match value {
                Value::String(s) => Value::String(s.replace("{}", with)),
                Value::Array(items) => {
                    Value::Array(items.iter().map(|v| fill_in(v, with)).collect())
                }
                Value::Object(map) => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), fill_in(v, with)))
                        .collect(),
                ),
                other => other.clone(),
            }
        }
        body.and_then(|b| b.pointer(&self.from))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| fill_in(&self.element, &text(e)))
            .collect()
    }
}

impl Action {
    /// The fields this request sets on the item.
    pub(crate) fn fields(&self, body: Option<&Value>) -> Map<String, Value> {
        let mut fields = self.set.clone();
        for (field, pointer) in &self.from_body {
            if let Some(value) = body.and_then(|b| b.pointer(pointer)) {
                fields.insert(field.clone(), value.clone());
            }
        }
        fields
    }

    /// The fields this request sets on `record`: [`Action::fields`] plus
    /// its array fields with elements appended or removed.
    pub(crate) fn fields_of(
        &self,
        record: &Map<String, Value>,
        body: Option<&Value>,
        query: &[(String, String)],
    ) -> Map<String, Value> {
        let mut fields = self.fields(body);
        let list = |field: &String| {
            record
                .get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        for (field, templates) in &self.add {
            let mut items = list(field);
            for e in templates.iter().flat_map(|t| t.elements(body)) {
                if !items.contains(&e) {
                    items.push(e);
                }
            }
            fields.insert(field.clone(), Value::Array(items));
        }
        for (field, templates) in &self.replace {
            let items = templates.iter().flat_map(|t| t.elements(body)).collect();
            fields.insert(field.clone(), Value::Array(items));
        }
        for (field, matches) in &self.drop {
            let mut items = list(field);
            for m in matches {
                for (_, wanted) in query.iter().filter(|(k, _)| *k == m.param) {
                    items.retain(|e| e.pointer(&m.pointer).is_none_or(|v| text(v) != *wanted));
                }
            }
            fields.insert(field.clone(), Value::Array(items));
        }
        let elements = |pointer: &String| -> Vec<Value> {
            body.and_then(|b| b.pointer(pointer))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        for (field, pointer) in &self.append {
            let mut list = record
                .get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for e in elements(pointer) {
                if !list.iter().any(|l| text(l) == text(&e)) {
                    list.push(e);
                }
            }
            fields.insert(field.clone(), Value::Array(list));
        }
        for (field, pointer) in &self.remove {
            let gone: Vec<String> = elements(pointer).iter().map(text).collect();
            let mut list = record
                .get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            list.retain(|l| !gone.contains(&text(l)));
            fields.insert(field.clone(), Value::Array(list));
        }
        fields
    }
}

/// `pattern` with each `{}` replaced by the next of `captured`; the captures left over.
pub(crate) fn fill<'c>(pattern: &str, captured: &'c [String]) -> (String, &'c [String]) {
    let mut out = String::new();
    let mut rest = captured;
    let mut parts = pattern.split("{}").peekable();
    while let Some(part) = parts.next() {
        out.push_str(part);
        if parts.peek().is_some() {
            let (first, tail) = rest
                .split_first()
                .map_or(("", rest), |(f, t)| (f.as_str(), t));
            out.push_str(first);
            rest = tail;
        }
    }
    (out, rest)
}

impl Seed {
    /// Parse a seed file's text.
    ///
    /// # Errors
    /// [`FakeError::InvalidSeed`] when it is not JSON of the seed's shape,
    /// or a record has no `id`.
    pub(crate) fn parse(text: &str) -> Result<Self, FakeError> {
        let seed: Self = serde_json::from_str(text).map_err(|e| FakeError::InvalidSeed {
            reason: e.to_string(),
        })?;
        for (collection, records) in &seed.collections {
            if let Some(n) = records.iter().position(|r| !r.contains_key("id")) {
                return Err(FakeError::InvalidSeed {
                    reason: format!("{collection}[{n}] has no `id`"),
                });
            }
        }
        for action in &seed.actions {
            // The item is a `{}` segment with a collection before it.
            if !action.path.contains("/{}") || action.path.starts_with("/{}") {
                return Err(FakeError::InvalidSeed {
                    reason: format!("action {} has no `/{{}}` item segment", action.path),
                });
            }
        }
        Ok(seed)
    }

    /// Several seed files' texts (name, text) merged into one tenant: lists
    /// (views, actions, documents, paging) are concatenated in order; keyed
    /// members (collections, envelopes, defaults, ids) must not repeat a key
    /// across files, so two areas cannot silently overwrite each other.
    ///
    /// # Errors
    /// [`FakeError::InvalidSeed`] naming the file, for a file that does not
    /// parse or a key two files both define.
    pub(crate) fn parse_all(files: &[(&str, &str)]) -> Result<Self, FakeError> {
        fn disjoint<V>(
            into: &mut BTreeMap<String, V>,
            from: BTreeMap<String, V>,
            member: &str,
            file: &str,
        ) -> Result<(), FakeError> {
            for (key, value) in from {
                if into.insert(key.clone(), value).is_some() {
                    return Err(FakeError::InvalidSeed {
                        reason: format!(
                            "{file}: {member} `{key}` is already defined by another seed file"
                        ),
                    });
                }
            }
            Ok(())
        }
        let mut all = Self::default();
        for (file, text) in files {
            let seed = Self::parse(text).map_err(|e| match e {
                FakeError::InvalidSeed { reason } => FakeError::InvalidSeed {
                    reason: format!("{file}: {reason}"),
                },
                other => other,
            })?;
            if !seed.about.is_empty() {
                all.about.push_str(&seed.about);
                all.about.push('\n');
            }
            disjoint(&mut all.collections, seed.collections, "collection", file)?;
            disjoint(&mut all.envelopes, seed.envelopes, "envelope", file)?;
            disjoint(&mut all.defaults, seed.defaults, "defaults of", file)?;
            disjoint(&mut all.ids, seed.ids, "ids of", file)?;
            all.views.extend(seed.views);
            all.actions.extend(seed.actions);
            all.documents.extend(seed.documents);
            all.paging.extend(seed.paging);
            all.batches.extend(seed.batches);
            all.bulk.extend(seed.bulk);
        }
        Ok(all)
    }

    /// The view answering `method path`: the view, its concrete collection
    /// (`{}` filled), and the segment left for its `where`.
    pub(crate) fn view(&self, method: &str, path: &str) -> Option<(&View, String, Option<String>)> {
        self.views.iter().find_map(|v| {
            if !v.method.eq_ignore_ascii_case(method) {
                return None;
            }
            let captured = match_pattern(&v.path, path)?;
            let (collection, left) = fill(&v.collection, &captured);
            Some((v, collection, left.first().cloned()))
        })
    }

    /// The batch operation of `method path`, with its concrete collection.
    pub(crate) fn batch(&self, method: &str, path: &str) -> Option<(&Batch, String)> {
        self.batches.iter().find_map(|b| {
            if !b.method.eq_ignore_ascii_case(method) {
                return None;
            }
            let captured = match_pattern(&b.path, path)?;
            Some((b, fill(&b.path, &captured).0))
        })
    }

    /// The page a request asks for, in the first style that `answers` (an
    /// answer of that style) and whose parameters the request sends.
    pub(crate) fn page(
        &self,
        query: &[(String, String)],
        answers: impl Fn(&Paging) -> bool,
    ) -> Option<Page<'_>> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        self.paging.iter().filter(|s| answers(s)).find_map(|style| {
            let (offset, limit) = (param(&style.offset), param(&style.limit));
            (offset.is_some() || limit.is_some()).then(|| Page {
                style,
                offset: offset.unwrap_or(0),
                limit: limit.unwrap_or(50).max(1),
            })
        })
    }

    /// The bulk endpoint answering `method path`, with the segments its `{}`s matched.
    pub(crate) fn bulk(&self, method: &str, path: &str) -> Option<(&Bulk, Vec<String>)> {
        self.bulk.iter().find_map(|b| {
            if !b.method.eq_ignore_ascii_case(method) {
                return None;
            }
            Some((b, match_pattern(&b.path, path)?))
        })
    }

    /// The fixed answer of `method path`, if the seed has one.
    pub(crate) fn document(&self, method: &str, path: &str) -> Option<&Document> {
        self.documents
            .iter()
            .find(|d| d.method.eq_ignore_ascii_case(method) && same_path(&d.path, path))
    }

    /// The action of `method path`: (collection, item identifier, fields to set).
    pub(crate) fn action(&self, method: &str, path: &str) -> Option<(String, String, &Action)> {
        self.actions.iter().find_map(|a| {
            if !a.method.eq_ignore_ascii_case(method) {
                return None;
            }
            let captured = match_pattern(&a.path, path)?;
            let (prefix, _) = a.path.rsplit_once("/{}")?;
            let (collection, left) = fill(prefix, &captured);
            let ident = left.first()?.clone();
            Some((collection, ident, a))
        })
    }
}

impl View {
    /// Whether a record is listed, given the captured segment and the query.
    pub(crate) fn shows(
        &self,
        fields: &Map<String, Value>,
        captured: Option<&str>,
        query: &[(String, String)],
    ) -> bool {
        if let (Some(field), Some(value)) = (&self.where_field, captured)
            && !fields.get(field).is_some_and(|f| same(f, value))
        {
            return false;
        }
        if self.hide.iter().any(|(k, v)| fields.get(k) == Some(v)) {
            return false;
        }
        if self.only.iter().any(|(k, v)| fields.get(k) != Some(v)) {
            return false;
        }
        self.search.iter().all(|(param, searched)| {
            let Some((_, wanted)) = query.iter().find(|(k, _)| k == param) else {
                return true;
            };
            let wanted = wanted.to_lowercase();
            searched.iter().any(|f| {
                fields
                    .get(f)
                    .is_some_and(|v| text(v).to_lowercase().contains(&wanted))
            })
        })
    }
}

/// A scalar's text (strings without quotes).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a field's value is the path segment `segment`.
fn same(field: &Value, segment: &str) -> bool {
    text(field) == segment
}

/// Whether the raw request `path` is the concrete `documented` path (segments decoded).
fn same_path(documented: &str, path: &str) -> bool {
    let documented: Vec<&str> = documented.trim_end_matches('/').split('/').collect();
    let request: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    documented.len() == request.len()
        && documented
            .iter()
            .zip(&request)
            .all(|(d, r)| *d == crate::router::decode_segment(r))
}

/// Match `path` (raw, percent-encoded) against `pattern` (`{}` = one
/// segment); the decoded captured segments.
fn match_pattern(pattern: &str, path: &str) -> Option<Vec<String>> {
    let path = path.trim_end_matches('/');
    let pattern: Vec<&str> = pattern.split('/').collect();
    let request: Vec<&str> = path.split('/').collect();
    if pattern.len() != request.len() {
        return None;
    }
    let mut captured = Vec::new();
    for (p, r) in pattern.iter().zip(&request) {
        if *p == "{}" {
            if r.is_empty() {
                return None;
            }
            captured.push(crate::router::decode_segment(r));
        } else if p != r {
            return None;
        }
    }
    Some(captured)
}

#[cfg(test)]
mod tests {

    #[test]
    fn seed_files_merge_and_a_key_two_files_define_is_refused() {
        let a = r#"{"collections": {"/a": [{"id": "1"}]}, "views": [{"method": "GET", "path": "/v", "collection": "/a"}]}"#;
        let b = r#"{"collections": {"/b": [{"id": "2"}]}, "views": [{"method": "GET", "path": "/w", "collection": "/b"}]}"#;
        let merged = Seed::parse_all(&[("a.json", a), ("b.json", b)]).unwrap();
        assert_eq!(merged.collections.len(), 2);
        assert_eq!(merged.views.len(), 2);
        let clash = Seed::parse_all(&[("a.json", a), ("again.json", a)]).unwrap_err();
        assert!(
            clash
                .to_string()
                .contains("again.json: collection `/a` is already defined"),
            "{clash}"
        );
    }
    use super::*;
    use serde_json::json;

    #[test]
    fn the_builtin_seed_parses() {
        let seed = Seed::parse_all(BUILTIN).unwrap();
        assert!(seed.collections.contains_key("/rest/api/3/project"));
    }

    #[test]
    fn views_and_actions_match_concrete_paths() {
        let seed = Seed::parse(
            r#"{"views": [{"method": "GET", "path": "/b/{}/s", "collection": "/s", "where": "board",
                           "hide": {"gone": true}, "search": {"q": ["name"]}}],
                "actions": [{"method": "POST", "path": "/p/{}/archive", "set": {"archived": true}}]}"#,
        )
        .unwrap();
        let (view, _, captured) = seed.view("GET", "/b/7/s").unwrap();
        assert_eq!(captured.as_deref(), Some("7"));
        let rec = json!({"board": 7, "name": "Sprint 3"});
        let rec = rec.as_object().unwrap();
        assert!(view.shows(rec, Some("7"), &[]));
        assert!(!view.shows(rec, Some("8"), &[]));
        assert!(view.shows(rec, Some("7"), &[("q".into(), "sprint".into())]));
        assert!(!view.shows(rec, Some("7"), &[("q".into(), "epic".into())]));
        let hidden = json!({"board": 7, "gone": true});
        assert!(!view.shows(hidden.as_object().unwrap(), Some("7"), &[]));
        assert!(seed.view("GET", "/b/7/s/x").is_none());
        let (collection, ident, action) = seed.action("POST", "/p/ABC/archive").unwrap();
        assert_eq!((collection.as_str(), ident.as_str()), ("/p", "ABC"));
        assert_eq!(action.set["archived"], json!(true));
        let assign = Seed::parse(
            r#"{"actions": [{"method": "PUT", "path": "/p/{}/scheme", "from_body": {"scheme": "/id"}}]}"#,
        )
        .unwrap();
        let (_, _, action) = assign.action("PUT", "/p/ABC/scheme").unwrap();
        assert_eq!(
            action.fields(Some(&json!({"id": 7}))),
            *json!({"scheme": 7}).as_object().unwrap()
        );
        assert!(action.fields(None).is_empty());
        assert!(Seed::parse(r#"{"collections": {"/x": [{"name": "no id"}]}}"#).is_err());
        assert!(Seed::parse(r#"{"actions": [{"method": "POST", "path": "/p/archive"}]}"#).is_err());
        let docs = Seed::parse(
            r#"{"documents": [{"method": "GET", "path": "/u/712020:ab/dates", "body": {"a": 1}}]}"#,
        )
        .unwrap();
        assert!(docs.document("GET", "/u/712020%3Aab/dates").is_some());
        assert!(docs.document("GET", "/u/712020%3Aac/dates").is_none());
        let paged = Seed::parse(
            r#"{"paging": [{"offset": "startAt", "limit": "maxResults", "last": "isLast"}]}"#,
        )
        .unwrap();
        assert!(
            paged
                .page(&[("query".into(), "x".into())], |_| true)
                .is_none()
        );
        let query = [
            ("startAt".into(), "2".into()),
            ("maxResults".into(), "2".into()),
        ];
        assert!(paged.page(&query, |_| false).is_none());
        let page = paged.page(&query, |_| true).unwrap();
        assert_eq!(page.of(&[1, 2, 3, 4, 5]), (&[3, 4][..], false));
        assert_eq!(page.of(&[1, 2, 3, 4]), (&[3, 4][..], true));
        assert_eq!(page.of(&[1]), (&[][..], true));
    }

    #[test]
    fn multi_segment_items_array_actions_unnested_views_and_batch_paths() {
        let seed = Seed::parse(
            r#"{"views": [{"method": "GET", "path": "/f/{}/ctx/map", "collection": "/f/{}/ctx",
                           "unnest": {"field": "pids", "into": "pid", "parent": "cid", "empty": {"global": true}}},
                          {"method": "GET", "path": "/f/trash", "collection": "/f", "only": {"trashed": true}}],
                "actions": [{"method": "PUT", "path": "/f/{}/ctx/{}/p", "append": {"pids": "/ids"}},
                            {"method": "POST", "path": "/f/{}/ctx/{}/p/rm", "remove": {"pids": "/ids"}},
                            {"method": "POST", "path": "/p/{}/role/{}", "add": {"actors": [{"from": "/user", "as": {"user": {"id": "{}"}}}]}},
                            {"method": "DELETE", "path": "/p/{}/role/{}", "drop": {"actors": [{"param": "user", "match": "/user/id"}]}}],
                "batches": [{"method": "POST", "path": "/f/{}/ctx/{}/opt", "member": "options"}]}"#,
        )
        .unwrap();
        let (view, collection, left) = seed.view("GET", "/f/cf_1/ctx/map").unwrap();
        assert_eq!((collection.as_str(), left), ("/f/cf_1/ctx", None));
        let unnest = view.unnest.as_ref().unwrap();
        let ctx = json!({"pids": ["1", "2"]});
        assert_eq!(unnest.items(&json!("9"), ctx.as_object().unwrap()).len(), 2);
        let global = unnest.items(&json!("9"), &Map::new());
        assert_eq!(
            Value::Object(global[0].clone()),
            json!({"global": true, "cid": "9"})
        );
        let (trash, _, _) = seed.view("GET", "/f/trash").unwrap();
        assert!(trash.shows(json!({"trashed": true}).as_object().unwrap(), None, &[]));
        assert!(!trash.shows(&Map::new(), None, &[]));

        let (collection, ident, add) = seed.action("PUT", "/f/cf_1/ctx/7/p").unwrap();
        assert_eq!((collection.as_str(), ident.as_str()), ("/f/cf_1/ctx", "7"));
        let record = json!({"pids": ["1"]});
        let body = json!({"ids": ["1", "2"]});
        let set = add.fields_of(record.as_object().unwrap(), Some(&body), &[]);
        assert_eq!(set["pids"], json!(["1", "2"]));
        let (_, _, remove) = seed.action("POST", "/f/cf_1/ctx/7/p/rm").unwrap();
        let set = remove.fields_of(record.as_object().unwrap(), Some(&body), &[]);
        assert_eq!(set["pids"], json!([]));

        let (collection, ident, grant) = seed.action("POST", "/p/ABC/role/10002").unwrap();
        assert_eq!(
            (collection.as_str(), ident.as_str()),
            ("/p/ABC/role", "10002")
        );
        let role = json!({"actors": [{"user": {"id": "a"}}]});
        let set = grant.fields_of(
            role.as_object().unwrap(),
            Some(&json!({"user": ["a", "b"]})),
            &[],
        );
        assert_eq!(
            set["actors"],
            json!([{"user": {"id": "a"}}, {"user": {"id": "b"}}])
        );
        let (_, _, revoke) = seed.action("DELETE", "/p/ABC/role/10002").unwrap();
        let set = revoke.fields_of(
            role.as_object().unwrap(),
            None,
            &[("user".into(), "a".into())],
        );
        assert_eq!(set["actors"], json!([]));

        let (bulk, collection) = seed.batch("POST", "/f/cf_1/ctx/7/opt").unwrap();
        assert_eq!(
            (bulk.member.as_str(), collection.as_str()),
            ("options", "/f/cf_1/ctx/7/opt")
        );
        assert!(seed.batch("PUT", "/f/cf_1/ctx/7/opt").is_none());
        assert_eq!(
            fill("/a/{}/b/{}", &["x".into(), "y".into(), "z".into()]),
            ("/a/x/b/y".into(), &["z".to_string()][..])
        );
    }
}
