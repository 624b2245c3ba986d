//! The agent ↔ controller heartbeat protocol (JSON over HTTP).
//!
//! ```text
//! POST /v1/lazarus/agents/{host}/heartbeat
//! Authorization: Bearer <the host's token>
//! Content-Type: application/json
//!
//! {"agent_run": "9f2c…", "sequence": 42, "sent_at_ms": 1763727000123,
//!  "interval_ms": 1000, "reachable_peers": ["cmp-02", "cmp-03"],
//!  "reachable_peer_ages_ms": {"cmp-02": 420, "cmp-03": 1380},
//!  "nova_compute": "running", "libvirtd": "absent",
//!  "events": [{"id": 7, "at_ms": 1763727000001,
//!              "kind": {"process_down": {"process": "nova-compute"}}}],
//!  "watchdog": {"armed": true, "timeout_ms": 30000}}
//!
//! 200 {"acked_event": 7, "peers": [{"host": "cmp-02", "probe": "10.0.0.12:7411"}, …],
//!      "commands": [{"restart_process": {"process": "nova-compute"}}]}
//! ```
//!
//! `reachable_peer_ages_ms` says, per reachable peer, how long before the heartbeat was
//! sent that peer last answered a probe; the controller's detector counts the peer's
//! sighting from then (docs/core.md, "Detector"). It is optional: a peer without an age
//! (an older agent sends none) counts as answered just now, as before the field existed.
//!
//! Events (process and instance reports) carry an id that grows within one agent run;
//! the agent resends every event the controller has not acknowledged (`acked_event` is
//! the highest id the controller took), so a controller crash or a lost answer never
//! loses a report. The controller drops events whose id it has already taken for the
//! same `agent_run` ([`EventLedger`]). The heartbeat itself is idempotent.
//!
//! Errors: 401 (no or wrong token; the body says nothing more), 400 (the body or the
//! host name is malformed; the body says why), 404 (the host is not registered in any
//! segment), 503 (this controller does not take heartbeats now: not the leader,
//! shutting down). The agent treats every non-200 answer as "not heard".

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use lazarus_core::event::{Heartbeat, InstanceFailure, InstanceFailureKind, Process, ProcessState};
use lazarus_core::{Event, HostName, InstanceId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The path of the heartbeat endpoint, with `{host}` as axum writes a parameter.
pub const HEARTBEAT_PATH: &str = "/v1/lazarus/agents/{host}/heartbeat";

/// The heartbeat URL path for one host.
pub fn heartbeat_path(host: &HostName) -> String {
    format!("/v1/lazarus/agents/{}/heartbeat", host.as_str())
}

/// A reported peer age above this (one minute, twenty times the default reachable
/// window) is absurd: the agent listed the peer as reachable, so it is taken as just
/// answered (age zero). Erring that way can only keep a host `Partitioned` longer,
/// never judge a reachable one failed.
pub const MAX_PEER_AGE_MS: u64 = 60_000;

/// The largest body the controller accepts (a heartbeat with thousands of pending
/// events stays far below it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One heartbeat, agent → controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentHeartbeat {
    /// A random id chosen when the agent starts: event ids and sequence numbers are
    /// only comparable within one run.
    pub agent_run: String,
    /// Grows by one with each heartbeat of this run (a resend of the same state gets a
    /// new number); lets the controller see losses and reordering.
    pub sequence: u64,
    /// The agent's wall clock when it sent this, in ms since the Unix epoch. Only for
    /// logs and skew warnings: the controller judges by its own clock.
    pub sent_at_ms: u64,
    /// The agent's heartbeat interval, so the controller can warn when it disagrees
    /// with its own detector settings.
    pub interval_ms: u64,
    /// The peers that answered the agent's probes recently (both ways: probes are
    /// round trips).
    pub reachable_peers: BTreeSet<HostName>,
    /// Per reachable peer, how long before `sent_at_ms` it last answered (the agent
    /// caps it at its `reachable_window`). Optional: a listed peer without an age is
    /// taken as answered just now; ages of peers not listed are ignored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reachable_peer_ages_ms: BTreeMap<HostName, PeerAgeMs>,
    /// nova-compute's state.
    pub nova_compute: ProcessStatus,
    /// libvirtd's state (`absent` on hosts without it).
    pub libvirtd: ProcessStatus,
    /// Every event not yet acknowledged, oldest first.
    #[serde(default)]
    pub events: Vec<AgentEvent>,
    /// The agent's watchdog, if it has one.
    #[serde(default)]
    pub watchdog: Option<WatchdogReport>,
    /// The host's boot id (Linux: `/proc/sys/kernel/random/boot_id`), if the agent
    /// could read it. Optional: an older agent sends none, and an agent without one
    /// sends no field. Informational for the controller: a reboot is reported by the
    /// agent itself (`host_rebooted`), from the boot id it saved with its guest list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

/// How long ago a peer last answered, in ms. Read leniently, because a wrong age must
/// not cost the whole heartbeat (an unheard host may be fenced): a negative number
/// reads as 0, a fraction is truncated, anything that is not a number is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeerAgeMs(pub u64);

impl PeerAgeMs {
    /// The age from a duration, in whole ms (saturating).
    pub fn from_duration(d: Duration) -> Self {
        Self(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The age the detector is given: zero if it is absurd (above
    /// [`MAX_PEER_AGE_MS`]).
    pub fn to_core(self) -> Duration {
        if self.0 > MAX_PEER_AGE_MS {
            Duration::ZERO
        } else {
            Duration::from_millis(self.0)
        }
    }
}

impl Serialize for PeerAgeMs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for PeerAgeMs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = PeerAgeMs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an age in milliseconds")
            }
            fn visit_u64<E>(self, v: u64) -> Result<PeerAgeMs, E> {
                Ok(PeerAgeMs(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<PeerAgeMs, E> {
                Ok(PeerAgeMs(u64::try_from(v).unwrap_or(0)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<PeerAgeMs, E> {
                // `as` saturates (and maps NaN to 0), which is the reading wanted.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(PeerAgeMs(if v > 0.0 { v as u64 } else { 0 }))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A process's state as the agent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessStatus {
    /// Running.
    Running,
    /// Expected but not running (it may be being restarted).
    Stopped,
    /// Not installed or not monitored on this host (a compute host without libvirtd):
    /// never a failure.
    Absent,
    /// The check itself failed.
    Unknown,
}

impl ProcessStatus {
    /// The core's view: an absent process is nothing to act on, so it reads as
    /// [`ProcessState::Unknown`], which the engine ignores.
    pub fn to_core(self) -> ProcessState {
        match self {
            ProcessStatus::Running => ProcessState::Running,
            ProcessStatus::Stopped => ProcessState::Stopped,
            ProcessStatus::Absent | ProcessStatus::Unknown => ProcessState::Unknown,
        }
    }
}

/// The agent's watchdog, as it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchdogReport {
    /// Whether the watchdog is open and being fed.
    pub armed: bool,
    /// Its timeout: the host resets this long after the last feed.
    pub timeout_ms: u64,
}

/// One report the agent keeps resending until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEvent {
    /// Grows by one per event within an agent run, from 1.
    pub id: u64,
    /// The agent's wall clock when it saw it (ms since the Unix epoch).
    pub at_ms: u64,
    /// What happened.
    pub kind: AgentEventKind,
}

/// What an agent saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentEventKind {
    /// A process was seen stopped.
    ProcessDown {
        /// Which.
        process: Process,
    },
    /// A process was seen running again.
    ProcessUp {
        /// Which.
        process: Process,
    },
    /// Restarting a process failed (its command exited non-zero, or the process was
    /// still not running after the restart grace).
    ProcessRestartFailed {
        /// Which.
        process: Process,
        /// What went wrong.
        error: String,
    },
    /// An instance failed on this host.
    InstanceFailed {
        /// The Nova server UUID (the libvirt domain UUID).
        instance: InstanceId,
        /// How.
        failure: InstanceFailureKind,
    },
    /// The agent applied its isolation response (sent once the controller can hear it
    /// again).
    IsolationResponseApplied {
        /// The response, as configured.
        response: String,
        /// What it did.
        detail: String,
    },
    /// The host rebooted since the agent last saw its guests: sent once after a start
    /// whose boot id differs from the one saved with the guest list (`boot.rs`).
    HostRebooted {
        /// The boot id the list was taken in.
        previous_boot_id: String,
        /// The guests (Nova server ids) the agent last saw running before the reboot.
        guests_running_before: Vec<InstanceId>,
    },
}

/// The controller's answer to a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentReply {
    /// The highest event id the controller has taken for this agent run (0: none).
    pub acked_event: u64,
    /// The other hosts of the agent's segment(s) with where to probe them, so the
    /// agent knows whom to probe and how big its quorum is. Empty: keep the configured
    /// peers.
    #[serde(default)]
    pub peers: Vec<PeerInfo>,
    /// What the agent should do now.
    #[serde(default)]
    pub commands: Vec<AgentCommand>,
}

/// One peer the agent should probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerInfo {
    /// The peer's host name.
    pub host: HostName,
    /// Its probe address (`ip:port` of its agent's UDP echo). `None`: the agent uses
    /// its configured address for that host, if any.
    #[serde(default)]
    pub probe: Option<String>,
}

/// A command for the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentCommand {
    /// Restart this process with the configured command (the engine's
    /// `Command::RestartProcess`). Idempotent on the agent side while a restart runs.
    RestartProcess {
        /// Which.
        process: Process,
    },
}

impl AgentHeartbeat {
    /// The core's heartbeat for this host, with every instance failure carried.
    pub fn core_heartbeat(&self, host: &HostName) -> Heartbeat {
        self.core_heartbeat_after(host, 0)
    }

    /// The core's heartbeat, with the instance failures of events newer than
    /// `after_event` only.
    fn core_heartbeat_after(&self, host: &HostName, after_event: u64) -> Heartbeat {
        let instance_failures = self
            .events
            .iter()
            .filter(|e| e.id > after_event)
            .filter_map(|e| match &e.kind {
                AgentEventKind::InstanceFailed { instance, failure } => Some(InstanceFailure {
                    instance: instance.clone(),
                    kind: *failure,
                }),
                AgentEventKind::ProcessDown { .. }
                | AgentEventKind::ProcessUp { .. }
                | AgentEventKind::ProcessRestartFailed { .. }
                | AgentEventKind::IsolationResponseApplied { .. }
                | AgentEventKind::HostRebooted { .. } => None,
            })
            .collect();
        let peer_ages = self
            .reachable_peer_ages_ms
            .iter()
            .filter(|(peer, _)| self.reachable_peers.contains(*peer))
            .map(|(peer, age)| (peer.clone(), age.to_core()))
            .filter(|(_, age)| !age.is_zero())
            .collect();
        Heartbeat {
            host: host.clone(),
            reachable_peers: self.reachable_peers.clone(),
            peer_ages,
            nova_compute: self.nova_compute.to_core(),
            libvirtd: self.libvirtd.to_core(),
            instance_failures,
        }
    }

    /// The core events this heartbeat carries: the heartbeat itself (with only the
    /// instance failures of events newer than `after_event`), then one event per new
    /// process or reboot report. An `IsolationResponseApplied` has no core event (the caller
    /// logs it).
    pub fn core_events(&self, host: &HostName, after_event: u64) -> Vec<Event> {
        let mut out = vec![Event::HeartbeatReceived(
            self.core_heartbeat_after(host, after_event),
        )];
        for e in self.events.iter().filter(|e| e.id > after_event) {
            match &e.kind {
                AgentEventKind::ProcessDown { process } => out.push(Event::ProcessDown {
                    host: host.clone(),
                    process: *process,
                }),
                AgentEventKind::ProcessUp { process } => out.push(Event::ProcessUp {
                    host: host.clone(),
                    process: *process,
                }),
                AgentEventKind::ProcessRestartFailed { process, error } => {
                    out.push(Event::ProcessRestartFailed {
                        host: host.clone(),
                        process: *process,
                        error: error.clone(),
                    })
                }
                AgentEventKind::HostRebooted {
                    guests_running_before,
                    ..
                } => out.push(Event::HostRebooted {
                    host: host.clone(),
                    guests_running_before: guests_running_before.clone(),
                }),
                AgentEventKind::InstanceFailed { .. }
                | AgentEventKind::IsolationResponseApplied { .. } => {}
            }
        }
        out
    }

    /// The highest event id carried, or 0.
    pub fn last_event(&self) -> u64 {
        self.events.iter().map(|e| e.id).max().unwrap_or(0)
    }
}

/// Per host, the agent run and the highest event id the controller has taken: the
/// controller-side half of "resend until acknowledged". Kept in memory; after a
/// controller restart the agent resends what was pending and the events are taken
/// again (process and instance reports are idempotent in the engine).
#[derive(Debug, Default)]
pub struct EventLedger {
    taken: HashMap<HostName, (String, u64)>,
}

impl EventLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a heartbeat: returns the core events to hand to the engine (only events
    /// not taken before for this agent run) and the `acked_event` for the reply.
    pub fn take(&mut self, host: &HostName, hb: &AgentHeartbeat) -> (Vec<Event>, u64) {
        let after = match self.taken.get(host) {
            Some((run, id)) if *run == hb.agent_run => *id,
            Some(_) | None => 0,
        };
        let events = hb.core_events(host, after);
        let acked = after.max(hb.last_event());
        self.taken
            .insert(host.clone(), (hb.agent_run.clone(), acked));
        (events, acked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample() -> AgentHeartbeat {
        AgentHeartbeat {
            agent_run: "run-1".into(),
            sequence: 42,
            sent_at_ms: 1_763_727_000_123,
            interval_ms: 1000,
            reachable_peers: ["cmp-02", "cmp-03"]
                .into_iter()
                .map(HostName::from)
                .collect(),
            reachable_peer_ages_ms: [("cmp-02", 420), ("cmp-03", 1_380)]
                .into_iter()
                .map(|(h, ms)| (HostName::from(h), PeerAgeMs(ms)))
                .collect(),
            nova_compute: ProcessStatus::Stopped,
            libvirtd: ProcessStatus::Absent,
            events: vec![
                AgentEvent {
                    id: 7,
                    at_ms: 1,
                    kind: AgentEventKind::ProcessDown {
                        process: Process::NovaCompute,
                    },
                },
                AgentEvent {
                    id: 8,
                    at_ms: 2,
                    kind: AgentEventKind::InstanceFailed {
                        instance: "vm-1".into(),
                        failure: InstanceFailureKind::GuestHeartbeatLost {
                            silent_for: Duration::from_secs(60),
                        },
                    },
                },
            ],
            watchdog: Some(WatchdogReport {
                armed: true,
                timeout_ms: 30_000,
            }),
            boot_id: Some("6f1c2b8e-0d7a-4c55-9a43-1f0e5b7c9d21".into()),
        }
    }

    #[test]
    fn a_heartbeat_survives_a_json_round_trip() {
        let hb = sample();
        let text = serde_json::to_string(&hb).unwrap();
        let back: AgentHeartbeat = serde_json::from_str(&text).unwrap();
        assert_eq!(back, hb);
    }

    #[test]
    fn a_reply_survives_a_json_round_trip_and_reads_as_documented() {
        let reply = AgentReply {
            acked_event: 7,
            peers: vec![PeerInfo {
                host: "cmp-02".into(),
                probe: Some("10.0.0.12:7411".into()),
            }],
            commands: vec![AgentCommand::RestartProcess {
                process: Process::NovaCompute,
            }],
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            text,
            r#"{"acked_event":7,"peers":[{"host":"cmp-02","probe":"10.0.0.12:7411"}],"commands":[{"restart_process":{"process":"nova-compute"}}]}"#
        );
        assert_eq!(serde_json::from_str::<AgentReply>(&text).unwrap(), reply);
    }

    #[test]
    fn the_documented_example_parses() {
        let text = r#"{"agent_run": "9f2c", "sequence": 42, "sent_at_ms": 1763727000123,
          "interval_ms": 1000, "reachable_peers": ["cmp-02", "cmp-03"],
          "reachable_peer_ages_ms": {"cmp-02": 420, "cmp-03": 1380},
          "nova_compute": "running", "libvirtd": "absent",
          "events": [{"id": 7, "at_ms": 1763727000001,
                      "kind": {"process_down": {"process": "nova-compute"}}}],
          "watchdog": {"armed": true, "timeout_ms": 30000}}"#;
        let hb: AgentHeartbeat = serde_json::from_str(text).unwrap();
        assert_eq!(hb.libvirtd, ProcessStatus::Absent);
        assert_eq!(hb.last_event(), 7);
    }

    #[test]
    fn a_heartbeat_without_ages_from_an_older_agent_is_accepted_with_every_peer_fresh() {
        let text = r#"{"agent_run": "9f2c", "sequence": 42, "sent_at_ms": 1763727000123,
          "interval_ms": 1000, "reachable_peers": ["cmp-02", "cmp-03"],
          "nova_compute": "running", "libvirtd": "absent"}"#;
        let hb: AgentHeartbeat = serde_json::from_str(text).unwrap();
        assert!(hb.reachable_peer_ages_ms.is_empty());
        let core = hb.core_heartbeat(&"cmp-01".into());
        assert_eq!(core.reachable_peers.len(), 2);
        assert_eq!(core.peer_age(&"cmp-02".into()), Duration::ZERO);
        // And a heartbeat without ages is sent as an older agent sent it.
        assert!(!serde_json::to_string(&hb)
            .unwrap()
            .contains("reachable_peer_ages_ms"));
    }

    #[test]
    fn a_heartbeat_without_a_boot_id_is_accepted_and_one_without_is_sent_without_the_field() {
        let text = r#"{"agent_run": "9f2c", "sequence": 42, "sent_at_ms": 1763727000123,
          "interval_ms": 1000, "reachable_peers": [],
          "nova_compute": "running", "libvirtd": "absent"}"#;
        let hb: AgentHeartbeat = serde_json::from_str(text).unwrap();
        assert_eq!(hb.boot_id, None);
        assert!(!serde_json::to_string(&hb).unwrap().contains("boot_id"));
        let with = serde_json::to_string(&sample()).unwrap();
        assert!(with.contains(r#""boot_id":"6f1c2b8e-"#), "{with}");
    }

    #[test]
    fn a_reboot_report_reaches_the_engine_once_with_the_guests_that_ran_before() {
        let host: HostName = "cmp-01".into();
        let mut hb = sample();
        hb.events = vec![AgentEvent {
            id: 1,
            at_ms: 1,
            kind: AgentEventKind::HostRebooted {
                previous_boot_id: "boot-a".into(),
                guests_running_before: vec!["u-1".into(), "u-2".into()],
            },
        }];
        let text = serde_json::to_string(&hb).unwrap();
        assert!(
            text.contains(r#"{"host_rebooted":{"previous_boot_id":"boot-a","guests_running_before":["u-1","u-2"]}}"#),
            "{text}"
        );
        let mut ledger = EventLedger::new();
        let (events, acked) = ledger.take(&host, &hb);
        assert_eq!(acked, 1);
        assert_eq!(
            events.get(1),
            Some(&Event::HostRebooted {
                host: host.clone(),
                guests_running_before: vec!["u-1".into(), "u-2".into()],
            })
        );
        let (again, _) = ledger.take(&host, &hb);
        assert_eq!(again.len(), 1, "only the heartbeat: {again:?}");
    }

    #[test]
    fn peer_ages_reach_the_core_for_listed_peers_only() {
        let mut hb = sample();
        hb.reachable_peer_ages_ms
            .insert("cmp-09".into(), PeerAgeMs(100));
        // Through the ledger, the controller's path (lazarus-controller's AgentSink).
        let (events, _) = EventLedger::new().take(&"cmp-01".into(), &hb);
        let Some(Event::HeartbeatReceived(core)) = events.first() else {
            panic!("expected a heartbeat first, got {events:?}");
        };
        assert_eq!(core.peer_age(&"cmp-02".into()), Duration::from_millis(420));
        assert_eq!(
            core.peer_age(&"cmp-03".into()),
            Duration::from_millis(1_380)
        );
        assert!(!core.peer_ages.contains_key(&HostName::from("cmp-09")));
    }

    #[test]
    fn negative_fractional_and_absurd_ages_read_as_fresh_or_truncated_not_as_errors() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v["reachable_peer_ages_ms"] = serde_json::json!({"cmp-02": -5, "cmp-03": 1e12});
        let hb: AgentHeartbeat = serde_json::from_value(v.clone()).unwrap();
        let core = hb.core_heartbeat(&"cmp-01".into());
        assert_eq!(core.peer_age(&"cmp-02".into()), Duration::ZERO);
        assert_eq!(core.peer_age(&"cmp-03".into()), Duration::ZERO);
        v["reachable_peer_ages_ms"] = serde_json::json!({"cmp-02": 420.7});
        let hb: AgentHeartbeat = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            hb.reachable_peer_ages_ms[&HostName::from("cmp-02")],
            PeerAgeMs(420)
        );
        // Not a number at all is a malformed body (400), as any other bad field.
        v["reachable_peer_ages_ms"] = serde_json::json!({"cmp-02": "soon"});
        assert!(serde_json::from_value::<AgentHeartbeat>(v).is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<AgentHeartbeat>(v).is_err());
    }

    #[test]
    fn an_absent_libvirtd_is_not_reported_as_stopped_to_the_core() {
        let hb = sample().core_heartbeat(&"cmp-01".into());
        assert_eq!(hb.libvirtd, ProcessState::Unknown);
        assert_eq!(hb.nova_compute, ProcessState::Stopped);
        assert_eq!(hb.instance_failures.len(), 1);
    }

    #[test]
    fn the_ledger_hands_each_event_to_the_engine_once_per_agent_run() {
        let host: HostName = "cmp-01".into();
        let mut ledger = EventLedger::new();
        let hb = sample();
        let (first, acked) = ledger.take(&host, &hb);
        assert_eq!(acked, 8);
        assert_eq!(first.len(), 2, "heartbeat + process down: {first:?}");
        match &first[0] {
            Event::HeartbeatReceived(h) => assert_eq!(h.instance_failures.len(), 1),
            other => panic!("expected a heartbeat first, got {other:?}"),
        }
        // The same events resent (the reply was lost): only the heartbeat, no failures.
        let (again, acked) = ledger.take(&host, &hb);
        assert_eq!(acked, 8);
        assert_eq!(again.len(), 1);
        match &again[0] {
            Event::HeartbeatReceived(h) => assert!(h.instance_failures.is_empty()),
            other => panic!("expected a heartbeat, got {other:?}"),
        }
        // A restarted agent numbers from 1 again: its events are new.
        let mut restarted = hb.clone();
        restarted.agent_run = "run-2".into();
        let (fresh, _) = ledger.take(&host, &restarted);
        assert_eq!(fresh.len(), 2);
    }
}
