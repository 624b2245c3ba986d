//! Verification: checks of instances under recovery and what their observations mean
//! (recovered, still in progress, failed, or a request of unknown fate), and keeping
//! the model in line with Nova for the others.

use super::{ExpectedState, InstanceStep, Phase, RestartCheck, Unknown};
use crate::alert::{Alert, AlertKind, Severity};
use crate::command::ResetMethod;
use crate::engine::Engine;
use crate::event::InstanceObservation;
use crate::model::VmState;
use crate::{Command, HostName, InstanceId, Timestamp};

impl Engine {
    /// Timer: check an instance under recovery.
    pub(crate) fn on_check_timer(
        &mut self,
        now: Timestamp,
        host: &HostName,
        instance: &InstanceId,
        out: &mut Vec<Command>,
    ) {
        if self.restart_checks.get(instance).is_some_and(|c| {
            &c.host == host && (c.without_recovery || self.recoveries.contains_key(host))
        }) {
            // A restart check not answered yet: ask again (a returning recovery waits
            // for every answer before it closes).
            out.push(Command::CheckInstance {
                instance: instance.clone(),
            });
            let at = now.saturating_add(self.config.workflow.verify_poll_interval);
            self.schedule_check(at, host, instance, out);
            return;
        }
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        let unsettled = r.record.instances.get(instance).is_some_and(|i| {
            matches!(
                i.step,
                InstanceStep::Requested { .. } | InstanceStep::Accepted { .. }
            )
        });
        if unsettled && r.record.phase == Phase::Evacuating {
            r.check_sent(instance);
            out.push(Command::CheckInstance {
                instance: instance.clone(),
            });
            // A read that gets no answer (5xx, timeout) is asked again: the next
            // observation replaces this timer with its own poll.
            let at = now.saturating_add(self.config.workflow.verify_poll_interval);
            self.schedule_check(at, host, instance, out);
        }
    }

