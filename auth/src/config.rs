//! Authorization-server configuration. Every variable is validated when read
//! and every error names the variable.

use std::time::Duration;

use gojira_store::crypto::SecretString;
use url::Url;

/// The Atlassian scopes asked for when none are configured.
pub const DEFAULT_ATLASSIAN_SCOPES: &str = "offline_access read:jira-user read:jira-work write:jira-work manage:jira-project manage:jira-configuration read:confluence-space.summary write:confluence-space read:me";

/// Validated configuration of the authorization server.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The canonical URI of the protected resource (e.g.
    /// `https://gojira.example.com/mcp`): the audience of every token we
    /// issue and the only accepted RFC 8707 `resource`. Its origin is the issuer.
    pub resource: Url,
    /// Our 3LO app's client id at Atlassian (`ATLASSIAN_OAUTH_CLIENT_ID`).
    pub atlassian_client_id: String,
    /// Our 3LO app's client secret (`ATLASSIAN_OAUTH_CLIENT_SECRET`).
    pub atlassian_client_secret: SecretString,
    /// Atlassian's authorization server (`ATLASSIAN_AUTH_BASE_URL`, default
    /// `https://auth.atlassian.com`); no trailing slash.
    pub atlassian_auth_base: String,
    /// Atlassian's API gateway (`ATLASSIAN_API_BASE_URL`, default
    /// `https://api.atlassian.com`); no trailing slash.
    pub atlassian_api_base: String,
    /// Scopes asked of Atlassian (`ATLASSIAN_OAUTH_SCOPES`, space-separated;
    /// must include `offline_access`).
    pub atlassian_scopes: Vec<String>,
    /// gojira's own scopes this server offers its clients ([`crate::scopes`]):
    /// all of them unless the server narrows them to what its enabled
    /// permission groups need ([`AuthConfig::with_offered_scopes`]).
    pub scopes: Vec<String>,
    /// Lifetime of our access tokens (`GOJIRA_ACCESS_TOKEN_TTL_S`, default 1 h).
    pub access_token_ttl: Duration,
    /// Idle lifetime of our refresh tokens (`GOJIRA_REFRESH_TOKEN_TTL_S`,
    /// default 30 days): each rotation issues one valid this long.
    pub refresh_token_ttl: Duration,
    /// Absolute lifetime of a refresh-token family, from sign-in
    /// (`GOJIRA_REFRESH_FAMILY_MAX_AGE_S`, default 365 days, at least the idle lifetime).
    pub refresh_family_max_age: Duration,
    /// How long after a refresh token's rotation the same client may
    /// present it again and get the same new pair instead of having its
    /// sign-in revoked as a reuse (`GOJIRA_REFRESH_REUSE_GRACE_S`, default
    /// 10 s, 0 to disable, at most 60 s): a client racing its own refresh
    /// keeps its session.
    pub refresh_reuse_grace: Duration,
    /// The only Atlassian site users may reach (`ATLASSIAN_PINNED_CLOUD_ID`).
    pub pinned_cloud_id: Option<String>,
    /// Lets Client ID Metadata Documents come from private, loopback and
    /// plain-http addresses. Tests only (`GOJIRA_CIMD_ALLOW_PRIVATE=true`).
    pub allow_private_cimd_hosts: bool,
    /// Dynamic client registrations allowed per client IP per minute
    /// (`GOJIRA_DCR_RATE`, default 10).
    pub dcr_rate: u32,
}

/// A configuration error naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct AuthConfigError {
    /// Variable name.
    pub var: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> AuthConfigError {
    AuthConfigError {
        var,
        message: message.into(),
    }
}

