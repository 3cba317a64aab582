//! Fault injection: canned answers for matching requests, before routing.

use std::time::Duration;

use serde_json::Value;

/// A canned answer for matching requests (see [`crate::FakeHandle::inject`]).
///
/// A fault matches a request when every criterion that is set matches:
/// `method` (case-insensitive), `path_prefix` (a prefix of the request path,
/// or equal to the operation label), `route_prefix` (a prefix of the path
/// below `/ex/{product}/{cloudId}`, or of the path off the gateway), `operation` (the full label such as
/// `jira-platform#getProject`, or just the operationId). The first matching
/// fault answers: after `delay`, with `status`, `headers` and `body`
/// (default `{"errorMessages":["injected fault"]}`), or, for [`Fault::reset`],
/// by dropping the connection without an answer, or, for
/// [`Fault::echo_authorization`], with an error body that echoes the
/// request's `Authorization` header (as a careless upstream or proxy
/// might). `times` counts down;
/// `None` keeps the fault until [`crate::FakeHandle::clear_faults`].
/// A request answered by a fault is recorded with the principal and
/// credential kind its `Authorization` header authenticates as.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Only this HTTP method (any when `None`).
    pub method: Option<String>,
    /// Only paths starting with this (or the operation with this label).
    pub path_prefix: Option<String>,
    /// Only requests whose path below `/ex/{product}/{cloudId}` (or whose
    /// path, off the gateway) starts with this.
    pub route_prefix: Option<String>,
    /// Only this operation (label or operationId).
    pub operation: Option<String>,
    /// Status to answer.
    pub status: u16,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(String, String)>,
    /// Response body (JSON); `None` = `{"errorMessages":["injected fault"]}`.
    pub body: Option<Value>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Answer this many times, then disappear (`None` = until cleared).
    pub times: Option<u32>,
    /// Close the connection without answering (after `delay`); the request
    /// is recorded with status 0.
    pub reset: bool,
    /// Answer `status` with a body that echoes the request's
    /// `Authorization` header, and the credential inside it, instead of `body`.
    pub echo_authorization: bool,
}

impl Default for Fault {
    fn default() -> Self {
        Self {
            method: None,
            path_prefix: None,
            route_prefix: None,
            operation: None,
            status: 500,
            headers: Vec::new(),
            body: None,
            delay: Duration::ZERO,
            times: None,
            reset: false,
            echo_authorization: false,
        }
    }
}

impl Fault {
    /// A fault answering `status` to every request (narrow it with the builders).
    pub fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// A fault that drops the connection without answering (a connection
    /// reset as the client sees it). Served over HTTP only: the in-process
    /// [`crate::FakeAtlassian::call`] unwinds instead.
    pub fn reset() -> Self {
        Self {
            reset: true,
            ..Self::default()
        }
    }

    /// A fault answering `status` with an error body that echoes the
    /// request's `Authorization` header in Atlassian's error shapes
    /// (`errorMessages`, `errors.authorization`, `message`), plus the
    /// credential it carries (the bearer token, or Basic's decoded
    /// `email:token`).
    pub fn echo_authorization(status: u16) -> Self {
        Self {
            status,
            echo_authorization: true,
            ..Self::default()
        }
    }

    /// Faults that make `operation` run as an asynchronous task, as
    /// Atlassian's long-running operations do: it answers `status` (202 or
    /// 303) with a `Location` header of `location` (the task) and a
    /// task body (`TaskProgressBean`: `self`, `id`, `status: ENQUEUED`);
    /// the task's endpoint (operation `poll_operation` at path `location`,
    /// so several tasks can run at once) then answers `RUNNING` once and
    /// `COMPLETE` after that. Inject them in order.
    pub fn accepted_task(
        status: u16,
        operation: &str,
        location: &str,
        poll_operation: &str,
    ) -> Vec<Self> {
        let id = location.rsplit('/').next().unwrap_or_default();
        let task = |state: &str, progress: u32| {
            serde_json::json!({
                "self": location,
                "id": id,
                "description": "Asynchronous task",
                "status": state,
                "progress": progress,
                "submitted": 1_700_000_000_000_u64,
                "lastUpdate": 1_700_000_000_000_u64,
            })
        };
        let mut done = task("COMPLETE", 100);
        done["result"] = serde_json::json!({"ok": true});
        vec![
            Self::status(status)
                .on_operation(operation)
                .with_header("Location", location)
                .with_body(task("ENQUEUED", 0))
                .times(1),
            Self::status(200)
                .on_method("GET")
                .on_operation(poll_operation)
                .on_route(location)
                .with_body(task("RUNNING", 40))
                .times(1),
            Self::status(200)
                .on_method("GET")
                .on_operation(poll_operation)
                .on_route(location)
                .with_body(done),
        ]
    }

