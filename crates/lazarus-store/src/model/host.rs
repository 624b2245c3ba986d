//! Hosts: compute nodes that belong to one failover segment.

use crate::Time;

/// A stored host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Numeric id, assigned by the store.
    pub id: i64,
    /// UUID, chosen by the caller.
    pub uuid: String,
    /// Nova compute host name; unique among live hosts deployment-wide, so a host is in at
    /// most one segment.
    pub name: String,
    /// Masakari's free `type` (e.g. "COMPUTE").
    pub host_type: String,
    /// Masakari's free `control_attributes` (e.g. "SSH").
    pub control_attributes: String,
    /// A reserved host only receives instances under `reserved_host` methods.
    pub reserved: bool,
    /// Notifications from a host on maintenance are refused.
    pub on_maintenance: bool,
    /// UUID of the segment the host belongs to.
    pub failover_segment_id: String,
    /// When it was created.
    pub created_at: Time,
    /// When it was last changed, if ever.
    pub updated_at: Option<Time>,
}

/// What a new host is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHost {
    /// UUID, chosen by the caller.
    pub uuid: String,
    /// Must not be the name of a live host in any segment.
    pub name: String,
    /// Masakari's `type`.
    pub host_type: String,
    /// Masakari's `control_attributes`.
    pub control_attributes: String,
    /// Reserved for `reserved_host` recovery.
    pub reserved: bool,
    /// On maintenance.
    pub on_maintenance: bool,
}

/// A partial update of a host: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostUpdate {
    /// New unique name.
    pub name: Option<String>,
    /// New type.
    pub host_type: Option<String>,
    /// New control attributes.
    pub control_attributes: Option<String>,
    /// New reserved flag.
    pub reserved: Option<bool>,
    /// New maintenance flag.
    pub on_maintenance: Option<bool>,
}

/// Which hosts a list returns; every `Some` must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFilter {
    /// Only hosts of this segment (uuid).
    pub failover_segment_id: Option<String>,
    /// Only the host of this name.
    pub name: Option<String>,
    /// Only hosts of this type.
    pub host_type: Option<String>,
    /// Only hosts with these control attributes.
    pub control_attributes: Option<String>,
    /// Only hosts on (or off) maintenance.
    pub on_maintenance: Option<bool>,
    /// Only reserved (or unreserved) hosts.
    pub reserved: Option<bool>,
}
