//! What every step of a call shares: the server's [`ServerState`] (the
//! catalog, the served tools and their scopes, the journal, the read cache,
//! the upstream client, identity) and the call's [`CallContext`].
//!
//! The bottom of the call path: `mcp` builds the state (`ServerState::new`,
//! in [`crate::mcp::server`]) and dispatches; `identity`, `writes` and
//! `builtin` read it. Nothing here imports `mcp`, `writes` (beyond its
//! journal and safety declarations) or `builtin` (`runtime_layering_holds` in xtask).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Duration;

use rmcp::model::Tool;
use serde_json::{Map, Value};
use tracing::warn;

use crate::catalog::{Catalog, Product, Tool as CatalogTool, UpstreamRequest};
use crate::error::ToolError;
use crate::upstream::Upstream;
use crate::upstream::cache::ReadCache;
use crate::writes::journal::Journal;
use crate::writes::safety::Safety;

/// Who a tool call acts for. Identity comes only from here (the bearer, or
/// the configured credential in local mode), never from tool arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// Principal id (`oauth:{account_id}` in OAuth mode): cache, journal and
    /// limits are keyed by it.
    pub principal: String,
    /// The signed-in user behind the bearer (OAuth mode only).
    pub user: Option<gojira_auth::Principal>,
    /// The last upstream status of the call (the org-admin audit log records it).
    pub upstream_status: crate::identity::UpstreamStatus,
}

/// A built-in tool with its parsed schema and a validator compiled on first
/// use (as the generated tools' are: RSS at ready stays small).
pub(crate) struct BuiltinTool {
    pub(crate) name: &'static str,
    pub(crate) schema: Map<String, Value>,
    pub(crate) validator: std::sync::OnceLock<Result<jsonschema::Validator, String>>,
}

impl std::fmt::Debug for BuiltinTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinTool")
            .field("name", &self.name)
            .finish()
    }
}

/// Everything a request needs, shared by all sessions.
#[derive(Debug)]
pub struct ServerState {
    pub(crate) catalog: Catalog,
    pub(crate) builtins: BTreeMap<&'static str, BuiltinTool>,
    /// Safety declarations of the writing tools, parsed once.
    pub(crate) safety: BTreeMap<&'static str, Safety>,
    pub(crate) journal: Journal,
    /// Seals the state of native consent requests (2026-07-28 `input_required`).
    pub(crate) consent_codec: Option<rmcp::model::RequestStateCodec>,
    pub(crate) cache: ReadCache,
    pub(crate) principal: String,
    pub(crate) store: gojira_store::Store,
    pub(crate) enabled: BTreeSet<String>,
    pub(crate) upstream: Upstream,
    pub(crate) timeout: Duration,
    pub(crate) tools: ToolList,
    /// The OAuth scope each served tool needs (checked in oauth mode at
    /// `tools/list`, at the HTTP edge and at dispatch), hidden tools
    /// included: a revert that calls one needs its scope too.
    pub(crate) scopes: BTreeMap<&'static str, &'static str>,
    /// Catalog-only tools of the enabled groups: reverts call them, clients
    /// never see nor call them.
    pub(crate) hidden: BTreeSet<&'static str>,
    /// Principals who may read every user's journal (`GOJIRA_JOURNAL_OPERATORS`).
    pub(crate) journal_operators: BTreeSet<String>,
    pub(crate) identity: crate::identity::Identity,
    /// How asynchronous tasks are followed and how long their handles live.
    pub(crate) tasks: crate::config::TaskPolicy,
}

