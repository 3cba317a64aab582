//! Inbound limits: token buckets per principal and per client id on MCP
//! requests, so one runaway agent cannot spend everyone's Atlassian quota.
//! Health and metadata endpoints are not limited (only `/mcp` is wrapped).
//!
//! With Redis the buckets live in the store and every instance shares them;
//! otherwise (embedded store, or Redis not answering: fail open) they live
//! in this process.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gojira_store::{BucketSpec, Key, Kind, Store};
use tracing::warn;

use crate::upstream::pacing::{LocalBucket, lock};

pub use crate::config::InboundLimits;

/// Who is asking, as far as the limits care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Principal id.
    pub principal: String,
    /// Client id.
    pub client: String,
}

/// A refusal: which limit, and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// `principal` or `client`.
    pub limit: &'static str,
    /// When one more request would be granted.
    pub retry_after: Duration,
}

/// The limiter, shared by every request.
#[derive(Debug)]
pub struct InboundLimiter {
    limits: InboundLimits,
    store: Option<Store>,
    /// Least recently used first out when full.
    local: Mutex<lru::LruCache<String, LocalBucket>>,
}

/// Local buckets kept before the least recently used is forgotten
/// (forgetting a bucket only ever grants more: it restarts full, so the
/// buckets of callers still sending are the last to go).
const MAX_LOCAL_BUCKETS: NonZeroUsize = match NonZeroUsize::new(10_000) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

impl InboundLimiter {
    /// Buckets in `store` when it is Redis (shared), else in this process.
    pub fn new(limits: InboundLimits, store: &Store) -> Self {
        Self {
            limits,
            store: matches!(store, Store::Redis(_)).then(|| store.clone()),
            local: Mutex::new(lru::LruCache::new(MAX_LOCAL_BUCKETS)),
        }
    }

    /// Takes one token from the caller's principal bucket, then its client
    /// bucket (a request the client limit refuses still counts against its
    /// principal: it was sent).
    ///
    /// # Errors
    /// [`Limited`] naming the exhausted limit.
    pub async fn check(&self, caller: &Caller) -> Result<(), Limited> {
        for (limit, spec, id) in [
            ("principal", self.limits.principal, &caller.principal),
            ("client", self.limits.client, &caller.client),
        ] {
            let Some(spec) = spec else { continue };
            let key = format!("inbound:{limit}:{id}");
            let outcome = match &self.store {
                Some(store) => match store
                    .take_tokens(&Key::new(Kind::Bucket, key.clone()), spec, 1.0)
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        warn!(error = %e, "inbound limits: the store did not answer; limiting in this process");
                        self.take_local(key, spec)
                    }
                },
                None => self.take_local(key, spec),
            };
            if !outcome.granted {
                return Err(Limited {
                    limit,
                    retry_after: outcome.retry_after,
                });
            }
        }
        Ok(())
    }

    fn take_local(&self, key: String, spec: BucketSpec) -> gojira_store::BucketOutcome {
        lock(&self.local)
            .get_or_insert_mut(key, LocalBucket::default)
            .take(spec, 1.0, Instant::now())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limiter(principal: f64, client: f64) -> InboundLimiter {
        limiter_keeping(principal, client, MAX_LOCAL_BUCKETS)
    }

    fn limiter_keeping(principal: f64, client: f64, buckets: NonZeroUsize) -> InboundLimiter {
        InboundLimiter {
            limits: InboundLimits {
                principal: Some(BucketSpec {
                    capacity: principal,
                    refill_per_sec: 0.001,
                }),
                client: Some(BucketSpec {
                    capacity: client,
                    refill_per_sec: 0.001,
                }),
            },
            store: None,
            local: Mutex::new(lru::LruCache::new(buckets)),
        }
    }

    fn caller(p: &str, c: &str) -> Caller {
        Caller {
            principal: p.into(),
            client: c.into(),
        }
    }

    #[tokio::test]
    async fn each_principal_and_each_client_has_its_own_bucket() {
        let l = limiter(2.0, 3.0);
        assert!(l.check(&caller("alice", "cli")).await.is_ok());
        assert!(l.check(&caller("alice", "cli")).await.is_ok());
        let refused = l.check(&caller("alice", "cli")).await.unwrap_err();
        assert_eq!(refused.limit, "principal");
        assert!(refused.retry_after > Duration::from_secs(1));
        // Bob has his own principal bucket but shares the client's.
        assert!(l.check(&caller("bob", "cli")).await.is_ok());
        assert_eq!(
            l.check(&caller("bob", "cli")).await.unwrap_err().limit,
            "client"
        );
        // A request refused by the client limit still counted against Bob.
        assert_eq!(
            l.check(&caller("bob", "other")).await.unwrap_err().limit,
            "principal"
        );
        assert!(l.check(&caller("carol", "other")).await.is_ok());
    }

    #[tokio::test]
    async fn a_full_table_forgets_the_least_recently_used_bucket_not_all() {
        // Room for four buckets: alice's and bob's principal and client ones.
        let l = limiter_keeping(1.0, 100.0, NonZeroUsize::new(4).unwrap());
        assert!(l.check(&caller("alice", "a")).await.is_ok());
        assert!(l.check(&caller("bob", "b")).await.is_ok());
        // Alice keeps sending (refused): her buckets are the most recently used.
        assert!(l.check(&caller("alice", "a")).await.is_err());
        // A newcomer needs two buckets: the least recently used two go
        // (alice's client bucket, bob's principal bucket).
        assert!(l.check(&caller("carol", "c")).await.is_ok());
        assert_eq!(
            l.check(&caller("alice", "a")).await.unwrap_err().limit,
            "principal",
            "alice's bucket was kept, still empty (clearing everything would refill it)"
        );
        assert!(
            l.check(&caller("bob", "b")).await.is_ok(),
            "bob's bucket was forgotten and restarts full"
        );
    }
}