impl AuthConfig {
    /// Reads configuration through `get` (the process environment in
    /// production, a map in tests). `resource` is the canonical URI of the
    /// MCP endpoint this server protects.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        resource: Url,
    ) -> Result<Self, AuthConfigError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if !matches!(resource.scheme(), "http" | "https")
            || resource.host().is_none()
            || resource.fragment().is_some()
            || resource.query().is_some()
        {
            return Err(err(
                "MCP_SERVER_URL",
                format!(
                    "{resource} is not a usable resource URI (an http(s) URL without query or fragment)"
                ),
            ));
        }
        if resource.scheme() != "https" && !is_loopback_url(&resource) {
            return Err(err(
                "MCP_SERVER_URL",
                format!(
                    "{resource} must use https to issue OAuth tokens (plain http only on loopback)"
                ),
            ));
        }
        let atlassian_client_id = get("ATLASSIAN_OAUTH_CLIENT_ID").ok_or_else(|| {
            err(
                "ATLASSIAN_OAUTH_CLIENT_ID",
                "is required for OAuth: the client id of your Atlassian 3LO app (developer.atlassian.com console)",
            )
        })?;
        let atlassian_client_secret = get("ATLASSIAN_OAUTH_CLIENT_SECRET")
            .map(SecretString::new)
            .ok_or_else(|| {
                err(
                    "ATLASSIAN_OAUTH_CLIENT_SECRET",
                    "is required for OAuth: the secret of your Atlassian 3LO app",
                )
            })?;
        let atlassian_auth_base = match get("ATLASSIAN_AUTH_BASE_URL") {
            Some(u) => base_url("ATLASSIAN_AUTH_BASE_URL", &u)?,
            None => "https://auth.atlassian.com".to_owned(),
        };
        let atlassian_api_base = match get("ATLASSIAN_API_BASE_URL") {
            Some(u) => base_url("ATLASSIAN_API_BASE_URL", &u)?,
            None => "https://api.atlassian.com".to_owned(),
        };
        let scopes =
            get("ATLASSIAN_OAUTH_SCOPES").unwrap_or_else(|| DEFAULT_ATLASSIAN_SCOPES.into());
        let atlassian_scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
        if !atlassian_scopes.iter().any(|s| s == "offline_access") {
            return Err(err(
                "ATLASSIAN_OAUTH_SCOPES",
                "must include offline_access (without it Atlassian issues no refresh token and every user signs in again hourly)",
            ));
        }
        let access_token_ttl = seconds(
            "GOJIRA_ACCESS_TOKEN_TTL_S",
            get("GOJIRA_ACCESS_TOKEN_TTL_S"),
            60..=86_400,
            3_600,
        )?;
        let refresh_token_ttl = seconds(
            "GOJIRA_REFRESH_TOKEN_TTL_S",
            get("GOJIRA_REFRESH_TOKEN_TTL_S"),
            300..=400 * 86_400,
            30 * 86_400,
        )?;
        let refresh_family_max_age = seconds(
            "GOJIRA_REFRESH_FAMILY_MAX_AGE_S",
            get("GOJIRA_REFRESH_FAMILY_MAX_AGE_S"),
            300..=800 * 86_400,
            365 * 86_400,
        )?;
        if refresh_family_max_age < refresh_token_ttl {
            return Err(err(
                "GOJIRA_REFRESH_FAMILY_MAX_AGE_S",
                "must be at least GOJIRA_REFRESH_TOKEN_TTL_S",
            ));
        }
        let refresh_reuse_grace = seconds(
            "GOJIRA_REFRESH_REUSE_GRACE_S",
            get("GOJIRA_REFRESH_REUSE_GRACE_S"),
            0..=60,
            10,
        )?;
        let pinned_cloud_id = get("ATLASSIAN_PINNED_CLOUD_ID");
        let allow_private_cimd_hosts = match get("GOJIRA_CIMD_ALLOW_PRIVATE").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(err(
                    "GOJIRA_CIMD_ALLOW_PRIVATE",
                    format!("{other:?} must be true or false (true is for tests only)"),
                ));
            }
        };
        let dcr_rate = match get("GOJIRA_DCR_RATE") {
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => {
                    return Err(err(
                        "GOJIRA_DCR_RATE",
                        format!("{v:?} must be registrations per IP per minute, 1 to 10000"),
                    ));
                }
            },
            None => 10,
        };
        Ok(Self {
            resource,
            atlassian_client_id,
            atlassian_client_secret,
            atlassian_auth_base,
            atlassian_api_base,
            atlassian_scopes,
            scopes: crate::scopes::ALL.iter().map(|s| (*s).to_owned()).collect(),
            access_token_ttl,
            refresh_token_ttl,
            refresh_family_max_age,
            refresh_reuse_grace,
            pinned_cloud_id,
            allow_private_cimd_hosts,
            dcr_rate,
        })
    }

    /// Offers only `scopes` (gojira scopes; unknown names are dropped).
    #[must_use]
    pub fn with_offered_scopes<'a>(mut self, scopes: impl IntoIterator<Item = &'a str>) -> Self {
        self.scopes = crate::scopes::canonical(scopes);
        self
    }

    /// The issuer: the resource's origin (`https://host[:port]`, no slash).
    pub fn issuer(&self) -> String {
        self.resource.origin().ascii_serialization()
    }
}

