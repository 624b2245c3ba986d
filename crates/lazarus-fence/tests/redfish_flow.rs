//! The Redfish driver's request flow against a scripted Redfish service on loopback
//! (axum): retries, their bound, time limits, reset types from `ActionInfo`, and BMCs
//! that refuse `ForceOff` on a host that is already off. Runs offline, in
//! milliseconds; the real emulator tests are in `emulators.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lazarus_core::event::PowerState;
use lazarus_fence::{BmcError, PowerControl, Redfish, RedfishOptions, Secret};
use serde_json::{json, Value};

/// What the scripted BMC does and saw.
#[derive(Debug, Default)]
struct Bmc {
    power: String,
    /// Inline `ResetType@Redfish.AllowableValues`; `None`: an ActionInfo link instead.
    allowable: Option<Vec<&'static str>>,
    action_info: Vec<&'static str>,
    /// Statuses the next reset POSTs answer (then 204).
    post_statuses: VecDeque<u16>,
    /// Seconds the system GET takes.
    slow_get: u64,
    log: Vec<String>,
}

type Shared = Arc<Mutex<Bmc>>;

const AUTH: &str = "Basic bGF6YXJ1czpjb3JyZWN0LWhvcnNl"; // lazarus:correct-horse

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(AUTH)
        && h.get("odata-version").and_then(|v| v.to_str().ok()) == Some("4.0")
}

async fn root() -> Json<Value> {
    Json(json!({"@odata.id": "/redfish/v1/", "Systems": {"@odata.id": "/redfish/v1/Systems"}}))
}

async fn systems(State(s): State<Shared>, h: HeaderMap) -> Response {
    s.lock().unwrap().log.push("GET Systems".into());
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"Members": [{"@odata.id": "/redfish/v1/Systems/1"}]})).into_response()
}

async fn system(State(s): State<Shared>, Path(id): Path<String>, h: HeaderMap) -> Response {
    let (slow, body) = {
        let mut b = s.lock().unwrap();
        b.log.push(format!("GET Systems/{id}"));
        let mut reset = json!({"target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"});
        match &b.allowable {
            Some(a) => reset["ResetType@Redfish.AllowableValues"] = json!(a),
            None => reset["@Redfish.ActionInfo"] = json!("/redfish/v1/Systems/1/ResetActionInfo"),
        }
        (
            b.slow_get,
            json!({"@odata.id": "/redfish/v1/Systems/1", "Id": "1", "PowerState": b.power,
                   "Actions": {"#ComputerSystem.Reset": reset}}),
        )
    };
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if slow > 0 {
        tokio::time::sleep(Duration::from_secs(slow)).await;
    }
    Json(body).into_response()
}

async fn action_info(State(s): State<Shared>) -> Json<Value> {
    let b = s.lock().unwrap();
    Json(json!({"Parameters": [{"Name": "ResetType", "AllowableValues": b.action_info}]}))
}

async fn reset(State(s): State<Shared>, h: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut b = s.lock().unwrap();
    let kind = body["ResetType"].as_str().unwrap_or("?").to_owned();
    b.log.push(format!("POST {kind}"));
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if let Some(status) = b.post_statuses.pop_front() {
        let err = json!({"error": {"message": format!("scripted {status}")}});
        return (StatusCode::from_u16(status).unwrap(), Json(err)).into_response();
    }
    b.power = if kind.contains("Off") { "Off" } else { "On" }.to_owned();
    StatusCode::NO_CONTENT.into_response()
}

async fn serve(bmc: Bmc) -> (String, Shared) {
    let shared = Arc::new(Mutex::new(bmc));
    let app = Router::new()
        .route("/redfish/v1", get(root))
        .route("/redfish/v1/Systems", get(systems))
        .route("/redfish/v1/Systems/{id}", get(system))
        .route("/redfish/v1/Systems/1/ResetActionInfo", get(action_info))
        .route(
            "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
            post(reset),
        )
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), shared)
}

fn bmc(power: &str) -> Bmc {
    Bmc {
        power: power.to_owned(),
        allowable: Some(vec!["On", "ForceOff", "GracefulShutdown"]),
        ..Bmc::default()
    }
}

fn driver(base: &str) -> Redfish {
    let mut o = RedfishOptions::new(base, "lazarus", Secret::new("correct-horse"));
    o.retry_delay = Duration::from_millis(10);
    o.request_timeout = Duration::from_secs(2);
    Redfish::new(o).unwrap()
}

