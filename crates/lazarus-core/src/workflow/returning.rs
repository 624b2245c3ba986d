//! The host comes back: return it to service, restart in place what its failure shut
//! off, and evacuate nothing more from a host whose fence no longer holds.

use std::collections::BTreeSet;

use super::{ExpectedState, InstanceStep, Outcome, Phase};
use crate::alert::{Alert, AlertKind, Severity};
use crate::engine::{Engine, TimerPurpose};
use crate::model::VmState;
use crate::{Command, HostName, InstanceId, Timestamp};

/// An instance checked after its host came back, and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RestartCheck {
    /// The host that came back.
    pub(crate) host: HostName,
    /// It ran before the failure: if it is found shut off there, the failure did it
    /// and it is started in place. If not known, a shut-off instance is reported.
    pub(crate) ran_before: bool,
    /// Sent for a reboot the agent reported while the host had no recovery
    /// ([`Engine::on_host_rebooted`]): asked again until answered, and dropped without
    /// acting if a recovery of the host has begun since (its rules then apply).
    pub(crate) without_recovery: bool,
}

impl Engine {
    /// The host is healthy again (its compute reports): return it to service, or
    /// remember it for when the recovery finishes.
    pub(crate) fn on_host_returned(
        &mut self,
        now: Timestamp,
        host: HostName,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get_mut(&host) else {
            return;
        };
        match r.record.phase {
            Phase::Finished => {
                self.begin_return(now, &host, out);
                self.restart_in_place(now, &host, out);
            }
            Phase::Fencing => {
                // A BMC power-off already sent may still be landing: the read-back
                // decides, as for a heartbeat (fencing/mod.rs). Calling the recovery
                // off here left a host powered off a moment later with nobody to
                // recover it (rack-partition sweep, seed 3992 --max-faults 4).
                let in_flight = r.record.fence.method == crate::model::FenceMethod::Bmc
                    && r.record.fence.attempts > 0
                    && !r.record.fence.gave_up
                    && r.record.fence.confirmation.is_none();
                if !in_flight {
                    self.abort(now, &host, "its compute service reports again", out);
                }
            }
            Phase::MarkingDown | Phase::Evacuating => self.stop_evacuating(now, &host, out),
            Phase::Returning | Phase::Closed => {}
        }
    }

    /// The host's agent reports a reboot, with the guests it saw running before.
    ///
    /// A host under recovery: nothing new, the recovery's own return restarts in place
    /// what its failure shut off. A host with no recovery (nobody judged it: the
    /// controller was blind, or the reset was quicker than the detector) has nobody
    /// else to start them (docs/sim-findings.md F13): each listed guest that is
    /// protected and still on that host in the model is checked, and reset in place
    /// only if found shut off there. A guest a user stopped before the reboot is not
    /// listed (the agent no longer saw it running), so it stays off. The checks are
    /// reads and a reset goes only to a guest found shut off, so a report taken twice
    /// (a controller restart) is harmless. Never an evacuation.
    pub(crate) fn on_host_rebooted(
        &mut self,
        now: Timestamp,
        host: HostName,
        guests_running_before: Vec<InstanceId>,
        out: &mut Vec<Command>,
    ) {
        if self.recoveries.contains_key(&host) {
            return;
        }
        let listed: BTreeSet<InstanceId> = guests_running_before.into_iter().collect();
        let checks: Vec<InstanceId> = self
            .cluster
            .instances_on(&host)
            .filter(|i| i.is_protected() && listed.contains(&i.id))
            .map(|i| i.id.clone())
            .collect();
        let poll = now.saturating_add(self.config.workflow.verify_poll_interval);
        for id in checks {
            self.restart_checks.insert(
                id.clone(),
                RestartCheck {
                    host: host.clone(),
                    ran_before: true,
                    without_recovery: true,
                },
            );
            out.push(Command::CheckInstance {
                instance: id.clone(),
            });
            self.schedule_check(poll, &host, &id, out);
        }
    }

    /// The host came back after its fence (someone powered it on): the fence no longer
    /// holds, so nothing more is evacuated from it. Instances not yet requested are
    /// given up with the reason and restarted in place if they were shut off;
    /// evacuations already requested are verified as usual.
    ///
    /// The guests to check are chosen before the record is marked planned: a recovery
    /// resumed on a new controller and not planned yet cannot tell a guest its failure
    /// shut off from one a user stopped, and must check (and report) those too.
    pub(crate) fn stop_evacuating(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        let checks = self.restart_candidates(host);
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        r.host_returned = true;
        r.evacuation_stopped = true;
        r.record.phase = Phase::Evacuating;
        r.record.planned = true;
        for i in r.record.instances.values_mut() {
            if matches!(i.step, InstanceStep::Planned { .. }) {
                i.step = InstanceStep::GivenUp {
                    reason: "the host came back before it was evacuated: restarted in place"
                        .to_owned(),
                };
            }
        }
        self.persist(now, host, out);
        self.send_restart_checks(now, host, checks, out);
        self.dispatch_wave(now, host, out);
    }

