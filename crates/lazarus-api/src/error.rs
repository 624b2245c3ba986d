//! API errors, rendered the way Masakari renders its faults.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lazarus_store::StoreError;
use serde_json::json;

/// An error answer: a status and a human-readable message, rendered as Masakari's fault
/// body `{"badRequest": {"code": 400, "message": "..."}}` (the key depends on the status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed or refers to something that must exist.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: the resource does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// Masakari's name for a fault of this status.
    fn fault_name(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "badRequest",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "itemNotFound",
            StatusCode::METHOD_NOT_ALLOWED => "badMethod",
            StatusCode::CONFLICT => "conflictingRequest",
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => "overLimit",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "badMediaType",
            StatusCode::NOT_IMPLEMENTED => "notImplemented",
            StatusCode::SERVICE_UNAVAILABLE => "serviceUnavailable",
            _ => "masakariFault",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({ self.fault_name(): { "code": self.status.as_u16(), "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => ApiError::not_found(match kind {
                "segment" => format!("No failover segment with id {id}."),
                "host" => format!("No host with id {id}."),
                "notification" => format!("No notification with id {id}."),
                "vmove" => format!("No vm move with id {id}."),
                other => format!("No {other} with id {id}."),
            }),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::Invalid(m) => ApiError::bad_request(m),
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "store unavailable while serving the API");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The store is unavailable; try again later.",
                )
            }
            StoreError::Fatal(m) => {
                tracing::error!(critical = true, error = %m, "store failed while serving the API");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The store failed; an operator has been alerted.",
                )
            }
        }
    }
}
