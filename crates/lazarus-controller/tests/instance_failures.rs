//! An instance failure reported by a host's agent (`instance_failed` in a heartbeat),
//! on a whole controller against the in-memory cloud: the real agent router, event
//! ledger, engine and effects. A crashed protected instance is reset through Nova once
//! (a hard reboot, counted in `lazarus_nova_calls`), and its host is left alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use lazarus_api::NoAuth;
use serde_json::json;
use support::{agents_of, agents_section, spawn_agents, token, FakeCloud, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_reported_by_an_agent_resets_the_instance_once_through_nova() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    let extra = agents_section(dir.path(), &["c1", "c2", "c3"]);
    let ctl = Running::start(cloud.clone(), dir.path(), &extra, Arc::new(NoAuth)).await;
    ctl.protect().await;
    let script = agents_of(&[
        ("c1", &["c2", "c3"]),
        ("c2", &["c1", "c3"]),
        ("c3", &["c1", "c2"]),
    ]);
    let _statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 up with its server known", || async {
        let c1 = ctl.host("c1").await;
        c1["health"] == "up" && c1["instances"] == 1
    })
    .await;

    // c1's agent saw its guest's QEMU die (libvirt: Stopped Failed).
    let heartbeat = json!({
        "agent_run": "run-c1-crash", "sequence": 1, "sent_at_ms": 0, "interval_ms": 1000,
        "reachable_peers": ["c2", "c3"], "nova_compute": "running", "libvirtd": "running",
        "events": [{"id": 1, "at_ms": 0,
            "kind": {"instance_failed": {"instance": "c1-vm0", "failure": "crashed"}}}],
    });
    let r = ctl
        .http
        .post(format!("{}/v1/lazarus/agents/c1/heartbeat", ctl.base))
        .bearer_auth(token("c1"))
        .json(&heartbeat)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    ctl.wait("the reset to be counted", || async {
        ctl.metrics().await.lines().any(|l| {
            l.starts_with("lazarus_nova_calls")
                && l.contains("operation=\"reset_instance\"")
                && l.contains("result=\"ok\"")
                && l.ends_with(" 1")
        })
    })
    .await;
    {
        let w = cloud.0.lock().unwrap();
        assert_eq!(
            w.server_actions,
            [("c1-vm0".to_owned(), "HardReboot".to_owned())],
            "one hard reboot of the crashed server, nothing else"
        );
        assert!(w.evacuate_calls.is_empty(), "nothing evacuated");
        assert!(
            !w.forced_down["c1"] && w.disabled["c1"].is_none(),
            "c1 left in service"
        );
    }
    let c1 = ctl.host("c1").await;
    assert_eq!(c1["health"], "up", "{c1}");
    assert!(c1["recovery"].is_null(), "no recovery of c1: {c1}");
}
