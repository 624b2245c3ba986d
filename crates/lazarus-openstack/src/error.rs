//! The errors of every call to OpenStack, sorted by what the caller can do about them.

use std::fmt;
use std::time::Duration;

use crate::microversion::Microversion;

/// Which request failed: method, path (without the endpoint), and the
/// `x-openstack-request-id` the service gave it, to find it in the service's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// HTTP method.
    pub method: String,
    /// Path and query below the endpoint, such as `/os-services/<uuid>`.
    pub path: String,
    /// The service's request id, if it answered at all.
    pub request_id: Option<String>,
}

impl fmt::Display for RequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(id) = &self.request_id {
            write!(f, " ({id})")?;
        }
        Ok(())
    }
}

/// Why a call to OpenStack failed.
///
/// One enum for every call, because the caller acts on the kind of failure, not on the
/// call: retry later ([`CloudError::is_retryable`]), do something first (force the
/// service down before evacuating, restart the compute before lifting forced_down), or
/// give up and record why.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The service did not answer within the configured timeout. Retryable; note that
    /// a write may still have happened.
    #[error("{request}: no answer within {after:?}")]
    Timeout {
        /// The request that timed out.
        request: RequestInfo,
        /// The configured timeout.
        after: Duration,
    },

    /// The service could not be reached (connection refused or reset, DNS, TLS).
    /// Retryable.
    #[error("{request}: cannot reach the service: {source}")]
    Unreachable {
        /// The request that could not be sent.
        request: RequestInfo,
        /// What the HTTP client saw.
        #[source]
        source: reqwest::Error,
    },

    /// The service failed (5xx other than 501). Retryable.
    #[error("{request}: service error {status}: {message}")]
    ServerError {
        /// The request.
        request: RequestInfo,
        /// The HTTP status.
        status: u16,
        /// The service's explanation.
        message: String,
    },

    /// The service asked us to slow down (429). Retryable after a pause.
    #[error("{request}: rate limited: {message}")]
    RateLimited {
        /// The request.
        request: RequestInfo,
        /// The service's explanation.
        message: String,
    },

    /// 409: the resource is in a state that forbids the call right now (a server in a
    /// task such as `migrating`, a Placement generation that moved on). Retryable once
    /// the state has moved on; re-read the state first.
    #[error("{request}: conflict: {message}")]
    Conflict {
        /// The request.
        request: RequestInfo,
        /// The service's explanation.
        message: String,
    },

    /// Nova refused to evacuate because the source compute service is not down yet
    /// (400 `ComputeServiceInUse`). Retryable after the service has been forced down
    /// (or has missed `service_down_time`).
    #[error("{request}: the source compute service is still up: {message}")]
    ComputeServiceInUse {
        /// The request.
        request: RequestInfo,
        /// Nova's explanation.
        message: String,
    },

    /// Nova refused to lift `forced_down` because evacuation records from this host are
    /// still `done` (400). Retryable once the compute has restarted, which moves them to
    /// `completed`.
    #[error("{request}: evacuation records of this host are still `done`: {message}")]
    EvacuationsStillDone {
        /// The request.
        request: RequestInfo,
        /// Nova's explanation.
        message: String,
    },

    /// 404: the resource does not exist (any more). Not retryable.
    #[error("{request}: not found: {message}")]
    NotFound {
        /// The request.
        request: RequestInfo,
        /// The service's explanation.
        message: String,
    },

    /// 403: the credentials are valid but not allowed to do this (lazarus needs an
    /// admin role). Not retryable.
    #[error("{request}: forbidden: {message}")]
    Forbidden {
        /// The request.
        request: RequestInfo,
        /// The service's explanation.
        message: String,
    },

    /// 401 even with a freshly issued token, or Keystone refused the credentials. Not
    /// retryable: the configuration is wrong.
    #[error("{request}: unauthorized: {message}")]
    Unauthorized {
        /// The request.
        request: RequestInfo,
        /// The service's explanation.
        message: String,
    },

    /// 400 for any other reason. Not retryable: the request is wrong.
    #[error("{request}: bad request: {message}")]
    BadRequest {
        /// The request.
        request: RequestInfo,
        /// The service's explanation.
        message: String,
    },

    /// Any other status (405, 406, 413, 501...). Not retryable.
    #[error("{request}: unexpected status {status}: {message}")]
    UnexpectedStatus {
        /// The request.
        request: RequestInfo,
        /// The HTTP status.
        status: u16,
        /// The service's explanation.
        message: String,
    },

    /// The request could not even be built (a malformed endpoint URL in the catalog or
    /// configuration). Not retryable.
    #[error("{request}: cannot build the request: {source}")]
    InvalidRequest {
        /// The request.
        request: RequestInfo,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },

    /// The answer was not what the API documents (not JSON, missing fields). Not
    /// retryable.
    #[error("{request}: unreadable answer: {detail}")]
    InvalidResponse {
        /// The request.
        request: RequestInfo,
        /// What was wrong with it.
        detail: String,
    },

    /// The service does not offer the microversion this call needs (for example
    /// evacuate-to-stopped needs Nova 2.95). Not retryable.
    #[error("{service} offers microversions {available}, but {what} needs at least {needed}")]
    UnsupportedMicroversion {
        /// The service type.
        service: &'static str,
        /// The call.
        what: &'static str,
        /// The oldest version the call works with.
        needed: Microversion,
        /// What the service offers, as `min-max`.
        available: String,
    },

    /// The catalog has no endpoint for this service, region and interface. Not
    /// retryable.
    #[error("no {interface} endpoint for service type {service_type}{}", region_text(.region))]
    NoEndpoint {
        /// The service type looked up.
        service_type: String,
        /// The region asked for, if any.
        region: Option<String>,
        /// The interface asked for.
        interface: String,
    },
}

