//! What the controller serves: the Masakari v1 API (from `lazarus-api`), the native API
//! (`/v1/lazarus/...`), `/live`, `/ready` and `/metrics`.
//!
//! Native API, reads (reader role):
//! - `GET /v1/lazarus/hosts`: every protected host, the detector's verdict and why,
//!   Nova's view, the recovery under way.
//! - `GET /v1/lazarus/recoveries`: every recovery this controller knows, newest first.
//! - `GET /v1/lazarus/recoveries/{id}`: one recovery with its step timeline (every
//!   persisted step, with timestamps) and where each instance stands.
//!
//! and operator actions (admin role; [`crate::operator_http`]):
//! - `POST /v1/lazarus/hosts/{name}/confirm-fenced`, `.../recover`, `.../return`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lazarus_api::{ApiState, AuthError, Authenticator, Principal};
use lazarus_core::engine::Record;
use lazarus_core::workflow::{InstanceStep, RecoveryRecord};
use lazarus_store::{ListQuery, SegmentFilter, Store, StoreError};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::journal::{phase_name, RecoveryIndex};
use crate::metrics::Metrics;
use crate::operator_http;
use crate::runtime::{Input, Query};
use crate::{clock, Health};

/// What the controller's own handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The engine task's inbox.
    pub engine: mpsc::Sender<Input>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Whether metrics are served.
    pub metrics_enabled: bool,
    /// Readiness inputs.
    pub health: Arc<Health>,
    /// Known recovery logs.
    pub index: RecoveryIndex,
    /// Who is calling (the native API's reads need the reader role, its operator
    /// actions the admin role; health and metrics are public, as on an admin port).
    pub auth: Arc<dyn Authenticator>,
}

/// The whole HTTP service.
pub fn router(state: AppState, api: ApiState) -> Router {
    let metrics = Arc::clone(&state.metrics);
    let native = Router::new()
        .route("/v1/lazarus/hosts", get(hosts))
        .route("/v1/lazarus/recoveries", get(recoveries))
        .route("/v1/lazarus/recoveries/{id}", get(recovery))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.auth),
            reader,
        ));
    let operator = Router::new()
        .route(
            "/v1/lazarus/hosts/{name}/confirm-fenced",
            post(operator_http::confirm_fenced),
        )
        .route(
            "/v1/lazarus/hosts/{name}/recover",
            post(operator_http::recover),
        )
        .route(
            "/v1/lazarus/hosts/{name}/return",
            post(operator_http::return_to_service),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.auth),
            writer,
        ));
    Router::new()
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .merge(native)
        .merge(operator)
        .with_state(state)
        .fallback_service(lazarus_api::app(api))
        .layer(axum::middleware::from_fn_with_state(metrics, timed))
}

/// The native API's policy: a reader (or member, or admin) may read.
async fn reader(State(auth): State<Arc<dyn Authenticator>>, req: Request, next: Next) -> Response {
    match auth.authenticate(req.headers()).await {
        Ok(p) if p.may_read() => next.run(req).await,
        Ok(_) => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "the reader role is needed"})),
        )
            .into_response(),
        Err(e) => auth_failed(&e),
    }
}

/// The native API's write policy: only an admin may act; the principal is left in the
/// request's extensions for the handler (the operator it records).
async fn writer(
    State(auth): State<Arc<dyn Authenticator>>,
    mut req: Request,
    next: Next,
) -> Response {
    match auth.authenticate(req.headers()).await {
        Ok(p) if p.may_write() => {
            req.extensions_mut().insert::<Principal>(p);
            next.run(req).await
        }
        Ok(_) => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "the admin role is needed"})),
        )
            .into_response(),
        Err(e) => auth_failed(&e),
    }
}

fn auth_failed(e: &AuthError) -> Response {
    let status = match e {
        AuthError::Missing | AuthError::Invalid(_) => StatusCode::UNAUTHORIZED,
        AuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(json!({"error": e.to_string()}))).into_response()
}

/// Records every request's latency, by method, route group and status.
async fn timed(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = route_group(req.uri().path());
    let started = tokio::time::Instant::now();
    let response = next.run(req).await;
    metrics.api_request(
        &method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// A low-cardinality name for a path.
fn route_group(path: &str) -> &'static str {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let known = |name: &str| parts.contains(&name);
    let operator_action = matches!(
        parts.last(),
        Some(&"confirm-fenced") | Some(&"recover") | Some(&"return")
    );
    if known("lazarus") && operator_action {
        "operator"
    } else if known("lazarus") {
        "native"
    } else if known("vmoves") {
        "vmoves"
    } else if known("hosts") {
        "hosts"
    } else if known("segments") {
        "segments"
    } else if known("notifications") {
        "notifications"
    } else {
        match parts.first() {
            Some(&"live") | Some(&"ready") | Some(&"metrics") => "health",
            _ => "other",
        }
    }
}

async fn live() -> &'static str {
    "live\n"
}

