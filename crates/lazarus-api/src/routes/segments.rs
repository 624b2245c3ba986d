//! `/v1/segments`: failover segments.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lazarus_store::{NewSegment, RecoveryMethod, SegmentFilter, SegmentUpdate};
use serde_json::json;

use crate::error::ApiError;
use crate::params::Params;
use crate::state::ApiState;
use crate::validate::{envelope, parse_body};
use crate::version::ApiVersion;
use crate::views;

const FIELDS_1_0: &[&str] = &["name", "description", "recovery_method", "service_type"];
const FIELDS_1_2: &[&str] = &[
    "name",
    "description",
    "recovery_method",
    "service_type",
    "enabled",
];

fn fields(v: ApiVersion) -> &'static [&'static str] {
    if v.at_least(1, 2) {
        FIELDS_1_2
    } else {
        FIELDS_1_0
    }
}

fn recovery_method(s: Option<&str>) -> Option<RecoveryMethod> {
    s.and_then(RecoveryMethod::parse)
}

/// `GET /v1/segments`: filters `recovery_method`, `service_type`, `enabled`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref());
    let query = p.list_query(state.config.max_limit)?;
    let method = p.get("recovery_method");
    let filter = SegmentFilter {
        recovery_method: recovery_method(method),
        service_type: p.get("service_type").map(str::to_owned),
        enabled: p.bool("enabled")?,
    };
    // An unknown recovery method matches nothing, as in Masakari.
    if method.is_some() && filter.recovery_method.is_none() {
        return Ok(Json(json!({ "segments": [] })).into_response());
    }
    let segments = state.store.list_segments(&filter, &query).await?;
    let body: Vec<_> = segments.iter().map(views::segment).collect();
    Ok(Json(json!({ "segments": body })).into_response())
}

/// `GET /v1/segments/{id}`.
pub(crate) async fn show(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let seg = state.store.get_segment(&id).await?;
    Ok(Json(json!({ "segment": views::segment(&seg) })).into_response())
}

/// `POST /v1/segments`: 201.
pub(crate) async fn create(
    State(state): State<ApiState>,
    Extension(version): Extension<ApiVersion>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    let o = envelope(&body, "segment")?;
    o.only(fields(version))?;
    o.require(&["name", "recovery_method", "service_type"])?;
    let name = o.name("name")?.unwrap_or_default();
    let description = o.description("description")?.flatten();
    let method = o
        .one_of("recovery_method", &RecoveryMethod::names())?
        .and_then(RecoveryMethod::parse)
        .unwrap_or(RecoveryMethod::Auto);
    let service_type = o.name("service_type")?.unwrap_or_default();
    let enabled = o.boolean("enabled")?.unwrap_or(true);
    let new = NewSegment {
        uuid: uuid::Uuid::new_v4().to_string(),
        name,
        description,
        recovery_method: method,
        service_type,
        enabled,
    };
    let seg = state.store.create_segment(new, state.clock.now()).await?;
    tracing::info!(segment = %seg.uuid, name = %seg.name, "segment created");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "segment": views::segment(&seg) })),
    )
        .into_response())
}

/// `PUT /v1/segments/{id}`.
pub(crate) async fn update(
    State(state): State<ApiState>,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    let o = envelope(&body, "segment")?;
    o.only(fields(version))?;
    o.any_of(fields(version))?;
    let update = SegmentUpdate {
        name: o.name("name")?,
        description: o.description("description")?,
        recovery_method: o
            .one_of("recovery_method", &RecoveryMethod::names())?
            .and_then(RecoveryMethod::parse),
        service_type: o.name("service_type")?,
        enabled: o.boolean("enabled")?,
    };
    let seg = state
        .store
        .update_segment(&id, update, state.clock.now())
        .await?;
    tracing::info!(segment = %seg.uuid, "segment updated");
    Ok(Json(json!({ "segment": views::segment(&seg) })).into_response())
}

/// `DELETE /v1/segments/{id}`: 204.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.store.delete_segment(&id, state.clock.now()).await?;
    tracing::info!(segment = %id, "segment deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
