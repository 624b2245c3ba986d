//! Real agents, in process, on loopback, against the real heartbeat router with a
//! stand-in sink that records what it is told and answers with queued commands.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lazarus_agent::config::{CheckMethod, IsolationResponse};
use lazarus_agent::protocol::{AgentEventKind, AgentHeartbeat, AgentReply, EventLedger, PeerInfo};
use lazarus_agent::{AgentCommand, AgentConfig, AgentToken, AgentTokens, HeartbeatSink, SinkError};
use lazarus_core::event::Process;
use lazarus_core::{Event, HostName};

const MS: Duration = Duration::from_millis(1);

/// Records heartbeats and the core events they carry; answers with each host's
/// queued commands and the peers list.
#[derive(Default)]
struct Collecting {
    tokens: AgentTokens,
    ledger: Mutex<EventLedger>,
    last: Mutex<HashMap<HostName, AgentHeartbeat>>,
    events: Mutex<Vec<Event>>,
    commands: Mutex<HashMap<HostName, Vec<AgentCommand>>>,
    peers: Mutex<Vec<PeerInfo>>,
    unavailable: Mutex<bool>,
    /// Isolation responses reported (with resends).
    isolation_reports: Mutex<Vec<String>>,
}

#[async_trait]
impl HeartbeatSink for Collecting {
    fn authenticate(&self, host: &HostName, token: &str) -> bool {
        self.tokens.verify(host, token)
    }

    async fn deliver(&self, host: HostName, hb: AgentHeartbeat) -> Result<AgentReply, SinkError> {
        if *self.unavailable.lock().unwrap() {
            return Err(SinkError::Unavailable("test".into()));
        }
        for e in &hb.events {
            if let AgentEventKind::IsolationResponseApplied { response, .. } = &e.kind {
                self.isolation_reports
                    .lock()
                    .unwrap()
                    .push(response.clone());
            }
        }
        let (events, acked_event) = self.ledger.lock().unwrap().take(&host, &hb);
        self.events.lock().unwrap().extend(events);
        self.last.lock().unwrap().insert(host.clone(), hb);
        let commands = self
            .commands
            .lock()
            .unwrap()
            .remove(&host)
            .unwrap_or_default();
        Ok(AgentReply {
            acked_event,
            peers: self.peers.lock().unwrap().clone(),
            commands,
        })
    }
}

fn token(host: &str) -> AgentToken {
    AgentToken::new(&format!("token-of-{host}-0123456789")).unwrap()
}

async fn serve(sink: Arc<Collecting>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = lazarus_agent::heartbeat_router(sink);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn sink(hosts: &[&str]) -> Arc<Collecting> {
    let mut tokens = AgentTokens::new();
    for h in hosts {
        tokens.insert(HostName::from(*h), token(h));
    }
    Arc::new(Collecting {
        tokens,
        ..Default::default()
    })
}

/// Fast timings; processes not monitored unless a test says so.
fn config(controller: &str) -> AgentConfig {
    let mut c = AgentConfig::default();
    c.controller.urls = vec![controller.to_owned()];
    c.controller.heartbeat_interval = 100 * MS;
    c.controller.request_timeout = 300 * MS;
    c.peers.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    c.peers.probe_interval = 100 * MS;
    c.peers.reachable_window = 500 * MS;
    c.processes.check_interval = 100 * MS;
    c.processes.nova_compute.check = CheckMethod::None;
    c.processes.libvirtd.check = CheckMethod::None;
    c.isolation.isolation_time = 1000 * MS;
    c.isolation.check_timeout = 200 * MS;
    c.watchdog.feed_interval = 100 * MS;
    c.watchdog.controller_window = 300 * MS;
    c.validate().unwrap();
    c
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        tokio::time::sleep(50 * MS).await;
    }
    panic!("not within 5 s: {what}");
}

fn reported(sink: &Collecting, host: &str) -> BTreeSet<HostName> {
    sink.last
        .lock()
        .unwrap()
        .get(&HostName::from(host))
        .map(|hb| hb.reachable_peers.clone())
        .unwrap_or_default()
}