impl ServerState {
    /// The scope a tool a client may call needs (`None`: not served here,
    /// or hidden: a client's call of a hidden tool answers as unknown, not
    /// with a scope challenge that would reveal it).
    pub fn required_scope(&self, tool: &str) -> Option<&'static str> {
        if self.hidden.contains(tool) {
            return None;
        }
        self.scopes.get(tool).copied()
    }

    /// Whether `tool` is a catalog-only tool of an enabled group.
    pub(crate) fn is_hidden(&self, tool: &str) -> bool {
        self.hidden.contains(tool)
    }

    /// The scopes the served tools need, least powerful first: what the
    /// authorization server should offer.
    pub fn offered_scopes(&self) -> Vec<String> {
        gojira_auth::scopes::canonical(self.scopes.values().copied())
    }

    /// Refuses a call of `tool` by a signed-in user whose token lacks its
    /// scope (local mode has no scopes).
    pub(crate) fn check_scope(&self, ctx: &CallContext, tool: &str) -> Result<(), ToolError> {
        // Hidden tools included: a revert that calls one is held to its scope.
        let (Some(user), Some(needed)) = (&ctx.user, self.scopes.get(tool).copied()) else {
            return Ok(());
        };
        if user.has_scope(needed) {
            return Ok(());
        }
        Err(ToolError::new(
            crate::error::ErrorCode::InsufficientScope,
            format!(
                "{tool} needs the {needed} scope, which this sign-in did not grant (it has: {}). Nothing was sent. Next: sign in again and approve {needed}",
                if user.scopes.is_empty() {
                    "none".to_owned()
                } else {
                    user.scopes.join(" ")
                }
            ),
        ))
    }

    /// How callers are identified and credentials chosen (local by default).
    #[must_use]
    pub fn with_identity(mut self, identity: crate::identity::Identity) -> Self {
        self.identity = identity;
        self
    }

    /// How asynchronous tasks nobody polls are followed, and how long a
    /// task handle lives (the defaults otherwise).
    #[must_use]
    pub fn with_task_policy(mut self, tasks: crate::config::TaskPolicy) -> Self {
        self.tasks = tasks;
        self
    }

    /// How asynchronous tasks are followed.
    pub(crate) fn task_policy(&self) -> &crate::config::TaskPolicy {
        &self.tasks
    }

    /// Lets `operators` (principal ids) read every user's journal entries,
    /// audited; everyone else reads only their own.
    #[must_use]
    pub fn with_journal_operators(mut self, operators: BTreeSet<String>) -> Self {
        self.journal_operators = operators;
        self
    }

    /// Whether `principal` may read every user's journal entries.
    pub(crate) fn is_journal_operator(&self, principal: &str) -> bool {
        self.journal_operators.contains(principal)
    }

    /// Records an operator's read of every user's journal: a warning in the
    /// log, an audit event in the store, and a line in the audit log when
    /// one is configured.
    pub(crate) fn audit_journal_view(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Map<String, Value>,
    ) {
        warn!(principal = %ctx.principal, tool, "journal operator view of every user's writes");
        let event = serde_json::json!({
            "event": "JOURNAL_OPERATOR_VIEW",
            "principal": ctx.principal,
            "tool": tool,
            "arguments": args,
            "at_ms": crate::writes::journal::now_ms(),
        });
        self.identity.audit_event(&event);
        let store = self.store.clone();
        let id = format!(
            "{:013}-journal-view-{}",
            crate::writes::journal::now_ms(),
            AUDIT_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        tokio::spawn(async move {
            let key = gojira_store::Key::new(gojira_store::Kind::Audit, id);
            if let Err(e) = store
                .set(
                    &key,
                    event.to_string().as_bytes(),
                    Some(gojira_store::records::AUDIT_TTL),
                )
                .await
            {
                warn!(error = %e, "could not record the journal operator view in the store");
            }
        });
    }

    /// Identity and credentials.
    pub fn identity(&self) -> &crate::identity::Identity {
        &self.identity
    }

    /// The upstream client.
    pub(crate) fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The per-call deadline.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The catalog.
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The tools served, as MCP sees them (built on the first `tools/list`,
    /// which parses the catalog tools' schemas then, not at start-up).
    pub fn tools(&self) -> &[Tool] {
        self.tools.built.get_or_init(|| {
            let mut tools: Vec<Tool> = self
                .tools
                .served
                .iter()
                .filter_map(|name| self.catalog.tools.get(name))
                .map(self.tools.make)
                .collect();
            tools.extend(self.tools.builtins.iter().cloned());
            tools
        })
    }

    /// Who calls upstream when no bearer says otherwise (the configured credential).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    pub(crate) fn consent_codec(&self) -> Option<&rmcp::model::RequestStateCodec> {
        self.consent_codec.as_ref()
    }

    /// The enabled permission groups.
    pub fn enabled_groups(&self) -> Vec<&str> {
        self.enabled.iter().map(String::as_str).collect()
    }

    /// The state store.
    pub fn store(&self) -> &gojira_store::Store {
        &self.store
    }
}

