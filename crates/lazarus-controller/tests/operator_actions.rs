//! The operator routes of the native API (`POST /v1/lazarus/hosts/{name}/confirm-fenced`,
//! `.../recover`, `.../return`) on a whole controller against the in-memory cloud:
//! an operator's confirmation unblocks a manual-fenced host's recovery, a confirmation
//! alone never starts one, and bad requests get clear 4xx answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use lazarus_api::NoAuth;
use serde_json::{json, Value};
use support::{
    agents_of, agents_section, on_host, spawn_agents, FakeCloud, Running, TokenAuth, READER,
};

/// `POST path` with `body` (none if `None`) and `token`: the status and the JSON answer.
async fn act(ctl: &Running, path: &str, body: Option<&str>, token: Option<&str>) -> (u16, Value) {
    let mut req = ctl
        .http
        .post(format!("{}{path}", ctl.base))
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("X-Auth-Token", t);
    }
    if let Some(b) = body {
        req = req.body(b.to_owned());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_confirmation_lets_a_failed_manual_host_be_evacuated() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(2);
    let extra = agents_section(dir.path(), &["c1", "c2"]);
    let ctl = Running::start(cloud.clone(), dir.path(), &extra, Arc::new(NoAuth)).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let _statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up with their servers known", || async {
        let c2 = ctl.host("c2").await;
        ctl.health("c1").await == "up" && c2["health"] == "up" && c2["instances"] == 2
    })
    .await;

    // A confirmation for a healthy host, with no recovery: refused, nothing started.
    let (status, body) = act(
        &ctl,
        "/v1/lazarus/hosts/c2/confirm-fenced",
        Some(r#"{"reason": "checking"}"#),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("recover"),
        "{body}"
    );
    assert!(ctl.host("c2").await["recovery"].is_null());

    // c2 dies and nobody reaches it: judged failed; fenced `manual`, so its recovery
    // waits for a confirmation and nothing is evacuated.
    cloud.0.lock().unwrap().alive.insert("c2".into(), false);
    script.lock().unwrap().insert("c2".into(), None);
    script.lock().unwrap().insert("c1".into(), Some(vec![]));
    ctl.wait("c2's recovery to wait in fencing", || async {
        ctl.host("c2").await["recovery_phase"] == "fencing"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());

    // A second recovery request while one is under way: refused.
    let (status, body) = act(&ctl, "/v1/lazarus/hosts/c2/recover", None, None).await;
    assert_eq!(status, 409, "{body}");

    let (status, body) = act(
        &ctl,
        "/v1/lazarus/hosts/c2/confirm-fenced",
        Some(r#"{"reason": "pulled the power cords, BMC dead"}"#),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let submitted = &body["submitted"];
    assert_eq!(submitted["host"], "c2");
    assert_eq!(submitted["action"], "confirm-fenced");
    assert_eq!(submitted["operator"], "anonymous");
    assert_eq!(submitted["reason"], "pulled the power cords, BMC dead");
    assert_ne!(submitted["recovery_phase"], "fencing", "{body}");

    ctl.wait("c2 to be emptied", || async { on_host(&cloud, "c2") == 0 })
        .await;
    {
        let w = cloud.0.lock().unwrap();
        assert_eq!(w.evacuate_calls.len(), 2);
        assert!(w.forced_down["c2"]);
    }
    // The recovery records who confirmed the fence.
    let id = submitted["recovery"].as_str().unwrap().to_owned();
    let r = ctl.get(&format!("/v1/lazarus/recoveries/{id}")).await;
    assert_eq!(
        r["recovery"]["fence"]["confirmation"]["operator"]["operator"], "anonymous",
        "{r}"
    );
    // Confirming again is refused: the fence is already confirmed.
    let (status, body) = act(&ctl, "/v1/lazarus/hosts/c2/confirm-fenced", None, None).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already confirmed"),
        "{body}"
    );
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_unknown_hosts_and_readers_are_refused_and_admins_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    let ctl = Running::start(cloud.clone(), dir.path(), "", Arc::new(TokenAuth)).await;
    ctl.protect().await;
    ctl.wait("c1 to be known", || async {
        ctl.host("c1").await["name"] == "c1"
    })
    .await;

    // Who may act.
    let anonymous = reqwest::Client::new()
        .post(format!("{}/v1/lazarus/hosts/c1/recover", ctl.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let (status, body) = act(&ctl, "/v1/lazarus/hosts/c1/recover", None, Some(READER)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("admin"), "{body}");
    assert!(ctl.host("c1").await["recovery"].is_null());

    // What is malformed or unknown.
    let (status, body) = act(
        &ctl,
        "/v1/lazarus/hosts/c1/recover",
        Some(r#"{"reason": "x", "force": true}"#),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `force`"),
        "{body}"
    );
    let (status, body) = act(&ctl, "/v1/lazarus/hosts/c1/recover", Some("not json"), None).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = act(&ctl, "/v1/lazarus/hosts/%20c1/recover", None, None).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = act(&ctl, "/v1/lazarus/hosts/c9/recover", None, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("c9"), "{body}");

    // Nothing to return: refused, not pretended.
    let (status, body) = act(&ctl, "/v1/lazarus/hosts/c3/return", None, None).await;
    assert_eq!(status, 409, "{body}");

    // An admin's recovery request is recorded with the user and project.
    let (status, body) = act(
        &ctl,
        "/v1/lazarus/hosts/c1/recover",
        Some(r#"{"reason": "disk controller failing"}"#),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["submitted"]["operator"], "alice (project p1)");
    assert_eq!(body["submitted"]["recovery_phase"], "fencing");
    assert!(
        body["submitted"]["message"]
            .as_str()
            .unwrap()
            .contains("confirm-fenced c1"),
        "{body}"
    );
    let recoveries = ctl.get("/v1/lazarus/recoveries").await;
    assert_eq!(
        recoveries["recoveries"][0]["trigger"],
        json!({"operator": {"operator": "alice (project p1)"}}),
        "{recoveries}"
    );
    // Fenced `manual` and not confirmed: nothing is evacuated.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    // A reader still reads.
    let read = reqwest::Client::new()
        .get(format!("{}/v1/lazarus/hosts", ctl.base))
        .header("X-Auth-Token", READER)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    ctl.stop().await;
}