async fn ready(State(s): State<AppState>) -> Response {
    let store_ok = match tokio::time::timeout(
        Duration::from_secs(2),
        s.store
            .list_segments(&SegmentFilter::default(), &ListQuery::limit(1)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    };
    let cloud = s.health.cloud_status();
    let engine = s.health.is_engine_started();
    let ok = store_ok.is_ok() && cloud.is_ok() && engine;
    let body = json!({
        "ready": ok,
        "store": store_ok.err().unwrap_or_else(|| "ok".into()),
        "cloud": cloud.err().unwrap_or_else(|| "ok".into()),
        "engine": if engine { "started" } else { "starting" },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    if !s.metrics_enabled {
        return (StatusCode::NOT_FOUND, "metrics are disabled\n").into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

fn unavailable(what: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": format!("the engine did not answer: {what}")})),
    )
        .into_response()
}

async fn ask<T>(s: &AppState, make: impl FnOnce(oneshot::Sender<T>) -> Query) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    s.engine.try_send(Input::Query(make(tx))).ok()?;
    tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .ok()?
        .ok()
}

async fn hosts(State(s): State<AppState>) -> Response {
    match ask(&s, Query::Hosts).await {
        Some(hosts) => Json(json!({ "hosts": hosts })).into_response(),
        None => unavailable("hosts"),
    }
}

/// The recovery records of one log, in order.
async fn log_records(
    store: &dyn Store,
    id: &str,
) -> Result<Vec<(u64, RecoveryRecord)>, StoreError> {
    let log = store.recovery_log(id).await?;
    Ok(log
        .records
        .into_iter()
        .filter_map(|r| match serde_json::from_value::<Record>(r.body) {
            Ok(Record::Recovery(rec)) => Some((r.seq, rec)),
            Ok(Record::ProcessDisable(_)) | Err(_) => None,
        })
        .collect())
}

fn time(t: lazarus_core::Timestamp) -> String {
    clock::to_utc(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn summary(r: &RecoveryRecord, finished: bool) -> Value {
    let mut recovered = 0;
    let mut given_up = 0;
    let mut in_flight = 0;
    for i in r.instances.values() {
        match i.step {
            InstanceStep::Recovered { .. } => recovered += 1,
            InstanceStep::GivenUp { .. } => given_up += 1,
            InstanceStep::Planned { .. }
            | InstanceStep::Requested { .. }
            | InstanceStep::Accepted { .. } => in_flight += 1,
        }
    }
    json!({
        "id": r.id.to_string(),
        "host": r.id.host,
        "segment": r.segment,
        "trigger": r.trigger,
        "phase": phase_name(r.phase),
        "outcome": r.outcome,
        "started_at": time(r.id.started_at),
        "updated_at": time(r.updated_at),
        "log_finished": finished,
        "instances": {"total": r.instances.len(), "recovered": recovered, "given_up": given_up, "in_progress": in_flight},
        "duplicate_reports": r.duplicate_reports,
    })
}

async fn recoveries(State(s): State<AppState>) -> Response {
    let ids: Vec<String> = s
        .index
        .lock()
        .map(|i| i.iter().cloned().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for id in ids {
        let Ok(log) = s.store.recovery_log(&id).await else {
            continue;
        };
        let finished = log.finished;
        let last = log.records.into_iter().rev().find_map(|r| {
            match serde_json::from_value::<Record>(r.body) {
                Ok(Record::Recovery(rec)) => Some(rec),
                Ok(Record::ProcessDisable(_)) | Err(_) => None,
            }
        });
        if let Some(r) = last {
            out.push((r.id.started_at, summary(&r, finished)));
        }
    }
    out.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let list: Vec<Value> = out.into_iter().map(|(_, v)| v).collect();
    Json(json!({ "recoveries": list })).into_response()
}

async fn recovery(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let finished = match s.store.recovery_log(&id).await {
        Ok(log) => log.finished,
        Err(StoreError::NotFound { .. }) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": format!("no recovery {id}")})),
            )
                .into_response()
        }
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": e.to_string()})),
            )
                .into_response()
        }
    };
    let records = match log_records(&*s.store, &id).await {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": e.to_string()})),
            )
                .into_response()
        }
    };
    let Some((_, last)) = records.last() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no recovery {id}")})),
        )
            .into_response();
    };
    let mut body = summary(last, finished);
    body["timeline"] = Value::Array(timeline(&records));
    body["instance_steps"] = json!(last
        .instances
        .iter()
        .map(|(i, r)| (i.to_string(), json!({"priority": r.priority, "attempts": r.attempts, "step": r.step, "last_error": r.last_error})))
        .collect::<serde_json::Map<String, Value>>());
    body["fence"] = json!(last.fence);
    body["nova"] = json!(last.nova);
    Json(json!({ "recovery": body })).into_response()
}

