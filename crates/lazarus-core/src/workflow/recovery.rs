//! One recovery under way: its persisted record and what the engine keeps in memory
//! only (in-flight requests, which a new controller re-establishes by checking).

use std::collections::BTreeMap;

use crate::{InstanceId, Timestamp};

use super::RecoveryRecord;

/// What a check decides for a `Requested` instance that shows no evacuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// The request may never have reached Nova (a controller restart, a 5xx, a
    /// timeout): send it again, once.
    CheckThenResend,
    /// Sent again; waiting for Nova's answer, whatever checks say meanwhile.
    Resent,
    /// Nova answered 409: if no evacuation is in progress, the attempt failed.
    CheckThenFail(String),
}

/// A recovery under way.
#[derive(Debug, Clone)]
pub(crate) struct Recovery {
    /// The persisted state.
    pub(crate) record: RecoveryRecord,
    /// Power reads made in the current fence attempt.
    pub(crate) power_reads: u32,
    /// A power read is in flight.
    pub(crate) power_read_pending: bool,
    /// The fence gave up because the BMC did not answer (not because it answered
    /// without turning the host off): once it answers again, the power-off is retried.
    /// Not persisted: a resumed recovery that gave up counts as silent, for one retry.
    pub(crate) bmc_silent: bool,
    /// Instances whose evacuation request has an unknown fate, and what to do once a
    /// check shows no evacuation of them in progress.
    pub(crate) unknown: BTreeMap<InstanceId, Unknown>,
    /// Checks of each instance commanded and not yet answered.
    pub(crate) checks_out: BTreeMap<InstanceId, u32>,
    /// Answers still to come to checks commanded before the latest evacuation request
    /// of the instance was sent: they cannot show that request, so they are ignored.
    pub(crate) stale_answers: BTreeMap<InstanceId, u32>,
    /// When each in-flight evacuation was accepted (or found in flight on resume), for
    /// the verification timeout.
    pub(crate) accepted_at: BTreeMap<InstanceId, Timestamp>,
    /// The host's compute reported again while the recovery was still running.
    pub(crate) host_returned: bool,
    /// Nothing more is evacuated: the host was heard after its fence
    /// ([`Engine::stop_evacuating`](crate::engine::Engine)). Not persisted: the
    /// record's instances say it (none left `Planned`), and doing it again after a
    /// takeover is harmless.
    pub(crate) evacuation_stopped: bool,
    /// Returning: Nova answered the return to service, or none is needed (a recovery
    /// called off before fencing told Nova nothing). The record is closed once this
    /// holds and every restart check of the host is answered.
    pub(crate) back_in_service: bool,
    /// Refusals of the return to service in a row (Nova's 400 while the migration
    /// records of the evacuations stay `done`), for the alert after a few.
    pub(crate) return_refusals: u32,
    /// Whether the engine's model still shows the host's instances as they were before
    /// the failure. True when this engine started the recovery: from then on the
    /// model of a host under recovery is not synced from Nova. False when it was
    /// resumed from a record on a new controller, whose model came from Nova after the
    /// failure and may show what the failure did (a reset host's guests synced to
    /// STOPPED), so a shut-off instance there may have run before or not.
    pub(crate) model_predates_failure: bool,
}

impl Recovery {
    /// Counts a check commanded for `instance`.
    pub(crate) fn check_sent(&mut self, instance: &InstanceId) {
        *self.checks_out.entry(instance.clone()).or_default() += 1;
    }

    /// An evacuation request for `instance` is sent: every check still out predates it.
    pub(crate) fn request_sent(&mut self, instance: &InstanceId) {
        let out = self.checks_out.get(instance).copied().unwrap_or(0);
        if out > 0 {
            self.stale_answers.insert(instance.clone(), out);
        } else {
            self.stale_answers.remove(instance);
        }
    }

    /// Counts an answer to a check; true if it answers a check older than the latest
    /// request (and must be ignored).
    pub(crate) fn answer_is_stale(&mut self, instance: &InstanceId) -> bool {
        if let Some(n) = self.checks_out.get_mut(instance) {
            *n = n.saturating_sub(1);
        }
        match self.stale_answers.get_mut(instance) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            Some(_) | None => false,
        }
    }

    /// A recovery this engine starts: its model predates the failure.
    pub(crate) fn new(record: RecoveryRecord) -> Self {
        Self {
            record,
            power_reads: 0,
            power_read_pending: false,
            bmc_silent: false,
            unknown: BTreeMap::new(),
            checks_out: BTreeMap::new(),
            stale_answers: BTreeMap::new(),
            accepted_at: BTreeMap::new(),
            host_returned: false,
            evacuation_stopped: false,
            back_in_service: false,
            return_refusals: 0,
            model_predates_failure: true,
        }
    }

    /// A recovery continued from its persisted record by a new controller.
    pub(crate) fn resumed(record: RecoveryRecord) -> Self {
        Self {
            model_predates_failure: false,
            ..Self::new(record)
        }
    }
}
