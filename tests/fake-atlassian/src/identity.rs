//! The identity side of the fake: users and sites, an OAuth 2.0 (3LO)
//! authorization server that behaves like `auth.atlassian.com`, classic API
//! tokens, the organization admin API key, and the clock every expiry reads.
//!
//! Atlassian's documented behaviour mimicked here: `/authorize` auto-consents
//! as the consenting user; authorization codes are single-use and live 10
//! minutes; a refresh token is issued only with `offline_access`; refresh
//! tokens rotate on every use, the old one staying usable for a 10-minute
//! reuse window after which presenting it revokes the whole family (every
//! access and refresh token from that consent); refresh tokens expire after
//! 90 days unused and 365 days after the consent.
//!
//! Credentials on product routes: a lenient fake (the default) accepts any
//! credential it does not know as the default user, so tests written before
//! identities existed keep working; a credential it does know is always
//! checked (an expired OAuth token is refused even when lenient). A strict
//! fake refuses unknown credentials.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rand::Rng;
use serde_json::{Value, json};

/// Account id of the user present in every fresh fake.
pub const DEFAULT_ACCOUNT_ID: &str = "5b10ac8d82e05b22cc7d4ef5";
/// Email of the default user.
pub const DEFAULT_EMAIL: &str = "admin@example.com";
/// Display name of the default user.
pub const DEFAULT_DISPLAY_NAME: &str = "Sandbox Admin";
/// Cloud id of the site present in every fresh fake.
pub const DEFAULT_CLOUD_ID: &str = "11111111-2222-3333-4444-555555555555";
/// Name of the default site.
pub const DEFAULT_SITE_NAME: &str = "sandbox";
/// The OAuth client registered in every fresh fake (any loopback redirect URI).
pub const DEFAULT_CLIENT_ID: &str = "gojira-test-client";
/// Secret of [`DEFAULT_CLIENT_ID`].
pub const DEFAULT_CLIENT_SECRET: &str = "gojira-test-secret";
/// The organization admin API key a fresh fake accepts on admin paths.
pub const DEFAULT_ORG_ADMIN_KEY: &str = "fake-org-admin-key";
/// Id of the fake's organization.
pub const DEFAULT_ORG_ID: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
/// Principal recorded for requests made with the org admin key.
pub const ORG_ADMIN_PRINCIPAL: &str = "org-admin-key";

/// Lifetime of an authorization code.
const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long a rotated refresh token may still be used.
const REUSE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// A refresh token unused this long expires.
const IDLE_EXPIRY: Duration = Duration::from_secs(90 * 24 * 3600);
/// A consent's refresh tokens all expire this long after the consent.
const ABSOLUTE_EXPIRY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Default access token lifetime (`expires_in`).
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// A user of the fake's Atlassian account directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// Atlassian account id.
    pub account_id: String,
    /// Email address (also the user name of Basic `email:api_token`).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Whether the user is an admin of the fake's organization.
    pub org_admin: bool,
    /// Cloud ids of the sites the user can access.
    pub sites: Vec<String>,
}

impl FakeUser {
    /// A user with access to the default site, not an org admin.
    pub fn new(account_id: &str, email: &str, display_name: &str) -> Self {
        Self {
            account_id: account_id.to_string(),
            email: email.to_string(),
            display_name: display_name.to_string(),
            org_admin: false,
            sites: vec![DEFAULT_CLOUD_ID.to_string()],
        }
    }

    /// The user present in every fresh fake (org admin, default site).
    pub fn default_user() -> Self {
        Self {
            org_admin: true,
            ..Self::new(DEFAULT_ACCOUNT_ID, DEFAULT_EMAIL, DEFAULT_DISPLAY_NAME)
        }
    }

    /// Make the user an org admin (or not).
    #[must_use]
    pub fn org_admin(mut self, admin: bool) -> Self {
        self.org_admin = admin;
        self
    }

