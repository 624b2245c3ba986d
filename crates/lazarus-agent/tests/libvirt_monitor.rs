//! The agent's instance monitor against a real libvirtd and QEMU (TCG): a whole agent,
//! its monitor running the real `virsh -c qemu:///system event --all --loop`, heartbeating
//! to the real router with a recording sink.
//!
//! Needs root and a libvirtd answering on `qemu:///system`: `tests/libvirt/up`. Run with
//! `cargo test -p lazarus-agent --test libvirt_monitor -- --ignored --nocapture`.
//!
//! What libvirt 9.0.0 with QEMU 7.2 printed on `virsh event --all --loop` (Debian 12):
//!
//! ```text
//! event 'lifecycle' for domain 'instance-lztest-manual-1': Resumed Unpaused      # virsh create
//! event 'lifecycle' for domain 'instance-lztest-manual-1': Started Booted
//! event 'lifecycle' for domain 'instance-lztest-manual-1': Stopped Failed        # kill -9 of its QEMU
//! event 'lifecycle' for domain 'instance-lztest-manual-2': Shutdown Finished after host request  # virsh destroy
//! event 'lifecycle' for domain 'instance-lztest-manual-2': Stopped Destroyed
//! ```
//!
//! The format is the one `parse_virsh_event` expected. What the real run found wrong:
//! a transient domain (`virsh create`) is gone once its QEMU died, so the `virsh
//! domuuid` the monitor ran after the failure failed and the failure was reported by
//! the domain's name instead of its UUID. The monitor now learns UUIDs beforehand
//! (the listing at stream start, and each domain's start); this test covers both: one
//! domain exists before the agent starts, the others start after.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use lazarus_agent::config::{CheckMethod, InstanceMonitorKind, InstancesSection};
use lazarus_agent::guest_ping::{GuestPinger, PingOutcome};
use lazarus_agent::protocol::{AgentEventKind, AgentHeartbeat, AgentReply};
use lazarus_agent::test_domains::{self, TestDomains};
use lazarus_agent::{AgentConfig, AgentToken, AgentTokens, HeartbeatSink, SinkError};
use lazarus_core::event::InstanceFailureKind;
use lazarus_core::{HostName, InstanceId};

const MS: Duration = Duration::from_millis(1);

/// An instance failure as the controller received it.
#[derive(Debug, Clone)]
struct Received {
    instance: InstanceId,
    failure: InstanceFailureKind,
    /// The agent's clock when its monitor had it (ms since the epoch).
    seen_at_ms: u64,
    /// The sink's clock when the heartbeat carrying it arrived (ms since the epoch).
    arrived_at_ms: u64,
}

/// Records each instance failure once (heartbeats resend until acknowledged).
#[derive(Default)]
struct Recording {
    tokens: AgentTokens,
    ids: Mutex<HashSet<u64>>,
    failures: Mutex<Vec<Received>>,
}

#[async_trait]
impl HeartbeatSink for Recording {
    fn authenticate(&self, host: &HostName, token: &str) -> bool {
        self.tokens.verify(host, token)
    }

    async fn deliver(&self, _host: HostName, hb: AgentHeartbeat) -> Result<AgentReply, SinkError> {
        let now = epoch_ms();
        let mut acked = 0;
        for e in &hb.events {
            acked = acked.max(e.id);
            if !self.ids.lock().unwrap().insert(e.id) {
                continue;
            }
            if let AgentEventKind::InstanceFailed { instance, failure } = &e.kind {
                self.failures.lock().unwrap().push(Received {
                    instance: instance.clone(),
                    failure: *failure,
                    seen_at_ms: e.at_ms,
                    arrived_at_ms: now,
                });
            }
        }
        Ok(AgentReply {
            acked_event: acked,
            peers: vec![],
            commands: vec![],
        })
    }
}

