//! The generator never panics on the real Atlassian specs: for each of the
//! nine specs, a manifest selecting EVERY operation (tools `fx.op<N>` in one
//! `admin` group, operations `fx#METHOD /path`) is generated; every emitted
//! Rust file must parse with `syn` (and pass the clash checks), and errors may
//! only be of the kinds the specs are known to cause.
//!
//! The specs are not committed. They are looked up like `cargo xtask regen`
//! does: `$GOJIRA_SPECS_DIR`, else `specs/cache/`, else `../shared/specs/`.
//! Run with `-- --nocapture` to see the per-spec timings and diagnostic counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::rust_problems;
use gojira_codegen::{Diagnostic, Output};
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Error kinds the real specs are known to produce when every operation is
/// selected (see ../shared/specs/SOURCES.md):
const EXPECTED_ERRORS: &[(&str, &str)] = &[
    // assets.json POST /importsource/{importSourceId}/token declares no path parameter.
    (
        "and its path parameters disagree",
        "path template/parameters disagree",
    ),
    // multipart/form-data and */* request bodies (attachments, avatars, columns).
    (
        "is not supported (only application/json)",
        "unsupported required request body",
    ),
    // A body shape the generator cannot type (the manifest has no loose_body).
    ("cannot be typed", "body not typed"),
];

const WARNING_KINDS: &[(&str, &str)] = &[
    ("reference cycle through", "reference cycle"),
    ("oneOf together with anyOf", "oneOf+anyOf"),
    ("oneOf/anyOf", "oneOf/anyOf"),
    ("type array", "type array"),
    ("malformed type", "malformed type"),
    ("unknown type", "unknown type"),
    ("unresolved $ref", "unresolved $ref"),
    ("allOf", "allOf"),
    ("recursive schema", "recursive non-object"),
    (
        "both properties and additionalProperties",
        "properties + additionalProperties",
    ),
    ("example but no schema", "example-only response"),
    ("is not offered to the model", "optional non-JSON body"),
    ("does not match template variable", "path parameter renamed"),
    ("is deprecated in", "deprecated operation"),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("codegen/ has a parent")
        .to_path_buf()
}

/// Spec file names from specs/sources.yaml (`  - file: NAME` lines).
fn spec_names(root: &Path) -> Vec<String> {
    let path = root.join("specs/sources.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let names: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- file:"))
        .map(|n| n.trim().to_owned())
        .collect();
    assert!(
        !names.is_empty(),
        "no `- file:` entries in {}",
        path.display()
    );
    names
}

fn specs_dir(root: &Path, names: &[String]) -> PathBuf {
    let holds_all = |dir: &Path| names.iter().all(|n| dir.join(n).is_file());
    if let Some(dir) = std::env::var_os("GOJIRA_SPECS_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            holds_all(&dir),
            "GOJIRA_SPECS_DIR={} does not hold all of {names:?}",
            dir.display()
        );
        return dir;
    }
    let candidates = [root.join("specs/cache"), root.join("../shared/specs")];
    candidates
        .iter()
        .find(|d| holds_all(d))
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the Atlassian specs were not found (looked in $GOJIRA_SPECS_DIR, {}, {}); \
                 run `cargo xtask fetch-specs` or set GOJIRA_SPECS_DIR",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// A manifest selecting every operation of the spec; also returns the count.
/// Path items that are `$ref` aliases (automation.json) are skipped: the
/// generator does not index them.
fn every_operation_manifest(spec_name: &str, raw: &Value) -> (String, usize, usize) {
    let mut text = format!(
        "products:\n  fx: {{title: All, spec: {spec_name}, base_url: \"{{api}}\", auth: oauth}}\n\
         groups:\n  admin: {{access: admin, product: All, description: Everything}}\n\
         tools:\n"
    );
    let mut n = 0;
    let mut skipped_aliases = 0;
    let paths = raw
        .get("paths")
        .and_then(Value::as_object)
        .expect("spec has paths");
    for (path, item) in paths {
        if item.get("$ref").is_some() {
            skipped_aliases += 1;
            continue;
        }
        for method in METHODS {
            if item.get(method).is_none() {
                continue;
            }
            n += 1;
            let operation =
                serde_json::to_string(&format!("fx#{} {path}", method.to_ascii_uppercase()))
                    .unwrap();
            let _ = write!(
                text,
                "  - name: fx.op{n}\n    operation: {operation}\n    group: admin\n    \
                 title: \"Operation {n}\"\n    description: \"Operation {n}.\"\n"
            );
            if method != "get" {
                // Writes must declare how they are made safe; every one gets the strictest form.
                text.push_str("    consent: commit\n    revert: {irreversible: \"bulk run\"}\n");
            }
        }
    }
    (text, n, skipped_aliases)
}

