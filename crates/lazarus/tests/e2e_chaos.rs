//! Chaos end to end: real failures of real hosts, judged by a real controller.
//!
//! Each test breaks one host of the chaos cloud (`bin/devcloud up --netns`: three
//! hosts, each in its own network namespace with nova-compute, a `lazarus agent` and
//! a Redfish BMC; see `e2e/chaos.rs`) and checks what lazarus does about it:
//!
//! 1. power off through the BMC: detected, fence confirmed, evacuated, ACTIVE elsewhere;
//! 2. cut from the controller only: partitioned, never fenced, nothing evacuated;
//! 3. cut off entirely: the agent applies its isolation response, the host is fenced
//!    through its BMC and recovered;
//! 4. nova-compute killed: the agent restarts it; no fence, no evacuation (4); if the
//!    restart fails, the host is disabled for scheduling, nothing moves, and it is
//!    enabled again once nova-compute runs (4b);
//! 5. a BMC that does not answer: no evacuation, a critical alert; the recovery
//!    proceeds once the BMC answers (5) or an operator confirms the host is off (5b);
//! 6. a guest's QEMU killed (a real libvirt domain standing in for a server's guest):
//!    the agent reports it, the controller resets the server through Nova, the host is
//!    left alone; an operator's `virsh destroy` resets nothing.
//!
//! Needs root (network namespaces) and the devcloud's packages (and for 6, libvirt:
//! `tests/libvirt/up`); `#[ignore]`d for a plain
//! `cargo test`:
//!
//! ```text
//! cargo nextest run -p lazarus --run-ignored all -E 'test(/^e2e_chaos/)' --no-capture
//! ```
//!
//! Figures are printed as `MEASURED chaos ...` and appended to `target/test-logs/e2e.txt`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod e2e;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e::chaos::{figure, metric, recoveries, ChaosCloud, LibvirtDomains, Watch};
use e2e::evacuations_per_server;
use lazarus_openstack::{Cloud, ServiceState, ServiceStatus};
use tokio::time::Instant;

const VICTIM: &str = "compute1";

fn is_failure(health: &str) -> bool {
    matches!(health, "failed" | "isolated")
}

/// Whether a recovery for `host` exists.
async fn has_recovery(ctl: &e2e::Controller, host: &str) -> bool {
    recoveries(ctl).await.iter().any(|r| r["host"] == host)
}

