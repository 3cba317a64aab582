//! The MCP server: one hand-written `ServerHandler` over the generated
//! catalog. `rmcp` model types are used in `mcp/` (and named by the state it
//! builds), nowhere else. Trait methods stay short and delegate to `*_impl` functions.

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
use crate::catalog::{Catalog, Product, Tool as CatalogTool, UpstreamRequest};
use crate::error::ToolError;
use crate::mcp::native_consent;
use crate::state::{BuiltinTool, as_object, build};
pub use crate::state::{CallContext, ServerState};
use crate::upstream::Upstream;
use crate::upstream::cache::ReadCache;
use crate::upstream::shape::{self, Page};
use crate::writes;
use crate::writes::journal::Journal;
use crate::writes::safety::Safety;

/// Protocol revisions served.
pub const PROTOCOL_VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

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
        let listed: Vec<&'static str> = served()
            .filter(|t| !t.spec.hidden)
            .map(|t| t.spec.name)
            .collect();
        let mut builtin_tools: Vec<Tool> = Vec::new();
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
                        builtin_tools.push(mcp);
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
            tools: crate::state::ToolList {
                served: listed,
                builtins: builtin_tools,
                make: mcp_tool,
                built: std::sync::OnceLock::new(),
            },
            scopes,
            hidden,
            journal_operators: BTreeSet::new(),
            identity: crate::identity::Identity::local(),
            tasks: crate::config::TaskPolicy::default(),
        }
    }

    /// Keys native-consent state from a secret every instance shares
    /// (derived from `TOKEN_ENCRYPTION_KEY`).
    pub fn with_consent_secret(mut self, secret: &[u8]) -> Self {
        if let Some(codec) = native_consent::codec(secret) {
            self.consent_codec = Some(codec);
        }
        self
    }
}

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
            name: def.name,
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
        tool.input_schema().clone(),
    )
    .with_title(spec.title)
    .with_annotations(annotations);
    if let Some(output) = tool.output_schema() {
        mcp = mcp.with_raw_output_schema(output.clone());
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
                 Read tools are safe; write tools change production configuration. Find ids with list/search tools first. A request body goes in the `body` argument. \
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
                .tools()
                .iter()
                .filter(|t| {
                    self.state
                        .required_scope(&t.name)
                        .is_some_and(|s| user.has_scope(s))
                })
                .cloned()
                .collect(),
            None => self.state.tools().to_vec(),
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
        self.state.tools().iter().find(|t| t.name == name).cloned()
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
                result = builtin::call(state, &ctx, builtin.name, args) => result,
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
        && safety.consent == crate::writes::safety::Consent::Commit
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
/// [`crate::writes`] (consent, journal); reads through the cache and shaping.
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
        return writes::execute(state, ctx, tool, safety, args).await;
    }
    // Our own arguments, which the upstream never sees.
    let raw = tool.spec.trims && args.remove("raw").and_then(|v| v.as_bool()) == Some(true);
    let page = match &tool.spec.pagination {
        Some(p) => Some(Page::prepare(p, &mut args)?),
        None => None,
    };
    let request = build(tool, args)?;
    let product = state.product_of(tool)?;
    let mut value = match fetch(state, ctx, tool, product, &request).await? {
        Fetched::Answer(value) => value,
        // Atlassian runs the read as a task: the task shape, as is.
        Fetched::Task(answer) => return Ok(answer),
    };
    if let (Some(page), Value::Object(map)) = (&page, &mut value) {
        page.finish(map, raw);
    }
    if tool.spec.trims && !raw {
        let saved = shape::trim(&mut value);
        tracing::debug!(saved_bytes = saved, "trimmed the answer");
    }
    Ok(value)
}

/// What a read answers.
enum Fetched {
    /// The upstream's answer as an object.
    Answer(Value),
    /// Atlassian runs the read as an asynchronous task: gojira's task
    /// shape (never cached).
    Task(Value),
}

/// The upstream's answer as an object, from the read cache when the tool
/// allows it (cached unshaped, so `raw` callers share the entry).
async fn fetch(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    product: &Product,
    request: &UpstreamRequest,
) -> Result<Fetched, ToolError> {
    let cache_ttl = tool
        .spec
        .cache_ttl_s
        .map(|s| Duration::from_secs(u64::from(s)));
    if cache_ttl.is_some()
        && let Some(hit) = state.cache.get(&ctx.principal, product.key, request).await
    {
        tracing::debug!("read cache hit");
        return Ok(Fetched::Answer(hit));
    }
    let response = crate::identity::send(state, ctx, tool, product, request).await?;
    let (status, location) = (response.status, response.location.clone());
    let value = as_object(response);
    if let Some(task) =
        builtin::task::accepted(state, ctx, tool, None, status, location.as_deref(), &value).await
    {
        return Ok(Fetched::Task(task.answer));
    }
    if let Some(ttl) = cache_ttl {
        state
            .cache
            .put(&ctx.principal, product.key, request, &value, ttl)
            .await;
    }
    Ok(Fetched::Answer(value))
}

fn success_result(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

fn error_result(err: &ToolError) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(err.to_string())]);
    result.structured_content = Some(err.to_json());
    result
}
