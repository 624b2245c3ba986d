//! Evacuation results and verification: accepted, rejected, observed; retries
//! elsewhere; giving up with a reason.

use std::collections::{BTreeMap, BTreeSet};

use super::planning::Placed;
use super::{InstanceStep, Phase, Unknown};
use crate::alert::{Alert, AlertKind, Severity};
use crate::engine::{Engine, TimerPurpose};
use crate::event::EvacuationError;
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

    pub(super) fn step_of(&self, host: &HostName, instance: &InstanceId) -> Option<InstanceStep> {
        self.recoveries
            .get(host)
            .and_then(|r| r.record.instances.get(instance))
            .map(|i| i.step.clone())
    }

    pub(super) fn set_step(&mut self, host: &HostName, instance: &InstanceId, step: InstanceStep) {
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
}
