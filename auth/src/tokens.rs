//! Our tokens: `/token`, `/revoke`, and bearer verification.
//!
//! Every token is 256 random bits (base64url) and is stored only as its
//! SHA-256 under `gojira:token:…`:
//!
//! - `family:{id}`: one sign-in (a code redemption): the grant (account,
//!   client, scopes, sites, audience), its absolute expiry, and whether it is
//!   revoked. Revoking writes a tombstone, so a family cannot be created or
//!   used after it.
//! - `at:{hash}`: an access token → family, expiry.
//! - `rt:{hash}`: a refresh token → family, expiry; `rt-used:{hash}` marks it
//!   rotated (claimed with `set_if_absent`, so of two concurrent uses one
//!   wins and the other is reuse).
//!
//! Authorization codes live under `gojira:oauth_code:{hash}`, and
//! `gojira:oauth_code:claim:{hash}` records which family a redeemed code
//! started, so a replay revokes it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use gojira_store::crypto::ct_eq;
use gojira_store::records::{AUDIT_TTL, decode, encode};
use gojira_store::{Key, Kind, StoreError};
use serde::{Deserialize, Serialize};

use crate::util::{no_store_headers, oauth_error, parse_form, random_token, sha256_b64};
use crate::{AuthServer, Challenge, Principal};

const RECORD_VERSION: u16 = 1;
/// How long an authorization code may be redeemed.
pub(crate) const CODE_TTL: Duration = Duration::from_secs(60);
/// How many times (50 ms apart) a duplicate refresh waits for the first
/// one's pair to be recorded.
const GRACE_POLLS: u32 = 40;

/// What a sign-in granted (shared by a code and the family it starts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub account_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub cloud_ids: Vec<String>,
    pub email: Option<String>,
    /// The audience: our canonical resource URI.
    pub audience: String,
}

/// An authorization code we issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CodeRecord {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FamilyRecord {
    grant: Option<Grant>,
    expires_at_ms: u64,
    revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    family: String,
    expires_at_ms: u64,
    /// An access token narrowed at refresh (RFC 6749 §6) carries fewer
    /// scopes than its family; never more (verification intersects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
}

/// When a refresh token was rotated: a second use within the grace window
/// by the same client gets the pair the first use got.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Rotation {
    at_ms: u64,
}

fn key(kind: Kind, prefix: &str, id: &str) -> Key {
    Key::new(kind, format!("{prefix}:{id}"))
}

/// A `/token` failure.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl TokenError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: if error == "invalid_client" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            },
            error,
            description: description.into(),
        }
    }

    fn grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "token endpoint: store error");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            description: "the authorization server's store is unavailable; try again".into(),
        }
    }
}

