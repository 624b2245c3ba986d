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
    /// Instances whose evacuation request has an unknown fate, and what to do once a
    /// check shows no evacuation of them in progress.
    pub(crate) unknown: BTreeMap<InstanceId, Unknown>,
    /// When each in-flight evacuation was accepted (or found in flight on resume), for
    /// the verification timeout.
    pub(crate) accepted_at: BTreeMap<InstanceId, Timestamp>,
    /// The host's compute reported again while the recovery was still running.
    pub(crate) host_returned: bool,
}

impl Recovery {
    pub(crate) fn new(record: RecoveryRecord) -> Self {
        Self {
            record,
            power_reads: 0,
            power_read_pending: false,
            unknown: BTreeMap::new(),
            accepted_at: BTreeMap::new(),
            host_returned: false,
        }
    }
}
