//! `--sandbox`: an in-process fake Atlassian and the configuration that
//! points every product at it, so a newcomer can try every tool without an
//! Atlassian account. The fake starts from a small realistic tenant (its
//! seed, `tests/fake-atlassian/seed/tenant.json`: projects, schemes, fields,
//! filters, boards, service desks, Assets, Confluence spaces, an org) whose
//! main resources are stateful, so a write shows in later reads and a revert
//! puts real values back; the rest is synthesized from the specs. With the
//! specs at hand the fake validates requests against them; without (a fresh
//! clone) it serves the catalog's routes leniently and says so. In oauth mode
//! (the default) the fake is also the Atlassian authorization server (it
//! consents as its default user, an org admin), so an MCP client walks the
//! whole sign-in; with `GOJIRA_AUTH_MODE=local` one sandbox credential serves
//! everyone.

use std::collections::BTreeMap;

use anyhow::Context;
use fake_atlassian::{FakeAtlassian, FakeHandle, RouteDef};
use gojira_runtime::Catalog;

/// The sandbox's fake keeps its newest 10 000 requests (about 5 MB): it
/// may run for weeks, and nothing reads older ones.
const SANDBOX_REQUEST_LOG_CAP: usize = 10_000;

/// Starts the fake and fills in the upstream variables the config reads.
pub async fn start(
    catalog: &Catalog,
    vars: &mut BTreeMap<String, String>,
    oauth: bool,
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
    }
    .with_seed()
    .context("sandbox: loading the seeded tenant")?
    .with_request_log_cap(SANDBOX_REQUEST_LOG_CAP);
    let handle = fake
        .serve(0)
        .await
        .context("sandbox: starting the fake Atlassian")?;
    let base = handle.base_url();
    for (key, value) in [
        ("ATLASSIAN_SITE_URL", base.as_str()),
        ("ATLASSIAN_API_BASE_URL", base.as_str()),
        // The seeded tenant's Assets workspace.
        ("GOJIRA_ASSETS_WORKSPACE_ID", "sandbox-workspace"),
        ("GOJIRA_ENABLE_ORG_ADMIN", "true"),
    ] {
        vars.insert(key.to_owned(), value.to_owned());
    }
    vars.remove("ATLASSIAN_ACCESS_TOKEN");
    if oauth {
        for (key, value) in [
            ("ATLASSIAN_AUTH_BASE_URL", base.as_str()),
            (
                "ATLASSIAN_OAUTH_CLIENT_ID",
                fake_atlassian::DEFAULT_CLIENT_ID,
            ),
            (
                "ATLASSIAN_OAUTH_CLIENT_SECRET",
                fake_atlassian::DEFAULT_CLIENT_SECRET,
            ),
            ("GOJIRA_ORG_ID", fake_atlassian::DEFAULT_ORG_ID),
            (
                "GOJIRA_ORG_ADMIN_TOKEN",
                fake_atlassian::DEFAULT_ORG_ADMIN_KEY,
            ),
        ] {
            vars.insert(key.to_owned(), value.to_owned());
        }
        // Each user binds their own token (gojira.bindApiToken); the sandbox
        // site is the one the fake grants at sign-in.
        for key in [
            "ATLASSIAN_EMAIL",
            "ATLASSIAN_API_TOKEN",
            "ATLASSIAN_CLOUD_ID",
        ] {
            vars.remove(key);
        }
        if vars
            .get("GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET")
            .is_none_or(|t| t.trim().is_empty())
        {
            let data_dir = vars
                .get("GOJIRA_DATA_DIR")
                .filter(|d| !d.trim().is_empty())
                .map_or("./data", String::as_str);
            let target = format!(
                "file:{}",
                std::path::Path::new(data_dir)
                    .join("org-admin-audit.log")
                    .display()
            );
            vars.insert("GOJIRA_ORG_ADMIN_AUDIT_LOG_TARGET".to_owned(), target);
        }
    } else {
        for (key, value) in [
            ("ATLASSIAN_EMAIL", "sandbox@example.com"),
            ("ATLASSIAN_API_TOKEN", "sandbox-token"),
            ("ATLASSIAN_CLOUD_ID", "sandbox-cloud"),
            // The seeded tenant's organization.
            ("GOJIRA_ORG_ID", fake_atlassian::DEFAULT_ORG_ID),
            ("GOJIRA_ORG_ADMIN_TOKEN", "sandbox-org-key"),
        ] {
            vars.insert(key.to_owned(), value.to_owned());
        }
    }
    // The sandbox enables every group that holds a tool unless the operator
    // narrowed it (an empty group is refused at start-up).
    if vars
        .get("GOJIRA_ENABLED_GROUPS")
        .is_none_or(|g| g.trim().is_empty())
    {
        let all = crate::groups_with_tools(catalog)
            .into_iter()
            .collect::<Vec<_>>()
            .join(",");
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
                response_schema: tool
                    .output_schema()
                    .map(|m| &**m)
                    .cloned()
                    .map(serde_json::Value::Object),
            })
        })
        .collect()
}
