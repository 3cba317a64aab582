//! The error model at the edge: a typed tool error with a stable code and a
//! message that says what to do next. It becomes an MCP tool result with
//! `isError: true`, never a protocol error.

use std::fmt;

use serde_json::{Value, json};

/// Stable error codes clients and tests may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Arguments failed validation.
    InvalidArguments,
    /// The server lacks configuration for this tool.
    NotConfigured,
    /// Atlassian rejected the request (4xx).
    UpstreamRejected,
    /// Atlassian's credential was rejected (401).
    UpstreamUnauthorized,
    /// The caller lacks permission upstream (403).
    UpstreamForbidden,
    /// Not found upstream (404).
    UpstreamNotFound,
    /// Rate-limited upstream (429).
    UpstreamRateLimited,
    /// Atlassian failed or could not be reached (5xx, network).
    UpstreamUnavailable,
    /// The call's deadline passed.
    Timeout,
    /// Atlassian's answer is larger than gojira reads (16 MiB): ask for less.
    ResponseTooLarge,
    /// A `commit` write was called with `commit: true` but no preview digest.
    ConsentRequired,
    /// The target changed since the preview: the digest no longer matches.
    PlanChanged,
    /// A revert would overwrite a change made after the original write.
    RevertConflict,
    /// The journal could not record the write, so it was not sent.
    JournalUnavailable,
    /// A bug or an impossible state.
    Internal,
    /// No Atlassian authorization is stored for the caller: sign in again.
    NotConnected,
    /// The caller's Atlassian authorization expired or was revoked: sign in again.
    ReconsentNeeded,
    /// The caller is not allowed this (e.g. not an org admin).
    InsufficientPermissions,
    /// The caller has no access to the site this server is pinned to.
    SiteNotAllowed,
    /// The tool needs the caller's own API token (`gojira.bindApiToken`).
    ApiTokenRequired,
    /// The caller's token lacks the OAuth scope this needs: sign in again granting it.
    InsufficientScope,
    /// Nothing of gojira's own state (e.g. a journal entry) answers to that id.
    NotFound,
    /// A write declared `refuse_when_used` found what it changes still in use.
    InUse,
}

impl ErrorCode {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArguments => "INVALID_ARGUMENTS",
            ErrorCode::NotConfigured => "NOT_CONFIGURED",
            ErrorCode::UpstreamRejected => "UPSTREAM_REJECTED",
            ErrorCode::UpstreamUnauthorized => "UPSTREAM_UNAUTHORIZED",
            ErrorCode::UpstreamForbidden => "UPSTREAM_FORBIDDEN",
            ErrorCode::UpstreamNotFound => "UPSTREAM_NOT_FOUND",
            ErrorCode::UpstreamRateLimited => "UPSTREAM_RATE_LIMITED",
            ErrorCode::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            ErrorCode::ConsentRequired => "CONSENT_REQUIRED",
            ErrorCode::PlanChanged => "PLAN_CHANGED",
            ErrorCode::RevertConflict => "REVERT_CONFLICT",
            ErrorCode::JournalUnavailable => "JOURNAL_UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::NotConnected => "NOT_CONNECTED",
            ErrorCode::ReconsentNeeded => "RECONSENT_NEEDED",
            ErrorCode::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            ErrorCode::SiteNotAllowed => "SITE_NOT_ALLOWED",
            ErrorCode::ApiTokenRequired => "API_TOKEN_REQUIRED",
            ErrorCode::InsufficientScope => "INSUFFICIENT_SCOPE",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InUse => "IN_USE",
        }
    }
}

