//! Diagnostics: every problem the generator finds, with a location a person
//! can jump to (a tools.yaml line or a JSON pointer into a spec).

use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Generation of the affected tool failed; regen fails.
    Error,
    /// Something was degraded (e.g. a schema typed as `serde_json::Value`).
    Warning,
}

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// A place in tools.yaml.
    Manifest {
        /// File name as given to the generator.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The tool the problem belongs to.
        tool: Option<String>,
    },
    /// A place in a spec, as a JSON pointer.
    Spec {
        /// Spec file name.
        file: String,
        /// RFC 6901 pointer.
        pointer: String,
    },
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub location: Location,
    /// What, and what to do about it.
    pub message: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            location,
            message: message.into(),
        }
    }

    /// A warning.
    pub fn warning(location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            location,
            message: message.into(),
        }
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.location {
            Location::Manifest {
                file,
                line,
                column,
                tool,
            } => {
                write!(f, "{file}:{line}:{column}: {level}")?;
                if let Some(tool) = tool {
                    write!(f, " [{tool}]")?;
                }
            }
            Location::Spec { file, pointer } => write!(f, "{file}#{pointer}: {level}")?,
        }
        write!(f, ": {}", self.message)
    }
}

/// Escapes one JSON-pointer token (RFC 6901).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