fn region_text(region: &Option<String>) -> String {
    region
        .as_ref()
        .map(|r| format!(" in region {r}"))
        .unwrap_or_default()
}

impl CloudError {
    /// Whether the same call may succeed later without anyone changing the
    /// configuration. See each variant for the condition that has to clear first.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. }
            | Self::Unreachable { .. }
            | Self::ServerError { .. }
            | Self::RateLimited { .. }
            | Self::Conflict { .. }
            | Self::ComputeServiceInUse { .. }
            | Self::EvacuationsStillDone { .. } => true,
            Self::NotFound { .. }
            | Self::Forbidden { .. }
            | Self::Unauthorized { .. }
            | Self::BadRequest { .. }
            | Self::UnexpectedStatus { .. }
            | Self::InvalidRequest { .. }
            | Self::InvalidResponse { .. }
            | Self::UnsupportedMicroversion { .. }
            | Self::NoEndpoint { .. } => false,
        }
    }

    /// The failed request, when the failure came from one.
    pub fn request(&self) -> Option<&RequestInfo> {
        match self {
            Self::Timeout { request, .. }
            | Self::Unreachable { request, .. }
            | Self::ServerError { request, .. }
            | Self::RateLimited { request, .. }
            | Self::Conflict { request, .. }
            | Self::ComputeServiceInUse { request, .. }
            | Self::EvacuationsStillDone { request, .. }
            | Self::NotFound { request, .. }
            | Self::Forbidden { request, .. }
            | Self::Unauthorized { request, .. }
            | Self::BadRequest { request, .. }
            | Self::UnexpectedStatus { request, .. }
            | Self::InvalidRequest { request, .. }
            | Self::InvalidResponse { request, .. } => Some(request),
            Self::UnsupportedMicroversion { .. } | Self::NoEndpoint { .. } => None,
        }
    }

    /// Sorts a failure to get any answer: a timeout, a request that could not be
    /// built, or a transport failure (refused, reset, TLS).
    pub(crate) fn from_transport(
        request: RequestInfo,
        error: reqwest::Error,
        timeout: Duration,
    ) -> Self {
        if error.is_timeout() {
            Self::Timeout {
                request,
                after: timeout,
            }
        } else if error.is_builder() {
            Self::InvalidRequest {
                request,
                source: error,
            }
        } else {
            Self::Unreachable {
                request,
                source: error,
            }
        }
    }

    /// Sorts an HTTP error answer into a variant. `body` is the raw answer; its
    /// message is extracted from the shapes Nova, Placement and Keystone use.
    pub(crate) fn from_status(request: RequestInfo, status: u16, body: &[u8]) -> Self {
        let message = error_message(body);
        match status {
            400 if is_compute_service_in_use(&message) => {
                Self::ComputeServiceInUse { request, message }
            }
            400 if is_evacuations_still_done(&message) => {
                Self::EvacuationsStillDone { request, message }
            }
            400 => Self::BadRequest { request, message },
            401 => Self::Unauthorized { request, message },
            403 => Self::Forbidden { request, message },
            404 => Self::NotFound { request, message },
            409 => Self::Conflict { request, message },
            429 => Self::RateLimited { request, message },
            500..=599 if status != 501 => Self::ServerError {
                request,
                status,
                message,
            },
            _ => Self::UnexpectedStatus {
                request,
                status,
                message,
            },
        }
    }
}