/// The client id from `client_id` or HTTP Basic (public clients: no secret).
fn client_id(
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<String, TokenError> {
    if form.contains_key("client_secret") {
        return Err(TokenError::new(
            "invalid_client",
            "this server has public clients only; send client_id without a secret",
        ));
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let from_basic = match basic {
        Some(pair) => {
            let (id, secret) = pair.split_once(':').unwrap_or((pair.as_str(), ""));
            if !secret.is_empty() {
                return Err(TokenError::new(
                    "invalid_client",
                    "this server has public clients only; no client secret is accepted",
                ));
            }
            let id = url::form_urlencoded::parse(format!("x={id}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            Some(id)
        }
        None => None,
    };
    match (from_basic, form.get("client_id")) {
        (Some(a), Some(b)) if a != *b => Err(TokenError::new(
            "invalid_request",
            "client_id differs between the Authorization header and the body",
        )),
        (Some(a), _) => Ok(a),
        (None, Some(b)) if !b.is_empty() => Ok(b.clone()),
        _ => Err(TokenError::new("invalid_client", "client_id is required")),
    }
}

/// `POST /token`.
pub(crate) async fn token(
    State(server): State<Arc<AuthServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = match is_form(&headers) {
        false => Err(TokenError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )),
        true => match parse_form(&body) {
            Err(e) => Err(TokenError::new("invalid_request", e)),
            Ok(form) => server.token_impl(&headers, &form).await,
        },
    };
    match result {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            no_store_headers(response.headers_mut());
            response
        }
        Err(e) => oauth_error(e.status, e.error, &e.description),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// `POST /revoke` (RFC 7009): always 200 for a well-formed request.
pub(crate) async fn revoke(
    State(server): State<Arc<AuthServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match parse_form(&body) {
        Ok(form) if is_form(&headers) => form,
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body must be a form with a token parameter",
            );
        }
    };
    let Some(token) = form.get("token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let client = form.get("client_id").map(String::as_str);
    if let Err(e) = server.revoke_token(token, client).await {
        tracing::warn!(error = %e, "revocation failed in the store");
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again",
        );
    }
    let mut response = StatusCode::OK.into_response();
    no_store_headers(response.headers_mut());
    response
}

/// The first 16 characters of a token's SHA-256 (names an audit event
/// without revealing the token).
pub(crate) fn hash_prefix(token: &str) -> String {
    sha256_b64(token.as_bytes()).chars().take(16).collect()
}

/// PKCE S256: base64url(SHA-256(verifier)) == challenge, in constant time.
fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed
        && ct_eq(
            sha256_b64(verifier.as_bytes()).as_bytes(),
            challenge.as_bytes(),
        )
}

impl AuthServer {
    async fn token_impl(
        &self,
        headers: &HeaderMap,
        form: &std::collections::BTreeMap<String, String>,
    ) -> Result<serde_json::Value, TokenError> {
        let client_id = client_id(headers, form)?;
        if let Some(resource) = form.get("resource")
            && resource != self.config.resource.as_str()
        {
            return Err(TokenError::new(
                "invalid_target",
                format!("resource must be {}", self.config.resource),
            ));
        }
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => self.redeem_code(&client_id, form).await,
            Some("refresh_token") => self.refresh(&client_id, form).await,
            Some(other) => Err(TokenError::new(
                "unsupported_grant_type",
                format!(
                    "grant_type {other:?} is not supported (authorization_code, refresh_token)"
                ),
            )),
            None => Err(TokenError::new("invalid_request", "grant_type is required")),
        }
    }

    /// Stores a fresh authorization code for `record`; returns the code.
    pub(crate) async fn issue_code(&self, record: &CodeRecord) -> Result<String, StoreError> {
        let code = random_token();
        let bytes = encode(RECORD_VERSION, record)?;
        self.store
            .set(
                &Key::new(Kind::OauthCode, sha256_b64(code.as_bytes())),
                &bytes,
                Some(CODE_TTL),
            )
            .await?;
        Ok(code)
    }

    async fn redeem_code(
        &self,
        client_id: &str,
        form: &std::collections::BTreeMap<String, String>,
    ) -> Result<serde_json::Value, TokenError> {
        let code = form
            .get("code")
            .ok_or_else(|| TokenError::new("invalid_request", "code is required"))?;
        let hash = sha256_b64(code.as_bytes());
        let code_key = Key::new(Kind::OauthCode, hash.clone());
        let claim_key = key(Kind::OauthCode, "claim", &hash);
        let Some(bytes) = self.store.get(&code_key).await? else {
            if let Some(family) = self.store.get(&claim_key).await? {
                let family = String::from_utf8_lossy(&family).into_owned();
                tracing::warn!(family = %family, "authorization code replayed; revoking the tokens issued from it");
                let audit = format!("code-replay-{}", hash_prefix(code));
                self.revoke_family(&family, Some(("AUTHORIZATION_CODE_REPLAY", &audit)))
                    .await?;
            }
            return Err(TokenError::grant(
                "the code is invalid, expired or already used",
            ));
        };
        let (_, record): (u16, CodeRecord) = decode(&code_key, &bytes, |v| v == RECORD_VERSION)?;
        if record.grant.client_id != client_id {
            return Err(TokenError::grant("the code was issued to another client"));
        }
        if form.get("redirect_uri") != Some(&record.redirect_uri) {
            return Err(TokenError::grant(
                "redirect_uri must be the one used in the authorization request",
            ));
        }
        if let (Some(asked), Some(bound)) = (form.get("resource"), &record.resource)
            && asked != bound
        {
            return Err(TokenError::new(
                "invalid_target",
                "resource differs from the authorization request",
            ));
        }
        let verifier = form
            .get("code_verifier")
            .ok_or_else(|| TokenError::grant("code_verifier is required (PKCE)"))?;
        if !pkce_ok(verifier, &record.code_challenge) {
            return Err(TokenError::grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        // Claim before deleting, so a concurrent or later replay always sees
        // either the code (and loses the claim) or the claim.
        let family = random_token();
        let max_age = self.config.refresh_family_max_age;
        if !self
            .store
            .set_if_absent(&claim_key, family.as_bytes(), max_age)
            .await?
        {
            if let Some(winner) = self.store.get(&claim_key).await? {
                let audit = format!("code-replay-{}", hash_prefix(code));
                self.revoke_family(
                    &String::from_utf8_lossy(&winner),
                    Some(("AUTHORIZATION_CODE_REPLAY", &audit)),
                )
                .await?;
            }
            return Err(TokenError::grant("the code was already used"));
        }
        self.store.delete(&code_key).await?;
        let now = self.clock.now_ms();
        let fam = FamilyRecord {
            grant: Some(record.grant.clone()),
            expires_at_ms: now.saturating_add(max_age.as_millis() as u64),
            revoked: false,
        };
        if !self
            .store
            .set_if_absent(
                &key(Kind::Token, "family", &family),
                &encode(RECORD_VERSION, &fam)?,
                max_age,
            )
            .await?
        {
            return Err(TokenError::grant("the code was already used"));
        }
        self.issue_tokens(&family, &fam, None).await
    }

    /// A fresh access/refresh pair for `family`; `narrowed` (a subset of the
    /// family's scopes) limits the access token.
    async fn issue_tokens(
        &self,
        family: &str,
        fam: &FamilyRecord,
        narrowed: Option<Vec<String>>,
    ) -> Result<serde_json::Value, TokenError> {
        let now = self.clock.now_ms();
        let access = random_token();
        let refresh = random_token();
        let access_ttl = self.config.access_token_ttl;
        let family_left = Duration::from_millis(fam.expires_at_ms.saturating_sub(now));
        let refresh_ttl = self.config.refresh_token_ttl.min(family_left);
        if refresh_ttl.is_zero() {
            return Err(TokenError::grant("the sign-in has expired; sign in again"));
        }
        let scope = match &narrowed {
            Some(scopes) => scopes.join(" "),
            None => fam
                .grant
                .as_ref()
                .map(|g| g.scopes.join(" "))
                .unwrap_or_default(),
        };
        let at = TokenRecord {
            family: family.to_owned(),
            expires_at_ms: now.saturating_add(access_ttl.as_millis() as u64),
            scopes: narrowed,
        };
        let rt = TokenRecord {
            family: family.to_owned(),
            expires_at_ms: now.saturating_add(refresh_ttl.as_millis() as u64),
            scopes: None,
        };
        self.store
            .set(
                &key(Kind::Token, "at", &sha256_b64(access.as_bytes())),
                &encode(RECORD_VERSION, &at)?,
                Some(access_ttl),
            )
            .await?;
        self.store
            .set(
                &key(Kind::Token, "rt", &sha256_b64(refresh.as_bytes())),
                &encode(RECORD_VERSION, &rt)?,
                Some(refresh_ttl),
            )
            .await?;
        Ok(serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": access_ttl.as_secs(),
            "refresh_token": refresh,
            "scope": scope,
        }))
    }

    async fn family(&self, family: &str) -> Result<Option<FamilyRecord>, StoreError> {
        let k = key(Kind::Token, "family", family);
        match self.store.get(&k).await? {
            Some(bytes) => Ok(Some(decode(&k, &bytes, |v| v == RECORD_VERSION)?.1)),
            None => Ok(None),
        }
    }

    async fn token_record(
        &self,
        prefix: &str,
        token: &str,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let k = key(Kind::Token, prefix, &sha256_b64(token.as_bytes()));
        match self.store.get(&k).await? {
            Some(bytes) => Ok(Some(decode(&k, &bytes, |v| v == RECORD_VERSION)?.1)),
            None => Ok(None),
        }
    }

    async fn refresh(
        &self,
        client_id: &str,
        form: &std::collections::BTreeMap<String, String>,
    ) -> Result<serde_json::Value, TokenError> {
        let token = form
            .get("refresh_token")
            .ok_or_else(|| TokenError::new("invalid_request", "refresh_token is required"))?;
        let now = self.clock.now_ms();
        let invalid = || TokenError::grant("the refresh token is invalid, expired or revoked");
        let Some(rt) = self.token_record("rt", token).await? else {
            return Err(invalid());
        };
        let Some(fam) = self.family(&rt.family).await? else {
            return Err(invalid());
        };
        let Some(grant) = fam.grant.as_ref().filter(|_| !fam.revoked) else {
            return Err(invalid());
        };
        if rt.expires_at_ms <= now || fam.expires_at_ms <= now {
            return Err(invalid());
        }
        if grant.client_id != client_id {
            return Err(TokenError::grant(
                "the refresh token was issued to another client",
            ));
        }
        // Never wider than the sign-in: a scope outside the grant is refused;
        // a subset narrows the new access token only (RFC 6749 §6).
        let narrowed = match form.get("scope") {
            None => None,
            Some(scope) => {
                let asked: Vec<&str> = scope
                    .split_whitespace()
                    .filter(|s| !crate::scopes::IGNORED.contains(s))
                    .collect();
                if let Some(extra) = asked.iter().find(|s| !grant.scopes.iter().any(|g| g == *s)) {
                    return Err(TokenError::new(
                        "invalid_scope",
                        format!(
                            "scope {extra:?} was not granted at sign-in; a refresh never widens a grant (sign in again to ask for it)"
                        ),
                    ));
                }
                let asked = crate::scopes::canonical(asked);
                (asked.len() < grant.scopes.len() && !asked.is_empty()).then_some(asked)
            }
        };
        let family_left = Duration::from_millis(fam.expires_at_ms.saturating_sub(now));
        let hash = sha256_b64(token.as_bytes());
        let used = key(Kind::Token, "rt-used", &hash);
        let rotation = encode(RECORD_VERSION, &Rotation { at_ms: now })?;
        if !self
            .store
            .set_if_absent(&used, &rotation, family_left)
            .await?
        {
            if let Some(pair) = self.within_grace(&used, &hash, now).await? {
                tracing::info!(family = %rt.family, client = %grant.client_id, "a refresh token was used twice within the grace window by its client; answering with the pair already issued");
                return Ok(pair);
            }
            tracing::warn!(family = %rt.family, account = %grant.account_id, client = %grant.client_id, "refresh token reused; revoking its family");
            let audit = format!("refresh-reuse-{}", &hash_prefix(token));
            self.revoke_family(&rt.family, Some(("REFRESH_TOKEN_REUSE", &audit)))
                .await?;
            return Err(TokenError::grant(
                "the refresh token was already used; every token of this sign-in is revoked, sign in again",
            ));
        }
        let pair = self.issue_tokens(&rt.family, &fam, narrowed).await?;
        let grace = self.config.refresh_reuse_grace;
        if !grace.is_zero() {
            // Sealed (it holds live tokens), for the grace window only.
            let bytes = serde_json::to_vec(&pair).map_err(|e| StoreError::Corrupt {
                key: "(refresh grace)".into(),
                reason: e.to_string(),
            })?;
            self.secrets
                .put(&key(Kind::Token, "rt-grace", &hash), &bytes, Some(grace))
                .await?;
        }
        Ok(pair)
    }

    /// For a refresh token already rotated: the pair its rotation issued,
    /// when the rotation is younger than the grace window (waiting briefly
    /// for a rotation still being recorded). `None`: treat it as reuse.
    async fn within_grace(
        &self,
        used: &Key,
        hash: &str,
        now: u64,
    ) -> Result<Option<serde_json::Value>, TokenError> {
        let grace = self.config.refresh_reuse_grace;
        if grace.is_zero() {
            return Ok(None);
        }
        let Some(bytes) = self.store.get(used).await? else {
            return Ok(None);
        };
        // A rotation recorded before rotations carried their time: reuse.
        let Ok((_, rotation)) = decode::<Rotation>(used, &bytes, |v| v == RECORD_VERSION) else {
            return Ok(None);
        };
        if now.saturating_sub(rotation.at_ms) > grace.as_millis() as u64 {
            return Ok(None);
        }
        let grace_key = key(Kind::Token, "rt-grace", hash);
        for _ in 0..GRACE_POLLS {
            if let Some(pair) = self.secrets.get(&grace_key).await? {
                return serde_json::from_slice(pair.expose())
                    .map(Some)
                    .map_err(|e| {
                        StoreError::Corrupt {
                            key: grace_key.to_string(),
                            reason: e.to_string(),
                        }
                        .into()
                    });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The first use is still being answered (or failed): ask to retry
        // rather than revoke a family its own client is refreshing.
        Err(TokenError::new(
            "invalid_grant",
            "this refresh token is being refreshed by another request; retry in a moment",
        ))
    }

    /// Revokes every token of `family` (a tombstone kept as long as the
    /// family could have lived); with `audit` (event, key discriminator),
    /// records that event under `gojira:audit:{now_ms:013}-{discriminator}`.
    async fn revoke_family(
        &self,
        family: &str,
        audit: Option<(&str, &str)>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let old = self.family(family).await?;
        let expires_at_ms = old.as_ref().map(|f| f.expires_at_ms).unwrap_or_else(|| {
            now.saturating_add(self.config.refresh_family_max_age.as_millis() as u64)
        });
        let ttl =
            Duration::from_millis(expires_at_ms.saturating_sub(now)).max(Duration::from_secs(1));
        let tombstone = FamilyRecord {
            grant: old.as_ref().and_then(|f| f.grant.clone()),
            expires_at_ms,
            revoked: true,
        };
        self.store
            .set(
                &key(Kind::Token, "family", family),
                &encode(RECORD_VERSION, &tombstone)?,
                Some(ttl),
            )
            .await?;
        if let Some((event, discriminator)) = audit {
            let grant = tombstone.grant.as_ref();
            let record = serde_json::json!({
                "event": event,
                "account_id": grant.map(|g| g.account_id.as_str()),
                "client_id": grant.map(|g| g.client_id.as_str()),
                "family": family,
                "at_ms": now,
            });
            let id = format!("{now:013}-{discriminator}");
            let bytes = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt {
                key: "(audit event)".into(),
                reason: e.to_string(),
            })?;
            self.store
                .set(&Key::new(Kind::Audit, id), &bytes, Some(AUDIT_TTL))
                .await?;
        }
        Ok(())
    }

    /// RFC 7009: an access token is revoked alone, a refresh token with its
    /// family. A token of another client (when `client_id` is given) or an
    /// unknown token is left alone silently.
    async fn revoke_token(&self, token: &str, client_id: Option<&str>) -> Result<(), StoreError> {
        for prefix in ["at", "rt"] {
            let Some(rec) = self.token_record(prefix, token).await? else {
                continue;
            };
            let fam = self.family(&rec.family).await?;
            let owner = fam
                .as_ref()
                .and_then(|f| f.grant.as_ref())
                .map(|g| g.client_id.as_str());
            if client_id.is_some() && owner.is_some() && client_id != owner {
                return Ok(());
            }
            if prefix == "at" {
                self.store
                    .delete(&key(Kind::Token, "at", &sha256_b64(token.as_bytes())))
                    .await?;
            } else {
                self.revoke_family(&rec.family, None).await?;
            }
            return Ok(());
        }
        Ok(())
    }

    pub(crate) async fn verify_impl(&self, headers: &HeaderMap) -> Result<Principal, Challenge> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Err(self.challenge(None, None));
        };
        if values.next().is_some() {
            return Err(self.challenge(
                Some("invalid_request"),
                Some("more than one Authorization header"),
            ));
        }
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty() && t.len() <= 512);
        let Some(token) = token else {
            return Err(self.challenge(None, None));
        };
        let unavailable = |e: StoreError| {
            tracing::warn!(error = %e, "token verification: store error");
            Challenge {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..self.challenge(None, None)
            }
        };
        let invalid = || {
            self.challenge(
                Some("invalid_token"),
                Some("the token is invalid, expired or revoked"),
            )
        };
        let now = self.clock.now_ms();
        let rec = self
            .token_record("at", token)
            .await
            .map_err(unavailable)?
            .ok_or_else(invalid)?;
        if rec.expires_at_ms <= now {
            return Err(invalid());
        }
        let fam = self
            .family(&rec.family)
            .await
            .map_err(unavailable)?
            .ok_or_else(invalid)?;
        let grant = match fam.grant {
            Some(grant) if !fam.revoked && fam.expires_at_ms > now => grant,
            _ => return Err(invalid()),
        };
        if grant.audience != self.config.resource.as_str() {
            return Err(self.challenge(
                Some("invalid_token"),
                Some("the token is for another resource"),
            ));
        }
        // An access token narrowed at refresh carries its subset; whatever a
        // record says, never more than the sign-in granted.
        let scopes = match rec.scopes {
            Some(narrowed) => narrowed
                .into_iter()
                .filter(|s| grant.scopes.contains(s))
                .collect(),
            None => grant.scopes,
        };
        Ok(Principal {
            account_id: grant.account_id,
            client_id: grant.client_id,
            scopes,
            cloud_ids: grant.cloud_ids,
            email: grant.email,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_ok(verifier, challenge));
        assert!(!pkce_ok(challenge, challenge));
        assert!(!pkce_ok("short", &sha256_b64(b"short")));
    }
}
