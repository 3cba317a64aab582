//! An in-memory fake of the Atlassian Cloud REST APIs, bound to 127.0.0.1.
//!
//! It reads Atlassian's OpenAPI 3.0 spec files (raw JSON; an independent
//! reading, not shared with the code generator), routes each request to its
//! operation by path template, validates path, query, header and JSON body
//! against the operation's schemas, answers `400` with the violations in
//! Jira's error shape (`{"errorMessages":[...],"errors":{}}`), keeps state for
//! created resources, synthesizes schema-valid responses for everything else
//! (or, opted in with [`FakeAtlassian::with_examples`], answers the spec's
//! documented examples where it has them), starts from a small realistic
//! tenant when asked ([`FakeAtlassian::with_seed`], as `serve --sandbox` does),
//! records every request, and can inject faults per route.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_atlassian::FakeError> {
//! let dir = fake_atlassian::find_specs_dir().ok_or_else(|| fake_atlassian::FakeError::NoSpecs {
//!     dir: "specs/cache".into(),
//!     expected: "jira-platform.json".into(),
//! })?;
//! let fake = fake_atlassian::FakeAtlassian::load(&dir)?.serve(0).await?;
//! println!("{}", fake.base_url());
//! fake.shutdown();
//! # Ok(())
//! # }
//! ```
//!
//! It also plays Atlassian's identity side on the same origin (see
//! `identity`): an OAuth 2.0 (3LO) authorization server (`/authorize`,
//! `/oauth/token`), `/oauth/token/accessible-resources` and `/me`, users and
//! sites, classic API tokens and the org admin key. Product paths are also
//! served below `/ex/{jira|confluence}/{cloudId}`, as `api.atlassian.com`
//! routes OAuth calls.
//!
//! Modules: `identity` (users, OAuth, credentials), `spec` (loading), `convert` (OpenAPI → JSON Schema, spec defect
//! corrections), `router` (path templates), `validate` (requests), `synth`
//! (responses), `state` (resources), `seed` (a tenant's records, views and
//! actions, loaded from `seed/tenant.json`), `faults`, `record`, `engine` (the
//! pipeline), `server` (axum glue).

mod bulk;
mod convert;
mod engine;
mod error;
mod faults;
mod identity;
mod record;
mod router;
mod seed;
mod server;
mod spec;
mod state;
mod synth;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;

pub use error::FakeError;
pub use faults::Fault;
pub use identity::{
    CredentialKind, DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CLOUD_ID,
    DEFAULT_DISPLAY_NAME, DEFAULT_EMAIL, DEFAULT_ORG_ADMIN_KEY, DEFAULT_ORG_ID, DEFAULT_SITE_NAME,
    FakeSite, FakeUser, IssuedToken, ORG_ADMIN_PRINCIPAL,
};
pub use record::{DEFAULT_REQUEST_LOG_CAP, RecordedRequest};
/// The built-in seed files (name, text) that [`FakeAtlassian::with_seed`] merges.
pub use seed::BUILTIN as BUILTIN_SEEDS;
pub use server::FakeHandle;
pub use spec::{KNOWN_SPECS, SpecFile};

use engine::{Engine, lock};
use spec::{Catalog, ResponseBody};
use synth::Synth;

/// A route of a lenient fake built without specs (see [`FakeAtlassian::from_routes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteDef {
    /// HTTP method, e.g. `"GET"`.
    pub method: String,
    /// Full path template, mount included, e.g. `/rest/api/3/project/{projectIdOrKey}`.
    pub path: String,
    /// Label recorded for matching requests.
    pub operation: String,
    /// OpenAPI schema of the JSON response (`None` answers `{}`).
    pub response_schema: Option<Value>,
}

/// One operation the fake serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationInfo {
    /// `jira-platform#getProject`, or `spec#METHOD /path` without an operationId.
    pub label: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Full path template, mount included.
    pub path: String,
}

