//! The Atlassian 3LO leg: code exchange, sites, identity, the user's sealed
//! credential, and the refresh that runs once across all instances.

use std::time::Duration;

use gojira_store::crypto::{SecretBytes, SecretString};
use gojira_store::{Key, Kind, StoreError};
use serde::{Deserialize, Serialize};

use crate::AuthServer;
use crate::util::random_token;

/// A token is refreshed when it expires within this.
const REFRESH_MARGIN_MS: u64 = 60_000;
/// How long a refresh lock is held at most.
const LOCK_TTL: Duration = Duration::from_secs(10);
/// How long a caller waits for another's refresh before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(12);
const POLL: Duration = Duration::from_millis(50);

/// Why no Atlassian token could be had for a user.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamAuthError {
    /// No Atlassian credential is stored for this user.
    #[error(
        "gojira has no Atlassian authorization for this user; reconnect: sign in again through your MCP client"
    )]
    NotConnected,
    /// Atlassian refused the refresh token (revoked, expired, reused): the
    /// user must consent again.
    #[error(
        "the Atlassian authorization has expired or was revoked; reconnect: sign in again through your MCP client to grant access"
    )]
    ReconsentNeeded,
    /// Atlassian or the store could not be reached, or another instance's
    /// refresh did not finish in time; retrying may work.
    #[error("could not get an Atlassian token: {0}")]
    Unavailable(String),
}

impl From<StoreError> for UpstreamAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            // The sealed credential was unreadable and purged.
            StoreError::Undecryptable { .. } => UpstreamAuthError::NotConnected,
            other => UpstreamAuthError::Unavailable(other.to_string()),
        }
    }
}

/// A user's Atlassian tokens, sealed in the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Credential {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at_ms: u64,
    pub cloud_ids: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub reconsent_needed: bool,
}

/// Atlassian's token endpoint answer.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

/// One site from accessible-resources.
#[derive(Debug, Deserialize)]
pub(crate) struct Site {
    pub id: String,
}

/// `/me`.
#[derive(Debug, Deserialize)]
pub(crate) struct Me {
    pub account_id: String,
    pub email: Option<String>,
}

/// A failed Atlassian call.
#[derive(Debug)]
pub(crate) enum CallError {
    /// 4xx `invalid_grant` (or 403 on a refresh): the grant is dead.
    InvalidGrant,
    /// Anything else, described without secrets.
    Other(String),
}

fn credential_key(account_id: &str) -> Key {
    Key::new(Kind::Credential, format!("atlassian-oauth:{account_id}"))
}

