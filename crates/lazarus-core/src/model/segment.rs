//! Failover segments: the sets of hosts that fail over into one another.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::SegmentId;

/// How a segment recovers a failed host's instances, as Masakari defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMethod {
    /// Evacuate onto any healthy non-reserved host chosen by capacity.
    Auto,
    /// Evacuate onto reserved hosts only.
    ReservedHost,
    /// Try `Auto`; fall back to `ReservedHost` for what it could not place.
    AutoPriority,
    /// Try `ReservedHost`; fall back to `Auto` for what it could not place.
    RhPriority,
}

/// lazarus's own knobs for recovering a segment's hosts, beyond Masakari's method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPolicy {
    /// Evacuations in flight at once per recovery.
    pub max_parallel_evacuations: u32,
    /// Attempts per instance (first try included) before it is given up with a reason.
    pub max_attempts_per_instance: u32,
    /// How long an evacuated instance may take to reach its expected state.
    pub verify_timeout: Duration,
}

impl Default for RecoveryPolicy {
    fn default() -> Self {
        Self {
            max_parallel_evacuations: 8,
            max_attempts_per_instance: 3,
            verify_timeout: Duration::from_secs(300),
        }
    }
}

/// A failover segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Segment UUID.
    pub id: SegmentId,
    /// Unique name.
    pub name: String,
    /// Masakari's recovery method.
    pub recovery_method: RecoveryMethod,
    /// A disabled segment is not recovered (Masakari API 1.2).
    pub enabled: bool,
    /// lazarus's recovery knobs.
    pub policy: RecoveryPolicy,
}

impl Segment {
    /// An enabled segment with the `Auto` method and default policy.
    pub fn new(id: impl Into<SegmentId>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            recovery_method: RecoveryMethod::Auto,
            enabled: true,
            policy: RecoveryPolicy::default(),
        }
    }
}
