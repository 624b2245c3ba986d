//! The whole controller (API, engine task, journal, effects, pollers, reporter) against
//! an in-memory cloud: a monitor's notification recovers a host, and a controller
//! restarted on the same store resumes without evacuating anything twice. The devcloud
//! end-to-end tests (crates/lazarus/tests/e2e_*) prove the same against real Nova;
//! these run offline in a few seconds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_api::NoAuth;
use lazarus_controller::fencer::Fencer;
use serde_json::{json, Value};
use support::{agents_of, agents_section, on_host, spawn_agents, token, FakeCloud, Running};

/// A controller anyone may call (no authentication), with `extra` configuration and,
/// when `fencer` is given, a fencer of the test's instead of `[bmc]`'s.
async fn start(
    cloud: FakeCloud,
    dir: &std::path::Path,
    extra: &str,
    fencer: Option<Arc<dyn Fencer>>,
) -> Running {
    Running::start_with(cloud, dir, extra, Arc::new(NoAuth), fencer).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notified_host_is_marked_down_emptied_and_returned_to_service() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(4);
    let ctl = start(cloud.clone(), dir.path(), "", None).await;
    ctl.protect().await;
    ctl.wait("the servers of c1 to be known", || async {
        let hosts = ctl.get("/v1/lazarus/hosts").await;
        hosts["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == "c1"))
            .is_some_and(|h| h["instances"] == 4)
    })
    .await;
    cloud.0.lock().unwrap().alive.insert("c1".into(), false);
    let n = ctl.notify("c1").await;
    // A second monitor reports the same failure: recorded, not acted on.
    let dup = ctl.notify_at("c1", "2026-01-01T00:05:00").await;
    ctl.wait("the duplicate to be ignored", || async {
        ctl.notification_status(&dup).await == "ignored"
    })
    .await;
    ctl.wait("the notification to finish", || async {
        ctl.notification_status(&n).await == "finished"
    })
    .await;
    {
        let w = cloud.0.lock().unwrap();
        assert!(w.forced_down["c1"]);
        assert!(w.disabled["c1"]
            .as_deref()
            .is_some_and(|r| r.starts_with("lazarus: ")));
        assert_eq!(w.evacuate_calls.len(), 4);
        assert!(w.evacuate_calls.values().all(|n| *n == 1));
    }
    assert_eq!(on_host(&cloud, "c1"), 0);
    let recoveries = ctl.get("/v1/lazarus/recoveries").await;
    let recoveries = recoveries["recoveries"].as_array().unwrap();
    assert_eq!(
        recoveries.len(),
        1,
        "one recovery for two reports: {recoveries:?}"
    );
    assert_eq!(recoveries[0]["duplicate_reports"], 1);
    let vmoves = ctl.get(&format!("/v1/notifications/{n}/vmoves")).await;
    let vmoves = vmoves["vmoves"].as_array().unwrap();
    assert_eq!(vmoves.len(), 4);
    assert!(
        vmoves.iter().all(|v| v["status"] == "succeeded"),
        "{vmoves:?}"
    );

    // Not returned while the compute is dead...
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(cloud.0.lock().unwrap().forced_down["c1"]);
    // ...and returned by itself once it reports again.
    cloud.0.lock().unwrap().alive.insert("c1".into(), true);
    ctl.wait("c1 to be returned to service", || async {
        let w = cloud.0.lock().unwrap();
        !w.forced_down["c1"] && w.disabled["c1"].is_none()
    })
    .await;
    let metrics = ctl
        .http
        .get(format!("{}/metrics", ctl.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("lazarus_recoveries_finished_total{outcome=\"done\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lazarus_evacuations_total{result=\"accepted\"} 4"),
        "{metrics}"
    );
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_crashed_mid_recovery_resumes_from_its_store_without_repeating_evacuations() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(6);
    let ctl = start(cloud.clone(), dir.path(), "", None).await;
    ctl.protect().await;
    ctl.wait("the servers of c1 to be known", || async {
        let hosts = ctl.get("/v1/lazarus/hosts").await;
        hosts["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == "c1"))
            .is_some_and(|h| h["instances"] == 6)
    })
    .await;
    cloud.0.lock().unwrap().alive.insert("c1".into(), false);
    let n = ctl.notify("c1").await;
    ctl.wait("a first evacuation", || async {
        !cloud.0.lock().unwrap().evacuate_calls.is_empty()
    })
    .await;
    ctl.crash();
    let moved_before = 6 - on_host(&cloud, "c1");
    assert!(moved_before < 6, "the crash must land mid-recovery");
    let ctl = start(cloud.clone(), dir.path(), "", None).await;
    ctl.wait("the notification to finish after the restart", || async {
        ctl.notification_status(&n).await == "finished"
    })
    .await;
    let w = cloud.0.lock().unwrap().evacuate_calls.clone();
    assert_eq!(w.len(), 6, "every server evacuated: {w:?}");
    assert!(
        w.values().all(|n| *n == 1),
        "none twice: {w:?} ({moved_before} moved before the crash)"
    );
    assert_eq!(on_host(&cloud, "c1"), 0);
    ctl.stop().await;
}

// --- Agents and BMC fencing ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_heartbeats_make_hosts_up_and_a_silent_host_nobody_reaches_is_suspect_then_failed() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    let extra = agents_section(dir.path(), &["c1", "c2"]);
    let ctl = start(cloud.clone(), dir.path(), &extra, None).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up", || async {
        ctl.health("c1").await == "up" && ctl.health("c2").await == "up"
    })
    .await;
    // A host without a token is refused, and stays unjudged by heartbeats.
    let refused = ctl
        .http
        .post(format!("{}/v1/lazarus/agents/c3/heartbeat", ctl.base))
        .bearer_auth(token("c3"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_ne!(ctl.health("c3").await, "up");
    assert!(statuses.lock().unwrap()["c1"].iter().all(|s| *s == 200));

    // c2 falls silent and c1 no longer reaches it.
    cloud.0.lock().unwrap().alive.insert("c2".into(), false);
    script.lock().unwrap().insert("c2".into(), None);
    script.lock().unwrap().insert("c1".into(), Some(vec![]));
    ctl.wait("c2 to be suspect", || async {
        ctl.health("c2").await == "suspect"
    })
    .await;
    ctl.wait("c2 to be judged failed", || async {
        ctl.health("c2").await == "failed"
    })
    .await;
    // Fenced `manual`: nothing confirms it off, so a critical alert, and no evacuation.
    ctl.wait("a critical fence alert", || async {
        ctl.metrics().await.lines().any(|l| {
            l.starts_with("lazarus_alerts_total{") && l.contains("critical") && l.contains("ence")
        })
    })
    .await;
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    assert_eq!(ctl.health("c1").await, "up");
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_host_its_peer_still_reaches_is_partitioned_and_not_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    let extra = agents_section(dir.path(), &["c1", "c2"]);
    let ctl = start(cloud.clone(), dir.path(), &extra, None).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let _statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up", || async {
        ctl.health("c1").await == "up" && ctl.health("c2").await == "up"
    })
    .await;
    // The controller loses c2, but c1 keeps reaching it.
    script.lock().unwrap().insert("c2".into(), None);
    ctl.wait("c2 to be partitioned", || async {
        ctl.health("c2").await == "partitioned"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ctl.health("c2").await, "partitioned");
    let r = ctl.get("/v1/lazarus/recoveries").await;
    assert_eq!(r["recoveries"].as_array().map(Vec::len), Some(0), "{r}");
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    ctl.stop().await;
}

/// A stand-in BMC: accepts power-offs if it answers, and reads "On" until released.
#[derive(Debug, Default)]
struct Bmc {
    answers: bool,
    released: bool,
    power_offs: u32,
    reads: u32,
    off_read: bool,
}

#[derive(Debug, Clone, Default)]
struct ScriptedBmc(Arc<Mutex<Bmc>>);

#[async_trait::async_trait]
impl lazarus_fence::PowerControl for ScriptedBmc {
    async fn power_off(&self, timeout: Duration) -> Result<(), lazarus_fence::BmcError> {
        let mut b = self.0.lock().unwrap();
        if !b.answers {
            return Err(lazarus_fence::BmcError::Timeout(timeout));
        }
        b.power_offs += 1;
        Ok(())
    }

    async fn power_on(&self, _timeout: Duration) -> Result<(), lazarus_fence::BmcError> {
        Ok(())
    }

    async fn power_state(
        &self,
        timeout: Duration,
    ) -> Result<lazarus_core::event::PowerState, lazarus_fence::BmcError> {
        let mut b = self.0.lock().unwrap();
        if !b.answers {
            return Err(lazarus_fence::BmcError::Timeout(timeout));
        }
        b.reads += 1;
        if b.released && b.power_offs > 0 {
            b.off_read = true;
            Ok(lazarus_core::event::PowerState::Off)
        } else {
            Ok(lazarus_core::event::PowerState::On)
        }
    }
}

/// `[bmc.hosts.c2]` (so c2 defaults to `bmc`) and fast fencing retries; the drivers
/// themselves are the test's.
const BMC_C2: &str = r#"
[bmc.hosts.c2]
driver = "redfish"
address = "http://127.0.0.1:9"
username = "u"
password = "p"
[engine.fencing]
power_read_interval = "300ms"
max_power_reads = 40
max_fence_attempts = 2
retry_backoff = "300ms"
"#;

fn fleet_with(bmc: &ScriptedBmc) -> Arc<dyn Fencer> {
    let mut fleet = lazarus_fence::Fleet::new(Duration::from_secs(1));
    fleet.insert("c2".into(), Arc::new(bmc.clone()));
    Arc::new(fleet)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bmc_fenced_host_is_evacuated_only_after_off_is_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(2);
    let bmc = ScriptedBmc::default();
    bmc.0.lock().unwrap().answers = true;
    let extra = format!("{}{BMC_C2}", agents_section(dir.path(), &["c1", "c2"]));
    let ctl = start(cloud.clone(), dir.path(), &extra, Some(fleet_with(&bmc))).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let _statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up", || async {
        ctl.health("c1").await == "up" && ctl.health("c2").await == "up"
    })
    .await;
    let hosts = ctl.get("/v1/lazarus/hosts").await;
    let c2 = hosts["hosts"]
        .as_array()
        .and_then(|a| a.iter().find(|h| h["name"] == "c2"))
        .cloned()
        .unwrap();
    assert_eq!(c2["fence_method"], "bmc", "{c2}");

    cloud.0.lock().unwrap().alive.insert("c2".into(), false);
    script.lock().unwrap().insert("c2".into(), None);
    script.lock().unwrap().insert("c1".into(), Some(vec![]));
    ctl.wait("c2 to be powered off and read a few times", || async {
        let b = bmc.0.lock().unwrap();
        b.power_offs >= 1 && b.reads >= 3
    })
    .await;
    // Powered off, but "On" still read back: nothing is evacuated.
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    assert_eq!(on_host(&cloud, "c2"), 2);
    bmc.0.lock().unwrap().released = true;
    ctl.wait("c2 to be emptied", || async { on_host(&cloud, "c2") == 0 })
        .await;
    assert!(bmc.0.lock().unwrap().off_read);
    assert_eq!(cloud.0.lock().unwrap().evacuate_calls.len(), 2);
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bmc_that_does_not_answer_means_no_evacuation_and_a_critical_alert() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(2);
    let bmc = ScriptedBmc::default();
    let extra = format!("{}{BMC_C2}", agents_section(dir.path(), &["c1", "c2"]));
    let ctl = start(cloud.clone(), dir.path(), &extra, Some(fleet_with(&bmc))).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let _statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up", || async {
        ctl.health("c1").await == "up" && ctl.health("c2").await == "up"
    })
    .await;
    cloud.0.lock().unwrap().alive.insert("c2".into(), false);
    script.lock().unwrap().insert("c2".into(), None);
    script.lock().unwrap().insert("c1".into(), Some(vec![]));
    ctl.wait("a critical fence alert", || async {
        ctl.metrics().await.lines().any(|l| {
            l.starts_with("lazarus_alerts_total{") && l.contains("critical") && l.contains("ence")
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    assert_eq!(on_host(&cloud, "c2"), 2);
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_down_reported_by_an_agent_comes_back_as_a_restart_command_in_a_reply() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    let extra = agents_section(dir.path(), &["c1"]);
    let ctl = start(cloud.clone(), dir.path(), &extra, None).await;
    ctl.protect().await;
    let mut sequence = 0u64;
    let mut commands = Vec::new();
    for _ in 0..100 {
        sequence += 1;
        let reply: Value = ctl
            .http
            .post(format!("{}/v1/lazarus/agents/c1/heartbeat", ctl.base))
            .bearer_auth(token("c1"))
            .json(&json!({
                "agent_run": "run-c1", "sequence": sequence, "sent_at_ms": 0,
                "interval_ms": 1000, "reachable_peers": ["c2"],
                "nova_compute": "stopped", "libvirtd": "running",
                "events": [{"id": 1, "at_ms": 0,
                    "kind": {"process_down": {"process": "nova-compute"}}}],
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["acked_event"], 1, "{reply}");
        let peers: Vec<&str> = reply["peers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["host"].as_str())
            .collect();
        assert_eq!(peers, ["c2", "c3"], "{reply}");
        commands.extend(reply["commands"].as_array().cloned().unwrap_or_default());
        if !commands.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        commands,
        vec![json!({"restart_process": {"process": "nova-compute"}})]
    );
    // Delivered once: the next replies carry no command.
    let reply: Value = ctl
        .http
        .post(format!("{}/v1/lazarus/agents/c1/heartbeat", ctl.base))
        .bearer_auth(token("c1"))
        .json(&json!({
            "agent_run": "run-c1", "sequence": sequence + 1, "sent_at_ms": 0,
            "interval_ms": 1000, "reachable_peers": ["c2"],
            "nova_compute": "stopped", "libvirtd": "running",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["commands"], json!([]), "{reply}");
    ctl.stop().await;
}
