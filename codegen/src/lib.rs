//! gojira-mcp's code generator, as a pure function:
//! `(tools.yaml text, spec bytes) -> (files, diagnostics)`.
//!
//! Parse → lower to an IR → emit. No filesystem, no network, no async: the
//! `xtask` binary does the I/O.
//!
//! Architecture invariant: nothing in this crate panics on spec or manifest
//! input; every unsupported shape is a [`Diagnostic`].

pub mod contract;
pub mod diagnostics;
pub mod docs;
pub mod emit;
pub mod ir;
pub mod lower;
pub mod manifest;
pub mod naming;
/// The base-URL placeholders the runtime fills (shared with the runtime's
/// test by `include!`).
pub mod placeholders;
pub mod products;
pub mod safety;
pub mod schema;
pub mod spec;

use std::collections::BTreeMap;

pub use diagnostics::{Diagnostic, Location, Severity};
pub use emit::File;

/// What a generation run produced.
#[derive(Debug)]
pub struct Output {
    /// Files relative to the `generated/` crate, sorted by path.
    pub files: Vec<File>,
    /// Everything found, errors first.
    pub diagnostics: Vec<Diagnostic>,
    /// Tools emitted, per product key.
    pub tool_counts: BTreeMap<String, usize>,
    /// Every tool's contract, for regen to compare with the committed one.
    pub contract: contract::Contract,
}

impl Output {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Runs the generator. `specs` maps spec file names to their bytes; only
/// the specs the manifest names are parsed.
pub fn generate(
    manifest_file: &str,
    manifest_text: &str,
    specs: &BTreeMap<String, Vec<u8>>,
) -> Output {
    let mut diagnostics = Vec::new();
    let manifest = match manifest::parse(manifest_file, manifest_text) {
        Ok(m) => m,
        Err(d) => {
            return Output {
                files: Vec::new(),
                diagnostics: vec![d],
                tool_counts: BTreeMap::new(),
                contract: contract::Contract::default(),
            };
        }
    };
    diagnostics.extend(products::check(manifest_file, &manifest, specs));
    let mut parsed = BTreeMap::new();
    for product in manifest.products.values() {
        let spec_file = &product.spec.value;
        if parsed.contains_key(spec_file) {
            continue;
        }
        let Some(bytes) = specs.get(spec_file) else {
            continue;
        };
        match spec::Spec::parse(spec_file, bytes) {
            Ok(s) => {
                parsed.insert(spec_file.clone(), s);
            }
            Err(err) => {
                diagnostics.push(Diagnostic::error(
                    Location::Spec {
                        file: spec_file.clone(),
                        pointer: String::new(),
                    },
                    err.to_string(),
                ));
            }
        }
    }
    let catalog = lower::lower(manifest_file, &manifest, &parsed, &mut diagnostics);
    let tool_counts = catalog
        .products
        .iter()
        .map(|p| (p.key.clone(), p.tools.len()))
        .collect();
    let contract = contract::Contract::from_catalog(&catalog);
    let files = match emit::emit(&catalog) {
        Ok(mut files) => {
            match docs::catalog_markdown(&catalog) {
                Ok(contents) => files.push(File {
                    path: "CATALOG.md".into(),
                    contents,
                }),
                Err(err) => diagnostics.push(Diagnostic::error(
                    Location::Manifest {
                        file: manifest_file.to_owned(),
                        line: 0,
                        column: 0,
                        tool: None,
                    },
                    format!("internal: the catalog template failed: {err}"),
                )),
            }
            files.sort_by(|a, b| a.path.cmp(&b.path));
            files
        }
        Err(err) => {
            diagnostics.push(Diagnostic::error(
                Location::Manifest {
                    file: manifest_file.to_owned(),
                    line: 0,
                    column: 0,
                    tool: None,
                },
                format!("internal: generated code does not parse: {err}"),
            ));
            Vec::new()
        }
    };
    diagnostics.sort();
    diagnostics.dedup();
    Output {
        files,
        diagnostics,
        tool_counts,
        contract,
    }
}
