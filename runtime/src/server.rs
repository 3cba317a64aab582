//! The MCP server: one hand-written `ServerHandler` over the generated
//! catalog. All `rmcp` model types are used here and in `transport`, nowhere
//! else. Trait methods stay short and delegate to `*_impl` functions.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rmcp::ErrorData as McpError;
use rmcp::ServerHandler;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    Implementation, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
// logging/setLevel is deprecated by SEP-2577 but 2025-06-18/2025-11-25 clients still send it.
#[allow(deprecated)]
use rmcp::model::{LoggingLevel, SetLevelRequestParams};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Map, Value};
use tracing::{Instrument, info, info_span, warn};

use crate::builtin;
use crate::cache::ReadCache;
use crate::catalog::{Catalog, Product, Tool as CatalogTool, UpstreamRequest};
use crate::error::ToolError;
use crate::journal::Journal;
use crate::native_consent;
use crate::safety::Safety;
use crate::shape::{self, Page};
use crate::upstream::Upstream;
use crate::write;

/// Protocol revisions served.
pub const PROTOCOL_VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

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
struct BuiltinTool {
    def: &'static builtin::Builtin,
    schema: Map<String, Value>,
    validator: std::sync::OnceLock<Result<jsonschema::Validator, String>>,
}

impl std::fmt::Debug for BuiltinTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinTool")
            .field("name", &self.def.name)
            .finish()
    }
}

/// Everything a request needs, shared by all sessions.
#[derive(Debug)]
pub struct ServerState {
    catalog: Catalog,
    builtins: BTreeMap<&'static str, BuiltinTool>,
    /// Safety declarations of the writing tools, parsed once.
    safety: BTreeMap<&'static str, Safety>,
    journal: Journal,
    /// Seals the state of native consent requests (2026-07-28 `input_required`).
    consent_codec: Option<rmcp::model::RequestStateCodec>,
    cache: ReadCache,
    principal: String,
    store: gojira_store::Store,
    enabled: BTreeSet<String>,
    upstream: Upstream,
    timeout: Duration,
    tools: Vec<Tool>,
    /// The OAuth scope each served tool needs (checked in oauth mode at
    /// `tools/list`, at the HTTP edge and at dispatch), hidden tools
    /// included: a revert that calls one needs its scope too.
    scopes: BTreeMap<&'static str, &'static str>,
    /// Catalog-only tools of the enabled groups: reverts call them, clients
    /// never see nor call them.
    hidden: BTreeSet<&'static str>,
    /// Principals who may read every user's journal (`GOJIRA_JOURNAL_OPERATORS`).
    journal_operators: BTreeSet<String>,
    identity: crate::identity::Identity,
}

/// The scope each tool served with `enabled` groups needs: catalog tools
/// ([`catalog_scope`], hidden ones included, since a revert calling one is
/// held to its scope) and, with the utility group, gojira's own.
pub fn scope_map(
    catalog: &Catalog,
    enabled: &BTreeSet<String>,
) -> BTreeMap<&'static str, &'static str> {
    let mut scopes: BTreeMap<&'static str, &'static str> = catalog
        .tools
        .values()
        .filter(|t| enabled.contains(t.spec.group))
        .map(|t| (t.spec.name, catalog_scope(catalog, t)))
        .collect();
    if enabled.contains(builtin::GROUP) {
        scopes.extend(builtin::ALL.iter().map(|def| (def.name, def.scope)));
    }
    scopes
}

/// The scopes an authorization server in front of `enabled` groups should
/// offer (least powerful first).
pub fn offered_scopes(catalog: &Catalog, enabled: &BTreeSet<String>) -> Vec<String> {
    gojira_auth::scopes::canonical(scope_map(catalog, enabled).into_values())
}

