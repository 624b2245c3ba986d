//! The engine: events and the current time in, commands out.
//!
//! [`Engine`] owns the cluster model, the detector, every recovery under way and the
//! instance and process monitors. It never does I/O and never reads a clock: the
//! runtime calls [`Engine::resume`] once with the persisted records (none on a fresh
//! start), then [`Engine::handle`] for every event, and executes the returned commands
//! in order.

mod record;
mod signals;
mod timer;

pub use record::{ProcessDisableRecord, Record, RecordKey};
pub use timer::TimerToken;
pub(crate) use timer::{TimerPurpose, Timers};

use std::collections::{BTreeMap, BTreeSet};

use crate::detector::{Detector, HostHealth};
use crate::event::{Event, NovaService};
use crate::instance_failure::InstanceMonitor;
use crate::model::Cluster;
use crate::policy::EngineConfig;
use crate::process_failure::ProcessMonitor;
use crate::workflow::{Recovery, RecoveryRecord, RestartCheck};
use crate::{Command, HostName, InstanceId, Timestamp};

/// The decision engine.
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) cluster: Cluster,
    pub(crate) detector: Detector,
    pub(crate) recoveries: BTreeMap<HostName, Recovery>,
    pub(crate) timers: Timers,
    /// Instances checked after their host came back, to restart them in place if its
    /// failure shut them off (or report them, when that cannot be told).
    pub(crate) restart_checks: BTreeMap<InstanceId, RestartCheck>,
    /// Hosts judged failed in a disabled segment, already alerted about.
    pub(crate) not_recovered: BTreeSet<HostName>,
    /// Nova's latest view of each compute service.
    pub(crate) nova: BTreeMap<HostName, NovaService>,
    pub(crate) instances: InstanceMonitor,
    pub(crate) processes: ProcessMonitor,
    /// When each detector-started fence began, for the fence cap.
    pub(crate) fence_starts: Vec<Timestamp>,
    /// The fence cap is holding hosts back (alerted once until it clears).
    pub(crate) fence_cap_alerted: bool,
    pub(crate) started: bool,
}

impl Engine {
    /// An engine for `cluster`. Call [`Engine::resume`] once before anything else.
    pub fn new(config: EngineConfig, cluster: Cluster) -> Self {
        let detector = Detector::new(config.detector.clone(), config.storm.clone(), &cluster);
        Self {
            instances: InstanceMonitor::new(config.vm_monitoring.clone()),
            processes: ProcessMonitor::new(config.process.clone()),
            config,
            cluster,
            detector,
            recoveries: BTreeMap::new(),
            timers: Timers::default(),
            nova: BTreeMap::new(),
            restart_checks: BTreeMap::new(),
            not_recovered: BTreeSet::new(),
            fence_starts: Vec::new(),
            fence_cap_alerted: false,
            started: false,
        }
    }

    /// Starts the engine from the persisted records (none on a fresh start): schedules
    /// the detector tick and continues every recovery from its last persisted step.
    /// Instances whose evacuation was requested but whose result is unknown are
    /// checked first, never re-requested blindly. Records are taken in order; a later
    /// record replaces an earlier one with the same key.
    pub fn resume(
        &mut self,
        now: Timestamp,
        records: impl IntoIterator<Item = Record>,
    ) -> Vec<Command> {
        let mut out = Vec::new();
        self.timers.start_at(now);
        self.detector.mark_blind(now);
        let mut latest: BTreeMap<RecordKey, Record> = BTreeMap::new();
        for r in records {
            latest.insert(r.key(), r);
        }
        if !self.started {
            self.started = true;
            self.schedule_tick(now, &mut out);
        }
        for record in latest.into_values() {
            match record {
                Record::Recovery(r) => self.resume_recovery(now, r, &mut out),
                Record::ProcessDisable(p) => self.resume_process_disable(now, p, &mut out),
            }
        }
        out
    }

    /// Declares the hosts known to run an agent (from the runtime's agent registry or
    /// configuration). Call it after [`Engine::resume`] on a new controller: the
    /// detector only judges hosts it has heard, so without this a host that died
    /// while no controller was watching would never be judged by heartbeats (it would
    /// look like a host without an agent). Each is treated as heard at `now`.
    pub fn expect_agents(&mut self, now: Timestamp, hosts: impl IntoIterator<Item = HostName>) {
        for h in hosts {
            self.detector.expect_agent(now, &h);
        }
    }

    /// Handles one event at time `now` and returns the commands to execute, in order.
    pub fn handle(&mut self, now: Timestamp, event: Event) -> Vec<Command> {
        let mut out = Vec::new();
        self.dispatch(now, event, &mut out);
        out
    }

