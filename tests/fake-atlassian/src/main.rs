//! `fake-atlassian`: serve the fake Atlassian Cloud APIs on 127.0.0.1 until Ctrl-C.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use fake_atlassian::{FakeAtlassian, find_specs_dir};
use tracing_subscriber::EnvFilter;

/// In-memory fake of the Atlassian Cloud REST APIs (Jira, JSM, Confluence,
/// Assets, Admin, Automation), driven by their OpenAPI specs.
#[derive(Debug, Parser)]
#[command(name = "fake-atlassian", version)]
struct Args {
    /// Port to listen on (127.0.0.1 only; 0 = any free port).
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// Directory with the spec files (default: $GOJIRA_SPECS_DIR, specs/cache, ../shared/specs).
    #[arg(long, value_name = "DIR")]
    specs_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let dir = match args.specs_dir {
        Some(dir) => dir,
        None => find_specs_dir().context(
            "no spec directory found: pass --specs-dir DIR, set GOJIRA_SPECS_DIR, \
             or run `cargo xtask fetch-specs`",
        )?,
    };
    let started = Instant::now();
    let fake = FakeAtlassian::load(&dir)?;
    tracing::info!(dir = %dir.display(), elapsed_ms = started.elapsed().as_millis(), "specs loaded");
    let (operations, specs) = (fake.operation_count(), fake.spec_count());
    let handle = fake.serve(args.port).await?;
    eprintln!(
        "fake-atlassian listening on {} ({operations} operations from {specs} specs)",
        handle.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.shutdown();
    handle.stopped().await;
    Ok(())
}