    /// An instance was observed in Nova: verify it if it is under recovery, otherwise
    /// update the model.
    pub(crate) fn on_instance_observed(
        &mut self,
        now: Timestamp,
        o: InstanceObservation,
        out: &mut Vec<Command>,
    ) {
        if let Some(check) = self.restart_checks.remove(&o.instance) {
            // A reboot check of a host that has had a recovery since: that
            // recovery's rules decide, not the check.
            let superseded = check.without_recovery && self.recoveries.contains_key(&check.host);
            if !superseded {
                self.restart_if_shut_off(&check, &o, out);
            }
            self.close_if_back(now, &check.host, out);
        }
        let Some(host) = self.recovery_of(&o.instance) else {
            self.sync_instance(&o);
            return;
        };
        let Some((step, expected)) = self
            .recoveries
            .get(&host)
            .and_then(|r| r.record.instances.get(&o.instance))
            .map(|i| (i.step.clone(), i.expected))
        else {
            return;
        };
        let (target, attempt, requested_only) = match step {
            InstanceStep::Requested { target, attempt } => (target, attempt, true),
            InstanceStep::Accepted { target, attempt } => (target, attempt, false),
            InstanceStep::Planned { .. }
            | InstanceStep::Recovered { .. }
            | InstanceStep::GivenUp { .. } => {
                return;
            }
        };
        let stale = self
            .recoveries
            .get_mut(&host)
            .is_some_and(|r| r.answer_is_stale(&o.instance));
        if stale {
            // It was read before the latest request was sent: it cannot tell its fate.
            let at = now.saturating_add(self.config.workflow.verify_poll_interval);
            self.schedule_check(at, &host, &o.instance, out);
            return;
        }
        let unknown = self
            .recoveries
            .get_mut(&host)
            .and_then(|r| r.unknown.remove(&o.instance));
        let verify_timeout = self.recovery_policy(&host).verify_timeout;
        let started = self
            .recoveries
            .get(&host)
            .and_then(|r| r.accepted_at.get(&o.instance).copied())
            .unwrap_or(now);
        let timed_out = now.saturating_since(started) >= verify_timeout;
        let poll = now.saturating_add(self.config.workflow.verify_poll_interval);
        let in_progress = o.migration.is_some_and(|m| m.in_progress()) || o.task_state.is_some();
        let migration_failed = o
            .migration
            .is_some_and(|m| !m.in_progress() && !m.succeeded());
        let expected_state = match expected {
            ExpectedState::Active => VmState::Active,
            ExpectedState::Stopped => VmState::Stopped,
        };
        match &o.host {
            None => {
                self.set_step(
                    &host,
                    &o.instance,
                    InstanceStep::GivenUp {
                        reason: "the instance no longer exists".to_owned(),
                    },
                );
                self.cluster.remove_instance(&o.instance);
                self.persist(now, &host, out);
                self.dispatch_wave(now, &host, out);
            }
            Some(on) if on != &host => {
                let migration_ok = o.migration.is_none_or(|m| m.succeeded());
                // A server expected STOPPED may come up ACTIVE (Nova starts an
                // evacuated server that was in ERROR): running is recovered too.
                let state_ok = o.vm_state == expected_state
                    || (expected_state == VmState::Stopped && o.vm_state == VmState::Active);
                if state_ok && migration_ok && o.task_state.is_none() {
                    let on = on.clone();
                    self.set_step(
                        &host,
                        &o.instance,
                        InstanceStep::Recovered { host: on.clone() },
                    );
                    if let Some(i) = self.cluster.instance_mut(&o.instance) {
                        i.vm_state = o.vm_state;
                    }
                    let _ = self.cluster.move_instance(&o.instance, &on);
                    if let Some(r) = self.recoveries.get_mut(&host) {
                        r.accepted_at.remove(&o.instance);
                    }
                    self.persist(now, &host, out);
                    self.dispatch_wave(now, &host, out);
                } else if o.vm_state == VmState::Error && !in_progress {
                    self.give_up(
                        now,
                        &host,
                        &o.instance,
                        format!("ended in ERROR on {on}"),
                        out,
                    );
                } else if timed_out {
                    self.give_up(
                        now,
                        &host,
                        &o.instance,
                        format!(
                            "not verified within {} s on {on} (vm_state {:?})",
                            verify_timeout.as_secs(),
                            o.vm_state
                        ),
                        out,
                    );
                } else {
                    if requested_only {
                        self.set_step(
                            &host,
                            &o.instance,
                            InstanceStep::Accepted { target, attempt },
                        );
                        self.persist(now, &host, out);
                    }
                    self.schedule_check(poll, &host, &o.instance, out);
                }
            }
            Some(_) => {
                // Still on the failed host.
                if in_progress {
                    if timed_out {
                        self.give_up(
                            now,
                            &host,
                            &o.instance,
                            format!(
                                "evacuation still in progress after {} s",
                                verify_timeout.as_secs()
                            ),
                            out,
                        );
                    } else {
                        if requested_only {
                            self.set_step(
                                &host,
                                &o.instance,
                                InstanceStep::Accepted { target, attempt },
                            );
                            self.persist(now, &host, out);
                        }
                        self.schedule_check(poll, &host, &o.instance, out);
                    }
                } else if migration_failed && !requested_only {
                    self.attempt_failed(
                        now,
                        &host,
                        &o.instance,
                        format!(
                            "evacuation to {target} failed in Nova (migration {:?})",
                            o.migration
                        ),
                        out,
                    );
                } else if requested_only {
                    // No evacuation of this request in progress (a failed record may
                    // be an older attempt's): what to do depends on why it is checked.
                    match unknown {
                        Some(Unknown::CheckThenResend) => {
                            // The request never reached Nova: send it again, once
                            // (the record already says Requested).
                            if let Some(r) = self.recoveries.get_mut(&host) {
                                r.unknown.insert(o.instance.clone(), Unknown::Resent);
                                r.request_sent(&o.instance);
                            }
                            out.push(Command::EvacuateInstance {
                                instance: o.instance.clone(),
                                from: host.clone(),
                                to: target,
                                attempt,
                            });
                        }
                        Some(Unknown::CheckThenFail(reason)) => {
                            self.attempt_failed(now, &host, &o.instance, reason, out);
                        }
                        Some(Unknown::Resent) | None => {
                            // A request is on its way: its answer decides.
                            if let (Some(Unknown::Resent), Some(r)) =
                                (unknown, self.recoveries.get_mut(&host))
                            {
                                r.unknown.insert(o.instance.clone(), Unknown::Resent);
                            }
                            if timed_out {
                                self.give_up(
                                    now,
                                    &host,
                                    &o.instance,
                                    "no answer to its evacuation request".to_owned(),
                                    out,
                                );
                            } else {
                                self.schedule_check(poll, &host, &o.instance, out);
                            }
                        }
                    }
                } else if timed_out {
                    self.give_up(
                        now,
                        &host,
                        &o.instance,
                        "accepted by Nova but never started".to_owned(),
                        out,
                    );
                } else {
                    self.schedule_check(poll, &host, &o.instance, out);
                }
            }
        }
    }

