//! One conformance suite, run against both backends: the embedded store
//! (redb in a temp dir) and a real Redis on 127.0.0.1:6379, or at
//! `GOJIRA_TEST_REDIS_URL` (start one with `redis-server --port 6379 --save ""`;
//! `.ci/run` does; without one, each Redis case fails at once saying so). Every
//! case has the same expectations on both; each Redis case uses its own key
//! prefix and deletes its keys afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gojira_store::embedded::EmbeddedStore;
use gojira_store::redis_store::RedisStore;
use gojira_store::{BucketSpec, Clock, JournalEntry, Key, Kind, RETRY_NEVER, Store, StoreError};

#[path = "support/redis.rs"]
mod redis_support;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A backend under test, cleaned up on drop.
struct Fixture {
    store: Store,
    clock: Clock,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Redis(String),
}

impl Drop for Fixture {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Redis(prefix) => delete_redis_prefix(prefix),
        }
    }
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn embedded(name: &str, clock: Clock) -> Fixture {
    let dir = std::env::temp_dir().join(unique(&format!("gojira-store-{name}")));
    let store =
        Store::Embedded(EmbeddedStore::open(&dir, clock.clone()).expect("embedded store opens"));
    Fixture {
        store,
        clock,
        cleanup: Cleanup::Dir(dir),
    }
}

async fn redis(name: &str, clock: Clock) -> Fixture {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let prefix = format!("{}:", unique(&format!("conformance:{name}")));
    let url = redis_support::require_redis();
    let store = Store::Redis(
        RedisStore::connect(&url, &prefix, clock.clone(), Duration::from_secs(2))
            .await
            .expect("redis store connects"),
    );
    let health = store.health().await;
    assert!(health.ok, "Redis answered PING, then: {:?}", health.detail);
    Fixture {
        store,
        clock,
        cleanup: Cleanup::Redis(prefix),
    }
}

/// Deletes every key under a test prefix (SCAN + DEL over a plain TCP RESP exchange via redis-cli
/// would need the binary; use the redis crate synchronously instead).
fn delete_redis_prefix(prefix: &str) {
    let Ok(client) = redis::Client::open(redis_support::redis_url()) else {
        return;
    };
    let Ok(mut conn) = client.get_connection() else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
    }
}

/// Runs one case against both backends.
macro_rules! conformance {
    ($name:ident, $clock:expr, $case:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded_backend() {
                let f = embedded(stringify!($name), $clock);
                $case(&f.store, &f.clock).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis_backend() {
                let f = redis(stringify!($name), $clock).await;
                $case(&f.store, &f.clock).await;
            }
        }
    };
}

/// With nothing listening at the test Redis's address, a Redis-backed case
/// fails within seconds with the message that says what to do (run here as a
/// child test process pointed at a free port by `GOJIRA_TEST_REDIS_URL`).
#[test]
fn redis_cases_fail_at_once_saying_to_start_redis_when_none_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let err = redis_support::check(&url).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(err.contains("start redis-server (see README)"), "{err}");

    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "get_set_delete_cases::redis_backend"])
        .env("GOJIRA_TEST_REDIS_URL", &url)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(!child.status.success(), "the Redis case passed: {out}");
    assert!(out.contains("1 failed"), "{out}");
    assert!(
        out.contains(&format!(
            "these tests need a Redis and nothing answered at {url}"
        )) && out.contains("start redis-server (see README)"),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

fn key(id: &str) -> Key {
    Key::new(Kind::Test, id)
}

async fn get_set_delete(store: &Store, _clock: &Clock) {
    let k = key("plain");
    assert_eq!(store.get(&k).await.unwrap(), None);
    let value: Vec<u8> = (0..=255u8).collect();
    store.set(&k, &value, None).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(value));
    store.set(&k, b"replaced", None).await.unwrap();
    assert_eq!(
        store.get(&k).await.unwrap().as_deref(),
        Some(&b"replaced"[..])
    );
    assert!(store.delete(&k).await.unwrap());
    assert!(!store.delete(&k).await.unwrap());
    assert_eq!(store.get(&k).await.unwrap(), None);
    // An empty value is a value.
    store.set(&key("empty"), b"", None).await.unwrap();
    assert_eq!(store.get(&key("empty")).await.unwrap(), Some(Vec::new()));
    // Kinds are separate namespaces.
    store
        .set(&Key::new(Kind::Lock, "x"), b"l", None)
        .await
        .unwrap();
    assert_eq!(store.get(&Key::new(Kind::Cache, "x")).await.unwrap(), None);
    // A large value round-trips.
    let big = vec![7u8; 1024 * 1024];
    store.set(&key("big"), &big, None).await.unwrap();
    assert_eq!(
        store.get(&key("big")).await.unwrap().map(|v| v.len()),
        Some(big.len())
    );
}
conformance!(get_set_delete_cases, Clock::System, get_set_delete);

