//! Faults start and heal: what each does to the world, and the final heal-all.

use lazarus_core::event::{InstanceFailure, InstanceFailureKind};
use lazarus_core::model::VmState;

use super::happening::{Happening, Heal};
use super::Sim;
use crate::faults::Fault;
use crate::world::{GuestState, PartitionKind};

impl Sim<'_> {
    /// A fault starts; a timed one schedules its heal.
    pub(super) fn inject(&mut self, fault: Fault) {
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

    /// A timed fault ends (unless the heal-all came first).
    pub(super) fn heal(&mut self, heal: Heal) {
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
    pub(super) fn heal_all(&mut self) {
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
}
