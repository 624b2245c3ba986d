//! The runtime side of the controller: each engine command executed (a persist is
//! durable before anything after it), and each evacuation recorded for the invariants.

use lazarus_core::alert::Severity;
use lazarus_core::engine::{Record, RecordKey};
use lazarus_core::event::EvacuationError;
use lazarus_core::workflow::InstanceStep;
use lazarus_core::{Command, Event, HostName, InstanceId};

use super::brief::brief_command;
use super::call::Call;
use super::happening::Happening;
use super::Sim;
use crate::history::{EvacuationCommand, PriorEvacuation, SourceTruth};
use crate::invariants;
use crate::world::MigrationStatus;

impl Sim<'_> {
    /// Executes commands in order; a `Persist` is durable before anything after it.
    pub(super) fn execute(&mut self, cmds: Vec<Command>) {
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

    /// What the invariants need to judge one evacuation command: the record written
    /// before it, the truth about its source host, and the instance's last migration.
    pub(super) fn evacuation_record(
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
}
