//! `gojira-mcp`: the server binary. Links the runtime and the generated
//! catalog; `--sandbox` adds an in-process fake Atlassian so every tool can
//! be tried without an Atlassian account.

mod sandbox;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gojira_runtime::config::{self, AuthMode, Config};
use gojira_runtime::identity::{AuditLog, Identity, OauthIdentity};
use gojira_runtime::transport::CancellationToken;
use gojira_runtime::upstream::Upstream;
use gojira_runtime::{ServerState, telemetry, transport};

#[derive(Parser)]
#[command(
    name = "gojira-mcp",
    version,
    about = "Atlassian Cloud admin MCP server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over Streamable HTTP at /mcp (the default).
    Serve {
        /// Answer from an in-process fake Atlassian instead of a real site.
        #[arg(long)]
        sandbox: bool,
    },
    /// Serve one MCP session over stdin/stdout.
    Stdio {
        /// Answer from an in-process fake Atlassian instead of a real site.
        #[arg(long)]
        sandbox: bool,
    },
    /// Print the tool catalog (name, group, method, path) and exit.
    Tools,
    /// Print a new TOKEN_ENCRYPTION_KEY (base64 of 32 random bytes) and exit.
    GenerateKey,
    /// Check the operation journal's hash chain in the configured store
    /// (GOJIRA_DATA_DIR or GOJIRA_REDIS_URL); exit 1 naming any changed or
    /// removed entry. Stop the server first when the store is embedded.
    VerifyJournal,
}

/// Builds the async runtime. One thread by default: a proxy's work is I/O,
/// and cross-thread wake-ups cost more latency than they buy
/// (`cargo xtask bench`). `GOJIRA_WORKER_THREADS=N` uses N worker threads.
fn build_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let threads = match std::env::var("GOJIRA_WORKER_THREADS") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .with_context(|| {
                format!("GOJIRA_WORKER_THREADS: {v:?} must be a number of threads from 1 to 256")
            })?,
        _ => 1,
    };
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    Ok(builder.enable_all().build()?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match build_runtime() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // A missing .env is fine; a malformed one is an error worth seeing.
    match dotenvy::dotenv() {
        Ok(_) | Err(dotenvy::Error::Io(_)) => {}
        Err(err) => return Err(err).context(".env could not be read"),
    }
    let catalog = gojira_runtime::Catalog::new(
        gojira_generated::PRODUCTS,
        gojira_generated::GROUPS,
        gojira_generated::TOOLSETS,
    )
    .context("the generated catalog is invalid")?;
    let command = cli.command.unwrap_or(Command::Serve { sandbox: false });
    let (sandbox, stdio) = match command {
        Command::Tools => {
            for tool in catalog.tools.values() {
                println!(
                    "{:<40} {:<26} {:<6} {}{}",
                    tool.spec.name,
                    tool.spec.group,
                    tool.spec.method.as_str(),
                    tool.spec.path,
                    if tool.spec.hidden {
                        "  (hidden: a revert's inverse, never listed)"
                    } else {
                        ""
                    }
                );
            }
            for tool in gojira_runtime::builtin::ALL {
                println!(
                    "{:<40} {:<26} -      (built-in: gojira's own state)",
                    tool.name,
                    gojira_runtime::builtin::GROUP,
                );
            }
            return Ok(());
        }
        Command::GenerateKey => {
            println!("{}", gojira_store::crypto::generate_key());
            return Ok(());
        }
        Command::VerifyJournal => {
            let vars: BTreeMap<String, String> = std::env::vars().collect();
            let backend = config::store_from_vars(&vars).context("invalid configuration")?;
            let store = state::open_backend(&backend).await?;
            let verification = gojira_runtime::journal::Journal::new(store)
                .verify()
                .await
                .context("reading the journal")?;
            println!("{}", serde_json::to_string_pretty(&verification)?);
            if !verification.ok {
                anyhow::bail!(
                    "the journal's chain is broken at {} entr{}",
                    verification.broken.len(),
                    if verification.broken.len() == 1 {
                        "y"
                    } else {
                        "ies"
                    }
                );
            }
            return Ok(());
        }
        Command::Serve { sandbox } => (sandbox, false),
        Command::Stdio { sandbox } => (sandbox, true),
    };

    let mut vars: BTreeMap<String, String> = std::env::vars().collect();
    let shutdown = CancellationToken::new();
    let wants_local = stdio || vars.get("GOJIRA_AUTH_MODE").map(|m| m.trim()) == Some("local");
    let fake = if sandbox {
        Some(sandbox::start(&catalog, &mut vars, !wants_local).await?)
    } else {
        None
    };
    let mut config: Config = config::from_vars(&vars).context("invalid configuration")?;
    telemetry::init(&config.log_level);
    catalog
        .check_groups(&config.enabled_groups)
        .context("GOJIRA_ENABLED_GROUPS")?;
    config::check_groups_have_tools(&config.enabled_groups, &groups_with_tools(&catalog))
        .context("invalid configuration")?;
    let mode = config::auth_mode(&config, stdio, sandbox).context("invalid configuration")?;
    if let Some(fake) = &fake {
        tracing::info!(fake = %fake.base_url(), "sandbox: upstream calls go to the in-process fake Atlassian");
    }
    let store = state::open_store(&config).await?;
    let keyring = state::keyring(&config, sandbox)?;
    let upstream = Upstream::new(config.upstream.clone(), Some(store.clone()))?;
    let listener = if stdio {
        None
    } else {
        let listener = transport::bind(&config).await?;
        // The public URL follows the bound port unless MCP_SERVER_URL says otherwise.
        if !config.auth.server_url_explicit {
            let _ = config
                .server_url
                .set_port(Some(listener.local_addr()?.port()));
        }
        Some(listener)
    };
    let scopes = gojira_runtime::server::offered_scopes(&catalog, &config.enabled_groups);
    let identity = identity(&config, &vars, mode, &store, keyring, &scopes)?;
    let mut state = ServerState::new(
        catalog,
        config.enabled_groups.clone(),
        upstream,
        config.tool_timeout,
        store,
        gojira_runtime::cache::principal(&config.upstream),
    )
    .with_identity(identity)
    .with_journal_operators(config.auth.journal_operators.clone())
    .with_task_policy(config.tasks);
    if let Some(key) = &config.encryption_key {
        // Instances sharing a store share the key, so a confirmation asked
        // by one instance can be answered at another.
        state = state.with_consent_secret(key.expose().as_bytes());
    }
    let state = Arc::new(state);
    // Writes a crash left pending are resolved once the server answers;
    // a pending intent younger than a call's deadline may still be in flight.
    let maintenance = gojira_runtime::write::spawn_maintenance(
        state.clone(),
        config.tool_timeout + std::time::Duration::from_secs(2),
        config.journal_retention,
        shutdown.clone(),
    );
    let tool_count = state.tools().len();
    match listener {
        None => transport::serve_stdio(state).await?,
        Some(listener) => {
            let path_url = config.server_url.clone();
            let mode = match mode {
                AuthMode::Oauth => "oauth",
                AuthMode::Local => "local auth",
            };
            transport::serve_listener(listener, &config, state, shutdown.clone(), |addr| {
                eprintln!(
                    "gojira-mcp ready: http://{addr}/mcp ({tool_count} tools; {mode}; public URL {path_url}){}",
                    if sandbox { " [sandbox]" } else { "" }
                );
            })
            .await?;
        }
    }
    // Calls in flight have finished (or the grace ran out): let an upkeep
    // round under way append its outcomes, then exit 0.
    shutdown.cancel();
    maintenance.finish(std::time::Duration::from_secs(2)).await;
    if let Some(fake) = fake {
        fake.shutdown();
    }
    tracing::info!("gojira-mcp stopped");
    Ok(())
}

