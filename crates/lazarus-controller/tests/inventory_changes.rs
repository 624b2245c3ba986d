//! Segments and hosts written through the Masakari API reach the engine at once, not at
//! the next poll: a host is protected as soon as `POST /v1/segments/{id}/hosts` has
//! answered, and a segment disabled (or a host put on maintenance) stops recoveries as
//! soon as its `PUT` has answered. Every poll interval here is an hour, so no test can
//! pass by the luck of a poll.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use lazarus_api::NoAuth;
use serde_json::{json, Value};
use support::{on_host, FakeCloud, Running, HOSTS};

/// Polls that never come during a test.
const HOURLY_POLLS: &str = r#"
[poll]
services_interval = "1h"
servers_interval = "1h"
placement_interval = "1h"
"#;

async fn start(cloud: FakeCloud, dir: &std::path::Path) -> Running {
    Running::start(cloud, dir, HOURLY_POLLS, Arc::new(NoAuth)).await
}

/// Creates segment `s` with the three hosts of the fake cloud; its UUID.
async fn segment_with_hosts(ctl: &Running) -> String {
    let seg = ctl
        .post(
            "/v1/segments",
            json!({"segment": {"name": "s", "recovery_method": "auto", "service_type": "COMPUTE"}}),
        )
        .await;
    let id = seg["segment"]["uuid"].as_str().unwrap().to_owned();
    for h in HOSTS {
        ctl.post(
            &format!("/v1/segments/{id}/hosts"),
            json!({"host": {"name": h, "type": "COMPUTE", "control_attributes": "x"}}),
        )
        .await;
    }
    id
}

/// `PUT path` with `body` at microversion 1.2 (a segment's `enabled`); asserts success.
async fn put(ctl: &Running, path: &str, body: Value) {
    let r = ctl
        .http
        .put(format!("{}{path}", ctl.base))
        .header("OpenStack-API-Version", "instance-ha 1.2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "PUT {path}: {}", r.status());
}

/// The message the engine left on notification `id` once it handled it.
async fn handled(ctl: &Running, id: &str) -> Value {
    ctl.wait("the notification to be handled", || async {
        ctl.notification_status(id).await != "new"
    })
    .await;
    ctl.get(&format!("/v1/notifications/{id}")).await["notification"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_added_a_moment_ago_is_recovered_on_the_first_notification() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(2);
    let ctl = start(cloud.clone(), dir.path()).await;
    segment_with_hosts(&ctl).await;
    cloud.0.lock().unwrap().alive.insert("c1".into(), false);
    let n = ctl.notify("c1").await;
    let first = handled(&ctl, &n).await;
    assert_eq!(first["status"], "running", "{first}");
    ctl.wait("c1 to be emptied", || async { on_host(&cloud, "c1") == 0 })
        .await;
    assert_eq!(cloud.0.lock().unwrap().evacuate_calls.len(), 2);
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_can_ask_for_the_recovery_of_a_host_added_a_moment_ago() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(2);
    let ctl = start(cloud.clone(), dir.path()).await;
    segment_with_hosts(&ctl).await;
    cloud.0.lock().unwrap().alive.insert("c1".into(), false);
    let r = ctl
        .http
        .post(format!("{}/v1/lazarus/hosts/c1/recover", ctl.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    assert!(body["submitted"]["recovery"].is_string(), "{body}");
    // Fenced `manual`: the operator confirms it off, and its servers, listed when the
    // recovery started (no poll came), are evacuated.
    let r = ctl
        .http
        .post(format!("{}/v1/lazarus/hosts/c1/confirm-fenced", ctl.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    ctl.wait("c1 to be emptied", || async { on_host(&cloud, "c1") == 0 })
        .await;
    assert_eq!(cloud.0.lock().unwrap().evacuate_calls.len(), 2);
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_disabled_a_moment_ago_is_not_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(2);
    let ctl = start(cloud.clone(), dir.path()).await;
    let segment = segment_with_hosts(&ctl).await;
    // Restarted, the controller reads every host and its servers at start: c1 is
    // known and listed, so its next notification goes to the engine at once.
    ctl.stop().await;
    let ctl = start(cloud.clone(), dir.path()).await;
    put(
        &ctl,
        &format!("/v1/segments/{segment}"),
        json!({"segment": {"enabled": false}}),
    )
    .await;
    let n = ctl.notify("c1").await;
    let handled = handled(&ctl, &n).await;
    assert_eq!(handled["status"], "ignored", "{handled}");
    assert!(
        handled["message"]
            .as_str()
            .is_some_and(|m| m.contains("disabled")),
        "{handled}"
    );
    assert!(ctl.host("c1").await["recovery"].is_null());
    ctl.stop().await;
}
