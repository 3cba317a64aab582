//! Versioned record serialization, and sealed secrets over a [`Store`].
//!
//! # Versioned records
//!
//! [`encode`] writes `{"v": <version>, "d": <value>}` (JSON); [`decode`] reads
//! it back, refusing foreign or garbled bytes and versions the caller does not
//! support with [`StoreError::Corrupt`]. Error reasons name the problem and
//! its position but never quote stored values.
//!
//! # Sealed secrets
//!
//! [`Secrets`] seals values with a [`Keyring`] before writing them
//! (see [`crate::crypto`] for the envelope) and opens them on read:
//!
//! - a value sealed with a retired key is re-sealed with the current key and
//!   written back, keeping its remaining time to live;
//! - a value that fails to open (tampered, copied from another record, sealed
//!   with an unknown key, not an envelope) is deleted, an audit event
//!   `CREDENTIAL_PURGED` is recorded under `gojira:audit:{now_ms}-{random}`
//!   (kept 90 days), a warning is logged, and the read fails with
//!   [`StoreError::Undecryptable`] (the user re-authenticates).
//!
//! Inside the envelope, a secret is framed as
//! `0x01 | expires_at_ms (u64, big-endian; 0 = no expiry) | secret`, so that
//! a rotation write-back can keep the record's time to live (the store has no
//! "read TTL" primitive).

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore as _;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::crypto::{Keyring, SecretBytes};
use crate::{Clock, Key, Kind, Store, StoreError};

/// How long `CREDENTIAL_PURGED` audit events are kept.
pub const AUDIT_TTL: Duration = Duration::from_secs(90 * 24 * 60 * 60);

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    v: u16,
    d: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeHead {
    v: u16,
    #[allow(dead_code)]
    d: IgnoredAny,
}

#[derive(Deserialize)]
struct EnvelopeIn<T> {
    #[allow(dead_code)]
    v: u16,
    d: T,
}

/// A serde_json error, described without quoting the input: its messages for
/// wrong types or values include the offending value, which may be sensitive.
fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "read error".to_string(),
        Category::Syntax => "not JSON".to_string(),
        Category::Eof => "truncated JSON".to_string(),
        Category::Data => {
            let msg = e.to_string();
            // These quote only field names, which are schema, not data.
            if msg.starts_with("missing field") || msg.starts_with("duplicate field") {
                msg.split(" at line ")
                    .next()
                    .unwrap_or("unexpected shape")
                    .to_string()
            } else {
                "unexpected shape".to_string()
            }
        }
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Serializes `value` as a versioned record: `{"v": version, "d": value}`.
///
/// Fails (as [`StoreError::Corrupt`] with key `(unwritten record)`) only when
/// `value` cannot be represented as JSON (e.g. a map with non-string keys).
pub fn encode<T: Serialize>(version: u16, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&EnvelopeOut {
        v: version,
        d: value,
    })
    .map_err(|e| StoreError::Corrupt {
        key: "(unwritten record)".into(),
        reason: format!("cannot serialize version {version}: {}", describe(&e)),
    })
}

/// Reads a versioned record written by [`encode`] at `key`, returning its
/// version and value. Foreign or garbled bytes, a version for which
/// `supported` is false, and a payload of the wrong shape are
/// [`StoreError::Corrupt`].
pub fn decode<T: DeserializeOwned>(
    key: &Key,
    bytes: &[u8],
    supported: impl Fn(u16) -> bool,
) -> Result<(u16, T), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_string(),
        reason,
    };
    let head: EnvelopeHead = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(format!("not a versioned record ({})", describe(&e))))?;
    if !supported(head.v) {
        return Err(corrupt(format!("unsupported record version {}", head.v)));
    }
    let full: EnvelopeIn<T> = serde_json::from_slice(bytes).map_err(|e| {
        corrupt(format!(
            "version {} payload does not match ({})",
            head.v,
            describe(&e)
        ))
    })?;
    Ok((head.v, full.d))
}

const FRAME_VERSION: u8 = 0x01;
const FRAME_HEADER_LEN: usize = 1 + 8;

