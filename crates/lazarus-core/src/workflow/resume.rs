//! Continuing persisted recoveries on a new controller.

use super::{InstanceStep, Phase, Recovery, RecoveryRecord, Unknown};
use crate::engine::{Engine, TimerPurpose};
use crate::{Command, Timestamp};

impl Engine {
    /// Continues a persisted recovery after a restart.
    pub(crate) fn resume_recovery(
        &mut self,
        now: Timestamp,
        record: RecoveryRecord,
        out: &mut Vec<Command>,
    ) {
        if record.phase == Phase::Closed {
            return;
        }
        let host = record.id.host.clone();
        let phase = record.phase;
        self.detector.set_under_recovery(now, &host, true);
        self.recoveries
            .insert(host.clone(), Recovery::resumed(record));
        match phase {
            Phase::Fencing => self.resume_fencing(now, &host, out),
            // The mark-down (and so the first evacuation) waits `suspect_after`: a
            // host that came back while no controller was watching is heard by then,
            // and its heartbeat stops the evacuation (docs/sim-findings.md F15, cause 2).
            Phase::MarkingDown => {
                let at = now.saturating_add(self.detector.policy().suspect_after());
                self.schedule(at, TimerPurpose::MarkDownRetry(host), out);
            }
            Phase::Evacuating => {
                let mut checks = Vec::new();
                if let Some(r) = self.recoveries.get_mut(&host) {
                    for (id, i) in &r.record.instances {
                        if matches!(
                            i.step,
                            InstanceStep::Requested { .. } | InstanceStep::Accepted { .. }
                        ) {
                            if matches!(i.step, InstanceStep::Requested { .. }) {
                                r.unknown.insert(id.clone(), Unknown::CheckThenResend);
                            }
                            r.accepted_at.insert(id.clone(), now);
                            checks.push(Command::CheckInstance {
                                instance: id.clone(),
                            });
                        }
                    }
                }
                let poll = now.saturating_add(self.config.workflow.verify_poll_interval);
                for c in checks {
                    if let Command::CheckInstance { instance } = &c {
                        let instance = instance.clone();
                        if let Some(r) = self.recoveries.get_mut(&host) {
                            r.check_sent(&instance);
                        }
                        out.push(c);
                        self.schedule_check(poll, &host, &instance, out);
                    }
                }
                self.dispatch_wave(now, &host, out);
            }
            Phase::Finished => {}
            Phase::Returning => self.continue_return(now, &host, out),
            Phase::Closed => {}
        }
    }
}
