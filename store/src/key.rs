//! Namespaced keys: `gojira:{kind}:{id}` (with an optional deployment prefix).

use std::fmt;

/// What a key holds. Adding a kind is adding a variant, so every stored
/// record is accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// One-time OAuth authorization codes we issued.
    OauthCode,
    /// One-time `state` values (ours and upstream).
    OauthState,
    /// Registered OAuth clients.
    OauthClient,
    /// Access/refresh token records (hashed ids).
    Token,
    /// Encrypted upstream credentials.
    Credential,
    /// Session / request-state handles.
    Session,
    /// Token buckets.
    Bucket,
    /// Counters.
    Counter,
    /// Locks.
    Lock,
    /// Cached reads.
    Cache,
    /// Audit events.
    Audit,
    /// Operation-journal indexes (the chain head, outcome links, checkpoints).
    Journal,
    /// Tests only.
    Test,
}

impl Kind {
    /// The namespace segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OauthCode => "oauth_code",
            Kind::OauthState => "oauth_state",
            Kind::OauthClient => "oauth_client",
            Kind::Token => "token",
            Kind::Credential => "credential",
            Kind::Session => "session",
            Kind::Bucket => "bucket",
            Kind::Counter => "counter",
            Kind::Lock => "lock",
            Kind::Cache => "cache",
            Kind::Audit => "audit",
            Kind::Journal => "journal",
            Kind::Test => "test",
        }
    }
}

/// A namespaced key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    kind: Kind,
    id: String,
}

impl Key {
    /// A key of `kind` named `id`.
    pub fn new(kind: Kind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The id within the kind.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gojira:{}:{}", self.kind.as_str(), self.id)
    }
}