/// The groups that hold at least one tool: the catalog's, and `utility`
/// (gojira's own tools).
fn groups_with_tools(catalog: &gojira_runtime::Catalog) -> BTreeSet<&'static str> {
    catalog
        .tools
        .values()
        .map(|tool| tool.spec.group)
        .chain((!gojira_runtime::builtin::ALL.is_empty()).then_some(gojira_runtime::builtin::GROUP))
        .collect()
}

/// Who calls act for: the configured credential (local), or each signed-in
/// user through the authorization server (oauth); plus the org-admin audit log.
fn identity(
    config: &Config,
    vars: &BTreeMap<String, String>,
    mode: AuthMode,
    store: &gojira_store::Store,
    keyring: Option<Arc<gojira_store::crypto::Keyring>>,
    scopes: &[String],
) -> anyhow::Result<Identity> {
    let identity = match mode {
        AuthMode::Local => Identity::local(),
        AuthMode::Oauth => {
            let keyring = keyring.context(
                "TOKEN_ENCRYPTION_KEY: is required in oauth mode (`gojira-mcp generate-key` makes one)",
            )?;
            if !matches!(
                config.upstream.credential,
                gojira_runtime::config::Credential::None
            ) {
                tracing::warn!(
                    "oauth mode: ATLASSIAN_API_TOKEN / ATLASSIAN_ACCESS_TOKEN are ignored; every call uses the signed-in user's own credential"
                );
            }
            let resource = format!("{}/mcp", config.server_url.as_str().trim_end_matches('/'));
            let resource = url::Url::parse(&resource).context("MCP_SERVER_URL")?;
            // gojira's scopes: those the enabled groups' tools need.
            let auth_config = config::oauth_config(vars, resource)
                .context("invalid configuration")?
                .with_offered_scopes(scopes.iter().map(String::as_str));
            let secrets = gojira_store::records::Secrets::new(store.clone(), keyring)
                .with_clock(gojira_store::Clock::System);
            let server = gojira_auth::AuthServer::new(
                auth_config,
                store.clone(),
                secrets.clone(),
                gojira_store::Clock::System,
            )
            .context("the authorization server could not start")?;
            let cloud_id = vars
                .get("ATLASSIAN_CLOUD_ID")
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty());
            Identity::oauth(OauthIdentity::new(server, secrets, cloud_id))
        }
    };
    let mut identity = identity.with_endpoints(gojira_generated::IDENTITY_ENDPOINTS);
    if let Some(path) = &config.auth.org_admin_audit_log {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET ({})", path.display())
            })?;
        }
        let log = AuditLog::open(path)
            .with_context(|| format!("GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET ({})", path.display()))?;
        identity = identity.with_audit(log);
    }
    Ok(identity)
}
