//! The failure detector: per host, from agent heartbeats, the peers' reports, Nova's
//! service state and the BMC's power state, a verdict ([`HostHealth`]); and the storm
//! guard that stops the controller from acting when it is probably the one cut off.
//!
//! A host is judged only on [`Detector::tick`], a timer event the engine schedules
//! every `tick_interval`; the tick is one pass over a vector of hosts (O(hosts), no
//! allocation unless a verdict changes).

mod health;
mod signals;
mod storm;

use std::collections::HashMap;

pub use health::HostHealth;
pub use storm::StormStatus;

use signals::HostSignals;
use storm::StormGuard;

use crate::event::{Heartbeat, NovaService, PowerState};
use crate::model::Cluster;
use crate::policy::{DetectorPolicy, StormPolicy};
use crate::time::duration_millis;
use crate::{HostName, SegmentId, Timestamp};

/// A verdict that changed on a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The host.
    pub host: HostName,
    /// The verdict before.
    pub from: HostHealth,
    /// The verdict now.
    pub to: HostHealth,
    /// The signals behind it, for the audit log.
    pub signals: String,
}

/// The result of one tick.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickOutcome {
    /// Verdicts that changed.
    pub transitions: Vec<Transition>,
    /// Whether the storm guard engaged or released on this tick.
    pub storm: Option<StormStatus>,
    /// Every host judged failed or isolated and not yet under recovery (held back ones
    /// come again on every tick until they are acted on).
    pub failing: Vec<Transition>,
}

/// The detector for every host of the cluster.
#[derive(Debug)]
pub struct Detector {
    policy: DetectorPolicy,
    storm_guard: StormGuard,
    hosts: Vec<HostSignals>,
    index: HashMap<HostName, usize>,
    /// The last moment the controller was blind (starting up, or the storm guard
    /// engaged): what a host did before it is unknown.
    last_blind: Timestamp,
    /// Segment ids, by the index the hosts' signals hold.
    segment_index: HashMap<SegmentId, usize>,
    /// Per segment, reused on every tick: (member hosts, members heard within
    /// `suspect_after`).
    segment_tally: Vec<(usize, usize)>,
}

impl Detector {
    /// A detector for the cluster's hosts, none judged until its agent is heard.
    pub fn new(policy: DetectorPolicy, storm: StormPolicy, cluster: &Cluster) -> Self {
        let mut d = Self {
            policy,
            storm_guard: StormGuard::new(storm),
            hosts: Vec::with_capacity(cluster.host_count()),
            index: HashMap::with_capacity(cluster.host_count()),
            last_blind: Timestamp::ZERO,
            segment_index: HashMap::new(),
            segment_tally: Vec::new(),
        };
        d.sync_hosts(cluster);
        d
    }

    /// Adds hosts the cluster gained and refreshes maintenance flags and fence methods.
    pub fn sync_hosts(&mut self, cluster: &Cluster) {
        for h in cluster.hosts() {
            let next = self.segment_index.len();
            let segment = *self.segment_index.entry(h.segment.clone()).or_insert(next);
            match self.index.get(&h.name) {
                Some(&i) => {
                    let s = &mut self.hosts[i];
                    s.on_maintenance = h.on_maintenance;
                    s.fence_method = h.fence_method;
                    s.segment = segment;
                }
                None => {
                    self.index.insert(h.name.clone(), self.hosts.len());
                    self.hosts.push(HostSignals::new(
                        h.name.clone(),
                        segment,
                        h.fence_method,
                        h.on_maintenance,
                    ));
                }
            }
        }
        self.segment_tally.resize(self.segment_index.len(), (0, 0));
    }

    /// The detector's policy.
    pub fn policy(&self) -> &DetectorPolicy {
        &self.policy
    }

    /// Records a heartbeat: the host is heard, and every peer it reached is seen at
    /// the moment that peer last answered the agent (`now` minus the reported age, see
    /// [`Heartbeat::peer_ages`]), never later than `now` and never moving an existing
    /// later sighting back. Returns false if the host is unknown.
    ///
    /// The age only ever makes a sighting older, so it can turn `Partitioned` into
    /// `Failed` sooner, never the reverse; a host a peer reached less than
    /// `peer_window` ago stays `Partitioned` (never fenced).
    pub fn heartbeat(&mut self, now: Timestamp, hb: &Heartbeat) -> bool {
        let Some(&i) = self.index.get(&hb.host) else {
            return false;
        };
        self.hosts[i].last_heard = Some(now);
        self.hosts[i].last_received = Some(now);
        for peer in &hb.reachable_peers {
            if peer == &hb.host {
                continue;
            }
            if let Some(&p) = self.index.get(peer) {
                let answered = Timestamp::from_millis(
                    now.as_millis()
                        .saturating_sub(duration_millis(hb.peer_age(peer))),
                );
                let seen = &mut self.hosts[p].last_peer_seen;
                *seen = Some(seen.map_or(answered, |s| s.max(answered)));
            }
        }
        true
    }

