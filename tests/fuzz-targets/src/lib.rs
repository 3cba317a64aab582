//! The bodies of gojira's fuzz targets, as plain functions of bytes.
//!
//! `fuzz/` (cargo-fuzz, its own workspace) calls each for millions of
//! libFuzzer-made inputs (`scripts/fuzz.sh`); `tests/properties.rs` calls the
//! same functions for a bounded number of proptest-made inputs under
//! `cargo test`, which is what CI runs. A target fails by panicking: a panic
//! anywhere in the code under test (including a spawned task, which tokio
//! would otherwise swallow: see [`panics`]) or a broken property assertion.
//!
//! | target | input | drives |
//! |---|---|---|
//! | [`mcp_jsonrpc`] | a raw POST body, or a sequence of JSON-RPC exchanges decoded from the bytes | the real axum router (`transport::router`) in-process, local mode, an embedded store, every product pointed at a refused loopback port |
//! | [`tool_args`] | a tool index and arguments (JSON bytes, or generated from the tool's schema) | `Tool::validate` and the generated builder; a built path must match the tool's template, one non-empty, non-dot segment per parameter |
//! | [`tools_yaml`] | tools.yaml text | `gojira_codegen::generate` against a tiny spec |
//! | [`spec_loading`] | spec bytes | codegen's `Spec::parse`, lookups and generation over the spec's operations; the fake's spec loader and self-check |
//!
//! Setup failures (no temp dir, no runtime) panic: this crate is test
//! support, and a panic is how a fuzz target reports.

#![allow(clippy::panic, clippy::expect_used)]

mod json;
pub mod panics;

mod codegen_targets;
mod mcp;
mod tool_args;

pub use codegen_targets::{spec_loading, tools_yaml};
pub use mcp::mcp_jsonrpc;
pub use tool_args::{path_matches_template, tool_args};

/// The tiny OpenAPI spec `tools_yaml` generates against (also a seed of
/// `spec_loading`).
pub const TINY_SPEC: &str = include_str!("../data/tiny-spec.json");

/// An excerpt of the real tools.yaml that generates cleanly against
/// [`TINY_SPEC`] (a seed of `tools_yaml`).
pub const TOOLS_YAML_EXCERPT: &str = include_str!("../data/tools.yaml");