/// A tool failure.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ToolError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human message including the next step.
    pub message: String,
    /// Upstream HTTP status, when there was one.
    pub status: Option<u16>,
    /// Structured detail for the caller (e.g. the new preview when a plan changed).
    pub details: Option<Value>,
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl ToolError {
    /// An error with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: None,
            details: None,
        }
    }

    /// An error with a code of the write path and structured detail.
    pub fn with_code(code: ErrorCode, message: impl Into<String>, details: Option<Value>) -> Self {
        Self {
            details,
            ..Self::new(code, message)
        }
    }

    /// Bad arguments.
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArguments, message)
    }

    /// Missing configuration.
    pub fn not_configured(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotConfigured, message)
    }

    /// Network or 5xx.
    pub fn upstream_unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::UpstreamUnavailable, message)
    }

    /// Deadline passed.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Timeout, message)
    }

    /// A bug.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Maps a non-2xx Atlassian answer to a tool error naming the status,
    /// Atlassian's own messages and the next step. Secret-named fields and
    /// credentials in the body are redacted first (an upstream or a proxy
    /// may echo the request's `Authorization` header); the caller redacts
    /// the credentials it knows ([`crate::redact::error`]).
    pub fn from_upstream_status(
        operation: &str,
        status: u16,
        body: Option<&Value>,
        retry_after: Option<&str>,
        request_id: Option<&str>,
    ) -> Self {
        let details = body
            .map(|body| {
                let mut body = body.clone();
                crate::redact::fields(&mut body, &crate::redact::Known::new());
                atlassian_messages(&body)
            })
            .unwrap_or_default();
        let (code, next) = match status {
            400 | 422 => (ErrorCode::UpstreamRejected, "fix the arguments Atlassian names above and call again".to_owned()),
            401 => (ErrorCode::UpstreamUnauthorized, "the Atlassian credential was rejected; the operator must renew it".to_owned()),
            403 => (ErrorCode::UpstreamForbidden, "the Atlassian account lacks permission for this operation; ask an admin to grant it".to_owned()),
            404 => (ErrorCode::UpstreamNotFound, "check the id or key (a list or search tool can find it)".to_owned()),
            409 => (ErrorCode::UpstreamRejected, "the resource changed or already exists; read it again before retrying".to_owned()),
            429 => (
                ErrorCode::UpstreamRateLimited,
                match retry_after {
                    Some(s) => format!("Atlassian is rate-limiting; wait {s} s before retrying"),
                    None => "Atlassian is rate-limiting; wait before retrying".to_owned(),
                },
            ),
            s if s >= 500 => (ErrorCode::UpstreamUnavailable, "Atlassian is failing; retry later".to_owned()),
            _ => (ErrorCode::UpstreamRejected, "check the arguments and call again".to_owned()),
        };
        let mut message = format!("{operation} failed with HTTP {status}");
        if !details.is_empty() {
            message.push_str(": ");
            message.push_str(&details.join("; "));
        }
        message.push_str(". Next: ");
        message.push_str(&next);
        if let Some(id) = request_id {
            message.push_str(&format!(" (Atlassian trace id {id})"));
        }
        if let std::borrow::Cow::Owned(clean) =
            crate::redact::text(&message, &crate::redact::Known::new())
        {
            message = clean;
        }
        Self {
            code,
            message,
            status: Some(status),
            details: None,
        }
    }

    /// The structured form sent in `structuredContent`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"error": {"code": self.code.as_str(), "message": self.message}});
        if let (Some(status), Some(err)) = (
            self.status,
            v.get_mut("error").and_then(Value::as_object_mut),
        ) {
            err.insert("status".into(), json!(status));
        }
        if let (Some(details), Some(err)) = (
            &self.details,
            v.get_mut("error").and_then(Value::as_object_mut),
        ) {
            err.insert("details".into(), details.clone());
        }
        v
    }
}

/// Collects the human messages from Atlassian's several error shapes
/// (Jira `errorMessages`/`errors`, Confluence/org `errors[]`, JSM `errorMessage`, `message`).
pub fn atlassian_messages(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(list) = body.get("errorMessages").and_then(Value::as_array) {
        out.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    match body.get("errors") {
        Some(Value::Object(fields)) => {
            for (field, msg) in fields {
                if let Some(msg) = msg.as_str() {
                    out.push(format!("{field}: {msg}"));
                }
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                let text = ["detail", "title", "message", "code"]
                    .iter()
                    .find_map(|k| item.get(*k).and_then(Value::as_str));
                if let Some(text) = text {
                    out.push(text.to_owned());
                }
            }
        }
        _ => {}
    }
    for key in ["errorMessage", "message", "error_description"] {
        if let Some(text) = body.get(key).and_then(Value::as_str) {
            out.push(text.to_owned());
        }
    }
    if out.is_empty()
        && let Some(text) = body.as_str()
    {
        out.push(text.chars().take(300).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_error_shape_is_read_with_the_next_step() {
        let body =
            json!({"errorMessages": ["Project ABC not found"], "errors": {"key": "too long"}});
        let e =
            ToolError::from_upstream_status("product#getThing", 404, Some(&body), None, Some("t1"));
        assert_eq!(e.code, ErrorCode::UpstreamNotFound);
        assert!(e.message.contains("HTTP 404"));
        assert!(e.message.contains("Project ABC not found"));
        assert!(e.message.contains("key: too long"));
        assert!(e.message.contains("Next:"));
        assert!(e.message.contains("t1"));
    }

    #[test]
    fn an_echoed_authorization_header_is_not_repeated() {
        let body = json!({
            "errorMessages": ["Authorization: Basic ZTJlQGV4YW1wbGU6c2VjcmV0 was not accepted"],
            "errors": {"authorization": "Bearer abc.DEF-123456", "credential": "e@x:t0ken-123"},
            "message": "sent Bearer abc.DEF-123456"
        });
        let e = ToolError::from_upstream_status("op", 401, Some(&body), None, None);
        for secret in ["ZTJlQGV4YW1wbGU6c2VjcmV0", "abc.DEF-123456", "t0ken-123"] {
            assert!(!e.message.contains(secret), "{}", e.message);
        }
        assert!(
            e.message.contains("authorization: [redacted]"),
            "{}",
            e.message
        );
    }

    #[test]
    fn confluence_and_rate_limit_shapes() {
        let body = json!({"errors": [{"status": 400, "title": "Invalid space key"}]});
        assert_eq!(atlassian_messages(&body), vec!["Invalid space key"]);
        let e = ToolError::from_upstream_status("x", 429, None, Some("7"), None);
        assert_eq!(e.code, ErrorCode::UpstreamRateLimited);
        assert!(e.message.contains("wait 7 s"));
    }
}
