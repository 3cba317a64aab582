//! The request pipeline, independent of the HTTP server:
//! route → faults → authentication → 404/405 → validation → state and synthesis,
//! with every request recorded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::faults::{Fault, Faults};
use crate::identity::{Authorize, Identity, Resolved};
use crate::record::{RecordedRequest, RequestLog};
use crate::router::RouteMatch;
use crate::seed::Seed;
use crate::spec::{Catalog, Operation, ResponseBody};
use crate::state::{Record, Store, canonical_collection, declared_properties, fit, overlay};
use crate::synth::Synth;
use crate::validate::{self, RequestParts, effective_type, ref_target};

/// A request as the engine sees it.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    /// HTTP method (any case).
    pub(crate) method: String,
    /// Raw (percent-encoded) path.
    pub(crate) path: String,
    /// Raw query string, without `?`.
    pub(crate) query: Option<String>,
    /// Headers with lower-case names.
    pub(crate) headers: Vec<(String, String)>,
    /// Raw body.
    pub(crate) body: Vec<u8>,
}

/// The engine's answer.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    /// JSON body, if any (never sent with 204/304).
    pub(crate) body: Option<Value>,
    /// A non-JSON body (its `content-type` among `headers`), sent instead of `body`.
    pub(crate) text: Option<String>,
}

impl Outgoing {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
            text: None,
        }
    }

    /// A JSON answer of the OAuth endpoints (never cached, as Atlassian's).
    fn oauth((status, body): (u16, Value)) -> Self {
        let mut out = Self::json(status, body);
        out.headers
            .push(("cache-control".to_string(), "no-store".to_string()));
        out
    }

    pub(crate) fn error(status: u16, message: String) -> Self {
        Self::json(status, json!({ "errorMessages": [message] }))
    }
}

/// The body of an [`Fault::echo_authorization`] fault: the header in
/// Atlassian's error shapes, and the credential inside it in clear.
fn echo_authorization(header: Option<&str>) -> Value {
    use base64::Engine as _;
    let header = header.unwrap_or("");
    let (scheme, credential) = header.split_once(' ').unwrap_or(("", header));
    let credential = if scheme.eq_ignore_ascii_case("basic") {
        base64::engine::general_purpose::STANDARD
            .decode(credential.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_else(|| credential.to_string())
    } else {
        credential.to_string()
    };
    json!({
        "errorMessages": [format!("Authorization: {header} was not accepted")],
        "errors": {"authorization": header, "credential": credential},
        "message": format!("the credential {credential} was refused"),
        "request": {"headers": {"Authorization": header}},
    })
}

/// Shared state of one fake: catalog, resources, faults, request log.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) catalog: Arc<Catalog>,
    store: Mutex<Store>,
    faults: Mutex<Faults>,
    pub(crate) log: Mutex<RequestLog>,
    trace: AtomicU64,
    /// Answer documented examples instead of synthesized bodies where the
    /// spec has them (see [`crate::FakeAtlassian::with_examples`]).
    pub(crate) examples: AtomicBool,
    /// Users, sites, OAuth clients and tokens, the clock.
    pub(crate) identity: Mutex<Identity>,
}