/// The wall clock, as the agent stamps `at_ms` with it: only for the printed figures
/// and the run's names.
#[allow(clippy::disallowed_methods)]
fn epoch_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn virsh(args: &[&str]) -> std::process::Output {
    test_domains::virsh(args).unwrap()
}

/// This test run's domains, named and numbered for it.
struct Domains {
    run: String,
    domains: TestDomains,
}

impl Domains {
    fn new() -> Self {
        Self {
            // Unique per run: the pid and the clock's milliseconds.
            run: format!(
                "{:04x}{:04x}",
                std::process::id() & 0xffff,
                epoch_ms() & 0xffff
            ),
            domains: TestDomains::connect().unwrap(),
        }
    }

    /// Starts `instance-lztest-<run>-<n>`. Returns its name and UUID.
    fn create(&mut self, n: u32) -> (String, InstanceId) {
        self.create_with(n, "")
    }

    /// The same, with more devices (XML).
    fn create_with(&mut self, n: u32, devices: &str) -> (String, InstanceId) {
        let name = format!("instance-lztest-{}-{n}", self.run);
        let uuid = format!(
            "4c7a1b2e-{}-4000-8000-{}{n:08x}",
            &self.run[..4],
            &self.run[4..]
        );
        self.domains.create(&name, &uuid, devices).unwrap();
        (name, InstanceId::from(uuid))
    }

    /// Kills the domain's QEMU with SIGKILL; returns the moment (ms since the epoch).
    fn kill_qemu(&self, name: &str) -> u64 {
        let at = epoch_ms();
        self.domains.kill_qemu(name).unwrap();
        at
    }
}

async fn failure_of(sink: &Recording, instance: &InstanceId, what: &str) -> Received {
    // Up to 30 s, by attempts.
    for _ in 0..1500 {
        let found = {
            let reported = sink.failures.lock().unwrap();
            reported.iter().find(|f| &f.instance == instance).cloned()
        };
        if let Some(f) = found {
            return f;
        }
        tokio::time::sleep(20 * MS).await;
    }
    panic!("no failure reported within 30 s for {what} ({instance})");
}

