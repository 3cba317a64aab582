//! Configuration from the environment. Every variable is validated at
//! start-up and every error names the variable.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use url::Url;

/// A secret string: `Debug` redacted, constant-time equality, wiped on drop.
/// The store's one secret type, under the name the runtime has always used.
pub use gojira_store::crypto::SecretString as Secret;

/// How the server authenticates upstream (until per-user auth lands).
#[derive(Debug, Clone)]
pub enum Credential {
    /// Basic `email:api_token` against the site URL.
    ApiToken {
        /// Account email.
        email: String,
        /// API token.
        token: Secret,
    },
    /// A bearer token for `api.atlassian.com/ex/{product}/{cloudId}`.
    Bearer {
        /// Access token.
        token: Secret,
    },
    /// No credential: tools answer with an error saying how to configure one.
    None,
}

/// Where state lives.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreConfig {
    /// redb in a data directory (`GOJIRA_DATA_DIR`, default `./data`).
    Embedded {
        /// The directory.
        data_dir: std::path::PathBuf,
    },
    /// A Redis shared by several instances (`GOJIRA_REDIS_URL`).
    Redis {
        /// `redis://` or `rediss://` URL (may hold a password).
        url: Secret,
    },
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind.
    pub host: IpAddr,
    /// Port to bind (`MCP_PORT`).
    pub port: u16,
    /// Public URL of this server (`MCP_SERVER_URL`).
    pub server_url: Url,
    /// Allowed browser origins (`ALLOWED_ORIGINS`); `None` means any (`*`).
    pub allowed_origins: Option<Vec<String>>,
    /// Enabled permission groups (`GOJIRA_ENABLED_GROUPS`).
    pub enabled_groups: BTreeSet<String>,
    /// Log filter (`LOG_LEVEL`).
    pub log_level: String,
    /// Upstream roots and identifiers.
    pub upstream: UpstreamConfig,
    /// Per-call deadline (`GOJIRA_TOOL_TIMEOUT_MS`).
    pub tool_timeout: Duration,
    /// At SIGTERM or Ctrl-C, how long calls in flight get to finish before
    /// the server exits anyway (`GOJIRA_SHUTDOWN_GRACE_SECS`, default 25:
    /// below Kubernetes' 30 s `terminationGracePeriodSeconds`).
    pub shutdown_grace: Duration,
    /// The state backend.
    pub store: StoreConfig,
    /// How long journal entries are kept (`GOJIRA_JOURNAL_RETENTION_DAYS`, default 90).
    pub journal_retention: Duration,
    /// How asynchronous tasks are followed when nobody polls them, and how
    /// long a task handle lives (`GOJIRA_TASK_POLL_INTERVAL_MS`,
    /// `GOJIRA_TASK_POLL_BATCH`, `GOJIRA_TASK_HORIZON_MS`).
    pub tasks: TaskPolicy,
    /// Limits on MCP requests per principal and per client
    /// (`GOJIRA_INBOUND_RATE`, `GOJIRA_INBOUND_CLIENT_RATE`).
    pub inbound: InboundLimits,
    /// The HTTP listener's timeouts and connection cap
    /// (`GOJIRA_HTTP_HEADER_TIMEOUT_MS`, `GOJIRA_HTTP_IDLE_TIMEOUT_MS`,
    /// `GOJIRA_HTTP_BODY_TIMEOUT_MS`, `GOJIRA_MAX_CONNECTIONS`).
    pub listener: ListenerLimits,
    /// `TOKEN_ENCRYPTION_KEY` (base64 of 32 bytes), checked by the store's keyring.
    pub encryption_key: Option<Secret>,
    /// `TOKEN_ENCRYPTION_KEYS_OLD`: retired keys that still decrypt.
    pub encryption_keys_old: Option<Secret>,
    /// How callers are identified (`GOJIRA_AUTH_MODE` and friends); see [`auth_mode`].
    pub auth: AuthSettings,
}

/// How MCP callers are identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// OAuth 2.1 for MCP clients; every call acts as the signed-in user.
    Oauth,
    /// One credential from the environment, no OAuth (stdio, development).
    Local,
}

/// The auth-related settings read by [`from_vars`]; [`auth_mode`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// `GOJIRA_AUTH_MODE` (default `oauth`; `stdio` is always local).
    pub mode: AuthMode,
    /// `GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK=true`: allow `local` on a non-loopback bind.
    pub allow_local_on_network: bool,
    /// `GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET` (`file:/path`): where org-admin calls are recorded.
    pub org_admin_audit_log: Option<std::path::PathBuf>,
    /// Whether `MCP_SERVER_URL` was set (else it follows the bound port).
    pub server_url_explicit: bool,
    /// `GOJIRA_JOURNAL_OPERATORS`: Atlassian account ids (comma-separated)
    /// who may read every user's journal entries with `allUsers: true`
    /// (audited); stored as principal ids (`oauth:{accountId}`). Everyone
    /// else sees only their own.
    pub journal_operators: BTreeSet<String>,
}

