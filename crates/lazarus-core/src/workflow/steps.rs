//! The workflow's steps, from the first report of a failure to the host's return.

use std::collections::{BTreeMap, BTreeSet};

use super::planning::Placed;
use super::{
    ExpectedState, FenceConfirmation, FenceRecord, InstanceRecord, InstanceStep, NovaMarks,
    Outcome, Phase, Recovery, RecoveryId, RecoveryRecord, RecoverySummary, Trigger,
    RECOVERY_RECORD_VERSION,
};
use crate::alert::{Alert, AlertKind, Severity};
use crate::command::{disabled_by_lazarus, DISABLED_REASON_PREFIX};
use crate::engine::{Engine, Record, TimerPurpose};
use crate::model::{RecoveryPolicy, VmState};
use crate::{Command, HostName, InstanceId, Timestamp};

impl Engine {
    /// Writes a recovery's record (write-ahead: before the commands that follow it).
    pub(crate) fn persist(&mut self, now: Timestamp, host: &HostName, out: &mut Vec<Command>) {
        if let Some(r) = self.recoveries.get_mut(host) {
            r.record.updated_at = now;
            out.push(Command::Persist(Record::Recovery(r.record.clone())));
        }
    }

    /// A report that `host` failed. Starts its recovery, unless one is under way: then
    /// the report is recorded (and a confirmation it carries is used), not acted on.
    ///
    /// Guarantees: at most one recovery per host at any time.
    pub(crate) fn report_failure(
        &mut self,
        now: Timestamp,
        host: &HostName,
        trigger: Trigger,
        confirmation: Option<FenceConfirmation>,
        out: &mut Vec<Command>,
    ) {
        if let Some(r) = self.recoveries.get_mut(host) {
            r.record.duplicate_reports = r.record.duplicate_reports.saturating_add(1);
            let n = r.record.duplicate_reports;
            let id = r.record.id.clone();
            let confirms = confirmation.is_some()
                && r.record.fence.confirmation.is_none()
                && r.record.phase == Phase::Fencing;
            self.persist(now, host, out);
            out.push(Command::RaiseAlert(Alert::host(
                Severity::Warning,
                AlertKind::DuplicateReport,
                host,
                format!("report #{n} of a failure already under recovery {id} ({trigger:?}): recorded, not acted on"),
            )));
            if confirms {
                if let Some(c) = confirmation {
                    self.confirm_fence(now, host, c, out);
                }
            }
            return;
        }
        let Some(h) = self.cluster.host(host) else {
            out.push(Command::RaiseAlert(Alert::host(
                Severity::Warning,
                AlertKind::UnknownSubject,
                host,
                format!("failure reported for unknown host {host} ({trigger:?}); ignored"),
            )));
            return;
        };
        let segment = h.segment.clone();
        let method = h.fence_method;
        if self.cluster.segment(&segment).is_some_and(|s| !s.enabled) {
            out.push(Command::RaiseAlert(Alert::host(
                Severity::Error,
                AlertKind::InstanceNotRecovered,
                host,
                format!("host {host} reported failed but its segment {segment} is disabled: not recovered"),
            )));
            return;
        }
        let record = RecoveryRecord {
            version: RECOVERY_RECORD_VERSION,
            id: RecoveryId {
                host: host.clone(),
                started_at: now,
            },
            segment,
            trigger,
            duplicate_reports: 0,
            phase: Phase::Fencing,
            fence: FenceRecord {
                method,
                attempts: 0,
                last_heartbeat: self.detector.last_heard(host),
                gave_up: false,
                confirmation: None,
            },
            nova: NovaMarks {
                marked_down: false,
                disabled_by_others: self.nova.get(host).is_some_and(|s| {
                    s.disabled && !disabled_by_lazarus(s.disabled_reason.as_deref())
                }),
            },
            planned: false,
            instances: BTreeMap::new(),
            outcome: None,
            updated_at: now,
        };
        self.detector.set_under_recovery(now, host, true);
        self.recoveries.insert(host.clone(), Recovery::new(record));
        match confirmation {
            Some(c) => self.confirm_fence(now, host, c, out),
            None => self.begin_fencing(now, host, out),
        }
    }

