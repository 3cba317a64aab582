//! Who a tool call acts for, and with which credential it goes upstream.
//!
//! Local mode: every call is the configured credential's principal. OAuth
//! mode: the principal is the user behind the verified bearer (the auth
//! middleware put it in the HTTP request; `server` reads it from there,
//! never from tool arguments), and each call uses that user's own
//! credential: the Atlassian OAuth token (refreshed once across instances
//! by `gojira-auth`) for OAuth products, the user's bound API token
//! (`gojira.bindApiToken`) for API-token products, and the org key only for
//! org-admin products, after checking on Atlassian's side that the user is
//! an org admin. Site pinning is enforced here, before any request. Every
//! org-admin call is written to the audit log.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gojira_auth::{AuthServer, Principal, UpstreamAuthError};
use gojira_store::crypto::SecretBytes;
use gojira_store::records::Secrets;
use gojira_store::{Key, Kind, StoreError};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog::{AuthKind, Method, Product, Tool as CatalogTool, UpstreamRequest};
use crate::config::Secret;
use crate::error::{ErrorCode, ToolError};
use crate::state::{CallContext, ServerState};
use crate::upstream::{CallCredential, UpstreamResponse};

/// How long an org-admin check is trusted.
const ORG_ADMIN_CHECK_TTL: Duration = Duration::from_secs(60);

/// Atlassian endpoints the identity checks use (the binary supplies them;
/// defined with the other types generated code fills in).
pub use gojira_catalog_types::IdentityEndpoints;

/// The OAuth side: the authorization server and the per-user secrets.
#[derive(Debug)]
pub struct OauthIdentity {
    server: Arc<AuthServer>,
    secrets: Secrets,
    /// `ATLASSIAN_CLOUD_ID`: the deployment's site when none is pinned.
    cloud_id: Option<String>,
    /// Account id → (is org admin, checked at).
    admins: Mutex<HashMap<String, (bool, Instant)>>,
}

impl OauthIdentity {
    /// OAuth mode over `server`; `secrets` seals bound API tokens;
    /// `cloud_id` is `ATLASSIAN_CLOUD_ID`.
    pub fn new(server: Arc<AuthServer>, secrets: Secrets, cloud_id: Option<String>) -> Self {
        Self {
            server,
            secrets,
            cloud_id,
            admins: Mutex::default(),
        }
    }

    fn pinned(&self) -> Option<&str> {
        self.server.config().pinned_cloud_id.as_deref()
    }

    /// Refuses a user without access to the pinned site.
    fn check_pin(&self, user: &Principal) -> Result<(), ToolError> {
        match self.pinned() {
            Some(pin) if !user.cloud_ids.iter().any(|c| c == pin) => Err(ToolError::new(
                ErrorCode::SiteNotAllowed,
                format!(
                    "this server is pinned to Atlassian site {pin} and your sign-in grants no access to it; nothing was sent. Next: sign in through your MCP client with an account that can reach that site"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The deployment's site for this user: the pinned one, else
    /// `ATLASSIAN_CLOUD_ID`, else the user's only site.
    fn site(&self, user: &Principal) -> Result<String, ToolError> {
        if let Some(cloud) = self.pinned().or(self.cloud_id.as_deref()) {
            return Ok(cloud.to_owned());
        }
        match user.cloud_ids.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ToolError::new(
                ErrorCode::SiteNotAllowed,
                "your sign-in granted access to no Atlassian site. Next: sign in again through your MCP client and grant access to a site",
            )),
            several => Err(ToolError::not_configured(format!(
                "your sign-in reaches {} Atlassian sites and this server does not say which one to use. Next: the operator must set ATLASSIAN_PINNED_CLOUD_ID (or ATLASSIAN_CLOUD_ID) to one of them",
                several.len()
            ))),
        }
    }

    async fn load_api_token(&self, account_id: &str) -> Result<Option<BoundToken>, ToolError> {
        match self.secrets.get(&api_token_key(account_id)).await {
            Ok(None) | Err(StoreError::Undecryptable { .. }) => Ok(None),
            Ok(Some(secret)) => Ok(serde_json::from_slice(secret.expose()).ok()),
            Err(e) => Err(ToolError::upstream_unavailable(format!(
                "the state store could not be read ({e}); try again"
            ))),
        }
    }

    fn cached_admin(&self, account_id: &str) -> Option<bool> {
        let admins = self.admins.lock().unwrap_or_else(PoisonError::into_inner);
        admins
            .get(account_id)
            .filter(|(_, at)| at.elapsed() < ORG_ADMIN_CHECK_TTL)
            .map(|(admin, _)| *admin)
    }

    fn remember_admin(&self, account_id: &str, admin: bool) {
        let mut admins = self.admins.lock().unwrap_or_else(PoisonError::into_inner);
        admins.retain(|_, (_, at)| at.elapsed() < ORG_ADMIN_CHECK_TTL);
        admins.insert(account_id.to_owned(), (admin, Instant::now()));
    }
}

/// A user's bound API token, sealed in the store.
#[derive(Serialize, Deserialize)]
struct BoundToken {
    email: String,
    token: String,
    /// A scoped token (through `{api}/ex/...`) rather than a classic one (the site URL).
    scoped: bool,
}

fn api_token_key(account_id: &str) -> Key {
    Key::new(Kind::Credential, format!("api-token:{account_id}"))
}

/// The org-admin audit log: one JSON line per call, written as it happens.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl AuditLog {
    /// Opens (creates) `path` for appending, readable by its owner only.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(options.open(path)?),
        })
    }

    fn write(&self, entry: &Value) {
        let mut line = entry.to_string();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
            tracing::error!(path = %self.path.display(), error = %e, "could not write the org-admin audit log");
        }
    }
}

