//! `recovery`, `status` and the host actions against a stand-in for the controller's
//! native routes (`/ready`, `/v1/lazarus/hosts`, `/v1/lazarus/recoveries[/{id}]`,
//! `POST /v1/lazarus/hosts/{name}/{action}`) that answers with bodies shaped as
//! `crates/lazarus-controller/src/http.rs` and `operator_http.rs` render them.

// Fixture helpers outside `#[test]` functions fail the test on error, as tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use clap::Parser;
use lazarus_cli::{execute_to_text, Cli, CliError, Context, LazarusClient};
use serde_json::{json, Value};

fn summary() -> Value {
    json!({
        "id": "compute1@1763722800000",
        "host": "compute1",
        "segment": "seg-1",
        "trigger": {"notification": {"uuid": "n-1"}},
        "phase": "verifying",
        "outcome": null,
        "started_at": "2026-11-21T11:00:00.000Z",
        "updated_at": "2026-11-21T11:00:07.500Z",
        "log_finished": false,
        "instances": {"total": 2, "recovered": 1, "given_up": 0, "in_progress": 1},
        "duplicate_reports": 1
    })
}

async fn start() -> (Context, String) {
    let app = Router::new()
        .route(
            "/ready",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"ready": false, "store": "ok", "cloud": "keystone: timed out", "engine": "started"})),
                )
            }),
        )
        .route(
            "/v1",
            get(|| async { Json(json!({"version": {"id": "v1.0", "version": "1.3"}})) }),
        )
        .route(
            "/v1/lazarus/hosts",
            get(|| async {
                Json(json!({"hosts": [
                    {"name": "compute1", "segment": "seg-1", "health": "failed", "why": "no heartbeat for 12s, BMC says off",
                     "nova": {"reporting": false, "up": false}, "recovery": "compute1@1763722800000", "recovery_phase": "verifying",
                     "instances": 2, "protected_instances": 2, "fence_method": "ipmi", "reserved": false, "on_maintenance": false},
                    {"name": "compute2", "segment": "seg-1", "health": "up", "why": "heartbeats on time",
                     "nova": {"reporting": true, "up": true}, "recovery": null, "recovery_phase": null,
                     "instances": 5, "protected_instances": 3, "fence_method": "ipmi", "reserved": false, "on_maintenance": false}
                ]}))
            }),
        )
        .route(
            "/v1/lazarus/recoveries",
            get(|| async {
                let mut done = summary();
                done["id"] = json!("compute3@1763720000000");
                done["host"] = json!("compute3");
                done["outcome"] = json!("done");
                done["instances"] = json!({"total": 1, "recovered": 1, "given_up": 0, "in_progress": 0});
                Json(json!({"recoveries": [summary(), done]}))
            }),
        )
        .route("/v1/lazarus/hosts/{name}/{action}", post(host_action))
        .route(
            "/v1/lazarus/recoveries/{id}",
            get(|Path(id): Path<String>| async move {
                if id != "compute1@1763722800000" {
                    return (
                        StatusCode::NOT_FOUND,
                        Json(json!({"error": format!("no recovery {id}")})),
                    );
                }
                let mut r = summary();
                r["timeline"] = json!([
                    {"seq": 1, "at": "2026-11-21T11:00:00.000Z", "event": "started", "trigger": {"notification": {"uuid": "n-1"}}, "phase": "fencing"},
                    {"seq": 2, "at": "2026-11-21T11:00:02.000Z", "event": "fence_confirmed", "how": "power_off"},
                    {"seq": 3, "at": "2026-11-21T11:00:02.100Z", "event": "marked_down"},
                    {"seq": 4, "at": "2026-11-21T11:00:07.500Z", "event": "instance", "instance": "vm-1", "step": {"recovered": {"host": "compute2"}}, "attempts": 1}
                ]);
                r["instance_steps"] = json!({
                    "vm-1": {"priority": 1, "attempts": 1, "step": {"recovered": {"host": "compute2"}}, "last_error": null},
                    "vm-2": {"priority": 0, "attempts": 1, "step": {"accepted": {"target": "compute2", "attempt": 1}}, "last_error": null}
                });
                (StatusCode::OK, Json(json!({"recovery": r})))
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = LazarusClient::new(&endpoint, None, "1.3", Duration::from_secs(10)).unwrap();
    let ctx = Context {
        client,
        now: DateTime::<Utc>::UNIX_EPOCH,
    };
    (ctx, endpoint)
}

/// The controller's operator routes: compute1 waits for a fence confirmation, other
/// hosts are unknown; the body is echoed back as the controller does.
async fn host_action(
    Path((name, action)): Path<(String, String)>,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    if name != "compute1" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no host named {name} in any segment")})),
        );
    }
    if action == "return" {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "compute1 returns to service when its recovery finishes"})),
        );
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (
        StatusCode::ACCEPTED,
        Json(json!({"submitted": {
            "host": name, "action": action, "operator": "anonymous",
            "reason": body.get("reason").cloned().unwrap_or(Value::Null),
            "recovery": "compute1@1763722800000", "recovery_phase": "marking_down",
            "message": "the fence of compute1 is confirmed: recovery compute1@1763722800000 marks it down in Nova, then evacuates it",
        }})),
    )
}