    /// Replace the user's sites.
    #[must_use]
    pub fn with_sites(mut self, cloud_ids: &[&str]) -> Self {
        self.sites = cloud_ids.iter().map(|s| (*s).to_string()).collect();
        self
    }
}

/// A site (Jira/Confluence cloud instance) of the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSite {
    /// Cloud id.
    pub cloud_id: String,
    /// Site name (`your-domain` of `your-domain.atlassian.net`).
    pub name: String,
    /// Site URL; `None` = the fake's own base URL (as the request's `Host` says).
    pub url: Option<String>,
}

impl FakeSite {
    /// A site served at the fake's own base URL.
    pub fn new(cloud_id: &str, name: &str) -> Self {
        Self {
            cloud_id: cloud_id.to_string(),
            name: name.to_string(),
            url: None,
        }
    }
}

/// What a request's credential was recognized as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A Bearer OAuth 2.0 access token issued by the fake.
    OAuth,
    /// Basic `email:api_token` with a registered API token.
    ApiToken,
    /// Bearer organization admin API key.
    OrgKey,
    /// Basic or Bearer the fake does not know (accepted only by a lenient fake).
    Unknown,
}

impl CredentialKind {
    /// `oauth`, `api_token`, `org_key` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OAuth => "oauth",
            Self::ApiToken => "api_token",
            Self::OrgKey => "org_key",
            Self::Unknown => "unknown",
        }
    }
}

/// An OAuth access token the fake issued (see [`crate::FakeAtlassian::issued_access_tokens`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token.
    pub access_token: String,
    /// Whose it is.
    pub account_id: String,
    /// The OAuth client it was issued to.
    pub client_id: String,
    /// The consent it descends from (one family per authorization code).
    pub family: u64,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Expiry on the fake clock.
    pub expires_at: SystemTime,
    /// Whether its family was revoked.
    pub revoked: bool,
}

/// A registered OAuth client.
#[derive(Debug, Clone)]
struct Client {
    secret: String,
    redirect_uris: Vec<String>,
    /// Accept any `http://127.0.0.1`/`localhost` redirect URI.
    any_loopback: bool,
}

/// An authorization code.
#[derive(Debug, Clone)]
struct Code {
    client_id: String,
    redirect_uri: String,
    account_id: String,
    scope: String,
    expires_at: SystemTime,
    used: bool,
}

/// Every token descending from one consent.
#[derive(Debug, Clone)]
struct Family {
    account_id: String,
    client_id: String,
    scope: String,
    created_at: SystemTime,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct Access {
    family: u64,
    expires_at: SystemTime,
}

#[derive(Debug, Clone)]
struct Refresh {
    family: u64,
    issued_at: SystemTime,
    /// When it was first exchanged for a new pair.
    rotated_at: Option<SystemTime>,
}

/// The outcome of `GET /authorize`.
#[derive(Debug)]
pub(crate) enum Authorize {
    /// 302 to this URL (with `code` or `error`).
    Redirect(String),
    /// 400 with this text page (bad client or redirect URI: never redirect).
    Page(String),
}

/// A credential resolved to whom it speaks for.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Account id, or [`ORG_ADMIN_PRINCIPAL`].
    pub(crate) principal: String,
    /// The user, when the principal is one.
    pub(crate) user: Option<FakeUser>,
}

/// The outcome of authenticating a request.
#[derive(Debug, Clone)]
pub(crate) struct AuthOutcome {
    /// What the credential was recognized as (`None` without a usable `Authorization`).
    pub(crate) kind: Option<CredentialKind>,
    /// Accepted, or refused with this message.
    pub(crate) result: Result<Resolved, String>,
}

/// Message of every 401 on product routes.
pub(crate) const UNAUTHENTICATED: &str = "Client must be authenticated to access this resource.";