/// Whether one of this test's agent's `virsh … event` children runs (the stream is
/// being set up or up).
fn event_stream_running() -> bool {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
        let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        let cmdline = std::fs::read_to_string(p.path().join("cmdline")).unwrap_or_default();
        // stat: pid (comm) state ppid ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1));
        ppid == Some(me.as_str()) && cmdline.contains("event\0--all\0--loop")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and libvirt (tests/libvirt/up)"]
async fn a_killed_qemu_is_reported_crashed_by_uuid_and_a_destroyed_domain_is_not() {
    let mut domains = Domains::new();
    // Exists before the agent: its UUID comes from the listing at stream start.
    let (early, early_uuid) = domains.create(1);

    let host = HostName::from("cmp-libvirt");
    let token = AgentToken::new("token-of-cmp-libvirt-0123456789").unwrap();
    let mut tokens = AgentTokens::new();
    tokens.insert(host.clone(), token.clone());
    let sink = Arc::new(Recording {
        tokens,
        ..Default::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let controller = format!("http://{}", listener.local_addr().unwrap());
    let app = lazarus_agent::heartbeat_router(sink.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut c = AgentConfig::default();
    c.controller.urls = vec![controller];
    c.controller.heartbeat_interval = 100 * MS;
    c.controller.request_timeout = 300 * MS;
    c.peers.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    c.processes.nova_compute.check = CheckMethod::None;
    c.processes.libvirtd.check = CheckMethod::None;
    c.instances.monitor = InstanceMonitorKind::Virsh; // the default commands: real virsh
    c.validate().unwrap();
    let agent = lazarus_agent::start(c, host, token).await.unwrap();

    // The stream registers with libvirtd right after virsh starts; a kill before that
    // would be missed, and the test would fail (not pass wrongly).
    for _ in 0..100 {
        if event_stream_running() {
            break;
        }
        tokio::time::sleep(20 * MS).await;
    }
    assert!(
        event_stream_running(),
        "the agent did not start virsh event"
    );
    tokio::time::sleep(1000 * MS).await;

    // Start after the agent: their UUIDs come from their start events.
    let (stopped, stopped_uuid) = domains.create(2);
    let (late, late_uuid) = domains.create(3);

    let killed_at = domains.kill_qemu(&early);
    let f = failure_of(&sink, &early_uuid, &early).await;
    assert_eq!(f.failure, InstanceFailureKind::Crashed);
    eprintln!(
        "SIGKILL of {early}'s QEMU: the monitor had the failure after {} ms, the controller after {} ms",
        f.seen_at_ms.saturating_sub(killed_at),
        f.arrived_at_ms.saturating_sub(killed_at)
    );

    // An operator's stop, then a third domain's crash: once that is seen, everything
    // libvirt said about the stop was seen too (one ordered stream).
    let out = virsh(&["destroy", &stopped]);
    assert!(
        out.status.success(),
        "virsh destroy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let killed_at = domains.kill_qemu(&late);
    let f = failure_of(&sink, &late_uuid, &late).await;
    assert_eq!(f.failure, InstanceFailureKind::Crashed);
    eprintln!(
        "SIGKILL of {late}'s QEMU: the monitor had the failure after {} ms, the controller after {} ms",
        f.seen_at_ms.saturating_sub(killed_at),
        f.arrived_at_ms.saturating_sub(killed_at)
    );

    let all = sink.failures.lock().unwrap().clone();
    assert!(
        all.iter()
            .all(|f| f.instance != stopped_uuid && f.instance.as_str() != stopped),
        "virsh destroy was reported as a failure: {all:?}"
    );
    assert_eq!(all.len(), 2, "exactly the two crashes: {all:?}");
    agent.shutdown().await;
}

/// The guest-agent channel, with no agent in the guest (there is no guest OS at all).
const AGENT_CHANNEL: &str =
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and libvirt (tests/libvirt/up)"]
async fn domains_whose_guest_agent_never_answered_are_not_reported() {
    let mut domains = Domains::new();
    let (bare, bare_uuid) = domains.create(11);
    let (silent, silent_uuid) = domains.create_with(12, AGENT_CHANNEL);
    let c = InstancesSection {
        monitor: InstanceMonitorKind::Virsh,
        guest_ping: true,
        guest_ping_misses: 1, // the strictest: one miss would do for a guest that answered
        ..InstancesSection::default()
    };
    let mut pinger = GuestPinger::new(&c);
    let mut seen = vec![];
    for round in 0..3 {
        // Other domains of the host may run (another test's): only ours are looked at.
        let ours: Vec<_> = pinger
            .round()
            .await
            .into_iter()
            .filter(|r| r.instance == bare_uuid || r.instance == silent_uuid)
            .collect();
        for r in &ours {
            eprintln!(
                "round {round}: {} {:?} → {:?}",
                r.domain, r.outcome, r.failure
            );
            assert_eq!(r.failure, None, "{r:?}");
        }
        seen.push(ours);
    }
    let outcome = |round: usize, uuid: &InstanceId| {
        seen[round]
            .iter()
            .find(|r| &r.instance == uuid)
            .map(|r| r.outcome.clone())
    };
    // libvirt 9.0: "argument unsupported: QEMU guest agent is not configured".
    assert_eq!(outcome(0, &bare_uuid), Some(PingOutcome::NoAgent), "{bare}");
    assert_eq!(
        outcome(1, &bare_uuid),
        None,
        "{bare} is not pinged again while it runs"
    );
    // libvirt 9.0: "Guest agent is not responding: QEMU guest agent is not connected".
    for round in 0..3 {
        match outcome(round, &silent_uuid) {
            Some(PingOutcome::NoAnswer(why)) => assert!(why.contains("not connected"), "{why}"),
            other => panic!("{silent}, round {round}: {other:?}"),
        }
    }
}