/// Secrets sealed with a [`Keyring`] over a [`Store`].
#[derive(Debug, Clone)]
pub struct Secrets {
    store: Store,
    keyring: Arc<Keyring>,
    clock: Clock,
}

impl Secrets {
    /// Secrets in `store`, sealed with `keyring`, on the system clock.
    pub fn new(store: Store, keyring: Arc<Keyring>) -> Self {
        Self {
            store,
            keyring,
            clock: Clock::System,
        }
    }

    /// The same, with `clock` for expiry bookkeeping and audit keys (use the
    /// store's clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The keyring.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    fn seal(&self, key: &Key, plaintext: &[u8], expires_at_ms: u64) -> Result<Vec<u8>, StoreError> {
        let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + plaintext.len());
        frame.push(FRAME_VERSION);
        frame.extend_from_slice(&expires_at_ms.to_be_bytes());
        frame.extend_from_slice(plaintext);
        let inner = SecretBytes::new(frame);
        self.keyring
            .seal(key, inner.expose())
            .map_err(|e| StoreError::Corrupt {
                key: key.to_string(),
                reason: e.to_string(),
            })
    }

    /// Seals `plaintext` for `key` and writes it, replacing any value.
    pub async fn put(
        &self,
        key: &Key,
        plaintext: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let expires_at_ms = match ttl {
            Some(ttl) => self
                .clock
                .now_ms()
                .saturating_add(ttl.as_millis() as u64)
                .max(1),
            None => 0,
        };
        let sealed = self.seal(key, plaintext, expires_at_ms)?;
        self.store.set(key, &sealed, ttl).await
    }

    /// Reads and opens the secret at `key`.
    ///
    /// Sealed with a retired key: re-sealed with the current key and written
    /// back (a failed write-back is logged; the old value stays readable).
    /// Unopenable: deleted (unless it changed meanwhile), audited, logged,
    /// and [`StoreError::Undecryptable`].
    pub async fn get(&self, key: &Key) -> Result<Option<SecretBytes>, StoreError> {
        self.get_audited(key).await.0
    }

    /// [`Secrets::get`], also returning the audit event's key when it purged.
    async fn get_audited(
        &self,
        key: &Key,
    ) -> (Result<Option<SecretBytes>, StoreError>, Option<Key>) {
        let sealed = match self.store.get(key).await {
            Ok(Some(sealed)) => sealed,
            Ok(None) => return (Ok(None), None),
            Err(e) => return (Err(e), None),
        };
        let opened = match self.keyring.open(key, &sealed) {
            Ok(opened) => opened,
            Err(e) => return self.purge(key, &sealed, &e.to_string()).await,
        };
        let frame = opened.plaintext.expose();
        if frame.len() < FRAME_HEADER_LEN || frame[0] != FRAME_VERSION {
            return self.purge(key, &sealed, "unknown inner format").await;
        }
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&frame[1..FRAME_HEADER_LEN]);
        let expires_at_ms = u64::from_be_bytes(exp);
        let secret = SecretBytes::new(frame[FRAME_HEADER_LEN..].to_vec());
        if opened.rotated {
            self.write_back(key, secret.expose(), expires_at_ms).await;
        }
        (Ok(Some(secret)), None)
    }

    async fn write_back(&self, key: &Key, secret: &[u8], expires_at_ms: u64) {
        let ttl = if expires_at_ms == 0 {
            None
        } else {
            let now = self.clock.now_ms();
            if expires_at_ms <= now {
                return; // About to expire: nothing worth re-sealing.
            }
            Some(Duration::from_millis(expires_at_ms - now))
        };
        let result = match self.seal(key, secret, expires_at_ms) {
            Ok(resealed) => self.store.set(key, &resealed, ttl).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => tracing::info!(
                key = %key,
                key_id = format_args!("{:08x}", self.keyring.current_key_id()),
                "re-sealed a credential with the current encryption key"
            ),
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "could not write back a re-sealed credential")
            }
        }
    }

    /// Deletes an unopenable value (only if it is still the one we read),
    /// records the audit event, and returns the error to report (and the
    /// audit event's key, when written).
    async fn purge(
        &self,
        key: &Key,
        sealed: &[u8],
        reason: &str,
    ) -> (Result<Option<SecretBytes>, StoreError>, Option<Key>) {
        let undecryptable = StoreError::Undecryptable {
            key: key.to_string(),
        };
        match self.store.compare_and_delete(key, sealed).await {
            Ok(true) => {}
            // Replaced or removed meanwhile: nothing of ours to purge.
            Ok(false) => return (Err(undecryptable), None),
            Err(e) => return (Err(e), None),
        }
        let audit_key = Key::new(
            Kind::Audit,
            format!(
                "{:013}-{:016x}",
                self.clock.now_ms(),
                rand::rng().next_u64()
            ),
        );
        tracing::warn!(
            key = %key,
            reason,
            audit = %audit_key,
            "purged a stored credential that could not be decrypted"
        );
        let event = serde_json::json!({
            "event": "CREDENTIAL_PURGED",
            "key": key.to_string(),
            "reason": reason,
        });
        let written = match serde_json::to_vec(&event) {
            Ok(bytes) => self.store.set(&audit_key, &bytes, Some(AUDIT_TTL)).await,
            Err(e) => Err(StoreError::Corrupt {
                key: audit_key.to_string(),
                reason: describe(&e),
            }),
        };
        match written {
            Ok(()) => (Err(undecryptable), Some(audit_key)),
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "could not record the CREDENTIAL_PURGED audit event");
                (Err(undecryptable), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Rec {
        name: String,
        n: u64,
    }

    fn key() -> Key {
        Key::new(Kind::Test, "rec")
    }

    fn rec() -> Rec {
        Rec {
            name: "alice".into(),
            n: 7,
        }
    }

    fn reason(e: StoreError) -> String {
        match e {
            StoreError::Corrupt { key: k, reason } => {
                assert_eq!(k, key().to_string());
                reason
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(3, &rec()).unwrap();
        assert_eq!(bytes, br#"{"v":3,"d":{"name":"alice","n":7}}"#);
        let (v, back): (u16, Rec) = decode(&key(), &bytes, |v| (1..=3).contains(&v)).unwrap();
        assert_eq!((v, back), (3, rec()));
        // Unknown extra top-level fields are tolerated (forward compatible).
        let (v, back): (u16, Rec) = decode(
            &key(),
            br#"{"d":{"name":"alice","n":7},"v":1,"x":0}"#,
            |_| true,
        )
        .unwrap();
        assert_eq!((v, back), (1, rec()));
    }

    #[test]
    fn unsupported_version_is_corrupt() {
        let bytes = encode(4, &rec()).unwrap();
        let err = decode::<Rec>(&key(), &bytes, |v| v <= 3).unwrap_err();
        assert_eq!(reason(err), "unsupported record version 4");
    }

    #[test]
    fn garbage_is_corrupt_and_not_quoted() {
        let cases: &[&[u8]] = &[
            b"",
            b"\x00\x01\x02garbage",
            b"\x01\xde\xad\xbe\xef sealed-looking",
            b"{\"v\":1",
            b"[1,2]",
            b"{\"d\":{}}",
            b"{\"v\":\"secret-ish\",\"d\":{}}",
            b"{\"v\":-1,\"d\":{}}",
            b"{\"v\":70000,\"d\":{}}",
            b"{\"v\":1}",
            b"{\"v\":1,\"d\":{\"name\":\"secret-ish\",\"n\":\"secret-ish\"}}",
            b"{\"v\":1,\"d\":{\"name\":\"alice\"}}",
        ];
        for bytes in cases {
            let r = reason(decode::<Rec>(&key(), bytes, |_| true).unwrap_err());
            assert!(!r.contains("secret-ish"), "{r}");
        }
        let r = reason(
            decode::<Rec>(&key(), b"{\"v\":1,\"d\":{\"name\":\"alice\"}}", |_| true).unwrap_err(),
        );
        assert!(r.contains("missing field `n`"), "{r}");
        let r = reason(decode::<Rec>(&key(), b"\x00garbage", |_| true).unwrap_err());
        assert!(r.starts_with("not a versioned record (not JSON"), "{r}");
    }

    #[test]
    fn unencodable_value_is_an_error_not_a_panic() {
        let mut m = BTreeMap::new();
        m.insert(vec![1u8], 1);
        assert!(matches!(encode(1, &m), Err(StoreError::Corrupt { .. })));
    }
}

#[cfg(test)]
mod secrets_tests {
    use super::*;
    use crate::crypto::{ENVELOPE_VERSION, KEY_LEN};
    use crate::embedded::EmbeddedStore;
    use std::sync::atomic::{AtomicU32, Ordering};

    static COUNTER: AtomicU32 = AtomicU32::new(0);

    /// An embedded store in a fresh temp dir (removed on drop).
    struct Fixture {
        store: Store,
        clock: Clock,
        dir: std::path::PathBuf,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn fixture() -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "gojira-secrets-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let clock = Clock::manual(1_700_000_000_000);
        let store = Store::Embedded(EmbeddedStore::open(&dir, clock.clone()).unwrap());
        Fixture { store, clock, dir }
    }

    fn keyring(current: u8, retired: &[u8]) -> Arc<Keyring> {
        let retired: Vec<[u8; KEY_LEN]> = retired.iter().map(|b| [*b; KEY_LEN]).collect();
        Arc::new(Keyring::from_keys(&[current; KEY_LEN], &retired).unwrap())
    }

    fn secrets(f: &Fixture, ring: Arc<Keyring>) -> Secrets {
        Secrets::new(f.store.clone(), ring).with_clock(f.clock.clone())
    }

    fn cred(id: &str) -> Key {
        Key::new(Kind::Credential, id)
    }

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    #[tokio::test]
    async fn round_trip_and_absent() {
        let f = fixture();
        let s = secrets(&f, keyring(1, &[]));
        assert_eq!(s.get(&cred("alice")).await.unwrap(), None);
        s.put(&cred("alice"), b"refresh-token-of-alice", Some(DAY))
            .await
            .unwrap();
        let got = s.get(&cred("alice")).await.unwrap().unwrap();
        assert_eq!(got.expose(), b"refresh-token-of-alice");
        let raw = f.store.get(&cred("alice")).await.unwrap().unwrap();
        assert_eq!(raw[0], ENVELOPE_VERSION);
        assert!(
            !raw.windows(13).any(|w| w == b"refresh-token"),
            "stored sealed"
        );
        // The store's TTL applies.
        f.clock.advance(DAY + Duration::from_millis(1));
        assert_eq!(s.get(&cred("alice")).await.unwrap(), None);
    }

    async fn assert_purged(f: &Fixture, s: &Secrets, key: &Key, reason_contains: &str) {
        let (result, audit) = s.get_audited(key).await;
        assert_eq!(
            result.unwrap_err(),
            StoreError::Undecryptable {
                key: key.to_string()
            }
        );
        assert_eq!(f.store.get(key).await.unwrap(), None, "record deleted");
        let audit = audit.expect("audit event written");
        assert_eq!(audit.kind(), Kind::Audit);
        assert!(
            audit
                .id()
                .starts_with(&format!("{:013}-", f.clock.now_ms())),
            "{audit}"
        );
        let raw = f
            .store
            .get(&audit)
            .await
            .unwrap()
            .expect("audit event stored");
        let event: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(event["event"], "CREDENTIAL_PURGED");
        assert_eq!(event["key"], key.to_string());
        let reason = event["reason"].as_str().unwrap();
        assert!(reason.contains(reason_contains), "{reason}");
        assert!(
            !String::from_utf8_lossy(&raw).contains("token-of"),
            "no secret in the audit event"
        );
        // A second read finds nothing (and purges nothing).
        assert_eq!(s.get(key).await.unwrap(), None);
        // The audit event is kept 90 days.
        f.clock.advance(AUDIT_TTL - Duration::from_secs(1));
        assert!(f.store.get(&audit).await.unwrap().is_some());
        f.clock.advance(Duration::from_secs(2));
        assert_eq!(f.store.get(&audit).await.unwrap(), None);
    }

    #[tokio::test]
    async fn tampered_is_purged_and_audited() {
        let f = fixture();
        let s = secrets(&f, keyring(1, &[]));
        s.put(&cred("alice"), b"token-of-alice", None)
            .await
            .unwrap();
        let mut raw = f.store.get(&cred("alice")).await.unwrap().unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0x80;
        f.store.set(&cred("alice"), &raw, None).await.unwrap();
        assert_purged(&f, &s, &cred("alice"), "authentication failed").await;
    }

    #[tokio::test]
    async fn blob_copied_to_another_user_is_purged() {
        let f = fixture();
        let s = secrets(&f, keyring(1, &[]));
        s.put(&cred("alice"), b"token-of-alice", None)
            .await
            .unwrap();
        let raw = f.store.get(&cred("alice")).await.unwrap().unwrap();
        f.store.set(&cred("mallory"), &raw, None).await.unwrap();
        assert_purged(&f, &s, &cred("mallory"), "authentication failed").await;
        // Alice's own record is untouched.
        assert_eq!(
            s.get(&cred("alice")).await.unwrap().unwrap().expose(),
            b"token-of-alice"
        );
    }

    #[tokio::test]
    async fn unknown_key_and_garbage_are_purged() {
        let f = fixture();
        secrets(&f, keyring(9, &[]))
            .put(&cred("alice"), b"token-of-alice", None)
            .await
            .unwrap();
        let s = secrets(&f, keyring(1, &[]));
        assert_purged(
            &f,
            &s,
            &cred("alice"),
            "neither the current key nor a retired one",
        )
        .await;
        f.store
            .set(&cred("bob"), b"plain junk", None)
            .await
            .unwrap();
        assert_purged(&f, &s, &cred("bob"), "malformed").await;
        // Sealed correctly but not framed by Secrets: purged too.
        let bare = keyring(1, &[]).seal(&cred("carol"), b"x").unwrap();
        f.store.set(&cred("carol"), &bare, None).await.unwrap();
        assert_purged(&f, &s, &cred("carol"), "unknown inner format").await;
    }

    #[tokio::test]
    async fn changed_meanwhile_is_not_deleted() {
        let f = fixture();
        let s = secrets(&f, keyring(1, &[]));
        f.store.set(&cred("alice"), b"junk", None).await.unwrap();
        // Simulates a concurrent put landing between our read and the purge.
        let (result, audit) = s.purge(&cred("alice"), b"other junk", "test").await;
        assert!(matches!(result, Err(StoreError::Undecryptable { .. })));
        assert_eq!(audit, None);
        assert_eq!(f.store.get(&cred("alice")).await.unwrap().unwrap(), b"junk");
    }

    #[tokio::test]
    async fn rotation_writes_back_keeping_the_ttl() {
        let f = fixture();
        secrets(&f, keyring(1, &[]))
            .put(&cred("alice"), b"token-of-alice", Some(10 * DAY))
            .await
            .unwrap();
        secrets(&f, keyring(1, &[]))
            .put(&cred("bob"), b"token-of-bob", None)
            .await
            .unwrap();
        f.clock.advance(4 * DAY);

        let rotated = secrets(&f, keyring(2, &[1]));
        let new_id = rotated.keyring().current_key_id().to_be_bytes();
        for (id, secret) in [("alice", &b"token-of-alice"[..]), ("bob", b"token-of-bob")] {
            let raw = f.store.get(&cred(id)).await.unwrap().unwrap();
            assert_ne!(&raw[1..5], &new_id);
            assert_eq!(
                rotated.get(&cred(id)).await.unwrap().unwrap().expose(),
                secret
            );
            let raw = f.store.get(&cred(id)).await.unwrap().unwrap();
            assert_eq!(&raw[1..5], &new_id, "re-sealed with the current key");
            // The old key is no longer needed.
            assert_eq!(
                secrets(&f, keyring(2, &[]))
                    .get(&cred(id))
                    .await
                    .unwrap()
                    .unwrap()
                    .expose(),
                secret
            );
        }
        // Alice's record still expires 10 days after it was written.
        f.clock.advance(6 * DAY - Duration::from_secs(1));
        assert!(rotated.get(&cred("alice")).await.unwrap().is_some());
        f.clock.advance(Duration::from_secs(2));
        assert_eq!(rotated.get(&cred("alice")).await.unwrap(), None);
        // Bob's never does.
        f.clock.advance(1000 * DAY);
        assert!(rotated.get(&cred("bob")).await.unwrap().is_some());
    }
}