    /// Records the fence confirmation and moves on to marking the host down.
    ///
    /// Guarantees: the confirmation is persisted before anything that follows it.
    pub(crate) fn confirm_fence(
        &mut self,
        now: Timestamp,
        host: &HostName,
        confirmation: FenceConfirmation,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        if r.record.fence.confirmation.is_some() || r.record.phase != Phase::Fencing {
            return;
        }
        r.record.fence.confirmation = Some(confirmation);
        r.record.phase = Phase::MarkingDown;
        self.timers.forget(|p| match p {
            TimerPurpose::PowerRead(h)
            | TimerPurpose::FenceRetry(h)
            | TimerPurpose::WatchdogPromise(h) => h == host,
            TimerPurpose::DetectorTick
            | TimerPurpose::MarkDownRetry(_)
            | TimerPurpose::CheckInstance(_, _)
            | TimerPurpose::ReturnRetry(_)
            | TimerPurpose::ProcessGrace(_, _) => false,
        });
        self.persist(now, host, out);
        self.command_mark_down(host, out);
    }

    /// Force down + disable, with our reason prefix. Idempotent in Nova.
    pub(crate) fn command_mark_down(&self, host: &HostName, out: &mut Vec<Command>) {
        let id = self
            .recoveries
            .get(host)
            .map(|r| r.record.id.to_string())
            .unwrap_or_default();
        out.push(Command::MarkHostDown {
            host: host.clone(),
            reason: format!("{DISABLED_REASON_PREFIX}host failed, recovery {id}"),
        });
    }

