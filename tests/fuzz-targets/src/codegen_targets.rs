//! `tools_yaml` and `spec_loading`: the generator's and the fake's readers
//! of untrusted text. Diagnostics and errors are fine; panics are not.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use fake_atlassian::{FakeAtlassian, KNOWN_SPECS};
use gojira_codegen::spec::{Lookup, Spec};

use crate::{TINY_SPEC, panics};

/// The spec files a fuzzed tools.yaml may name: the tiny spec under the
/// real file names (so an excerpt of the real tools.yaml resolves), and one
/// that is not JSON.
fn specs() -> &'static BTreeMap<String, Vec<u8>> {
    static SPECS: OnceLock<BTreeMap<String, Vec<u8>>> = OnceLock::new();
    SPECS.get_or_init(|| {
        let mut specs = BTreeMap::new();
        for name in ["jira-platform.json", "org-admin.json", "fx.json"] {
            specs.insert(name.to_owned(), TINY_SPEC.as_bytes().to_vec());
        }
        specs.insert("broken.json".to_owned(), b"{\"openapi\": ".to_vec());
        specs
    })
}

/// tools.yaml text (lossy UTF-8) through `manifest::parse` and the whole
/// generator (lowering, safety checks, emitting, CATALOG.md).
pub fn tools_yaml(data: &[u8]) {
    panics::watch();
    let _one = panics::one_at_a_time();
    let before = panics::count();
    let text = String::from_utf8_lossy(data);
    let _ = gojira_codegen::manifest::parse("tools.yaml", &text);
    let output = gojira_codegen::generate("tools.yaml", &text, specs());
    // Every file the generator emits without errors is meant to compile.
    if !output.has_errors() {
        for file in output.files.iter().filter(|f| f.path.ends_with(".rs")) {
            assert!(
                syn_parses(&file.contents),
                "{} does not parse although the generator reported no error",
                file.path
            );
        }
    }
    panics::assert_none_since(before, "generating from this tools.yaml");
}

fn syn_parses(source: &str) -> bool {
    syn::parse_file(source).is_ok()
}

/// Spec bytes through codegen (`Spec::parse`, lookups, and generation of a
/// manifest that names up to six of the spec's operations) and through the
/// fake (loading as one of its known specs, picked by the length, and its
/// self-check, which compiles every schema and synthesizes answers).
pub fn spec_loading(data: &[u8]) {
    panics::watch();
    let _one = panics::one_at_a_time();
    let before = panics::count();
    if let Ok(spec) = Spec::parse("fx.json", data) {
        let mut manifest = String::from(
            "products:\n  fx: {title: Fuzz, spec: fx.json, base_url: \"{api}/admin\", auth: org_admin}\n\
             groups:\n  admin_fx: {access: admin, product: Fuzz, description: Everything}\ntools:\n",
        );
        for (i, op) in spec.operations.iter().take(6).enumerate() {
            if let Some(id) = &op.operation_id {
                let _ = matches!(spec.lookup(id), Lookup::Found(_));
            }
            let reference = format!("{} {}", op.method.as_str(), op.path);
            let _ = spec.lookup(&reference);
            let reference = serde_json::to_string(&format!("fx#{reference}")).unwrap_or_default();
            let _ = write!(
                manifest,
                "  - name: fx.op{i}\n    operation: {reference}\n    group: admin_fx\n    title: Op {i}\n    description: Operation {i}.\n"
            );
            if op.method.as_str() != "GET" {
                manifest.push_str("    consent: none\n    revert: {irreversible: fuzz}\n");
            }
        }
        let _ = spec.lookup("nosuchOperation");
        let mut specs = BTreeMap::new();
        specs.insert("fx.json".to_owned(), data.to_vec());
        let _ = gojira_codegen::generate("tools.yaml", &manifest, &specs);
    }
    let file = KNOWN_SPECS[data.len() % KNOWN_SPECS.len()];
    if let Ok(fake) = FakeAtlassian::from_spec_bytes(file, data) {
        let _ = fake.operations();
        let _ = fake.self_check();
    }
    panics::assert_none_since(before, "loading this spec");
}