fn journal_operators(value: Option<String>) -> Result<BTreeSet<String>, ConfigError> {
    let mut out = BTreeSet::new();
    for id in value.iter().flat_map(|v| v.split(',')).map(str::trim) {
        let id = id.strip_prefix("oauth:").unwrap_or(id);
        if id.is_empty() {
            continue;
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'))
        {
            return Err(err(
                "GOJIRA_JOURNAL_OPERATORS",
                format!(
                    "{id:?} is not an Atlassian account id (a comma-separated list of account ids is expected)"
                ),
            ));
        }
        out.insert(format!("oauth:{id}"));
    }
    Ok(out)
}

/// The site variables of base-URL templates: a site URL with an API token,
/// or `{api}/ex/{name}/{cloudId}` with an OAuth bearer.
pub const SITE_VARS: [&str; 2] = ["jira", "confluence"];

/// The auth mode this process runs in: `stdio` is always local; `local`
/// needs a configured Atlassian credential, and on a non-loopback bind
/// `GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK=true`;
/// `oauth` needs `TOKEN_ENCRYPTION_KEY` (except in the sandbox, which keeps a
/// generated key) and, with org admin enabled, an audit log target.
pub fn auth_mode(config: &Config, stdio: bool, sandbox: bool) -> Result<AuthMode, ConfigError> {
    if stdio {
        require_local_credential(config)?;
        return Ok(AuthMode::Local);
    }
    match config.auth.mode {
        AuthMode::Local => {
            if !config.host.is_loopback() && !config.auth.allow_local_on_network {
                return Err(err(
                    "GOJIRA_AUTH_MODE",
                    format!(
                        "local mode gives every caller the one configured Atlassian credential, and MCP_HOST {} is not a loopback address; use oauth, bind 127.0.0.1, or set GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK=true to force it",
                        config.host
                    ),
                ));
            }
            require_local_credential(config)?;
            Ok(AuthMode::Local)
        }
        AuthMode::Oauth => {
            if config.encryption_key.is_none() && !sandbox {
                return Err(err(
                    "TOKEN_ENCRYPTION_KEY",
                    "is required in oauth mode (GOJIRA_AUTH_MODE=oauth, the default for serve): it seals each user's Atlassian tokens at rest; `gojira-mcp generate-key` makes one",
                ));
            }
            if config.upstream.org_admin_enabled && config.auth.org_admin_audit_log.is_none() {
                return Err(err(
                    "GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET",
                    "is required when GOJIRA_ENABLE_ORG_ADMIN=true in oauth mode: file:/path/to/org-admin.log (every org-admin call is recorded there as a JSON line)",
                ));
            }
            Ok(AuthMode::Oauth)
        }
    }
}

/// Local mode acts for every caller with the configured credential; without
/// one every call would fail, so start-up refuses instead of reporting ready.
/// (`--sandbox` fills one in before the configuration is read.)
fn require_local_credential(config: &Config) -> Result<(), ConfigError> {
    if matches!(config.upstream.credential, Credential::None) {
        return Err(err(
            "ATLASSIAN_API_TOKEN",
            "local mode needs an Atlassian credential and none is set: set ATLASSIAN_EMAIL, ATLASSIAN_API_TOKEN and ATLASSIAN_SITE_URL, or ATLASSIAN_ACCESS_TOKEN and ATLASSIAN_CLOUD_ID; or run oauth mode (each user signs in), or try `gojira-mcp serve --sandbox`",
        ));
    }
    Ok(())
}

/// Refuses an allowlist naming groups that hold no tool (declared in
/// tools.yaml, but no tool is in them yet): enabling one would silently
/// enable nothing. `with_tools` are the groups that hold at least one tool.
/// Unknown names are the catalog's check (`Catalog::check_groups`).
pub fn check_groups_have_tools(
    enabled: &BTreeSet<String>,
    with_tools: &BTreeSet<&str>,
) -> Result<(), ConfigError> {
    let empty: Vec<&str> = enabled
        .iter()
        .map(String::as_str)
        .filter(|g| !with_tools.contains(g))
        .collect();
    if empty.is_empty() {
        return Ok(());
    }
    let (names, verb) = match empty.as_slice() {
        [one] => ((*one).to_owned(), "has"),
        many => (many.join(", "), "have"),
    };
    Err(err(
        "GOJIRA_ENABLED_GROUPS",
        format!(
            "{names} {verb} no tools (tools.yaml declares the group, but no tool is in it yet), so enabling it would enable nothing; remove it from the list. groups with tools: {}",
            with_tools.iter().copied().collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// The authorization server's configuration (`ATLASSIAN_OAUTH_*`,
/// `ATLASSIAN_AUTH_BASE_URL`, `ATLASSIAN_PINNED_CLOUD_ID`, token lifetimes),
/// for the MCP endpoint at `resource`.
pub fn oauth_config(
    vars: &BTreeMap<String, String>,
    resource: Url,
) -> Result<gojira_auth::AuthConfig, ConfigError> {
    gojira_auth::AuthConfig::from_lookup(|name| vars.get(name).cloned(), resource).map_err(|e| {
        ConfigError {
            var: e.var,
            message: e.message,
        }
    })
}

/// Where upstream calls go and with what.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Base-URL template variables: `jira`, `confluence`, `api`, `cloudId`, `workspaceId`, `orgId`.
    pub vars: BTreeMap<String, String>,
    /// Credential for oauth / api_token products.
    pub credential: Credential,
    /// Org admin API key (`GOJIRA_ORG_ADMIN_TOKEN`), only when `GOJIRA_ENABLE_ORG_ADMIN=true`.
    pub org_admin_token: Option<Secret>,
    /// Whether org-admin tools may run at all.
    pub org_admin_enabled: bool,
    /// Sustained upstream requests per second of the burst class, per tenant
    /// (`GOJIRA_UPSTREAM_RATE`, default 10).
    pub rate_per_sec: f64,
    /// Requests the burst class may send at once before the rate applies
    /// (`GOJIRA_UPSTREAM_BURST`, default twice the rate, at least 1).
    pub burst_capacity: f64,
    /// Longest pause gojira sets by itself after consecutive `429`s that
    /// carry no rate-limit header (1 s, doubling per such `429`, reset by a
    /// success) (`GOJIRA_UPSTREAM_BACKOFF_MAX_SECS`, default 60).
    pub backoff_max: Duration,
    /// Whether upstream requests are paced at all (`GOJIRA_UPSTREAM_PACING`,
    /// default on; off only behind a gateway that paces, or to benchmark).
    pub pacing: bool,
    /// The site's own URL (`ATLASSIAN_SITE_URL`), where classic API tokens go.
    pub site_url: Option<String>,
}

/// A configuration error naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// Variable name.
    pub var: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// A per-second request rate with a burst of twice the rate, or `off`.
fn inbound_rate(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: f64,
) -> Result<Option<gojira_store::BucketSpec>, ConfigError> {
    let rate = match get(var).as_deref() {
        None => default,
        Some("off") => return Ok(None),
        Some(text) => match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 && v <= 1_000_000.0 => v,
            _ => {
                return Err(err(
                    var,
                    format!(
                        "{text:?} must be MCP requests per second (above 0, at most 1000000) or off (default {default})"
                    ),
                ));
            }
        },
    };
    Ok(Some(gojira_store::BucketSpec {
        capacity: (rate * 2.0).max(1.0),
        refill_per_sec: rate,
    }))
}

/// A duration in milliseconds within `range`, or `default`.
fn millis(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    range: std::ops::RangeInclusive<u64>,
    default: Duration,
    what: &str,
) -> Result<Duration, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(ms) if range.contains(&ms) => Ok(Duration::from_millis(ms)),
            _ => Err(err(
                var,
                format!(
                    "{text:?} must be {what}, in milliseconds from {} to {} (default {})",
                    range.start(),
                    range.end(),
                    default.as_millis()
                ),
            )),
        },
    }
}