/// Users, sites, clients, tokens and the clock of one fake.
#[derive(Debug)]
pub(crate) struct Identity {
    offset: Duration,
    pub(crate) strict: bool,
    users: Vec<FakeUser>,
    sites: Vec<FakeSite>,
    consenting: String,
    clients: HashMap<String, Client>,
    /// (account id, token)
    api_tokens: Vec<(String, String)>,
    org_key: String,
    codes: HashMap<String, Code>,
    families: Vec<Family>,
    access: HashMap<String, Access>,
    /// Access tokens in issue order.
    issued: Vec<String>,
    refresh: HashMap<String, Refresh>,
    expires_in: u64,
    omit_next_refresh: bool,
    refresh_grants: u64,
}

impl Default for Identity {
    fn default() -> Self {
        let mut clients = HashMap::new();
        clients.insert(
            DEFAULT_CLIENT_ID.to_string(),
            Client {
                secret: DEFAULT_CLIENT_SECRET.to_string(),
                redirect_uris: Vec::new(),
                any_loopback: true,
            },
        );
        Self {
            offset: Duration::ZERO,
            strict: false,
            users: vec![FakeUser::default_user()],
            sites: vec![FakeSite::new(DEFAULT_CLOUD_ID, DEFAULT_SITE_NAME)],
            consenting: DEFAULT_ACCOUNT_ID.to_string(),
            clients,
            api_tokens: Vec::new(),
            org_key: DEFAULT_ORG_ADMIN_KEY.to_string(),
            codes: HashMap::new(),
            families: Vec::new(),
            access: HashMap::new(),
            issued: Vec::new(),
            refresh: HashMap::new(),
            expires_in: DEFAULT_EXPIRES_IN,
            omit_next_refresh: false,
            refresh_grants: 0,
        }
    }
}