/// Identity and credentials for every call of one server.
#[derive(Debug, Default)]
pub struct Identity {
    oauth: Option<OauthIdentity>,
    endpoints: Option<IdentityEndpoints>,
    audit: Option<AuditLog>,
}

impl Identity {
    /// Local mode: the configured credential for everyone.
    pub fn local() -> Self {
        Self::default()
    }

    /// OAuth mode.
    pub fn oauth(oauth: OauthIdentity) -> Self {
        Self {
            oauth: Some(oauth),
            ..Self::default()
        }
    }

    /// The Atlassian endpoints of the identity checks.
    #[must_use]
    pub fn with_endpoints(mut self, endpoints: IdentityEndpoints) -> Self {
        self.endpoints = Some(endpoints);
        self
    }

    /// Records org-admin calls in `log`.
    #[must_use]
    pub fn with_audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// The authorization server, in OAuth mode.
    pub fn oauth_server(&self) -> Option<&Arc<AuthServer>> {
        self.oauth.as_ref().map(|o| &o.server)
    }

    /// Whether calls act as signed-in users.
    pub fn is_oauth(&self) -> bool {
        self.oauth.is_some()
    }
}

/// The principal id of a signed-in user: `oauth:{account_id}` (the read
/// cache, inbound limits and the journal key on it).
pub fn principal_id(user: &Principal) -> String {
    format!("oauth:{}", user.account_id)
}

/// The last upstream status of a call (for the audit log).
#[derive(Debug, Clone, Default)]
pub struct UpstreamStatus(Arc<AtomicU16>);

impl UpstreamStatus {
    fn set(&self, status: u16) {
        self.0.store(status, Ordering::Relaxed);
    }

    /// The status, if a request got an answer.
    pub fn get(&self) -> Option<u16> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }
}

