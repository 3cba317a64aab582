//! Project automation, run as `cargo xtask <command>`.
//!
//! - `regen [--check] [-v]`: regenerate `generated/` from tools.yaml and the specs;
//!   `--check` fails with a diff when anything is stale (CI, and the `regen_is_fresh` test).
//! - `fetch-specs [--accept-drift]`: download the official specs into `specs/cache/`.
//! - `bench [--only base|load|trim]`: the benchmark suite (see `bench/mod.rs`).
//!
//! Few dependencies on purpose, and never the runtime.

mod bench;
mod fetch;
mod regen;
mod sources;
mod tidy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "gojira-mcp project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate generated/ from tools.yaml and the Atlassian specs.
    Regen {
        /// Do not write; fail if any generated file is stale.
        #[arg(long)]
        check: bool,
        /// Print warnings and unified diffs.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Download the official specs into specs/cache/ and verify their sha256.
    FetchSpecs {
        /// Write files whose sha256 differs from specs/sources.yaml (after review).
        #[arg(long)]
        accept_drift: bool,
        /// Replace scheme and host of every official URL (mirrors, tests).
        #[arg(long)]
        url_override: Option<String>,
    },
    /// Benchmarks: regen time, start-up time and RSS, tools/list size, tool-call latency vs. direct;
    /// throughput under concurrent clients; bytes saved by trimming answers.
    Bench {
        /// Run one part only (default: all).
        #[arg(long, value_enum)]
        only: Option<bench::Part>,
    },
}

/// The workspace root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Regen { check, verbose } => regen::run(&project_root(), check, verbose),
        Command::FetchSpecs {
            accept_drift,
            url_override,
        } => fetch_specs(accept_drift, url_override),
        Command::Bench { only } => bench::run(&project_root(), only),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn fetch_specs(accept_drift: bool, url_override: Option<String>) -> anyhow::Result<()> {
    let root = project_root();
    let sources = sources::load(&sources::sources_path(&root))?;
    let dest = sources::cache_dir(&root);
    let opts = fetch::FetchOptions {
        url_override,
        accept_drift,
        ..fetch::FetchOptions::default()
    };
    let report = fetch::fetch_specs(&sources, &dest, &opts)?;
    eprintln!(
        "{} spec files in {}",
        report.files.len(),
        report.dest.display()
    );
    Ok(())
}