/// Distinguishes audit events recorded in the same millisecond.
static AUDIT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn build(
    tool: &CatalogTool,
    args: Map<String, Value>,
) -> Result<UpstreamRequest, ToolError> {
    (tool.spec.build)(Value::Object(args)).map_err(|e| {
        ToolError::invalid_arguments(format!(
            "{}: {e}. Next: fix the argument and call again",
            tool.spec.name
        ))
    })
}

/// An upstream answer as an object: objects as they are, other JSON under
/// `result`, no body as `{status, ok}`.
pub(crate) fn as_object(response: crate::upstream::UpstreamResponse) -> Value {
    match response.body {
        Some(Value::Object(map)) => Value::Object(map),
        Some(other) => {
            let mut map = Map::new();
            map.insert("result".into(), other);
            Value::Object(map)
        }
        None => {
            let mut map = Map::new();
            map.insert("status".into(), Value::from(response.status));
            map.insert("ok".into(), Value::Bool(true));
            Value::Object(map)
        }
    }
}

/// What the write path needs from the server.
impl ServerState {
    /// A catalog tool by name (enabled or not: snapshots and reverts may use
    /// tools of other groups internally).
    pub(crate) fn catalog_tool(&self, name: &str) -> Option<&CatalogTool> {
        self.catalog.tools.get(name)
    }

    /// Whether `tool`'s group is enabled.
    pub(crate) fn is_enabled(&self, tool: &CatalogTool) -> bool {
        self.enabled.contains(tool.spec.group)
    }

    /// The safety declarations of a writing tool.
    pub(crate) fn safety_of(&self, name: &str) -> Option<&Safety> {
        self.safety.get(name)
    }

