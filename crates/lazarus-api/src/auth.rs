//! Authentication and the read/write policy.
//!
//! Every request but the version documents and the OpenAPI document is authenticated by
//! an [`Authenticator`] into a [`Principal`]; reads (GET, HEAD) need the `reader` role (or
//! `member`, or `admin`), everything else needs `admin`, as Masakari's default policy
//! says. Two authenticators exist: [`NoAuth`], only for an explicit `auth = "none"`, and
//! [`KeystoneAuth`](crate::KeystoneAuth), which validates `X-Auth-Token` with Keystone
//! and caches the answer.

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use crate::error::ApiError;
use crate::state::ApiState;

/// Who is calling, with their roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name or id.
    pub user: String,
    /// The project the token is scoped to, if any.
    pub project_id: Option<String>,
    /// Keystone role names.
    pub roles: Vec<String>,
}

impl Principal {
    fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// Whether the principal may read (reader, member or admin).
    pub fn may_read(&self) -> bool {
        self.has("reader") || self.has("member") || self.has("admin")
    }

    /// Whether the principal may change things (admin).
    pub fn may_write(&self) -> bool {
        self.has("admin")
    }
}

/// Turns a request's credentials into a principal.
#[async_trait]
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// The caller of a request with these headers.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError>;
}

/// Why a request could not be authenticated.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials (401).
    #[error("Authentication required.")]
    Missing,
    /// Credentials refused (401).
    #[error("Authentication failed: {0}")]
    Invalid(String),
    /// The identity service could not be asked (503; retryable).
    #[error("The identity service is unavailable: {0}")]
    Unavailable(String),
}

/// No authentication: every caller is an administrator. Only for `auth = "none"` set
/// explicitly in the configuration (tests, or an API bound to loopback behind a proxy
/// that authenticates).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl Authenticator for NoAuth {
    async fn authenticate(&self, _headers: &HeaderMap) -> Result<Principal, AuthError> {
        Ok(Principal {
            user: "anonymous".into(),
            project_id: None,
            roles: vec!["admin".into()],
        })
    }
}

/// Whether a path is served without authentication (version discovery, API description).
fn is_public(path: &str) -> bool {
    matches!(path, "/" | "/v1" | "/v1/" | "/openapi.json")
}

/// Middleware: authenticates, applies the read/write policy, and leaves the principal in
/// the request's extensions.
pub(crate) async fn authorize(
    State(state): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let principal = match state.auth.authenticate(req.headers()).await {
        Ok(p) => p,
        Err(e) => {
            let status = match e {
                AuthError::Missing | AuthError::Invalid(_) => StatusCode::UNAUTHORIZED,
                AuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            return ApiError::new(status, e.to_string()).into_response();
        }
    };
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let allowed = if read {
        principal.may_read()
    } else {
        principal.may_write()
    };
    if !allowed {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Policy doesn't allow {} {} to be performed.",
                req.method(),
                req.uri().path()
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}