/// A TCP port nobody listens on.
async fn closed_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_see_each_other_and_report_a_stopped_one_unreachable() {
    let hosts = ["cmp-01", "cmp-02", "cmp-03"];
    let sink = sink(&hosts);
    let url = serve(sink.clone()).await;
    let mut agents = Vec::new();
    for h in hosts {
        agents.push(
            lazarus_agent::start(config(&url), h.into(), token(h))
                .await
                .unwrap(),
        );
    }
    // The controller names the segment's peers and their probe addresses.
    *sink.peers.lock().unwrap() = hosts
        .iter()
        .zip(&agents)
        .map(|(h, a)| PeerInfo {
            host: HostName::from(*h),
            probe: Some(a.probe_addr().to_string()),
        })
        .collect();
    eventually("every agent reports the two others", || {
        hosts.iter().all(|h| reported(&sink, h).len() == 2)
    })
    .await;
    assert!(!reported(&sink, "cmp-01").contains(&HostName::from("cmp-01")));
    // Each reported peer carries the age of its last answer, within the agent's
    // reachable window (500 ms here), so the controller can count from the answer.
    for (host, hb) in sink.last.lock().unwrap().iter() {
        assert!(
            hb.reachable_peer_ages_ms
                .keys()
                .eq(hb.reachable_peers.iter()),
            "{host}: {hb:?}"
        );
        assert!(
            hb.reachable_peer_ages_ms.values().all(|a| a.0 <= 500),
            "{host}: {hb:?}"
        );
    }

    let stopped = agents.pop().unwrap();
    stopped.shutdown().await;
    eventually("cmp-01 and cmp-02 report cmp-03 unreachable", || {
        ["cmp-01", "cmp-02"].iter().all(|h| {
            let r = reported(&sink, h);
            r.len() == 1 && !r.contains(&HostName::from("cmp-03"))
        })
    })
    .await;
    for a in agents {
        a.shutdown().await;
    }
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_sent_at_once_not_at_the_next_heartbeat_tick() {
    let dir = tempfile::tempdir().unwrap();
    let running = dir.path().join("running");
    std::fs::write(&running, "").unwrap();
    let sink = sink(&["cmp-01"]);
    let url = serve(sink.clone()).await;
    let mut c = config(&url);
    // A period no run of this test reaches after the first (immediate) heartbeat.
    c.controller.heartbeat_interval = Duration::from_secs(3600);
    c.isolation.isolation_time = Duration::from_secs(7200);
    c.watchdog.controller_window = Duration::from_secs(7200);
    let nova = &mut c.processes.nova_compute;
    nova.check = CheckMethod::Command;
    nova.check_command = vec!["test".into(), "-e".into(), running.to_str().unwrap().into()];
    nova.auto_restart = false;
    c.validate().unwrap();
    let agent = lazarus_agent::start(c, "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    let host = HostName::from("cmp-01");
    eventually("the first heartbeat", || {
        sink.last.lock().unwrap().contains_key(&host)
    })
    .await;

    std::fs::remove_file(&running).unwrap();
    let down = Event::ProcessDown {
        host: host.clone(),
        process: Process::NovaCompute,
    };
    eventually(
        "the stopped nova-compute is reported before the next tick",
        || sink.events.lock().unwrap().contains(&down),
    )
    .await;
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_command_from_the_controller_runs_the_configured_command() {
    let dir = tempfile::tempdir().unwrap();
    let running = dir.path().join("running");
    let log = dir.path().join("restarts.log");
    let restart = script(
        dir.path(),
        "restart",
        &format!(
            "echo \"restart $*\" >> {}\ntouch {}",
            log.display(),
            running.display()
        ),
    );
    let sink = sink(&["cmp-01"]);
    let url = serve(sink.clone()).await;
    let mut c = config(&url);
    let nova = &mut c.processes.nova_compute;
    nova.check = CheckMethod::Command;
    nova.check_command = vec!["test".into(), "-e".into(), running.to_str().unwrap().into()];
    nova.restart_command = vec![restart, "nova-compute".into()];
    nova.auto_restart = false;
    let agent = lazarus_agent::start(c, "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();

    let host = HostName::from("cmp-01");
    let down = Event::ProcessDown {
        host: host.clone(),
        process: Process::NovaCompute,
    };
    eventually("the stopped nova-compute is reported", || {
        sink.events.lock().unwrap().contains(&down)
    })
    .await;
    assert!(
        !log.exists(),
        "auto_restart is off: nothing runs before the command"
    );
    sink.commands.lock().unwrap().insert(
        host.clone(),
        vec![AgentCommand::RestartProcess {
            process: Process::NovaCompute,
        }],
    );
    let up = Event::ProcessUp {
        host: host.clone(),
        process: Process::NovaCompute,
    };
    eventually("nova-compute is reported running again", || {
        sink.events.lock().unwrap().contains(&up)
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "restart nova-compute\n"
    );
    // Each report reached the engine once, though it was resent until acknowledged.
    {
        let events = sink.events.lock().unwrap();
        assert_eq!(events.iter().filter(|e| **e == down).count(), 1);
        assert_eq!(events.iter().filter(|e| **e == up).count(), 1);
    }
    eventually("every report is acknowledged", || {
        agent.status().pending_events == 0
    })
    .await;
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_hears_nothing_applies_its_isolation_response() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("powered-off");
    let power_off = script(
        dir.path(),
        "power-off",
        &format!("echo powered-off >> {}", record.display()),
    );
    let nobody = closed_port().await;
    let mut c = config(&format!("http://{nobody}"));
    c.peers
        .addresses
        .insert("cmp-02".into(), closed_port().await.to_string());
    c.isolation.addresses = vec![closed_port().await.to_string()];
    c.isolation.response = IsolationResponse::PowerOffInstances;
    c.isolation.power_off_command = vec![power_off];
    let agent = lazarus_agent::start(c, "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    tokio::time::sleep(500 * MS).await;
    assert!(!record.exists(), "not before the isolation time");
    eventually("the power-off command ran", || record.exists()).await;
    assert!(agent.status().isolation_applied);
    tokio::time::sleep(500 * MS).await;
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        "powered-off\n",
        "applied once per isolation"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolation_address_that_answers_keeps_the_host_from_isolating() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("powered-off");
    let power_off = script(
        dir.path(),
        "power-off",
        &format!("touch {}", record.display()),
    );
    let gateway = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_addr = gateway.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let _ = gateway.accept().await;
        }
    });
    let mut c = config(&format!("http://{}", closed_port().await));
    c.isolation.addresses = vec![closed_port().await.to_string(), gateway_addr.to_string()];
    c.isolation.response = IsolationResponse::PowerOffInstances;
    c.isolation.power_off_command = vec![power_off];
    let agent = lazarus_agent::start(c, "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    tokio::time::sleep(2000 * MS).await;
    assert!(!record.exists());
    assert!(!agent.status().isolation_applied);
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_is_fed_while_the_controller_answers_and_not_after() {
    let dir = tempfile::tempdir().unwrap();
    let fed = dir.path().join("fed");
    let feed = script(dir.path(), "feed", &format!("echo x >> {}", fed.display()));
    let sink = sink(&["cmp-01", "cmp-02"]);
    let url = serve(sink.clone()).await;
    // A segment of two whose other agent is dead: no quorum without the controller.
    *sink.peers.lock().unwrap() = vec![
        PeerInfo {
            host: "cmp-01".into(),
            probe: None,
        },
        PeerInfo {
            host: "cmp-02".into(),
            probe: Some(closed_port().await.to_string()),
        },
    ];
    let mut c = config(&url);
    c.watchdog.feed_command = vec![feed];
    let agent = lazarus_agent::start(c, "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    let feeds = || {
        std::fs::read_to_string(&fed)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    eventually("fed a few times", || feeds() >= 3).await;
    assert!(agent.status().feeding);
    *sink.unavailable.lock().unwrap() = true;
    eventually("feeding stops", || !agent.status().feeding).await;
    let stopped_at = feeds();
    tokio::time::sleep(600 * MS).await;
    assert!(
        feeds() <= stopped_at + 1,
        "{} feeds after it stopped",
        feeds() - stopped_at
    );
    *sink.unavailable.lock().unwrap() = false;
    eventually("fed again once the controller answers", || {
        feeds() > stopped_at + 1
    })
    .await;
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_without_isolation_addresses_or_instance_monitor_keeps_running() {
    let c = config(&format!("http://{}", closed_port().await));
    assert!(c.isolation.addresses.is_empty());
    let agent = lazarus_agent::start(c, "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    let run = tokio::spawn(agent.run_until_signal());
    tokio::time::sleep(500 * MS).await;
    assert!(!run.is_finished(), "the agent stopped on its own");
    run.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_stop_feeding_watchdog_is_applied_the_watchdog_is_never_fed_again() {
    let dir = tempfile::tempdir().unwrap();
    let fed = dir.path().join("fed");
    let feed = script(dir.path(), "feed", &format!("echo x >> {}", fed.display()));
    let sink = sink(&["cmp-01"]);
    let url = serve(sink.clone()).await;
    *sink.peers.lock().unwrap() = vec![PeerInfo {
        host: "cmp-02".into(),
        probe: Some(closed_port().await.to_string()),
    }];
    let mut c = config(&url);
    c.watchdog.feed_command = vec![feed];
    c.isolation.response = IsolationResponse::StopFeedingWatchdog;
    c.validate().unwrap();
    let agent = lazarus_agent::start(c, "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    let feeds = || {
        std::fs::read_to_string(&fed)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    eventually("fed while the controller answers", || feeds() >= 3).await;
    *sink.unavailable.lock().unwrap() = true;
    eventually("isolated", || agent.status().isolation_applied).await;
    *sink.unavailable.lock().unwrap() = false;
    eventually("the controller hears it again", || {
        agent.status().controller_heard
    })
    .await;
    let after = feeds();
    tokio::time::sleep(600 * MS).await;
    assert!(!agent.status().feeding);
    assert_eq!(feeds(), after, "fed after the isolation response");
    let reported = sink
        .isolation_reports
        .lock()
        .unwrap()
        .contains(&"stop-feeding-watchdog".to_owned());
    assert!(
        reported,
        "the applied response is reported once the controller hears the agent"
    );
    agent.shutdown().await;
}

/// A host whose agent saw guests running, then rebooted with them off: the next start
/// reports them once (`host_rebooted`), and a later agent restart in the same boot
/// reports nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_started_after_a_reboot_reports_the_guests_that_ran_before_it_once() {
    use lazarus_agent::config::InstanceMonitorKind;
    let dir = tempfile::tempdir().unwrap();
    let boot_id = dir.path().join("boot_id");
    let listing = dir.path().join("listing");
    let state = dir.path().join("state/running-guests.json");
    let sink = sink(&["cmp-01"]);
    let url = serve(sink.clone()).await;
    let mut c = config(&url);
    c.boot_id_file = boot_id.clone();
    c.instances.monitor = InstanceMonitorKind::Virsh;
    c.instances.virsh_event_command = vec!["sleep".into(), "3600".into()];
    c.instances.virsh_list_command = vec!["true".into()];
    c.instances.virsh_running_command = vec!["cat".into(), listing.to_str().unwrap().to_owned()];
    c.instances.running_guests_file = state.clone();
    c.instances.running_guests_interval = 100 * MS;
    c.validate().unwrap();
    let reboots = |sink: &Collecting| {
        sink.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::HostRebooted {
                    guests_running_before,
                    ..
                } => Some(guests_running_before.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };

    // Boot b1, two guests running: the list is saved, nothing is reported.
    std::fs::write(&boot_id, "b1\n").unwrap();
    std::fs::write(&listing, "u-2 instance-2\nu-1 instance-1\n").unwrap();
    let agent = lazarus_agent::start(c.clone(), "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    eventually("the running guests saved", || {
        std::fs::read_to_string(&state).is_ok_and(|t| t.contains("u-2"))
    })
    .await;
    agent.shutdown().await;
    assert!(reboots(&sink).is_empty());

    // Boot b2: the guests are off. Reported once, with what ran before.
    std::fs::write(&boot_id, "b2\n").unwrap();
    std::fs::write(&listing, "").unwrap();
    let agent = lazarus_agent::start(c.clone(), "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    eventually("the reboot reported", || !reboots(&sink).is_empty()).await;
    eventually("the new boot's list saved", || {
        std::fs::read_to_string(&state).is_ok_and(|t| t.contains("b2"))
    })
    .await;
    agent.shutdown().await;
    assert_eq!(
        reboots(&sink),
        vec![vec!["u-1".into(), "u-2".into()]],
        "one report, with the guests sorted"
    );
    let hb = sink.last.lock().unwrap()[&HostName::from("cmp-01")].clone();
    assert_eq!(hb.boot_id.as_deref(), Some("b2"));

    // An agent restart in the same boot: nothing more.
    let agent = lazarus_agent::start(c, "cmp-01".into(), token("cmp-01"))
        .await
        .unwrap();
    eventually("heard again", || {
        sink.last.lock().unwrap()[&HostName::from("cmp-01")].agent_run != hb.agent_run
    })
    .await;
    tokio::time::sleep(300 * MS).await;
    agent.shutdown().await;
    assert_eq!(reboots(&sink).len(), 1);
}
