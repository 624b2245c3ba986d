//! A fake world that executes the engine's commands like the runtime would, against
//! a fake Nova and fake BMCs, with a store, an event queue and a timer queue.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use lazarus_core::command::Command;
use lazarus_core::engine::Engine;
use lazarus_core::event::{
    EvacuationError, Event, InstanceObservation, MigrationStatus, NovaError, PowerState,
};
use lazarus_core::model::{Cluster, VmState};
use lazarus_core::policy::EngineConfig;
use lazarus_core::{HostName, InstanceId, Record, RecordKey, TimerToken, Timestamp};

/// One fake instance in Nova.
#[derive(Debug, Clone)]
pub struct NovaInstance {
    pub host: HostName,
    pub vm_state: VmState,
    pub migration: Option<MigrationStatus>,
}

/// Nova, BMCs, a store, and the runtime's queues.
#[derive(Debug)]
pub struct World {
    pub now: Timestamp,
    pub power: BTreeMap<HostName, PowerState>,
    pub forced_down: BTreeSet<HostName>,
    pub disabled: BTreeMap<HostName, String>,
    pub instances: BTreeMap<InstanceId, NovaInstance>,
    /// Evacuations Nova carried out, per instance.
    pub evacuated: BTreeMap<InstanceId, u32>,
    /// Evacuations Nova rejected, per instance.
    pub rejected: BTreeMap<InstanceId, u32>,
    /// Targets whose claim fails (the migration ends `failed`).
    pub failing_targets: BTreeSet<HostName>,
    pub store: BTreeMap<RecordKey, Record>,
    pub queue: VecDeque<Event>,
    pub timers: BTreeMap<(Timestamp, TimerToken), ()>,
    /// Every command executed, in order, with the time it was executed.
    pub log: Vec<(Timestamp, Command)>,
    /// BMCs that accept a power-off but never turn the host off.
    pub stuck_bmcs: BTreeSet<HostName>,
    /// Persists executed so far.
    pub persists: usize,
    /// Crash after this many persists: the rest of that batch, the queue and the
    /// timers are lost.
    pub crash_after: Option<usize>,
    pub crashed: bool,
}

impl World {
    pub fn new(cluster: &Cluster) -> Self {
        let mut instances = BTreeMap::new();
        for i in cluster.instances() {
            instances.insert(
                i.id.clone(),
                NovaInstance {
                    host: i.host.clone(),
                    vm_state: i.vm_state,
                    migration: None,
                },
            );
        }
        Self {
            now: Timestamp::from_millis(0),
            power: cluster
                .hosts()
                .map(|h| (h.name.clone(), PowerState::On))
                .collect(),
            forced_down: BTreeSet::new(),
            disabled: BTreeMap::new(),
            instances,
            evacuated: BTreeMap::new(),
            rejected: BTreeMap::new(),
            failing_targets: BTreeSet::new(),
            store: BTreeMap::new(),
            queue: VecDeque::new(),
            timers: BTreeMap::new(),
            log: Vec::new(),
            stuck_bmcs: BTreeSet::new(),
            persists: 0,
            crash_after: None,
            crashed: false,
        }
    }

