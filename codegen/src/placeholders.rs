// The placeholders of a product's `base_url` in tools.yaml, and the
// configuration that fills each one at run time (runtime/src/config.rs builds
// the values, runtime/src/upstream/mod.rs `base_url_for` expands them). codegen
// (src/products.rs) refuses a base URL with any other placeholder, which no
// configuration variable would fill. The runtime's test
// `fills_exactly_the_placeholders_codegen_allows` include!s this file and
// asserts its configuration fills exactly these names: change both sides
// together.
//
// This file is include!d by both crates (neither may depend on the other), so
// it holds only items: no inner attributes or `//!` docs.

/// One base-URL placeholder.
pub struct Placeholder {
    /// The name between the braces.
    pub name: &'static str,
    /// It expands to a scheme and host (and maybe a path), so it can only
    /// start a base URL.
    pub root: bool,
    /// What fills it in local mode (one configured credential).
    pub local: &'static str,
    /// What fills it in oauth mode (each caller's own credential).
    pub oauth: &'static str,
}

/// Every placeholder the runtime fills, roots first.
pub const PLACEHOLDERS: &[Placeholder] = &[
    Placeholder {
        name: "jira",
        root: true,
        local: "ATLASSIAN_SITE_URL (with ATLASSIAN_EMAIL and ATLASSIAN_API_TOKEN), or ATLASSIAN_ACCESS_TOKEN with ATLASSIAN_CLOUD_ID ({api}/ex/jira/{cloudId})",
        oauth: "{api}/ex/jira/{cloudId} of the caller's site; ATLASSIAN_SITE_URL for a caller's bound classic API token",
    },
    Placeholder {
        name: "confluence",
        root: true,
        local: "ATLASSIAN_SITE_URL (with ATLASSIAN_EMAIL and ATLASSIAN_API_TOKEN), or ATLASSIAN_ACCESS_TOKEN with ATLASSIAN_CLOUD_ID ({api}/ex/confluence/{cloudId})",
        oauth: "{api}/ex/confluence/{cloudId} of the caller's site; ATLASSIAN_SITE_URL for a caller's bound classic API token",
    },
    Placeholder {
        name: "api",
        root: true,
        local: "ATLASSIAN_API_BASE_URL (default https://api.atlassian.com)",
        oauth: "ATLASSIAN_API_BASE_URL (default https://api.atlassian.com)",
    },
    Placeholder {
        name: "cloudId",
        root: false,
        local: "ATLASSIAN_CLOUD_ID",
        oauth: "the caller's site (ATLASSIAN_PINNED_CLOUD_ID, ATLASSIAN_CLOUD_ID or the one site the caller can reach)",
    },
    Placeholder {
        name: "workspaceId",
        root: false,
        local: "GOJIRA_ASSETS_WORKSPACE_ID",
        oauth: "GOJIRA_ASSETS_WORKSPACE_ID",
    },
    Placeholder {
        name: "orgId",
        root: false,
        local: "GOJIRA_ORG_ID",
        oauth: "GOJIRA_ORG_ID",
    },
];

/// The one base URL an `org_admin` product may have: the runtime sends the
/// organization API key to org-admin products only, checks the caller's org
/// role at `<this>/v2/orgs/{orgId}/…/role-assignments` (below the base URL of
/// an org-admin product), and gates and audits calls by the auth kind; so
/// org-admin products live here and nothing else does.
pub const ORG_ADMIN_BASE_URL: &str = "{api}/admin";
