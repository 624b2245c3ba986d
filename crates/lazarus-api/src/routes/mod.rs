//! The routes of the Masakari v1 API.

pub(crate) mod hosts;
pub(crate) mod notifications;
pub(crate) mod segments;
pub(crate) mod vmoves;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::ApiState;
use crate::{auth, openapi, version};

/// Every route, as `(method, path)`, for the OpenAPI drift test.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/v1"),
    ("get", "/openapi.json"),
    ("get", "/v1/segments"),
    ("post", "/v1/segments"),
    ("get", "/v1/segments/{segment_id}"),
    ("put", "/v1/segments/{segment_id}"),
    ("delete", "/v1/segments/{segment_id}"),
    ("get", "/v1/segments/{segment_id}/hosts"),
    ("post", "/v1/segments/{segment_id}/hosts"),
    ("get", "/v1/segments/{segment_id}/hosts/{host_id}"),
    ("put", "/v1/segments/{segment_id}/hosts/{host_id}"),
    ("delete", "/v1/segments/{segment_id}/hosts/{host_id}"),
    ("get", "/v1/notifications"),
    ("post", "/v1/notifications"),
    ("get", "/v1/notifications/{notification_id}"),
    ("get", "/v1/notifications/{notification_id}/vmoves"),
    (
        "get",
        "/v1/notifications/{notification_id}/vmoves/{vmove_id}",
    ),
];

/// Largest request body accepted, as Masakari's `max_request_body_size` (112 KiB).
pub const MAX_BODY_BYTES: usize = 114_688;

/// The router, without the `/{project_id}` rewriting (see [`crate::app`]).
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(version::versions))
        .route("/v1", get(version::version_v1))
        .route("/v1/", get(version::version_v1))
        .route("/openapi.json", get(openapi::document))
        .route("/v1/segments", get(segments::list).post(segments::create))
        .route(
            "/v1/segments/{segment_id}",
            get(segments::show)
                .put(segments::update)
                .delete(segments::delete),
        )
        .route(
            "/v1/segments/{segment_id}/hosts",
            get(hosts::list).post(hosts::create),
        )
        .route(
            "/v1/segments/{segment_id}/hosts/{host_id}",
            get(hosts::show).put(hosts::update).delete(hosts::delete),
        )
        .route(
            "/v1/notifications",
            get(notifications::list).post(notifications::create),
        )
        .route(
            "/v1/notifications/{notification_id}",
            get(notifications::show),
        )
        .route(
            "/v1/notifications/{notification_id}/vmoves",
            get(vmoves::list),
        )
        .route(
            "/v1/notifications/{notification_id}/vmoves/{vmove_id}",
            get(vmoves::show),
        )
        .fallback(|| async { ApiError::not_found("The resource could not be found.") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "The method is not allowed for the requested URL.",
            )
            .into_response()
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .layer(middleware::from_fn(version::negotiate))
        .with_state(state)
}
