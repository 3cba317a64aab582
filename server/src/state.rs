//! Opening the state store and the encryption keyring from the configuration.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gojira_runtime::config::{Config, StoreConfig};
use gojira_store::crypto::Keyring;
use gojira_store::embedded::EmbeddedStore;
use gojira_store::redis_store::RedisStore;
use gojira_store::{Clock, Store};

/// How long one Redis operation may take before it fails as unavailable.
const REDIS_OP_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the embedded store purges expired keys.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Opens the configured backend: the embedded store (created on first start)
/// or Redis (which may be down at start: operations then fail fast and the
/// connection recovers by itself; `/health` says so).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    open_backend(&config.store).await
}

/// Opens one backend (see [`open_store`]).
pub async fn open_backend(backend: &StoreConfig) -> anyhow::Result<Store> {
    match backend {
        StoreConfig::Embedded { data_dir } => {
            let store = EmbeddedStore::open(data_dir, Clock::System)
                .with_context(|| format!("GOJIRA_DATA_DIR ({})", data_dir.display()))?;
            store.spawn_sweeper(SWEEP_EVERY);
            tracing::info!(data_dir = %data_dir.display(), "state: embedded store");
            Ok(Store::Embedded(store))
        }
        StoreConfig::Redis { url } => {
            let store = RedisStore::connect(url.expose(), "", Clock::System, REDIS_OP_TIMEOUT)
                .await
                .context("GOJIRA_REDIS_URL")?;
            let store = Store::Redis(store);
            let health = store.health().await;
            if health.ok {
                tracing::info!("state: redis");
            } else {
                tracing::warn!(reason = ?health.detail, "state: redis does not answer yet; retrying in the background");
            }
            Ok(store)
        }
    }
}

/// The keyring for secrets at rest. `TOKEN_ENCRYPTION_KEY` is validated
/// whenever it is set; the sandbox without one keeps a generated key in its
/// data directory (and says so). Outside the sandbox oauth mode requires the
/// key (`config::auth_mode` says so first); local mode stores no secrets.
pub fn keyring(config: &Config, sandbox: bool) -> anyhow::Result<Option<Arc<Keyring>>> {
    if let Some(key) = &config.encryption_key {
        let keyring = Keyring::from_env_values(
            key.expose(),
            config.encryption_keys_old.as_ref().map(|k| k.expose()),
        )?;
        return Ok(Some(Arc::new(keyring)));
    }
    if !sandbox {
        return Ok(None);
    }
    let StoreConfig::Embedded { data_dir } = &config.store else {
        return Ok(None);
    };
    let path = data_dir.join("sandbox-encryption.key");
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().to_owned(),
        Err(_) => {
            let key = gojira_store::crypto::generate_key();
            write_private(&path, &key).with_context(|| format!("writing {}", path.display()))?;
            key
        }
    };
    eprintln!(
        "sandbox: secrets at rest use a generated key kept in {} (set TOKEN_ENCRYPTION_KEY for real deployments)",
        path.display()
    );
    Ok(Some(Arc::new(
        Keyring::from_env_values(&key, None)
            .with_context(|| format!("the sandbox key in {}", path.display()))?,
    )))
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