/// The HTTP listener's limits (see [`crate::mcp::listener`]).
fn listener_limits(get: &impl Fn(&str) -> Option<String>) -> Result<ListenerLimits, ConfigError> {
    let defaults = ListenerLimits::default();
    Ok(ListenerLimits {
        header_timeout: millis(
            get,
            "GOJIRA_HTTP_HEADER_TIMEOUT_MS",
            100..=600_000,
            defaults.header_timeout,
            "how long a client may take to send a request's headers",
        )?,
        idle_timeout: millis(
            get,
            "GOJIRA_HTTP_IDLE_TIMEOUT_MS",
            100..=3_600_000,
            defaults.idle_timeout,
            "how long a kept-alive connection may wait for its next request",
        )?,
        body_timeout: millis(
            get,
            "GOJIRA_HTTP_BODY_TIMEOUT_MS",
            100..=600_000,
            defaults.body_timeout,
            "how long a client may take to send a request's body",
        )?,
        max_connections: match get("GOJIRA_MAX_CONNECTIONS") {
            None => None,
            Some(text) => match text.parse::<usize>() {
                Ok(n @ 1..=1_000_000) => Some(n),
                _ => {
                    return Err(err(
                        "GOJIRA_MAX_CONNECTIONS",
                        format!(
                            "{text:?} must be how many HTTP connections may be open at once, from 1 to 1000000 (default: three quarters of the open-file limit, at most {})",
                            DEFAULT_MAX_CONNECTIONS
                        ),
                    ));
                }
            },
        },
    })
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

/// Where state lives: `GOJIRA_REDIS_URL`, else the embedded store in
/// `GOJIRA_DATA_DIR` (`./data`). Also used by commands that only need the
/// store (`gojira-mcp verify-journal`).
pub fn store_from_vars(vars: &BTreeMap<String, String>) -> Result<StoreConfig, ConfigError> {
    store_config(&|name: &str| {
        vars.get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

fn store_config(get: &impl Fn(&str) -> Option<String>) -> Result<StoreConfig, ConfigError> {
    Ok(match get("GOJIRA_REDIS_URL") {
        Some(url) => {
            if !(url.starts_with("redis://") || url.starts_with("rediss://"))
                || Url::parse(&url).is_err()
            {
                return Err(err(
                    "GOJIRA_REDIS_URL",
                    "must be a redis:// or rediss:// URL, e.g. redis://:password@127.0.0.1:6379/0",
                ));
            }
            StoreConfig::Redis {
                url: Secret::new(url),
            }
        }
        None => StoreConfig::Embedded {
            data_dir: std::path::PathBuf::from(
                get("GOJIRA_DATA_DIR").unwrap_or_else(|| "./data".to_owned()),
            ),
        },
    })
}

/// Reads configuration from a variable source (the process environment in
/// production, a map in tests).
pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
    let get = |name: &str| {
        vars.get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };

    let port = match get("MCP_PORT") {
        Some(p) => p.parse::<u16>().map_err(|_| {
            err(
                "MCP_PORT",
                format!("{p:?} is not a port number (1-65535, or 0 for any free port)"),
            )
        })?,
        None => 8081,
    };
    let host: IpAddr = match get("MCP_HOST") {
        Some(h) => h.parse().map_err(|_| {
            err(
                "MCP_HOST",
                format!("{h:?} is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)"),
            )
        })?,
        None => IpAddr::from([127, 0, 0, 1]),
    };
    let server_url = match get("MCP_SERVER_URL") {
        Some(u) => parse_url("MCP_SERVER_URL", &u)?,
        None => parse_url("MCP_SERVER_URL", &format!("http://127.0.0.1:{port}"))?,
    };
    let allowed_origins = match get("ALLOWED_ORIGINS") {
        Some(o) if o == "*" => None,
        Some(o) => {
            let list: Vec<String> = o
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            for origin in &list {
                if origin != "null" && Url::parse(origin).is_err() {
                    return Err(err(
                        "ALLOWED_ORIGINS",
                        format!(
                            "{origin:?} is not an origin like https://app.example.com (or * for any)"
                        ),
                    ));
                }
            }
            Some(list)
        }
        None => Some(Vec::new()),
    };
    let enabled_groups: BTreeSet<String> = match get("GOJIRA_ENABLED_GROUPS") {
        Some(g) => g
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => BTreeSet::new(),
    };
    if enabled_groups.is_empty() {
        return Err(err(
            "GOJIRA_ENABLED_GROUPS",
            "is required: a comma-separated allowlist of permission groups (e.g. utility,read_projects); there is no implicit default",
        ));
    }
    let log_level = get("LOG_LEVEL").unwrap_or_else(|| "info".to_owned());
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        return Err(err(
            "LOG_LEVEL",
            format!("{log_level:?} is not a level (error, warn, info, debug, trace) or filter"),
        ));
    }
    let tool_timeout = match get("GOJIRA_TOOL_TIMEOUT_MS") {
        Some(ms) => match ms.parse::<u64>() {
            Ok(ms) if (100..=600_000).contains(&ms) => Duration::from_millis(ms),
            _ => {
                return Err(err(
                    "GOJIRA_TOOL_TIMEOUT_MS",
                    format!("{ms:?} must be milliseconds between 100 and 600000"),
                ));
            }
        },
        None => Duration::from_secs(15),
    };

    let shutdown_grace = match get("GOJIRA_SHUTDOWN_GRACE_SECS") {
        None => Duration::from_secs(25),
        Some(s) => match s.parse::<u64>() {
            Ok(secs @ 1..=3600) => Duration::from_secs(secs),
            _ => {
                return Err(err(
                    "GOJIRA_SHUTDOWN_GRACE_SECS",
                    format!(
                        "{s:?} must be whole seconds from 1 to 3600 that calls in flight get to finish at shutdown (default 25, below Kubernetes' 30 s grace period)"
                    ),
                ));
            }
        },
    };

    let api = match get("ATLASSIAN_API_BASE_URL") {
        Some(u) => upstream_url("ATLASSIAN_API_BASE_URL", &u)?,
        None => "https://api.atlassian.com".to_owned(),
    };
    let site = get("ATLASSIAN_SITE_URL")
        .map(|u| upstream_url("ATLASSIAN_SITE_URL", &u))
        .transpose()?;
    let cloud_id = get("ATLASSIAN_CLOUD_ID");
    let email = get("ATLASSIAN_EMAIL");
    let api_token = get("ATLASSIAN_API_TOKEN");
    let access_token = get("ATLASSIAN_ACCESS_TOKEN");

    let mut upstream_vars = BTreeMap::new();
    upstream_vars.insert("api".to_owned(), api.clone());
    let credential = match (api_token, access_token) {
        (Some(_), Some(_)) => {
            return Err(err(
                "ATLASSIAN_ACCESS_TOKEN",
                "set either ATLASSIAN_API_TOKEN (with ATLASSIAN_EMAIL and ATLASSIAN_SITE_URL) or ATLASSIAN_ACCESS_TOKEN (with ATLASSIAN_CLOUD_ID), not both",
            ));
        }
        (Some(token), None) => {
            let email = email
                .ok_or_else(|| err("ATLASSIAN_EMAIL", "is required with ATLASSIAN_API_TOKEN"))?;
            let site = site.clone().ok_or_else(|| {
                err(
                    "ATLASSIAN_SITE_URL",
                    "is required with ATLASSIAN_API_TOKEN (e.g. https://your-domain.atlassian.net)",
                )
            })?;
            upstream_vars.insert("jira".to_owned(), site.clone());
            upstream_vars.insert("confluence".to_owned(), site);
            Credential::ApiToken {
                email,
                token: Secret::new(token),
            }
        }
        (None, Some(token)) => {
            let cloud = cloud_id.clone().ok_or_else(|| {
                err(
                    "ATLASSIAN_CLOUD_ID",
                    "is required with ATLASSIAN_ACCESS_TOKEN (see accessible-resources)",
                )
            })?;
            upstream_vars.insert("jira".to_owned(), format!("{api}/ex/jira/{cloud}"));
            upstream_vars.insert(
                "confluence".to_owned(),
                format!("{api}/ex/confluence/{cloud}"),
            );
            Credential::Bearer {
                token: Secret::new(token),
            }
        }
        (None, None) => {
            if let Some(site) = &site {
                upstream_vars.insert("jira".to_owned(), site.clone());
                upstream_vars.insert("confluence".to_owned(), site.clone());
            }
            Credential::None
        }
    };
    if let Some(cloud) = cloud_id {
        upstream_vars.insert("cloudId".to_owned(), cloud);
    }
    if let Some(ws) = get("GOJIRA_ASSETS_WORKSPACE_ID") {
        upstream_vars.insert("workspaceId".to_owned(), ws);
    }
    if let Some(org) = get("GOJIRA_ORG_ID") {
        upstream_vars.insert("orgId".to_owned(), org);
    }
    let org_admin_enabled = match get("GOJIRA_ENABLE_ORG_ADMIN").as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(err(
                "GOJIRA_ENABLE_ORG_ADMIN",
                format!("{other:?} must be true or false"),
            ));
        }
    };
    let org_admin_token = get("GOJIRA_ORG_ADMIN_TOKEN").map(Secret::new);
    if org_admin_enabled && org_admin_token.is_none() {
        return Err(err(
            "GOJIRA_ORG_ADMIN_TOKEN",
            "is required when GOJIRA_ENABLE_ORG_ADMIN=true",
        ));
    }
    if enabled_groups.contains("admin_org") && !org_admin_enabled {
        return Err(err(
            "GOJIRA_ENABLE_ORG_ADMIN",
            "must be true when GOJIRA_ENABLED_GROUPS lists admin_org (the org-admin path is gated twice on purpose)",
        ));
    }

    let rate_per_sec = match get("GOJIRA_UPSTREAM_RATE") {
        Some(r) => match r.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 && v <= 100_000.0 => v,
            _ => {
                return Err(err(
                    "GOJIRA_UPSTREAM_RATE",
                    format!(
                        "{r:?} must be upstream requests per second, a number above 0 and at most 100000 (default 10)"
                    ),
                ));
            }
        },
        None => 10.0,
    };
    let burst_capacity = match get("GOJIRA_UPSTREAM_BURST") {
        Some(b) => match b.parse::<f64>() {
            Ok(v) if v.is_finite() && (1.0..=1_000_000.0).contains(&v) => v,
            _ => {
                return Err(err(
                    "GOJIRA_UPSTREAM_BURST",
                    format!(
                        "{b:?} must be how many upstream requests may go at once, a number from 1 to 1000000 (default twice GOJIRA_UPSTREAM_RATE)"
                    ),
                ));
            }
        },
        None => (rate_per_sec * 2.0).max(1.0),
    };

    let backoff_max = match get("GOJIRA_UPSTREAM_BACKOFF_MAX_SECS") {
        None => Duration::from_secs(60),
        Some(b) => match b.parse::<u64>() {
            Ok(secs @ 1..=3600) => Duration::from_secs(secs),
            _ => {
                return Err(err(
                    "GOJIRA_UPSTREAM_BACKOFF_MAX_SECS",
                    format!(
                        "{b:?} must be the longest back-off after header-less 429s, whole seconds from 1 to 3600 (default 60)"
                    ),
                ));
            }
        },
    };
    let pacing = match get("GOJIRA_UPSTREAM_PACING").as_deref() {
        None | Some("on") => true,
        Some("off") => false,
        Some(other) => {
            return Err(err(
                "GOJIRA_UPSTREAM_PACING",
                format!("{other:?} must be on or off (default on)"),
            ));
        }
    };
    let journal_retention = match get("GOJIRA_JOURNAL_RETENTION_DAYS") {
        None => Duration::from_secs(90 * 86_400),
        Some(d) => match d.parse::<u64>() {
            Ok(days @ 1..=3650) => Duration::from_secs(days * 86_400),
            _ => {
                return Err(err(
                    "GOJIRA_JOURNAL_RETENTION_DAYS",
                    format!("{d:?} must be whole days from 1 to 3650 (default 90)"),
                ));
            }
        },
    };
    let tasks = task_policy(&get, journal_retention)?;
    let inbound = InboundLimits {
        principal: inbound_rate(&get, "GOJIRA_INBOUND_RATE", 20.0)?,
        client: inbound_rate(&get, "GOJIRA_INBOUND_CLIENT_RATE", 200.0)?,
    };

    let auth = AuthSettings {
        mode: match get("GOJIRA_AUTH_MODE").as_deref() {
            None | Some("oauth") => AuthMode::Oauth,
            Some("local") => AuthMode::Local,
            Some(other) => {
                return Err(err(
                    "GOJIRA_AUTH_MODE",
                    format!("{other:?} must be oauth (the default) or local"),
                ));
            }
        },
        allow_local_on_network: match get("GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(err(
                    "GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK",
                    format!("{other:?} must be true or false"),
                ));
            }
        },
        org_admin_audit_log: match get("GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET") {
            None => None,
            Some(target) => match target.strip_prefix("file:") {
                Some(path) if !path.trim().is_empty() => Some(std::path::PathBuf::from(path)),
                _ => {
                    return Err(err(
                        "GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET",
                        format!("{target:?} must be file:/path/to/org-admin.log"),
                    ));
                }
            },
        },
        server_url_explicit: get("MCP_SERVER_URL").is_some(),
        journal_operators: journal_operators(get("GOJIRA_JOURNAL_OPERATORS"))?,
    };

    let store = store_config(&get)?;
    let listener = listener_limits(&get)?;

    Ok(Config {
        host,
        port,
        server_url,
        allowed_origins,
        enabled_groups,
        log_level,
        upstream: UpstreamConfig {
            vars: upstream_vars,
            credential,
            org_admin_token,
            org_admin_enabled,
            rate_per_sec,
            burst_capacity,
            backoff_max,
            pacing,
            site_url: site,
        },
        tool_timeout,
        shutdown_grace,
        store,
        journal_retention,
        tasks,
        inbound,
        listener,
        encryption_key: get("TOKEN_ENCRYPTION_KEY").map(Secret::new),
        encryption_keys_old: get("TOKEN_ENCRYPTION_KEYS_OLD").map(Secret::new),
        auth,
    })
}