/// Lock a mutex, ignoring poisoning (a panicking test must not break the others).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    /// An engine over `catalog`, with empty state.
    pub(crate) fn new(catalog: Arc<Catalog>) -> Self {
        Self {
            catalog,
            store: Mutex::new(Store::default()),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(RequestLog::default()),
            trace: AtomicU64::new(1),
            examples: AtomicBool::new(false),
            identity: Mutex::new(Identity::default()),
        }
    }

    /// Recorded requests, oldest first.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).records()
    }

    /// Forget recorded requests.
    pub(crate) fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// Add a fault.
    pub(crate) fn inject(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    /// Remove all faults.
    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Forget all created resources (back to the seed, if any).
    pub(crate) fn reset_state(&self) {
        lock(&self.store).clear();
    }

    /// Load a seeded tenant (replacing every resource; kept across resets).
    pub(crate) fn set_seed(&self, seed: Arc<Seed>) {
        lock(&self.store).set_seed(seed);
    }

    /// The seed, if any.
    pub(crate) fn seed(&self) -> Option<Arc<Seed>> {
        lock(&self.store).seed()
    }

    /// Handle one request.
    pub(crate) async fn handle(&self, req: Incoming) -> Outgoing {
        let method = req.method.to_ascii_uppercase();
        let query: Vec<(String, String)> = req
            .query
            .as_deref()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let content_type = header("content-type");
        let authorization = header("authorization");
        let host = header("host");
        let auth_scheme = authorization.as_deref().and_then(|v| {
            let scheme = v
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            match scheme.as_str() {
                "basic" => Some("Basic".to_string()),
                "bearer" => Some("Bearer".to_string()),
                _ => None,
            }
        });
        let recorded_body = if req.body.is_empty() {
            None
        } else {
            Some(
                serde_json::from_slice::<Value>(&req.body).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&req.body).into_owned())
                }),
            )
        };
        // `api.atlassian.com/ex/{jira|confluence}/{cloudId}/...` routes like the site path.
        let ex = split_ex(&req.path);
        let route_path = ex.as_ref().map_or(req.path.as_str(), |e| e.rest.as_str());
        let identity_route = if ex.is_none() {
            IdentityRoute::of(&req.path)
        } else {
            None
        };
        let route = self.catalog.routes.route(&method, route_path);
        let found = match (&route, identity_route) {
            (RouteMatch::Found { index, params }, None) => self
                .catalog
                .ops
                .get(*index)
                .map(|op| (op, params.as_slice())),
            _ => None,
        };
        let label = match identity_route {
            Some(r) => Some(r.label().to_string()),
            None => found.map(|(op, _)| op.label.clone()),
        };
        let mut recorded = RecordedRequest {
            method,
            path: req.path.clone(),
            query,
            body: recorded_body,
            content_type,
            auth_scheme,
            operation: label,
            status: 0,
            violation: None,
            at: SystemTime::now(),
            principal: None,
            credential_kind: None,
            host: host.clone(),
            cloud_id: ex.as_ref().map(|e| e.cloud_id.clone()),
        };
        let method = recorded.method.as_str();
        let label = recorded.operation.as_deref();

        let fault = lock(&self.faults).take(method, &req.path, route_path, label);
        let (mut out, violation) = if let Some(fault) = fault {
            // Who sent it is recorded as for a routed request; the
            // injected answer does not depend on it.
            let admin_path = route_path.starts_with("/admin/") || route_path.starts_with("/users/");
            let auth = lock(&self.identity).authenticate(authorization.as_deref(), admin_path);
            recorded.credential_kind = auth.kind;
            recorded.principal = auth.result.ok().map(|who| who.principal);
            if !fault.delay.is_zero() {
                tokio::time::sleep(fault.delay).await;
            }
            if fault.reset {
                lock(&self.log).push(recorded);
                // Unwinding ends the connection's task (tokio catches it), so
                // hyper drops the socket without writing an answer.
                // `resume_unwind` skips the panic hook: nothing is printed.
                std::panic::resume_unwind(Box::new("fake-atlassian: injected connection reset"));
            }
            let body = if fault.echo_authorization {
                echo_authorization(authorization.as_deref())
            } else {
                fault
                    .body
                    .clone()
                    .unwrap_or_else(|| json!({"errorMessages": ["injected fault"]}))
            };
            let mut out = Outgoing::json(fault.status, body);
            out.headers = fault.headers.clone();
            (out, None)
        } else if let Some(identity_route) = identity_route {
            let site_url = format!("http://{}", host.as_deref().unwrap_or("127.0.0.1"));
            let out = self.identity_answer(
                identity_route,
                method,
                &recorded.query,
                &req,
                authorization.as_deref(),
                &site_url,
            );
            if matches!(
                identity_route,
                IdentityRoute::Me | IdentityRoute::AccessibleResources
            ) && out.status == 200
            {
                // Record who asked (these routes take valid OAuth tokens only).
                let auth = lock(&self.identity).authenticate(authorization.as_deref(), false);
                recorded.credential_kind = auth.kind;
                recorded.principal = auth.result.ok().map(|who| who.principal);
            }
            (out, None)
        } else {
            let admin_path = route_path.starts_with("/admin/") || route_path.starts_with("/users/");
            let auth = lock(&self.identity).authenticate(authorization.as_deref(), admin_path);
            recorded.credential_kind = auth.kind;
            match auth.result {
                Err(message) => (Outgoing::error(401, message), None),
                Ok(who) => {
                    recorded.principal = Some(who.principal.clone());
                    if let Some(ex) = &ex
                        && !self.site_accessible(&ex.cloud_id, &who)
                    {
                        let out = Outgoing::json(404, json!({"code": 404, "message": "Not Found"}));
                        (out, None)
                    } else {
                        let host = host.as_deref().unwrap_or("127.0.0.1");
                        let base_url = match &ex {
                            Some(ex) => format!("http://{host}/ex/{}/{}", ex.product, ex.cloud_id),
                            None => format!("http://{host}"),
                        };
                        self.product_answer(
                            &route, found, method, route_path, &req, &recorded, &base_url, &who,
                        )
                    }
                }
            }
        };

        let trace = self.trace.fetch_add(1, Ordering::Relaxed);
        out.headers
            .push(("atl-traceid".to_string(), format!("{trace:016x}")));
        if out.status == 204 || out.status == 304 {
            out.body = None;
            out.text = None;
        }
        tracing::debug!(
            method = %recorded.method,
            path = %req.path,
            status = out.status,
            operation = recorded.operation.as_deref().unwrap_or("-"),
            violation = violation.as_deref().unwrap_or(""),
            "request"
        );
        recorded.status = out.status;
        recorded.violation = violation;
        lock(&self.log).push(recorded);
        out
    }

    /// Whether the authenticated principal may reach the site `cloud_id`.
    fn site_accessible(&self, cloud_id: &str, who: &Resolved) -> bool {
        let identity = lock(&self.identity);
        identity.site(cloud_id).is_some()
            && who
                .user
                .as_ref()
                .is_some_and(|u| u.sites.iter().any(|s| s == cloud_id))
    }

    /// Answer an authenticated product request: 404/405, or the operation.
    #[allow(clippy::too_many_arguments)]
    fn product_answer(
        &self,
        route: &RouteMatch,
        found: Option<(&Operation, &[(String, String)])>,
        method: &str,
        route_path: &str,
        req: &Incoming,
        recorded: &RecordedRequest,
        base_url: &str,
        who: &Resolved,
    ) -> (Outgoing, Option<String>) {
        match (route, found) {
            (_, Some((op, params))) => {
                let parts = RequestParts {
                    path_params: params,
                    query: &recorded.query,
                    headers: &req.headers,
                    content_type: recorded.content_type.as_deref(),
                    body: &req.body,
                };
                let (mut out, violation) = self.answer(
                    op,
                    method,
                    route_path,
                    &parts,
                    recorded.body.as_ref(),
                    base_url,
                );
                if out.status < 300 {
                    self.personalize(op, params, &mut out, who, base_url);
                }
                (out, violation)
            }
            (RouteMatch::MethodNotAllowed { allowed }, None) => {
                let mut out = Outgoing::error(
                    405,
                    format!(
                        "Method {method} is not allowed for {} (allowed: {})",
                        req.path,
                        allowed.join(", ")
                    ),
                );
                out.headers.push(("allow".to_string(), allowed.join(", ")));
                (out, None)
            }
            _ => (
                Outgoing::error(404, format!("No operation matches {method} {}", req.path)),
                None,
            ),
        }
    }

    /// Answers that depend on who asks: `getCurrentUser` (`/myself`) is the
    /// principal, `getUserRoleAssignments` reflects the account's org admin flag.
    fn personalize(
        &self,
        op: &Operation,
        params: &[(String, String)],
        out: &mut Outgoing,
        who: &Resolved,
        base_url: &str,
    ) {
        let param = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| v.as_str())
        };
        match op.label.as_str() {
            "jira-platform#getCurrentUser" => {
                let (Some(user), Some(Value::Object(map))) = (&who.user, out.body.as_mut()) else {
                    return;
                };
                let fields = [
                    ("accountId", json!(user.account_id)),
                    ("emailAddress", json!(user.email)),
                    ("displayName", json!(user.display_name)),
                    ("active", json!(true)),
                    ("accountType", json!("atlassian")),
                    (
                        "self",
                        json!(format!(
                            "{base_url}/rest/api/3/user?accountId={}",
                            user.account_id
                        )),
                    ),
                ];
                for (k, v) in fields {
                    map.insert(k.to_string(), v);
                }
            }
            "org-admin#getUserRoleAssignments" => {
                let identity = lock(&self.identity);
                *out = match identity.role_assignments(param("orgId"), param("accountId")) {
                    Some(page) => Outgoing::json(200, page),
                    None => Outgoing::json(
                        404,
                        json!({"errors": [{"status": "404", "code": "NOT_FOUND", "title": "Not Found", "detail": "No user with this account id in the directory"}]}),
                    ),
                };
            }
            _ => {}
        }
    }

    /// Answer one of the identity routes (`auth.atlassian.com`, `api.atlassian.com/me`).
    fn identity_answer(
        &self,
        route: IdentityRoute,
        method: &str,
        query: &[(String, String)],
        req: &Incoming,
        authorization: Option<&str>,
        site_url: &str,
    ) -> Outgoing {
        if method != route.method() {
            let mut out = Outgoing::error(
                405,
                format!("Method {method} is not allowed for {}", req.path),
            );
            out.headers
                .push(("allow".to_string(), route.method().to_string()));
            return out;
        }
        let mut identity = lock(&self.identity);
        match route {
            IdentityRoute::Authorize => match identity.authorize(query) {
                Authorize::Redirect(location) => Outgoing {
                    status: 302,
                    headers: vec![("location".to_string(), location)],
                    body: None,
                    text: None,
                },
                Authorize::Page(message) => Outgoing {
                    status: 400,
                    headers: vec![(
                        "content-type".to_string(),
                        "text/html; charset=utf-8".to_string(),
                    )],
                    body: None,
                    text: Some(format!(
                        "<!DOCTYPE html><html><head><title>Something went wrong</title></head>\
                         <body><h1>Something went wrong</h1><p>{}</p></body></html>",
                        html_escape(&message)
                    )),
                },
            },
            IdentityRoute::Token => {
                let params = token_params(req);
                let basic = authorization.and_then(basic_client);
                Outgoing::oauth(identity.token(&params, basic))
            }
            IdentityRoute::AccessibleResources => {
                Outgoing::oauth(identity.accessible_resources(authorization, site_url))
            }
            IdentityRoute::Me => Outgoing::oauth(identity.me(authorization)),
        }
    }

    /// Validate, then answer from state or synthesis. Returns the violation, if any.
    fn answer(
        &self,
        op: &Operation,
        method: &str,
        path: &str,
        parts: &RequestParts<'_>,
        body: Option<&Value>,
        base_url: &str,
    ) -> (Outgoing, Option<String>) {
        let empty = Map::new();
        let defs = self.catalog.specs.get(op.spec).map_or(&empty, |s| &s.defs);
        if op.validate {
            let compiled = op.compiled.get_or_init(|| validate::compile(op, defs));
            if let Err(rejection) = validate::validate(op, compiled, defs, parts) {
                let violation = rejection.messages.join("; ");
                let out = Outgoing::json(
                    rejection.status,
                    json!({"errorMessages": rejection.messages, "errors": {}}),
                );
                return (out, Some(violation));
            }
        }
        let seed = self.seed();
        let responder = Responder {
            op,
            defs,
            base_url: base_url.to_string(),
            examples: self.examples.load(Ordering::Relaxed),
            trusted: seed.is_some(),
            seed,
        };
        (
            responder.respond(&self.store, method, path, parts, body),
            None,
        )
    }
}