    fn give_up(
        &mut self,
        now: Timestamp,
        host: &HostName,
        instance: &InstanceId,
        reason: String,
        out: &mut Vec<Command>,
    ) {
        let alert = Alert::instance(
            Severity::Error,
            AlertKind::InstanceNotRecovered,
            instance,
            Some(host),
            format!("instance {instance} of failed host {host} is not recovered: {reason}"),
        );
        self.set_step(host, instance, InstanceStep::GivenUp { reason });
        if let Some(r) = self.recoveries.get_mut(host) {
            r.accepted_at.remove(instance);
        }
        self.persist(now, host, out);
        out.push(Command::RaiseAlert(alert));
        self.dispatch_wave(now, host, out);
    }

    /// An instance left on a host that came back: restart it if the failure shut it
    /// off (it was running before, per the model).
    fn restart_if_shut_off(
        &mut self,
        check: &RestartCheck,
        o: &InstanceObservation,
        out: &mut Vec<Command>,
    ) {
        let host = &check.host;
        let protected = self
            .cluster
            .instance(&o.instance)
            .is_some_and(|i| i.is_protected());
        let shut_off = matches!(o.vm_state, VmState::Stopped | VmState::Error);
        if !(protected && shut_off && o.host.as_ref() == Some(host) && o.task_state.is_none()) {
            return;
        }
        if check.ran_before {
            out.push(Command::ResetInstance {
                instance: o.instance.clone(),
                host: host.clone(),
                method: ResetMethod::HardReboot,
                reason: format!(
                    "{host} came back after a failure with this instance shut off ({:?}); started in place",
                    o.vm_state
                ),
            });
        } else {
            out.push(Command::RaiseAlert(Alert::instance(
                Severity::Error,
                AlertKind::InstanceNotRecovered,
                &o.instance,
                Some(host),
                format!(
                    "instance {} is shut off ({:?}) on {host}, which came back after a failure; \
                     the controller restarted before the recovery recorded whether it was running, \
                     so it was not started: start it if it should run",
                    o.instance, o.vm_state
                ),
            )));
        }
    }

    /// Keeps the model in line with Nova for an instance not under recovery. The state
    /// of instances on a host under recovery is not taken (the failure makes it
    /// meaningless, and a restart in place needs what it was before).
    fn sync_instance(&mut self, o: &InstanceObservation) {
        match &o.host {
            None => {
                self.cluster.remove_instance(&o.instance);
            }
            Some(h) => {
                let moved = self
                    .cluster
                    .instance(&o.instance)
                    .is_some_and(|i| &i.host != h);
                if moved {
                    let _ = self.cluster.move_instance(&o.instance, h);
                }
                if self.recoveries.contains_key(h) {
                    return;
                }
                if let Some(i) = self.cluster.instance_mut(&o.instance) {
                    i.vm_state = o.vm_state;
                }
            }
        }
    }
}