    /// Declares that a host runs an agent, as if it had been heard at `now`: it is
    /// judged from now on (a host that died while no controller was watching is found
    /// `failed_after` later). Hosts already heard, or under recovery, are unchanged.
    /// Returns false if the host is unknown.
    pub fn expect_agent(&mut self, now: Timestamp, host: &HostName) -> bool {
        let Some(&i) = self.index.get(host) else {
            return false;
        };
        let s = &mut self.hosts[i];
        if s.last_heard.is_none() && !s.under_recovery {
            s.last_heard = Some(now);
        }
        true
    }

    /// Records Nova's view of a host's compute service.
    pub fn nova(&mut self, s: &NovaService) {
        if let Some(&i) = self.index.get(&s.host) {
            self.hosts[i].observe_nova(s);
        }
    }

    /// Records a BMC power reading.
    pub fn power(&mut self, now: Timestamp, host: &HostName, state: PowerState) {
        if let Some(&i) = self.index.get(host) {
            self.hosts[i].power = Some((state, now));
        }
    }

    /// Marks a host as under recovery (its verdict stays a failure until released) or
    /// releases it at `now`: it is judged afresh, from its next heartbeat — or from
    /// the heartbeat that was just heard (within `suspect_after`), which is what
    /// usually calls a recovery off: forgetting it left a host that fell silent again
    /// at once never judged (F11's sweep, seed 4555 with `--max-faults 4`).
    pub fn set_under_recovery(&mut self, now: Timestamp, host: &HostName, under: bool) {
        let suspect_after = self.policy.suspect_after();
        if let Some(&i) = self.index.get(host) {
            let s = &mut self.hosts[i];
            s.under_recovery = under;
            if !under {
                s.health = HostHealth::Unmonitored;
                s.last_heard = s
                    .last_received
                    .filter(|l| now.saturating_since(*l) < suspect_after);
                s.power = None;
            }
        }
    }

    /// Records that the controller could not see anything until `now` (it is starting).
    pub fn mark_blind(&mut self, now: Timestamp) {
        self.last_blind = self.last_blind.max(now);
    }

    /// The last moment the controller was blind: its start, or the last tick on which
    /// the storm guard was engaged.
    pub fn last_blind(&self) -> Timestamp {
        self.last_blind
    }

    /// The last tick on which the controller could not have known that a host was
    /// unable to feed its watchdog through its peers: it heard fewer than half of the
    /// host's segment (the host counted in). `Timestamp::ZERO` if never, or unknown host.
    pub fn last_unwitnessed(&self, host: &HostName) -> Timestamp {
        self.index
            .get(host)
            .map_or(Timestamp::ZERO, |&i| self.hosts[i].last_unwitnessed)
    }

    /// The last moment a peer's agent is known to have reached a host: the latest
    /// report's arrival minus the age it gave (when that peer last answered).
    pub fn last_peer_seen(&self, host: &HostName) -> Option<Timestamp> {
        self.index
            .get(host)
            .and_then(|&i| self.hosts[i].last_peer_seen)
    }

    /// The last heartbeat heard from a host.
    pub fn last_heard(&self, host: &HostName) -> Option<Timestamp> {
        self.index.get(host).and_then(|&i| self.hosts[i].last_heard)
    }

    /// The current verdict on a host.
    pub fn health(&self, host: &HostName) -> Option<HostHealth> {
        self.index.get(host).map(|&i| self.hosts[i].health)
    }

    /// Whether the storm guard holds judgement back.
    pub fn storm_engaged(&self) -> bool {
        self.storm_guard.engaged()
    }

