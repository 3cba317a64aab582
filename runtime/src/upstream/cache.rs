//! The read cache: successful answers of tools that opt in (`cache:` in
//! tools.yaml), keyed by principal, product and the exact upstream request,
//! never shared across principals. A write through gojira by a principal to
//! a product bumps that pair's generation, so every cached read of it
//! becomes unreachable at once (coarse, but never stale after our own write).

use std::time::Duration;

use gojira_store::{Key, Kind, Store, records};
use serde_json::{Value, json};
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

/// A non-reversible id (principals may be emails) that every instance and
/// every build computes alike, since the keys live in a shared store: SHA-256
/// of the canonical JSON (keys sorted) of `parts`, a JSON array, so no two
/// different requests encode alike.
fn digest(parts: &Value) -> String {
    crate::digest::digest(parts)
}

/// The id of one cached answer: the principal, product, generation and the
/// exact upstream request (query pairs in order, body canonical).
fn entry_id(principal: &str, product: &str, generation: i64, request: &UpstreamRequest) -> String {
    digest(&json!([
        "cache/v2",
        principal,
        product,
        generation,
        request.method.as_str(),
        request.path,
        request.query,
        request.body,
    ]))
}

impl ReadCache {
    /// A cache over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn generation_key(principal: &str, product: &str) -> Key {
        Key::new(
            Kind::Counter,
            format!(
                "cachegen:{}",
                digest(&json!(["cachegen/v2", principal, product]))
            ),
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
        Some(Key::new(
            Kind::Cache,
            entry_id(principal, product, generation, request),
        ))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn request() -> UpstreamRequest {
        let mut request = UpstreamRequest::new(crate::catalog::Method::Post);
        request.path = "/v1/things/search".to_owned();
        request.query = vec![
            ("expand".to_owned(), "names".to_owned()),
            ("a&b".to_owned(), "c=d".to_owned()),
        ];
        request.body = Some(json!({"maxResults": 50, "filter": "owner = me"}));
        request
    }

    #[test]
    fn a_cache_key_is_a_fixed_sha256_of_a_canonical_encoding() {
        let id = entry_id("api-token:e2e@example.com", "product", 7, &request());
        // The body's keys sorted, every part a JSON string or number: no
        // separator in a value can make two requests encode alike.
        let canonical = r#"["cache/v2","api-token:e2e@example.com","product",7,"POST","/v1/things/search",[["expand","names"],["a&b","c=d"]],{"filter":"owner = me","maxResults":50}]"#;
        assert_eq!(id, hex::encode(&Sha256::digest(canonical.as_bytes())[..16]));
        // Fixed across processes, Rust releases and instances sharing Redis.
        assert_eq!(id, "db76eaed802af12b5e64f0bccdfbdd3f");
        let mut other = request();
        other.query = vec![
            ("expand".to_owned(), "names&a".to_owned()),
            ("b".to_owned(), "c=d".to_owned()),
        ];
        assert_ne!(
            entry_id("api-token:e2e@example.com", "product", 7, &other),
            id,
            "query separators inside values do not collide"
        );
        assert_ne!(
            entry_id("api-token:other@example.com", "product", 7, &request()),
            id
        );
        assert_ne!(
            entry_id("api-token:e2e@example.com", "product", 8, &request()),
            id
        );
    }
}
