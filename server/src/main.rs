//! `gojira-mcp`: the server binary. Links the runtime and the generated
//! catalog; `--sandbox` adds an in-process fake Atlassian so every tool can
//! be tried without an Atlassian account.

mod sandbox;
mod state;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gojira_runtime::config::{self, Config};
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
    let catalog = gojira_generated::catalog().context("the generated catalog is invalid")?;
    let command = cli.command.unwrap_or(Command::Serve { sandbox: false });
    let (sandbox, stdio) = match command {
        Command::Tools => {
            for tool in catalog.tools.values() {
                println!(
                    "{:<40} {:<26} {:<6} {}",
                    tool.spec.name,
                    tool.spec.group,
                    tool.spec.method.as_str(),
                    tool.spec.path
                );
            }
            return Ok(());
        }
        Command::GenerateKey => {
            println!("{}", gojira_store::crypto::generate_key());
            return Ok(());
        }
        Command::Serve { sandbox } => (sandbox, false),
        Command::Stdio { sandbox } => (sandbox, true),
    };

    let mut vars: BTreeMap<String, String> = std::env::vars().collect();
    let shutdown = CancellationToken::new();
    let fake = if sandbox {
        Some(sandbox::start(&catalog, &mut vars).await?)
    } else {
        None
    };
    let config: Config = config::from_vars(&vars).context("invalid configuration")?;
    telemetry::init(&config.log_level);
    catalog
        .check_groups(&config.enabled_groups)
        .context("GOJIRA_ENABLED_GROUPS")?;
    if let Some(fake) = &fake {
        tracing::info!(fake = %fake.base_url(), "sandbox: upstream calls go to the in-process fake Atlassian");
    }
    let store = state::open_store(&config).await?;
    let upstream = Upstream::new(config.upstream.clone(), Some(store.clone()))?;
    let _keyring = state::keyring(&config, sandbox)?;
    let mut state = ServerState::new(
        catalog,
        config.enabled_groups.clone(),
        upstream,
        config.tool_timeout,
        store,
        gojira_runtime::cache::principal(&config.upstream),
    );
    if let Some(key) = &config.encryption_key {
        // Instances sharing a store share the key, so a confirmation asked
        // by one instance can be answered at another.
        state = state.with_consent_secret(key.expose().as_bytes());
    }
    let state = Arc::new(state);
    // Writes a crash left pending are resolved once the server answers;
    // a pending intent younger than a call's deadline may still be in flight.
    gojira_runtime::write::spawn_maintenance(
        state.clone(),
        config.tool_timeout + std::time::Duration::from_secs(2),
        config.journal_retention,
    );
    let tool_count = state.tools().len();
    if stdio {
        transport::serve_stdio(state).await?;
    } else {
        let path_url = config.server_url.clone();
        transport::serve_http(&config, state, shutdown.clone(), |addr| {
            eprintln!(
                "gojira-mcp ready: http://{addr}/mcp ({tool_count} tools; public URL {path_url}){}",
                if sandbox { " [sandbox]" } else { "" }
            );
        })
        .await?;
    }
    if let Some(fake) = fake {
        fake.shutdown();
    }
    Ok(())
}
