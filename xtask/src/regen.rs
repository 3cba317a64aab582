//! `cargo xtask regen`: the only place generated files are written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::sources;

/// Folders of `generated/` that regen owns entirely (stale files there are removed).
const MANAGED: &[&str] = &["src/products", "schemas"];

/// Runs the generator; with `check`, writes nothing and fails on any difference.
pub fn run(root: &Path, check: bool, verbose: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let sources = sources::load(&sources::sources_path(root))?;
    let specs_dir = sources::find_specs_dir(root, &sources).context(
        "the Atlassian specs are needed to regenerate; run `cargo xtask fetch-specs` or set GOJIRA_SPECS_DIR",
    )?;
    for status in sources::verify_dir(&specs_dir.path, &sources) {
        if status.present && (!status.is_ok() || !status.version_matches()) {
            eprintln!(
                "warning: {status} (specs/sources.yaml records another copy; generated output may differ)"
            );
        }
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
    let mut stale = Vec::new();
    let mut expected: BTreeSet<PathBuf> = BTreeSet::new();
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
        if let Err(err) = super::run(&crate::project_root(), true, true) {
            panic!("{err:#}");
        }
    }
}