    /// Judges every host. O(hosts): two passes over a vector.
    pub fn tick(&mut self, now: Timestamp) -> TickOutcome {
        let suspect_after = self.policy.suspect_after();
        let failed_after = self.policy.failed_after();
        let peer_window = self.policy.peer_window;

        // Pass 1: how many monitored hosts the controller hears, and how many not.
        let mut monitored = 0usize;
        let mut unheard = 0usize;
        for s in &self.hosts {
            if !s.monitored() || s.under_recovery {
                continue;
            }
            monitored += 1;
            if let Some(last) = s.last_heard {
                if now.saturating_since(last) >= suspect_after {
                    unheard += 1;
                }
            }
        }
        let heard = monitored - unheard;
        let storm = self.storm_guard.evaluate(now, monitored, unheard);
        let hold = self.storm_guard.engaged();
        // Blind: the storm guard holds, or the controller hears no majority of the
        // monitored agents (not under recovery), however few they are. Only while it
        // hears the peers can their silence about a host mean that host is not feeding
        // its watchdog through them.
        if hold || storm.is_some() || heard.saturating_mul(2) < monitored {
            self.last_blind = self.last_blind.max(now);
        }

        // Pass 1b: per segment, how many members the controller really hears; a host
        // whose heard segment peers are fewer than half its segment (itself counted)
        // may hold a strict majority with peers the controller does not hear, so its
        // watchdog promise cannot be witnessed on this tick (docs/core.md, "The
        // watchdog promise").
        self.segment_tally.iter_mut().for_each(|t| *t = (0, 0));
        for s in &self.hosts {
            if let Some(t) = self.segment_tally.get_mut(s.segment) {
                t.0 += 1;
                if s.last_received
                    .is_some_and(|l| now.saturating_since(l) < suspect_after)
                {
                    t.1 += 1;
                }
            }
        }
        for s in &mut self.hosts {
            let (members, heard_members) =
                self.segment_tally.get(s.segment).copied().unwrap_or((1, 0));
            let own = s
                .last_received
                .is_some_and(|l| now.saturating_since(l) < suspect_after);
            let heard_peers = heard_members.saturating_sub(usize::from(own));
            if heard_peers.saturating_mul(2) < members {
                s.last_unwitnessed = now;
            }
        }

        // Pass 2: verdicts.
        let mut out = TickOutcome {
            transitions: Vec::new(),
            storm,
            failing: Vec::new(),
        };
        for s in &mut self.hosts {
            if s.under_recovery {
                continue;
            }
            let new = if !s.monitored() {
                HostHealth::Unmonitored
            } else {
                let silence = s
                    .last_heard
                    .map_or(std::time::Duration::ZERO, |l| now.saturating_since(l));
                if silence < suspect_after {
                    HostHealth::Up
                } else if silence < failed_after {
                    HostHealth::Suspect
                } else if s
                    .last_peer_seen
                    .is_some_and(|p| now.saturating_since(p) < peer_window)
                {
                    HostHealth::Partitioned
                } else if hold {
                    HostHealth::Suspect
                } else {
                    // Peer confirmation: some other agent is heard (so its silence
                    // about this host means something), or Nova or the BMC agree.
                    let witnesses = heard > 0;
                    let power_off = matches!(s.power, Some((PowerState::Off, _)));
                    if witnesses || s.nova_down || power_off {
                        match s.power {
                            Some((PowerState::On, at)) if s.last_heard.is_some_and(|l| at >= l) => {
                                HostHealth::Isolated
                            }
                            Some(_) | None => HostHealth::Failed,
                        }
                    } else {
                        HostHealth::Suspect
                    }
                }
            };
            if new != s.health {
                out.transitions.push(Transition {
                    host: s.name.clone(),
                    from: s.health,
                    to: new,
                    signals: describe(s, now, heard),
                });
                s.health = new;
            }
            if new.is_failure() {
                out.failing.push(Transition {
                    host: s.name.clone(),
                    from: s.health,
                    to: new,
                    signals: describe(s, now, heard),
                });
            }
        }
        out
    }
}

fn describe(s: &HostSignals, now: Timestamp, heard: usize) -> String {
    let silence = s
        .last_heard
        .map(|l| format!("{} ms", now.saturating_since(l).as_millis()))
        .unwrap_or_else(|| "never heard".to_owned());
    let peer = s
        .last_peer_seen
        .map(|p| format!("{} ms ago", now.saturating_since(p).as_millis()))
        .unwrap_or_else(|| "never".to_owned());
    let power = match s.power {
        Some((p, _)) => format!("{p:?}"),
        None => "unread".to_owned(),
    };
    format!(
        "silent for {silence}; last reached by a peer {peer}; nova service down: {}; bmc power: {power}; other agents heard: {heard}",
        s.nova_down
    )
}
