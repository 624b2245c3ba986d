//! The simulated hosts and their agents: heartbeats, the watchdog, boots, nova-compute
//! starting, power changes landing, and process restarts asked by the controller.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lazarus_core::event::{Heartbeat, Process, ProcessState};
use lazarus_core::{Event, InstanceId};

use super::happening::Happening;
use super::Sim;
use crate::config::WatchdogFeed;
use crate::scenario;
use crate::world::Node;

/// How often an agent heartbeats (and probes its peers: both on the same period).
pub(super) const HEARTBEAT_MS: u64 = 1_000;

/// How long an agent counts a peer reachable after its last answer (the agent's
/// default `peers.reachable_window`), both for its reports and its watchdog quorum.
pub(super) const REACHABLE_WINDOW_MS: u64 = 4_000;

impl Sim<'_> {
    /// An agent's heartbeat period: it probes its segment's peers, feeds or trips its
    /// watchdog, and heartbeats to the controller if it can reach it.
    pub(super) fn host_tick(&mut self, h: usize) {
        let now = self.queue.now_ms();
        let hosts = self.world.hosts.len();
        let segments = self.config.segments;
        let seg = scenario::segment_of(h, hosts, segments);
        // The agent's segment: itself and the peers the controller lists (its segment).
        let same_segment = |p: usize| scenario::segment_of(p, hosts, segments) == seg;
        let n = (0..hosts).filter(|p| same_segment(*p)).count();
        let Some(host) = self.world.hosts.get(h) else {
            return;
        };
        if !host.is_up() {
            return;
        }
        let net = &self.world.network;
        let me = Node::Host(h);
        let agent_alive = host.agent_alive;
        // Peers that answer the agent's probe now (its probes are round trips).
        let answering: Vec<usize> = self
            .world
            .hosts
            .iter()
            .enumerate()
            .filter(|(p, peer)| {
                agent_alive
                    && *p != h
                    && same_segment(*p)
                    && peer.is_up()
                    && peer.agent_alive
                    && net.delivers(me, Node::Host(*p))
                    && net.delivers(Node::Host(*p), me)
            })
            .map(|(p, _)| p)
            .collect();
        // The agent's peer table, as the real agent keeps it: a peer stays reachable
        // for `REACHABLE_WINDOW_MS` after its last answer, and is reported with the
        // age of that answer (the detector counts the sighting from the answer).
        let Some(host) = self.world.hosts.get_mut(h) else {
            return;
        };
        for p in answering {
            host.peer_answers.insert(p, now);
        }
        let table: Vec<(usize, u64)> = host.peer_answers.iter().map(|(&p, &at)| (p, at)).collect();
        let mut peers = BTreeSet::new();
        let mut peer_ages = BTreeMap::new();
        for (p, at) in table {
            let age = now.saturating_sub(at);
            if age > REACHABLE_WINDOW_MS || !same_segment(p) {
                continue;
            }
            if let Some(peer) = self.world.hosts.get(p) {
                peers.insert(peer.name.clone());
                if age > 0 {
                    peer_ages.insert(peer.name.clone(), Duration::from_millis(age));
                }
            }
        }
        let net = &self.world.network;
        let controller_up = self.controller.engine.is_some();
        let to_controller = net.delivers(me, Node::Controller);
        let acked = controller_up && to_controller && net.delivers(Node::Controller, me);
        let quorum =
            self.config.watchdog_feed == WatchdogFeed::AckOrPeerQuorum && (peers.len() + 1) * 2 > n;
        // The watchdog first: an expired one resets the host before it says anything.
        if self.watchdog(h, agent_alive && (acked || quorum)) {
            return;
        }
        let Some(host) = self.world.hosts.get_mut(h) else {
            return;
        };
        // The agent's guest list (saved with the boot id), left alone while a reboot
        // report is not taken (agent.rs `running_guests_loop`).
        if agent_alive && host.reboot_report.is_none() {
            host.saved_guests = Some(host.running().cloned().collect());
        }
        if agent_alive && to_controller {
            let reboot = host.reboot_report.clone();
            let compute_alive = host.compute_alive;
            // Reported until a live controller has taken them (the agent resends
            // unacknowledged reports), so a controller crash does not lose them.
            let failures = self.pending_failures.get(h).cloned().unwrap_or_default();
            let hb = Heartbeat {
                host: host.name.clone(),
                reachable_peers: peers,
                peer_ages,
                nova_compute: if compute_alive {
                    ProcessState::Running
                } else {
                    ProcessState::Stopped
                },
                libvirtd: ProcessState::Running,
                instance_failures: failures,
            };
            let latency = self.rng.range(1, 10);
            let epoch = self.controller.epoch;
            self.queue
                .after(latency, Happening::Heartbeat(epoch, now, hb, reboot));
        }
    }

    /// Feeds host `h`'s watchdog if `fed`, else resets the host once it expired.
    /// Returns whether it reset the host.
    pub(super) fn watchdog(&mut self, h: usize, fed: bool) -> bool {
        let now = self.queue.now_ms();
        let Some(host) = self.world.hosts.get_mut(h) else {
            return false;
        };
        if fed {
            host.last_ack_ms = now;
        }
        let Some(t) = host.watchdog_ms else {
            return false;
        };
        if now.saturating_sub(host.last_ack_ms) <= t {
            return false;
        }
        host.watchdog_resets += 1;
        host.stop_os(now);
        let name = host.name.clone();
        self.log.push(
            now,
            format!("{name}: watchdog expired (no controller ack, no peer quorum): host resets"),
        );
        self.schedule_boot(h);
        true
    }

    /// The host boots in 30 to 90 s (if still in the same life by then).
    pub(super) fn schedule_boot(&mut self, h: usize) {
        let d = self.rng.range(30_000, 90_000);
        if let Some(host) = self.world.hosts.get(h) {
            let g = host.generation;
            self.queue.after(d, Happening::HostBooted(h, g));
        }
    }

    /// The host finished booting: guests stay shut off; nova-compute starts unless held.
    pub(super) fn boot(&mut self, h: usize) {
        let now = self.queue.now_ms();
        let Some(host) = self.world.hosts.get_mut(h) else {
            return;
        };
        host.finish_boot(now);
        let compute = host.compute_alive;
        self.log.push(
            now,
            format!(
                "{} booted (guests stay shut off{})",
                self.name(h),
                if compute {
                    ""
                } else {
                    "; nova-compute held down"
                }
            ),
        );
        if compute {
            self.compute_start(h);
        }
    }

    /// nova-compute starts on a live host: Nova hears it at once, it cleans up
    /// evacuated guests, and the controller learns the host returned.
    pub(super) fn compute_start(&mut self, h: usize) {
        let now = self.queue.now_ms();
        if let Some(host) = self.world.hosts.get_mut(h) {
            host.compute_alive = true;
        }
        let before: Vec<InstanceId> = self
            .world
            .hosts
            .get(h)
            .map(|x| x.guests.keys().cloned().collect())
            .unwrap_or_default();
        self.world.compute_started(h);
        let after = self.world.hosts.get(h).map(|x| x.guests.len()).unwrap_or(0);
        if before.len() != after {
            self.log.push(
                now,
                format!(
                    "{}: nova-compute destroyed {} evacuated guest(s)",
                    self.name(h),
                    before.len() - after
                ),
            );
        }
        // The runtime learns of a return from Nova's service view: a compute that
        // cannot reach Nova (a rack partition) returns nothing. Its later reports do.
        if self.world.network.delivers(Node::Host(h), Node::Nova) {
            if let Some(s) = self.world.nova.services.get_mut(h) {
                s.last_report_ms = Some(now);
            }
            let epoch = self.controller.epoch;
            let name = self.name(h);
            self.queue.after(
                100,
                Happening::Deliver(epoch, Event::HostReturned { host: name }),
            );
        }
    }

    /// A BMC's power change takes effect.
    pub(super) fn power_lands(&mut self, h: usize, on: bool) {
        let now = self.queue.now_ms();
        let Some(host) = self.world.hosts.get_mut(h) else {
            return;
        };
        if on {
            if !host.powered {
                host.powered = true;
                host.generation += 1;
                self.log
                    .push(now, format!("{}: power on, booting", self.name(h)));
                self.schedule_boot(h);
            }
        } else if host.powered {
            host.power_off(now);
            if let Some(b) = self.world.bmcs.get_mut(h) {
                b.power_offs += 1;
            }
            self.log
                .push(now, format!("{}: power off (BMC)", self.name(h)));
        }
    }

    /// The controller asks a host's agent to restart a process.
    pub(super) fn agent_restart_process(
        &mut self,
        epoch: u64,
        now: u64,
        host: usize,
        process: Process,
    ) {
        let name = self.name(host);
        let reachable = self
            .world
            .network
            .delivers(Node::Controller, Node::Host(host))
            && self
                .world
                .hosts
                .get(host)
                .is_some_and(|x| x.is_up() && x.agent_alive);
        let held = self.world.hosts.get(host).is_some_and(|x| x.compute_fault);
        match (reachable, process) {
            (false, _) => self.reply(
                epoch,
                5_000,
                Event::ProcessRestartFailed {
                    host: name,
                    process,
                    error: "agent unreachable".to_owned(),
                },
            ),
            (true, Process::NovaCompute) if held => self.reply(
                epoch,
                2_000,
                Event::ProcessRestartFailed {
                    host: name,
                    process,
                    error: "nova-compute exited again at start".to_owned(),
                },
            ),
            (true, Process::NovaCompute) => {
                self.log
                    .push(now, format!("{name}: agent restarted nova-compute"));
                self.compute_start(host);
            }
            (true, Process::Libvirtd) => {}
        }
    }
}