async fn ttl_expiry(store: &Store, _clock: &Clock) {
    let k = key("short");
    store
        .set(&k, b"v", Some(Duration::from_millis(150)))
        .await
        .unwrap();
    store
        .set(&key("long"), b"v", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(store.get(&k).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.get(&k).await.unwrap(),
        None,
        "expired values read as absent"
    );
    assert_eq!(store.take(&k).await.unwrap(), None);
    assert!(store.get(&key("long")).await.unwrap().is_some());
    // An expired lock can be taken again.
    let lock = key("lock");
    assert!(
        store
            .set_if_absent(&lock, b"a", Duration::from_millis(150))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_if_absent(&lock, b"b", Duration::from_millis(150))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store
            .set_if_absent(&lock, b"b", Duration::from_secs(5))
            .await
            .unwrap()
    );
}
conformance!(ttl_cases, Clock::System, ttl_expiry);

async fn take_race(store: &Store, _clock: &Clock) {
    let k = key("one-time-code");
    store
        .set(&k, b"code", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = store.clone();
        let k = k.clone();
        tasks.push(tokio::spawn(async move { store.take(&k).await.unwrap() }));
    }
    let mut winners = 0;
    for task in tasks {
        if let Some(v) = task.await.unwrap() {
            assert_eq!(v, b"code");
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one of 50 racing takes wins");
    assert_eq!(store.get(&k).await.unwrap(), None);
}
conformance!(take_race_cases, Clock::System, take_race);

async fn lock_contention(store: &Store, _clock: &Clock) {
    let lock = key("refresh-lock");
    let mut tasks = Vec::new();
    for i in 0..20u8 {
        let store = store.clone();
        let lock = lock.clone();
        tasks.push(tokio::spawn(async move {
            store
                .set_if_absent(&lock, &[i], Duration::from_secs(30))
                .await
                .unwrap()
                .then_some(i)
        }));
    }
    let mut holders = Vec::new();
    for task in tasks {
        if let Some(i) = task.await.unwrap() {
            holders.push(i);
        }
    }
    assert_eq!(holders.len(), 1, "exactly one holder");
    let holder = holders[0];
    let stale = holder.wrapping_add(1);
    assert!(
        !store.compare_and_delete(&lock, &[stale]).await.unwrap(),
        "a stale holder cannot unlock"
    );
    assert!(
        !store.compare_and_delete(&lock, &[holder, 0]).await.unwrap(),
        "a longer value does not match"
    );
    assert!(
        !store.compare_and_delete(&lock, &[]).await.unwrap(),
        "a prefix does not match"
    );
    assert_eq!(store.get(&lock).await.unwrap(), Some(vec![holder]));
    assert!(
        store.compare_and_delete(&lock, &[holder]).await.unwrap(),
        "the holder unlocks"
    );
    assert!(!store.compare_and_delete(&lock, &[holder]).await.unwrap());
    assert!(
        store
            .set_if_absent(&lock, b"next", Duration::from_secs(30))
            .await
            .unwrap()
    );
}
conformance!(lock_cases, Clock::System, lock_contention);

async fn counters(store: &Store, _clock: &Clock) {
    let k = Key::new(Kind::Counter, "hits");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = store.clone();
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            store
                .incr(&k, 1, Some(Duration::from_secs(60)))
                .await
                .unwrap()
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=50).collect::<Vec<i64>>(),
        "every increment observed once"
    );
    assert_eq!(store.incr(&k, -10, None).await.unwrap(), 40);
    assert_eq!(store.incr(&k, -50, None).await.unwrap(), -10);
    // Exact beyond 2^53 (Redis scripts compute in doubles).
    let big = Key::new(Kind::Counter, "big");
    let n = (1i64 << 60) + 1;
    assert_eq!(store.incr(&big, n, None).await.unwrap(), n);
    assert_eq!(store.incr(&big, 2, None).await.unwrap(), n + 2);
    // Overflow is refused for that key, which keeps its value.
    let max = Key::new(Kind::Counter, "max");
    assert_eq!(store.incr(&max, i64::MAX, None).await.unwrap(), i64::MAX);
    match store.incr(&max, 1, None).await {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, "gojira:counter:max"),
        other => panic!("an overflowing increment is Corrupt for its key, got {other:?}"),
    }
    assert_eq!(store.incr(&max, -1, None).await.unwrap(), i64::MAX - 1);
}
conformance!(counter_cases, Clock::System, counters);

