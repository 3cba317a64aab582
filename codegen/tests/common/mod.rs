//! Helpers shared by the codegen integration tests: running a fixture,
//! snapshot comparison (`UPDATE_EXPECT=1` rewrites), and checks that every
//! emitted Rust file parses and would not clash when compiled.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use gojira_codegen::{Diagnostic, Output};

/// `codegen/tests`.
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// `codegen/tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    tests_dir().join("fixtures")
}

/// Runs the generator on `fixtures/<name>.tools.yaml` with `fixtures/<name>.json`
/// available as spec `<name>.json`.
pub fn run_fixture(name: &str) -> Output {
    let dir = fixtures_dir();
    let manifest_path = dir.join(format!("{name}.tools.yaml"));
    let spec_path = dir.join(format!("{name}.json"));
    let manifest = fs::read_to_string(&manifest_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", manifest_path.display()));
    let spec =
        fs::read(&spec_path).unwrap_or_else(|e| panic!("reading {}: {e}", spec_path.display()));
    // The fixture spec must be valid JSON with a note saying what it is for.
    let raw: serde_json::Value = serde_json::from_slice(&spec).expect("fixture spec is JSON");
    assert!(
        raw.pointer("/info/x-fixture-note")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|s| !s.is_empty()),
        "{name}.json needs info.x-fixture-note"
    );
    let mut specs = BTreeMap::new();
    specs.insert(format!("{name}.json"), spec);
    gojira_codegen::generate(&format!("{name}.tools.yaml"), &manifest, &specs)
}

/// Runs the generator on an inline manifest with one spec file.
pub fn run_inline(manifest: &str, spec_name: &str, spec: &[u8]) -> Output {
    let mut specs = BTreeMap::new();
    specs.insert(spec_name.to_owned(), spec.to_vec());
    gojira_codegen::generate("tools.yaml", manifest, &specs)
}

/// One `Display` line per diagnostic.
pub fn diagnostic_lines(output: &Output) -> Vec<String> {
    output
        .diagnostics
        .iter()
        .map(Diagnostic::to_string)
        .collect()
}

/// The diagnostics as the snapshot stores them.
pub fn diagnostics_text(output: &Output) -> String {
    let mut text = String::new();
    for line in diagnostic_lines(output) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// The contents of one generated file; panics listing the files if absent.
pub fn file<'o>(output: &'o Output, path: &str) -> &'o str {
    output
        .files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.contents.as_str())
        .unwrap_or_else(|| {
            let paths: Vec<&str> = output.files.iter().map(|f| f.path.as_str()).collect();
            panic!("no generated file {path}; files: {paths:?}")
        })
}

/// True when the output has a file at `path`.
pub fn has_file(output: &Output, path: &str) -> bool {
    output.files.iter().any(|f| f.path == path)
}

/// A generated JSON file, parsed.
pub fn json_file(output: &Output, path: &str) -> serde_json::Value {
    serde_json::from_str(file(output, path)).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Asserts that exactly one diagnostic renders as `line`.
pub fn assert_diagnostic(output: &Output, line: &str) {
    let lines = diagnostic_lines(output);
    let n = lines.iter().filter(|l| l.as_str() == line).count();
    assert!(
        n == 1,
        "expected the diagnostic (once, found {n} times)\n  {line}\nall diagnostics:\n  {}",
        lines.join("\n  ")
    );
}

/// Asserts that some diagnostic line contains every one of `parts`.
pub fn assert_diagnostic_containing(output: &Output, parts: &[&str]) {
    let lines = diagnostic_lines(output);
    assert!(
        lines.iter().any(|l| parts.iter().all(|p| l.contains(p))),
        "expected a diagnostic containing {parts:?}\nall diagnostics:\n  {}",
        lines.join("\n  ")
    );
}

// ───────────────────────────── snapshots ─────────────────────────────

fn update_requested() -> bool {
    std::env::var("UPDATE_EXPECT").is_ok_and(|v| v == "1")
}

fn list_files(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            list_files(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            out.insert(rel, text);
        }
    }
}