impl PartialEq for UpstreamStatus {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for UpstreamStatus {}

fn not_connected() -> ToolError {
    ToolError::new(
        ErrorCode::NotConnected,
        "this call carries no verified identity. Next: sign in again through your MCP client",
    )
}

/// The call's context: in OAuth mode from `user` (the verified bearer's
/// principal, required), else the configured credential's principal.
pub fn call_context(
    state: &ServerState,
    user: Option<&Principal>,
) -> Result<CallContext, ToolError> {
    if !state.identity().is_oauth() {
        return Ok(CallContext {
            principal: state.principal().to_owned(),
            user: None,
            upstream_status: UpstreamStatus::default(),
        });
    }
    let user = user.ok_or_else(not_connected)?;
    Ok(CallContext {
        principal: principal_id(user),
        user: Some(user.clone()),
        upstream_status: UpstreamStatus::default(),
    })
}

fn upstream_auth_error(e: UpstreamAuthError) -> ToolError {
    let code = match e {
        UpstreamAuthError::NotConnected => ErrorCode::NotConnected,
        UpstreamAuthError::ReconsentNeeded => ErrorCode::ReconsentNeeded,
        UpstreamAuthError::Unavailable(_) => ErrorCode::UpstreamUnavailable,
    };
    ToolError::new(code, e.to_string())
}

/// The Atlassian site a call goes to, for the journal: in OAuth mode the
/// cloudId the user's calls use; otherwise `None` (the caller falls back to
/// the product's configured base URL).
pub fn site_of_call(state: &ServerState, ctx: &CallContext) -> Option<String> {
    let oauth = state.identity().oauth.as_ref()?;
    let user = ctx.user.as_ref()?;
    oauth.site(user).ok()
}

/// The secrets a call of `tool` by `ctx` knows, to keep them out of what
/// gojira records: the configured credentials and, in OAuth mode, the
/// caller's own (Atlassian token or bound API token). Nothing is checked
/// here: a credential that cannot be had is simply not listed.
pub(crate) async fn known_secrets(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
) -> crate::redact::Known {
    let mut known = state.upstream().configured_secrets().clone();
    let (Some(oauth), Some(user), Some(product)) = (
        &state.identity().oauth,
        &ctx.user,
        state.catalog().products.get(tool.spec.product),
    ) else {
        return known;
    };
    match product.auth {
        AuthKind::Oauth => {
            if let Ok(token) = oauth.server.atlassian_access_token(user).await {
                known.add(token.expose());
            }
        }
        AuthKind::ApiToken => {
            if let Ok(Some(bound)) = oauth.load_api_token(&user.account_id).await {
                known.add_basic(&bound.email, &bound.token);
            }
        }
        AuthKind::OrgAdmin => {}
    }
    known
}

/// Sends one tool's request as the caller (see the module docs).
pub async fn send(
    state: &ServerState,
    ctx: &CallContext,
    tool: &CatalogTool,
    product: &Product,
    request: &UpstreamRequest,
) -> Result<UpstreamResponse, ToolError> {
    let credential = credential(state, ctx, product).await?;
    let result = state
        .upstream()
        .send_with(
            &credential,
            product,
            tool.spec.operation,
            request,
            state.timeout(),
        )
        .await;
    match &result {
        Ok(response) => ctx.upstream_status.set(response.status),
        Err(e) => {
            if let Some(status) = e.status {
                ctx.upstream_status.set(status);
            }
        }
    }
    result
}

/// The base URL a call of `product` goes to for the caller (`None` when
/// the caller cannot call it).
pub async fn base_url_of_call(
    state: &ServerState,
    ctx: &CallContext,
    product: &Product,
) -> Option<String> {
    let credential = credential(state, ctx, product).await.ok()?;
    state.upstream().base_url_for(product, &credential).ok()
}

/// The credential for a call of `product`, after the pin and org-admin checks.
async fn credential(
    state: &ServerState,
    ctx: &CallContext,
    product: &Product,
) -> Result<CallCredential, ToolError> {
    let Some(oauth) = &state.identity().oauth else {
        return Ok(CallCredential::Configured);
    };
    let user = ctx.user.as_ref().ok_or_else(not_connected)?;
    oauth.check_pin(user)?;
    match product.auth {
        AuthKind::OrgAdmin => {
            require_org_admin(state, oauth, user).await?;
            Ok(CallCredential::Configured)
        }
        AuthKind::Oauth => {
            let cloud_id = oauth.site(user)?;
            let token = oauth
                .server
                .atlassian_access_token(user)
                .await
                .map_err(upstream_auth_error)?;
            Ok(CallCredential::Bearer {
                token: Secret::new(token.expose()),
                cloud_id,
                owner: user.account_id.clone(),
            })
        }
        AuthKind::ApiToken => {
            let bound = oauth.load_api_token(&user.account_id).await?.ok_or_else(|| {
                ToolError::new(
                    ErrorCode::ApiTokenRequired,
                    format!(
                        "{} tools use your own Atlassian API token, and none is bound for you. Next: call gojira.bindApiToken with your Atlassian email and an API token (id.atlassian.com > Security > API tokens), then call this tool again",
                        product.title
                    ),
                )
            })?;
            let scoped_cloud_id = if bound.scoped {
                Some(oauth.site(user)?)
            } else {
                None
            };
            Ok(CallCredential::Basic {
                email: bound.email,
                token: Secret::new(bound.token),
                scoped_cloud_id,
                owner: user.account_id.clone(),
            })
        }
    }
}

/// Refuses a user who is not an org admin (checked with the org key on
/// Atlassian's side, trusted for a minute per account).
async fn require_org_admin(
    state: &ServerState,
    oauth: &OauthIdentity,
    user: &Principal,
) -> Result<(), ToolError> {
    let admin = match oauth.cached_admin(&user.account_id) {
        Some(admin) => admin,
        None => {
            let admin = check_org_admin(state, &user.account_id).await?;
            oauth.remember_admin(&user.account_id, admin);
            admin
        }
    };
    if admin {
        Ok(())
    } else {
        Err(ToolError::new(
            ErrorCode::InsufficientPermissions,
            "org-admin tools need an Atlassian organization admin, and your account is not one of this organization's admins. Next: ask an org admin to do this, or to grant you the role",
        ))
    }
}

async fn check_org_admin(state: &ServerState, account_id: &str) -> Result<bool, ToolError> {
    let endpoints = state
        .identity()
        .endpoints
        .ok_or_else(|| ToolError::internal("the org-admin check has no endpoint configured"))?;
    let org_id = state.upstream().var("orgId").ok_or_else(|| {
        ToolError::not_configured("org-admin tools need GOJIRA_ORG_ID to be configured")
    })?;
    let product = state
        .catalog()
        .products
        .values()
        .find(|p| p.auth == AuthKind::OrgAdmin)
        .ok_or_else(|| ToolError::internal("the catalog has no org-admin product"))?;
    // Both come from configuration and Atlassian, never from tool
    // arguments; still, neither may leave its path segment.
    if crate::catalog::leaves_its_segment(org_id) || crate::catalog::leaves_its_segment(account_id)
    {
        return Err(ToolError::internal(
            "the org id or account id is not a valid path segment; check GOJIRA_ORG_ID",
        ));
    }
    let mut request = UpstreamRequest::new(Method::Get);
    request.path = endpoints
        .org_role_assignments
        .replace(
            "{orgId}",
            &utf8_percent_encode(org_id, NON_ALPHANUMERIC).to_string(),
        )
        .replace(
            "{accountId}",
            &utf8_percent_encode(account_id, NON_ALPHANUMERIC).to_string(),
        );
    let answer = state
        .upstream()
        .send_with(
            &CallCredential::Configured,
            product,
            "org-admin role check",
            &request,
            state.timeout(),
        )
        .await;
    match answer {
        Ok(response) => Ok(has_role(response.body.as_ref(), endpoints.org_admin_role)),
        // Not in the organization's directory: not an admin.
        Err(e) if e.status == Some(404) => Ok(false),
        Err(e) => Err(ToolError {
            message: format!("could not check that you are an org admin: {}", e.message),
            ..e
        }),
    }
}

/// Whether a role-assignments page grants `role` (as `roles[]` or
/// `roleAssignments[].role`).
fn has_role(body: Option<&Value>, role: &str) -> bool {
    let Some(data) = body.and_then(|b| b.get("data")).and_then(Value::as_array) else {
        return false;
    };
    data.iter().any(|entry| {
        let listed = entry
            .get("roles")
            .and_then(Value::as_array)
            .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role)));
        let assigned = entry
            .get("roleAssignments")
            .and_then(Value::as_array)
            .is_some_and(|list| {
                list.iter()
                    .any(|a| a.get("role").and_then(Value::as_str) == Some(role))
            });
        listed || assigned
    })
}