async fn run(ctx: &Context, args: &str) -> Result<String, CliError> {
    let mut argv = vec!["lazarus".to_owned()];
    argv.extend(args.split_whitespace().map(str::to_owned));
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{args}: {e}"));
    execute_to_text(&cli.command, ctx).await
}

#[tokio::test]
async fn recoveries_list_newest_first_with_instance_progress() {
    let (ctx, _) = start().await;
    let text = run(&ctx, "recovery list -f value -c id -c instances")
        .await
        .unwrap();
    assert_eq!(
        text,
        "compute1@1763722800000 1/2 recovered, 1 in progress\n\
         compute3@1763720000000 1/1 recovered\n"
    );
    let active = run(&ctx, "recovery list --active -f value -c host")
        .await
        .unwrap();
    assert_eq!(active, "compute1\n");
    let of_host = run(&ctx, "recovery list --host compute3 -f json -c outcome")
        .await
        .unwrap();
    let parsed: Value = serde_json::from_str(&of_host).unwrap();
    assert_eq!(parsed, json!([{"outcome": "done"}]));
}

#[tokio::test]
async fn a_recovery_shows_its_timeline_and_each_instance() {
    let (ctx, _) = start().await;
    let table = run(&ctx, "recovery show compute1@1763722800000")
        .await
        .unwrap();
    for expected in [
        "| timeline ",
        "2026-11-21T11:00:02.000Z  fence_confirmed  how=power_off",
        "2026-11-21T11:00:07.500Z  instance  vm-1  recovered host=compute2  attempts=1",
        "vm-2  accepted attempt=1 target=compute2  attempts=1  priority=0",
        "1/2 recovered, 1 in progress",
    ] {
        assert!(table.contains(expected), "missing {expected:?} in\n{table}");
    }
    let raw = run(&ctx, "recovery show compute1@1763722800000 -f json")
        .await
        .unwrap();
    let parsed: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        parsed["timeline"][3]["step"]["recovered"]["host"],
        "compute2"
    );

    let missing = run(&ctx, "recovery show compute9@1").await.unwrap_err();
    assert_eq!(missing.exit_code(), 1);
    assert!(
        missing.to_string().contains("no recovery compute9@1"),
        "{missing}"
    );
}

#[tokio::test]
async fn status_reports_readiness_and_host_health() {
    let (ctx, endpoint) = start().await;
    let text = run(&ctx, "status -f json").await.unwrap();
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["endpoint"], endpoint.as_str());
    assert_eq!(s["api_version"], "1.3");
    assert_eq!(s["ready"], false);
    assert_eq!(s["cloud"], "keystone: timed out");
    assert_eq!(s["hosts"], 2);
    assert_eq!(s["hosts_by_health"], "failed: 1, up: 1");
    assert_eq!(s["recoveries_under_way"], json!(["compute1@1763722800000"]));

    let hosts = run(
        &ctx,
        "status --hosts -f value -c name -c health -c recovery_phase",
    )
    .await
    .unwrap();
    assert_eq!(hosts, "compute1 failed verifying\ncompute2 up None\n");
}

#[tokio::test]
async fn a_host_action_prints_what_was_submitted_and_refusals_exit_1() {
    let (ctx, _) = start().await;
    let mut argv = vec!["lazarus", "host", "confirm-fenced", "compute1"];
    argv.extend(["--reason", "unplugged by hand", "-f", "json"]);
    let cli = Cli::try_parse_from(&argv).unwrap();
    let text = execute_to_text(&cli.command, &ctx).await.unwrap();
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["action"], "confirm-fenced");
    assert_eq!(
        shown["reason"], "unplugged by hand",
        "the reason reaches the API"
    );
    assert_eq!(shown["recovery_phase"], "marking_down");

    let fields = run(&ctx, "host recover compute1 -f value -c host -c reason")
        .await
        .unwrap();
    assert_eq!(fields, "compute1\nNone\n", "no --reason, none sent");

    let unknown = run(&ctx, "host recover compute9").await.unwrap_err();
    assert_eq!(unknown.exit_code(), 1);
    assert!(
        unknown
            .to_string()
            .contains("no host named compute9 in any segment (HTTP 404)"),
        "{unknown}"
    );
    let refused = run(&ctx, "host return compute1").await.unwrap_err();
    assert_eq!(refused.exit_code(), 1);
    assert!(refused.to_string().contains("(HTTP 409)"), "{refused}");
}