/// Builds the success answer of one operation, using and updating the store.
pub(crate) struct Responder<'a> {
    pub(crate) op: &'a Operation,
    pub(crate) defs: &'a Map<String, Value>,
    base_url: String,
    /// Whether documented examples replace synthesized bodies (not on stateful answers).
    examples: bool,
    /// Whether records are a seeded tenant's (served as they are, see `state::fit_with`).
    pub(crate) trusted: bool,
    /// The seeded tenant's views, actions, documents, envelopes, paging and bulk endpoints.
    pub(crate) seed: Option<Arc<Seed>>,
}

impl Responder<'_> {
    fn respond(
        &self,
        store: &Mutex<Store>,
        method: &str,
        path: &str,
        parts: &RequestParts<'_>,
        body: Option<&Value>,
    ) -> Outgoing {
        let op = self.op;
        let status = op.response.status;
        if let Some(out) = self.bulk_answer(store, method, path, parts.query, body) {
            return out;
        }
        if let Some(out) = self.seeded_answer(store, method, path, parts, body) {
            return out;
        }
        if op.creates {
            let target = if op.template.text.ends_with("/create") {
                path.trim_end_matches('/')
                    .rsplit_once('/')
                    .map_or("", |(c, _)| c)
            } else {
                path
            };
            let collection = canonical_collection(target);
            let integer_id = self.schema().is_some_and(|s| {
                declared_properties(&s, self.defs)
                    .get("id")
                    .and_then(|id| effective_type(id, self.defs, 0))
                    .as_deref()
                    == Some("integer")
            });
            let record = lock(store).create(collection, body, integer_id);
            return self.with_record(status, collection, &record);
        }
        let item_method = matches!(method, "GET" | "PUT" | "PATCH" | "POST" | "DELETE");
        if op.template.ends_with_var() && item_method {
            let ident = parts
                .path_params
                .last()
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let collection = canonical_collection(path.rfind('/').map_or("", |i| &path[..i]));
            let mut guard = lock(store);
            if guard.knows(collection) {
                let record = match method {
                    "GET" => guard.find(collection, ident),
                    "DELETE" => guard.delete(collection, ident),
                    _ => guard.update(collection, ident, body),
                };
                drop(guard);
                return match record {
                    Some(record) => self.with_record(status, collection, &record),
                    None => Outgoing::error(404, format!("No resource at {path}")),
                };
            }
            drop(guard);
            if let Some(out) = self.documented(status) {
                return out;
            }
            let mut out = self.synthesized(status);
            if let (Some(value), Some(schema)) = (out.body.as_mut(), self.schema()) {
                echo_ident(value, &schema, ident, self.defs);
            }
            return out;
        }
        let records = if method == "GET" {
            lock(store).list(canonical_collection(path))
        } else {
            Vec::new()
        };
        if records.is_empty()
            && let Some(out) = self.documented(status)
        {
            return out;
        }
        let mut out = self.synthesized(status);
        if !records.is_empty()
            && let (Some(value), Some(schema)) = (out.body.as_mut(), self.schema())
        {
            self.fill_list(value, &schema, &records, parts.query);
        }
        out
    }

    /// The answer of a seeded action, document or view, if `method path` is one.
    fn seeded_answer(
        &self,
        store: &Mutex<Store>,
        method: &str,
        path: &str,
        parts: &RequestParts<'_>,
        body: Option<&Value>,
    ) -> Option<Outgoing> {
        let seed = self.seed.as_ref()?;
        let status = self.op.response.status;
        if let Some((collection, ident, action)) = seed.action(method, path) {
            let collection = canonical_collection(&collection);
            let updated = {
                let mut guard = lock(store);
                guard.find(collection, &ident).and_then(|record| {
                    let set = Value::Object(action.fields_of(&record.fields, body, parts.query));
                    guard.update(collection, &ident, Some(&set))
                })
            };
            return Some(match updated {
                Some(record) if action.answer_record => {
                    self.with_record(status, collection, &record)
                }
                Some(_) => self.synthesized(status),
                None => Outgoing::error(404, format!("No resource at {collection}/{ident}")),
            });
        }
        if let Some((batch, collection)) = seed.batch(method, path) {
            return Some(self.batch_answer(store, batch, canonical_collection(&collection), body));
        }
        if let Some(document) = seed.document(method, path) {
            let mut out = self.synthesized(status);
            if let (Some(value), Some(schema)) = (out.body.as_mut(), self.schema()) {
                overlay(value, &schema, &document.body, self.defs, true);
            }
            return Some(out);
        }
        let (view, collection, captured) = seed.view(method, path)?;
        let collection = canonical_collection(&collection);
        if let Some(follow) = &view.follow {
            let ident = captured.unwrap_or_default();
            let target_collection = canonical_collection(&follow.collection);
            let target = {
                let guard = lock(store);
                guard
                    .find(collection, &ident)
                    .and_then(|item| item.fields.get(&follow.field).cloned())
                    .and_then(|id| {
                        let id = id.as_str().map_or_else(|| id.to_string(), str::to_owned);
                        guard.find(target_collection, &id)
                    })
            };
            return Some(match target {
                Some(record) => self.with_record(status, target_collection, &record),
                None => Outgoing::error(404, format!("No resource at {path}")),
            });
        }
        if let Some(member) = &view.elements {
            let ident = captured.unwrap_or_default();
            let item = lock(store).find(collection, &ident);
            let Some(item) = item else {
                return Some(Outgoing::error(404, format!("No resource at {path}")));
            };
            let records: Vec<Record> = item
                .fields
                .get(member)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_object().cloned())
                .map(|fields| Record {
                    id: fields.get("id").cloned().unwrap_or(Value::Null),
                    fields,
                })
                .collect();
            let mut out = self.synthesized(status);
            if let (Some(value), Some(schema)) = (out.body.as_mut(), self.schema()) {
                self.fill_list(value, &schema, &records, parts.query);
            }
            return Some(out);
        }
        let records: Vec<Record> = {
            let guard = lock(store);
            if !guard.knows(collection) {
                return None;
            }
            let shown = guard
                .list(collection)
                .into_iter()
                .filter(|r| view.shows(&r.fields, captured.as_deref(), parts.query));
            match &view.unnest {
                Some(unnest) => shown
                    .flat_map(|r| unnest.items(&r.id, &r.fields))
                    .map(|fields| Record {
                        id: Value::Null,
                        fields,
                    })
                    .collect(),
                None => shown.collect(),
            }
        };
        let mut out = self.synthesized(status);
        if let (Some(value), Some(schema)) = (out.body.as_mut(), self.schema()) {
            match &view.count {
                Some(member) => {
                    let mut fields = Map::new();
                    fields.insert(member.clone(), json!(records.len()));
                    fields.insert(
                        "self".to_string(),
                        Value::String(format!("{}{path}", self.base_url)),
                    );
                    overlay(value, &schema, &fields, self.defs, true);
                }
                None => self.fill_list(value, &schema, &records, parts.query),
            }
        }
        Some(out)
    }

    /// A seeded bulk create (POST) or update (PUT) of `collection`: every
    /// element of the body's `member` becomes (or updates, by `id`) one
    /// record; the answer lists them in the same member. An element naming
    /// no record is a 404 and nothing is changed.
    fn batch_answer(
        &self,
        store: &Mutex<Store>,
        bulk: &crate::seed::Batch,
        collection: &str,
        body: Option<&Value>,
    ) -> Outgoing {
        let elements = body
            .and_then(|b| b.get(&bulk.member))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut guard = lock(store);
        let records: Vec<Value> = if bulk.method.eq_ignore_ascii_case("POST") {
            elements
                .iter()
                .map(|e| Value::Object(guard.create(collection, Some(e), false).fields))
                .collect()
        } else {
            let ident = |e: &Value| {
                e.get("id")
                    .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
            };
            if let Some(missing) = elements
                .iter()
                .find(|e| ident(e).is_none_or(|id| guard.find(collection, &id).is_none()))
            {
                return Outgoing::error(404, format!("No resource in {collection} for {missing}"));
            }
            elements
                .iter()
                .filter_map(|e| guard.update(collection, &ident(e)?, Some(e)))
                .map(|r| Value::Object(r.fields))
                .collect()
        };
        drop(guard);
        let mut out = self.synthesized(self.op.response.status);
        if let (Some(value), Some(schema)) = (out.body.as_mut(), self.schema()) {
            let mut fields = Map::new();
            fields.insert(bulk.member.clone(), Value::Array(records));
            overlay(value, &schema, &fields, self.defs, true);
        }
        out
    }

    /// The documented example, verbatim, when examples are on and the
    /// response has one (a schema-only response is synthesized as usual).
    fn documented(&self, status: u16) -> Option<Outgoing> {
        if !self.examples {
            return None;
        }
        let example = self.op.response.example.as_ref()?;
        Some(Outgoing::json(status, example.clone()))
    }

    /// The response schema: the declared one, or one inferred from the example
    /// (so that records can be overlaid on example responses too).
    pub(crate) fn schema(&self) -> Option<Cow<'_, Value>> {
        match &self.op.response.body {
            ResponseBody::Schema(s) => Some(Cow::Borrowed(s)),
            ResponseBody::Example(e) => Some(Cow::Owned(infer_schema(e))),
            ResponseBody::Empty => None,
        }
    }

    /// The synthesized (or example, or empty) response.
    pub(crate) fn synthesized(&self, status: u16) -> Outgoing {
        let body = match &self.op.response.body {
            ResponseBody::Empty => None,
            ResponseBody::Schema(s) => Some(Synth::new(self.defs).instance(s)),
            ResponseBody::Example(e) => Some(e.clone()),
        };
        Outgoing {
            status,
            headers: Vec::new(),
            body,
            text: None,
        }
    }

    /// The synthesized response overlaid with a record (plus `self`).
    fn with_record(&self, status: u16, collection: &str, record: &Record) -> Outgoing {
        let mut out = self.synthesized(status);
        if self.trusted
            && let (ResponseBody::Example(_), Some(Value::Object(map))) =
                (&self.op.response.body, out.body.as_mut())
        {
            // A tenant's record replaces the documented example's values.
            map.clear();
        }
        if let (Some(value), Some(schema)) = (out.body.as_mut(), self.schema()) {
            let mut fields = record.fields.clone();
            let id = match &record.id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            fields.insert(
                "self".to_string(),
                Value::String(format!("{}{collection}/{id}", self.base_url)),
            );
            if let Some(member) = self.seed.as_ref().and_then(|s| s.envelopes.get(collection)) {
                let mut wrapped = Map::new();
                wrapped.insert(member.clone(), Value::Object(fields));
                fields = wrapped;
            }
            overlay(value, &schema, &fields, self.defs, self.trusted);
        }
        out
    }

    /// Put stored records into a list response (top-level array, or the
    /// `values`/`results`/first array-of-objects property of a page object).
    /// A seeded tenant's lists honour the seed's offset paging styles: the
    /// page asked for, the full `total`, the page's `size`, offset, limit and
    /// last-page members where the schema declares them.
    fn fill_list(
        &self,
        value: &mut Value,
        schema: &Value,
        all: &[Record],
        query: &[(String, String)],
    ) {
        let declared = declared_properties(schema, self.defs);
        let page = self.seed.as_ref().and_then(|s| {
            s.page(query, |style| {
                declared.contains_key(&style.offset) || declared.contains_key(&style.last)
            })
        });
        let (records, last) = match &page {
            Some(page) => page.of(all),
            None => (all, true),
        };
        let synth = Synth::new(self.defs);
        let items_of = |s: &Value| -> Option<Value> {
            let resolved = ref_target(s, self.defs).unwrap_or(s);
            resolved.get("items").cloned()
        };
        let build = |items: &Value| -> Vec<Value> {
            records
                .iter()
                .map(|r| {
                    let mut v = synth.instance(items);
                    overlay(&mut v, items, &r.fields, self.defs, self.trusted);
                    v
                })
                .collect()
        };
        if effective_type(schema, self.defs, 0).as_deref() == Some("array") {
            if let Some(items) = items_of(schema) {
                *value = Value::Array(build(&items));
            }
            return;
        }
        if self.trusted && declared.is_empty() && effective_type(schema, self.defs, 0).is_none() {
            // A free-form answer: a tenant's records as they are.
            *value = Value::Array(
                records
                    .iter()
                    .map(|r| Value::Object(r.fields.clone()))
                    .collect(),
            );
            return;
        }
        let list_prop = ["values", "results"]
            .iter()
            .find(|name| declared.contains_key(**name))
            .map(|s| (*s).to_string())
            .or_else(|| {
                declared
                    .iter()
                    .find(|(_, s)| effective_type(s, self.defs, 0).as_deref() == Some("array"))
                    .map(|(k, _)| k.clone())
            });
        let Some(list_prop) = list_prop else { return };
        let Some(items) = declared.get(&list_prop).and_then(items_of) else {
            return;
        };
        if let Value::Object(map) = value {
            map.insert(list_prop, Value::Array(build(&items)));
            let mut members = vec![
                ("total".to_string(), json!(all.len())),
                ("size".to_string(), json!(records.len())),
            ];
            if let Some(page) = &page {
                members.push((page.style.offset.clone(), json!(page.offset)));
                members.push((page.style.limit.clone(), json!(page.limit)));
                members.push((page.style.last.clone(), json!(last)));
            } else if self.trusted {
                // One page holding everything (not a documented example's paging).
                for style in self.seed.iter().flat_map(|s| &s.paging) {
                    members.push((style.offset.clone(), json!(0)));
                    members.push((style.limit.clone(), json!(all.len().max(1))));
                    members.push((style.last.clone(), json!(true)));
                }
            }
            for (member, n) in members {
                if let Some(s) = declared.get(&member)
                    && let Some(n) = fit(&n, s, self.defs, 0)
                {
                    map.insert(member, n);
                }
            }
        }
    }
}

