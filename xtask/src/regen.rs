//! `cargo xtask regen`: the only place generated files are written.
//!
//! Besides the code, regen keeps `generated/contract.json`, a snapshot of every tool's
//! contract (arguments, required flags, enums, paging, body fields). Each run compares the
//! committed snapshot with the new one and prints what changed per tool, breaking changes
//! first; it refuses breaking changes unless `--accept-breaking` is given, and writes the list
//! to `generated/CONTRACT-CHANGES.md` for the reviewer of the pull request.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
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
    run_with(root, opts, std::env::var_os(sources::SPECS_DIR_ENV))
}

/// [`run`] with the value of `$GOJIRA_SPECS_DIR` passed in.
fn run_with(root: &Path, opts: Options, specs_env: Option<OsString>) -> anyhow::Result<()> {
    let Options {
        check,
        verbose,
        accept_breaking,
    } = opts;
    let started = Instant::now();
    let sources = sources::load(&sources::sources_path(root))?;
    let specs_dir = sources::find_specs_dir_with(root, &sources, specs_env).context(
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
    use super::*;
    use serde_json::{Value, json};

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

    const MANIFEST: &str = r#"
products:
  fx: {title: "Fixture", spec: fx.json, base_url: "{api}", auth: oauth}
groups:
  read_fx: {access: read, product: Fixture, description: "Reads"}
tools:
  - name: fx.searchThings
    operation: fx#searchThings
    group: read_fx
    title: Search things
    description: Search things, a page at a time.
"#;

    fn spec(params: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "openapi": "3.0.1",
            "info": {"title": "Fixture", "version": "1"},
            "paths": {"/things": {"get": {
                "operationId": "searchThings",
                "parameters": params,
                "responses": {"200": {"description": "OK", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"total": {"type": "integer"}}}}}}}
            }}}
        }))
        .unwrap_or_default()
    }

    fn sources_yaml(sha: &str) -> String {
        format!(
            "specs:\n  - file: fx.json\n    product: Fixture\n    url: https://example.invalid/fx.json\n    \
             version: \"1\"\n    sha256: {sha}\n    fidelity: test\n    source: test\n"
        )
    }

    /// A repository with tools.yaml, specs/sources.yaml and specs/cache/fx.json.
    struct Scratch {
        root: PathBuf,
    }

    impl Scratch {
        fn new(name: &str, spec: &[u8]) -> Scratch {
            let root = std::env::temp_dir()
                .join(format!("gojira-regen-test-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(sources::cache_dir(&root)).unwrap();
            std::fs::write(root.join("tools.yaml"), MANIFEST).unwrap();
            let scratch = Scratch { root };
            scratch.update_spec(spec, true);
            scratch
        }

        /// Replaces the spec file; with `record`, also its sha256 in sources.yaml.
        fn update_spec(&self, spec: &[u8], record: bool) {
            std::fs::write(sources::cache_dir(&self.root).join("fx.json"), spec).unwrap();
            if record {
                std::fs::write(
                    sources::sources_path(&self.root),
                    sources_yaml(&sources::sha256_hex(spec)),
                )
                .unwrap();
            }
        }

        fn regen(&self, check: bool, accept_breaking: bool) -> anyhow::Result<()> {
            let opts = Options {
                check,
                verbose: false,
                accept_breaking,
            };
            run_with(&self.root, opts, None)
        }

        fn read(&self, rel: &str) -> Option<String> {
            std::fs::read_to_string(self.root.join("generated").join(rel)).ok()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn v1() -> Vec<u8> {
        spec(json!([
            {"name": "startAt", "in": "query", "schema": {"type": "integer"}},
            {"name": "maxResults", "in": "query", "schema": {"type": "integer"}},
            {"name": "expand", "in": "query", "schema": {"type": "string"}},
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["active", "deleted"]}}
        ]))
    }

    #[test]
    fn a_breaking_spec_update_is_refused_until_accepted_and_written_for_the_reviewer() {
        let repo = Scratch::new("breaking", &v1());
        repo.regen(false, false).unwrap();
        let committed = repo.read(CONTRACT_FILE).unwrap();
        assert!(committed.contains("\"startAt\""), "{committed}");
        repo.regen(true, false).unwrap();

        // Atlassian renames the paging offset, drops `expand` and the `deleted` status.
        let v2 = spec(json!([
            {"name": "offset", "in": "query", "schema": {"type": "integer"}},
            {"name": "maxResults", "in": "query", "schema": {"type": "integer"}},
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["active"]}},
            {"name": "orderBy", "in": "query", "schema": {"type": "string"}}
        ]));
        repo.update_spec(&v2, true);
        let err = repo.regen(false, false).unwrap_err().to_string();
        assert!(
            err.contains("3 breaking contract change(s)") && err.contains("--accept-breaking"),
            "{err}"
        );
        // Nothing was written: the committed contract and code stay as they were.
        assert_eq!(repo.read(CONTRACT_FILE).unwrap(), committed);
        assert!(repo.read(CHANGES_FILE).is_none());
        // --check reports the stale contract without writing either.
        assert!(repo.regen(true, false).is_err());

        repo.regen(false, true).unwrap();
        let changes = repo.read(CHANGES_FILE).unwrap();
        let breaking = changes.find("## Breaking (3)").unwrap();
        let compatible = changes.find("## Compatible").unwrap();
        assert!(breaking < compatible, "{changes}");
        for line in [
            "- `fx.searchThings`: paging offset (startAt, maxResults) -> none",
            "- `fx.searchThings`: parameter `expand` removed",
            "- `fx.searchThings`: parameter `status` enum value(s) gone: \"deleted\"",
            "- `fx.searchThings`: parameter `orderBy` added (optional)",
        ] {
            let at = changes
                .find(line)
                .unwrap_or_else(|| panic!("{line:?} missing in\n{changes}"));
            assert_eq!(at < compatible, !line.contains("added"), "{changes}");
        }
        assert_ne!(repo.read(CONTRACT_FILE).unwrap(), committed);
        repo.regen(true, false).unwrap();

        // A harmless addition needs no flag.
        let v3 = spec(json!([
            {"name": "offset", "in": "query", "schema": {"type": "integer"}},
            {"name": "maxResults", "in": "query", "schema": {"type": "integer"}},
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["active", "paused"]}},
            {"name": "orderBy", "in": "query", "schema": {"type": "string"}},
            {"name": "fields", "in": "query", "schema": {"type": "string"}}
        ]));
        repo.update_spec(&v3, true);
        repo.regen(false, false).unwrap();
        let changes = repo.read(CHANGES_FILE).unwrap();
        assert!(changes.contains("## Breaking (0)"), "{changes}");
        assert!(
            changes.contains("parameter `fields` added (optional)"),
            "{changes}"
        );
    }

    #[test]
    fn check_fails_on_a_spec_that_is_not_the_recorded_one() {
        let repo = Scratch::new("unrecorded", &v1());
        repo.regen(false, false).unwrap();
        // The same spec, other bytes (a re-serialized or edited copy), not recorded.
        let mut edited = v1();
        edited.push(b'\n');
        repo.update_spec(&edited, false);
        let err = format!("{:#}", repo.regen(true, false).unwrap_err());
        assert!(err.contains("sources.yaml"), "{err}");
        assert!(err.contains("cargo xtask fetch-specs"), "{err}");
        // The file is named on stderr; the message says which command updates the record.
        let lines = sources::unrecorded(
            &sources::find_specs_dir_with(
                &repo.root,
                &sources::load(&sources::sources_path(&repo.root)).unwrap(),
                None,
            )
            .unwrap(),
            &sources::load(&sources::sources_path(&repo.root)).unwrap(),
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("fx.json"), "{lines:?}");
        // Recording it makes the check pass again.
        repo.update_spec(&edited, true);
        repo.regen(true, false).unwrap();
    }
}
