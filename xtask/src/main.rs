//! Project automation, run as `cargo xtask <command>`.
//!
//! - `regen [--check] [-v] [--accept-breaking]`: regenerate `generated/` from tools.yaml and
//!   the specs; lists each tool's contract changes against `generated/contract.json` and
//!   refuses breaking ones unless accepted; `--check` fails with a diff when anything is stale
//!   or a spec differs from its recorded sha256 (CI, and the `regen_is_fresh` test).
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
        /// Write even when a tool's contract changes in a breaking way (listed first, and in
        /// generated/CONTRACT-CHANGES.md).
        #[arg(long)]
        accept_breaking: bool,
    },
    /// Download the official specs into specs/cache/ and verify their sha256.
    FetchSpecs {
        /// Write files whose sha256 differs from specs/sources.yaml and record their sha256 and
        /// version there (a spec update: then run regen and review the contract changes).
        #[arg(long)]
        accept_drift: bool,
        /// Download nothing: record in specs/sources.yaml the sha256 and version of the spec
        /// files regen finds (specs/cache, ../shared/specs or $GOJIRA_SPECS_DIR).
        #[arg(long, conflicts_with_all = ["accept_drift", "url_override"])]
        record: bool,
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
        Command::Regen {
            check,
            verbose,
            accept_breaking,
        } => regen::run(
            &project_root(),
            regen::Options {
                check,
                verbose,
                accept_breaking,
            },
        ),
        Command::FetchSpecs { record: true, .. } => record_found(),
        Command::FetchSpecs {
            accept_drift,
            url_override,
            ..
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
    let sources_path = sources::sources_path(&root);
    let sources = sources::load(&sources_path)?;
    let dest = sources::cache_dir(&root);
    let first_run = !sources.specs.iter().any(|s| dest.join(&s.file).is_file());
    let mut recorded_copies = vec![root.join("..").join("shared").join("specs")];
    if let Some(dir) = std::env::var_os(sources::SPECS_DIR_ENV).filter(|d| !d.is_empty()) {
        recorded_copies.insert(0, PathBuf::from(dir));
    }
    let opts = fetch::FetchOptions {
        url_override,
        accept_drift,
        recorded_copies,
        ..fetch::FetchOptions::default()
    };
    let report = fetch::fetch_all(&sources, &dest, &opts)?;
    eprintln!("{}", report.summary(first_run));
    if accept_drift {
        for file in &report.files {
            if let fetch::Outcome::Drift {
                written: true,
                got_version,
                got_sha,
                ..
            } = &file.outcome
            {
                let version = got_version.as_deref().unwrap_or("unknown");
                sources::record(&sources_path, &file.file, version, got_sha)?;
                eprintln!(
                    "recorded {}: version {version}, sha256 {got_sha} in specs/sources.yaml \
                     (update its fidelity and source too); now run `cargo xtask regen` and review \
                     the contract changes it lists",
                    file.file
                );
            }
        }
    }
    report.into_result(accept_drift)?;
    Ok(())
}

/// `fetch-specs --record`: the files regen finds become the record.
fn record_found() -> anyhow::Result<()> {
    let root = project_root();
    let sources_path = sources::sources_path(&root);
    let sources = sources::load(&sources_path)?;
    let dir = sources::find_specs_dir(&root, &sources)?;
    let mut recorded = 0;
    for status in sources::verify_dir(&dir.path, &sources) {
        let Some(sha) = status.actual_sha256.as_deref().filter(|_| !status.is_ok()) else {
            continue;
        };
        let version = status
            .found_version
            .as_deref()
            .unwrap_or(status.expected_version.as_str());
        sources::record(&sources_path, &status.file, version, sha)?;
        eprintln!(
            "recorded {}: sha256 {} -> {sha}, version {} -> {version} (from {}); update its \
             fidelity and source in specs/sources.yaml",
            status.file,
            sources::short_sha(&status.expected_sha256),
            status.expected_version,
            status.path.display()
        );
        recorded += 1;
    }
    if recorded == 0 {
        eprintln!(
            "every spec file in {} ({}) already matches specs/sources.yaml; nothing recorded",
            dir.path.display(),
            dir.origin
        );
    }
    Ok(())
}