/// Compares every output file plus `diagnostics.txt` with
/// `tests/expected/<name>/`; with `UPDATE_EXPECT=1`, rewrites that folder.
pub fn assert_snapshot(name: &str, output: &Output) {
    let mut actual: BTreeMap<String, String> = output
        .files
        .iter()
        .map(|f| (f.path.clone(), f.contents.clone()))
        .collect();
    actual.insert("diagnostics.txt".into(), diagnostics_text(output));
    let dir = tests_dir().join("expected").join(name);

    if update_requested() {
        if dir.exists() {
            fs::remove_dir_all(&dir).expect("removing old snapshot");
        }
        for (rel, text) in &actual {
            let path = dir.join(rel);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, text).expect("writing snapshot");
        }
        return;
    }

    let mut expected = BTreeMap::new();
    list_files(&dir, &dir, &mut expected);
    let mut problems = Vec::new();
    for (rel, text) in &actual {
        match expected.get(rel) {
            None => problems.push(format!("new file {rel} (not in the snapshot)")),
            Some(want) if want != text => {
                problems.push(format!("{rel} differs:\n{}", diff(want, text)));
            }
            Some(_) => {}
        }
    }
    for rel in expected.keys() {
        if !actual.contains_key(rel) {
            problems.push(format!("{rel} is in the snapshot but was not generated"));
        }
    }
    assert!(
        problems.is_empty(),
        "snapshot tests/expected/{name}/ does not match the generator output:\n\n{}\n\n\
         If the change is intended, run `UPDATE_EXPECT=1 cargo test -p gojira-codegen` \
         and review the diff of codegen/tests/expected/.",
        problems.join("\n\n")
    );
}

/// A small unified-style line diff (`-` expected, `+` actual) in hunks with
/// 3 lines of context, capped at 80 lines.
pub fn diff(expected: &str, actual: &str) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        Same,
        Del,
        Ins,
    }
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let a_mid = &a[prefix..a.len() - suffix];
    let b_mid = &b[prefix..b.len() - suffix];
    // (op, text, old line, new line), 1-based line numbers.
    let mut ops: Vec<(Op, &str, usize, usize)> = Vec::new();
    for (k, line) in a[..prefix].iter().enumerate() {
        ops.push((Op::Same, line, k + 1, k + 1));
    }
    let (n, m) = (a_mid.len(), b_mid.len());
    let (mut i, mut j) = (0, 0);
    if n.saturating_mul(m) <= 4_000_000 {
        let mut lcs = vec![vec![0u32; m + 1]; n + 1];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i][j] = if a_mid[i] == b_mid[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        while i < n || j < m {
            if i < n && j < m && a_mid[i] == b_mid[j] {
                ops.push((Op::Same, a_mid[i], prefix + i + 1, prefix + j + 1));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
                ops.push((Op::Del, a_mid[i], prefix + i + 1, prefix + j + 1));
                i += 1;
            } else {
                ops.push((Op::Ins, b_mid[j], prefix + i + 1, prefix + j + 1));
                j += 1;
            }
        }
    } else {
        ops.extend(
            a_mid
                .iter()
                .enumerate()
                .map(|(k, l)| (Op::Del, *l, prefix + k + 1, prefix + 1)),
        );
        ops.extend(
            b_mid
                .iter()
                .enumerate()
                .map(|(k, l)| (Op::Ins, *l, prefix + n + 1, prefix + k + 1)),
        );
        (i, j) = (n, m);
    }
    for k in 0..suffix {
        let (x, y) = (prefix + i + k, prefix + j + k);
        ops.push((Op::Same, a[x], x + 1, y + 1));
    }
    // Keep changed lines and the 3 lines around each; separate hunks with `@@`.
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != Op::Same).collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= 3);
    let mut out = String::new();
    let mut last_shown: Option<usize> = None;
    for (k, (op, text, old, new)) in ops.iter().enumerate() {
        if !near(k) {
            continue;
        }
        if last_shown.is_none_or(|l| l + 1 != k) {
            let _ = writeln!(out, "@@ expected line {old}, actual line {new} @@");
        }
        last_shown = Some(k);
        let mark = match op {
            Op::Same => ' ',
            Op::Del => '-',
            Op::Ins => '+',
        };
        let _ = writeln!(out, "{mark}{text}");
    }
    if out.is_empty() {
        out.push_str("(only line endings or a trailing newline differ)\n");
    }
    let lines: Vec<&str> = out.lines().collect();
    if lines.len() > 80 {
        format!(
            "{}\n... ({} more diff lines)\n",
            lines[..80].join("\n"),
            lines.len() - 80
        )
    } else {
        out
    }
}

// ───────────────────────────── Rust checks ─────────────────────────────

/// Parses every `.rs` file of the output with `syn` and checks each module
/// for things that parse but would not compile: two items with one name
/// (including `use` imports), duplicate fields or variants, duplicate serde
/// wire names, references to `types::X` that the `types` module lacks, and
/// generated types that shadow names the generated code relies on.
/// Returns the parsed files by path.
pub fn check_rust(output: &Output) -> BTreeMap<String, syn::File> {
    let (parsed, problems) = rust_problems(output);
    assert!(
        problems.is_empty(),
        "generated Rust has problems:\n  {}",
        problems.join("\n  ")
    );
    parsed
}

