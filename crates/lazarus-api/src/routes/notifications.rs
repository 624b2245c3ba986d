//! `/v1/notifications`: failure reports from monitors.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lazarus_store::model::notification::DuplicateWindow;
use lazarus_store::{
    NewNotification, NotificationFilter, NotificationStatus, NotificationType, StoreError,
};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::params::Params;
use crate::state::ApiState;
use crate::validate::{envelope, parse_body, Obj};
use crate::version::ApiVersion;
use crate::views;

/// Masakari's `EventType`, `HostStatusType` and `ClusterStatusType`.
const EVENTS: &[&str] = &["STARTED", "STOPPED"];
const HOST_STATUSES: &[&str] = &["NORMAL", "UNKNOWN"];
const CLUSTER_STATUSES: &[&str] = &["ONLINE", "OFFLINE"];

/// The generic payload schema: an object of short string values under short keys.
fn check_payload_shape(payload: &Value) -> Result<Obj<'_>, ApiError> {
    let o = Obj::at(payload, "notification/payload")?;
    for (k, v) in o.map() {
        let key_ok = (1..=255).contains(&k.chars().count())
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | ' '));
        if !key_ok {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute notification/payload. Value: {payload}. \
                 Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        match v {
            Value::String(s) if s.chars().count() <= 255 => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid input for field/attribute notification/payload/{k}. Value: {v}. \
                     {v} is not of type 'string' of at most 255 characters"
                )))
            }
        }
    }
    Ok(o)
}

/// The payload schema of each notification type.
fn check_payload(kind: NotificationType, payload: &Value) -> Result<(), ApiError> {
    let o = check_payload_shape(payload)?;
    match kind {
        NotificationType::ComputeHost => {
            o.only(&["host_status", "cluster_status", "event"])?;
            o.require(&["event"])?;
            o.one_of("event", EVENTS)?;
            o.one_of("host_status", HOST_STATUSES)?;
            o.one_of("cluster_status", CLUSTER_STATUSES)?;
        }
        NotificationType::Process => {
            o.only(&["process_name", "event"])?;
            o.require(&["process_name", "event"])?;
            o.bounded("process_name", 1, 4096)?;
            o.one_of("event", EVENTS)?;
        }
        NotificationType::Vm => {
            o.only(&["instance_uuid", "vir_domain_event", "event"])?;
            o.require(&["instance_uuid", "vir_domain_event", "event"])?;
            o.uuid("instance_uuid")?;
            o.bounded("vir_domain_event", 1, 255)?;
            o.bounded("event", 1, 255)?;
        }
    }
    Ok(())
}

/// `POST /v1/notifications`: 202; 400 for a bad body or an unknown host, 409 for a host
/// on maintenance or a duplicate.
pub(crate) async fn create(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    let o = envelope(&body, "notification")?;
    o.only(&["type", "hostname", "generated_time", "payload"])?;
    o.require(&["type", "hostname", "generated_time", "payload"])?;
    let kind = o
        .one_of("type", &NotificationType::names())?
        .and_then(NotificationType::parse)
        .ok_or_else(|| ApiError::bad_request("'type' is a required property"))?;
    let hostname = o.hostname("hostname")?.unwrap_or_default();
    let generated_time = o
        .datetime("generated_time")?
        .ok_or_else(|| ApiError::bad_request("'generated_time' is a required property"))?;
    let payload = o.map().get("payload").cloned().unwrap_or(Value::Null);
    check_payload(kind, &payload)?;

    let host = match state.store.get_host_by_name(&hostname).await {
        Ok(h) => h,
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::bad_request(format!(
                "Host with name {hostname} could not be found."
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if host.on_maintenance {
        return Err(ApiError::conflict(format!(
            "Notification received from host {hostname} of type '{kind}' is ignored as the \
             host is already under maintenance."
        )));
    }
    let new = NewNotification {
        notification_uuid: uuid::Uuid::new_v4().to_string(),
        notification_type: kind,
        hostname,
        generated_time,
        payload,
        status: NotificationStatus::New,
        source_host_uuid: host.uuid.clone(),
        failover_segment_uuid: host.failover_segment_id.clone(),
    };
    let window = DuplicateWindow(state.config.duplicate_window);
    let n = state
        .store
        .create_notification(new, window, state.clock.now())
        .await?;
    tracing::info!(
        notification = %n.notification_uuid,
        host = %n.hostname,
        kind = %n.notification_type,
        "notification accepted"
    );
    if let Err(e) = state.sink.accepted(&n).await {
        tracing::error!(
            notification = %n.notification_uuid,
            error = %e,
            "accepted notification not handed to the controller; it stays new in the store"
        );
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "notification": views::notification(&n, false) })),
    )
        .into_response())
}

/// `GET /v1/notifications`: filters `status`, `source_host_uuid`, `type`,
/// `generated-since`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref());
    let query = p.list_query(state.config.max_limit)?;
    let generated_since = p.time(&["generated-since", "generated_since"])?;
    let status = p.get("status");
    let kind = p.get("type");
    let filter = NotificationFilter {
        statuses: status
            .and_then(NotificationStatus::parse)
            .into_iter()
            .collect(),
        source_host_uuid: p.get("source_host_uuid").map(str::to_owned),
        failover_segment_uuid: None,
        notification_type: kind.and_then(NotificationType::parse),
        generated_since,
    };
    // An unknown status or type matches nothing, as in Masakari.
    if (status.is_some() && filter.statuses.is_empty())
        || (kind.is_some() && filter.notification_type.is_none())
    {
        return Ok(Json(json!({ "notifications": [] })).into_response());
    }
    let list = state.store.list_notifications(&filter, &query).await?;
    let body: Vec<_> = list.iter().map(|n| views::notification(n, false)).collect();
    Ok(Json(json!({ "notifications": body })).into_response())
}

/// `GET /v1/notifications/{id}`: with `recovery_workflow_details` from 1.1.
pub(crate) async fn show(
    State(state): State<ApiState>,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let n = state.store.get_notification(&id).await?;
    let body = views::notification(&n, version.at_least(1, 1));
    Ok(Json(json!({ "notification": body })).into_response())
}
