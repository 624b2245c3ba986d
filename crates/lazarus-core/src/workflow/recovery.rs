//! One recovery under way: its persisted record and what the engine keeps in memory
//! only (in-flight requests, which a new controller re-establishes by checking).

use std::collections::{BTreeMap, BTreeSet};

use crate::{InstanceId, Timestamp};

use super::RecoveryRecord;

/// A recovery under way.
#[derive(Debug, Clone)]
pub(crate) struct Recovery {
    /// The persisted state.
    pub(crate) record: RecoveryRecord,
    /// Power reads made in the current fence attempt.
    pub(crate) power_reads: u32,
    /// A power read is in flight.
    pub(crate) power_read_pending: bool,
    /// Instances checked and not yet observed.
    pub(crate) awaiting_check: BTreeSet<InstanceId>,
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
            awaiting_check: BTreeSet::new(),
            accepted_at: BTreeMap::new(),
            host_returned: false,
        }
    }
}