/// Result of [`FakeAtlassian::self_check`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfCheck {
    /// Operations checked.
    pub operations: usize,
    /// Synthesized responses checked against their schema.
    pub responses_checked: usize,
    /// Request schemas that do not compile (`label: part: error`).
    pub compile_problems: Vec<String>,
    /// Synthesized responses that their own schema rejects (`label: error`).
    pub invalid_responses: Vec<String>,
    /// Minimal JSON request bodies (synthesized from the request schema) that
    /// the fake's own request validation rejects (`label: violation`).
    pub rejected_requests: Vec<String>,
}

/// The fake, loaded and ready to serve (or to answer in-process with [`FakeAtlassian::call`]).
#[derive(Debug, Clone)]
pub struct FakeAtlassian {
    engine: Arc<Engine>,
}

impl FakeAtlassian {
    /// Load every known spec file present in `dir` (see [`KNOWN_SPECS`]).
    ///
    /// # Errors
    /// [`FakeError::NoSpecs`] when none is present (naming the directory and the
    /// expected file names); I/O, JSON or structure errors of a present file.
    pub fn load(dir: &Path) -> Result<Self, FakeError> {
        let catalog = Catalog::load(dir)?;
        Ok(Self {
            engine: Arc::new(Engine::new(Arc::new(catalog))),
        })
    }

    /// A fake over one spec document given as bytes, loaded as the known
    /// spec `file` (see [`KNOWN_SPECS`]): what [`FakeAtlassian::load`] does
    /// for each file it finds, without the filesystem (the fuzz targets use it).
    ///
    /// # Errors
    /// JSON or structure errors of the document.
    pub fn from_spec_bytes(file: SpecFile, bytes: &[u8]) -> Result<Self, FakeError> {
        let path = PathBuf::from(format!("{}.json", file.stem));
        let catalog = Catalog::from_bytes(file, bytes, &path)?;
        Ok(Self {
            engine: Arc::new(Engine::new(Arc::new(catalog))),
        })
    }