/// Like [`check_rust`], returning the problems instead of failing.
pub fn rust_problems(output: &Output) -> (BTreeMap<String, syn::File>, Vec<String>) {
    let mut parsed = BTreeMap::new();
    let mut problems = Vec::new();
    for f in output.files.iter().filter(|f| f.path.ends_with(".rs")) {
        match syn::parse_file(&f.contents) {
            Ok(file) => {
                check_items(&file.items, &f.path, &mut problems);
                parsed.insert(f.path.clone(), file);
            }
            Err(e) => problems.push(format!("{}: does not parse: {e}", f.path)),
        }
    }
    (parsed, problems)
}

/// Names the generated code uses unqualified; a generated type with one of
/// these names would shadow it.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "String",
    "Option",
    "Vec",
    "Box",
    "Result",
    "Some",
    "None",
    "Ok",
    "Err",
    "Serialize",
    "Deserialize",
    "std",
    "serde",
    "serde_json",
];

const PRIMITIVES: &[&str] = &[
    "String", "Option", "Vec", "Box", "bool", "i32", "i64", "f64", "u8", "str",
];

fn check_items(items: &[syn::Item], module: &str, problems: &mut Vec<String>) {
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let mut values: BTreeMap<String, usize> = BTreeMap::new();
    let mut defined: BTreeSet<String> = BTreeSet::new();
    let mut child_types: Option<BTreeSet<String>> = None;
    for item in items {
        match item {
            syn::Item::Struct(s) => {
                let name = s.ident.to_string();
                *types.entry(name.clone()).or_default() += 1;
                defined.insert(name.clone());
                check_fields(&s.fields, &format!("{module}::{name}"), problems);
            }
            syn::Item::Enum(e) => {
                let name = e.ident.to_string();
                *types.entry(name.clone()).or_default() += 1;
                defined.insert(name.clone());
                let mut variants = BTreeSet::new();
                let mut wires = BTreeSet::new();
                for v in &e.variants {
                    if !variants.insert(v.ident.to_string()) {
                        problems.push(format!("{module}::{name}: duplicate variant {}", v.ident));
                    }
                    let wire = serde_rename(&v.attrs).unwrap_or_else(|| v.ident.to_string());
                    if !wires.insert(wire.clone()) {
                        problems.push(format!("{module}::{name}: duplicate wire value {wire:?}"));
                    }
                }
            }
            syn::Item::Mod(m) => {
                *types.entry(m.ident.to_string()).or_default() += 1;
                if let Some((_, inner)) = &m.content {
                    let inner_module = format!("{module}::{}", m.ident);
                    check_items(inner, &inner_module, problems);
                    if m.ident == "types" {
                        child_types = Some(
                            inner
                                .iter()
                                .filter_map(|i| match i {
                                    syn::Item::Struct(s) => Some(s.ident.to_string()),
                                    syn::Item::Enum(e) => Some(e.ident.to_string()),
                                    _ => None,
                                })
                                .collect(),
                        );
                    }
                }
            }
            syn::Item::Use(u) => {
                let mut names = Vec::new();
                use_leaves(&u.tree, &mut names);
                for n in names {
                    *types.entry(n).or_default() += 1;
                }
            }
            syn::Item::Trait(t) => *types.entry(t.ident.to_string()).or_default() += 1,
            syn::Item::Type(t) => *types.entry(t.ident.to_string()).or_default() += 1,
            syn::Item::Static(s) => *values.entry(s.ident.to_string()).or_default() += 1,
            syn::Item::Const(c) => *values.entry(c.ident.to_string()).or_default() += 1,
            syn::Item::Fn(f) => *values.entry(f.sig.ident.to_string()).or_default() += 1,
            _ => {}
        }
    }
    for (name, n) in types.iter().chain(values.iter()) {
        if *n > 1 {
            problems.push(format!("{module}: {name} is defined {n} times"));
        }
    }
    for name in &defined {
        if RESERVED_TYPE_NAMES.contains(&name.as_str()) {
            problems.push(format!(
                "{module}: generated type {name} shadows a name the generated code uses"
            ));
        }
    }
    // Every type a field mentions must exist.
    let owners = items
        .iter()
        .flat_map(|item| -> Vec<(&syn::Ident, &syn::Fields)> {
            match item {
                syn::Item::Struct(s) => vec![(&s.ident, &s.fields)],
                // Untagged enums hold their branch types in tuple variants.
                syn::Item::Enum(e) => e.variants.iter().map(|v| (&e.ident, &v.fields)).collect(),
                _ => Vec::new(),
            }
        });
    for (owner, fields) in owners {
        for field in fields {
            let mut paths = Vec::new();
            type_paths(&field.ty, &mut paths);
            for path in paths {
                let missing = match path.as_slice() {
                    [single] => {
                        !(PRIMITIVES.contains(&single.as_str()) || defined.contains(single))
                    }
                    [first, name] if first == "types" => child_types
                        .as_ref()
                        .is_none_or(|t| !t.contains(name.as_str())),
                    _ => false,
                };
                if missing {
                    problems.push(format!(
                        "{module}::{}: field type mentions {} which is not defined",
                        owner,
                        path.join("::")
                    ));
                }
            }
        }
    }
}

