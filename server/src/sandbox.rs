//! `--sandbox`: an in-process fake Atlassian and the configuration that
//! points every product at it, so a newcomer can try every tool without an
//! Atlassian account. With the specs at hand the fake validates requests
//! against them; without (a fresh clone) it serves the catalog's routes
//! leniently and says so.

use std::collections::BTreeMap;

use anyhow::Context;
use fake_atlassian::{FakeAtlassian, FakeHandle, RouteDef};
use gojira_runtime::Catalog;

/// Starts the fake and fills in the upstream variables the config reads.
pub async fn start(
    catalog: &Catalog,
    vars: &mut BTreeMap<String, String>,
) -> anyhow::Result<FakeHandle> {
    // An explicit GOJIRA_SPECS_DIR is the operator's choice, even when it lacks the files.
    let specs_dir = match vars
        .get("GOJIRA_SPECS_DIR")
        .filter(|d| !d.trim().is_empty())
    {
        Some(dir) => {
            Some(std::path::PathBuf::from(dir)).filter(|d| d.join("jira-platform.json").is_file())
        }
        None => fake_atlassian::find_specs_dir(),
    };
    let fake = match specs_dir {
        Some(dir) => FakeAtlassian::load(&dir)
            .with_context(|| format!("sandbox: loading the specs in {}", dir.display()))?,
        None => {
            eprintln!(
                "sandbox: no Atlassian spec files found (run `cargo xtask fetch-specs` or set GOJIRA_SPECS_DIR); \
                 the fake answers the catalog's routes without validating requests"
            );
            FakeAtlassian::from_routes(routes(catalog))
        }
    };
    let handle = fake
        .serve(0)
        .await
        .context("sandbox: starting the fake Atlassian")?;
    let base = handle.base_url();
    for (key, value) in [
        ("ATLASSIAN_SITE_URL", base.as_str()),
        ("ATLASSIAN_API_BASE_URL", base.as_str()),
        ("ATLASSIAN_EMAIL", "sandbox@example.com"),
        ("ATLASSIAN_API_TOKEN", "sandbox-token"),
        ("ATLASSIAN_CLOUD_ID", "sandbox-cloud"),
        ("GOJIRA_ASSETS_WORKSPACE_ID", "sandbox-workspace"),
        ("GOJIRA_ORG_ID", "sandbox-org"),
        ("GOJIRA_ENABLE_ORG_ADMIN", "true"),
        ("GOJIRA_ORG_ADMIN_TOKEN", "sandbox-org-key"),
    ] {
        vars.insert(key.to_owned(), value.to_owned());
    }
    vars.remove("ATLASSIAN_ACCESS_TOKEN");
    // The sandbox enables every group unless the operator narrowed it.
    if vars
        .get("GOJIRA_ENABLED_GROUPS")
        .is_none_or(|g| g.trim().is_empty())
    {
        let all = catalog.groups.keys().copied().collect::<Vec<_>>().join(",");
        vars.insert("GOJIRA_ENABLED_GROUPS".to_owned(), all);
    }
    Ok(handle)
}

/// Routes for the lenient fake: each tool's path under its product's base path.
fn routes(catalog: &Catalog) -> Vec<RouteDef> {
    catalog
        .tools
        .values()
        .filter_map(|tool| {
            let product = catalog.products.get(tool.spec.product)?;
            // `{jira}/wiki/api/v2` → `/wiki/api/v2`: drop the host variable.
            let base_path = product
                .base_url
                .strip_prefix('{')
                .and_then(|rest| rest.split_once('}'))
                .map_or(product.base_url, |(_, path)| path);
            Some(RouteDef {
                method: tool.spec.method.as_str().to_owned(),
                path: format!("{base_path}{}", tool.spec.path),
                operation: tool.spec.operation.to_owned(),
                response_schema: tool.output_schema.clone().map(serde_json::Value::Object),
            })
        })
        .collect()
}
