//! `/v1/segments/{segment_id}/hosts`: the hosts of a segment.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lazarus_store::{HostFilter, HostUpdate, NewHost};
use serde_json::json;

use crate::compute::ComputeCheckError;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::ApiState;
use crate::validate::{envelope, parse_body};
use crate::views;

const FIELDS: &[&str] = &[
    "name",
    "type",
    "control_attributes",
    "reserved",
    "on_maintenance",
];

async fn check_compute(state: &ApiState, name: &str) -> Result<(), ApiError> {
    state.compute.validate(name).await.map_err(|e| match e {
        ComputeCheckError::NotFound(_) => ApiError::bad_request(e.to_string()),
        ComputeCheckError::Unavailable(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    })
}

/// `GET /v1/segments/{sid}/hosts`: filters `name`, `type`, `control_attributes`,
/// `on_maintenance`, `reserved`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    Path(segment_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref());
    let query = p.list_query(state.config.max_limit)?;
    let filter_maintenance = p.bool("on_maintenance")?;
    let filter_reserved = p.bool("reserved")?;
    let seg = state.store.get_segment(&segment_id).await?;
    let filter = HostFilter {
        failover_segment_id: Some(seg.uuid.clone()),
        name: p.get("name").map(str::to_owned),
        host_type: p.get("type").map(str::to_owned),
        control_attributes: p.get("control_attributes").map(str::to_owned),
        on_maintenance: filter_maintenance,
        reserved: filter_reserved,
    };
    let hosts = state.store.list_hosts(&filter, &query).await?;
    let body: Vec<_> = hosts.iter().map(|h| views::host(h, &seg)).collect();
    Ok(Json(json!({ "hosts": body })).into_response())
}

/// `GET /v1/segments/{sid}/hosts/{id}`.
pub(crate) async fn show(
    State(state): State<ApiState>,
    Path((segment_id, host_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let seg = state.store.get_segment(&segment_id).await?;
    let host = state.store.get_host(&seg.uuid, &host_id).await?;
    Ok(Json(json!({ "host": views::host(&host, &seg) })).into_response())
}

/// `POST /v1/segments/{sid}/hosts`: 201.
pub(crate) async fn create(
    State(state): State<ApiState>,
    Path(segment_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    let o = envelope(&body, "host")?;
    o.only(FIELDS)?;
    o.require(&["name", "type", "control_attributes"])?;
    let new = NewHost {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: o.name("name")?.unwrap_or_default(),
        host_type: o.alnum("type")?.unwrap_or_default(),
        control_attributes: o.text("control_attributes")?.unwrap_or_default(),
        reserved: o.boolean("reserved")?.unwrap_or(false),
        on_maintenance: o.boolean("on_maintenance")?.unwrap_or(false),
    };
    let seg = state.store.get_segment(&segment_id).await?;
    check_compute(&state, &new.name).await?;
    let host = state
        .store
        .create_host(&seg.uuid, new, state.clock.now())
        .await?;
    tracing::info!(host = %host.name, segment = %seg.uuid, "host added");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "host": views::host(&host, &seg) })),
    )
        .into_response())
}

/// `PUT /v1/segments/{sid}/hosts/{id}`.
pub(crate) async fn update(
    State(state): State<ApiState>,
    Path((segment_id, host_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    let o = envelope(&body, "host")?;
    o.only(FIELDS)?;
    o.any_of(FIELDS)?;
    let update = HostUpdate {
        name: o.name("name")?,
        host_type: o.alnum("type")?,
        control_attributes: o.text("control_attributes")?,
        reserved: o.boolean("reserved")?,
        on_maintenance: o.boolean("on_maintenance")?,
    };
    let seg = state.store.get_segment(&segment_id).await?;
    let current = state.store.get_host(&seg.uuid, &host_id).await?;
    if let Some(name) = &update.name {
        if name != &current.name {
            check_compute(&state, name).await?;
        }
    }
    let host = state
        .store
        .update_host(&seg.uuid, &current.uuid, update, state.clock.now())
        .await?;
    tracing::info!(host = %host.name, segment = %seg.uuid, "host updated");
    Ok(Json(json!({ "host": views::host(&host, &seg) })).into_response())
}

/// `DELETE /v1/segments/{sid}/hosts/{id}`: 204.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Path((segment_id, host_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let seg = state.store.get_segment(&segment_id).await?;
    state
        .store
        .delete_host(&seg.uuid, &host_id, state.clock.now())
        .await?;
    tracing::info!(host = %host_id, segment = %seg.uuid, "host removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