    /// Like [`Engine::handle`], appending to a caller's buffer.
    pub fn handle_into(&mut self, now: Timestamp, event: Event, out: &mut Vec<Command>) {
        self.dispatch(now, event, out);
    }

    /// The cluster model as the engine knows it.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The cluster model, for the runtime's inventory syncs (new hosts, instances,
    /// flags). Call [`Engine::cluster_changed`] after adding hosts.
    pub fn cluster_mut(&mut self) -> &mut Cluster {
        &mut self.cluster
    }

    /// Tells the detector about hosts added or changed in the cluster.
    pub fn cluster_changed(&mut self) {
        self.detector.sync_hosts(&self.cluster);
    }

    /// The detector's verdict on a host.
    pub fn host_health(&self, host: &HostName) -> Option<HostHealth> {
        self.detector.health(host)
    }

    /// Whether the storm guard holds judgement back.
    pub fn storm_engaged(&self) -> bool {
        self.detector.storm_engaged()
    }

    /// The record of a host's recovery under way, if any.
    pub fn recovery(&self, host: &HostName) -> Option<&RecoveryRecord> {
        self.recoveries.get(host).map(|r| &r.record)
    }

    /// Every recovery under way.
    pub fn recoveries(&self) -> impl Iterator<Item = &RecoveryRecord> {
        self.recoveries.values().map(|r| &r.record)
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Number of timers the engine waits for (for metrics and leak checks).
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    pub(crate) fn schedule(
        &mut self,
        at: Timestamp,
        purpose: TimerPurpose,
        out: &mut Vec<Command>,
    ) {
        let token = self.timers.add(purpose);
        out.push(Command::ScheduleTimer { at, token });
    }

    fn schedule_tick(&mut self, now: Timestamp, out: &mut Vec<Command>) {
        let at = now.saturating_add(self.config.detector.tick_interval);
        self.schedule(at, TimerPurpose::DetectorTick, out);
    }

    fn dispatch(&mut self, now: Timestamp, event: Event, out: &mut Vec<Command>) {
        match event {
            Event::HeartbeatReceived(hb) => self.on_heartbeat(now, hb, out),
            Event::NovaServiceObserved(s) => self.on_nova_service(now, s, out),
            Event::PowerStateRead { host, result } => self.on_power_read(now, host, result, out),
            Event::FenceAttempted {
                host,
                attempt,
                result,
            } => self.on_fence_attempted(now, host, attempt, result, out),
            Event::HostMarkedDown { host, result } => self.on_marked_down(now, host, result, out),
            Event::EvacuationAccepted {
                instance,
                target,
                attempt,
            } => self.on_evacuation_accepted(now, instance, target, attempt, out),
            Event::EvacuationRejected {
                instance,
                target,
                attempt,
                error,
            } => self.on_evacuation_rejected(now, instance, target, attempt, error, out),
            Event::InstanceObserved(o) => self.on_instance_observed(now, o, out),
            Event::InstanceFailed { instance, kind } => {
                self.on_instance_failed(now, instance, kind, out)
            }
            Event::InstanceResetDone { instance, result } => {
                self.on_instance_reset_done(now, instance, result, out)
            }
            Event::ProcessDown { host, process } => self.on_process_down(now, host, process, out),
            Event::ProcessUp { host, process } => self.on_process_up(now, host, process, out),
            Event::ProcessRestartFailed {
                host,
                process,
                error,
            } => self.on_process_restart_failed(now, host, process, error, out),
            Event::HostDisabled { host, result } => self.on_host_disabled(now, host, result, out),
            Event::HostEnabled { host, result } => self.on_host_enabled(now, host, result, out),
            Event::HostReturnedToService { host, result } => {
                self.on_returned_to_service(now, host, result, out)
            }
            Event::HostReturned { host } => self.on_host_returned(now, host, out),
            Event::HostRebooted {
                host,
                guests_running_before,
            } => self.on_host_rebooted(now, host, guests_running_before, out),
            Event::MonitorNotified(n) => self.on_notification(now, n, out),
            Event::OperatorConfirmedFenced { host, operator } => {
                self.on_operator_confirmed_fenced(now, host, operator, out)
            }
            Event::OperatorRequestedRecovery { host, operator } => {
                self.on_operator_requested_recovery(now, host, operator, out)
            }
            Event::OperatorRequestedReturn { host, operator } => {
                self.on_operator_requested_return(now, host, operator, out)
            }
            Event::TimerFired(token) => self.on_timer(now, token, out),
        }
    }
}