    /// Checks the protected instances left on a host that came back, to restart those
    /// its failure shut off (see [`Engine::restart_candidates`]). Each check is a read
    /// and a reset is only sent for an instance found shut off, so doing it again after
    /// a takeover is idempotent. An answer that does not come is asked for again every
    /// `verify_poll_interval`: a returning recovery is closed only once they are all
    /// answered.
    pub(crate) fn restart_in_place(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        let checks = self.restart_candidates(host);
        self.send_restart_checks(now, host, checks, out);
    }

    /// Commands the checks `restart_candidates` chose, each with its re-check timer.
    pub(crate) fn send_restart_checks(
        &mut self,
        now: Timestamp,
        host: &HostName,
        checks: Vec<(InstanceId, bool)>,
        out: &mut Vec<Command>,
    ) {
        let poll = now.saturating_add(self.config.workflow.verify_poll_interval);
        for (id, ran_before) in checks {
            self.restart_checks.insert(
                id.clone(),
                RestartCheck {
                    host: host.clone(),
                    ran_before,
                    without_recovery: false,
                },
            );
            out.push(Command::CheckInstance {
                instance: id.clone(),
            });
            self.schedule_check(poll, host, &id, out);
        }
    }

    /// The protected instances left on a host that came back (not evacuated, nor being
    /// evacuated) that its failure may have shut off, each with whether it ran before.
    ///
    /// An instance ran before the failure if the model says ACTIVE, or the plan
    /// recorded it as expected ACTIVE. When the model may postdate the failure (the
    /// recovery was resumed on a new controller before it was planned), an instance
    /// the model shows shut off is checked too: it may be a guest the failure shut off
    /// (Nova syncs a reset host's guests to STOPPED) or one a user had stopped, which
    /// cannot be told apart, so it is reported rather than started (seed 1418
    /// `--hosts 4 --max-faults 5`, docs/sim-findings.md F12).
    pub(crate) fn restart_candidates(&self, host: &HostName) -> Vec<(InstanceId, bool)> {
        let recovery = self.recoveries.get(host);
        let model_predates_failure = recovery.is_none_or(|r| r.model_predates_failure);
        let planned = recovery.is_some_and(|r| r.record.planned);
        let in_flight: BTreeSet<InstanceId> = recovery
            .map(|r| {
                r.record
                    .instances
                    .iter()
                    .filter(|(_, i)| {
                        matches!(
                            i.step,
                            InstanceStep::Requested { .. }
                                | InstanceStep::Accepted { .. }
                                | InstanceStep::Recovered { .. }
                        )
                    })
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let expected_active: BTreeSet<InstanceId> = recovery
            .map(|r| {
                r.record
                    .instances
                    .iter()
                    .filter(|(_, i)| i.expected == ExpectedState::Active)
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        self.cluster
            .instances_on(host)
            .filter(|i| i.is_protected() && !in_flight.contains(&i.id))
            .filter_map(|i| {
                let ran_before = i.vm_state == VmState::Active || expected_active.contains(&i.id);
                let unknowable = !model_predates_failure && !planned;
                (ran_before || unknowable).then(|| (i.id.clone(), ran_before))
            })
            .collect()
    }

    /// Records `Returning` (write-ahead), then lifts forced_down, re-enabling only if
    /// lazarus disabled the host. The caller checks the guests to restart in place
    /// after this write, so that a controller that takes over checks them again.
    pub(crate) fn begin_return(&mut self, now: Timestamp, host: &HostName, out: &mut Vec<Command>) {
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        r.record.phase = Phase::Returning;
        self.persist(now, host, out);
        self.on_return_retry(host, out);
    }

    /// A `Returning` record resumed after a takeover: whatever followed its write may
    /// have been lost with the previous controller (docs/sim-findings.md F14), so the
    /// return to service (if one is needed) and the restart checks are done again.
    /// Both are idempotent.
    pub(crate) fn continue_return(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        r.back_in_service = !needs_return_to_service(r.record.outcome);
        self.on_return_retry(host, out);
        self.restart_in_place(now, host, out);
        self.close_if_back(now, host, out);
    }

    /// Closes a `Returning` recovery once the host is back in service and every
    /// restart check of it is answered.
    pub(crate) fn close_if_back(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        let checks_out = self.restart_checks.values().any(|c| &c.host == host);
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        if r.record.phase != Phase::Returning || !r.back_in_service || checks_out {
            return;
        }
        r.record.phase = Phase::Closed;
        self.persist(now, host, out);
        self.close(now, host);
    }

    /// Nova answered the return to service.
    pub(crate) fn on_returned_to_service(
        &mut self,
        now: Timestamp,
        host: HostName,
        result: Result<(), crate::event::NovaError>,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get_mut(&host) else {
            return;
        };
        if r.record.phase != Phase::Returning {
            return;
        }
        match result {
            Ok(()) => {
                r.back_in_service = true;
                r.return_refusals = 0;
                self.close_if_back(now, &host, out);
            }
            Err(e) => {
                let needs_person = match &e {
                    // Nova's "not yet" while the evacuations' migration records are
                    // `done`: they complete when nova-compute starts on the host. A
                    // compute that started before the evacuations ran will not start
                    // again by itself (docs/sim-findings.md F15): say so, once.
                    crate::event::NovaError::BadRequest(_) => {
                        r.return_refusals += 1;
                        if r.return_refusals == RETURN_REFUSALS_BEFORE_ALERT {
                            let every = self.config.workflow.return_retry.as_secs();
                            out.push(Command::RaiseAlert(Alert::host(
                                Severity::Error,
                                AlertKind::ReturnToServiceFailed,
                                &host,
                                format!("Nova refused to return {host} to service {RETURN_REFUSALS_BEFORE_ALERT} times in a row ({e}): the migration records of its evacuations stay `done` until nova-compute restarts on {host}; restart it there (lazarus retries every {every} s)"),
                            )));
                        }
                        false
                    }
                    other => !other.is_retryable(),
                };
                if needs_person {
                    out.push(Command::RaiseAlert(Alert::host(
                        Severity::Error,
                        AlertKind::ReturnToServiceFailed,
                        &host,
                        format!("returning {host} to service failed ({e}); retrying later"),
                    )));
                }
                let at = now.saturating_add(self.config.workflow.return_retry);
                self.schedule(at, TimerPurpose::ReturnRetry(host), out);
            }
        }
    }

    /// Timer: try the return to service again (none for a recovery called off before
    /// fencing: Nova was told nothing).
    pub(crate) fn on_return_retry(&mut self, host: &HostName, out: &mut Vec<Command>) {
        if let Some(r) = self.recoveries.get(host) {
            if r.record.phase == Phase::Returning && needs_return_to_service(r.record.outcome) {
                out.push(Command::ReturnHostToService {
                    host: host.clone(),
                    enable: !r.record.nova.disabled_by_others,
                });
            }
        }
    }

    /// An operator asked for the host's return.
    pub(crate) fn on_operator_requested_return(
        &mut self,
        now: Timestamp,
        host: HostName,
        operator: String,
        out: &mut Vec<Command>,
    ) {
        match self.recoveries.get(&host).map(|r| r.record.phase) {
            Some(Phase::Finished) => self.begin_return(now, &host, out),
            Some(Phase::Returning) => self.on_return_retry(&host, out),
            Some(phase @ (Phase::Fencing | Phase::MarkingDown | Phase::Evacuating)) => {
                out.push(Command::RaiseAlert(Alert::host(
                    Severity::Warning,
                    AlertKind::ReturnToServiceFailed,
                    &host,
                    format!("{operator} asked to return {host} to service while its recovery is at {phase:?}; it returns when the recovery finishes"),
                )));
                if let Some(r) = self.recoveries.get_mut(&host) {
                    r.host_returned = true;
                }
            }
            Some(Phase::Closed) | None => self.enable_if_process_disabled(now, &host, out),
        }
    }
}

/// Refusals in a row of a return to service after which an operator is told.
pub(crate) const RETURN_REFUSALS_BEFORE_ALERT: u32 = 3;

/// Whether a returning recovery must lift what lazarus put on the host in Nova: every
/// one but a recovery called off before fencing, which marks nothing down.
fn needs_return_to_service(outcome: Option<Outcome>) -> bool {
    match outcome {
        Some(Outcome::Aborted) => false,
        Some(Outcome::Done | Outcome::Partial) | None => true,
    }
}