fn seconds(
    var: &'static str,
    value: Option<String>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<Duration, AuthConfigError> {
    match value {
        None => Ok(Duration::from_secs(default)),
        Some(v) => match v.parse::<u64>() {
            Ok(s) if range.contains(&s) => Ok(Duration::from_secs(s)),
            _ => Err(err(
                var,
                format!(
                    "{v:?} must be seconds between {} and {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

/// True for `127.0.0.0/8`, `[::1]` and `localhost`.
pub(crate) fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Atlassian base URLs must be https, except loopback (tests and the sandbox).
/// The runtime checks its upstream URLs with this too.
pub fn base_url(var: &'static str, value: &str) -> Result<String, AuthConfigError> {
    let url = Url::parse(value).map_err(|e| err(var, format!("{value:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(var, format!("{value:?} must be an http(s) URL")));
    }
    if url.scheme() != "https" && !is_loopback_url(&url) {
        return Err(err(
            var,
            format!("{value:?} must use https (plain http is allowed only for loopback addresses)"),
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config(vars: &[(&str, &str)]) -> Result<AuthConfig, AuthConfigError> {
        let mut map: BTreeMap<String, String> = [
            ("ATLASSIAN_OAUTH_CLIENT_ID", "cid"),
            ("ATLASSIAN_OAUTH_CLIENT_SECRET", "secret"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in vars {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        AuthConfig::from_lookup(
            |name| map.get(name).cloned(),
            Url::parse("http://127.0.0.1:8081/mcp").unwrap(),
        )
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.atlassian_auth_base, "https://auth.atlassian.com");
        assert_eq!(c.atlassian_api_base, "https://api.atlassian.com");
        assert_eq!(c.access_token_ttl, Duration::from_secs(3600));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.dcr_rate, 10);
        assert!(!c.allow_private_cimd_hosts);
        assert_eq!(c.issuer(), "http://127.0.0.1:8081");
        assert!(c.atlassian_scopes.iter().any(|s| s == "read:me"));
        assert!(!format!("{c:?}").contains("secret\""));
    }

    #[test]
    fn errors_name_the_variable() {
        for (vars, var) in [
            (
                vec![("ATLASSIAN_AUTH_BASE_URL", "http://evil.example")],
                "ATLASSIAN_AUTH_BASE_URL",
            ),
            (
                vec![("ATLASSIAN_OAUTH_SCOPES", "read:me")],
                "ATLASSIAN_OAUTH_SCOPES",
            ),
            (vec![("GOJIRA_DCR_RATE", "0")], "GOJIRA_DCR_RATE"),
            (
                vec![("GOJIRA_ACCESS_TOKEN_TTL_S", "soon")],
                "GOJIRA_ACCESS_TOKEN_TTL_S",
            ),
            (
                vec![("GOJIRA_CIMD_ALLOW_PRIVATE", "yes")],
                "GOJIRA_CIMD_ALLOW_PRIVATE",
            ),
            (
                vec![("ATLASSIAN_OAUTH_CLIENT_ID", " ")],
                "ATLASSIAN_OAUTH_CLIENT_ID",
            ),
        ] {
            assert_eq!(config(&vars).unwrap_err().var, var);
        }
        let remote_http = AuthConfig::from_lookup(
            |_| Some("x".into()),
            Url::parse("http://gojira.example.com/mcp").unwrap(),
        );
        assert_eq!(remote_http.unwrap_err().var, "MCP_SERVER_URL");
    }
}