    /// The journal.
    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    pub(crate) fn product_of(&self, tool: &CatalogTool) -> Result<&'static Product, ToolError> {
        self.catalog
            .products
            .get(tool.spec.product)
            .copied()
            .ok_or_else(|| {
                ToolError::internal(format!(
                    "tool {} names unknown product {}",
                    tool.spec.name, tool.spec.product
                ))
            })
    }

    /// Validates `args` against the tool's schema and builds its request.
    pub(crate) fn build_request(
        &self,
        tool: &CatalogTool,
        args: &Map<String, Value>,
    ) -> Result<UpstreamRequest, ToolError> {
        let value = Value::Object(args.clone());
        tool.validate(&value).map_err(|problems| {
            ToolError::invalid_arguments(format!(
                "{} arguments are invalid: {problems}",
                tool.spec.name
            ))
        })?;
        build(tool, args.clone())
    }

    /// One page of a paginated read that bypasses the cache, with the
    /// tool's own `cursor`/`limit` arguments (validated as a client's call
    /// is, then translated) and `nextCursor` in the answer when there is more.
    pub(crate) async fn read_fresh_page(
        &self,
        ctx: &CallContext,
        tool: &CatalogTool,
        mut args: Map<String, Value>,
    ) -> Result<Value, ToolError> {
        let Some(pagination) = &tool.spec.pagination else {
            return self.read_fresh(ctx, tool, args).await;
        };
        tool.validate(&Value::Object(args.clone()))
            .map_err(|problems| {
                ToolError::invalid_arguments(format!(
                    "{} arguments are invalid: {problems}",
                    tool.spec.name
                ))
            })?;
        let page = crate::upstream::shape::Page::prepare(pagination, &mut args)?;
        let request = build(tool, args)?;
        let product = self.product_of(tool)?;
        let response = crate::identity::send(self, ctx, tool, product, &request).await?;
        let mut value = as_object(response);
        if let Value::Object(map) = &mut value {
            page.finish(map, false);
        }
        Ok(value)
    }

    /// A read that bypasses the cache (the state a write is about to change).
    pub(crate) async fn read_fresh(
        &self,
        ctx: &CallContext,
        tool: &CatalogTool,
        args: Map<String, Value>,
    ) -> Result<Value, ToolError> {
        let request = self.build_request(tool, &args)?;
        let product = self.product_of(tool)?;
        let response = crate::identity::send(self, ctx, tool, product, &request).await?;
        Ok(as_object(response))
    }

    /// Sends a write: status, Atlassian's request id, the answer as an object.
    pub(crate) async fn send(
        &self,
        ctx: &CallContext,
        tool: &CatalogTool,
        request: &UpstreamRequest,
    ) -> Result<(u16, Option<String>, Value), ToolError> {
        let product = self.product_of(tool)?;
        let response = crate::identity::send(self, ctx, tool, product, request).await?;
        let status = response.status;
        let request_id = response.request_id.clone();
        Ok((status, request_id, as_object(response)))
    }

    /// Sends `request` as the caller, as [`Self::send`] does, and also
    /// answers the product and the upstream `Location` header (where an
    /// asynchronous operation's task can be polled).
    pub(crate) async fn send_located(
        &self,
        ctx: &CallContext,
        tool: &CatalogTool,
        request: &UpstreamRequest,
    ) -> Result<(u16, Option<String>, Option<String>, Value), ToolError> {
        let product = self.product_of(tool)?;
        let response = crate::identity::send(self, ctx, tool, product, request).await?;
        let status = response.status;
        let request_id = response.request_id.clone();
        let location = response.location.clone();
        Ok((status, request_id, location, as_object(response)))
    }

    /// The product base URL a call of `tool` goes to for the caller (the
    /// prefix an upstream task URL is made relative to).
    pub(crate) async fn base_url_of_call(
        &self,
        ctx: &CallContext,
        tool: &CatalogTool,
    ) -> Option<String> {
        let product = self.product_of(tool).ok()?;
        crate::identity::base_url_of_call(self, ctx, product).await
    }

    /// The site a call goes to (for the journal): the cloudId in OAuth
    /// mode, else the product's configured base URL.
    pub(crate) fn site_of(&self, ctx: &CallContext, tool: &CatalogTool) -> Option<String> {
        if let Some(cloud_id) = crate::identity::site_of_call(self, ctx) {
            return Some(cloud_id);
        }
        let product = self.product_of(tool).ok()?;
        self.upstream.base_url(product).ok()
    }

    /// Our own write: this principal's cached reads of the product are stale.
    pub(crate) async fn invalidate_cache(&self, ctx: &CallContext, tool: &CatalogTool) {
        self.cache
            .invalidate(&ctx.principal, tool.spec.product)
            .await;
    }
}

/// The tools a server lists: its enabled catalog tools (by name, in catalog
/// order; hidden ones left out) made into MCP tools on first use, then its
/// built-in tools.
pub(crate) struct ToolList {
    pub(crate) served: Vec<&'static str>,
    pub(crate) builtins: Vec<Tool>,
    /// How a catalog tool is listed (the MCP layer's `mcp_tool`).
    pub(crate) make: fn(&CatalogTool) -> Tool,
    pub(crate) built: OnceLock<Vec<Tool>>,
}

impl std::fmt::Debug for ToolList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolList")
            .field("served", &self.served.len())
            .field("builtins", &self.builtins.len())
            .finish()
    }
}
