//! The tool catalog generated from `tools.yaml` and Atlassian's OpenAPI specs.
//!
//! Everything under `src/products/` and `schemas/` is written by
//! `cargo xtask regen` and never edited by hand; this file is hand-written.

#[rustfmt::skip]
mod products;

/// The generated statics the runtime indexes, with
/// `gojira_runtime::Catalog::new(PRODUCTS, GROUPS, TOOLSETS)` (this crate
/// does not depend on the runtime, so that a runtime edit does not rebuild it).
pub use products::{GROUPS, PRODUCTS, TOOLSETS};

/// Per-product modules, for tests and documentation.
pub mod tools {
    pub use crate::products::*;
}

/// The Atlassian endpoints gojira's identity checks use (the runtime names
/// no product): the current user (`gojira.bindApiToken` checks a token with
/// it) and a user's organization role assignments (the org-admin gate).
pub const IDENTITY_ENDPOINTS: gojira_catalog_types::IdentityEndpoints =
    gojira_catalog_types::IdentityEndpoints {
        myself_base: "{jira}",
        myself_path: "/rest/api/3/myself",
        org_role_assignments: "/v2/orgs/{orgId}/directories/-/users/{accountId}/role-assignments",
        org_admin_role: "atlassian/org-admin",
    };
