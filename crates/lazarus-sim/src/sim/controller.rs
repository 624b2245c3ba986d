//! The controller: the real engine, its durable store, crashes and restarts, and what
//! reaches it (events, Nova polls).

use lazarus_core::engine::{Engine, Record, RecordKey};
use lazarus_core::event::NovaService as CoreService;
use lazarus_core::model::Cluster;
use lazarus_core::workflow::{FenceConfirmation, Phase};
use lazarus_core::Event;

use super::brief::brief_event;
use super::happening::Happening;
use super::Sim;

/// How often the controller reads Nova's service list.
pub(super) const NOVA_POLL_MS: u64 = 10_000;

/// The controller: the real engine, its durable store and its incarnation number.
#[derive(Debug)]
pub(super) struct Controller {
    pub(super) engine: Option<Engine>,
    pub(super) epoch: u64,
    pub(super) store: std::collections::BTreeMap<RecordKey, Record>,
    /// Writes still let through before an armed crash.
    pub(super) crash_after: Option<u32>,
    pub(super) down_ms: u64,
    /// Controllers started so far.
    pub(super) starts: u32,
}

impl Sim<'_> {
    /// The model a new controller starts from: the initial cluster, with instances
    /// where Nova now has them, in the state Nova now shows, and Nova's usage.
    pub(super) fn cluster_from_nova(&self) -> Cluster {
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

    /// A controller (re)starts: a new engine resumes from the store and hears every agent.
    pub(super) fn start_controller(&mut self) {
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

    /// The controller dies: its engine and everything in flight to it are lost; a new
    /// one starts after `down_ms`.
    pub(super) fn crash_controller(&mut self, why: &str) {
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

    /// An event reaches the controller incarnation `epoch` (lost if that one is gone).
    pub(super) fn deliver(&mut self, epoch: u64, event: Event) {
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

    /// The controller reads Nova's services, and derives a host's return from them.
    pub(super) fn nova_poll(&mut self) {
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
}