/// The scope a catalog tool needs: its group's (`access_scope`), except
/// that a destructive tool in a `write` group needs `gojira:delete`, and a
/// tool whose group is unknown needs the most powerful scope (fail closed).
pub fn catalog_scope(catalog: &Catalog, tool: &CatalogTool) -> &'static str {
    use gojira_auth::scopes;
    let access = catalog.groups.get(tool.spec.group).map(|g| g.access);
    let read_only = tool.spec.annotations.read_only;
    match access {
        Some(crate::catalog::Access::Utility) if read_only => scopes::READ,
        Some(crate::catalog::Access::Utility) => scopes::WRITE,
        Some(access) => match crate::catalog::access_scope(access) {
            Some(scopes::WRITE) if tool.spec.annotations.destructive && !read_only => {
                scopes::DELETE
            }
            Some(scope) => scope,
            None => scopes::ORG_ADMIN,
        },
        None => scopes::ORG_ADMIN,
    }
}

impl ServerState {
    /// Builds the state; `enabled` must already be checked against the catalog.
    pub fn new(
        catalog: Catalog,
        enabled: BTreeSet<String>,
        upstream: Upstream,
        timeout: Duration,
        store: gojira_store::Store,
        principal: String,
    ) -> Self {
        let scopes = scope_map(&catalog, &enabled);
        let served = || {
            catalog
                .tools
                .values()
                .filter(|t| enabled.contains(t.spec.group))
        };
        // A hidden tool is never listed: only a revert calls it.
        let mut tools: Vec<Tool> = served().filter(|t| !t.spec.hidden).map(mcp_tool).collect();
        let hidden: BTreeSet<&'static str> = served()
            .filter(|t| t.spec.hidden)
            .map(|t| t.spec.name)
            .collect();
        let mut builtins = BTreeMap::new();
        if enabled.contains(builtin::GROUP) {
            for def in builtin::ALL {
                match builtin_tool(def) {
                    Ok((tool, mcp)) => {
                        builtins.insert(def.name, tool);
                        tools.push(mcp);
                    }
                    // A hand-written schema that does not compile is a bug caught by tests.
                    Err(e) => warn!(tool = def.name, error = %e, "built-in tool left out"),
                }
            }
        }
        let mut safety = BTreeMap::new();
        for tool in catalog.tools.values() {
            if let Some(text) = tool.spec.safety {
                match Safety::parse(text) {
                    Ok(s) => {
                        safety.insert(tool.spec.name, s);
                    }
                    // Its calls are refused (a write without declarations never runs).
                    Err(e) => {
                        warn!(tool = tool.spec.name, error = %e, "unreadable safety declarations")
                    }
                }
            }
        }
        // A per-process key until the operator's key is given
        // (`with_consent_secret`): instances sharing state must share it.
        let consent_codec = native_consent::codec(gojira_store::crypto::generate_key().as_bytes());
        Self {
            consent_codec,
            journal: Journal::new(store.clone()),
            safety,
            catalog,
            builtins,
            cache: ReadCache::new(store.clone()),
            principal,
            store,
            enabled,
            upstream,
            timeout,
            tools,
            scopes,
            hidden,
            journal_operators: BTreeSet::new(),
            identity: crate::identity::Identity::local(),
        }
    }

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
            "at_ms": crate::journal::now_ms(),
        });
        self.identity.audit_event(&event);
        let store = self.store.clone();
        let id = format!(
            "{:013}-journal-view-{}",
            crate::journal::now_ms(),
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

    /// The tools served, as MCP sees them.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Who calls upstream when no bearer says otherwise (the configured credential).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// Keys native-consent state from a secret every instance shares
    /// (derived from `TOKEN_ENCRYPTION_KEY`).
    pub fn with_consent_secret(mut self, secret: &[u8]) -> Self {
        if let Some(codec) = native_consent::codec(secret) {
            self.consent_codec = Some(codec);
        }
        self
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

/// How long clients may cache `tools/list` (the list changes only on redeploy).
const TOOLS_LIST_TTL_MS: u64 = 300_000;

#[allow(deprecated)]
/// The `rmcp` handler: one per session (HTTP) or process (stdio). Cheap to clone.
#[derive(Debug, Clone)]
pub struct GojiraServer {
    state: Arc<ServerState>,
    /// The level the client asked for with `logging/setLevel` (2025 revisions).
    log_level: Arc<std::sync::Mutex<Option<LoggingLevel>>>,
}

impl GojiraServer {
    /// Wraps shared state.
    pub fn new(state: Arc<ServerState>) -> Self {
        Self {
            state,
            log_level: Arc::default(),
        }
    }
}

fn builtin_tool(def: &'static builtin::Builtin) -> Result<(BuiltinTool, Tool), String> {
    let schema: Map<String, Value> =
        serde_json::from_str(def.input_schema).map_err(|e| e.to_string())?;
    let mut annotations = ToolAnnotations::default()
        .read_only(def.read_only)
        .destructive(def.destructive && !def.read_only)
        .open_world(false);
    if !def.read_only {
        annotations = annotations.idempotent(false);
    }
    let mcp = Tool::new_with_raw(
        def.name,
        Some(Cow::Borrowed(def.description)),
        Arc::new(schema.clone()),
    )
    .with_title(def.title)
    .with_annotations(annotations);
    Ok((
        BuiltinTool {
            def,
            schema,
            validator: std::sync::OnceLock::new(),
        },
        mcp,
    ))
}

fn mcp_tool(tool: &CatalogTool) -> Tool {
    let spec = tool.spec;
    let a = spec.annotations;
    // readOnlyHint and destructiveHint are always explicit (hosts' directories
    // want both). idempotentHint is sent only where it informs (writes), and
    // openWorldHint only when false: its default is true. Every hint costs the
    // model context on every tools/list.
    let mut annotations = ToolAnnotations::default()
        .read_only(a.read_only)
        .destructive(a.destructive && !a.read_only);
    if !a.read_only {
        annotations = annotations.idempotent(a.idempotent);
    }
    if !a.open_world {
        annotations = annotations.open_world(false);
    }
    let mut mcp = Tool::new_with_raw(
        spec.name,
        Some(Cow::Borrowed(spec.description)),
        Arc::new(tool.input_schema.clone()),
    )
    .with_title(spec.title)
    .with_annotations(annotations);
    if let Some(output) = &tool.output_schema {
        mcp = mcp.with_raw_output_schema(Arc::new(output.clone()));
    }
    mcp
}

impl ServerHandler for GojiraServer {
    #[allow(deprecated)] // logging: see the import above
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_logging().build())
            .with_server_info(
                Implementation::new("gojira-mcp", env!("CARGO_PKG_VERSION")).with_title("gojira-mcp: Atlassian Cloud admin"),
            )
            .with_instructions(
                "Atlassian Cloud administration tools (Jira, Jira Software, JSM, Assets, Confluence, org admin). \
                 Read tools are safe; write tools change production configuration. Find ids with list/search tools first. \
                 Paged tools take `limit` (default 25) and `cursor`: pass the previous answer's `nextCursor`; no `nextCursor` means the last page. \
                 Answers omit self links, avatar URLs and expand echoes; pass `raw: true` to get them.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(&PROTOCOL_VERSIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        // A signed-in user sees only the tools their token's scopes allow.
        let tools = match signed_in_user(&context) {
            Some(user) => self
                .state
                .tools
                .iter()
                .filter(|t| {
                    self.state
                        .required_scope(&t.name)
                        .is_some_and(|s| user.has_scope(s))
                })
                .cloned()
                .collect(),
            None => self.state.tools.clone(),
        };
        Ok(ListToolsResult::with_all_items(tools)
            .with_ttl_ms(TOOLS_LIST_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // Accepted and remembered; gojira sends no log notifications today.
        if let Ok(mut level) = self.log_level.lock() {
            *level = Some(request.level);
        }
        Ok(())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.state.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let span = info_span!("tool_call", tool = %request.name, request_id = %context.id);
        call_tool_impl(&self.state, request, context)
            .instrument(span)
            .await
    }

    // Nothing but tools is declared, so nothing else is answered.
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, McpError> {
        Err(McpError::method_not_found::<
            rmcp::model::ListPromptsRequestMethod,
        >())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, McpError> {
        Err(McpError::method_not_found::<
            rmcp::model::ListResourcesRequestMethod,
        >())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, McpError> {
        Err(McpError::method_not_found::<
            rmcp::model::ListResourceTemplatesRequestMethod,
        >())
    }

    async fn complete(
        &self,
        _request: rmcp::model::CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CompleteResult, McpError> {
        Err(McpError::method_not_found::<
            rmcp::model::CompleteRequestMethod,
        >())
    }
}

/// The answer to a call of a tool that does not exist (or is hidden).
fn unknown_tool(name: &str) -> McpError {
    McpError::invalid_params(
        format!("unknown tool {name:?}; call tools/list for the tools this server offers"),
        None,
    )
}

/// The bearer's principal, put in the HTTP request by the auth middleware
/// (oauth mode only).
fn signed_in_user(context: &RequestContext<RoleServer>) -> Option<&gojira_auth::Principal> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<gojira_auth::Principal>())
}

async fn call_tool_impl(
    state: &ServerState,
    mut request: CallToolRequestParams,
    context: RequestContext<RoleServer>,
) -> Result<CallToolResponse, McpError> {
    let name = request.name.as_ref();
    let ctx = match crate::identity::call_context(state, signed_in_user(&context)) {
        Ok(ctx) => ctx,
        Err(err) => return Ok(CallToolResponse::from(error_result(&err))),
    };
    // A hidden tool is for reverts only: to a client it does not exist.
    if state.is_hidden(name) {
        warn!("refused a direct call of a hidden tool");
        return Err(unknown_tool(name));
    }
    // The HTTP edge answers 403 first; this holds for every other path in.
    if let Err(err) = state.check_scope(&ctx, name) {
        warn!("refused a tool outside the token's scopes");
        return Ok(CallToolResponse::from(error_result(&err)));
    }
    if let Some(builtin) = state.builtins.get(name) {
        let args = request.arguments.take().unwrap_or_default();
        let checked = crate::catalog::validate_lazily(
            &builtin.validator,
            &builtin.schema,
            &Value::Object(args.clone()),
        );
        let result = if let Err(problems) = checked {
            Err(ToolError::invalid_arguments(format!(
                "{name} arguments are invalid: {problems}. Next: fix them to match the tool's input schema and call again"
            )))
        } else {
            tokio::select! {
                result = builtin::call(state, &ctx, builtin.def.name, args) => result,
                () = context.ct.cancelled() => Err(ToolError::timeout("the client cancelled the call")),
            }
        };
        return Ok(CallToolResponse::from(match result {
            Ok(value) => success_result(value),
            Err(err) => error_result(&err),
        }));
    }
    let Some(tool) = state.catalog.tools.get(name).filter(|t| !t.spec.hidden) else {
        return Err(unknown_tool(name));
    };
    if !state.enabled.contains(tool.spec.group) {
        warn!(
            group = tool.spec.group,
            "refused a tool outside the enabled groups"
        );
        return Err(McpError::invalid_params(
            format!(
                "tool {name:?} is in permission group {} which this server does not enable (GOJIRA_ENABLED_GROUPS)",
                tool.spec.group
            ),
            None,
        ));
    }
    let mut args_map = request.arguments.take().unwrap_or_default();
    if let Some(safety) = state.safety_of(tool.spec.name)
        && safety.consent == crate::safety::Consent::Commit
        && args_map.get("commit").and_then(Value::as_bool) != Some(true)
    {
        let mut plain = args_map.clone();
        plain.remove("commit");
        plain.remove("planDigest");
        match native_consent::decide(state, &ctx, tool, safety, &plain, &request, &context).await {
            Ok(native_consent::Decision::TwoStep) => {}
            Ok(native_consent::Decision::Confirmed(digest)) => {
                args_map.insert("commit".into(), Value::Bool(true));
                args_map.insert("planDigest".into(), Value::String(digest));
            }
            Ok(native_consent::Decision::Respond(response)) => return Ok(*response),
            Err(err) => return Ok(CallToolResponse::from(error_result(&err))),
        }
    }
    let args = Value::Object(args_map);
    let audit = crate::identity::OrgAdminAudit::start(state, tool, &args);
    let started = std::time::Instant::now();
    let result = tokio::select! {
        result = execute(state, &ctx, tool, args) => result,
        () = context.ct.cancelled() => Err(ToolError::timeout("the client cancelled the call; nothing further was sent upstream")),
    };
    if let Some(audit) = audit {
        audit.finish(state, &ctx, &result);
    }
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(value) => {
            info!(elapsed_ms, outcome = "ok", "tool call");
            Ok(CallToolResponse::from(success_result(value)))
        }
        Err(err) => {
            info!(
                elapsed_ms,
                outcome = "error",
                code = err.code.as_str(),
                "tool call"
            );
            Ok(CallToolResponse::from(error_result(&err)))
        }
    }
}

/// Validates, builds and sends one tool call. Writes go through
/// [`crate::write`] (consent, journal); reads through the cache and shaping.
async fn execute(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    args: Value,
) -> Result<Value, ToolError> {
    tool.validate(&args).map_err(|problems| {
        ToolError::invalid_arguments(format!(
            "{} arguments are invalid: {problems}. Next: fix them to match the tool's input schema and call again",
            tool.spec.name
        ))
    })?;
    let Value::Object(mut args) = args else {
        return Err(ToolError::internal("arguments are not an object"));
    };
    if !tool.spec.annotations.read_only {
        let safety = state.safety_of(tool.spec.name).ok_or_else(|| {
            ToolError::internal(format!(
                "{} is a write without safety declarations; the server refuses it (report this to the operator)",
                tool.spec.name
            ))
        })?;
        return write::execute(state, ctx, tool, safety, args).await;
    }
    // Our own arguments, which the upstream never sees.
    let raw = tool.spec.trims && args.remove("raw").and_then(|v| v.as_bool()) == Some(true);
    let page = match &tool.spec.pagination {
        Some(p) => Some(Page::prepare(p, &mut args)?),
        None => None,
    };
    let request = build(tool, args)?;
    let product = state.product_of(tool)?;
    let mut value = fetch(state, ctx, tool, product, &request).await?;
    if let (Some(page), Value::Object(map)) = (&page, &mut value) {
        page.finish(map, raw);
    }
    if tool.spec.trims && !raw {
        let saved = shape::trim(&mut value);
        tracing::debug!(saved_bytes = saved, "trimmed the answer");
    }
    Ok(value)
}

fn build(tool: &CatalogTool, args: Map<String, Value>) -> Result<UpstreamRequest, ToolError> {
    (tool.spec.build)(Value::Object(args)).map_err(|e| {
        ToolError::invalid_arguments(format!(
            "{}: {e}. Next: fix the argument and call again",
            tool.spec.name
        ))
    })
}

/// An upstream answer as an object: objects as they are, other JSON under
/// `result`, no body as `{status, ok}`.
fn as_object(response: crate::upstream::UpstreamResponse) -> Value {
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

/// The upstream's answer as an object, from the read cache when the tool
/// allows it (cached unshaped, so `raw` callers share the entry).
async fn fetch(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    product: &Product,
    request: &UpstreamRequest,
) -> Result<Value, ToolError> {
    let cache_ttl = tool
        .spec
        .cache_ttl_s
        .map(|s| Duration::from_secs(u64::from(s)));
    if cache_ttl.is_some()
        && let Some(hit) = state.cache.get(&ctx.principal, product.key, request).await
    {
        tracing::debug!("read cache hit");
        return Ok(hit);
    }
    let response = crate::identity::send(state, ctx, tool, product, request).await?;
    let value = as_object(response);
    if let Some(ttl) = cache_ttl {
        state
            .cache
            .put(&ctx.principal, product.key, request, &value, ttl)
            .await;
    }
    Ok(value)
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

    fn product_of(&self, tool: &CatalogTool) -> Result<&'static Product, ToolError> {
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
        let page = Page::prepare(pagination, &mut args)?;
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

fn success_result(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

fn error_result(err: &ToolError) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(err.to_string())]);
    result.structured_content = Some(err.to_json());
    result
}