async fn bucket_math(store: &Store, clock: &Clock) {
    let k = Key::new(Kind::Bucket, "cloud-1:burst");
    let spec = BucketSpec {
        capacity: 10.0,
        refill_per_sec: 2.0,
    };
    for i in 0..10 {
        let out = store.take_tokens(&k, spec, 1.0).await.unwrap();
        assert!(out.granted, "token {i} of a full bucket");
    }
    let denied = store.take_tokens(&k, spec, 1.0).await.unwrap();
    assert!(!denied.granted);
    assert_eq!(
        denied.retry_after,
        Duration::from_millis(500),
        "1 token at 2/s"
    );
    clock.advance(Duration::from_secs(1));
    assert!(store.take_tokens(&k, spec, 1.0).await.unwrap().granted);
    assert!(store.take_tokens(&k, spec, 1.0).await.unwrap().granted);
    assert!(
        !store.take_tokens(&k, spec, 1.0).await.unwrap().granted,
        "only 2 refilled in 1 s"
    );
    clock.advance(Duration::from_secs(3600));
    let refilled = store.take_tokens(&k, spec, 0.0).await.unwrap();
    assert!(
        (refilled.remaining - 10.0).abs() < 1e-9,
        "refill caps at capacity: {refilled:?}"
    );
    // Several tokens at once.
    let big = store.take_tokens(&k, spec, 4.0).await.unwrap();
    assert!(big.granted && (big.remaining - 6.0).abs() < 1e-9, "{big:?}");
}
conformance!(
    bucket_math_cases,
    Clock::manual(1_700_000_000_000),
    bucket_math
);

async fn bucket_race(store: &Store, _clock: &Clock) {
    let k = Key::new(Kind::Bucket, "race");
    let spec = BucketSpec {
        capacity: 10.0,
        refill_per_sec: 0.001,
    };
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let store = store.clone();
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            store.take_tokens(&k, spec, 1.0).await.unwrap().granted
        }));
    }
    let mut granted = 0;
    for task in tasks {
        granted += usize::from(task.await.unwrap());
    }
    assert_eq!(granted, 10, "30 racing takers share exactly 10 tokens");
}
conformance!(
    bucket_race_cases,
    Clock::manual(1_700_000_000_000),
    bucket_race
);

