//! Evacuation results and verification: accepted, rejected, observed; retries
//! elsewhere; giving up with a reason.

use std::collections::{BTreeMap, BTreeSet};

use super::planning::Placed;
use super::{ExpectedState, InstanceStep, Phase, Unknown};
use crate::alert::{Alert, AlertKind, Severity};
use crate::engine::{Engine, TimerPurpose};
use crate::event::{EvacuationError, InstanceObservation};
use crate::model::VmState;
use crate::{Command, HostName, InstanceId, Timestamp};

impl Engine {
    /// The failed host whose recovery holds `instance` unsettled.
    pub(crate) fn recovery_of(&self, instance: &InstanceId) -> Option<HostName> {
        self.recoveries
            .iter()
            .find(|(_, r)| {
                r.record
                    .instances
                    .get(instance)
                    .is_some_and(|i| !i.step.is_settled())
            })
            .map(|(h, _)| h.clone())
    }

    fn step_of(&self, host: &HostName, instance: &InstanceId) -> Option<InstanceStep> {
        self.recoveries
            .get(host)
            .and_then(|r| r.record.instances.get(instance))
            .map(|i| i.step.clone())
    }

    fn set_step(&mut self, host: &HostName, instance: &InstanceId, step: InstanceStep) {
        if let Some(r) = self.recoveries.get_mut(host) {
            if !matches!(step, InstanceStep::Requested { .. }) {
                r.unknown.remove(instance);
            }
            if let Some(i) = r.record.instances.get_mut(instance) {
                i.step = step;
            }
        }
    }

    pub(crate) fn schedule_check(
        &mut self,
        at: Timestamp,
        host: &HostName,
        instance: &InstanceId,
        out: &mut Vec<Command>,
    ) {
        let already = self
            .timers
            .any(|p| matches!(p, TimerPurpose::CheckInstance(h, i) if h == host && i == instance));
        if !already {
            self.schedule(
                at,
                TimerPurpose::CheckInstance(host.clone(), instance.clone()),
                out,
            );
        }
    }

    /// Nova accepted an evacuation: persisted as accepted, then verified by polling.
    pub(crate) fn on_evacuation_accepted(
        &mut self,
        now: Timestamp,
        instance: InstanceId,
        target: HostName,
        attempt: u32,
        out: &mut Vec<Command>,
    ) {
        let Some(host) = self.recovery_of(&instance) else {
            return;
        };
        match self.step_of(&host, &instance) {
            Some(InstanceStep::Requested {
                target: t,
                attempt: a,
            }) if t == target && a == attempt => {
                self.set_step(&host, &instance, InstanceStep::Accepted { target, attempt });
                if let Some(r) = self.recoveries.get_mut(&host) {
                    r.accepted_at.insert(instance.clone(), now);
                    // Checks still out may have been read before Nova took the
                    // request: their answers cannot tell its fate.
                    r.request_sent(&instance);
                }
                self.persist(now, &host, out);
                let at = now.saturating_add(self.config.workflow.verify_poll_interval);
                self.schedule_check(at, &host, &instance, out);
            }
            Some(_) | None => {}
        }
    }

    /// Nova refused an evacuation, or the call failed.
    pub(crate) fn on_evacuation_rejected(
        &mut self,
        now: Timestamp,
        instance: InstanceId,
        target: HostName,
        attempt: u32,
        error: EvacuationError,
        out: &mut Vec<Command>,
    ) {
        let Some(host) = self.recovery_of(&instance) else {
            return;
        };
        match self.step_of(&host, &instance) {
            Some(InstanceStep::Requested {
                target: t,
                attempt: a,
            }) if t == target && a == attempt => {}
            Some(_) | None => return,
        }
        match error {
            EvacuationError::ComputeServiceInUse => {
                // Nova does not see the source down yet: nothing was done. Take the
                // attempt back, mark the host down again, then re-request.
                if let Some(r) = self.recoveries.get_mut(&host) {
                    if let Some(i) = r.record.instances.get_mut(&instance) {
                        i.attempts = i.attempts.saturating_sub(1);
                        i.tried.remove(&target);
                        i.step = InstanceStep::Planned { target };
                        i.last_error = Some(EvacuationError::ComputeServiceInUse.to_string());
                    }
                    let remark = r.record.phase == Phase::Evacuating;
                    if remark {
                        r.record.phase = Phase::MarkingDown;
                        r.record.nova.marked_down = false;
                    }
                    self.persist(now, &host, out);
                    out.push(Command::RaiseAlert(Alert::instance(
                        Severity::Warning,
                        AlertKind::EvacuationRetry,
                        &instance,
                        Some(&host),
                        format!("Nova refused to evacuate {instance}: {host} not down yet (ComputeServiceInUse); marking it down again, then retrying"),
                    )));
                    if remark {
                        self.command_mark_down(&host, out);
                    }
                }
            }
            EvacuationError::Conflict(msg) => {
                // A 409 may be a refusal (claim, late group check) or the sign of an
                // earlier request of ours already at work: check before retrying.
                if let Some(r) = self.recoveries.get_mut(&host) {
                    r.unknown.insert(
                        instance.clone(),
                        Unknown::CheckThenFail(format!("evacuation to {target} refused: {msg}")),
                    );
                }
                let at = now.saturating_add(self.config.workflow.ambiguous_check_delay);
                self.schedule_check(at, &host, &instance, out);
            }
            EvacuationError::Other(msg) => {
                self.attempt_failed(
                    now,
                    &host,
                    &instance,
                    format!("evacuation to {target} refused: {msg}"),
                    out,
                );
            }
            EvacuationError::ServerError(_) | EvacuationError::Timeout => {
                // The request may or may not have been taken: check before anything.
                if let Some(r) = self.recoveries.get_mut(&host) {
                    r.unknown.insert(instance.clone(), Unknown::CheckThenResend);
                }
                let at = now.saturating_add(self.config.workflow.ambiguous_check_delay);
                self.schedule_check(at, &host, &instance, out);
            }
            EvacuationError::NotFound => {
                self.set_step(
                    &host,
                    &instance,
                    InstanceStep::GivenUp {
                        reason: "the instance no longer exists".to_owned(),
                    },
                );
                self.cluster.remove_instance(&instance);
                self.persist(now, &host, out);
                self.dispatch_wave(now, &host, out);
            }
        }
    }

