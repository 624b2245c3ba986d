//! The recovery log: what the engine persisted, step by step, before acting.

/// One persisted step of a recovery, as the engine wrote it.
///
/// The store does not interpret `body`: it is the engine's versioned JSON (the engine
/// puts its own format version inside). Records of one recovery are numbered by the
/// engine from 0 or 1 upwards; a sequence number is written once.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryRecord {
    /// Position in the recovery's log.
    pub seq: u64,
    /// The engine's name for the kind of step (e.g. "fence_requested").
    pub kind: String,
    /// The engine's data.
    pub body: serde_json::Value,
}

/// Every record of one recovery, in sequence order.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryLog {
    /// The recovery's id.
    pub recovery_id: String,
    /// Whether `mark_finished` was called for it.
    pub finished: bool,
    /// Its records, by ascending `seq`.
    pub records: Vec<RecoveryRecord>,
}