fn kind_of(d: &Diagnostic) -> String {
    let table = if d.is_error() {
        EXPECTED_ERRORS
    } else {
        WARNING_KINDS
    };
    table
        .iter()
        .find(|(needle, _)| d.message.contains(needle))
        .map_or_else(
            || {
                format!(
                    "UNEXPECTED: {}",
                    d.message.chars().take(80).collect::<String>()
                )
            },
            |(_, kind)| (*kind).to_owned(),
        )
}

struct Report {
    spec: String,
    ops: usize,
    tools: usize,
    files: usize,
    bytes: usize,
    elapsed: Duration,
    errors: BTreeMap<String, usize>,
    warnings: BTreeMap<String, usize>,
    /// Operations with a JSON request body.
    bodies: usize,
    /// ... whose body regen could not type fully (no `loose_body` here).
    untyped_bodies: usize,
}

#[test]
fn generator_survives_every_operation_of_the_real_specs() {
    let root = workspace_root();
    let names = spec_names(&root);
    let dir = specs_dir(&root, &names);
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for name in &names {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let raw: Value = serde_json::from_slice(&bytes).unwrap();
        let (manifest, ops, aliases) = every_operation_manifest(name, &raw);
        let mut specs = BTreeMap::new();
        specs.insert(name.clone(), bytes);
        let started = Instant::now();
        let result = std::panic::catch_unwind(|| {
            gojira_codegen::generate("all.tools.yaml", &manifest, &specs)
        });
        let elapsed = started.elapsed();
        let output: Output = match result {
            Ok(o) => o,
            Err(_) => {
                failures.push(format!("{name}: the generator panicked"));
                continue;
            }
        };
        let (_, problems) = rust_problems(&output);
        failures.extend(problems.iter().map(|p| format!("{name}: {p}")));
        let rust_files = output
            .files
            .iter()
            .filter(|f| f.path.ends_with(".rs"))
            .count();
        if rust_files != 2 {
            failures.push(format!(
                "{name}: expected 2 Rust files (mod.rs and fx.rs), got {rust_files}"
            ));
        }
        let mut errors = BTreeMap::new();
        let mut warnings = BTreeMap::new();
        for d in &output.diagnostics {
            let kind = kind_of(d);
            if kind.starts_with("UNEXPECTED") {
                failures.push(format!("{name}: unexpected diagnostic: {d}"));
            }
            let bucket = if d.is_error() {
                &mut errors
            } else {
                &mut warnings
            };
            *bucket.entry(kind).or_insert(0) += 1;
        }
        let tools = output.tool_counts.get("fx").copied().unwrap_or(0);
        let untyped: std::collections::BTreeSet<&str> = output
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && d.message.contains("cannot be typed"))
            .filter_map(|d| match &d.location {
                gojira_codegen::Location::Manifest { tool, .. } => tool.as_deref(),
                gojira_codegen::Location::Spec { .. } => None,
            })
            .collect();
        let typed_bodies = output
            .files
            .iter()
            .filter(|f| f.path.ends_with(".input.json"))
            .filter(|f| {
                serde_json::from_str::<Value>(&f.contents)
                    .ok()
                    .is_some_and(|v| v.pointer("/properties/body").is_some())
            })
            .count();
        // Every operation becomes a tool unless an error names it.
        let errored = errors.values().sum::<usize>();
        if tools + errored < ops {
            failures.push(format!(
                "{name}: {ops} operations, {tools} tools, only {errored} errors"
            ));
        }
        if let Some(largest) = output
            .files
            .iter()
            .filter(|f| f.path.ends_with(".input.json"))
            .max_by_key(|f| f.contents.len())
        {
            println!(
                "{name}: largest input schema {} ({} KiB)",
                largest.path,
                largest.contents.len() / 1024
            );
        }
        if aliases > 0 {
            println!("{name}: skipped {aliases} path items that are $ref aliases");
        }
        reports.push(Report {
            spec: name.clone(),
            ops,
            tools,
            files: output.files.len(),
            bytes: output.files.iter().map(|f| f.contents.len()).sum(),
            elapsed,
            errors,
            warnings,
            bodies: typed_bodies + untyped.len(),
            untyped_bodies: untyped.len(),
        });
    }

    println!("\nspecs from {}", dir.display());
    println!(
        "{:<22} {:>5} {:>6} {:>6} {:>8} {:>9}  diagnostics",
        "spec", "ops", "tools", "files", "KiB", "time"
    );
    for r in &reports {
        let fmt = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{:<22} {:>5} {:>6} {:>6} {:>8} {:>7.0}ms  errors [{}] warnings [{}]",
            r.spec,
            r.ops,
            r.tools,
            r.files,
            r.bytes / 1024,
            r.elapsed.as_secs_f64() * 1000.0,
            fmt(&r.errors),
            fmt(&r.warnings)
        );
    }
    let ops: usize = reports.iter().map(|r| r.ops).sum();
    let tools: usize = reports.iter().map(|r| r.tools).sum();
    let bodies: usize = reports.iter().map(|r| r.bodies).sum();
    let untyped: usize = reports.iter().map(|r| r.untyped_bodies).sum();
    for r in &reports {
        println!(
            "{:<22} JSON bodies {:>4}, typed fully {:>4}",
            r.spec,
            r.bodies,
            r.bodies - r.untyped_bodies
        );
    }
    println!(
        "typed fully (no serde_json::Value standing in for an untypable body shape): \
         {tools} of {ops} operations; JSON request bodies typed fully: {} of {bodies}",
        bodies - untyped
    );
    assert!(
        failures.is_empty(),
        "the generator misbehaved on the real specs:\n  {}",
        failures.join("\n  ")
    );
}