    /// An attempt failed: retry elsewhere (avoiding every host tried), or give up with
    /// the reason once the segment's attempts are used.
    pub(crate) fn attempt_failed(
        &mut self,
        now: Timestamp,
        host: &HostName,
        instance: &InstanceId,
        reason: String,
        out: &mut Vec<Command>,
    ) {
        let policy = self.recovery_policy(host);
        let Some((attempts, tried)) = self
            .recoveries
            .get(host)
            .and_then(|r| r.record.instances.get(instance))
            .map(|i| (i.attempts, i.tried.clone()))
        else {
            return;
        };
        if let Some(r) = self.recoveries.get_mut(host) {
            r.accepted_at.remove(instance);
            if let Some(i) = r.record.instances.get_mut(instance) {
                i.last_error = Some(reason.clone());
            }
        }
        let next = if attempts >= policy.max_attempts_per_instance {
            InstanceStep::GivenUp {
                reason: format!("gave up after {attempts} attempts; last: {reason}"),
            }
        } else {
            let only: BTreeSet<InstanceId> = [instance.clone()].into();
            let avoid: BTreeMap<InstanceId, BTreeSet<HostName>> =
                [(instance.clone(), tried)].into();
            // Take the instance out of the in-flight count while it is re-planned.
            self.set_step(
                host,
                instance,
                InstanceStep::GivenUp {
                    reason: reason.clone(),
                },
            );
            match self.plan_placements(Some(&only), &avoid).into_iter().next() {
                Some((_, Placed::On(target))) => InstanceStep::Planned { target },
                Some((_, Placed::Not(why))) => InstanceStep::GivenUp {
                    reason: format!("{reason}; no other host for a retry: {why}"),
                },
                None => InstanceStep::GivenUp {
                    reason: format!("{reason}; no other host for a retry"),
                },
            }
        };
        let alert = match &next {
            InstanceStep::GivenUp { reason } => Alert::instance(
                Severity::Error,
                AlertKind::InstanceNotRecovered,
                instance,
                Some(host),
                format!("instance {instance} of failed host {host} is not recovered: {reason}"),
            ),
            InstanceStep::Planned { target } => Alert::instance(
                Severity::Warning,
                AlertKind::EvacuationRetry,
                instance,
                Some(host),
                format!("evacuation attempt {attempts} of {instance} failed ({reason}); retrying on {target}"),
            ),
            InstanceStep::Requested { .. }
            | InstanceStep::Accepted { .. }
            | InstanceStep::Recovered { .. } => return,
        };
        self.set_step(host, instance, next);
        self.persist(now, host, out);
        out.push(Command::RaiseAlert(alert));
        self.dispatch_wave(now, host, out);
    }

    /// Timer: check an instance under recovery.
    pub(crate) fn on_check_timer(
        &mut self,
        now: Timestamp,
        host: &HostName,
        instance: &InstanceId,
        out: &mut Vec<Command>,
    ) {
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
        if let Some(host) = self.restart_checks.remove(&o.instance) {
            self.restart_if_shut_off(&host, &o, out);
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
        host: &HostName,
        o: &InstanceObservation,
        out: &mut Vec<Command>,
    ) {
        let was_running = self
            .cluster
            .instance(&o.instance)
            .is_some_and(|i| i.is_protected() && i.vm_state == VmState::Active);
        let shut_off = matches!(o.vm_state, VmState::Stopped | VmState::Error);
        if was_running && shut_off && o.host.as_ref() == Some(host) && o.task_state.is_none() {
            out.push(Command::ResetInstance {
                instance: o.instance.clone(),
                host: host.clone(),
                method: crate::command::ResetMethod::HardReboot,
                reason: format!(
                    "{host} came back after a failure with this instance shut off ({:?}); started in place",
                    o.vm_state
                ),
            });
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