/// A random token with a readable prefix.
fn token(prefix: &str) -> String {
    let mut rng = rand::rng();
    let bytes: [u8; 24] = rng.random();
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// An OAuth error body.
fn oauth_error(status: u16, error: &str, description: &str) -> (u16, Value) {
    (
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// Whether `uri` is an `http` URL on a loopback host.
fn is_loopback(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && matches!(
                u.host_str(),
                Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
            )
    })
}

impl Identity {
    // ----- knobs ---------------------------------------------------------

    /// Now, on the fake clock.
    pub(crate) fn now(&self) -> SystemTime {
        SystemTime::now() + self.offset
    }

    pub(crate) fn advance_clock(&mut self, by: Duration) {
        self.offset += by;
    }

    pub(crate) fn add_user(&mut self, user: FakeUser) {
        self.users.retain(|u| u.account_id != user.account_id);
        self.users.push(user);
    }

    pub(crate) fn users(&self) -> Vec<FakeUser> {
        self.users.clone()
    }

    pub(crate) fn add_site(&mut self, site: FakeSite) {
        self.sites.retain(|s| s.cloud_id != site.cloud_id);
        self.sites.push(site);
    }

    pub(crate) fn set_consenting_user(&mut self, account_id: &str) {
        self.consenting = account_id.to_string();
    }

    pub(crate) fn register_client(&mut self, id: &str, secret: &str, redirect_uris: &[&str]) {
        self.clients.insert(
            id.to_string(),
            Client {
                secret: secret.to_string(),
                redirect_uris: redirect_uris.iter().map(|s| (*s).to_string()).collect(),
                any_loopback: false,
            },
        );
    }

    pub(crate) fn add_api_token(&mut self, account_id: &str, token: &str) {
        self.api_tokens
            .push((account_id.to_string(), token.to_string()));
    }

    pub(crate) fn set_org_key(&mut self, key: &str) {
        self.org_key = key.to_string();
    }

    pub(crate) fn set_expires_in(&mut self, seconds: u64) {
        self.expires_in = seconds;
    }

    pub(crate) fn omit_next_refresh_token(&mut self) {
        self.omit_next_refresh = true;
    }

    pub(crate) fn refresh_grants(&self) -> u64 {
        self.refresh_grants
    }

    pub(crate) fn issued_access_tokens(&self) -> Vec<IssuedToken> {
        self.issued
            .iter()
            .filter_map(|t| {
                let access = self.access.get(t)?;
                let family = self.families.get(usize::try_from(access.family).ok()?)?;
                Some(IssuedToken {
                    access_token: t.clone(),
                    account_id: family.account_id.clone(),
                    client_id: family.client_id.clone(),
                    family: access.family,
                    scope: family.scope.clone(),
                    expires_at: access.expires_at,
                    revoked: family.revoked,
                })
            })
            .collect()
    }

    /// Whether the family of this access or refresh token was revoked
    /// (`None` for a token the fake never issued).
    pub(crate) fn token_family_revoked(&self, token: &str) -> Option<bool> {
        let family = self
            .access
            .get(token)
            .map(|a| a.family)
            .or_else(|| self.refresh.get(token).map(|r| r.family))?;
        self.family(family).map(|f| f.revoked)
    }

    // ----- lookups -------------------------------------------------------

    fn family(&self, id: u64) -> Option<&Family> {
        self.families.get(usize::try_from(id).ok()?)
    }

    fn family_mut(&mut self, id: u64) -> Option<&mut Family> {
        self.families.get_mut(usize::try_from(id).ok()?)
    }

    pub(crate) fn user(&self, account_id: &str) -> Option<&FakeUser> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    pub(crate) fn site(&self, cloud_id: &str) -> Option<&FakeSite> {
        self.sites.iter().find(|s| s.cloud_id == cloud_id)
    }

    /// The account behind a valid (issued, unexpired, unrevoked) access token,
    /// with the token's scope.
    fn valid_access(&self, token: &str) -> Option<(&FakeUser, &str)> {
        let access = self.access.get(token)?;
        let family = self.family(access.family)?;
        if family.revoked || self.now() >= access.expires_at {
            return None;
        }
        Some((self.user(&family.account_id)?, family.scope.as_str()))
    }

    // ----- authentication on product and identity routes -----------------

    /// Resolve an `Authorization` header. `admin_path`: the org admin API
    /// (`/admin/...`) or user management API (`/users/...`), where only the
    /// org key is accepted.
    pub(crate) fn authenticate(&self, header: Option<&str>, admin_path: bool) -> AuthOutcome {
        let refused = |kind: Option<CredentialKind>| AuthOutcome {
            kind,
            result: Err(UNAUTHENTICATED.to_string()),
        };
        let Some(header) = header else {
            return refused(None);
        };
        let (scheme, value) = header.trim().split_once(' ').unwrap_or((header, ""));
        let value = value.trim();
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => {
                if value == self.org_key {
                    if !admin_path {
                        return refused(Some(CredentialKind::OrgKey));
                    }
                    return self.accept(CredentialKind::OrgKey, ORG_ADMIN_PRINCIPAL, None);
                }
                if self.access.contains_key(value) {
                    return match self.valid_access(value) {
                        Some((user, _)) if !admin_path => {
                            let user = user.clone();
                            self.accept(CredentialKind::OAuth, &user.account_id, Some(user.clone()))
                        }
                        _ => refused(Some(CredentialKind::OAuth)),
                    };
                }
                self.unknown(admin_path, None)
            }
            "basic" => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                let (email, secret) = decoded
                    .as_deref()
                    .and_then(|d| d.split_once(':'))
                    .unwrap_or(("", ""));
                let user = self
                    .users
                    .iter()
                    .find(|u| u.email.eq_ignore_ascii_case(email));
                if let Some(user) = user
                    && self
                        .api_tokens
                        .iter()
                        .any(|(a, t)| *a == user.account_id && t == secret)
                {
                    if admin_path {
                        return refused(Some(CredentialKind::ApiToken));
                    }
                    return self.accept(
                        CredentialKind::ApiToken,
                        &user.account_id,
                        Some(user.clone()),
                    );
                }
                self.unknown(admin_path, user)
            }
            _ => refused(None),
        }
    }

    fn accept(&self, kind: CredentialKind, principal: &str, user: Option<FakeUser>) -> AuthOutcome {
        AuthOutcome {
            kind: Some(kind),
            result: Ok(Resolved {
                principal: principal.to_string(),
                user,
            }),
        }
    }

    /// A credential the fake does not know: refused when strict, else the
    /// org admin on admin paths and otherwise `user` (known by email) or the
    /// default user.
    fn unknown(&self, admin_path: bool, user: Option<&FakeUser>) -> AuthOutcome {
        if self.strict {
            return AuthOutcome {
                kind: Some(CredentialKind::Unknown),
                result: Err(UNAUTHENTICATED.to_string()),
            };
        }
        if admin_path {
            return self.accept(CredentialKind::Unknown, ORG_ADMIN_PRINCIPAL, None);
        }
        let user = user
            .or_else(|| self.user(DEFAULT_ACCOUNT_ID))
            .or_else(|| self.users.first())
            .cloned();
        let principal = user
            .as_ref()
            .map_or(DEFAULT_ACCOUNT_ID.to_string(), |u| u.account_id.clone());
        self.accept(CredentialKind::Unknown, &principal, user)
    }

    /// The user and scope of a valid Bearer OAuth access token (identity
    /// routes accept nothing else, lenient or not).
    fn bearer_user(&self, header: Option<&str>) -> Result<(FakeUser, String), (u16, Value)> {
        let token = header
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        token
            .and_then(|t| self.valid_access(t))
            .map(|(u, s)| (u.clone(), s.to_string()))
            .ok_or_else(|| (401, json!({"code": 401, "message": "Unauthorized"})))
    }

    // ----- OAuth 2.0 (3LO) ------------------------------------------------

    /// `GET /authorize`.
    pub(crate) fn authorize(&mut self, query: &[(String, String)]) -> Authorize {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let Some(client_id) = param("client_id") else {
            return Authorize::Page("Invalid request: client_id is missing".to_string());
        };
        let Some(client) = self.clients.get(client_id) else {
            return Authorize::Page(format!("Invalid client: unknown client_id {client_id}"));
        };
        let Some(redirect_uri) = param("redirect_uri") else {
            return Authorize::Page("Invalid request: redirect_uri is missing".to_string());
        };
        let allowed = client.redirect_uris.iter().any(|u| u == redirect_uri)
            || (client.any_loopback && is_loopback(redirect_uri));
        let Ok(mut target) = url::Url::parse(redirect_uri)
            .map_err(|_| ())
            .and_then(|u| if allowed { Ok(u) } else { Err(()) })
        else {
            return Authorize::Page(format!(
                "Invalid redirect_uri: {redirect_uri} is not registered for client {client_id}"
            ));
        };
        let state = param("state");
        let scope = param("scope").unwrap_or("").trim().to_string();
        let error = if param("response_type") != Some("code") {
            Some(("unsupported_response_type", "response_type must be code"))
        } else if param("audience") != Some("api.atlassian.com") {
            Some(("invalid_request", "audience must be api.atlassian.com"))
        } else if scope.is_empty() {
            Some(("invalid_scope", "scope is missing"))
        } else if self.user(&self.consenting).is_none() {
            Some(("access_denied", "the consenting user does not exist"))
        } else {
            None
        };
        {
            let mut pairs = target.query_pairs_mut();
            match error {
                Some((error, description)) => {
                    pairs
                        .append_pair("error", error)
                        .append_pair("error_description", description);
                }
                None => {
                    let code = token("fake-code-");
                    self.codes.insert(
                        code.clone(),
                        Code {
                            client_id: client_id.to_string(),
                            redirect_uri: redirect_uri.to_string(),
                            account_id: self.consenting.clone(),
                            scope,
                            expires_at: self.now() + CODE_LIFETIME,
                            used: false,
                        },
                    );
                    pairs.append_pair("code", &code);
                }
            }
            if let Some(state) = state {
                pairs.append_pair("state", state);
            }
        }
        Authorize::Redirect(target.to_string())
    }

    /// `POST /oauth/token`: `params` from the JSON or form body; `basic` the
    /// client credentials of an `Authorization: Basic` header, if any.
    pub(crate) fn token(
        &mut self,
        params: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> (u16, Value) {
        let get = |name: &str| params.get(name).map(String::as_str);
        let grant = get("grant_type");
        if grant == Some("refresh_token") {
            self.refresh_grants += 1;
        }
        let (client_id, client_secret) = match (get("client_id"), get("client_secret"), &basic) {
            (Some(id), Some(secret), _) => (id.to_string(), secret.to_string()),
            (_, _, Some((id, secret))) => (id.clone(), secret.clone()),
            _ => {
                return oauth_error(
                    401,
                    "invalid_client",
                    "client_id and client_secret are required",
                );
            }
        };
        match self.clients.get(&client_id) {
            Some(c) if c.secret == client_secret => {}
            _ => return oauth_error(401, "invalid_client", "Unauthorized"),
        }
        match grant {
            Some("authorization_code") => {
                let (Some(code), Some(redirect_uri)) = (get("code"), get("redirect_uri")) else {
                    return oauth_error(
                        400,
                        "invalid_request",
                        "code and redirect_uri are required",
                    );
                };
                self.exchange_code(&client_id, code, redirect_uri)
            }
            Some("refresh_token") => {
                let Some(refresh) = get("refresh_token") else {
                    return oauth_error(400, "invalid_request", "refresh_token is required");
                };
                self.refresh(&client_id, refresh)
            }
            Some(other) => oauth_error(
                400,
                "unsupported_grant_type",
                &format!("unsupported grant_type {other}"),
            ),
            None => oauth_error(400, "invalid_request", "grant_type is required"),
        }
    }

    fn exchange_code(&mut self, client_id: &str, code: &str, redirect_uri: &str) -> (u16, Value) {
        let now = self.now();
        let invalid = || oauth_error(403, "invalid_grant", "Invalid authorization code");
        let Some(grant) = self.codes.get_mut(code) else {
            return invalid();
        };
        if grant.used
            || now >= grant.expires_at
            || grant.client_id != client_id
            || grant.redirect_uri != redirect_uri
        {
            return invalid();
        }
        grant.used = true;
        let grant = grant.clone();
        let family = u64::try_from(self.families.len()).unwrap_or(u64::MAX);
        self.families.push(Family {
            account_id: grant.account_id,
            client_id: grant.client_id,
            scope: grant.scope,
            created_at: now,
            revoked: false,
        });
        self.issue(family, true)
    }

    fn refresh(&mut self, client_id: &str, presented: &str) -> (u16, Value) {
        let now = self.now();
        let invalid = || oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.");
        let Some(entry) = self.refresh.get(presented).cloned() else {
            return invalid();
        };
        let Some(family) = self.family(entry.family).cloned() else {
            return invalid();
        };
        if family.revoked || family.client_id != client_id {
            return invalid();
        }
        let idle = now.duration_since(entry.issued_at).unwrap_or_default() > IDLE_EXPIRY;
        let old = now.duration_since(family.created_at).unwrap_or_default() > ABSOLUTE_EXPIRY;
        if idle || old {
            return invalid();
        }
        if let Some(rotated) = entry.rotated_at
            && now.duration_since(rotated).unwrap_or_default() > REUSE_WINDOW
        {
            // Reuse of a rotated token after the window: assume it leaked.
            if let Some(f) = self.family_mut(entry.family) {
                f.revoked = true;
            }
            return invalid();
        }
        let omit = std::mem::take(&mut self.omit_next_refresh);
        if !omit
            && entry.rotated_at.is_none()
            && let Some(r) = self.refresh.get_mut(presented)
        {
            r.rotated_at = Some(now);
        }
        self.issue(entry.family, !omit)
    }

    /// Issue an access token (and a refresh token when `with_refresh` and
    /// the family's scope has `offline_access`) for `family`.
    fn issue(&mut self, family: u64, with_refresh: bool) -> (u16, Value) {
        let now = self.now();
        let Some(scope) = self.family(family).map(|f| f.scope.clone()) else {
            return oauth_error(500, "server_error", "lost token family");
        };
        let access = token("fake-at-");
        self.access.insert(
            access.clone(),
            Access {
                family,
                expires_at: now + Duration::from_secs(self.expires_in),
            },
        );
        self.issued.push(access.clone());
        let mut body = json!({
            "access_token": access,
            "expires_in": self.expires_in,
            "scope": scope,
            "token_type": "Bearer",
        });
        let offline = scope.split_whitespace().any(|s| s == "offline_access");
        if with_refresh && offline {
            let refresh = token("fake-rt-");
            self.refresh.insert(
                refresh.clone(),
                Refresh {
                    family,
                    issued_at: now,
                    rotated_at: None,
                },
            );
            if let Value::Object(map) = &mut body {
                map.insert("refresh_token".to_string(), Value::String(refresh));
            }
        }
        (200, body)
    }

    /// `GET /oauth/token/accessible-resources`.
    pub(crate) fn accessible_resources(
        &self,
        header: Option<&str>,
        base_url: &str,
    ) -> (u16, Value) {
        let (user, scope) = match self.bearer_user(header) {
            Ok(found) => found,
            Err(refusal) => return refusal,
        };
        let scopes: Vec<&str> = scope
            .split_whitespace()
            .filter(|s| *s != "offline_access")
            .collect();
        let sites: Vec<Value> = user
            .sites
            .iter()
            .filter_map(|id| self.site(id))
            .map(|site| {
                json!({
                    "id": site.cloud_id,
                    "url": site.url.clone().unwrap_or_else(|| base_url.to_string()),
                    "name": site.name,
                    "scopes": scopes,
                    "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png",
                })
            })
            .collect();
        (200, Value::Array(sites))
    }

    /// `GET /me`.
    pub(crate) fn me(&self, header: Option<&str>) -> (u16, Value) {
        match self.bearer_user(header) {
            Ok((user, _)) => (
                200,
                json!({
                    "account_type": "atlassian",
                    "account_id": user.account_id,
                    "email": user.email,
                    "email_verified": true,
                    "name": user.display_name,
                    "nickname": user.display_name,
                    "picture": format!("https://avatar-management.services.atlassian.com/default/{}", user.account_id),
                    "account_status": "active",
                    "locale": "en-US",
                    "extended_profile": {},
                }),
            ),
            Err(refusal) => refusal,
        }
    }

    /// Role assignments of `account_id` (org admin API
    /// `getUserRoleAssignments`), `None` for an unknown account.
    pub(crate) fn role_assignments(&self, org_id: &str, account_id: &str) -> Option<Value> {
        let user = self.user(account_id)?;
        let mut data = Vec::new();
        if user.org_admin {
            data.push(json!({
                "directoryId": null,
                "resourceId": format!("ari:cloud:platform::org/{org_id}"),
                "resourceOwner": "platform",
                "roles": ["atlassian/org-admin"],
                "roleAssignments": [{"role": "atlassian/org-admin", "roleAssignmentMethods": ["direct"]}],
                "userDirectoryStatus": null,
            }));
        }
        for site in &user.sites {
            data.push(json!({
                "directoryId": null,
                "resourceId": format!("ari:cloud:jira-software::site/{site}"),
                "resourceOwner": "jira-software",
                "roles": ["atlassian/user"],
                "roleAssignments": [{"role": "atlassian/user", "roleAssignmentMethods": ["direct"]}],
                "userDirectoryStatus": "active",
            }));
        }
        Some(json!({"data": data, "links": {}}))
    }
}