/// Issue 11's example: `jira#updatePermissionScheme` used to be loosened to
/// "any object" (its `name` no longer required, `params` on body fields
/// ignored). Its contract now reaches the model, and an override reaches a
/// nested field.
#[test]
fn update_permission_scheme_keeps_its_contract() {
    let root = workspace_root();
    let names = spec_names(&root);
    let dir = specs_dir(&root, &names);
    let name = "jira-platform.json";
    let mut specs = BTreeMap::new();
    specs.insert(name.to_owned(), std::fs::read(dir.join(name)).unwrap());
    let manifest = format!(
        "products:\n  jira: {{title: Jira, spec: {name}, base_url: \"{{api}}\", auth: oauth}}\n\
         groups:\n  admin: {{access: admin, product: Jira, description: Admin}}\n\
         tools:\n  - name: jira.updatePermissionScheme\n    operation: jira#updatePermissionScheme\n    \
         group: admin\n    title: Update permission scheme\n    description: d\n    \
         params:\n      body.permissions.holder.type: {{description: \"user, group or projectRole\"}}\n    \
         consent: commit\n    revert: {{irreversible: test}}\n"
    );
    let output = gojira_codegen::generate("tools.yaml", &manifest, &specs);
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    let input: Value = output
        .files
        .iter()
        .find(|f| f.path == "schemas/jira/jira.updatePermissionScheme.input.json")
        .map(|f| serde_json::from_str(&f.contents).unwrap())
        .unwrap();
    let body = input.pointer("/properties/body").unwrap();
    assert_eq!(body.get("required"), Some(&serde_json::json!(["name"])));
    let holder = body
        .pointer("/properties/permissions/items/properties/holder")
        .unwrap();
    assert_eq!(holder.get("required"), Some(&serde_json::json!(["type"])));
    assert_eq!(
        holder.pointer("/properties/type/description"),
        Some(&serde_json::json!("user, group or projectRole"))
    );
    let rust = &output
        .files
        .iter()
        .find(|f| f.path == "src/products/jira.rs")
        .unwrap()
        .contents;
    assert!(rust.contains("pub body: types::PermissionScheme,"));
}

/// Atlassian labels POSTs that only read by the permission they need
/// (`readWorkflows` INACCESSIBLE, `readWorkflowSchemes` ADMIN), not by what
/// they do: declared `read_only: true`, they lower as read tools.
#[test]
fn posts_that_only_read_lower_as_read_tools_when_declared_read_only() {
    let root = workspace_root();
    let names = spec_names(&root);
    let dir = specs_dir(&root, &names);
    let mut specs = BTreeMap::new();
    specs.insert(
        "jira-platform.json".to_owned(),
        std::fs::read(dir.join("jira-platform.json")).unwrap(),
    );
    let manifest = "\
products:
  jira: {title: Jira, spec: jira-platform.json, base_url: \"{jira}\", auth: oauth}
groups:
  read_workflows: {access: read, product: Jira, description: Reads}
tools:
  - name: jira.readWorkflows
    operation: jira#readWorkflows
    group: read_workflows
    read_only: true
    title: Read workflows
    description: Bulk-read workflows.
  - name: jira.readWorkflowSchemes
    operation: jira#readWorkflowSchemes
    group: read_workflows
    read_only: true
    title: Read workflow schemes
    description: Bulk-read workflow schemes.
";
    let output = gojira_codegen::generate("tools.yaml", manifest, &specs);
    let errors: Vec<String> = output
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(output.tool_counts.get("jira"), Some(&2));
    let rs = output
        .files
        .iter()
        .find(|f| f.path == "src/products/jira.rs")
        .expect("jira.rs");
    assert_eq!(rs.contents.matches("read_only: true").count(), 2);
    assert_eq!(rs.contents.matches("safety: None").count(), 2);
    for id in ["readWorkflows", "readWorkflowSchemes"] {
        assert!(rs.contents.contains(&format!("\"jira#{id}\"")), "{id}");
    }
    assert!(rs.contents.contains("method: Method::Post"));
}