/// `gojira.bindApiToken`: checks `email` + `token` against the current-user
/// operation (a classic token at the site URL; on 401, a scoped token
/// through `{api}/ex/...`), requires it to be the caller's own account, and
/// seals it for the caller. The token is never logged or echoed.
pub async fn bind_api_token(
    state: &ServerState,
    ctx: &CallContext,
    email: String,
    token: String,
) -> Result<Value, ToolError> {
    let Some(oauth) = &state.identity().oauth else {
        return Err(ToolError::not_configured(
            "this server runs in local mode (GOJIRA_AUTH_MODE=local), where every call uses the configured ATLASSIAN_EMAIL and ATLASSIAN_API_TOKEN; per-user API tokens need oauth mode",
        ));
    };
    let user = ctx.user.as_ref().ok_or_else(not_connected)?;
    oauth.check_pin(user)?;
    let endpoints = state
        .identity()
        .endpoints
        .ok_or_else(|| ToolError::internal("the API-token check has no endpoint configured"))?;
    let product = Product {
        key: "identity",
        title: "Atlassian identity",
        spec: "",
        spec_version: "",
        base_url: endpoints.myself_base,
        auth: AuthKind::ApiToken,
    };
    let mut request = UpstreamRequest::new(Method::Get);
    request.path = endpoints.myself_path.to_owned();
    let basic = |scoped_cloud_id: Option<String>| CallCredential::Basic {
        email: email.clone(),
        token: Secret::new(token.as_str()),
        scoped_cloud_id,
        owner: user.account_id.clone(),
    };
    let send = |credential: CallCredential| {
        let request = &request;
        let product = &product;
        async move {
            state
                .upstream()
                .send_with(
                    &credential,
                    product,
                    "API token check",
                    request,
                    state.timeout(),
                )
                .await
        }
    };
    let refused = || {
        ToolError::invalid_arguments(
            "Atlassian refused this email and API token (as a classic token at the site, and as a scoped token through api.atlassian.com). Next: check both and call again",
        )
    };
    let (answer, scoped) = match send(basic(None)).await {
        Ok(answer) => (answer, false),
        Err(e) if e.status == Some(401) || e.code == ErrorCode::NotConfigured => {
            match send(basic(Some(oauth.site(user)?))).await {
                Ok(answer) => (answer, true),
                Err(e) if e.status == Some(401) => return Err(refused()),
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let account = answer
        .body
        .as_ref()
        .and_then(|b| b.get("accountId"))
        .and_then(Value::as_str);
    if account != Some(user.account_id.as_str()) {
        tracing::warn!(account = %user.account_id, "refused an API token that belongs to another account");
        return Err(ToolError::invalid_arguments(
            "this API token belongs to another Atlassian account than the one you signed in with; nothing was stored. Next: bind your own token",
        ));
    }
    let record = BoundToken {
        email: email.clone(),
        token,
        scoped,
    };
    // Wiped when it drops, on every path.
    let bytes = serde_json::to_vec(&record)
        .map(SecretBytes::new)
        .map_err(|e| ToolError::internal(format!("could not encode the token record: {e}")))?;
    oauth
        .secrets
        .put(&api_token_key(&user.account_id), bytes.expose(), None)
        .await
        .map_err(|e| {
            ToolError::upstream_unavailable(format!(
                "the token was valid but could not be stored ({e}); try again"
            ))
        })?;
    tracing::info!(account = %user.account_id, scoped, "bound a user's API token");
    Ok(json!({
        "bound": true,
        "accountId": user.account_id,
        "email": email,
        "kind": if scoped { "scoped" } else { "classic" },
    }))
}

impl Identity {
    /// Appends `event` to the audit log, when one is configured.
    pub(crate) fn audit_event(&self, event: &Value) {
        if let Some(log) = &self.audit {
            log.write(event);
        }
    }
}

/// An org-admin call being recorded: started before the call (with the
/// arguments redacted by [`crate::redact`], as the journal's are),
/// finished with its outcome.
#[derive(Debug)]
pub struct OrgAdminAudit {
    tool: &'static str,
    arguments: Value,
}

impl OrgAdminAudit {
    /// `Some` when `tool` is an org-admin tool and an audit log is configured.
    pub fn start(state: &ServerState, tool: &CatalogTool, args: &Value) -> Option<Self> {
        state.identity().audit.as_ref()?;
        let product = state.catalog().products.get(tool.spec.product)?;
        (product.auth == AuthKind::OrgAdmin).then(|| {
            let mut arguments = args.clone();
            crate::redact::fields(&mut arguments, state.upstream().configured_secrets());
            Self {
                tool: tool.spec.name,
                arguments,
            }
        })
    }

    /// Appends the JSON line.
    pub fn finish(self, state: &ServerState, ctx: &CallContext, result: &Result<Value, ToolError>) {
        let Some(log) = &state.identity().audit else {
            return;
        };
        let (outcome, code) = match result {
            Ok(_) => ("allowed", None),
            Err(e) if e.code == ErrorCode::InsufficientPermissions => {
                ("refused", Some(e.code.as_str()))
            }
            Err(e) => ("failed", Some(e.code.as_str())),
        };
        log.write(&json!({
            "time": rfc3339(SystemTime::now()),
            "principal": ctx.principal,
            "tool": self.tool,
            "arguments": self.arguments,
            "outcome": outcome,
            "errorCode": code,
            "upstreamStatus": ctx.upstream_status.get(),
        }));
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
fn rfc3339(time: SystemTime) -> String {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    crate::upstream::pacing::format_timestamp_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn audited_arguments_are_redacted_at_any_depth() {
        let mut v = json!({"accountId": "a", "body": {"apiToken": "s", "items": [{"password": "p", "name": "n"}], "Authorization": "Bearer x"}});
        crate::redact::fields(&mut v, &crate::redact::Known::new());
        assert_eq!(
            v,
            json!({"accountId": "a", "body": {"apiToken": "[redacted]", "items": [{"password": "[redacted]", "name": "n"}], "Authorization": "[redacted]"}})
        );
    }

    #[test]
    fn org_admin_role_is_found_in_either_shape() {
        let role = "atlassian/org-admin";
        assert!(has_role(
            Some(&json!({"data": [{"roles": ["atlassian/org-admin"]}]})),
            role
        ));
        assert!(has_role(
            Some(&json!({"data": [{"roleAssignments": [{"role": "atlassian/org-admin"}]}]})),
            role
        ));
        assert!(!has_role(
            Some(&json!({"data": [{"roles": ["atlassian/user"]}]})),
            role
        ));
        assert!(!has_role(None, role));
    }
}