async fn journal(store: &Store, _clock: &Clock) {
    let log = "ops";
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let principal = if i % 2 == 0 { "alice" } else { "bob" };
            let id = store
                .journal_append(log, principal, format!("entry {i}").as_bytes())
                .await
                .unwrap();
            (id, principal, i)
        }));
    }
    let mut appended = Vec::new();
    for task in tasks {
        appended.push(task.await.unwrap());
    }
    let mut ids: Vec<u64> = appended.iter().map(|(id, _, _)| *id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=40).collect::<Vec<u64>>(),
        "ids are unique and dense from 1"
    );
    let all = store.journal_range(log, 1, 100).await.unwrap();
    assert_eq!(all.len(), 40);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ascending");
    for (id, principal, i) in &appended {
        let entry = store.journal_get(log, *id).await.unwrap().expect("entry");
        assert_eq!(entry.principal, *principal);
        assert_eq!(entry.data, format!("entry {i}").into_bytes());
    }
    let page = store.journal_range(log, 11, 5).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![11, 12, 13, 14, 15]
    );
    let alice = store
        .journal_by_principal(log, "alice", 1, 100)
        .await
        .unwrap();
    assert_eq!(alice.len(), 20);
    assert!(alice.iter().all(|e| e.principal == "alice"));
    assert!(alice.windows(2).all(|w| w[0].id < w[1].id));
    assert!(store.journal_update(log, 3, b"completed").await.unwrap());
    assert_eq!(
        store.journal_get(log, 3).await.unwrap().unwrap().data,
        b"completed"
    );
    assert!(!store.journal_update(log, 999, b"x").await.unwrap());
    assert_eq!(store.journal_truncate(log, 21).await.unwrap(), 20);
    assert_eq!(store.journal_get(log, 20).await.unwrap(), None);
    assert_eq!(
        store
            .journal_range(log, 1, 100)
            .await
            .unwrap()
            .first()
            .map(|e| e.id),
        Some(21)
    );
    // Appends raced, so which ids are alice's is decided at run time.
    let alice_kept = appended
        .iter()
        .filter(|(id, p, _)| *id >= 21 && *p == "alice")
        .count();
    assert_eq!(
        store
            .journal_by_principal(log, "alice", 1, 100)
            .await
            .unwrap()
            .len(),
        alice_kept
    );
    let next = store
        .journal_append(log, "alice", b"after truncate")
        .await
        .unwrap();
    assert_eq!(next, 41, "ids are never reused");
    // Logs are independent.
    assert_eq!(
        store.journal_append("other", "carol", b"x").await.unwrap(),
        1
    );
}
conformance!(journal_cases, Clock::System, journal);

async fn corrupt_values_are_isolated(store: &Store, clock: &Clock) {
    let good = key("good");
    store.set(&good, b"fine", None).await.unwrap();
    let counter = Key::new(Kind::Counter, "garbled");
    store.set(&counter, b"not a number", None).await.unwrap();
    match store.incr(&counter, 1, None).await {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, "gojira:counter:garbled"),
        other => panic!("a garbled counter is Corrupt for its key, got {other:?}"),
    }
    assert_eq!(
        store.get(&counter).await.unwrap().as_deref(),
        Some(&b"not a number"[..]),
        "a failed increment leaves the value"
    );
    let bucket = Key::new(Kind::Bucket, "garbled");
    store.set(&bucket, b"\xff\x00garbage", None).await.unwrap();
    let spec = BucketSpec {
        capacity: 5.0,
        refill_per_sec: 1.0,
    };
    match store.take_tokens(&bucket, spec, 1.0).await {
        Err(StoreError::Corrupt { key, .. }) => assert!(key.contains("garbled"), "{key}"),
        other => panic!("a garbled bucket is a Corrupt error for that key, got {other:?}"),
    }
    // Nothing else is affected.
    assert_eq!(
        store.get(&good).await.unwrap().as_deref(),
        Some(&b"fine"[..])
    );
    assert!(
        store
            .take_tokens(&Key::new(Kind::Bucket, "clean"), spec, 1.0)
            .await
            .unwrap()
            .granted
    );
    let _ = clock;
}
conformance!(corrupt_cases, Clock::System, corrupt_values_are_isolated);

