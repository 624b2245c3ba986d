//! lazarus's HTTP API.
//!
//! Today: the **Masakari v1 API** (segments, hosts, notifications, vmoves) with
//! Masakari's paths (with or without a `/{project_id}` prefix), bodies, status codes,
//! filters, paging, sorting and `OpenStack-API-Version: instance-ha` microversions up to
//! 1.3, so openstacksdk's `instance_ha` proxy, python-masakariclient and masakari-monitors
//! work unchanged. The API only records and hands over: an accepted notification is stored
//! with status `new` and passed to a [`NotificationSink`]; what happens next is the
//! controller's business, not this crate's.
//!
//! Everything the API depends on is a trait in [`ApiState`]: the [`Store`], the sink, the
//! [`ComputeHostValidator`] (is this name a nova-compute?), the [`Authenticator`] and the
//! [`Clock`].
//!
//! [`Store`]: lazarus_store::Store

pub mod auth;
pub mod clock;
pub mod compute;
pub mod error;
pub mod keystone;
mod openapi;
pub mod params;
pub mod routes;
pub mod sink;
pub mod state;
pub mod validate;
pub mod version;
pub mod views;

use std::future::Future;

use axum::extract::Request;
use axum::http::Uri;
use axum::Router;
use tokio::net::TcpListener;
use tower::util::MapRequestLayer;
use tower::Layer;

pub use auth::{AuthError, Authenticator, NoAuth, Principal};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compute::{AllowAllComputeHosts, ComputeCheckError, ComputeHostValidator};
pub use error::ApiError;
pub use keystone::KeystoneAuth;
pub use sink::{ChannelSink, NoopSink, NotificationSink, SinkError};
pub use state::{ApiConfig, ApiState};
pub use version::ApiVersion;

/// The project id a request named in its path (`/v1/{project_id}/...`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectId(pub String);

/// The collections that may follow `/v1/` directly; anything else there is a project id.
const COLLECTIONS: &[&str] = &["segments", "notifications"];

/// Rewrites `/v1/{project_id}/rest` to `/v1/rest` (keeping the project id in the request's
/// extensions), since Masakari serves every route with and without the project id.
fn strip_project_id(mut req: Request) -> Request {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/v1/") else {
        return req;
    };
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if first.is_empty() || COLLECTIONS.contains(&first) {
        return req;
    }
    let project = first.to_owned();
    let new_path = if tail.is_empty() {
        "/v1".to_owned()
    } else {
        format!("/v1/{tail}")
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
            req.extensions_mut().insert(ProjectId(project));
        }
    }
    req
}

/// The API as a service: the router behind the project-id rewriting.
pub type App = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// The API as a service, ready for `oneshot` in tests or for [`serve`].
pub fn app(state: ApiState) -> App {
    MapRequestLayer::new(strip_project_id as fn(Request) -> Request).layer(routes::router(state))
}

/// Serves the API on `listener` until the process ends.
pub async fn serve(listener: TcpListener, state: ApiState) -> std::io::Result<()> {
    serve_with_shutdown(listener, state, std::future::pending()).await
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::ServiceExt as _;
    let service = app(state).into_make_service();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}
