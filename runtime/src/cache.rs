//! The read cache: successful answers of tools that opt in (`cache:` in
//! tools.yaml), keyed by principal, product and the exact upstream request,
//! never shared across principals. A write through gojira by a principal to
//! a product bumps that pair's generation, so every cached read of it
//! becomes unreachable at once (coarse, but never stale after our own write).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use gojira_store::{Key, Kind, Store, records};
use serde_json::Value;
use tracing::debug;

use crate::catalog::UpstreamRequest;

/// Version of the cached-record envelope.
const RECORD_VERSION: u16 = 1;
/// How long a generation counter lives (longer than any cache TTL).
const GENERATION_TTL: Duration = Duration::from_secs(2 * 3600);

/// Cache over the shared store. Failures never fail a tool call: a cache
/// that does not answer is a miss.
#[derive(Debug, Clone)]
pub struct ReadCache {
    store: Store,
}

/// Who the cached answers belong to. Until per-user auth lands, that is the
/// configured credential's identity (never the secret itself).
pub fn principal(config: &crate::config::UpstreamConfig) -> String {
    match &config.credential {
        crate::config::Credential::ApiToken { email, .. } => format!("api-token:{email}"),
        crate::config::Credential::Bearer { .. } => {
            format!(
                "bearer:{}",
                config.vars.get("cloudId").map_or("", String::as_str)
            )
        }
        crate::config::Credential::None => "anonymous".to_owned(),
    }
}

/// A stable, non-reversible short id (principals may be emails).
fn digest(parts: &[&str]) -> String {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

impl ReadCache {
    /// A cache over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn generation_key(principal: &str, product: &str) -> Key {
        Key::new(
            Kind::Counter,
            format!("cachegen:{}", digest(&[principal, product])),
        )
    }

    /// The current generation (reading through `incr(0)` keeps the counter's
    /// encoding the backend's own business).
    async fn generation(&self, principal: &str, product: &str) -> Option<i64> {
        self.store
            .incr(
                &Self::generation_key(principal, product),
                0,
                Some(GENERATION_TTL),
            )
            .await
            .ok()
    }

    async fn entry_key(
        &self,
        principal: &str,
        product: &str,
        request: &UpstreamRequest,
    ) -> Option<Key> {
        let generation = self.generation(principal, product).await?;
        let query: Vec<String> = request
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let body = request
            .body
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        let id = digest(&[
            principal,
            product,
            &generation.to_string(),
            request.method.as_str(),
            &request.path,
            &query.join("&"),
            &body,
        ]);
        Some(Key::new(Kind::Cache, id))
    }

    /// A cached answer, if fresh.
    pub async fn get(
        &self,
        principal: &str,
        product: &str,
        request: &UpstreamRequest,
    ) -> Option<Value> {
        let key = self.entry_key(principal, product, request).await?;
        let bytes = self.store.get(&key).await.ok()??;
        match records::decode::<Value>(&key, &bytes, |v| v == RECORD_VERSION) {
            Ok((_, value)) => Some(value),
            Err(err) => {
                debug!(%err, "unreadable cache entry ignored");
                None
            }
        }
    }

    /// Stores an answer for `ttl`.
    pub async fn put(
        &self,
        principal: &str,
        product: &str,
        request: &UpstreamRequest,
        value: &Value,
        ttl: Duration,
    ) {
        let Some(key) = self.entry_key(principal, product, request).await else {
            return;
        };
        if let Ok(bytes) = records::encode(RECORD_VERSION, value) {
            let _ = self.store.set(&key, &bytes, Some(ttl)).await;
        }
    }

    /// Forgets every cached read of `principal` on `product` (after a write).
    pub async fn invalidate(&self, principal: &str, product: &str) {
        let key = Self::generation_key(principal, product);
        if let Err(err) = self.store.incr(&key, 1, Some(GENERATION_TTL)).await {
            debug!(%err, "cache generation bump failed");
        }
    }
}