/// Echo the item identifier of an unknown resource into `id` (numeric) or `key`.
fn echo_ident(value: &mut Value, schema: &Value, ident: &str, defs: &Map<String, Value>) {
    if ident.is_empty() {
        return;
    }
    let declared = declared_properties(schema, defs);
    let numeric = ident.bytes().all(|b| b.is_ascii_digit());
    let target = if numeric || !declared.contains_key("key") {
        "id"
    } else {
        "key"
    };
    if let (Some(prop), Value::Object(map)) = (declared.get(target), value)
        && let Some(fitted) = fit(&Value::String(ident.to_string()), prop, defs, 0)
    {
        map.insert(target.to_string(), fitted);
    }
}

/// A loose schema describing an example value (types of its fields), used to
/// overlay records on responses that only have an example.
fn infer_schema(example: &Value) -> Value {
    match example {
        Value::Object(map) => {
            let properties: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), infer_schema(v)))
                .collect();
            json!({"type": "object", "properties": properties})
        }
        Value::Array(items) => match items.first() {
            Some(first) => json!({"type": "array", "items": infer_schema(first)}),
            None => json!({"type": "array"}),
        },
        Value::String(_) => json!({"type": "string"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "integer"}),
        Value::Number(_) => json!({"type": "number"}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Null => json!({}),
    }
}

