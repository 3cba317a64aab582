//! Errors of the fake.

use std::path::PathBuf;

/// Everything that can go wrong while loading specs or starting the server.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// None of the known spec files is present in the directory.
    #[error(
        "no Atlassian OpenAPI spec found in {dir}: expected one or more of {expected} \
         (run `cargo xtask fetch-specs` or set GOJIRA_SPECS_DIR)"
    )]
    NoSpecs {
        /// The directory that was searched.
        dir: PathBuf,
        /// The file names that were looked for, comma-separated.
        expected: String,
    },
    /// A spec file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A spec file is not JSON.
    #[error("{path} is not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A spec file is JSON but not an OpenAPI 3 document the fake understands.
    #[error("{path} is not a usable OpenAPI 3 document: {reason}")]
    InvalidSpec {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A seed file (see `FakeAtlassian::with_seed`) is not usable.
    #[error("the seed is not usable: {reason}")]
    InvalidSeed {
        /// What is wrong.
        reason: String,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The requested port (0 = ephemeral).
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
}
