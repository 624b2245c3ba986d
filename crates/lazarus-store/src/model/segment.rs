//! Failover segments: sets of hosts that fail over into one another.

use crate::model::wire_enum;
use crate::Time;

wire_enum!(
    /// How a segment recovers a failed host's instances (Masakari's `recovery_method`).
    RecoveryMethod {
        /// Evacuate onto any healthy host.
        Auto => "auto",
        /// Evacuate onto reserved hosts only.
        ReservedHost => "reserved_host",
        /// `auto`, falling back to reserved hosts.
        AutoPriority => "auto_priority",
        /// Reserved hosts, falling back to `auto`.
        RhPriority => "rh_priority",
    }
);

/// A stored failover segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Numeric id, assigned by the store in creation order (Masakari exposes it as `id`).
    pub id: i64,
    /// UUID, chosen by the caller.
    pub uuid: String,
    /// Unique among live segments.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// How hosts of this segment are recovered.
    pub recovery_method: RecoveryMethod,
    /// Free string (Masakari's `service_type`, usually "COMPUTE").
    pub service_type: String,
    /// A disabled segment is not recovered (API 1.2).
    pub enabled: bool,
    /// When it was created.
    pub created_at: Time,
    /// When it was last changed, if ever.
    pub updated_at: Option<Time>,
}

/// What a new segment is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSegment {
    /// UUID, chosen by the caller.
    pub uuid: String,
    /// Must not be the name of a live segment.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// How hosts of this segment are recovered.
    pub recovery_method: RecoveryMethod,
    /// Free string.
    pub service_type: String,
    /// Whether the segment is recovered.
    pub enabled: bool,
}

/// A partial update of a segment: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentUpdate {
    /// New unique name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New recovery method.
    pub recovery_method: Option<RecoveryMethod>,
    /// New service type.
    pub service_type: Option<String>,
    /// New enabled flag.
    pub enabled: Option<bool>,
}

/// Which segments a list returns; every `Some` must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentFilter {
    /// Only this recovery method.
    pub recovery_method: Option<RecoveryMethod>,
    /// Only this service type.
    pub service_type: Option<String>,
    /// Only enabled (or only disabled) segments.
    pub enabled: Option<bool>,
}
