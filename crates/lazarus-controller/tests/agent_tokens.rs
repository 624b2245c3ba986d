//! Agent tokens while the controller runs: a compute host provisioned after the
//! controller started is taken once its token file is in `[agents] token_dir`, and a
//! host whose file is removed is refused, without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lazarus_api::NoAuth;
use serde_json::json;
use support::{agents_section, token, FakeCloud, Running};

/// The HTTP status of one heartbeat from `host`'s agent.
async fn heartbeat(ctl: &Running, host: &str) -> u16 {
    static SEQUENCE: AtomicU64 = AtomicU64::new(1);
    ctl.http
        .post(format!("{}/v1/lazarus/agents/{host}/heartbeat", ctl.base))
        .bearer_auth(token(host))
        .json(&json!({
            "agent_run": format!("run-{host}"),
            "sequence": SEQUENCE.fetch_add(1, Ordering::SeqCst),
            "sent_at_ms": 0, "interval_ms": 1000, "reachable_peers": [],
            "nova_compute": "running", "libvirtd": "running",
        }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_dropped_in_or_removed_from_the_directory_takes_effect_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    // A re-read period no run of this test reaches: only refusals cause re-reads.
    let extra = format!(
        "{}token_reread_interval = \"1h\"\n",
        agents_section(dir.path(), &["c1"])
    );
    let ctl = Running::start_with(cloud, dir.path(), &extra, Arc::new(NoAuth), None).await;
    ctl.protect().await;
    assert_eq!(heartbeat(&ctl, "c1").await, 200);
    assert_eq!(heartbeat(&ctl, "c2").await, 401, "c2 has no token yet");

    // c2 is provisioned: its token file appears; its agent keeps trying.
    std::fs::write(dir.path().join("tokens/c2"), format!("{}\n", token("c2"))).unwrap();
    ctl.wait("c2's heartbeats to be taken", || async {
        heartbeat(&ctl, "c2").await == 200
    })
    .await;
    ctl.wait("c2 to be up", || async { ctl.health("c2").await == "up" })
        .await;

    // c1 is decommissioned: its file goes; a refusal (here c3's) gets the
    // directory read again, and c1 is refused from then on.
    std::fs::remove_file(dir.path().join("tokens/c1")).unwrap();
    assert_eq!(heartbeat(&ctl, "c3").await, 401);
    ctl.wait("c1's heartbeats to be refused", || async {
        heartbeat(&ctl, "c1").await == 401
    })
    .await;
    assert_eq!(heartbeat(&ctl, "c2").await, 200, "c2 is untouched");
    ctl.stop().await;
}
