//! `cargo xtask regen`: the only place generated files are written.
//!
//! Besides the code, regen keeps `generated/contract.json`, a snapshot of every tool's
//! contract (arguments, required flags, enums, paging, body fields). Each run compares the
//! committed snapshot with the new one and prints what changed per tool, breaking changes
//! first; it refuses breaking changes unless `--accept-breaking` is given, and writes the list
//! to `generated/CONTRACT-CHANGES.md` for the reviewer of the pull request.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use gojira_codegen::contract::{self, Contract};

use crate::sources;

/// Folders of `generated/` that regen owns entirely (stale files there are removed).
const MANAGED: &[&str] = &["src/products", "schemas"];

/// The committed contract snapshot, relative to `generated/`.
pub const CONTRACT_FILE: &str = "contract.json";

/// The reviewer's list of the last contract change, relative to `generated/`.
pub const CHANGES_FILE: &str = "CONTRACT-CHANGES.md";

/// How regen runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Write nothing; fail on any stale file or spec that differs from its record.
    pub check: bool,
    /// Print warnings and unified diffs.
    pub verbose: bool,
    /// Write even when a tool's contract changes in a breaking way.
    pub accept_breaking: bool,
}

/// Runs the generator; with `check`, writes nothing and fails on any difference.
pub fn run(root: &Path, opts: Options) -> anyhow::Result<()> {
    let Options {
        check,
        verbose,
        accept_breaking,
    } = opts;
    let started = Instant::now();
    let sources = sources::load(&sources::sources_path(root))?;
    let specs_dir = sources::find_specs_dir(root, &sources).context(
        "the Atlassian specs are needed to regenerate; run `cargo xtask fetch-specs` or set GOJIRA_SPECS_DIR",
    )?;
    for status in sources::verify_dir(&specs_dir.path, &sources) {
        if status.is_ok() && !status.version_matches() {
            eprintln!(
                "warning: {}: info.version {} but specs/sources.yaml records {} for the same bytes",
                status.file,
                status.found_version.as_deref().unwrap_or("<none>"),
                status.expected_version
            );
        }
    }
    let mismatched = sources::unrecorded(&specs_dir, &sources);
    for line in &mismatched {
        eprintln!("{}: {line}", if check { "error" } else { "warning" });
    }
    if check && !mismatched.is_empty() {
        bail!(
            "{} spec file(s) differ from the sha256 recorded in specs/sources.yaml, so generated/ \
             cannot be checked against them. {}",
            mismatched.len(),
            sources::UPDATE_RECORD_HINT
        );
    }
    let manifest_path = root.join("tools.yaml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let mut specs = BTreeMap::new();
    for source in &sources.specs {
        let path = specs_dir.path.join(&source.file);
        if let Ok(bytes) = std::fs::read(&path) {
            specs.insert(source.file.clone(), bytes);
        }
    }
    let read_done = started.elapsed();
    let output = gojira_codegen::generate("tools.yaml", &manifest, &specs);
    let generated_in = started.elapsed() - read_done;

    let (errors, warnings): (Vec<_>, Vec<_>) =
        output.diagnostics.iter().partition(|d| d.is_error());
    for d in &errors {
        eprintln!("{d}");
    }
    if verbose {
        for d in &warnings {
            eprintln!("{d}");
        }
    } else if !warnings.is_empty() {
        eprintln!(
            "{} warnings (degraded shapes); see them with `cargo xtask regen -v`",
            warnings.len()
        );
    }
    if !errors.is_empty() {
        bail!(
            "{} error(s) in tools.yaml or the specs; nothing was written",
            errors.len()
        );
    }

    let generated = root.join("generated");
    let contract_path = generated.join(CONTRACT_FILE);
    let new_contract = output.contract.to_json();
    let previous = std::fs::read_to_string(&contract_path).ok();
    let comparison = compare_contracts(previous.as_deref(), &output.contract);
    if let Some((_, changes)) = &comparison {
        if !changes.is_empty() {
            eprintln!(
                "contract changes since the committed generated/{CONTRACT_FILE}:\n{}",
                contract::render_text(changes).trim_end()
            );
        }
        if !check && contract::has_breaking(changes) && !accept_breaking {
            bail!(
                "{} breaking contract change(s), listed above: a call that worked before can \
                 fail now. Nothing was written. If they are intended, run `cargo xtask regen \
                 --accept-breaking`; the list goes to generated/{CHANGES_FILE} for the reviewer",
                changes.iter().filter(|c| c.breaking).count()
            );
        }
    }

    let mut stale = Vec::new();
    let mut expected: BTreeSet<PathBuf> = BTreeSet::new();
    if ensure_file_contents(&contract_path, &new_contract, check, verbose)? {
        stale.push(CONTRACT_FILE.to_owned());
    }
    if !check
        && let Some((old, changes)) = &comparison
        && !changes.is_empty()
    {
        let report = contract::render_markdown(changes, old, &output.contract);
        ensure_file_contents(&generated.join(CHANGES_FILE), &report, false, false)?;
        eprintln!("wrote generated/{CHANGES_FILE} for the pull request");
    }
    for file in &output.files {
        let path = generated.join(&file.path);
        expected.insert(path.clone());
        if ensure_file_contents(&path, &file.contents, check, verbose)? {
            stale.push(file.path.clone());
        }
    }
    for dir in MANAGED {
        for path in list_files(&generated.join(dir))? {
            if !expected.contains(&path) {
                let rel = path
                    .strip_prefix(&generated)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                if check {
                    eprintln!("stale file (no longer generated): generated/{rel}");
                } else {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                    eprintln!("removed generated/{rel}");
                }
                stale.push(rel);
            }
        }
    }
    let tools: usize = output.tool_counts.values().sum();
    eprintln!(
        "regen: {tools} tools in {} products from {} specs ({}), generated in {:.0} ms (read {:.0} ms)",
        output.tool_counts.len(),
        specs.len(),
        specs_dir.path.display(),
        generated_in.as_secs_f64() * 1000.0,
        read_done.as_secs_f64() * 1000.0
    );
    if check && !stale.is_empty() {
        bail!(
            "{} generated file(s) are stale: {}. Run `cargo xtask regen` and commit generated/ with tools.yaml",
            stale.len(),
            stale.join(", ")
        );
    }
    Ok(())
}

/// The committed snapshot and the changes from it to `new`; `None` (with a note) when
/// there is no snapshot yet or it cannot be read as one.
fn compare_contracts(
    previous: Option<&str>,
    new: &Contract,
) -> Option<(Contract, Vec<contract::Change>)> {
    let Some(text) = previous else {
        eprintln!(
            "no generated/{CONTRACT_FILE} yet: recording every tool's contract; later regens \
             list what changes against it"
        );
        return None;
    };
    match Contract::from_json(text) {
        Ok(old) if old.format == contract::FORMAT => {
            let changes = contract::diff(&old, new);
            Some((old, changes))
        }
        Ok(old) => {
            eprintln!(
                "warning: generated/{CONTRACT_FILE} has format {} (this regen writes {}); \
                 not compared, replaced",
                old.format,
                contract::FORMAT
            );
            None
        }
        Err(err) => {
            eprintln!(
                "warning: generated/{CONTRACT_FILE} is not a contract snapshot ({err}); \
                 not compared, replaced"
            );
            None
        }
    }
}

/// Writes `contents` to `path` unless identical. With `check`, only reports.
/// Returns true when the file was (or would be) changed.
fn ensure_file_contents(
    path: &Path,
    contents: &str,
    check: bool,
    verbose: bool,
) -> anyhow::Result<bool> {
    let old = std::fs::read_to_string(path).ok();
    if old.as_deref() == Some(contents) {
        return Ok(false);
    }
    if check {
        eprintln!("stale: {}", path.display());
        if verbose {
            let diff = similar::TextDiff::from_lines(old.as_deref().unwrap_or(""), contents);
            eprintln!(
                "{}",
                diff.unified_diff()
                    .context_radius(2)
                    .header("committed", "regenerated")
            );
        }
        return Ok(true);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

fn list_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(list_files(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// Codegen is a test: a stale generated file fails `cargo test`.
    #[test]
    fn regen_is_fresh() {
        let opts = super::Options {
            check: true,
            verbose: true,
            accept_breaking: false,
        };
        if let Err(err) = super::run(&crate::project_root(), opts) {
            panic!("{err:#}");
        }
    }
}