/// Nova's `ComputeServiceInUse`: "Compute service of <host> is still in use."
fn is_compute_service_in_use(message: &str) -> bool {
    message.contains("Compute service of") && message.contains("is still in use")
}

/// Nova's refusal to un-force a host whose evacuation records are still `done`:
/// "Unable to force up host <host> as `done` evacuation migration records remain
/// associated with the host. ..."
fn is_evacuations_still_done(message: &str) -> bool {
    message.contains("Unable to force up host") || message.contains("evacuation migration records")
}

/// The human message of an error body. Nova: `{"badRequest": {"message": ..}}`;
/// Keystone: `{"error": {"message": ..}}`; Placement: `{"errors": [{"detail": ..}]}`;
/// anything else: the text itself, shortened.
pub(crate) fn error_message(body: &[u8]) -> String {
    const MAX: usize = 500;
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
        if let Some(serde_json::Value::Array(errors)) = map.get("errors") {
            let details: Vec<&str> = errors
                .iter()
                .filter_map(|e| e.get("detail").or_else(|| e.get("title"))?.as_str())
                .collect();
            if !details.is_empty() {
                return details.join("; ").trim().to_owned();
            }
        }
        for value in map.values() {
            if let Some(message) = value.get("message").and_then(|m| m.as_str()) {
                return message.trim().to_owned();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(no message)".to_owned();
    }
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RequestInfo {
        RequestInfo {
            method: "POST".into(),
            path: "/servers/x/action".into(),
            request_id: Some("req-1".into()),
        }
    }

    fn sort(status: u16, body: &str) -> CloudError {
        CloudError::from_status(request(), status, body.as_bytes())
    }

    #[test]
    fn evacuating_from_a_live_host_is_compute_service_in_use() {
        let body = r#"{"badRequest": {"code": 400,
            "message": "Compute service of compute1 is still in use."}}"#;
        let error = sort(400, body);
        assert!(
            matches!(error, CloudError::ComputeServiceInUse { .. }),
            "{error:?}"
        );
        assert!(error.is_retryable());
    }

    #[test]
    fn un_forcing_with_done_evacuations_has_its_own_variant() {
        let body = r#"{"badRequest": {"code": 400, "message": "Unable to force up host compute1 as `done` evacuation migration records remain associated with the host. Ensure the compute service has been restarted, allowing these records to move to `completed` before retrying this request."}}"#;
        let error = sort(400, body);
        assert!(
            matches!(error, CloudError::EvacuationsStillDone { .. }),
            "{error:?}"
        );
        assert!(error.is_retryable());
    }

    #[test]
    fn other_400s_are_bad_requests_with_the_message() {
        let error = sort(
            400,
            r#"{"badRequest": {"code": 400, "message": "Invalid uuid x"}}"#,
        );
        match &error {
            CloudError::BadRequest { message, .. } => assert_eq!(message, "Invalid uuid x"),
            other => panic!("{other:?}"),
        }
        assert!(!error.is_retryable());
        assert_eq!(
            error.to_string(),
            "POST /servers/x/action (req-1): bad request: Invalid uuid x"
        );
    }

    #[test]
    fn statuses_map_to_what_the_core_can_act_on() {
        let cases: [(u16, bool); 10] = [
            (401, false),
            (403, false),
            (404, false),
            (405, false),
            (409, true),
            (429, true),
            (500, true),
            (501, false),
            (502, true),
            (503, true),
        ];
        for (status, retryable) in cases {
            assert_eq!(
                sort(status, "").is_retryable(),
                retryable,
                "status {status}"
            );
        }
        assert!(matches!(sort(404, ""), CloudError::NotFound { .. }));
        assert!(matches!(sort(409, ""), CloudError::Conflict { .. }));
        assert!(matches!(
            sort(503, ""),
            CloudError::ServerError { status: 503, .. }
        ));
    }

    #[test]
    fn messages_are_read_from_each_services_error_shape() {
        let placement = r#"{"errors": [{"status": 409, "title": "Conflict",
            "detail": "resource provider generation conflict", "code": "placement.concurrent_update"}]}"#;
        assert_eq!(
            error_message(placement.as_bytes()),
            "resource provider generation conflict"
        );
        let keystone = r#"{"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}}"#;
        assert_eq!(
            error_message(keystone.as_bytes()),
            "The request you have made requires authentication."
        );
        assert_eq!(
            error_message(b"<html>502 Bad Gateway</html>"),
            "<html>502 Bad Gateway</html>"
        );
        assert_eq!(error_message(b""), "(no message)");
        assert_eq!(error_message("x".repeat(600).as_bytes()).len(), 503);
    }
}
