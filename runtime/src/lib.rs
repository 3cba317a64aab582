//! gojira-mcp's runtime: serves a generated tool catalog over MCP.
//!
//! Architecture invariant: this crate knows nothing about Jira or any other
//! Atlassian product. It defines the types generated code fills in
//! ([`catalog`]), and executes whatever the catalog describes.
//!
//! Module map:
//! - [`catalog`]: `ToolSpec` and friends (filled by `gojira-generated`), the indexed catalog, argument validation;
//! - [`builtin`]: gojira's own tools (group `utility`), hand-written;
//! - [`config`]: environment configuration, validated at start-up;
//! - [`upstream`]: the HTTP client toward Atlassian;
//! - [`pacing`]: limit-aware pacing of upstream requests (token buckets, pauses);
//! - [`shape`]: one pagination shape (`cursor`/`limit`/`nextCursor`) and trimming of answer noise;
//! - [`inbound`]: limits on MCP requests per principal and per client id;
//! - [`error`]: the tool error model (stable codes, next steps);
//! - [`redact`]: one redaction (known secrets, credential patterns, secret-named fields) for results, errors, the journal and the audit log;
//! - [`identity`]: who a call acts for (local credential or the bearer's user), per-user upstream credentials, org-admin checks and audit, site pinning;
//! - [`server`]: the `rmcp` `ServerHandler`;
//! - [`transport`]: Streamable HTTP (axum) and stdio;
//! - [`safety`], [`write`], [`journal`]: safe writes: consent bound to a preview, a hash-chained journal, revert;
//! - [`telemetry`]: tracing to stderr.

pub mod builtin;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod error;
pub mod identity;
pub mod impact;
pub mod inbound;
pub mod journal;
pub mod listener;
mod native_consent;
pub mod pacing;
pub mod redact;
pub mod safety;
pub mod server;
pub mod shape;
pub mod telemetry;
pub mod transport;
pub mod upstream;
pub mod write;

pub use catalog::Catalog;
pub use config::Config;
pub use server::{GojiraServer, ServerState};