/// The identity routes, served before the spec routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdentityRoute {
    /// `auth.atlassian.com/authorize`
    Authorize,
    /// `auth.atlassian.com/oauth/token`
    Token,
    /// `api.atlassian.com/oauth/token/accessible-resources`
    AccessibleResources,
    /// `api.atlassian.com/me`
    Me,
}

impl IdentityRoute {
    fn of(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/authorize" => Some(Self::Authorize),
            "/oauth/token" => Some(Self::Token),
            "/oauth/token/accessible-resources" => Some(Self::AccessibleResources),
            "/me" => Some(Self::Me),
            _ => None,
        }
    }

    fn method(self) -> &'static str {
        match self {
            Self::Token => "POST",
            Self::Authorize | Self::AccessibleResources | Self::Me => "GET",
        }
    }

    /// Recorded operation label.
    fn label(self) -> &'static str {
        match self {
            Self::Authorize => "oauth#authorize",
            Self::Token => "oauth#token",
            Self::AccessibleResources => "oauth#accessibleResources",
            Self::Me => "identity#me",
        }
    }
}

/// A request path under `/ex/{product}/{cloudId}`.
#[derive(Debug, Clone)]
struct ExPath {
    product: String,
    cloud_id: String,
    /// The path below the prefix, as on the site (`/rest/api/3/myself`).
    rest: String,
}

/// Split `/ex/{jira|confluence}/{cloudId}/rest...` into its parts.
fn split_ex(path: &str) -> Option<ExPath> {
    let tail = path.strip_prefix("/ex/")?;
    let (product, tail) = tail.split_once('/')?;
    if product != "jira" && product != "confluence" {
        return None;
    }
    let (cloud_id, rest) = match tail.split_once('/') {
        Some((cloud, rest)) => (cloud, format!("/{rest}")),
        None => (tail, "/".to_string()),
    };
    Some(ExPath {
        product: product.to_string(),
        cloud_id: crate::router::decode_segment(cloud_id),
        rest,
    })
}

/// Parameters of a token request: a JSON object (as Atlassian documents) or
/// an `application/x-www-form-urlencoded` body.
fn token_params(req: &Incoming) -> HashMap<String, String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&req.body) {
        return map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect();
    }
    url::form_urlencoded::parse(&req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Client credentials from `Authorization: Basic base64(id:secret)`.
fn basic_client(header: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// Escape text for an HTML page.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
