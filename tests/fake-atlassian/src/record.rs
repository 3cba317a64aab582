//! The request log kept for test assertions.

use std::time::SystemTime;

use serde_json::Value;

use crate::identity::CredentialKind;

/// One request as the fake saw it (every request is recorded, whatever its outcome).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path as sent (still percent-encoded), without the query string.
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The body: JSON when it parses, else the text (lossy UTF-8); `None` when empty.
    pub body: Option<Value>,
    /// The `Content-Type` header, if sent.
    pub content_type: Option<String>,
    /// `"Basic"` or `"Bearer"` when an `Authorization` header of that scheme was sent
    /// (the credential itself is never stored).
    pub auth_scheme: Option<String>,
    /// The operation label (`jira-platform#getProject`), when the path matched one.
    pub operation: Option<String>,
    /// The status the fake answered.
    pub status: u16,
    /// The validation violations (joined with `; `) when the request was rejected.
    pub violation: Option<String>,
    /// When the request arrived.
    pub at: SystemTime,
    /// Whom the credential was resolved to: an account id, or
    /// [`crate::ORG_ADMIN_PRINCIPAL`] for the org admin key (`None` when
    /// refused, and on `/authorize` and `/oauth/token`).
    pub principal: Option<String>,
    /// What the credential was recognized as (`None` without a usable
    /// `Authorization` header, and on `/authorize` and `/oauth/token`).
    pub credential_kind: Option<CredentialKind>,
    /// The `Host` header (which Atlassian host the client thought it called).
    pub host: Option<String>,
    /// The cloud id of an `/ex/{product}/{cloudId}/...` path.
    pub cloud_id: Option<String>,
}