fn check_fields(fields: &syn::Fields, owner: &str, problems: &mut Vec<String>) {
    let mut idents = BTreeSet::new();
    let mut wires = BTreeSet::new();
    for field in fields {
        let Some(ident) = &field.ident else { continue };
        if !idents.insert(ident.to_string()) {
            problems.push(format!("{owner}: duplicate field {ident}"));
        }
        let wire = serde_rename(&field.attrs).unwrap_or_else(|| ident.to_string());
        if !wires.insert(wire.clone()) {
            problems.push(format!("{owner}: duplicate wire name {wire:?}"));
        }
    }
}

/// The `rename = "..."` of a `#[serde(...)]` attribute, if any.
fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                found = Some(lit.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    found
}

fn use_leaves(tree: &syn::UseTree, out: &mut Vec<String>) {
    match tree {
        syn::UseTree::Path(p) => use_leaves(&p.tree, out),
        syn::UseTree::Name(n) => out.push(n.ident.to_string()),
        syn::UseTree::Rename(r) => out.push(r.rename.to_string()),
        syn::UseTree::Glob(_) => {}
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_leaves(t, out)),
    }
}

/// Every path a type mentions (`Option<types::X>` gives `[Option]` and `[types, X]`).
fn type_paths(ty: &syn::Type, out: &mut Vec<Vec<String>>) {
    if let syn::Type::Path(p) = ty {
        out.push(
            p.path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect(),
        );
        for seg in &p.path.segments {
            if let syn::PathArguments::AngleBracketed(args) = &seg.arguments {
                for arg in &args.args {
                    if let syn::GenericArgument::Type(inner) = arg {
                        type_paths(inner, out);
                    }
                }
            }
        }
    }
}

/// The parsed `types` module of a product file.
pub fn types_module(file: &syn::File) -> &[syn::Item] {
    file.items
        .iter()
        .find_map(|i| match i {
            syn::Item::Mod(m) if m.ident == "types" => {
                m.content.as_ref().map(|(_, c)| c.as_slice())
            }
            _ => None,
        })
        .unwrap_or(&[])
}

/// Names of the structs and enums in a list of items.
pub fn item_names(items: &[syn::Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Struct(s) => Some(s.ident.to_string()),
            syn::Item::Enum(e) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// One field of a generated struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Rust identifier.
    pub ident: String,
    /// Wire name (`serde(rename)`, else the identifier).
    pub wire: String,
    /// Type, printed without spaces (`Option<types::X>`).
    pub ty: String,
}

/// The fields of struct `name` in `items`.
pub fn struct_fields(items: &[syn::Item], name: &str) -> Vec<FieldInfo> {
    use quote::ToTokens;
    items
        .iter()
        .find_map(|i| match i {
            syn::Item::Struct(s) if s.ident == name => Some(
                s.fields
                    .iter()
                    .map(|f| {
                        let ident = f
                            .ident
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        FieldInfo {
                            wire: serde_rename(&f.attrs).unwrap_or_else(|| ident.clone()),
                            ident,
                            ty: f.ty.to_token_stream().to_string().replace(' ', ""),
                        }
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no struct {name}"))
}

/// The field `ident` of struct `name`.
pub fn field(items: &[syn::Item], name: &str, ident: &str) -> FieldInfo {
    struct_fields(items, name)
        .into_iter()
        .find(|f| f.ident == ident)
        .unwrap_or_else(|| panic!("struct {name} has no field {ident}"))
}

/// `(variant ident, wire value)` of enum `name` in `items`.
pub fn enum_variants(items: &[syn::Item], name: &str) -> Vec<(String, String)> {
    items
        .iter()
        .find_map(|i| match i {
            syn::Item::Enum(e) if e.ident == name => Some(
                e.variants
                    .iter()
                    .map(|v| {
                        (
                            v.ident.to_string(),
                            serde_rename(&v.attrs).unwrap_or_default(),
                        )
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no enum {name}"))
}

/// `(variant, branch type)` of an untagged enum (tuple variants).
pub fn untagged_variants(items: &[syn::Item], name: &str) -> Vec<(String, String)> {
    items
        .iter()
        .find_map(|i| match i {
            syn::Item::Enum(e) if e.ident == name => Some(
                e.variants
                    .iter()
                    .map(|v| {
                        let ty = v
                            .fields
                            .iter()
                            .next()
                            .map(|f| {
                                let ty = &f.ty;
                                quote::quote!(#ty).to_string().replace(' ', "")
                            })
                            .unwrap_or_default();
                        (v.ident.to_string(), ty)
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no enum {name}"))
}