impl AuthServer {
    /// `{issuer}/oauth/callback`: where Atlassian sends the user back.
    pub(crate) fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.config.issuer())
    }

    async fn token_grant(&self, body: serde_json::Value) -> Result<TokenResponse, CallError> {
        let url = format!("{}/oauth/token", self.config.atlassian_auth_base);
        // The timeout is shorter than the refresh lock, so a slow answer cannot outlive it.
        let request = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(8))
            .json(&body);
        let response = request.send().await.map_err(|e| {
            CallError::Other(format!(
                "Atlassian's token endpoint did not answer ({})",
                e.without_url()
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return response.json::<TokenResponse>().await.map_err(|_| {
                CallError::Other("Atlassian's token answer was not understood".into())
            });
        }
        #[derive(Deserialize)]
        struct OauthError {
            error: Option<String>,
        }
        let error = response
            .json::<OauthError>()
            .await
            .ok()
            .and_then(|e| e.error);
        if error.as_deref() == Some("invalid_grant") || status == reqwest::StatusCode::FORBIDDEN {
            return Err(CallError::InvalidGrant);
        }
        Err(CallError::Other(format!(
            "Atlassian's token endpoint answered HTTP {}{}",
            status.as_u16(),
            error.map(|e| format!(" ({e})")).unwrap_or_default()
        )))
    }

    /// Exchanges Atlassian's authorization code.
    pub(crate) async fn exchange_code(&self, code: &str) -> Result<TokenResponse, CallError> {
        self.token_grant(serde_json::json!({
            "grant_type": "authorization_code",
            "client_id": self.config.atlassian_client_id,
            "client_secret": self.config.atlassian_client_secret.expose(),
            "code": code,
            "redirect_uri": self.callback_url(),
        }))
        .await
    }

    async fn api_get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        access_token: &str,
    ) -> Result<T, CallError> {
        let url = format!("{}{path}", self.config.atlassian_api_base);
        let response = self
            .http
            .get(&url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                CallError::Other(format!(
                    "Atlassian {path} did not answer ({})",
                    e.without_url()
                ))
            })?;
        if !response.status().is_success() {
            return Err(CallError::Other(format!(
                "Atlassian {path} answered HTTP {}",
                response.status().as_u16()
            )));
        }
        response
            .json::<T>()
            .await
            .map_err(|_| CallError::Other(format!("Atlassian {path} answer was not understood")))
    }

    /// The sites the token can reach.
    pub(crate) async fn accessible_resources(
        &self,
        access_token: &str,
    ) -> Result<Vec<Site>, CallError> {
        self.api_get("/oauth/token/accessible-resources", access_token)
            .await
    }

    /// Who the token belongs to.
    pub(crate) async fn me(&self, access_token: &str) -> Result<Me, CallError> {
        self.api_get("/me", access_token).await
    }

    /// Seals and stores a user's credential (replacing any).
    pub(crate) async fn save_credential(
        &self,
        account_id: &str,
        credential: &Credential,
    ) -> Result<(), StoreError> {
        // Wiped when it drops.
        let bytes = serde_json::to_vec(credential)
            .map(SecretBytes::new)
            .map_err(|e| StoreError::Corrupt {
                key: credential_key(account_id).to_string(),
                reason: e.to_string(),
            })?;
        self.secrets
            .put(&credential_key(account_id), bytes.expose(), None)
            .await
    }

    async fn load_credential(&self, account_id: &str) -> Result<Option<Credential>, StoreError> {
        let key = credential_key(account_id);
        match self.secrets.get(&key).await? {
            None => Ok(None),
            Some(secret) => serde_json::from_slice(secret.expose())
                .map(Some)
                .map_err(|_| StoreError::Corrupt {
                    key: key.to_string(),
                    reason: "the stored Atlassian credential has an unexpected shape".into(),
                }),
        }
    }

    fn fresh(&self, credential: &Credential) -> bool {
        credential.expires_at_ms > self.clock.now_ms().saturating_add(REFRESH_MARGIN_MS)
    }

    pub(crate) async fn atlassian_access_token_impl(
        &self,
        account_id: &str,
    ) -> Result<SecretString, UpstreamAuthError> {
        let lock = Key::new(Kind::Lock, format!("atlassian-refresh:{account_id}"));
        let started = tokio::time::Instant::now();
        loop {
            let credential = self
                .load_credential(account_id)
                .await?
                .ok_or(UpstreamAuthError::NotConnected)?;
            if credential.reconsent_needed {
                return Err(UpstreamAuthError::ReconsentNeeded);
            }
            if self.fresh(&credential) {
                return Ok(SecretString::new(credential.access_token));
            }
            let owner = random_token();
            if self
                .store
                .set_if_absent(&lock, owner.as_bytes(), LOCK_TTL)
                .await?
            {
                let result = self.refresh_locked(account_id).await;
                if let Err(e) = self.store.compare_and_delete(&lock, owner.as_bytes()).await {
                    tracing::warn!(error = %e, "could not release the refresh lock (it expires by itself)");
                }
                return result;
            }
            if started.elapsed() >= WAIT_LIMIT {
                return Err(UpstreamAuthError::Unavailable(
                    "another request is refreshing this user's Atlassian token and has not finished; try again".into(),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs under the lock: re-reads (someone may have refreshed), refreshes,
    /// persists, then returns.
    async fn refresh_locked(&self, account_id: &str) -> Result<SecretString, UpstreamAuthError> {
        let mut credential = self
            .load_credential(account_id)
            .await?
            .ok_or(UpstreamAuthError::NotConnected)?;
        if credential.reconsent_needed {
            return Err(UpstreamAuthError::ReconsentNeeded);
        }
        if self.fresh(&credential) {
            return Ok(SecretString::new(credential.access_token));
        }
        let Some(refresh_token) = credential.refresh_token.clone() else {
            credential.reconsent_needed = true;
            self.save_credential(account_id, &credential).await?;
            return Err(UpstreamAuthError::ReconsentNeeded);
        };
        let answer = self
            .token_grant(serde_json::json!({
                "grant_type": "refresh_token",
                "client_id": self.config.atlassian_client_id,
                "client_secret": self.config.atlassian_client_secret.expose(),
                "refresh_token": refresh_token,
            }))
            .await;
        match answer {
            Ok(tokens) => {
                credential.access_token = tokens.access_token;
                if let Some(rt) = tokens.refresh_token {
                    credential.refresh_token = Some(rt);
                }
                credential.expires_at_ms = self
                    .clock
                    .now_ms()
                    .saturating_add(tokens.expires_in.unwrap_or(3600).saturating_mul(1000));
                if let Some(scope) = tokens.scope {
                    credential.scopes = scope.split_whitespace().map(str::to_owned).collect();
                }
                // Persist before use: the old refresh token is now rotated.
                self.save_credential(account_id, &credential).await?;
                tracing::info!(account = %account_id, "refreshed the Atlassian token");
                Ok(SecretString::new(credential.access_token.clone()))
            }
            Err(CallError::InvalidGrant) => {
                tracing::warn!(account = %account_id, "Atlassian refused the refresh token; the user must sign in again");
                credential.reconsent_needed = true;
                self.save_credential(account_id, &credential).await?;
                Err(UpstreamAuthError::ReconsentNeeded)
            }
            Err(CallError::Other(reason)) => Err(UpstreamAuthError::Unavailable(reason)),
        }
    }
}