/// Expiry beyond plain values: an overwrite without a ttl clears it, an
/// expired value deletes as absent, a counter's ttl is the creating call's
/// (later ones neither add nor extend one), and an expired lock is not
/// released by its old holder.
async fn expiry_rules(store: &Store, _clock: &Clock) {
    let short = Duration::from_millis(150);
    store.set(&key("re"), b"v", Some(short)).await.unwrap();
    store.set(&key("re"), b"w", None).await.unwrap();
    store.set(&key("gone"), b"v", Some(short)).await.unwrap();
    let with_ttl = Key::new(Kind::Counter, "with-ttl");
    let without_ttl = Key::new(Kind::Counter, "without-ttl");
    assert_eq!(store.incr(&with_ttl, 1, Some(short)).await.unwrap(), 1);
    assert_eq!(
        store
            .incr(&with_ttl, 1, Some(Duration::from_secs(60)))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.incr(&without_ttl, 1, None).await.unwrap(), 1);
    assert_eq!(store.incr(&without_ttl, 1, Some(short)).await.unwrap(), 2);
    let lock = key("lock");
    assert!(store.set_if_absent(&lock, b"old", short).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.get(&key("re")).await.unwrap().as_deref(),
        Some(&b"w"[..]),
        "overwriting without a ttl clears the expiry"
    );
    assert!(
        !store.delete(&key("gone")).await.unwrap(),
        "an expired value deletes as absent"
    );
    assert_eq!(
        store.incr(&with_ttl, 5, None).await.unwrap(),
        5,
        "the creating call's ttl applies; an expired counter starts again"
    );
    assert_eq!(
        store.incr(&without_ttl, 1, None).await.unwrap(),
        3,
        "a later ttl is not added to a counter created without one"
    );
    assert!(
        !store.compare_and_delete(&lock, b"old").await.unwrap(),
        "an expired lock is not released by its old holder"
    );
    assert!(
        store
            .set_if_absent(&lock, b"new", Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(!store.compare_and_delete(&lock, b"old").await.unwrap());
    assert_eq!(
        store.get(&lock).await.unwrap().as_deref(),
        Some(&b"new"[..])
    );
}
conformance!(expiry_rule_cases, Clock::System, expiry_rules);

/// Exact bucket arithmetic: remaining after each take, a fractional refill,
/// requests that can never be granted, independent buckets.
async fn bucket_edges(store: &Store, clock: &Clock) {
    let k = Key::new(Kind::Bucket, "edges");
    let spec = BucketSpec {
        capacity: 10.0,
        refill_per_sec: 2.0,
    };
    for i in 0..10 {
        let out = store.take_tokens(&k, spec, 1.0).await.unwrap();
        assert!(out.granted, "take {i}");
        assert_eq!(out.remaining, 9.0 - f64::from(i));
        assert_eq!(out.retry_after, Duration::ZERO);
    }
    let denied = store.take_tokens(&k, spec, 1.0).await.unwrap();
    assert!(!denied.granted);
    assert_eq!(denied.remaining, 0.0);
    // 250 ms at 2/s is half a token: the rest comes 250 ms later.
    clock.advance(Duration::from_millis(250));
    let denied = store.take_tokens(&k, spec, 1.0).await.unwrap();
    assert!(!denied.granted);
    assert!((denied.remaining - 0.5).abs() < 1e-9, "{denied:?}");
    assert_eq!(denied.retry_after, Duration::from_millis(250));
    clock.advance(Duration::from_millis(250));
    assert!(store.take_tokens(&k, spec, 1.0).await.unwrap().granted);
    // More than the capacity: never granted, nothing deducted.
    clock.advance(Duration::from_secs(3600));
    let out = store.take_tokens(&k, spec, 11.0).await.unwrap();
    assert!(!out.granted);
    assert_eq!(out.remaining, 10.0);
    assert_eq!(out.retry_after, RETRY_NEVER);
    assert_eq!(
        store.take_tokens(&k, spec, 0.0).await.unwrap().remaining,
        10.0
    );
    // No refill: once empty, denied for good.
    let dry = BucketSpec {
        capacity: 1.0,
        refill_per_sec: 0.0,
    };
    let d = Key::new(Kind::Bucket, "dry");
    assert!(store.take_tokens(&d, dry, 1.0).await.unwrap().granted);
    let out = store.take_tokens(&d, dry, 1.0).await.unwrap();
    assert!(!out.granted);
    assert_eq!(out.retry_after, RETRY_NEVER);
    // Other buckets are independent.
    let other = Key::new(Kind::Bucket, "other");
    assert_eq!(
        store
            .take_tokens(&other, spec, 4.0)
            .await
            .unwrap()
            .remaining,
        6.0
    );
}
conformance!(
    bucket_edge_cases,
    Clock::manual(1_700_000_000_000),
    bucket_edges
);

fn ids(entries: &[JournalEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.id).collect()
}

/// The journal's boundaries: empty pages, unknown logs and principals, a
/// principal that is a prefix of another, updates keeping the principal,
/// truncation bounds, and ids continuing after everything is truncated.
async fn journal_edges(store: &Store, _clock: &Clock) {
    let log = "ops";
    assert_eq!(store.journal_append(log, "alice", b"1").await.unwrap(), 1);
    assert_eq!(store.journal_append(log, "bob", b"2").await.unwrap(), 2);
    assert_eq!(store.journal_append(log, "alice", b"3").await.unwrap(), 3);
    assert_eq!(store.journal_append(log, "alice2", b"4").await.unwrap(), 4);
    assert_eq!(
        store.journal_append("keep", "alice", b"k").await.unwrap(),
        1
    );
    let all = store.journal_range(log, 0, 100).await.unwrap();
    assert_eq!(ids(&all), vec![1, 2, 3, 4]);
    assert_eq!(
        all[1],
        JournalEntry {
            id: 2,
            principal: "bob".into(),
            data: b"2".to_vec()
        }
    );
    assert!(store.journal_range(log, 5, 10).await.unwrap().is_empty());
    assert!(store.journal_range(log, 0, 0).await.unwrap().is_empty());
    assert!(store.journal_range("none", 0, 10).await.unwrap().is_empty());
    assert_eq!(store.journal_get("none", 1).await.unwrap(), None);

    let by = |p: &'static str, from: u64, limit: usize| {
        let store = store.clone();
        async move {
            ids(&store
                .journal_by_principal(log, p, from, limit)
                .await
                .unwrap())
        }
    };
    assert_eq!(by("alice", 0, 10).await, vec![1, 3], "alice2 is not alice");
    assert_eq!(by("alice", 2, 10).await, vec![3]);
    assert_eq!(by("alice", 0, 1).await, vec![1]);
    assert_eq!(by("alice", 0, 0).await, Vec::<u64>::new());
    assert_eq!(by("carol", 0, 10).await, Vec::<u64>::new());

    assert!(store.journal_update(log, 2, b"2-done").await.unwrap());
    let e = store.journal_get(log, 2).await.unwrap().unwrap();
    assert_eq!(
        (e.principal.as_str(), e.data.as_slice()),
        ("bob", &b"2-done"[..]),
        "an update keeps the principal"
    );
    assert!(!store.journal_update(log, 9, b"x").await.unwrap());
    assert_eq!(
        store.journal_get(log, 9).await.unwrap(),
        None,
        "an update of an absent entry creates nothing"
    );

    assert_eq!(store.journal_truncate(log, 0).await.unwrap(), 0);
    assert_eq!(store.journal_truncate(log, 1).await.unwrap(), 0);
    assert_eq!(store.journal_truncate(log, 3).await.unwrap(), 2);
    assert_eq!(store.journal_truncate(log, 3).await.unwrap(), 0);
    assert_eq!(
        ids(&store.journal_range(log, 0, 10).await.unwrap()),
        vec![3, 4]
    );
    assert_eq!(by("alice", 0, 10).await, vec![3]);
    assert_eq!(by("bob", 0, 10).await, Vec::<u64>::new());
    assert_eq!(store.journal_range("keep", 0, 10).await.unwrap().len(), 1);
    // Truncating everything does not reset the sequence.
    assert_eq!(store.journal_truncate(log, u64::MAX).await.unwrap(), 2);
    assert!(store.journal_range(log, 0, 10).await.unwrap().is_empty());
    assert_eq!(store.journal_append(log, "bob", b"5").await.unwrap(), 5);
    assert_eq!(store.journal_range("keep", 0, 10).await.unwrap().len(), 1);
}
conformance!(journal_edge_cases, Clock::System, journal_edges);