/// Holds for `period`, every 500 ms: the host is not judged failed, has no recovery,
/// its BMC reads On and its servers are still where they were.
async fn assert_left_alone(
    cloud: &ChaosCloud,
    ctl: &e2e::Controller,
    watch: &Watch,
    ids: &[String],
    period: Duration,
    until: impl Fn() -> bool,
) {
    let end = Instant::now() + period;
    while Instant::now() < end || !until() {
        assert!(
            watch.first(|h, _| is_failure(h)).is_none(),
            "{VICTIM} was judged failed:\n{}",
            watch.timeline()
        );
        assert!(
            !has_recovery(ctl, VICTIM).await,
            "a recovery of {VICTIM} started:\n{}",
            watch.timeline()
        );
        assert_eq!(cloud.power_state(VICTIM), "On", "{VICTIM} was powered off");
        let hosts = cloud.server_hosts(ids).await;
        assert!(
            hosts.iter().all(|h| h.as_deref() == Some(VICTIM)),
            "a server left {VICTIM}: {hosts:?}"
        );
        assert!(
            Instant::now() < end + Duration::from_secs(120),
            "the condition to stop watching never came"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// When the fence of the victim was confirmed and its last server was ACTIVE
/// elsewhere (since the watch started), once every server is; each evacuated exactly
/// once.
async fn wait_recovery(cloud: &ChaosCloud, watch: &Watch, ids: &[String]) -> (Duration, Duration) {
    let fenced = watch
        .wait("the fence confirmed", Duration::from_secs(90), |_, p| {
            !p.is_empty() && p != "fencing"
        })
        .await;
    let last_active = cloud
        .wait_recovered(ids, VICTIM, Duration::from_secs(180))
        .await
        - watch.started();
    eprintln!("timeline of {VICTIM}:\n{}", watch.timeline());
    let evacuations = evacuations_per_server(&cloud.client, ids).await;
    assert!(
        ids.iter().all(|id| evacuations.get(id) == Some(&1)),
        "each server evacuated exactly once: {evacuations:?}"
    );
    (fenced, last_active)
}

/// When the victim was judged failed, since the watch started.
async fn wait_failed(watch: &Watch) -> Duration {
    watch
        .wait("the host judged failed", Duration::from_secs(60), |h, _| {
            is_failure(h)
        })
        .await
}

/// Wall-clock seconds, to compare with the time the agent's stand-in wrote.
#[allow(clippy::disallowed_methods)] // a test measuring real time, not the core
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the devcloud's packages"]
async fn e2e_chaos_1_a_host_powered_off_is_detected_fenced_and_its_servers_come_back_elsewhere() {
    let cloud = ChaosCloud::begin("power-off").await;
    let dir = tempfile::tempdir().unwrap();
    let config = cloud.write_controller_config(dir.path(), "", &[]);
    let ctl = cloud.start_controller("power-off", &config).await;
    let ids = cloud.boot_on(&ctl, "power-off", VICTIM, 2).await;

    let watch = Watch::start(&ctl, VICTIM);
    cloud.devcloud(&["power-off", VICTIM]);
    let detected = wait_failed(&watch).await;
    let (fenced, last_active) = wait_recovery(&cloud, &watch, &ids).await;

    assert_eq!(cloud.power_state(VICTIM), "Off");
    // The controller verifies each server (ACTIVE elsewhere, migration done) on its
    // own poll, a moment after the test saw them.
    e2e::wait_for(
        "the controller to count both servers recovered",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let recs = recoveries(&ctl).await;
            let rec = recs.iter().find(|r| r["host"] == VICTIM)?;
            (rec["instances"]["recovered"] == 2).then_some(())
        },
    )
    .await;
    figure("power-off", "power-off -> judged failed", detected);
    figure(
        "power-off",
        "power-off -> fence confirmed (BMC reads Off)",
        fenced,
    );
    figure(
        "power-off",
        "power-off -> last server ACTIVE elsewhere",
        last_active,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the devcloud's packages"]
async fn e2e_chaos_2_a_host_cut_from_the_controller_only_is_partitioned_never_fenced() {
    let cloud = ChaosCloud::begin("cut-controller").await;
    let dir = tempfile::tempdir().unwrap();
    let config = cloud.write_controller_config(dir.path(), "", &[]);
    let ctl = cloud.start_controller("cut-controller", &config).await;
    let ids = cloud.boot_on(&ctl, "cut-controller", VICTIM, 1).await;

    let watch = Watch::start(&ctl, VICTIM);
    cloud.devcloud(&["cut", VICTIM, "--from", "controller"]);
    let partitioned = watch
        .wait(
            "the host judged partitioned",
            Duration::from_secs(60),
            |h, _| h == "partitioned",
        )
        .await;
    figure("cut-controller", "cut -> judged partitioned", partitioned);
    // Its nova-compute cannot reach the control plane either: wait until Nova itself
    // reports the service down (service_down_time, 60 s), and 10 s more.
    let client = cloud.client.clone();
    let nova_down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poll = {
        let nova_down = std::sync::Arc::clone(&nova_down);
        tokio::spawn(async move {
            loop {
                if let Ok(list) = client.list_compute_services().await {
                    if list
                        .iter()
                        .any(|s| s.host == VICTIM && s.state == ServiceState::Down)
                    {
                        nova_down.store(true, std::sync::atomic::Ordering::SeqCst);
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let t_down = Instant::now();
    assert_left_alone(&cloud, &ctl, &watch, &ids, Duration::from_secs(15), || {
        nova_down.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    poll.abort();
    figure(
        "cut-controller",
        "watched after the cut, Nova's service down at the end, never fenced",
        watch.started().elapsed(),
    );
    eprintln!(
        "Nova reported {VICTIM} down {:.1} s into the watch",
        (Instant::now() - t_down).as_secs_f64()
    );
    assert_left_alone(&cloud, &ctl, &watch, &ids, Duration::from_secs(10), || true).await;
    assert_eq!(
        metric(&ctl, "lazarus_nova_calls", &["force_down"]).await,
        0.0,
        "no host forced down"
    );

    cloud.devcloud(&["restore", VICTIM]);
    let t_restore = watch.started().elapsed();
    let back = watch
        .wait_since(
            "the host up again",
            Duration::from_secs(60),
            t_restore,
            |h, _| h == "up",
        )
        .await;
    eprintln!("timeline of {VICTIM}:\n{}", watch.timeline());
    figure(
        "cut-controller",
        "restore -> judged up",
        back.saturating_sub(t_restore),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the devcloud's packages"]
async fn e2e_chaos_3_a_host_cut_off_entirely_isolates_itself_is_fenced_and_recovered() {
    let cloud = ChaosCloud::begin("cut-all").await;
    let dir = tempfile::tempdir().unwrap();
    let config = cloud.write_controller_config(dir.path(), "", &[]);
    let ctl = cloud.start_controller("cut-all", &config).await;
    let ids = cloud.boot_on(&ctl, "cut-all", VICTIM, 2).await;

    let watch = Watch::start(&ctl, VICTIM);
    let cut_at = unix_now();
    cloud.devcloud(&["cut", VICTIM, "--from", "all"]);
    let detected = wait_failed(&watch).await;
    let (fenced, last_active) = wait_recovery(&cloud, &watch, &ids).await;

    let marker = std::fs::read_to_string(cloud.isolation_marker(VICTIM)).unwrap_or_else(|e| {
        panic!(
            "the agent did not apply its isolation response ({e}); its log:\n{}",
            cloud.agent_log(VICTIM)
        )
    });
    let isolated_at: f64 = marker
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("the marker holds a time");
    assert!(
        cloud.agent_log(VICTIM).contains("isolation"),
        "the agent says so in its log"
    );
    assert_eq!(cloud.power_state(VICTIM), "Off", "fenced through its BMC");
    figure(
        "cut-all",
        "cut -> isolation response applied by the agent",
        Duration::from_secs_f64((isolated_at - cut_at).max(0.0)),
    );
    figure("cut-all", "cut -> judged failed", detected);
    figure("cut-all", "cut -> fence confirmed (BMC reads Off)", fenced);
    figure(
        "cut-all",
        "cut -> last server ACTIVE elsewhere",
        last_active,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the devcloud's packages"]
async fn e2e_chaos_4_a_killed_nova_compute_is_restarted_by_the_agent_without_fencing() {
    let cloud = ChaosCloud::begin("kill-nova-compute").await;
    let dir = tempfile::tempdir().unwrap();
    let config = cloud.write_controller_config(dir.path(), "", &[]);
    let ctl = cloud.start_controller("kill-nova-compute", &config).await;
    let ids = cloud.boot_on(&ctl, "kill-nova-compute", VICTIM, 1).await;
    let pattern = format!("computes/{VICTIM}/nova-compute-netns.conf");
    let pids = || {
        let out = std::process::Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let before = pids();
    assert!(!before.is_empty(), "nova-compute runs in {VICTIM}");

    let watch = Watch::start(&ctl, VICTIM);
    cloud.devcloud(&["kill-compute", VICTIM]);
    let restarted = e2e::wait_for(
        "the agent to restart nova-compute",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let now = pids();
            (!now.is_empty() && now != before).then(|| watch.started().elapsed())
        },
    )
    .await;
    figure(
        "kill-nova-compute",
        "kill -> nova-compute running again",
        restarted,
    );
    assert_left_alone(&cloud, &ctl, &watch, &ids, Duration::from_secs(20), || true).await;
    let log = cloud.agent_log(VICTIM);
    assert!(
        log.contains("restart"),
        "the agent says it restarted nova-compute:\n{log}"
    );
    // Nova hears the restarted compute again.
    e2e::wait_for(
        "Nova's service up",
        Duration::from_secs(60),
        Duration::from_secs(1),
        || async {
            let list = cloud.client.list_compute_services().await.ok()?;
            list.iter()
                .any(|s| s.host == VICTIM && s.state == ServiceState::Up && !s.forced_down)
                .then_some(())
        },
    )
    .await;
    eprintln!("timeline of {VICTIM}:\n{}", watch.timeline());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the devcloud's packages"]
async fn e2e_chaos_4b_a_nova_compute_the_agent_cannot_restart_disables_the_host_and_nothing_moves()
{
    let cloud = ChaosCloud::begin("nova-compute-stays-down").await;
    let dir = tempfile::tempdir().unwrap();
    let config = cloud.write_controller_config(dir.path(), "", &[]);
    let ctl = cloud
        .start_controller("nova-compute-stays-down", &config)
        .await;
    let ids = cloud
        .boot_on(&ctl, "nova-compute-stays-down", VICTIM, 1)
        .await;
    cloud.set_restart_command(
        VICTIM,
        &["sh", "-c", "echo cannot start nova-compute >&2; exit 1"],
    );

    let watch = Watch::start(&ctl, VICTIM);
    cloud.devcloud(&["kill-compute", VICTIM]);
    let service = |client: lazarus_openstack::OpenStackClient| async move {
        client
            .list_compute_services()
            .await
            .ok()?
            .into_iter()
            .find(|s| s.host == VICTIM)
    };
    let disabled = e2e::wait_for(
        "the host disabled for scheduling by lazarus",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let s = service(cloud.client.clone()).await?;
            (s.status == lazarus_openstack::ServiceStatus::Disabled
                && s.disabled_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("lazarus")))
            .then(|| watch.started().elapsed())
        },
    )
    .await;
    figure(
        "nova-compute-stays-down",
        "kill (restart fails) -> host disabled in Nova",
        disabled,
    );
    // Its instances keep running where they are: no fence, no recovery, 20 s held.
    assert_left_alone(&cloud, &ctl, &watch, &ids, Duration::from_secs(20), || true).await;
    let forced = service(cloud.client.clone())
        .await
        .expect("the service")
        .forced_down;
    assert!(!forced, "a host with a live agent is not forced down");

    // Repaired by hand: lazarus re-enables what it disabled.
    let started = watch.started().elapsed();
    cloud.devcloud(&["start-compute", VICTIM, "--no-wait"]);
    let enabled = e2e::wait_for(
        "the host enabled again by lazarus",
        Duration::from_secs(90),
        Duration::from_millis(200),
        || async {
            let s = service(cloud.client.clone()).await?;
            (s.status == lazarus_openstack::ServiceStatus::Enabled)
                .then(|| watch.started().elapsed())
        },
    )
    .await;
    figure(
        "nova-compute-stays-down",
        "nova-compute started by hand -> host enabled again",
        enabled.saturating_sub(started),
    );
    eprintln!("timeline of {VICTIM}:\n{}", watch.timeline());
}

/// What ends the wait of a recovery whose BMC does not answer.
#[derive(Clone, Copy, PartialEq)]
enum Release {
    /// The BMC answers again: lazarus powers the host off and reads Off back.
    BmcAnswers,
    /// An operator confirms the host is off (`POST .../confirm-fenced`); the BMC
    /// stays silent.
    OperatorConfirms,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the devcloud's packages"]
async fn e2e_chaos_5_a_bmc_that_does_not_answer_holds_the_recovery_until_it_answers() {
    mute_bmc("mute-bmc", Release::BmcAnswers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the devcloud's packages"]
async fn e2e_chaos_5b_a_bmc_that_does_not_answer_holds_the_recovery_until_an_operator_confirms() {
    mute_bmc("mute-bmc-operator", Release::OperatorConfirms).await;
}

/// A host crashes (power left on) while its BMC does not answer: it is judged failed,
/// the fence cannot be confirmed, a critical alert is raised and nothing is evacuated;
/// `release` then lets the recovery go on.
async fn mute_bmc(tag: &str, release: Release) {
    let cloud = ChaosCloud::begin(tag).await;
    let dir = tempfile::tempdir().unwrap();
    // A BMC call gives up after 4 s; two attempts per fence, then the critical alert.
    let config = cloud.write_controller_config(
        dir.path(),
        "[engine.fencing]\nmax_fence_attempts = 2\nretry_backoff = \"1s\"\nunconfirmed_poll_interval = \"5s\"\n",
        &[
            ("call_timeout = \"20s\"", "call_timeout = \"4s\""),
            ("request_timeout = \"5s\"", "request_timeout = \"1s\""),
            ("retries = 2", "retries = 1"),
        ],
    );
    let ctl = cloud.start_controller(tag, &config).await;
    let ids = cloud.boot_on(&ctl, tag, VICTIM, 2).await;

    let watch = Watch::start(&ctl, VICTIM);
    cloud.devcloud(&["bmc-mute", VICTIM]);
    cloud.devcloud(&["crash", VICTIM]);
    let detected = wait_failed(&watch).await;
    let alerted = e2e::wait_for(
        "a critical alert",
        Duration::from_secs(120),
        Duration::from_millis(250),
        || async {
            (metric(&ctl, "lazarus_alerts", &["critical"]).await > 0.0)
                .then(|| watch.started().elapsed())
        },
    )
    .await;
    // Hold: nothing is evacuated while the fence is unconfirmed.
    let hold_end = Instant::now() + Duration::from_secs(15);
    while Instant::now() < hold_end {
        let hosts = cloud.server_hosts(&ids).await;
        assert!(
            hosts.iter().all(|h| h.as_deref() == Some(VICTIM)),
            "a server was evacuated from a host not confirmed fenced: {hosts:?}"
        );
        assert!(
            watch
                .first(|_, p| !p.is_empty() && p != "fencing")
                .is_none(),
            "the recovery went past fencing without a confirmation:\n{}",
            watch.timeline()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let evacuations = evacuations_per_server(&cloud.client, &ids).await;
    assert!(
        evacuations.values().all(|n| *n == 0),
        "no evacuation: {evacuations:?}"
    );

    let released = watch.started().elapsed();
    let how = match release {
        Release::BmcAnswers => {
            cloud.devcloud(&["bmc-unmute", VICTIM]);
            "BMC answers again"
        }
        Release::OperatorConfirms => {
            let (status, body) = ctl
                .post(
                    &format!("/v1/lazarus/hosts/{VICTIM}/confirm-fenced"),
                    serde_json::json!({"reason": "chaos test: the host is dead, its BMC silent"}),
                )
                .await;
            assert_eq!(status, 202, "confirm-fenced: {body}");
            "operator confirms"
        }
    };
    let (fenced, last_active) = wait_recovery(&cloud, &watch, &ids).await;
    let recs = recoveries(&ctl).await;
    let rec = recs
        .iter()
        .find(|r| r["host"] == VICTIM)
        .expect("a recovery");
    let detail = ctl
        .get(&format!(
            "/v1/lazarus/recoveries/{}",
            rec["id"].as_str().unwrap()
        ))
        .await;
    let confirmation = detail.to_string();
    match release {
        Release::BmcAnswers => {
            assert_eq!(cloud.power_state(VICTIM), "Off");
            assert!(confirmation.contains(r#""how":{"power_off""#), "{detail}");
        }
        Release::OperatorConfirms => {
            assert!(confirmation.contains(r#""how":{"operator""#), "{detail}");
        }
    }
    figure(tag, "crash -> judged failed", detected);
    figure(tag, "crash -> critical alert (BMC silent)", alerted);
    figure(
        tag,
        &format!("{how} -> fence confirmed"),
        fenced.saturating_sub(released),
    );
    figure(
        tag,
        &format!("{how} -> last server ACTIVE elsewhere"),
        last_active.saturating_sub(released),
    );
}

/// Nova's name for a server's guest (`OS-EXT-SRV-ATTR:instance_name`, `instance-…`).
async fn instance_name(cloud: &ChaosCloud, id: &str) -> String {
    let body = cloud
        .nova_get(&format!("/servers/{id}"))
        .await
        .expect("GET the server");
    body["server"]["OS-EXT-SRV-ATTR:instance_name"]
        .as_str()
        .expect("Nova names the server's guest (admin)")
        .to_owned()
}

/// The UTC time of day (seconds) a log line starts with (`2026-11-21T16:31:27.801580Z`,
/// possibly in ANSI colours).
fn log_time_of_day(line: &str) -> Option<f64> {
    let start = line.find(|c: char| c.is_ascii_digit())?;
    let stamp = line[start..]
        .split(|c: char| c.is_whitespace() || c == '\x1b')
        .next()?;
    let time = stamp.split_once('T')?.1;
    let mut parts = time.trim_end_matches('Z').split(':');
    let (h, m, s): (f64, f64, f64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Whether a log has a line with every one of `parts` (the lines carry ANSI colours
/// between a field's name and its value, so the parts are matched one by one).
fn log_has(log: &str, parts: &[&str]) -> bool {
    log.lines().any(|l| parts.iter().all(|p| l.contains(p)))
}

/// What the controller logs as it makes the reset call (with the instance's id and
/// the failure): the engine decides as it takes the agent's report.
const RESETTING: &str = "resetting instance";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, the devcloud's packages and libvirt (tests/libvirt/up)"]
async fn e2e_chaos_6_a_crashed_vm_is_restarted_through_nova_and_its_host_left_alone() {
    let tag = "vm-crash";
    let mut domains = LibvirtDomains::connect();
    let cloud = ChaosCloud::begin(tag).await;
    // The machine has one libvirtd, which every host would see: only the victim's
    // agent watches it.
    cloud.add_agent_section(VICTIM, "[instances]\nmonitor = \"virsh\"\n");
    let dir = tempfile::tempdir().unwrap();
    let config = cloud.write_controller_config(dir.path(), "", &[]);
    let ctl = cloud.start_controller(tag, &config).await;
    // Protected the Masakari way (protection is also lazarus's default).
    let ids = cloud
        .boot_on_with(&ctl, tag, VICTIM, 2, &[("HA_Enabled", "True")])
        .await;
    let (crashing, stopping) = (ids[0].as_str(), ids[1].as_str());

    // The agent runs in the host's network namespace; virsh reaches libvirtd through
    // its unix socket in /run/libvirt, which the namespace shares.
    // The restarted agent starts its stream after listing the domains: wait for it.
    let stream = e2e::devcloud::wait_for(
        &format!("{VICTIM}'s agent to run its virsh event stream"),
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { cloud.virsh_event_stream(VICTIM) },
    )
    .await;
    assert_ne!(
        stream.netns,
        e2e::chaos::netns_of(std::process::id()),
        "the agent's virsh runs inside {VICTIM}'s namespace"
    );

    // A guest per server, named and identified as Nova's libvirt driver does.
    let crash_name = instance_name(&cloud, crashing).await;
    let stop_name = instance_name(&cloud, stopping).await;
    domains.create(&crash_name, crashing);
    domains.create(&stop_name, stopping);

    let watch = Watch::start(&ctl, VICTIM);
    // The operator's stop comes first: libvirt's event stream is ordered, so once the
    // crash is reported everything the stop produced was seen (and reported, if it were).
    domains.destroy(&stop_name);
    domains.kill_qemu(&crash_name);
    let killed = Instant::now();
    let killed_at = unix_now();

    let (mut seen, mut reset, mut active) = (None, None, None);
    let limit = killed + Duration::from_secs(90);
    while active.is_none() {
        assert!(
            Instant::now() < limit,
            "no reset within 90 s (failure seen: {seen:?}, reset: {reset:?}); agent log:\n{}",
            cloud.agent_log(VICTIM)
        );
        let now = Instant::now() - killed;
        if seen.is_none() && log_has(&cloud.controller_log(tag), &[RESETTING, crashing]) {
            seen = Some(now);
        }
        if reset.is_none() {
            let actions = cloud.instance_actions(crashing).await.unwrap_or_default();
            if actions.iter().any(|a| a == "reboot") {
                reset = Some(now);
            }
        } else if let Ok(s) = cloud.client.get_server_quick(crashing).await {
            if s.status == "ACTIVE" && s.task_state.is_none() {
                active = Some(now);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.unwrap_or_else(|| {
        panic!(
            "Nova has a reboot, but the controller never logged its reset:\n{}",
            cloud.controller_log(tag)
        )
    });
    let (reset, active) = (reset.unwrap(), active.unwrap());
    eprintln!("timeline of {VICTIM}:\n{}", watch.timeline());

    // What each part says.
    let agent_log = cloud.agent_log(VICTIM);
    let agent_saw = agent_log
        .lines()
        .find(|l| {
            ["instance failure seen by libvirt", crashing, "Crashed"]
                .iter()
                .all(|p| l.contains(p))
        })
        .unwrap_or_else(|| panic!("the agent reports the crash by the server's id:\n{agent_log}"));
    let log = cloud.controller_log(tag);
    assert!(
        log_has(&log, &[RESETTING, crashing, "Crashed"]),
        "the controller resets the server for its crash:\n{log}"
    );
    assert_eq!(
        cloud.instance_actions(crashing).await.unwrap(),
        ["create", "reboot"],
        "one reset (a hard reboot, the engine's ResetInstance) of the crashed server"
    );
    assert_eq!(
        metric(
            &ctl,
            "lazarus_nova_calls",
            &["reset_instance", "result=\"ok\""]
        )
        .await,
        1.0,
        "the controller counts one reset call, answered"
    );

    // The operator's stop: seen before the crash, never reported, never reset.
    assert!(
        !log_has(&log, &[RESETTING, stopping]),
        "virsh destroy was taken for a failure:\n{log}"
    );
    assert_eq!(
        cloud.instance_actions(stopping).await.unwrap(),
        ["create"],
        "the stopped server was left alone"
    );
    assert_eq!(
        cloud.virsh_event_stream(VICTIM).map(|s| s.pid),
        Some(stream.pid),
        "the agent's event stream ran throughout (none of libvirt's events was missed)"
    );

    // The host is not fenced, nothing is evacuated, it stays enabled.
    assert_left_alone(&cloud, &ctl, &watch, &ids, Duration::from_secs(5), || true).await;
    let evacuations = evacuations_per_server(&cloud.client, &ids).await;
    assert!(
        evacuations.values().all(|n| *n == 0),
        "nothing evacuated: {evacuations:?}"
    );
    let services = cloud.client.list_compute_services().await.unwrap();
    let service = services
        .iter()
        .find(|s| s.host == VICTIM)
        .expect("the victim's compute service");
    assert!(
        service.status == ServiceStatus::Enabled && !service.forced_down,
        "{VICTIM} stays enabled, not forced down: {service:?}"
    );
    assert_eq!(
        metric(&ctl, "lazarus_nova_calls", &["force_down"]).await
            + metric(&ctl, "lazarus_nova_calls", &["operation=\"disable\""]).await,
        0.0,
        "no host forced down or disabled"
    );

    // Both clocks are this machine's; the log has the time of day only.
    let at = log_time_of_day(agent_saw)
        .unwrap_or_else(|| panic!("no time at the start of the agent's line: {agent_saw}"));
    let after = (at - killed_at.rem_euclid(86_400.0)).rem_euclid(86_400.0);
    figure(
        tag,
        "SIGKILL of a guest's QEMU -> failure seen by the agent's monitor (its log)",
        Duration::from_secs_f64(after),
    );
    figure(
        tag,
        "SIGKILL -> failure seen by the controller (reset call starts)",
        seen,
    );
    figure(
        tag,
        "SIGKILL -> reset (hard reboot) recorded by Nova",
        reset,
    );
    figure(tag, "SIGKILL -> server ACTIVE after the reset", active);
}