fn posts(s: &Shared) -> Vec<String> {
    s.lock()
        .unwrap()
        .log
        .iter()
        .filter(|l| l.starts_with("POST"))
        .cloned()
        .collect()
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn force_off_is_posted_with_basic_auth_and_odata_version() {
    let (base, s) = serve(bmc("On")).await;
    let d = driver(&base);
    d.power_off(T).await.unwrap();
    assert_eq!(posts(&s), vec!["POST ForceOff"]);
    assert_eq!(d.power_state(T).await.unwrap(), PowerState::Off);
}

#[tokio::test]
async fn a_503_is_retried_and_the_retries_are_bounded() {
    let mut b = bmc("On");
    b.post_statuses = VecDeque::from([503, 502]);
    let (base, s) = serve(b).await;
    driver(&base).power_off(T).await.unwrap();
    assert_eq!(posts(&s).len(), 3, "two retries, then success");

    let mut b = bmc("On");
    b.post_statuses = VecDeque::from([503, 503, 503, 503]);
    let (base, s) = serve(b).await;
    let err = driver(&base).power_off(T).await.unwrap_err();
    assert!(matches!(err, BmcError::Http { status: 503, .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(posts(&s).len(), 3, "1 try + 2 retries, no more");
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let mut b = bmc("On");
    b.post_statuses = VecDeque::from([400]);
    let (base, s) = serve(b).await;
    let err = driver(&base).power_off(T).await.unwrap_err();
    assert_eq!(
        err,
        BmcError::Http {
            status: 400,
            message: "scripted 400".into()
        }
    );
    assert_eq!(posts(&s).len(), 1);
}

#[tokio::test]
async fn a_refused_force_off_on_a_host_already_off_counts_as_done() {
    let mut b = bmc("Off");
    b.post_statuses = VecDeque::from([409]);
    let (base, _) = serve(b).await;
    driver(&base).power_off(T).await.unwrap();

    // The same refusal while the host is on is an error.
    let mut b = bmc("On");
    b.post_statuses = VecDeque::from([409]);
    let (base, _) = serve(b).await;
    let err = driver(&base).power_off(T).await.unwrap_err();
    assert!(matches!(err, BmcError::Http { status: 409, .. }), "{err:?}");
}

#[tokio::test]
async fn reset_types_come_from_action_info_when_not_inline() {
    let mut b = bmc("Off");
    b.allowable = None;
    b.action_info = vec!["ForceOn", "ForceOff"];
    let (base, s) = serve(b).await;
    let d = driver(&base);
    d.power_on(T).await.unwrap();
    d.power_off(T).await.unwrap();
    assert_eq!(posts(&s), vec!["POST ForceOn", "POST ForceOff"]);
}

#[tokio::test]
async fn a_bmc_without_force_off_is_refused_and_nothing_is_posted() {
    let mut b = bmc("On");
    b.allowable = Some(vec!["On", "GracefulShutdown", "PushPowerButton"]);
    let (base, s) = serve(b).await;
    let err = driver(&base).power_off(T).await.unwrap_err();
    assert!(matches!(err, BmcError::Unsupported(_)), "{err:?}");
    assert!(posts(&s).is_empty());
}

#[tokio::test]
async fn the_system_is_resolved_once_and_then_read_directly() {
    let (base, s) = serve(bmc("On")).await;
    let d = driver(&base);
    for _ in 0..3 {
        assert_eq!(d.power_state(T).await.unwrap(), PowerState::On);
    }
    let log = s.lock().unwrap().log.clone();
    assert_eq!(
        log.iter().filter(|l| *l == "GET Systems").count(),
        1,
        "{log:?}"
    );
}

#[tokio::test]
async fn a_bmc_that_does_not_answer_times_out_within_the_call_limit() {
    let mut b = bmc("On");
    b.slow_get = 30;
    let (base, _) = serve(b).await;
    let started = tokio::time::Instant::now();
    let err = driver(&base)
        .power_state(Duration::from_millis(700))
        .await
        .unwrap_err();
    assert_eq!(err, BmcError::Timeout(Duration::from_millis(700)));
    // The BMC stalls 30 s: returning well before that shows the limit held (the
    // margin is wide so that a loaded machine does not fail it).
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn transitional_power_states_are_not_off() {
    let (base, _) = serve(bmc("PoweringOff")).await;
    assert_eq!(
        driver(&base).power_state(T).await.unwrap(),
        PowerState::Unknown
    );
}

#[tokio::test]
async fn a_wrong_password_is_an_auth_failure() {
    let (base, s) = serve(bmc("On")).await;
    let mut o = RedfishOptions::new(&base, "lazarus", Secret::new("wrong"));
    o.retry_delay = Duration::from_millis(10);
    let err = Redfish::new(o).unwrap().power_off(T).await.unwrap_err();
    assert!(matches!(err, BmcError::AuthFailed(_)), "{err:?}");
    assert!(posts(&s).is_empty());
}

#[tokio::test]
async fn a_closed_port_is_unreachable_and_retryable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = driver(&format!("http://127.0.0.1:{port}"))
        .power_state(T)
        .await
        .unwrap_err();
    assert!(matches!(err, BmcError::Unreachable(_)), "{err:?}");
    assert!(err.is_retryable());
}
