//! The request log kept for test assertions: a ring of the newest records
//! ([`DEFAULT_REQUEST_LOG_CAP`] by default, generous for tests; `serve
//! --sandbox` keeps fewer), counting those it dropped.

use std::collections::VecDeque;
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

/// How many records the log keeps by default (about 500 bytes each): more
/// than any test sends, yet bounded.
pub const DEFAULT_REQUEST_LOG_CAP: usize = 200_000;

/// The newest recorded requests, oldest first, at most `cap` of them.
#[derive(Debug)]
pub(crate) struct RequestLog {
    records: VecDeque<RecordedRequest>,
    cap: usize,
    dropped: u64,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self {
            records: VecDeque::new(),
            cap: DEFAULT_REQUEST_LOG_CAP,
            dropped: 0,
        }
    }
}

impl RequestLog {
    /// Records `request`, dropping the oldest record when full.
    pub(crate) fn push(&mut self, request: RecordedRequest) {
        if self.records.len() >= self.cap {
            self.records.pop_front();
            self.dropped += 1;
        }
        self.records.push_back(request);
    }

    /// The records kept, oldest first.
    pub(crate) fn records(&self) -> Vec<RecordedRequest> {
        self.records.iter().cloned().collect()
    }

    /// Forgets every record and the dropped count.
    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.dropped = 0;
    }

    /// At most `cap` records from now on (at least 1); the oldest beyond it go now.
    pub(crate) fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
        while self.records.len() > self.cap {
            self.records.pop_front();
            self.dropped += 1;
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// How many records were dropped to stay within the cap.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}
