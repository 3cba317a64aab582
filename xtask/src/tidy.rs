//! Tidy checks: the architecture's dependency rules, checked against
//! `cargo metadata` so ARCHITECTURE.md cannot drift from Cargo.toml.

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::process::Command;

    use serde_json::Value;

    /// Normal (non-dev, non-build) dependencies of each workspace package.
    fn dependencies() -> BTreeMap<String, Vec<String>> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(crate::project_root())
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
        let mut deps = BTreeMap::new();
        for package in meta["packages"].as_array().expect("packages") {
            let names = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            deps.insert(
                package["name"].as_str().unwrap_or_default().to_owned(),
                names,
            );
        }
        deps
    }

    fn assert_none_of(deps: &BTreeMap<String, Vec<String>>, package: &str, forbidden: &[&str]) {
        let list = deps
            .get(package)
            .unwrap_or_else(|| panic!("package {package} exists"));
        for name in forbidden {
            assert!(
                !list.iter().any(|d| d == name),
                "{package} must not depend on {name} (ARCHITECTURE.md)"
            );
        }
    }

    #[test]
    fn dependency_rules_hold() {
        let deps = dependencies();
        // codegen is pure: no runtime, no generated code, no async, no network.
        assert_none_of(
            &deps,
            "gojira-codegen",
            &[
                "gojira-runtime",
                "gojira-generated",
                "tokio",
                "reqwest",
                "ureq",
            ],
        );
        // the runtime knows nothing of generated code or the generator.
        assert_none_of(
            &deps,
            "gojira-runtime",
            &["gojira-codegen", "gojira-generated", "openapiv3"],
        );
        // ...and mounts the authorization server rather than being part of it.
        assert!(
            deps["gojira-runtime"].iter().any(|d| d == "gojira-auth"),
            "gojira-runtime depends on gojira-auth (ARCHITECTURE.md)"
        );
        // xtask never links the runtime.
        assert_none_of(
            &deps,
            "xtask",
            &["gojira-runtime", "gojira-generated", "tokio"],
        );
        // the fake reads the specs on its own, never through the generator.
        assert_none_of(
            &deps,
            "fake-atlassian",
            &["gojira-codegen", "gojira-runtime", "openapiv3"],
        );
        // auth sits below the runtime (which depends on it).
        assert_none_of(
            &deps,
            "gojira-auth",
            &[
                "gojira-runtime",
                "gojira-codegen",
                "gojira-generated",
                "openapiv3",
            ],
        );
        // generated depends on the catalog types and serde only: not on the
        // runtime, so that a runtime edit does not rebuild it.
        let generated = &deps["gojira-generated"];
        for dep in generated {
            assert!(
                ["gojira-catalog-types", "serde", "serde_json"].contains(&dep.as_str()),
                "gojira-generated must not depend on {dep}"
            );
        }
        // the catalog types are a leaf both sides share: no runtime, generator,
        // generated code, async runtime, MCP or JSON Schema.
        assert_none_of(
            &deps,
            "gojira-catalog-types",
            &[
                "gojira-runtime",
                "gojira-codegen",
                "gojira-generated",
                "tokio",
                "rmcp",
                "jsonschema",
            ],
        );
        assert!(
            deps["gojira-runtime"]
                .iter()
                .any(|d| d == "gojira-catalog-types"),
            "gojira-runtime depends on gojira-catalog-types (ARCHITECTURE.md)"
        );
    }

    #[test]
    fn codegen_touches_no_filesystem_or_network() {
        let src = crate::project_root().join("codegen/src");
        for entry in std::fs::read_dir(&src).expect("codegen/src") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("source");
            for banned in ["std::fs", "std::net", "File::open", "std::env::var"] {
                assert!(
                    !text.contains(banned),
                    "{} uses {banned}: codegen must stay pure",
                    path.display()
                );
            }
        }
    }

    /// Every `.rs` file below `dir`.
    fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("a source directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn runtime_names_no_atlassian_product() {
        // The catalog types are the runtime's too (it re-exports them).
        let root = crate::project_root();
        let files = rust_files(&root.join("runtime/src"))
            .into_iter()
            .chain(rust_files(&root.join("catalog-types/src")));
        // Subdirectories too (`builtin/`).
        for path in files {
            let text = std::fs::read_to_string(&path).expect("source");
            for product in [
                "/rest/api/",
                "servicedeskapi",
                "/wiki/api",
                "/rest/agile",
                "getProject",
                "\"jira.",
                "\"confluence.",
            ] {
                assert!(
                    !text.contains(product),
                    "{} mentions {product:?}: the runtime must stay product-agnostic",
                    path.display()
                );
            }
        }
    }

    /// The layer of a runtime module, bottom (0) to top, as ARCHITECTURE.md's
    /// map walks a call: foundations; the leaves the state holds (`upstream`,
    /// the journal and the safety declarations); the state and who a call acts
    /// for; the call's paths (`writes`, `builtin`); `mcp`, where calls arrive.
    /// `None`: not a canonical module path (an old alias such as
    /// `crate::server` or `crate::journal`, kept in lib.rs for other crates).
    fn runtime_layer(module: &str) -> Option<u8> {
        let top = module.split("::").next().unwrap_or_default();
        match top {
            "catalog" | "config" | "digest" | "error" | "redact" | "telemetry" => Some(0),
            "upstream" => Some(1),
            "writes" if module.starts_with("writes::journal") => Some(1),
            "writes" if module.starts_with("writes::safety") => Some(1),
            "state" | "identity" => Some(2),
            "writes" | "builtin" => Some(3),
            "mcp" => Some(4),
            _ => None,
        }
    }

    /// Every `crate::` path named in the code of `text` (comments skipped).
    fn crate_paths(text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                if rest.starts_with('{') {
                    out.push((n + 1, "{".to_owned()));
                    continue;
                }
                let path: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let path = path.trim_end_matches(':').to_owned();
                out.push((n + 1, path));
            }
        }
        out
    }

    #[test]
    fn runtime_layering_holds() {
        // A module imports only its own layer or the layers below: no module
        // below the state reaches up into `writes`, `builtin` or `mcp`.
        let root = crate::project_root();
        let src = root.join("runtime/src");
        let mut problems = Vec::new();
        for path in rust_files(&src) {
            let relative = path.strip_prefix(&src).expect("below src");
            let module = relative
                .with_extension("")
                .to_string_lossy()
                .replace('/', "::")
                .trim_end_matches("::mod")
                .to_owned();
            if module == "lib" {
                continue;
            }
            let own = runtime_layer(&module).unwrap_or_else(|| {
                panic!(
                    "runtime/src/{} has no layer in runtime_layer",
                    relative.display()
                )
            });
            let text = std::fs::read_to_string(&path).expect("source");
            for (line, used) in crate_paths(&text) {
                let at = format!("runtime/src/{}:{line}", relative.display());
                if used == "{" {
                    problems.push(format!(
                        "{at}: `crate::{{...}}`: name each module (`use crate::a::b;`)"
                    ));
                    continue;
                }
                match runtime_layer(&used) {
                    None => problems.push(format!("{at}: `crate::{used}` is not a canonical path (see lib.rs)")),
                    Some(layer) if layer > own => problems.push(format!(
                        "{at}: {module} (layer {own}) uses `crate::{used}` (layer {layer}), above it"
                    )),
                    Some(_) => {}
                }
            }
        }
        assert!(
            problems.is_empty(),
            "runtime layering broken:\n{}",
            problems.join("\n")
        );
    }
}
