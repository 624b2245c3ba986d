//! One simulation run: the event loop that drives the world, the faults and the
//! controller (the real [`Engine`]) from one seed, checking invariants after each step.

use std::collections::BTreeSet;

use lazarus_core::alert::{Alert, AlertKind, Severity};
use lazarus_core::engine::{Engine, Record, RecordKey};
use lazarus_core::event::{
    EvacuationError, FenceError, FenceErrorKind, Heartbeat, HostEvent, HostStatus, InstanceFailure,
    InstanceFailureKind, InstanceObservation, MigrationStatus as CoreMigration, Notification,
    NotificationPayload, NovaError, NovaService as CoreService, PowerState, Process, ProcessState,
};
use lazarus_core::model::{Cluster, FenceMethod, VmState};
use lazarus_core::workflow::{FenceConfirmation, InstanceStep, Phase};
use lazarus_core::{Command, Event, HostName, InstanceId, Timestamp};

use crate::config::{SimConfig, WatchdogFeed};
use crate::faults::{Fault, FaultPlan};
use crate::history::{EvacuationCommand, History, PriorEvacuation, SourceTruth};
use crate::invariants::{self, Violation};
use crate::log::EventLog;
use crate::outcome::{SimOutcome, Stats};
use crate::queue::EventQueue;
use crate::rng::SimRng;
use crate::scenario;
use crate::world::{
    BmcAnswer, GuestState, MigrationStatus, Node, NovaRefusal, PartitionKind, World,
    REPORT_INTERVAL_MS,
};

/// How long the controller waits for a BMC before calling it a timeout.
const BMC_TIMEOUT_MS: u64 = 10_000;
/// How long the controller waits for Nova before calling it a timeout.
const NOVA_TIMEOUT_MS: u64 = 30_000;
/// How often the controller reads Nova's service list.
const NOVA_POLL_MS: u64 = 10_000;
/// How often an agent heartbeats.
const HEARTBEAT_MS: u64 = 1_000;
/// How often a host monitor looks (masakari-monitors' hostmonitor default).
const MONITOR_INTERVAL_MS: u64 = 60_000;

/// Something due at a virtual time.
#[derive(Debug)]
enum Happening {
    /// A fault starts.
    Fault(Fault),
    /// A timed fault ends.
    Heal(Heal),
    /// Every fault is cleared; operators repair what is broken.
    HealAll,
    /// An agent's heartbeat period (and the watchdog's check).
    HostTick(usize),
    /// A compute service's report period.
    ComputeReport(usize),
    /// A host finishes booting (if still in the same life).
    HostBooted(usize, u64),
    /// A crashed host reboots by itself (if still in the same life).
    HostAutoReboot(usize, u64),
    /// A BMC's power change lands.
    PowerLands(usize, bool),
    /// The conductor claims the destination of an evacuation.
    EvacuationClaim(usize),
    /// The destination finishes an evacuation.
    EvacuationFinish(usize),
    /// An event reaches the controller incarnation `epoch`.
    Deliver(u64, Event),
    /// A heartbeat sent at the given time reaches the controller incarnation `epoch`.
    Heartbeat(u64, u64, Heartbeat),
    /// A controller request reaches its BMC, Nova or agent.
    Arrive(u64, Call),
    /// The controller reads Nova's services.
    NovaPoll(u64),
    /// An armed controller crash that no write triggered fires anyway.
    CrashFallback(u64),
    /// A new controller starts and resumes from the store.
    ControllerStart,
    /// The operator looks at a host they were paged about.
    OperatorChecks(usize),
    /// A host monitor looks at the host it watches.
    MonitorLooks(usize),
}

/// The end of a timed fault.
#[derive(Debug)]
enum Heal {
    Partition(usize, PartitionKind),
    Rack(Vec<usize>),
    ControllerIsolation,
    Bmc(usize),
    Nova,
    Compute(usize),
}

/// A request in flight from the controller.
#[derive(Debug)]
enum Call {
    PowerOff {
        host: usize,
        attempt: u32,
    },
    ReadPower {
        host: usize,
    },
    MarkDown {
        host: usize,
        reason: String,
    },
    Evacuate {
        instance: InstanceId,
        to: usize,
        attempt: u32,
    },
    Check {
        instance: InstanceId,
    },
    Reset {
        instance: InstanceId,
    },
    Disable {
        host: usize,
        reason: String,
    },
    Enable {
        host: usize,
    },
    Return {
        host: usize,
        enable: bool,
    },
    RestartProcess {
        host: usize,
        process: Process,
    },
}

/// The controller: the real engine, its durable store and its incarnation number.
#[derive(Debug)]
struct Controller {
    engine: Option<Engine>,
    epoch: u64,
    store: std::collections::BTreeMap<RecordKey, Record>,
    /// Writes still let through before an armed crash.
    crash_after: Option<u32>,
    down_ms: u64,
    /// Controllers started so far.
    starts: u32,
}

/// One run in progress.
pub(crate) struct Sim<'c> {
    seed: u64,
    config: &'c SimConfig,
    rng: SimRng,
    queue: EventQueue<Happening>,
    world: World,
    initial: Cluster,
    controller: Controller,
    history: History,
    log: EventLog,
    stats: Stats,
    violations: Vec<Violation>,
    /// When the controller heard each host's heartbeats, in order.
    heard: Vec<Vec<u64>>,
    pending_failures: Vec<Vec<InstanceFailure>>,
    nova_faulty: u32,
    /// Hosts the operator was paged about and has not looked at yet.
    operator_pending: Vec<bool>,
    /// Notifications posted by host monitors so far (for their UUIDs).
    notifications: u32,
    healing: bool,
    last_action_ms: u64,
    end_ms: u64,
}

impl std::fmt::Debug for Sim<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("seed", &self.seed).finish()
    }
}

impl<'c> Sim<'c> {
    /// Sets up the world and the fault plan for `seed`.
    pub(crate) fn new(seed: u64, config: &'c SimConfig) -> Self {
        let mut rng = SimRng::new(seed);
        let initial = scenario::cluster_for_seed(seed, config);
        // The cluster's generator is the first fork of the run's (see cluster_for_seed).
        let _ = rng.fork();
        let wd = config.engine.fencing.watchdog_timeout.as_millis() as u64;
        let world = World::from_cluster(&initial, |name| {
            initial.host(name).and_then(|h| match h.fence_method {
                lazarus_core::model::FenceMethod::Watchdog => Some(wd),
                lazarus_core::model::FenceMethod::Bmc
                | lazarus_core::model::FenceMethod::Manual => None,
            })
        });
        let n = world.hosts.len();
        Self {
            seed,
            config,
            rng,
            queue: EventQueue::new(),
            world,
            initial,
            controller: Controller {
                engine: None,
                epoch: 0,
                store: Default::default(),
                crash_after: None,
                down_ms: 0,
                starts: 0,
            },
            history: History::default(),
            log: EventLog::new(config.full_log),
            stats: Stats::default(),
            violations: Vec::new(),
            heard: vec![vec![0]; n],
            pending_failures: vec![Vec::new(); n],
            nova_faulty: 0,
            operator_pending: vec![false; n],
            notifications: 0,
            healing: false,
            last_action_ms: 0,
            end_ms: config.fault_phase_ms + config.heal_max_ms,
        }
    }