    /// Executes a batch, in order, as the runtime does.
    pub fn execute(&mut self, cmds: Vec<Command>) {
        for c in cmds {
            if self.crashed {
                return;
            }
            self.log.push((self.now, c.clone()));
            match c {
                Command::Persist(r) => {
                    self.store.insert(r.key(), r);
                    self.persists += 1;
                    if self.crash_after == Some(self.persists) {
                        self.crashed = true;
                        self.queue.clear();
                        self.timers.clear();
                        return;
                    }
                }
                Command::FenceHost { host, attempt, .. } => {
                    if !self.stuck_bmcs.contains(&host) {
                        self.power.insert(host.clone(), PowerState::Off);
                    }
                    self.queue.push_back(Event::FenceAttempted {
                        host,
                        attempt,
                        result: Ok(()),
                    });
                }
                Command::ReadPowerState { host } => {
                    let p = self
                        .power
                        .get(&host)
                        .copied()
                        .unwrap_or(PowerState::Unknown);
                    self.queue.push_back(Event::PowerStateRead {
                        host,
                        result: Ok(p),
                    });
                }
                Command::MarkHostDown { host, reason } => {
                    self.forced_down.insert(host.clone());
                    self.disabled.insert(host.clone(), reason);
                    self.queue.push_back(Event::HostMarkedDown {
                        host,
                        result: Ok(()),
                    });
                }
                Command::EvacuateInstance {
                    instance,
                    from,
                    to,
                    attempt,
                } => {
                    if !self.forced_down.contains(&from) {
                        *self.rejected.entry(instance.clone()).or_default() += 1;
                        self.queue.push_back(Event::EvacuationRejected {
                            instance,
                            target: to,
                            attempt,
                            error: EvacuationError::ComputeServiceInUse,
                        });
                        continue;
                    }
                    *self.evacuated.entry(instance.clone()).or_default() += 1;
                    let failing = self.failing_targets.contains(&to);
                    if let Some(n) = self.instances.get_mut(&instance) {
                        if failing {
                            n.migration = Some(MigrationStatus::Failed);
                            n.vm_state = VmState::Error;
                        } else {
                            n.host = to.clone();
                            n.migration = Some(MigrationStatus::Done);
                            if n.vm_state == VmState::Error {
                                n.vm_state = VmState::Active;
                            }
                        }
                    }
                    self.queue.push_back(Event::EvacuationAccepted {
                        instance,
                        target: to,
                        attempt,
                    });
                }
                Command::CheckInstance { instance } => {
                    let o = match self.instances.get(&instance) {
                        Some(n) => InstanceObservation {
                            instance,
                            host: Some(n.host.clone()),
                            vm_state: n.vm_state,
                            task_state: None,
                            migration: n.migration,
                        },
                        None => InstanceObservation {
                            instance,
                            host: None,
                            vm_state: VmState::Other,
                            task_state: None,
                            migration: None,
                        },
                    };
                    self.queue.push_back(Event::InstanceObserved(o));
                }
                Command::ReturnHostToService { host, enable } => {
                    if self.power.get(&host) == Some(&PowerState::Off) {
                        self.queue.push_back(Event::HostReturnedToService {
                            host,
                            result: Err(NovaError::BadRequest("evacuations not completed".into())),
                        });
                    } else {
                        self.forced_down.remove(&host);
                        if enable {
                            self.disabled.remove(&host);
                        }
                        self.queue.push_back(Event::HostReturnedToService {
                            host,
                            result: Ok(()),
                        });
                    }
                }
                Command::ScheduleTimer { at, token } => {
                    self.timers.insert((at, token), ());
                }
                Command::ResetInstance { .. }
                | Command::RestartProcess { .. }
                | Command::DisableHost { .. }
                | Command::EnableHost { .. }
                | Command::RaiseAlert(_)
                | Command::RecoveryFinished(_) => {}
            }
        }
    }

    /// Feeds one event to the engine and executes what it returns.
    pub fn feed(&mut self, engine: &mut Engine, event: Event) {
        let cmds = engine.handle(self.now, event);
        self.execute(cmds);
    }

    /// Runs until nothing is queued and no timer is due before `until` (detector
    /// ticks keep coming, so a deadline bounds the run), or until a crash.
    pub fn run(&mut self, engine: &mut Engine, until: Timestamp) {
        loop {
            if self.crashed {
                return;
            }
            if let Some(ev) = self.queue.pop_front() {
                self.feed(engine, ev);
                continue;
            }
            let Some((&(at, token), _)) = self.timers.iter().next() else {
                return;
            };
            if at > until {
                return;
            }
            self.timers.remove(&(at, token));
            self.now = self.now.max(at);
            self.feed(engine, Event::TimerFired(token));
        }
    }

    /// Feeds an event and runs everything it leads to up to `until`.
    pub fn feed_and_run(&mut self, engine: &mut Engine, event: Event, until: Timestamp) {
        self.feed(engine, event);
        self.run(engine, until);
    }

    /// Runs up to `t` and sets the clock to `t`.
    pub fn advance_to(&mut self, engine: &mut Engine, t: Timestamp) {
        self.run(engine, t);
        self.now = self.now.max(t);
    }

    /// The commands executed, without their times.
    pub fn commands(&self) -> Vec<Command> {
        self.log.iter().map(|(_, c)| c.clone()).collect()
    }

    /// The cluster as Nova now has it (instances where Nova says they are), for a
    /// restarted controller.
    pub fn cluster_now(&self, original: &Cluster) -> Cluster {
        let mut c = original.clone();
        for (id, n) in &self.instances {
            let _ = c.move_instance(id, &n.host);
        }
        c
    }

    /// A new engine after a crash: built from scratch and resumed from the store.
    pub fn restart(&mut self, config: EngineConfig, cluster: Cluster) -> Engine {
        self.crashed = false;
        self.crash_after = None;
        let mut e = Engine::new(config, cluster);
        let records: Vec<Record> = self.store.values().cloned().collect();
        let cmds = e.resume(self.now, records);
        self.execute(cmds);
        e
    }
}