    /// Only requests with this method.
    #[must_use]
    pub fn on_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_string());
        self
    }

    /// Only requests whose path starts with `prefix`.
    #[must_use]
    pub fn on_path(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_string());
        self
    }

    /// Only requests whose path below `/ex/{product}/{cloudId}` (or whose
    /// path, off the gateway) starts with `prefix`: the same resource
    /// whichever route a credential takes.
    #[must_use]
    pub fn on_route(mut self, prefix: &str) -> Self {
        self.route_prefix = Some(prefix.to_string());
        self
    }

    /// Only requests routed to this operation (label or operationId).
    #[must_use]
    pub fn on_operation(mut self, operation: &str) -> Self {
        self.operation = Some(operation.to_string());
        self
    }

    /// Add a response header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Answer this JSON body.
    #[must_use]
    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Wait before answering.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Answer only `n` times.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Whether this fault applies to the request.
    fn matches(&self, method: &str, path: &str, route_path: &str, label: Option<&str>) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = self
            .path_prefix
            .as_deref()
            .is_none_or(|p| path.starts_with(p) || label == Some(p));
        let route_ok = self
            .route_prefix
            .as_deref()
            .is_none_or(|p| route_path.starts_with(p));
        let op_ok = self.operation.as_deref().is_none_or(|o| {
            label.is_some_and(|l| l == o || l.rsplit_once('#').is_some_and(|(_, id)| id == o))
        });
        method_ok && path_ok && route_ok && op_ok && self.times != Some(0)
    }
}

/// Injected faults, in injection order.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    list: Vec<Fault>,
}

impl Faults {
    /// Add a fault.
    pub(crate) fn push(&mut self, fault: Fault) {
        self.list.push(fault);
    }

    /// Remove all faults.
    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }

    /// The first fault matching the request (`route_path`: its path below
    /// `/ex/{product}/{cloudId}`, or the path), counting down its `times`.
    pub(crate) fn take(
        &mut self,
        method: &str,
        path: &str,
        route_path: &str,
        label: Option<&str>,
    ) -> Option<Fault> {
        let index = self
            .list
            .iter()
            .position(|f| f.matches(method, path, route_path, label))?;
        let fault = self.list.get_mut(index)?;
        let answer = fault.clone();
        if let Some(n) = fault.times.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.list.remove(index);
            }
        }
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_count_down_and_criteria_apply() {
        let mut faults = Faults::default();
        faults.push(
            Fault::status(503)
                .on_path("/rest/api/3/project")
                .on_method("get")
                .times(2),
        );
        assert!(
            faults
                .take("POST", "/rest/api/3/project", "/rest/api/3/project", None)
                .is_none()
        );
        assert!(
            faults
                .take(
                    "GET",
                    "/rest/api/3/project/ABC",
                    "/rest/api/3/project/ABC",
                    None
                )
                .is_some()
        );
        assert!(
            faults
                .take("GET", "/rest/api/3/project", "/rest/api/3/project", None)
                .is_some()
        );
        assert!(
            faults
                .take("GET", "/rest/api/3/project", "/rest/api/3/project", None)
                .is_none()
        );
        faults.push(Fault::status(429).on_operation("getProject"));
        assert!(
            faults
                .take("GET", "/x", "/x", Some("jira-platform#getProject"))
                .is_some()
        );
        assert!(
            faults
                .take("GET", "/x", "/x", Some("jira-platform#getProjects"))
                .is_none()
        );
        assert!(faults.take("GET", "/x", "/x", None).is_none());
        faults.clear();
        faults.push(Fault::status(200).on_route("/rest/api/3/task/1"));
        assert!(
            faults
                .take(
                    "GET",
                    "/ex/jira/c1/rest/api/3/task/2",
                    "/rest/api/3/task/2",
                    None
                )
                .is_none()
        );
        assert!(
            faults
                .take(
                    "GET",
                    "/ex/jira/c1/rest/api/3/task/1",
                    "/rest/api/3/task/1",
                    None
                )
                .is_some()
        );
    }
}
