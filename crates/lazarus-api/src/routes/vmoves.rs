//! `/v1/notifications/{notification_id}/vmoves`: instance moves of a host recovery (1.3).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lazarus_store::{Notification, NotificationType, VMoveFilter, VMoveStatus, VMoveType};
use serde_json::json;

use crate::error::ApiError;
use crate::params::Params;
use crate::state::ApiState;
use crate::views;

/// Only host notifications have moves (Masakari answers 400 for the others).
async fn host_notification(state: &ApiState, id: &str) -> Result<Notification, ApiError> {
    let n = state.store.get_notification(id).await?;
    match n.notification_type {
        NotificationType::ComputeHost => Ok(n),
        NotificationType::Vm | NotificationType::Process => Err(ApiError::bad_request(format!(
            "This notification {id} without vm moves."
        ))),
    }
}

/// `GET /v1/notifications/{nid}/vmoves`: filters `status`, `type`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    Path(notification_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref());
    let query = p.list_query(state.config.max_limit)?;
    let n = host_notification(&state, &notification_id).await?;
    let status = p.get("status");
    let kind = p.get("type");
    let filter = VMoveFilter {
        notification_uuid: Some(n.notification_uuid),
        status: status.and_then(VMoveStatus::parse),
        vmove_type: kind.and_then(VMoveType::parse),
    };
    if (status.is_some() && filter.status.is_none())
        || (kind.is_some() && filter.vmove_type.is_none())
    {
        return Ok(Json(json!({ "vmoves": [] })).into_response());
    }
    let moves = state.store.list_vmoves(&filter, &query).await?;
    let body: Vec<_> = moves.iter().map(views::vmove).collect();
    Ok(Json(json!({ "vmoves": body })).into_response())
}

/// `GET /v1/notifications/{nid}/vmoves/{id}`.
pub(crate) async fn show(
    State(state): State<ApiState>,
    Path((notification_id, vmove_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let n = host_notification(&state, &notification_id).await?;
    let m = state
        .store
        .get_vmove(&n.notification_uuid, &vmove_id)
        .await?;
    Ok(Json(json!({ "vmove": views::vmove(&m) })).into_response())
}
