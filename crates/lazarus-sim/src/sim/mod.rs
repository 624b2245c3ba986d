//! One simulation run: the event loop that drives the world, the faults and the
//! controller (the real [`lazarus_core::Engine`]) from one seed, checking invariants
//! after each step.
//!
//! [`Sim`] is defined here with its set-up and run loop; each concern extends it in its
//! own file: the hosts and their agents (`hosts`), the operator and host monitors
//! (`people`), faults and heals (`fault_injection`), the controller's life and what
//! reaches it (`controller`), the commands it executes (`commands`), its requests in
//! flight (`call`) and their answers from the BMCs (`bmc_api`) and Nova (`nova_api`).

mod bmc_api;
mod brief;
mod call;
mod commands;
mod controller;
mod fault_injection;
mod happening;
mod hosts;
mod nova_api;
mod people;

use lazarus_core::event::InstanceFailure;
use lazarus_core::model::Cluster;
use lazarus_core::workflow::Phase;
use lazarus_core::{Event, HostName, InstanceId, Timestamp};

use crate::config::SimConfig;
use crate::faults::FaultPlan;
use crate::history::History;
use crate::invariants::{self, Violation};
use crate::log::EventLog;
use crate::outcome::{SimOutcome, Stats};
use crate::queue::EventQueue;
use crate::rng::SimRng;
use crate::scenario;
use crate::world::{MigrationStatus, Node, World, REPORT_INTERVAL_MS};

use controller::{Controller, NOVA_POLL_MS};
use happening::Happening;
use hosts::HEARTBEAT_MS;
use people::MONITOR_INTERVAL_MS;

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

    /// The heal phase can end: nothing happened for a while, every host is up, every
    /// recovery is closed and no evacuation is in flight.
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

    /// The virtual time.
    fn now(&self) -> Timestamp {
        self.queue.now()
    }

    /// The name of host `h`.
    fn name(&self, h: usize) -> HostName {
        self.world
            .host_name(h)
            .cloned()
            .unwrap_or_else(|| HostName::new(format!("#{h}")))
    }

    /// Handles one happening popped off the queue.
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
            Happening::Heartbeat(epoch, sent_ms, hb, reboot) => {
                let live = epoch == self.controller.epoch && self.controller.engine.is_some();
                let host = hb.host.clone();
                if live {
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
                // The reboot report rides on the heartbeat and is taken (acknowledged)
                // with it; the engine sees it after the heartbeat, as the ledger orders.
                if let Some(guests) = reboot {
                    if live {
                        if let Some(x) = self
                            .world
                            .host_index(&host)
                            .and_then(|h| self.world.hosts.get_mut(h))
                        {
                            if x.reboot_report.as_ref() == Some(&guests) {
                                x.reboot_report = None;
                            }
                        }
                    }
                    self.deliver(
                        epoch,
                        Event::HostRebooted {
                            host,
                            guests_running_before: guests,
                        },
                    );
                }
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
}
