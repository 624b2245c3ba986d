//! The simulated Nova API as the controller sees it: each call through a transport
//! that may fail (5xx, timeouts) while a Nova fault lasts.

use lazarus_core::event::{
    EvacuationError, InstanceObservation, MigrationStatus as CoreMigration, NovaError,
};
use lazarus_core::model::VmState;
use lazarus_core::{Event, InstanceId};

use super::call::Call;
use super::happening::Happening;
use super::Sim;
use crate::world::{MigrationStatus, NovaRefusal, World};

/// How long the controller waits for Nova before calling it a timeout.
const NOVA_TIMEOUT_MS: u64 = 30_000;

impl Sim<'_> {
    /// One migration, for the event log.
    pub(super) fn migration_desc(&self, mid: usize) -> String {
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

    /// Forces the compute service down and disables it.
    pub(super) fn nova_mark_down(&mut self, epoch: u64, host: usize, reason: String) {
        let name = self.name(host);
        let (d, result) = self.nova_call(|w| w.nova.mark_down(host, &reason).map_err(nova_error));
        self.reply(epoch, d, Event::HostMarkedDown { host: name, result });
    }

    /// An evacuation request: accepted (then claimed and finished later) or refused.
    pub(super) fn nova_evacuate(
        &mut self,
        epoch: u64,
        now: u64,
        instance: InstanceId,
        to: usize,
        attempt: u32,
    ) {
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

    /// A read of one server and its last migration.
    pub(super) fn nova_check(&mut self, epoch: u64, instance: InstanceId) {
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

    /// A hard reboot of a server in place.
    pub(super) fn nova_reset(&mut self, epoch: u64, now: u64, instance: InstanceId) {
        let (d, result) = self.nova_call(|w| w.reset_instance(&instance).map_err(nova_error));
        if result.is_ok() {
            self.log
                .push(now, format!("nova: {instance} hard-rebooted"));
            self.stats.resets += 1;
        }
        self.reply(epoch, d, Event::InstanceResetDone { instance, result });
    }

    /// Disables a compute service.
    pub(super) fn nova_disable(&mut self, epoch: u64, host: usize, reason: String) {
        let name = self.name(host);
        let (d, result) = self.nova_call(|w| w.nova.disable(host, &reason).map_err(nova_error));
        self.reply(epoch, d, Event::HostDisabled { host: name, result });
    }

    /// Enables a compute service.
    pub(super) fn nova_enable(&mut self, epoch: u64, host: usize) {
        let name = self.name(host);
        let (d, result) = self.nova_call(|w| w.nova.enable(host).map_err(nova_error));
        self.reply(epoch, d, Event::HostEnabled { host: name, result });
    }

    /// Lifts forced_down, and enables the service if asked.
    pub(super) fn nova_return(&mut self, epoch: u64, now: u64, host: usize, enable: bool) {
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

/// Nova's refusal as the engine's error for a non-evacuation call.
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

/// Nova's refusal of an evacuation as the engine's error.
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

/// The simulated migration status as the engine's.
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