/// What changed from one persisted step to the next, with timestamps.
pub fn timeline(records: &[(u64, RecoveryRecord)]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut prev: Option<&RecoveryRecord> = None;
    for (seq, r) in records {
        let at = time(r.updated_at);
        let mut push = |event: &str, detail: Value| {
            let mut e = json!({"seq": seq, "at": at, "event": event});
            if let (Value::Object(m), Value::Object(d)) = (&mut e, detail) {
                m.extend(d);
            }
            out.push(e);
        };
        match prev {
            None => push(
                "started",
                json!({"trigger": r.trigger, "phase": phase_name(r.phase)}),
            ),
            Some(p) => {
                if p.phase != r.phase {
                    push(
                        "phase",
                        json!({"from": phase_name(p.phase), "to": phase_name(r.phase)}),
                    );
                }
                if p.duplicate_reports != r.duplicate_reports {
                    push("duplicate_report", json!({"count": r.duplicate_reports}));
                }
            }
        }
        if prev.is_none_or(|p| p.fence.confirmation.is_none()) && r.fence.confirmation.is_some() {
            push("fence_confirmed", json!({"how": r.fence.confirmation}));
        }
        if prev.is_none_or(|p| !p.nova.marked_down) && r.nova.marked_down {
            push("marked_down", json!({}));
        }
        if prev.is_none_or(|p| !p.planned) && r.planned {
            push("planned", json!({"instances": r.instances.len()}));
        }
        for (id, i) in &r.instances {
            let before = prev.and_then(|p| p.instances.get(id)).map(|x| &x.step);
            if before != Some(&i.step) {
                push(
                    "instance",
                    json!({"instance": id, "step": i.step, "attempts": i.attempts}),
                );
            }
        }
        if prev.is_none_or(|p| p.outcome.is_none()) && r.outcome.is_some() {
            push("outcome", json!({"outcome": r.outcome}));
        }
        prev = Some(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeMap;

    use lazarus_core::model::{FenceMethod, Resources, RestartPriority};
    use lazarus_core::workflow::{
        ExpectedState, FenceConfirmation, FenceRecord, InstanceRecord, NovaMarks, Phase,
        RecoveryId, Trigger,
    };
    use lazarus_core::{HostName, InstanceId, Timestamp};

    fn rec(seq_at: u64, phase: Phase, step: Option<InstanceStep>) -> RecoveryRecord {
        let mut instances = BTreeMap::new();
        if let Some(step) = step {
            instances.insert(
                InstanceId::from("i1"),
                InstanceRecord {
                    priority: RestartPriority::Medium,
                    resources: Resources::new(1, 512, 1),
                    expected: ExpectedState::Active,
                    attempts: 1,
                    tried: Default::default(),
                    step,
                    last_error: None,
                },
            );
        }
        RecoveryRecord {
            version: 1,
            id: RecoveryId {
                host: HostName::from("compute1"),
                started_at: Timestamp::from_millis(1_000),
            },
            segment: "s1".into(),
            trigger: Trigger::Monitor {
                notification: "n1".into(),
            },
            duplicate_reports: 0,
            phase,
            fence: FenceRecord {
                method: FenceMethod::Manual,
                attempts: 0,
                last_heartbeat: None,
                gave_up: false,
                confirmation: (phase != Phase::Fencing).then(|| FenceConfirmation::Monitor {
                    notification: "n1".into(),
                    at: Timestamp::from_millis(1_000),
                }),
            },
            nova: NovaMarks {
                marked_down: matches!(phase, Phase::Evacuating | Phase::Finished),
                disabled_by_others: false,
            },
            planned: matches!(phase, Phase::Evacuating | Phase::Finished),
            instances,
            outcome: None,
            updated_at: Timestamp::from_millis(seq_at),
        }
    }

    #[test]
    fn the_timeline_lists_each_change_once_with_its_time() {
        let target = HostName::from("compute2");
        let records = vec![
            (0, rec(1_000, Phase::Fencing, None)),
            (1, rec(1_100, Phase::MarkingDown, None)),
            (
                2,
                rec(
                    1_200,
                    Phase::Evacuating,
                    Some(InstanceStep::Requested {
                        target: target.clone(),
                        attempt: 1,
                    }),
                ),
            ),
            (
                3,
                rec(
                    4_500,
                    Phase::Finished,
                    Some(InstanceStep::Recovered { host: target }),
                ),
            ),
        ];
        let t = timeline(&records);
        let events: Vec<&str> = t.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(
            events,
            vec![
                "started",
                "phase",
                "fence_confirmed",
                "phase",
                "marked_down",
                "planned",
                "instance",
                "phase",
                "instance"
            ]
        );
        assert_eq!(t[0]["at"], "1970-01-01T00:00:01.000Z");
        assert_eq!(t[8]["at"], "1970-01-01T00:00:04.500Z");
        assert_eq!(t[8]["step"]["recovered"]["host"], "compute2");
    }

    #[test]
    fn route_groups_keep_metric_labels_few() {
        assert_eq!(route_group("/v1/segments/abc/hosts/def"), "hosts");
        assert_eq!(route_group("/v1/proj/notifications/n1/vmoves"), "vmoves");
        assert_eq!(route_group("/v1/lazarus/recoveries/x"), "native");
        assert_eq!(route_group("/v1/lazarus/hosts/c1/recover"), "operator");
        assert_eq!(
            route_group("/v1/lazarus/hosts/c1/confirm-fenced"),
            "operator"
        );
        assert_eq!(route_group("/ready"), "health");
        assert_eq!(route_group("/"), "other");
    }
}
