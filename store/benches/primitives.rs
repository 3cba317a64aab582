//! `cargo bench -p gojira-store`: each primitive on both backends (ops/s,
//! p50, p99, one caller) and the cost of sealing/opening a secret. Needs a
//! Redis on 127.0.0.1:6379 (or at `GOJIRA_TEST_REDIS_URL`), and stops at once
//! saying so when none answers. No assertions: numbers for the closing note.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use gojira_store::crypto::{Keyring, generate_key};
use gojira_store::embedded::EmbeddedStore;
use gojira_store::redis_store::RedisStore;
use gojira_store::{BucketSpec, Clock, Key, Kind, Store};

#[path = "../tests/support/redis.rs"]
mod redis_support;

struct Stats {
    ops_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

async fn measure<F, Fut>(n: usize, mut op: F) -> Stats
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        op(i).await;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = started.elapsed().as_secs_f64();
    samples.sort_by(f64::total_cmp);
    Stats {
        ops_per_s: n as f64 / total,
        p50_us: samples[n / 2],
        p99_us: samples[(n * 99 / 100).min(n - 1)],
    }
}

fn row(backend: &str, op: &str, s: &Stats) {
    println!(
        "| {backend} | {op} | {:.0} | {:.1} | {:.1} |",
        s.ops_per_s, s.p50_us, s.p99_us
    );
}

async fn bench_store(name: &str, store: &Store, n_durable: usize, n_fast: usize) {
    let value = vec![42u8; 256];
    let spec = BucketSpec {
        capacity: 1e12,
        refill_per_sec: 1.0,
    };
    row(
        name,
        "set",
        &measure(n_durable, |i| {
            let (store, value) = (store.clone(), value.clone());
            async move {
                store
                    .set(&Key::new(Kind::Test, format!("k{i}")), &value, None)
                    .await
                    .unwrap()
            }
        })
        .await,
    );
    row(
        name,
        "get",
        &measure(n_fast, |i| {
            let store = store.clone();
            async move {
                store
                    .get(&Key::new(Kind::Test, format!("k{}", i % n_durable)))
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    row(
        name,
        "take",
        &measure(n_durable, |i| {
            let store = store.clone();
            async move {
                store
                    .take(&Key::new(Kind::Test, format!("k{i}")))
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    row(
        name,
        "set_if_absent+compare_and_delete",
        &measure(n_durable / 2, |i| {
            let store = store.clone();
            async move {
                let k = Key::new(Kind::Lock, format!("l{i}"));
                store
                    .set_if_absent(&k, b"me", Duration::from_secs(30))
                    .await
                    .unwrap();
                store.compare_and_delete(&k, b"me").await.unwrap();
            }
        })
        .await,
    );
    row(
        name,
        "take_tokens",
        &measure(n_fast, |_| {
            let store = store.clone();
            async move {
                store
                    .take_tokens(&Key::new(Kind::Bucket, "bench"), spec, 1.0)
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    row(
        name,
        "journal_append",
        &measure(n_durable, |i| {
            let (store, value) = (store.clone(), value.clone());
            async move {
                store
                    .journal_append("bench", if i % 2 == 0 { "a" } else { "b" }, &value)
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    row(
        name,
        "journal_range(100)",
        &measure(200, |_| {
            let store = store.clone();
            async move {
                store.journal_range("bench", 1, 100).await.unwrap();
            }
        })
        .await,
    );
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Before any measurement: a missing Redis is said at once, not after the embedded run.
    let redis_url = redis_support::require_redis();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| backend | primitive | ops/s | p50 µs | p99 µs |");
    println!("|---|---|---:|---:|---:|");
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("gojira-store-bench-{}", std::process::id()));
        let embedded = Store::Embedded(EmbeddedStore::open(&dir, Clock::System).unwrap());
        bench_store("embedded", &embedded, 300, 20_000).await;
        drop(embedded);
        let _ = std::fs::remove_dir_all(&dir);

        let prefix = format!("bench:{}:", std::process::id());
        let redis = Store::Redis(
            RedisStore::connect(&redis_url, &prefix, Clock::System, Duration::from_secs(2))
                .await
                .unwrap(),
        );
        assert!(
            redis.health().await.ok,
            "Redis answered PING, then failed a health check; start redis-server (see README)"
        );
        bench_store("redis", &redis, 5_000, 20_000).await;
        if let Ok(client) = redis::Client::open(redis_url.as_str())
            && let Ok(mut conn) = client.get_connection()
        {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        }
    });

    let keyring = Keyring::from_env_values(&generate_key(), None).unwrap();
    let key = Key::new(Kind::Credential, "user-1:atlassian");
    let secret = vec![7u8; 200];
    let n = 100_000;
    let t = Instant::now();
    let mut sealed = Vec::new();
    for _ in 0..n {
        sealed = keyring.seal(&key, &secret).unwrap();
    }
    let seal_ns = t.elapsed().as_nanos() as f64 / n as f64;
    let t = Instant::now();
    for _ in 0..n {
        keyring.open(&key, &sealed).unwrap();
    }
    let open_ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "\nAES-256-GCM, 200-byte secret: seal {seal_ns:.0} ns, open {open_ns:.0} ns ({} bytes sealed)",
        sealed.len()
    );
}