/// How the server follows asynchronous tasks nobody polls, and how long a
/// task handle lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskPolicy {
    /// How often the server looks for running tasks, and the least time
    /// between two of its polls of one task (`GOJIRA_TASK_POLL_INTERVAL_MS`).
    /// A task younger than this is left to its caller's `gojira.task.get`.
    pub poll_interval: Duration,
    /// At most this many tasks polled per look (`GOJIRA_TASK_POLL_BATCH`).
    pub poll_batch: usize,
    /// How long a task is followed and its handle answers
    /// (`GOJIRA_TASK_HORIZON_MS`); past it, a write's task still running is
    /// journaled `unknown`. Never longer than the journal's retention.
    pub horizon: Duration,
}

impl Default for TaskPolicy {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(30),
            poll_batch: 20,
            horizon: Duration::from_secs(86_400),
        }
    }
}

fn task_policy(
    get: &impl Fn(&str) -> Option<String>,
    retention: Duration,
) -> Result<TaskPolicy, ConfigError> {
    let defaults = TaskPolicy::default();
    let poll_interval = match get("GOJIRA_TASK_POLL_INTERVAL_MS") {
        None => defaults.poll_interval,
        Some(v) => match v.parse::<u64>() {
            Ok(ms @ 100..=3_600_000) => Duration::from_millis(ms),
            _ => {
                return Err(err(
                    "GOJIRA_TASK_POLL_INTERVAL_MS",
                    format!(
                        "{v:?} must be milliseconds from 100 to 3600000 between the server's polls of a running task (default 30000)"
                    ),
                ));
            }
        },
    };
    let poll_batch = match get("GOJIRA_TASK_POLL_BATCH") {
        None => defaults.poll_batch,
        Some(v) => match v.parse::<usize>() {
            Ok(n @ 1..=1000) => n,
            _ => {
                return Err(err(
                    "GOJIRA_TASK_POLL_BATCH",
                    format!(
                        "{v:?} must be how many tasks the server may poll at each look, from 1 to 1000 (default 20)"
                    ),
                ));
            }
        },
    };
    let horizon = match get("GOJIRA_TASK_HORIZON_MS") {
        None => defaults.horizon.min(retention),
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if ms >= 1000 && Duration::from_millis(ms) <= retention => {
                Duration::from_millis(ms)
            }
            _ => {
                return Err(err(
                    "GOJIRA_TASK_HORIZON_MS",
                    format!(
                        "{v:?} must be milliseconds from 1000 up to the journal's retention (GOJIRA_JOURNAL_RETENTION_DAYS, {} ms): how long a task is followed and its handle answers (default 86400000, a day)",
                        retention.as_millis()
                    ),
                ));
            }
        },
    };
    Ok(TaskPolicy {
        poll_interval,
        poll_batch,
        horizon,
    })
}