    /// Runs to the end and reports.
    pub(crate) fn run(mut self) -> SimOutcome {
        let plan = match &self.config.plan {
            Some(p) => p.clone(),
            None => {
                let ids: Vec<InstanceId> = self.initial.instances().map(|i| i.id.clone()).collect();
                let mut fault_rng = self.rng.fork();
                FaultPlan::random(self.config, &ids, &mut fault_rng)
            }
        };
        let fault_desc = if plan.faults.is_empty() {
            "none".to_owned()
        } else {
            plan.faults
                .iter()
                .map(|f| format!("{:?} at {}ms", f.fault, f.at_ms))
                .collect::<Vec<_>>()
                .join("; ")
        };
        self.log.push(
            0,
            format!(
                "seed {}: {} hosts, {} instances; faults: {}",
                self.seed,
                self.world.hosts.len(),
                self.initial.instance_count(),
                fault_desc
            ),
        );
        for h in self.initial.hosts() {
            let instances: Vec<String> = self
                .initial
                .instances_on(&h.name)
                .map(|i| format!("{} ({:?}, {:?})", i.id, i.priority, i.vm_state))
                .collect();
            self.log.push(
                0,
                format!(
                    "host {} fenced by {:?}: {}",
                    h.name,
                    h.fence_method,
                    instances.join(", ")
                ),
            );
        }
        for f in plan.faults {
            self.queue.at(f.at_ms, Happening::Fault(f.fault));
        }
        self.queue
            .at(self.config.fault_phase_ms, Happening::HealAll);
        for h in 0..self.world.hosts.len() {
            let offset = (h as u64 * 137) % HEARTBEAT_MS;
            self.queue.at(offset + 1, Happening::HostTick(h));
            self.queue.at(
                (h as u64 * 1_733) % REPORT_INTERVAL_MS + 1,
                Happening::ComputeReport(h),
            );
        }
        // Monitors from their own generator, so adding them changed no other draw.
        let mut monitor_rng = SimRng::new(self.seed ^ 0x6d6f_6e69_746f_7273);
        for h in 0..self.world.hosts.len() {
            if monitor_rng.chance(self.config.monitor_share) {
                let first = monitor_rng.range(1_000, MONITOR_INTERVAL_MS);
                self.queue.at(first, Happening::MonitorLooks(h));
                self.log.push(
                    0,
                    format!("host {} is watched by a host monitor", self.name(h)),
                );
            }
        }
        self.start_controller();

        while let Some(what) = self.queue.pop_until(self.end_ms) {
            self.stats.steps += 1;
            self.step(what);
            let now = self.queue.now_ms();
            if let Some(v) = invariants::never_two_live_copies_of_an_instance(&self.world, now) {
                self.violations.push(v);
            }
            if !self.violations.is_empty() {
                break;
            }
            if self.healing && self.is_quiet(now) {
                self.log.push(now, "quiet: heal phase over");
                break;
            }
        }
        let now = self.queue.now_ms();
        if self.violations.is_empty() {
            self.violations.extend(
                invariants::after_heal_every_protected_instance_runs_or_has_a_reason(
                    &self.initial,
                    &self.world,
                    &self.history,
                    now,
                ),
            );
        }
        for v in &self.violations {
            self.log.push(now, format!("VIOLATION {v}"));
        }
        self.stats.virtual_ms = now;
        self.stats.power_offs = self.world.bmcs.iter().map(|b| b.power_offs).sum();
        self.stats.watchdog_resets = self.world.hosts.iter().map(|h| h.watchdog_resets).sum();
        self.stats.evacuations_done = self
            .world
            .nova
            .migrations
            .iter()
            .filter(|m| matches!(m.status, MigrationStatus::Done | MigrationStatus::Completed))
            .count() as u32;
        SimOutcome {
            seed: self.seed,
            violations: self.violations,
            event_log: self.log,
            stats: self.stats,
            history: self.history,
            world: self.world,
        }
    }

    fn is_quiet(&self, now: u64) -> bool {
        now.saturating_sub(self.last_action_ms) >= self.config.quiet_ms
            && self.world.hosts.iter().all(|h| h.is_up())
            && self
                .controller
                .engine
                .as_ref()
                .is_some_and(|e| e.recoveries().all(|r| r.phase == Phase::Closed))
            && !self.world.nova.migrations.iter().any(|m| {
                matches!(
                    m.status,
                    MigrationStatus::Accepted | MigrationStatus::PreMigrating
                )
            })
    }

    fn now(&self) -> Timestamp {
        self.queue.now()
    }

    fn name(&self, h: usize) -> HostName {
        self.world
            .host_name(h)
            .cloned()
            .unwrap_or_else(|| HostName::new(format!("#{h}")))
    }