    /// The fake driving an engine (for [`FakeHandle::fake`]).
    pub(crate) fn from_engine(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// A new fake over the same loaded specs, with no resources, faults or
    /// recorded requests (loading the specs once for many tests).
    /// The examples mode ([`FakeAtlassian::with_examples`]) and the seed
    /// ([`FakeAtlassian::with_seed`], freshly loaded) carry over.
    pub fn fresh(&self) -> Self {
        let engine = Engine::new(self.engine.catalog.clone());
        lock(&engine.log).set_cap(lock(&self.engine.log).cap());
        engine.examples.store(
            self.engine.examples.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        if let Some(seed) = self.engine.seed() {
            engine.set_seed(seed);
        }
        Self {
            engine: Arc::new(engine),
        }
    }

    /// A lenient fake without specs: only the given routes, no validation,
    /// responses synthesized from each route's response schema (`{}` without one).
    /// Authentication, state, faults and recording work as with specs.
    pub fn from_routes(routes: Vec<RouteDef>) -> Self {
        Self {
            engine: Arc::new(Engine::new(Arc::new(Catalog::from_routes(routes)))),
        }
    }

    /// Refuse credentials the fake does not know (by default a fake is
    /// lenient: an unknown Basic or Bearer credential speaks for the default
    /// user, or for the org admin on admin paths, so that tests written
    /// before identities existed keep working). Known credentials are always
    /// checked: an expired or revoked OAuth token, the org key off admin
    /// paths, or an OAuth token on admin paths are refused either way.
    #[must_use]
    pub fn strict_auth(self) -> Self {
        lock(&self.engine.identity).strict = true;
        self
    }

    /// Answer an operation's documented example (the spec's
    /// `responses.<2xx>.content.application/json.example`, else the first of
    /// its `examples`) instead of a synthesized body, where the spec has one;
    /// synthesize as usual otherwise. Synthesis produces required properties
    /// only, so answers are tiny; examples are closer to what a real site
    /// sends (`self` links, avatar maps, expanded fields), for measuring what
    /// the server does to realistic answers. Answers built from created
    /// resources (a POST that creates, a GET of a created item or of a
    /// collection holding some) are synthesized and overlaid as without
    /// examples. Examples are not checked against their schema: Atlassian's
    /// are mostly, not always, valid.
    #[must_use]
    pub fn with_examples(self) -> Self {
        self.engine.examples.store(true, Ordering::Relaxed);
        self
    }

    /// Start from a small realistic tenant instead of an empty site: Jira
    /// projects of each type with their schemes, workflows, screens, custom
    /// fields and contexts, filters, dashboards, boards and sprints; two
    /// service desks with request types, queues, customers and
    /// organizations; an Assets schema with object types and objects;
    /// Confluence spaces with permissions and properties; an organization
    /// with users, groups and domains (the data: `seed/tenant.json` in this
    /// crate). Seeded collections are authoritative (a create is listed
    /// afterwards, an update read back, a delete gone, an unknown id 404);
    /// everything else is synthesized as without a seed. [`FakeAtlassian::reset_state`]
    /// goes back to the seed.
    ///
    /// # Errors
    /// [`FakeError::InvalidSeed`] if the built-in seed does not parse (a test guards it).
    pub fn with_seed(self) -> Result<Self, FakeError> {
        let seed = seed::Seed::parse_all(seed::BUILTIN)?;
        self.engine.set_seed(Arc::new(seed));
        Ok(self)
    }

    /// [`FakeAtlassian::with_seed`] from another seed file's text (the same
    /// shape as `seed/tenant.json`: `collections`, `views`, `actions`, `envelopes`).
    ///
    /// # Errors
    /// [`FakeError::InvalidSeed`] when the text is not a seed.
    pub fn with_seed_text(self, text: &str) -> Result<Self, FakeError> {
        let seed = seed::Seed::parse(text)?;
        self.engine.set_seed(Arc::new(seed));
        Ok(self)
    }

    /// Whether the fake was seeded ([`FakeAtlassian::with_seed`]).
    pub fn is_seeded(&self) -> bool {
        self.engine.seed().is_some()
    }

    /// Add a user (replacing one with the same account id).
    pub fn add_user(&self, user: FakeUser) {
        lock(&self.engine.identity).add_user(user);
    }

    /// The user directory.
    pub fn users(&self) -> Vec<FakeUser> {
        lock(&self.engine.identity).users()
    }

    /// Add a site (replacing one with the same cloud id). A fresh fake has
    /// [`DEFAULT_CLOUD_ID`], named [`DEFAULT_SITE_NAME`], at its own base URL.
    pub fn add_site(&self, site: FakeSite) {
        lock(&self.engine.identity).add_site(site);
    }

    /// Who consents at the next `/authorize` (default [`DEFAULT_ACCOUNT_ID`]).
    pub fn set_consenting_user(&self, account_id: &str) {
        lock(&self.engine.identity).set_consenting_user(account_id);
    }

    /// Move the fake clock forward (every code and token expiry reads it).
    pub fn advance_clock(&self, by: std::time::Duration) {
        lock(&self.engine.identity).advance_clock(by);
    }

    /// Now, on the fake clock.
    pub fn now(&self) -> std::time::SystemTime {
        lock(&self.engine.identity).now()
    }

    /// Register an OAuth client accepting exactly these redirect URIs
    /// (replacing one with the same id). [`DEFAULT_CLIENT_ID`] /
    /// [`DEFAULT_CLIENT_SECRET`] is always registered and accepts any
    /// `http://127.0.0.1` or `http://localhost` redirect URI.
    pub fn register_oauth_client(
        &self,
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[&str],
    ) {
        lock(&self.engine.identity).register_client(client_id, client_secret, redirect_uris);
    }

    /// Register a classic API token (Basic `email:token`) for an account.
    pub fn add_api_token(&self, account_id: &str, token: &str) {
        lock(&self.engine.identity).add_api_token(account_id, token);
    }

    /// Replace the org admin API key (default [`DEFAULT_ORG_ADMIN_KEY`]).
    pub fn set_org_admin_key(&self, key: &str) {
        lock(&self.engine.identity).set_org_key(key);
    }

    /// `expires_in` of the access tokens issued from now on (default 3600 s).
    pub fn set_access_token_lifetime(&self, lifetime: std::time::Duration) {
        lock(&self.engine.identity).set_expires_in(lifetime.as_secs());
    }

    /// Make the next successful refresh grant answer without `refresh_token`
    /// (as Atlassian sometimes does); the presented refresh token then stays
    /// current (it is not rotated).
    pub fn omit_next_refresh_token(&self) {
        lock(&self.engine.identity).omit_next_refresh_token();
    }

    /// How many `grant_type=refresh_token` requests `/oauth/token` received
    /// (whatever their outcome).
    pub fn refresh_grant_count(&self) -> u64 {
        lock(&self.engine.identity).refresh_grants()
    }

    /// Every OAuth access token issued, oldest first.
    pub fn issued_access_tokens(&self) -> Vec<IssuedToken> {
        lock(&self.engine.identity).issued_access_tokens()
    }

    /// Whether the family (consent) of this access or refresh token was
    /// revoked; `None` for a token the fake never issued.
    pub fn token_family_revoked(&self, token: &str) -> Option<bool> {
        lock(&self.engine.identity).token_family_revoked(token)
    }

    /// Bind `127.0.0.1:port` (0 = ephemeral) and serve in a tokio task.
    ///
    /// # Errors
    /// [`FakeError::Bind`] when the port cannot be bound.
    pub async fn serve(self, port: u16) -> Result<FakeHandle, FakeError> {
        server::serve(self.engine, port).await
    }

    /// An axum router answering every request (for embedding, or `oneshot` tests).
    pub fn router(&self) -> axum::Router {
        server::router(self.engine.clone())
    }

    /// Answer one request in-process, exactly as the server would.
    pub async fn call(&self, request: axum::extract::Request) -> axum::response::Response {
        server::call(&self.engine, request).await
    }

    /// Number of operations served.
    pub fn operation_count(&self) -> usize {
        self.engine.catalog.ops.len()
    }

    /// Number of spec files loaded (0 for [`FakeAtlassian::from_routes`]).
    pub fn spec_count(&self) -> usize {
        self.engine.catalog.spec_count()
    }

    /// Stems of the loaded spec files, in load order.
    pub fn spec_names(&self) -> Vec<String> {
        self.engine
            .catalog
            .specs
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// Every operation served, in spec order.
    pub fn operations(&self) -> Vec<OperationInfo> {
        self.engine
            .catalog
            .ops
            .iter()
            .map(|op| OperationInfo {
                label: op.label.clone(),
                method: op.method.clone(),
                path: op.template.text.clone(),
            })
            .collect()
    }

    /// Every request received so far, oldest first (the newest
    /// [`FakeAtlassian::request_log_cap`] of them).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.engine.requests()
    }

    /// Forget the recorded requests (and the count of dropped ones).
    pub fn clear_requests(&self) {
        self.engine.clear_requests();
    }

    /// Keep only the newest `cap` requests in the log (default
    /// [`DEFAULT_REQUEST_LOG_CAP`], generous for tests; a long-running fake,
    /// such as `serve --sandbox`'s, keeps fewer); older ones are dropped
    /// and counted ([`FakeAtlassian::dropped_requests`]).
    #[must_use]
    pub fn with_request_log_cap(self, cap: usize) -> Self {
        lock(&self.engine.log).set_cap(cap);
        self
    }

    /// How many requests the log keeps at most.
    pub fn request_log_cap(&self) -> usize {
        lock(&self.engine.log).cap()
    }

    /// How many recorded requests were dropped to stay within the cap.
    pub fn dropped_requests(&self) -> u64 {
        lock(&self.engine.log).dropped()
    }

    /// Add a fault.
    pub fn inject(&self, fault: Fault) {
        self.engine.inject(fault);
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.engine.clear_faults();
    }

    /// Forget every created resource (back to the seed, if any).
    pub fn reset_state(&self) {
        self.engine.reset_state();
    }

    /// Check `body` against the success response schema of the operation labelled
    /// `operation` (e.g. `jira-platform#getProject`), as a response (readOnly
    /// properties required).
    ///
    /// # Errors
    /// The violations (`/pointer: message`), or why no check is possible.
    pub fn check_response(&self, operation: &str, body: &Value) -> Result<(), Vec<String>> {
        let catalog = &self.engine.catalog;
        let op = catalog
            .ops
            .iter()
            .find(|op| op.label == operation)
            .ok_or_else(|| vec![format!("no operation labelled {operation}")])?;
        let ResponseBody::Schema(schema) = &op.response.body else {
            return Err(vec![format!("{operation} has no JSON response schema")]);
        };
        let empty = serde_json::Map::new();
        let defs = catalog.specs.get(op.spec).map_or(&empty, |s| &s.defs);
        let validator = validate::build_validator(schema, defs, false).map_err(|e| vec![e])?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{}: {e}", e.instance_path().as_str()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Compile every request validator and check every synthesized response
    /// against its own (converted) schema. Slow (seconds): meant for tests and CI.
    pub fn self_check(&self) -> SelfCheck {
        let catalog = &self.engine.catalog;
        let mut check = SelfCheck {
            operations: catalog.ops.len(),
            ..SelfCheck::default()
        };
        let empty = serde_json::Map::new();
        for op in &catalog.ops {
            let defs = catalog.specs.get(op.spec).map_or(&empty, |s| &s.defs);
            if op.validate {
                let compiled = op.compiled.get_or_init(|| validate::compile(op, defs));
                check.compile_problems.extend(
                    compiled
                        .problems
                        .iter()
                        .map(|p| format!("{}: {p}", op.label)),
                );
                if let Some(schema) = op.body.as_ref().and_then(|b| b.json_schema.as_ref())
                    && let Some(violation) =
                        compiled.body_violation(&Synth::new(defs).instance(schema))
                {
                    check
                        .rejected_requests
                        .push(format!("{}: {violation}", op.label));
                }
            }
            let ResponseBody::Schema(schema) = &op.response.body else {
                continue;
            };
            let instance = Synth::new(defs).instance(schema);
            check.responses_checked += 1;
            match validate::build_validator(schema, defs, false) {
                Ok(validator) => {
                    if let Some(error) = validator.iter_errors(&instance).next() {
                        check.invalid_responses.push(format!(
                            "{}: {}: {error}",
                            op.label,
                            error.instance_path().as_str()
                        ));
                    }
                }
                Err(e) => check
                    .compile_problems
                    .push(format!("{}: response: {e}", op.label)),
            }
        }
        check
    }
}

/// The directory holding the spec files: `$GOJIRA_SPECS_DIR`, else
/// `<workspace root>/specs/cache`, else `<workspace root>/../shared/specs`
/// (workspace root = this crate's directory `/../..`). A directory counts only
/// if it contains `jira-platform.json`.
pub fn find_specs_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..");
    let candidates = [
        std::env::var_os("GOJIRA_SPECS_DIR").map(PathBuf::from),
        Some(root.join("specs").join("cache")),
        Some(root.join("..").join("shared").join("specs")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("jira-platform.json").is_file())
        .map(|dir| dir.canonicalize().unwrap_or(dir))
}