fn parse_url(var: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| err(var, format!("{value:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(var, format!("{value:?} must be an http(s) URL")));
    }
    Ok(url)
}

/// Upstream URLs must be https, except loopback (tests and the sandbox).
fn upstream_url(var: &'static str, value: &str) -> Result<String, ConfigError> {
    gojira_auth::config::base_url(var, value).map_err(|e| err(var, e.message))
}

/// The listener's (`mcp::listener`) timeouts and connection cap (`GOJIRA_HTTP_*_TIMEOUT_MS`,
/// `GOJIRA_MAX_CONNECTIONS`; read here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// How long a request head may take: from a new connection, or from the
    /// first byte of a next request on a kept-alive one.
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request body may take to arrive after its head.
    pub body_timeout: Duration,
    /// Connections open at once; `None` derives it from the open-file limit.
    pub max_connections: Option<usize>,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            max_connections: None,
        }
    }
}

/// The default cap when `GOJIRA_MAX_CONNECTIONS` is not set (and the
/// open-file limit allows it): memory, not descriptors, bounds it then.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Inbound bucket shapes (`mcp::inbound`); `None` turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InboundLimits {
    /// Per principal (the person behind the bearer, or the configured credential).
    pub principal: Option<gojira_store::BucketSpec>,
    /// Per MCP client id (OAuth client; `local` without OAuth).
    pub client: Option<gojira_store::BucketSpec>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn enabled_groups_is_required() {
        let e = from_vars(&vars(&[])).unwrap_err();
        assert_eq!(e.var, "GOJIRA_ENABLED_GROUPS");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let base = [("GOJIRA_ENABLED_GROUPS", "read_projects")];
        for (var, value) in [
            ("MCP_PORT", "eighty"),
            ("MCP_SERVER_URL", "not a url"),
            ("ALLOWED_ORIGINS", "foo"),
            ("GOJIRA_TOOL_TIMEOUT_MS", "5"),
            ("ATLASSIAN_SITE_URL", "http://example.atlassian.net"),
            ("GOJIRA_ENABLE_ORG_ADMIN", "yes"),
            ("GOJIRA_REDIS_URL", "http://127.0.0.1:6379"),
            ("GOJIRA_UPSTREAM_RATE", "fast"),
            ("GOJIRA_UPSTREAM_RATE", "0"),
            ("GOJIRA_UPSTREAM_BURST", "0.5"),
            ("GOJIRA_UPSTREAM_PACING", "maybe"),
            ("GOJIRA_INBOUND_RATE", "fast"),
            ("GOJIRA_INBOUND_CLIENT_RATE", "-1"),
            ("GOJIRA_JOURNAL_RETENTION_DAYS", "0"),
            ("GOJIRA_TASK_POLL_INTERVAL_MS", "10"),
            ("GOJIRA_TASK_POLL_BATCH", "0"),
            ("GOJIRA_TASK_HORIZON_MS", "soon"),
            ("GOJIRA_TASK_HORIZON_MS", "999999999999"),
            ("GOJIRA_HTTP_HEADER_TIMEOUT_MS", "10s"),
            ("GOJIRA_HTTP_HEADER_TIMEOUT_MS", "0"),
            ("GOJIRA_HTTP_IDLE_TIMEOUT_MS", "-1"),
            ("GOJIRA_HTTP_BODY_TIMEOUT_MS", "600001"),
            ("GOJIRA_MAX_CONNECTIONS", "0"),
            ("GOJIRA_MAX_CONNECTIONS", "many"),
        ] {
            let mut v = vars(&base);
            v.insert(var.to_owned(), value.to_owned());
            let e = from_vars(&v).unwrap_err();
            assert_eq!(e.var, var, "{e}");
        }
    }

    #[test]
    fn task_policy_defaults_and_parses_within_the_retention() {
        let mut v = vars(&[("GOJIRA_ENABLED_GROUPS", "read_projects")]);
        assert_eq!(from_vars(&v).unwrap().tasks, TaskPolicy::default());
        v.insert("GOJIRA_TASK_POLL_INTERVAL_MS".into(), "200".into());
        v.insert("GOJIRA_TASK_POLL_BATCH".into(), "5".into());
        v.insert("GOJIRA_TASK_HORIZON_MS".into(), "1500".into());
        let t = from_vars(&v).unwrap().tasks;
        assert_eq!(
            (t.poll_interval, t.poll_batch, t.horizon),
            (Duration::from_millis(200), 5, Duration::from_millis(1500))
        );
        // A handle may not outlive the journal entry it belongs to.
        v.insert("GOJIRA_JOURNAL_RETENTION_DAYS".into(), "1".into());
        v.insert("GOJIRA_TASK_HORIZON_MS".into(), "86400001".into());
        let e = from_vars(&v).unwrap_err();
        assert_eq!(e.var, "GOJIRA_TASK_HORIZON_MS", "{e}");
    }

    #[test]
    fn listener_limits_default_and_parse() {
        let mut v = vars(&[("GOJIRA_ENABLED_GROUPS", "read_projects")]);
        let l = from_vars(&v).unwrap().listener;
        assert_eq!(
            (l.header_timeout, l.idle_timeout, l.body_timeout),
            (
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(30)
            )
        );
        assert_eq!(l.max_connections, None, "derived from the open-file limit");
        v.insert("GOJIRA_HTTP_HEADER_TIMEOUT_MS".into(), "2000".into());
        v.insert("GOJIRA_HTTP_IDLE_TIMEOUT_MS".into(), "90000".into());
        v.insert("GOJIRA_HTTP_BODY_TIMEOUT_MS".into(), "5000".into());
        v.insert("GOJIRA_MAX_CONNECTIONS".into(), "500".into());
        let l = from_vars(&v).unwrap().listener;
        assert_eq!(
            (
                l.header_timeout,
                l.idle_timeout,
                l.body_timeout,
                l.max_connections
            ),
            (
                Duration::from_secs(2),
                Duration::from_secs(90),
                Duration::from_secs(5),
                Some(500)
            )
        );
    }

    #[test]
    fn api_token_needs_email_and_site_and_is_redacted() {
        let mut v = vars(&[
            ("GOJIRA_ENABLED_GROUPS", "read_projects"),
            ("ATLASSIAN_API_TOKEN", "s3cr3t"),
        ]);
        assert_eq!(from_vars(&v).unwrap_err().var, "ATLASSIAN_EMAIL");
        v.insert("ATLASSIAN_EMAIL".into(), "a@b.c".into());
        assert_eq!(from_vars(&v).unwrap_err().var, "ATLASSIAN_SITE_URL");
        v.insert(
            "ATLASSIAN_SITE_URL".into(),
            "https://x.atlassian.net/".into(),
        );
        let c = from_vars(&v).unwrap();
        assert_eq!(c.upstream.vars["jira"], "https://x.atlassian.net");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn store_defaults_to_embedded_and_redis_urls_are_redacted() {
        let mut v = vars(&[("GOJIRA_ENABLED_GROUPS", "read_projects")]);
        assert_eq!(
            from_vars(&v).unwrap().store,
            StoreConfig::Embedded {
                data_dir: "./data".into()
            }
        );
        v.insert(
            "GOJIRA_REDIS_URL".into(),
            "rediss://:hunter2@redis.internal:6380/1".into(),
        );
        let c = from_vars(&v).unwrap();
        assert!(matches!(c.store, StoreConfig::Redis { .. }));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn upstream_rate_defaults_and_burst_follows_it() {
        let mut v = vars(&[("GOJIRA_ENABLED_GROUPS", "read_projects")]);
        let c = from_vars(&v).unwrap();
        assert_eq!(
            (c.upstream.rate_per_sec, c.upstream.burst_capacity),
            (10.0, 20.0)
        );
        v.insert("GOJIRA_UPSTREAM_RATE".into(), "2.5".into());
        let c = from_vars(&v).unwrap();
        assert_eq!(
            (c.upstream.rate_per_sec, c.upstream.burst_capacity),
            (2.5, 5.0)
        );
        v.insert("GOJIRA_UPSTREAM_BURST".into(), "3".into());
        assert_eq!(from_vars(&v).unwrap().upstream.burst_capacity, 3.0);
    }

    #[test]
    fn auth_mode_rules() {
        let mut v = vars(&[("GOJIRA_ENABLED_GROUPS", "read_projects")]);
        let c = from_vars(&v).unwrap();
        assert_eq!(c.auth.mode, AuthMode::Oauth, "oauth is the default");
        let e = auth_mode(&c, true, false).unwrap_err();
        assert!(
            e.message
                .contains("local mode needs an Atlassian credential"),
            "stdio is always local, and local needs a credential: {e}"
        );
        let mut with_token = v.clone();
        with_token.insert("ATLASSIAN_ACCESS_TOKEN".into(), "t".into());
        with_token.insert("ATLASSIAN_CLOUD_ID".into(), "c".into());
        assert_eq!(
            auth_mode(&from_vars(&with_token).unwrap(), true, false).unwrap(),
            AuthMode::Local,
            "stdio is always local"
        );
        let e = auth_mode(&c, false, false).unwrap_err();
        assert_eq!(e.var, "TOKEN_ENCRYPTION_KEY");
        assert!(e.message.contains("gojira-mcp generate-key"), "{e}");
        assert_eq!(
            auth_mode(&c, false, true).unwrap(),
            AuthMode::Oauth,
            "the sandbox keeps a key"
        );
        v.insert("TOKEN_ENCRYPTION_KEY".into(), "k".into());
        v.insert("GOJIRA_ENABLE_ORG_ADMIN".into(), "true".into());
        v.insert("GOJIRA_ORG_ADMIN_TOKEN".into(), "k".into());
        let e = auth_mode(&from_vars(&v).unwrap(), false, false).unwrap_err();
        assert_eq!(e.var, "GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET");
        v.insert(
            "GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET".into(),
            "/var/log/x".into(),
        );
        assert_eq!(
            from_vars(&v).unwrap_err().var,
            "GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET"
        );
        v.insert(
            "GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET".into(),
            "file:/var/log/x".into(),
        );
        assert_eq!(
            auth_mode(&from_vars(&v).unwrap(), false, false).unwrap(),
            AuthMode::Oauth
        );

        v.insert("GOJIRA_AUTH_MODE".into(), "local".into());
        let e = auth_mode(&from_vars(&v).unwrap(), false, false).unwrap_err();
        assert_eq!(e.var, "ATLASSIAN_API_TOKEN");
        assert!(e.message.contains("ATLASSIAN_ACCESS_TOKEN"), "{e}");
        v.insert("ATLASSIAN_EMAIL".into(), "e@example.com".into());
        v.insert("ATLASSIAN_API_TOKEN".into(), "t".into());
        v.insert(
            "ATLASSIAN_SITE_URL".into(),
            "https://x.atlassian.net".into(),
        );
        v.insert("MCP_HOST".into(), "0.0.0.0".into());
        let e = auth_mode(&from_vars(&v).unwrap(), false, false).unwrap_err();
        assert!(
            e.message.contains("GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK"),
            "{e}"
        );
        v.insert("GOJIRA_ALLOW_LOCAL_AUTH_ON_NETWORK".into(), "true".into());
        assert_eq!(
            auth_mode(&from_vars(&v).unwrap(), false, false).unwrap(),
            AuthMode::Local
        );
        v.insert("GOJIRA_AUTH_MODE".into(), "none".into());
        assert_eq!(from_vars(&v).unwrap_err().var, "GOJIRA_AUTH_MODE");
    }

    #[test]
    fn oauth_config_errors_name_their_variable() {
        let v = vars(&[("ATLASSIAN_OAUTH_CLIENT_ID", "cid")]);
        let resource = Url::parse("http://127.0.0.1:8081/mcp").unwrap();
        let e = oauth_config(&v, resource).unwrap_err();
        assert_eq!(e.var, "ATLASSIAN_OAUTH_CLIENT_SECRET");
    }

    #[test]
    fn enabled_groups_without_tools_are_refused_naming_them() {
        let with_tools = BTreeSet::from(["read_projects", "utility"]);
        let enabled = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        assert!(check_groups_have_tools(&enabled(&["read_projects"]), &with_tools).is_ok());
        let e = check_groups_have_tools(
            &enabled(&["read_projects", "write_schemes", "write_workflows"]),
            &with_tools,
        )
        .unwrap_err();
        assert_eq!(e.var, "GOJIRA_ENABLED_GROUPS");
        assert!(
            e.message
                .starts_with("write_schemes, write_workflows have no tools")
                && e.message
                    .ends_with("groups with tools: read_projects, utility"),
            "{e}"
        );
    }

    #[test]
    fn admin_org_needs_the_second_gate() {
        let v = vars(&[("GOJIRA_ENABLED_GROUPS", "admin_org")]);
        assert_eq!(from_vars(&v).unwrap_err().var, "GOJIRA_ENABLE_ORG_ADMIN");
    }
}