    fn step(&mut self, what: Happening) {
        let now = self.queue.now_ms();
        match what {
            Happening::Fault(f) => self.inject(f),
            Happening::Heal(h) => self.heal(h),
            Happening::HealAll => self.heal_all(),
            Happening::HostTick(h) => {
                self.host_tick(h);
                self.queue.after(HEARTBEAT_MS, Happening::HostTick(h));
            }
            Happening::ComputeReport(h) => {
                let reports = self
                    .world
                    .hosts
                    .get(h)
                    .is_some_and(|x| x.is_up() && x.compute_alive)
                    && self.world.network.delivers(Node::Host(h), Node::Nova);
                if reports {
                    if let Some(s) = self.world.nova.services.get_mut(h) {
                        s.last_report_ms = Some(now);
                    }
                }
                self.queue
                    .after(REPORT_INTERVAL_MS, Happening::ComputeReport(h));
            }
            Happening::HostBooted(h, generation) => {
                if self
                    .world
                    .hosts
                    .get(h)
                    .is_some_and(|x| x.generation == generation && x.powered)
                {
                    self.boot(h);
                }
            }
            Happening::HostAutoReboot(h, generation) => {
                let same_life = self
                    .world
                    .hosts
                    .get(h)
                    .is_some_and(|x| x.generation == generation && x.powered && !x.os_up);
                if same_life {
                    self.log
                        .push(now, format!("{} reboots after its crash", self.name(h)));
                    self.schedule_boot(h);
                }
            }
            Happening::PowerLands(h, on) => self.power_lands(h, on),
            Happening::EvacuationClaim(mid) => {
                let fails = self.rng.chance(self.config.claim_failure_rate);
                let ok = self.world.evacuation_claim(now, mid, fails);
                let desc = self.migration_desc(mid);
                if ok {
                    self.log.push(
                        now,
                        format!("nova: evacuation {desc} claimed its destination"),
                    );
                    let d = self.rng.range(2_000, 10_000);
                    self.queue.after(d, Happening::EvacuationFinish(mid));
                } else {
                    self.log.push(
                        now,
                        format!(
                            "nova: evacuation {desc} FAILED (claim or group check; no reschedule)"
                        ),
                    );
                }
            }
            Happening::EvacuationFinish(mid) => {
                let ok = self.world.evacuation_finish(mid);
                let desc = self.migration_desc(mid);
                self.log.push(
                    now,
                    if ok {
                        format!("nova: evacuation {desc} done")
                    } else {
                        format!("nova: evacuation {desc} ERROR (destination died)")
                    },
                );
            }
            Happening::Deliver(epoch, event) => self.deliver(epoch, event),
            Happening::Heartbeat(epoch, sent_ms, hb) => {
                if epoch == self.controller.epoch && self.controller.engine.is_some() {
                    if let Some(h) = self.world.host_index(&hb.host) {
                        // Heard, as of when it was sent: a host that reset after
                        // sending its last heartbeat did reset after being heard.
                        if let Some(log) = self.heard.get_mut(h) {
                            log.push(sent_ms);
                        }
                        if let Some(p) = self.pending_failures.get_mut(h) {
                            p.retain(|f| !hb.instance_failures.contains(f));
                        }
                    }
                }
                self.deliver(epoch, Event::HeartbeatReceived(hb));
            }
            Happening::Arrive(epoch, call) => self.arrive(epoch, call),
            Happening::NovaPoll(epoch) => {
                if epoch == self.controller.epoch && self.controller.engine.is_some() {
                    self.nova_poll();
                    self.queue.after(NOVA_POLL_MS, Happening::NovaPoll(epoch));
                }
            }
            Happening::CrashFallback(epoch) => {
                if epoch == self.controller.epoch && self.controller.crash_after.is_some() {
                    self.crash_controller("armed crash fired without a write");
                }
            }
            Happening::OperatorChecks(h) => self.operator_checks(h),
            Happening::MonitorLooks(h) => {
                self.monitor_looks(h);
                self.queue
                    .after(MONITOR_INTERVAL_MS, Happening::MonitorLooks(h));
            }
            Happening::ControllerStart => {
                if self.controller.engine.is_none() {
                    self.start_controller();
                }
            }
        }
    }

    fn migration_desc(&self, mid: usize) -> String {
        match self.world.nova.migrations.get(mid) {
            Some(m) => format!(
                "#{mid} of {} {} -> {}",
                m.instance,
                self.name(m.source),
                m.requested
                    .map_or_else(|| "?".to_owned(), |d| self.name(d).to_string())
            ),
            None => format!("#{mid}"),
        }
    }

    // ----- hosts -----

