//! The tool catalog generated from `tools.yaml` and Atlassian's OpenAPI specs.
//!
//! Everything under `src/products/` and `schemas/` is written by
//! `cargo xtask regen` and never edited by hand; this file is hand-written.

#[rustfmt::skip]
mod products;

pub use products::{GROUPS, PRODUCTS, TOOLSETS};

/// Indexes the generated catalog for the runtime.
pub fn catalog() -> Result<gojira_runtime::Catalog, gojira_runtime::catalog::CatalogError> {
    gojira_runtime::Catalog::new(PRODUCTS, GROUPS, TOOLSETS)
}

/// Per-product modules, for tests and documentation.
pub mod tools {
    pub use crate::products::*;
}