    /// Nova answered the mark-down.
    pub(crate) fn on_marked_down(
        &mut self,
        now: Timestamp,
        host: HostName,
        result: Result<(), crate::event::NovaError>,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get_mut(&host) else {
            return;
        };
        if r.record.phase != Phase::MarkingDown {
            return;
        }
        match result {
            Ok(()) => {
                r.record.nova.marked_down = true;
                r.record.phase = Phase::Evacuating;
                if !r.record.planned {
                    self.plan_recovery(now, &host, out);
                } else {
                    self.persist(now, &host, out);
                }
                self.dispatch_wave(now, &host, out);
            }
            Err(e) => {
                let severity = if e.is_retryable() {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                out.push(Command::RaiseAlert(Alert::host(
                    severity,
                    AlertKind::MarkDownFailed,
                    &host,
                    format!("marking {host} down in Nova failed ({e}); retrying"),
                )));
                let at = now.saturating_add(self.config.workflow.mark_down_retry);
                self.schedule(at, TimerPurpose::MarkDownRetry(host), out);
            }
        }
    }

    /// Timer: mark the host down again.
    pub(crate) fn on_mark_down_retry(&mut self, host: &HostName, out: &mut Vec<Command>) {
        if self
            .recoveries
            .get(host)
            .is_some_and(|r| r.record.phase == Phase::MarkingDown)
        {
            self.command_mark_down(host, out);
        }
    }

    /// Plans the host's protected instances and persists the plan (with the
    /// instances that cannot be placed given up, each with its reason).
    ///
    /// An instance the model shows STOPPED is evacuated as it is. When the model may
    /// postdate the failure (the recovery was resumed on a new controller before it was
    /// planned), STOPPED may be what the failure did (Nova syncs a reset host's guests
    /// to STOPPED) as well as a user's stop: each is reported, so that none is left off
    /// without a word (seed 6 `--hosts 12 --max-faults 8`, docs/sim-findings.md F15;
    /// the same reasoning as `restart_candidates`, F12).
    fn plan_recovery(&mut self, now: Timestamp, host: &HostName, out: &mut Vec<Command>) {
        let model_predates_failure = self
            .recoveries
            .get(host)
            .is_none_or(|r| r.model_predates_failure);
        let mut records: BTreeMap<InstanceId, InstanceRecord> = BTreeMap::new();
        let mut to_plan: BTreeSet<InstanceId> = BTreeSet::new();
        for i in self.cluster.instances_on(host).filter(|i| i.is_protected()) {
            let expected = match i.vm_state {
                VmState::Stopped => ExpectedState::Stopped,
                VmState::Active
                | VmState::Error
                | VmState::Paused
                | VmState::Suspended
                | VmState::Other => ExpectedState::Active,
            };
            let step = if i.vm_state.is_evacuable() {
                to_plan.insert(i.id.clone());
                InstanceStep::GivenUp {
                    reason: "not planned".to_owned(),
                }
            } else {
                InstanceStep::GivenUp {
                    reason: format!("vm_state {:?} cannot be evacuated", i.vm_state),
                }
            };
            records.insert(
                i.id.clone(),
                InstanceRecord {
                    priority: i.priority,
                    resources: i.resources,
                    expected,
                    attempts: 0,
                    tried: BTreeSet::new(),
                    step,
                    last_error: None,
                },
            );
        }
        let placed = if to_plan.is_empty() {
            Vec::new()
        } else {
            self.plan_placements(Some(&to_plan), &BTreeMap::new())
        };
        for (id, p) in placed {
            if let Some(rec) = records.get_mut(&id) {
                rec.step = match p {
                    Placed::On(target) => InstanceStep::Planned { target },
                    Placed::Not(reason) => InstanceStep::GivenUp {
                        reason: format!("not placed: {reason}"),
                    },
                };
            }
        }
        let mut alerts = Vec::new();
        for (id, rec) in &records {
            match &rec.step {
                InstanceStep::GivenUp { reason } => alerts.push(Alert::instance(
                    Severity::Error,
                    AlertKind::InstanceNotRecovered,
                    id,
                    Some(host),
                    format!("instance {id} of failed host {host} is not recovered: {reason}"),
                )),
                InstanceStep::Planned { target }
                    if !model_predates_failure && rec.expected == ExpectedState::Stopped =>
                {
                    alerts.push(Alert::instance(
                        Severity::Error,
                        AlertKind::InstanceNotRecovered,
                        id,
                        Some(host),
                        format!(
                            "instance {id} of failed host {host} is shut off in Nova and is \
                             evacuated to {target} as it is; the controller restarted before \
                             the recovery recorded whether it was running: start it if it \
                             should run"
                        ),
                    ));
                }
                InstanceStep::Planned { .. }
                | InstanceStep::Requested { .. }
                | InstanceStep::Accepted { .. }
                | InstanceStep::Recovered { .. } => {}
            }
        }
        if let Some(r) = self.recoveries.get_mut(host) {
            r.record.instances = records;
            r.record.planned = true;
        }
        self.persist(now, host, out);
        out.extend(alerts.into_iter().map(Command::RaiseAlert));
    }

    /// The recovery policy of the host's segment.
    pub(crate) fn recovery_policy(&self, host: &HostName) -> RecoveryPolicy {
        self.recoveries
            .get(host)
            .and_then(|r| self.cluster.segment(&r.record.segment))
            .map(|s| s.policy.clone())
            .unwrap_or_default()
    }

    /// Requests the next evacuations of the current wave (the highest priority with
    /// instances not yet settled), within the segment's parallelism; finishes the
    /// recovery when every instance is settled.
    ///
    /// Guarantees: every evacuation is persisted as `Requested` before it is commanded.
    pub(crate) fn dispatch_wave(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        let policy = self.recovery_policy(host);
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        if r.record.phase != Phase::Evacuating {
            return;
        }
        let Some(wave) = r
            .record
            .instances
            .values()
            .filter(|i| !i.step.is_settled())
            .map(|i| i.priority)
            .max()
        else {
            self.finish(now, host, out);
            return;
        };
        let in_flight = r
            .record
            .instances
            .values()
            .filter(|i| {
                matches!(
                    i.step,
                    InstanceStep::Requested { .. } | InstanceStep::Accepted { .. }
                )
            })
            .count();
        let room = (policy.max_parallel_evacuations.max(1) as usize).saturating_sub(in_flight);
        let mut requests = Vec::new();
        let mut sent = Vec::new();
        for (id, rec) in r.record.instances.iter_mut() {
            if requests.len() >= room {
                break;
            }
            if rec.priority != wave {
                continue;
            }
            if let InstanceStep::Planned { target } = &rec.step {
                let target = target.clone();
                rec.attempts = rec.attempts.saturating_add(1);
                rec.tried.insert(target.clone());
                rec.step = InstanceStep::Requested {
                    target: target.clone(),
                    attempt: rec.attempts,
                };
                sent.push(id.clone());
                requests.push(Command::EvacuateInstance {
                    instance: id.clone(),
                    from: host.clone(),
                    to: target,
                    attempt: rec.attempts,
                });
            }
        }
        for id in sent {
            r.request_sent(&id);
            r.unknown.remove(&id);
            r.accepted_at.insert(id, now);
        }
        if !requests.is_empty() {
            self.persist(now, host, out);
            out.extend(requests);
        }
    }

    /// Every instance is settled: Done or Partial, reported.
    fn finish(&mut self, now: Timestamp, host: &HostName, out: &mut Vec<Command>) {
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        let mut recovered = BTreeMap::new();
        let mut given_up = BTreeMap::new();
        for (id, i) in &r.record.instances {
            match &i.step {
                InstanceStep::Recovered { host } => {
                    recovered.insert(id.clone(), host.clone());
                }
                InstanceStep::GivenUp { reason } => {
                    given_up.insert(id.clone(), reason.clone());
                }
                InstanceStep::Planned { .. }
                | InstanceStep::Requested { .. }
                | InstanceStep::Accepted { .. } => {}
            }
        }
        let outcome = if given_up.is_empty() {
            Outcome::Done
        } else {
            Outcome::Partial
        };
        r.record.phase = Phase::Finished;
        r.record.outcome = Some(outcome);
        let summary = RecoverySummary {
            id: r.record.id.clone(),
            outcome,
            recovered,
            given_up,
            finished_at: now,
        };
        let returned = r.host_returned;
        self.persist(now, host, out);
        out.push(Command::RecoveryFinished(summary));
        if returned {
            self.begin_return(now, host, out);
        }
    }

    /// Ends a recovery: forgets it, its timers, and hands the host back to the
    /// detector (judged again from its next heartbeat).
    pub(crate) fn close(&mut self, now: Timestamp, host: &HostName) {
        self.recoveries.remove(host);
        self.detector.set_under_recovery(now, host, false);
        self.timers.forget(|p| match p {
            TimerPurpose::PowerRead(h)
            | TimerPurpose::FenceRetry(h)
            | TimerPurpose::WatchdogPromise(h)
            | TimerPurpose::MarkDownRetry(h)
            | TimerPurpose::CheckInstance(h, _)
            | TimerPurpose::ReturnRetry(h) => h == host,
            TimerPurpose::DetectorTick | TimerPurpose::ProcessGrace(_, _) => false,
        });
    }

    /// Abandons a recovery before fencing: the host was heard from again. The guests
    /// its failure may have shut off are checked, to restart them in place; the record
    /// says `Returning` (outcome `Aborted`) until every check is answered, and only then
    /// `Closed`, so a controller that takes over in between checks them again (a
    /// closing write before them lost them, seed 6263 `--max-faults 4`,
    /// docs/sim-findings.md F14). With nothing to check it is `Closed` at once.
    pub(crate) fn abort(
        &mut self,
        now: Timestamp,
        host: &HostName,
        why: &str,
        out: &mut Vec<Command>,
    ) {
        let checks = self.restart_candidates(host);
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        r.record.outcome = Some(Outcome::Aborted);
        r.record.phase = if checks.is_empty() {
            Phase::Closed
        } else {
            Phase::Returning
        };
        r.back_in_service = true;
        let closed = r.record.phase == Phase::Closed;
        let id = r.record.id.clone();
        self.persist(now, host, out);
        out.push(Command::RaiseAlert(Alert::host(
            Severity::Warning,
            AlertKind::RecoveryAborted,
            host,
            format!("recovery {id} called off before fencing: {why}"),
        )));
        if closed {
            self.close(now, host);
        } else {
            self.send_restart_checks(now, host, checks, out);
        }
    }
}