    fn host_tick(&mut self, h: usize) {
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
        // Peers the agent reaches both ways (its probes are round trips).
        let mut peers = BTreeSet::new();
        for (p, peer) in self.world.hosts.iter().enumerate() {
            if p != h
                && same_segment(p)
                && peer.is_up()
                && peer.agent_alive
                && net.delivers(me, Node::Host(p))
                && net.delivers(Node::Host(p), me)
            {
                peers.insert(peer.name.clone());
            }
        }
        let controller_up = self.controller.engine.is_some();
        let to_controller = net.delivers(me, Node::Controller);
        let acked = controller_up && to_controller && net.delivers(Node::Controller, me);
        let quorum =
            self.config.watchdog_feed == WatchdogFeed::AckOrPeerQuorum && (peers.len() + 1) * 2 > n;
        // The watchdog first: an expired one resets the host before it says anything.
        if self.watchdog(h, agent_alive && (acked || quorum)) {
            return;
        }
        let Some(host) = self.world.hosts.get(h) else {
            return;
        };
        if agent_alive && to_controller {
            let compute_alive = host.compute_alive;
            // Reported until a live controller has taken them (the agent resends
            // unacknowledged reports), so a controller crash does not lose them.
            let failures = self.pending_failures.get(h).cloned().unwrap_or_default();
            let hb = Heartbeat {
                host: host.name.clone(),
                reachable_peers: peers,
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
                .after(latency, Happening::Heartbeat(epoch, now, hb));
        }
    }

    /// Feeds host `h`'s watchdog if `fed`, else resets the host once it expired.
    /// Returns whether it reset the host.
    fn watchdog(&mut self, h: usize, fed: bool) -> bool {
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

    // ----- the operator -----

    /// An alert that needs a person to confirm a fence pages the operator.
    fn page_operator(&mut self, alert: &Alert) {
        if !self.config.operator {
            return;
        }
        let Some(h) = alert.host.as_ref().and_then(|n| self.world.host_index(n)) else {
            return;
        };
        let manual = self
            .initial
            .host(&self.name(h))
            .is_some_and(|x| x.fence_method == FenceMethod::Manual);
        let needs_person = match alert.kind {
            AlertKind::FenceUnconfirmed => true,
            AlertKind::HostFailed => manual,
            _ => false,
        };
        if needs_person && !self.operator_pending.get(h).copied().unwrap_or(true) {
            if let Some(p) = self.operator_pending.get_mut(h) {
                *p = true;
            }
            let d = self.rng.range(60_000, 300_000);
            self.queue.after(d, Happening::OperatorChecks(h));
        }
    }

    /// The operator looks at host `h` and confirms it fenced only if it really is off
    /// or its OS really is down; if the controller is down they try again later.
    fn operator_checks(&mut self, h: usize) {
        let now = self.queue.now_ms();
        let name = self.name(h);
        let off = self.world.hosts.get(h).is_some_and(|x| !x.is_up());
        if !off {
            if let Some(p) = self.operator_pending.get_mut(h) {
                *p = false;
            }
            self.log.push(
                now,
                format!("operator: {name} is running; not confirming a fence"),
            );
            return;
        }
        if self.controller.engine.is_none() {
            self.queue.after(60_000, Happening::OperatorChecks(h));
            return;
        }
        if let Some(p) = self.operator_pending.get_mut(h) {
            *p = false;
        }
        self.log.push(
            now,
            format!("operator: {name} is off; confirming it fenced"),
        );
        let epoch = self.controller.epoch;
        self.queue.after(
            100,
            Happening::Deliver(
                epoch,
                Event::OperatorConfirmedFenced {
                    host: name,
                    operator: "sim-operator".to_owned(),
                },
            ),
        );
    }

    /// A Pacemaker-style host monitor looks at host `h`: a host that is really down is
    /// fenced by the monitor's own stack (powered off) and reported to the controller
    /// as COMPUTE_HOST STOPPED / NORMAL (Masakari's fence confirmation), at every look.
    fn monitor_looks(&mut self, h: usize) {
        let now = self.queue.now_ms();
        let down = self.world.hosts.get(h).is_some_and(|x| !x.is_up());
        if !down || self.healing {
            return;
        }
        if let Some(x) = self.world.hosts.get_mut(h) {
            if x.powered {
                x.power_off(now);
            }
        }
        self.notifications += 1;
        let host = self.name(h);
        let id = format!("notif-{}-{}", self.seed, self.notifications);
        self.log.push(
            now,
            format!("monitor: {host} is down; fenced it, posts COMPUTE_HOST STOPPED ({id})"),
        );
        let epoch = self.controller.epoch;
        let d = self.rng.range(100, 1_000);
        self.queue.after(
            d,
            Happening::Deliver(
                epoch,
                Event::MonitorNotified(Notification {
                    id,
                    host,
                    payload: NotificationPayload::ComputeHost {
                        event: HostEvent::Stopped,
                        host_status: HostStatus::Normal,
                    },
                }),
            ),
        );
    }

    fn schedule_boot(&mut self, h: usize) {
        let d = self.rng.range(30_000, 90_000);
        if let Some(host) = self.world.hosts.get(h) {
            let g = host.generation;
            self.queue.after(d, Happening::HostBooted(h, g));
        }
    }

    fn boot(&mut self, h: usize) {
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
    fn compute_start(&mut self, h: usize) {
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

    fn power_lands(&mut self, h: usize, on: bool) {
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

    // ----- faults -----

    fn inject(&mut self, fault: Fault) {
        let now = self.queue.now_ms();
        self.stats.faults += 1;
        self.log.push(now, format!("FAULT {fault:?}"));
        match fault {
            Fault::HostCrash {
                host,
                reboot_after_ms,
            } => {
                if let Some(x) = self.world.hosts.get_mut(host) {
                    x.stop_os(now);
                    let g = x.generation;
                    if let Some(d) = reboot_after_ms {
                        self.queue.after(d, Happening::HostAutoReboot(host, g));
                    }
                }
            }
            Fault::PowerLoss { host } => {
                if let Some(x) = self.world.hosts.get_mut(host) {
                    x.power_off(now);
                }
                if let Some(b) = self.world.bmcs.get_mut(host) {
                    b.unpowered = true;
                }
            }
            Fault::Partition {
                host,
                kind,
                duration_ms,
            } => {
                for (a, b) in self.world.network.links_of(host, kind) {
                    self.world.network.cut(a, b);
                }
                self.queue
                    .after(duration_ms, Happening::Heal(Heal::Partition(host, kind)));
            }
            Fault::RackPartition {
                ref hosts,
                duration_ms,
            } => {
                for (a, b) in self.world.network.links_of_rack(hosts) {
                    self.world.network.cut(a, b);
                }
                self.queue
                    .after(duration_ms, Happening::Heal(Heal::Rack(hosts.clone())));
            }
            Fault::ControllerIsolated { duration_ms } => {
                for h in 0..self.world.hosts.len() {
                    for (a, b) in self
                        .world
                        .network
                        .links_of(h, PartitionKind::ControllerOnly)
                    {
                        self.world.network.cut(a, b);
                    }
                }
                self.queue
                    .after(duration_ms, Happening::Heal(Heal::ControllerIsolation));
            }
            Fault::Bmc {
                host,
                fault,
                duration_ms,
            } => {
                if let Some(b) = self.world.bmcs.get_mut(host) {
                    b.fault = Some(fault);
                }
                self.queue
                    .after(duration_ms, Happening::Heal(Heal::Bmc(host)));
            }
            Fault::NovaErrors { duration_ms } => {
                self.nova_faulty += 1;
                self.queue.after(duration_ms, Happening::Heal(Heal::Nova));
            }
            Fault::ControllerCrash {
                after_persists,
                down_ms,
            } => {
                if self.controller.engine.is_some() {
                    self.controller.down_ms = down_ms;
                    if after_persists == 0 {
                        self.crash_controller("crash fault");
                    } else {
                        self.controller.crash_after = Some(after_persists);
                        let epoch = self.controller.epoch;
                        self.queue.after(60_000, Happening::CrashFallback(epoch));
                    }
                }
            }
            Fault::ComputeDeath { host, duration_ms } => {
                if let Some(x) = self.world.hosts.get_mut(host) {
                    x.compute_fault = true;
                    x.compute_alive = false;
                }
                self.queue
                    .after(duration_ms, Happening::Heal(Heal::Compute(host)));
            }
            Fault::GuestCrash { instance } => {
                let on = self.world.nova.instances.get(&instance).map(|s| s.host);
                if let Some(h) = on {
                    let crashed = self.world.hosts.get_mut(h).is_some_and(|x| {
                        let was = x.runs(&instance);
                        if was {
                            x.guests.insert(instance.clone(), GuestState::Shutoff);
                        }
                        was
                    });
                    if crashed {
                        if let Some(s) = self.world.nova.instances.get_mut(&instance) {
                            s.vm_state = VmState::Stopped;
                        }
                        if let Some(p) = self.pending_failures.get_mut(h) {
                            p.push(InstanceFailure {
                                instance,
                                kind: InstanceFailureKind::Crashed,
                            });
                        }
                    }
                }
            }
        }
    }

    fn heal(&mut self, heal: Heal) {
        let now = self.queue.now_ms();
        if self.healing {
            return; // heal_all already cleared everything
        }
        self.log.push(now, format!("HEAL {heal:?}"));
        match heal {
            Heal::Partition(host, kind) => {
                for (a, b) in self.world.network.links_of(host, kind) {
                    self.world.network.heal(a, b);
                }
            }
            Heal::Rack(hosts) => {
                for (a, b) in self.world.network.links_of_rack(&hosts) {
                    self.world.network.heal(a, b);
                }
            }
            Heal::ControllerIsolation => {
                for h in 0..self.world.hosts.len() {
                    for (a, b) in self
                        .world
                        .network
                        .links_of(h, PartitionKind::ControllerOnly)
                    {
                        self.world.network.heal(a, b);
                    }
                }
            }
            Heal::Bmc(host) => {
                if let Some(b) = self.world.bmcs.get_mut(host) {
                    b.fault = None;
                }
            }
            Heal::Nova => self.nova_faulty = self.nova_faulty.saturating_sub(1),
            Heal::Compute(host) => {
                if let Some(x) = self.world.hosts.get_mut(host) {
                    x.compute_fault = false;
                }
            }
        }
    }

    /// Clears every fault; operators power on what is off and power-cycle what hangs.
    fn heal_all(&mut self) {
        let now = self.queue.now_ms();
        self.log
            .push(now, "HEAL ALL: faults cleared, operators repair hosts");
        self.healing = true;
        self.last_action_ms = now;
        self.world.network.heal_all();
        self.nova_faulty = 0;
        for b in &mut self.world.bmcs {
            b.fault = None;
            b.unpowered = false;
        }
        for h in 0..self.world.hosts.len() {
            let Some(x) = self.world.hosts.get_mut(h) else {
                continue;
            };
            x.compute_fault = false;
            if !x.powered {
                let d = self.rng.range(5_000, 30_000);
                self.queue.after(d, Happening::PowerLands(h, true));
            } else if !x.os_up {
                // Hung or crashed without rebooting: the operator power-cycles it
                // (unless a boot is already on its way).
                x.generation += 1;
                self.schedule_boot(h);
            } else if !x.compute_alive {
                self.compute_start(h);
            }
        }
        if self.controller.engine.is_none() {
            self.queue.after(1_000, Happening::ControllerStart);
        }
        self.controller.crash_after = None;
    }

    // ----- the controller -----

    fn cluster_from_nova(&self) -> Cluster {
        let mut c = self.initial.clone();
        for (id, s) in &self.world.nova.instances {
            let name = self.name(s.host);
            if c.instance(id).is_some_and(|i| i.host != name) {
                let _ = c.move_instance(id, &name);
            }
            if let Some(i) = c.instance_mut(id) {
                i.vm_state = s.vm_state;
            }
        }
        for h in 0..self.world.hosts.len() {
            let usage = self.world.nova.usage(h);
            let name = self.name(h);
            if let Some(host) = c.host_mut(&name) {
                host.usage = usage;
            }
        }
        c
    }

    fn start_controller(&mut self) {
        let now = self.now();
        self.controller.epoch += 1;
        self.controller.starts += 1;
        let cluster = if self.controller.starts == 1 {
            self.initial.clone()
        } else {
            self.cluster_from_nova()
        };
        let mut engine = Engine::new(self.config.engine.clone(), cluster);
        let records: Vec<Record> = self.controller.store.values().cloned().collect();
        self.log.push(
            now.as_millis(),
            format!(
                "controller #{} starts, resuming from {} persisted record(s)",
                self.controller.starts,
                records.len()
            ),
        );
        let cmds = engine.resume(now, records);
        // Every simulated host runs an agent: a new controller judges even the hosts
        // that died while no controller was watching (they never heartbeat again).
        engine.expect_agents(now, self.world.hosts.iter().map(|h| h.name.clone()));
        self.controller.engine = Some(engine);
        self.controller.crash_after = None;
        let epoch = self.controller.epoch;
        self.queue.after(1, Happening::NovaPoll(epoch));
        self.execute(cmds);
    }

    fn crash_controller(&mut self, why: &str) {
        let now = self.queue.now_ms();
        self.stats.controller_crashes += 1;
        self.controller.engine = None;
        self.controller.crash_after = None;
        self.controller.epoch += 1;
        self.log.push(
            now,
            format!(
                "CONTROLLER CRASH ({why}); a new one starts in {} ms",
                self.controller.down_ms
            ),
        );
        let down = self.controller.down_ms.max(1);
        self.queue.after(down, Happening::ControllerStart);
    }

    fn deliver(&mut self, epoch: u64, event: Event) {
        if epoch != self.controller.epoch {
            return;
        }
        let now = self.now();
        let down = self.controller.engine.is_none();
        if !matches!(
            event,
            Event::TimerFired(_) | Event::NovaServiceObserved(_) | Event::HeartbeatReceived(_)
        ) {
            // An event for a controller that is down is lost: say so, not "-> engine".
            let to = if down {
                "lost, no controller"
            } else {
                "engine"
            };
            self.log.push(
                now.as_millis(),
                format!("  -> {to}: {}", brief_event(&event)),
            );
        }
        let Some(engine) = self.controller.engine.as_mut() else {
            return;
        };
        let cmds = engine.handle(now, event);
        self.execute(cmds);
    }

    fn nova_poll(&mut self) {
        let now = self.queue.now_ms();
        let epoch = self.controller.epoch;
        for h in 0..self.world.hosts.len() {
            let Some(s) = self.world.nova.services.get(h) else {
                continue;
            };
            let reporting = s
                .last_report_ms
                .is_some_and(|t| now.saturating_sub(t) <= crate::world::SERVICE_DOWN_MS);
            let obs = CoreService {
                host: self.name(h),
                reporting,
                up: self.world.nova.service_up(h, now),
                forced_down: s.forced_down,
                disabled: s.disabled,
                disabled_reason: s.disabled_reason.clone(),
            };
            // A host whose fenced recovery is finished and whose compute reported after
            // the fence was confirmed has come back (its `updated_at` moved on).
            let returned = self.controller.engine.as_ref().is_some_and(|e| {
                e.recovery(&obs.host).is_some_and(|r| {
                    matches!(r.phase, Phase::Finished | Phase::Returning)
                        && r.fence.confirmation.as_ref().is_some_and(|c| {
                            let at = match c {
                                FenceConfirmation::PowerOff { at } => *at,
                                FenceConfirmation::Watchdog { at, .. } => *at,
                                FenceConfirmation::Operator { at, .. } => *at,
                                FenceConfirmation::Monitor { at, .. } => *at,
                            };
                            s.last_report_ms.is_some_and(|t| t > at.as_millis())
                        })
                })
            });
            let host = obs.host.clone();
            let d = self.rng.range(50, 300);
            self.queue.after(
                d,
                Happening::Deliver(epoch, Event::NovaServiceObserved(obs)),
            );
            if returned {
                self.queue
                    .after(d, Happening::Deliver(epoch, Event::HostReturned { host }));
            }
        }
    }

    /// Executes commands in order; a `Persist` is durable before anything after it.
    fn execute(&mut self, cmds: Vec<Command>) {
        let now = self.queue.now_ms();
        let epoch = self.controller.epoch;
        for cmd in cmds {
            if self.controller.engine.is_none() || epoch != self.controller.epoch {
                return; // crashed mid-batch: the rest never happens
            }
            self.stats.commands += 1;
            match &cmd {
                Command::ScheduleTimer { .. } => {}
                Command::RaiseAlert(_) | Command::RecoveryFinished(_) => self.last_action_ms = now,
                _ => {
                    self.last_action_ms = now;
                    self.log
                        .push(now, format!("engine: {}", brief_command(&cmd)));
                }
            }
            match cmd {
                Command::Persist(record) => {
                    self.stats.persists += 1;
                    self.controller.store.insert(record.key(), record);
                    if let Some(left) = self.controller.crash_after {
                        if left <= 1 {
                            self.crash_controller("right after a write");
                            return;
                        }
                        self.controller.crash_after = Some(left - 1);
                    }
                }
                Command::FenceHost { host, attempt, .. } => {
                    if let Some(h) = self.world.host_index(&host) {
                        self.send(Call::PowerOff { host: h, attempt }, 20, 100);
                    }
                }
                Command::ReadPowerState { host } => {
                    if let Some(h) = self.world.host_index(&host) {
                        self.send(Call::ReadPower { host: h }, 20, 100);
                    }
                }
                Command::MarkHostDown { host, reason } => {
                    if let Some(h) = self.world.host_index(&host) {
                        self.send(Call::MarkDown { host: h, reason }, 20, 200);
                    }
                }
                Command::EvacuateInstance {
                    instance,
                    from,
                    to,
                    attempt,
                } => {
                    self.stats.evacuations += 1;
                    let ev = self.evacuation_record(now, &instance, &from, &to, attempt);
                    if let Some(v) = invariants::no_evacuation_of_an_unfenced_host(&ev) {
                        self.violations.push(v);
                    }
                    if let Some(v) = invariants::one_recovery_per_failure(&ev) {
                        self.violations.push(v);
                    }
                    if let Some(v) = invariants::every_evacuation_is_written_ahead(&ev) {
                        self.violations.push(v);
                    }
                    if ev.source.powered && ev.source.os_up && ev.source.reset_since_failure {
                        self.stats.evacuations_from_returned_hosts += 1;
                        self.log.push(
                            now,
                            format!(
                                "note: {} is evacuated from {}, which came back up after its fence",
                                ev.instance, ev.from
                            ),
                        );
                    }
                    self.history.evacuations.push(ev);
                    match self.world.host_index(&to) {
                        Some(t) => self.send(
                            Call::Evacuate {
                                instance,
                                to: t,
                                attempt,
                            },
                            20,
                            300,
                        ),
                        None => {
                            let ev = Event::EvacuationRejected {
                                instance,
                                target: to,
                                attempt,
                                error: EvacuationError::Other("unknown host".to_owned()),
                            };
                            self.queue.after(100, Happening::Deliver(epoch, ev));
                        }
                    }
                }
                Command::CheckInstance { instance } => self.send(Call::Check { instance }, 20, 200),
                Command::ResetInstance { instance, .. } => {
                    self.send(Call::Reset { instance }, 20, 300)
                }
                Command::RestartProcess { host, process } => {
                    if let Some(h) = self.world.host_index(&host) {
                        self.send(Call::RestartProcess { host: h, process }, 1, 20);
                    }
                }
                Command::DisableHost { host, reason } => {
                    if let Some(h) = self.world.host_index(&host) {
                        self.send(Call::Disable { host: h, reason }, 20, 200);
                    }
                }
                Command::EnableHost { host } => {
                    if let Some(h) = self.world.host_index(&host) {
                        self.send(Call::Enable { host: h }, 20, 200);
                    }
                }
                Command::ReturnHostToService { host, enable } => {
                    if let Some(h) = self.world.host_index(&host) {
                        self.send(Call::Return { host: h, enable }, 20, 200);
                    }
                }
                Command::ScheduleTimer { at, token } => {
                    self.queue.at(
                        at.as_millis(),
                        Happening::Deliver(epoch, Event::TimerFired(token)),
                    );
                }
                Command::RaiseAlert(alert) => {
                    if alert.severity == Severity::Critical {
                        self.stats.critical_alerts += 1;
                    }
                    self.page_operator(&alert);
                    self.log.push(
                        now,
                        format!(
                            "ALERT {:?} {:?}{}{}: {}",
                            alert.severity,
                            alert.kind,
                            alert
                                .host
                                .as_ref()
                                .map_or(String::new(), |h| format!(" host={h}")),
                            alert
                                .instance
                                .as_ref()
                                .map_or(String::new(), |i| format!(" instance={i}")),
                            alert.message
                        ),
                    );
                    self.history.alerts.push((now, alert));
                }
                Command::RecoveryFinished(summary) => {
                    self.stats.recoveries_finished += 1;
                    self.log.push(
                        now,
                        format!(
                            "RECOVERY FINISHED {} {:?}: recovered {}, given up {:?}",
                            summary.id,
                            summary.outcome,
                            summary.recovered.len(),
                            summary.given_up
                        ),
                    );
                    self.history.summaries.push((now, summary));
                }
            }
        }
    }

    fn evacuation_record(
        &self,
        now: u64,
        instance: &InstanceId,
        from: &HostName,
        to: &HostName,
        attempt: u32,
    ) -> EvacuationCommand {
        let record = match self
            .controller
            .store
            .get(&RecordKey::Recovery(from.clone()))
        {
            Some(Record::Recovery(r)) => Some(r),
            Some(Record::ProcessDisable(_)) | None => None,
        };
        let written_ahead = record.is_some_and(|r| {
            r.instances.get(instance).is_some_and(|i| {
                i.step
                    == InstanceStep::Requested {
                        target: to.clone(),
                        attempt,
                    }
            })
        });
        let src = self.world.host_index(from);
        let source = src
            .and_then(|h| self.world.hosts.get(h).map(|x| (h, x)))
            .map_or(
                SourceTruth {
                    powered: false,
                    os_up: false,
                    guest_running: false,
                    reset_since_failure: true,
                },
                |(h, x)| {
                    // The last heartbeat the controller heard before the recovery
                    // began.
                    let heard_log = self.heard.get(h).map(Vec::as_slice).unwrap_or(&[]);
                    let heard = match &record {
                        Some(r) => {
                            let start = r.id.started_at.as_millis();
                            let before = heard_log.partition_point(|t| *t <= start);
                            let sim_heard = before
                                .checked_sub(1)
                                .and_then(|i| heard_log.get(i))
                                .copied()
                                .unwrap_or(0);
                            // Only the simulator's account: an engine that believed
                            // in a later heartbeat would only make itself safer.
                            sim_heard
                        }
                        None => heard_log.last().copied().unwrap_or(0),
                    };
                    SourceTruth {
                        powered: x.powered,
                        os_up: x.os_up,
                        guest_running: x.runs(instance),
                        reset_since_failure: x.last_reset_ms.is_some_and(|r| r >= heard),
                    }
                },
            );
        let prior = self.world.nova.last_migration(instance).map(|m| {
            let dest_healthy = m.dest.is_some_and(|d| {
                self.world.hosts.get(d).is_some_and(|x| {
                    x.runs(instance)
                        && x.last_reset_ms.is_none_or(|r| r < m.created_ms)
                        && self
                            .world
                            .nova
                            .instances
                            .get(instance)
                            .is_some_and(|s| s.host == d)
                })
            });
            PriorEvacuation {
                source: self.name(m.source),
                dest: m.dest.map(|d| self.name(d)),
                in_progress: matches!(
                    m.status,
                    MigrationStatus::Accepted | MigrationStatus::PreMigrating
                ),
                succeeded: matches!(m.status, MigrationStatus::Done | MigrationStatus::Completed),
                dest_healthy,
            }
        });
        EvacuationCommand {
            at_ms: now,
            instance: instance.clone(),
            from: from.clone(),
            to: to.clone(),
            attempt,
            source,
            prior,
            written_ahead,
        }
    }

    fn send(&mut self, call: Call, lo: u64, hi: u64) {
        let d = self.rng.range(lo, hi);
        let epoch = self.controller.epoch;
        self.queue.after(d, Happening::Arrive(epoch, call));
    }

    fn reply(&mut self, epoch: u64, delay: u64, event: Event) {
        self.queue.after(delay, Happening::Deliver(epoch, event));
    }

    /// How Nova's transport behaves for one call: normally, 5xx, or a timeout.
    fn nova_transport(&mut self) -> Transport {
        if self.nova_faulty == 0 {
            return Transport::Ok(self.rng.range(20, 300));
        }
        if self.rng.chance(self.config.nova_error_rate) {
            Transport::ServerError
        } else if self.rng.chance(self.config.nova_timeout_rate) {
            Transport::Timeout {
                applied: self.rng.chance(0.5),
            }
        } else {
            Transport::Ok(self.rng.range(20, 300))
        }
    }

    /// A controller request reaches its BMC, Nova or agent: the effect happens now,
    /// the answer travels back (to the incarnation that sent it).
    fn arrive(&mut self, epoch: u64, call: Call) {
        let now = self.queue.now_ms();
        match call {
            Call::PowerOff { host, attempt } => {
                let name = self.name(host);
                let base = self.rng.range(100, 800);
                let answer = self.world.bmcs.get(host).map(|b| b.answer(base));
                let result = match answer {
                    Some(BmcAnswer::After(d)) => {
                        let lands = self.rng.range(1_000, 11_000);
                        self.queue.after(lands, Happening::PowerLands(host, false));
                        (d, Ok(()))
                    }
                    Some(BmcAnswer::ErrorAfter(d)) => {
                        (d, Err(bmc_error(FenceErrorKind::Other, "BMC answered 500")))
                    }
                    Some(BmcAnswer::Never) | None => (
                        BMC_TIMEOUT_MS,
                        Err(bmc_error(FenceErrorKind::Timeout, "BMC did not answer")),
                    ),
                };
                self.reply(
                    epoch,
                    result.0,
                    Event::FenceAttempted {
                        host: name,
                        attempt,
                        result: result.1,
                    },
                );
            }
            Call::ReadPower { host } => {
                let name = self.name(host);
                let base = self.rng.range(100, 800);
                let answer = self.world.bmcs.get(host).map(|b| b.answer(base));
                let powered = self.world.hosts.get(host).is_some_and(|x| x.powered);
                let (d, result) = match answer {
                    Some(BmcAnswer::After(d)) => (
                        d,
                        Ok(if powered {
                            PowerState::On
                        } else {
                            PowerState::Off
                        }),
                    ),
                    Some(BmcAnswer::ErrorAfter(d)) => {
                        (d, Err(bmc_error(FenceErrorKind::Other, "BMC answered 500")))
                    }
                    Some(BmcAnswer::Never) | None => (
                        BMC_TIMEOUT_MS,
                        Err(bmc_error(FenceErrorKind::Timeout, "BMC did not answer")),
                    ),
                };
                self.reply(epoch, d, Event::PowerStateRead { host: name, result });
            }
            Call::MarkDown { host, reason } => {
                let name = self.name(host);
                let (d, result) =
                    self.nova_call(|w| w.nova.mark_down(host, &reason).map_err(nova_error));
                self.reply(epoch, d, Event::HostMarkedDown { host: name, result });
            }
            Call::Evacuate {
                instance,
                to,
                attempt,
            } => {
                let target = self.name(to);
                let transport = self.nova_transport();
                let (apply, d) = match transport {
                    Transport::Ok(d) => (true, d),
                    Transport::ServerError => (false, self.rng.range(20, 300)),
                    Transport::Timeout { applied } => (applied, NOVA_TIMEOUT_MS),
                };
                let result = if apply {
                    self.world
                        .nova
                        .accept_evacuation(now, &instance, Some(to))
                        .map_err(evacuation_error)
                } else {
                    Err(EvacuationError::ServerError(503))
                };
                if let Ok(mid) = result {
                    let claim = self.rng.range(500, 2_000);
                    self.queue.after(claim, Happening::EvacuationClaim(mid));
                    self.log.push(
                        now,
                        format!("nova: evacuation #{mid} of {instance} accepted (target {target})"),
                    );
                } else if let Err(e) = &result {
                    self.log
                        .push(now, format!("nova: evacuation of {instance} refused: {e}"));
                }
                let event = match (transport, result) {
                    (Transport::Timeout { .. }, _) => Event::EvacuationRejected {
                        instance,
                        target,
                        attempt,
                        error: EvacuationError::Timeout,
                    },
                    (_, Ok(_)) => Event::EvacuationAccepted {
                        instance,
                        target,
                        attempt,
                    },
                    (_, Err(error)) => Event::EvacuationRejected {
                        instance,
                        target,
                        attempt,
                        error,
                    },
                };
                self.reply(epoch, d, event);
            }
            Call::Check { instance } => {
                let transport = self.nova_transport();
                let d = match transport {
                    Transport::Ok(d) => d,
                    // The engine has no event for a failed read, so the runtime's
                    // client retries the GET itself (for as long as it lives).
                    Transport::ServerError | Transport::Timeout { .. } => {
                        if epoch != self.controller.epoch {
                            return;
                        }
                        let retry = self.rng.range(2_000, 5_000);
                        self.queue
                            .after(retry, Happening::Arrive(epoch, Call::Check { instance }));
                        return;
                    }
                };
                let obs = match self.world.nova.instances.get(&instance) {
                    Some(s) => InstanceObservation {
                        instance: instance.clone(),
                        host: Some(self.name(s.host)),
                        vm_state: s.vm_state,
                        task_state: s.busy.then(|| "rebuilding".to_owned()),
                        migration: self
                            .world
                            .nova
                            .last_migration(&instance)
                            .map(|m| core_migration(m.status)),
                    },
                    None => InstanceObservation {
                        instance: instance.clone(),
                        host: None,
                        vm_state: VmState::Other,
                        task_state: None,
                        migration: None,
                    },
                };
                self.reply(epoch, d, Event::InstanceObserved(obs));
            }
            Call::Reset { instance } => {
                let (d, result) =
                    self.nova_call(|w| w.reset_instance(&instance).map_err(nova_error));
                if result.is_ok() {
                    self.log
                        .push(now, format!("nova: {instance} hard-rebooted"));
                    self.stats.resets += 1;
                }
                self.reply(epoch, d, Event::InstanceResetDone { instance, result });
            }
            Call::Disable { host, reason } => {
                let name = self.name(host);
                let (d, result) =
                    self.nova_call(|w| w.nova.disable(host, &reason).map_err(nova_error));
                self.reply(epoch, d, Event::HostDisabled { host: name, result });
            }
            Call::Enable { host } => {
                let name = self.name(host);
                let (d, result) = self.nova_call(|w| w.nova.enable(host).map_err(nova_error));
                self.reply(epoch, d, Event::HostEnabled { host: name, result });
            }
            Call::Return { host, enable } => {
                let name = self.name(host);
                let (d, result) = self.nova_call(|w| {
                    w.nova.lift_forced_down(host).map_err(nova_error)?;
                    if enable {
                        w.nova.enable(host).map_err(nova_error)?;
                    }
                    Ok(())
                });
                if result.is_ok() {
                    self.log.push(
                        now,
                        format!("nova: {name} back in service (enable={enable})"),
                    );
                }
                self.reply(
                    epoch,
                    d,
                    Event::HostReturnedToService { host: name, result },
                );
            }
            Call::RestartProcess { host, process } => {
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
    }

    /// A Nova call other than evacuate: applies `f` unless the transport fails first,
    /// and says when the answer arrives and what it is.
    fn nova_call(
        &mut self,
        f: impl FnOnce(&mut World) -> Result<(), NovaError>,
    ) -> (u64, Result<(), NovaError>) {
        match self.nova_transport() {
            Transport::Ok(d) => (d, f(&mut self.world)),
            Transport::ServerError => (self.rng.range(20, 300), Err(NovaError::ServerError(503))),
            Transport::Timeout { applied } => {
                if applied {
                    let _ = f(&mut self.world);
                }
                (NOVA_TIMEOUT_MS, Err(NovaError::Timeout))
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Ok(u64),
    ServerError,
    Timeout { applied: bool },
}

fn bmc_error(kind: FenceErrorKind, message: &str) -> FenceError {
    FenceError {
        kind,
        retryable: true,
        message: message.to_owned(),
    }
}

fn nova_error(r: NovaRefusal) -> NovaError {
    match r {
        NovaRefusal::NotFound => NovaError::NotFound,
        NovaRefusal::ComputeServiceInUse => NovaError::BadRequest("ComputeServiceInUse".to_owned()),
        NovaRefusal::SameHost => NovaError::BadRequest("target is the source".to_owned()),
        NovaRefusal::Conflict => {
            NovaError::Conflict("instance busy or in a wrong state".to_owned())
        }
        NovaRefusal::EvacuationsPending => NovaError::BadRequest(
            "forced_down cannot be lifted while evacuations are done".to_owned(),
        ),
    }
}

fn evacuation_error(r: NovaRefusal) -> EvacuationError {
    match r {
        NovaRefusal::NotFound => EvacuationError::NotFound,
        NovaRefusal::ComputeServiceInUse => EvacuationError::ComputeServiceInUse,
        NovaRefusal::SameHost => EvacuationError::Other("target is the source".to_owned()),
        NovaRefusal::Conflict => {
            EvacuationError::Conflict("instance busy or not evacuable".to_owned())
        }
        NovaRefusal::EvacuationsPending => EvacuationError::Other("unexpected".to_owned()),
    }
}

fn core_migration(s: MigrationStatus) -> CoreMigration {
    match s {
        MigrationStatus::Accepted => CoreMigration::Accepted,
        MigrationStatus::PreMigrating => CoreMigration::PreMigrating,
        MigrationStatus::Done => CoreMigration::Done,
        MigrationStatus::Completed => CoreMigration::Completed,
        MigrationStatus::Failed => CoreMigration::Failed,
        MigrationStatus::Error => CoreMigration::Error,
    }
}

/// One line for a command in the event log.
fn brief_command(cmd: &Command) -> String {
    match cmd {
        Command::Persist(Record::Recovery(r)) => {
            format!("persist recovery {} phase {:?}", r.id, r.phase)
        }
        Command::Persist(Record::ProcessDisable(p)) => {
            format!("persist process-disable {} disabled={}", p.host, p.disabled)
        }
        Command::FenceHost {
            host,
            method,
            attempt,
        } => format!("fence {host} by {method:?} (attempt {attempt})"),
        Command::ReadPowerState { host } => format!("read power of {host}"),
        Command::MarkHostDown { host, reason } => format!("mark {host} down ({reason})"),
        Command::EvacuateInstance {
            instance,
            from,
            to,
            attempt,
        } => format!("EVACUATE {instance} {from} -> {to} (attempt {attempt})"),
        Command::CheckInstance { instance } => format!("check {instance}"),
        Command::ResetInstance {
            instance,
            host,
            reason,
            ..
        } => format!("reset {instance} on {host} ({reason})"),
        Command::RestartProcess { host, process } => {
            format!("restart {} on {host}", process.name())
        }
        Command::DisableHost { host, reason } => format!("disable {host} ({reason})"),
        Command::EnableHost { host } => format!("enable {host}"),
        Command::ReturnHostToService { host, enable } => {
            format!("return {host} to service (enable={enable})")
        }
        Command::ScheduleTimer { at, token } => format!("timer {token} at {at}"),
        Command::RaiseAlert(a) => format!("alert {:?}", a.kind),
        Command::RecoveryFinished(s) => format!("recovery finished {}", s.id),
    }
}

/// One line for an event in the event log.
fn brief_event(ev: &Event) -> String {
    match ev {
        Event::PowerStateRead { host, result } => format!("power of {host}: {result:?}"),
        Event::FenceAttempted {
            host,
            attempt,
            result,
        } => format!("fence {host} attempt {attempt}: {result:?}"),
        Event::HostMarkedDown { host, result } => format!("{host} marked down: {result:?}"),
        Event::EvacuationAccepted {
            instance, target, ..
        } => format!("evacuation of {instance} to {target} accepted"),
        Event::EvacuationRejected {
            instance,
            target,
            error,
            ..
        } => format!("evacuation of {instance} to {target} rejected: {error}"),
        Event::InstanceObserved(o) => format!(
            "{} observed on {:?} {:?} migration {:?}",
            o.instance,
            o.host.as_ref().map(|h| h.to_string()),
            o.vm_state,
            o.migration
        ),
        other => {
            let s = format!("{other:?}");
            if s.len() > 160 {
                let cut: String = s.chars().take(160).collect();
                format!("{cut}...")
            } else {
                s
            }
        }
    }
}
