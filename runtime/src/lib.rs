//! gojira-mcp's runtime: serves a generated tool catalog over MCP.
//!
//! Architecture invariant: this crate knows nothing about Jira or any other
//! Atlassian product. It defines the types generated code fills in
//! ([`catalog`]), and executes whatever the catalog describes.
//!
//! Module map, in the order one tool call walks it:
//! - [`mcp`]: the call arrives: [`mcp::listener`] (our accept loop), [`mcp::transport`] (Streamable HTTP and stdio, the auth edge, [`mcp::inbound`] limits), [`mcp::server`] (the `rmcp` `ServerHandler`: scopes, dispatch, native consent);
//! - [`identity`]: who the call acts for (local credential or the bearer's user), per-user upstream credentials, org-admin checks and audit, site pinning;
//! - [`builtin`]: gojira's own tools (group `utility`), hand-written;
//! - [`writes`]: a write's path: plan and digest, consent bound to a preview, [`writes::journal`] (hash-chained) before send, revert, recovery; [`writes::safety`] reads the declarations;
//! - [`upstream`]: the HTTP client toward Atlassian, with [`upstream::pacing`] (limit-aware token buckets, pauses), [`upstream::cache`] (the read cache) and [`upstream::shape`] (one pagination shape, trimming of answer noise);
//! - [`state`]: what every step shares: [`ServerState`] and the call's [`CallContext`];
//! - foundations every layer may use: [`catalog`] (`ToolSpec` and friends, filled by `gojira-generated`; the indexed catalog, argument validation), [`config`] (environment configuration, validated at start-up), [`error`] (stable codes, next steps), [`redact`] (one redaction for results, errors, the journal and the audit log), [`digest`] (canonical JSON digests), [`telemetry`] (tracing to stderr).
//!
//! Layering (checked by `runtime_layering_holds`, a `tidy` test in xtask): foundations import no
//! other module; `upstream`, `writes::journal` and `writes::safety` import
//! only foundations; `state` and `identity` nothing above them; `writes` and
//! `builtin` nothing from `mcp`.

pub mod builtin;
pub mod catalog;
pub mod config;
pub mod digest;
pub mod error;
pub mod identity;
pub mod mcp;
pub mod redact;
pub mod state;
pub mod telemetry;
pub mod upstream;
pub mod writes;

// The paths before the folders, for the binary, the tests and other crates.
pub use mcp::{inbound, listener, server, transport};
pub use upstream::{cache, pacing, shape};
pub use writes as write;
pub use writes::{journal, safety};

pub use catalog::Catalog;
pub use config::Config;
pub use mcp::server::GojiraServer;
pub use state::{CallContext, ServerState};
