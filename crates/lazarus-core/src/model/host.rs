//! A compute host as lazarus protects it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Capacity, Resources};
use crate::{HostName, SegmentId};

/// How a host is fenced (made certainly off) before its instances are evacuated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceMethod {
    /// Power off through the host's BMC (Redfish or IPMI) and read back "Off".
    Bmc,
    /// The host's agent feeds a watchdog that reboots an isolated host within a known
    /// time; fenced once that time plus a margin has passed since its last heartbeat.
    Watchdog,
    /// No automatic fencing: an operator or a trusted monitor must confirm the host is off.
    Manual,
}

/// A compute host: one nova-compute service, member of exactly one failover segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Nova's name for the compute service's host.
    pub name: HostName,
    /// The failover segment it belongs to (Masakari allows one segment per host).
    pub segment: SegmentId,
    /// A reserved host takes no ordinary workload and is the failover target of the
    /// `reserved_host` and `rh_priority` recovery methods.
    pub reserved: bool,
    /// Under maintenance: not a failover target and not monitored for failure.
    pub on_maintenance: bool,
    /// The availability zone of its aggregate (Nova's default is `nova`).
    pub availability_zone: String,
    /// Host aggregates it belongs to.
    pub aggregates: BTreeSet<String>,
    /// Placement inventories.
    pub capacity: Capacity,
    /// Placement usages: what its allocations consume now.
    pub usage: Resources,
    /// How it is fenced.
    pub fence_method: FenceMethod,
}

impl Host {
    /// A host with no reservations, not under maintenance, in AZ `nova`, fenced by BMC.
    pub fn new(
        name: impl Into<HostName>,
        segment: impl Into<SegmentId>,
        capacity: Capacity,
    ) -> Self {
        Self {
            name: name.into(),
            segment: segment.into(),
            reserved: false,
            on_maintenance: false,
            availability_zone: "nova".to_owned(),
            aggregates: BTreeSet::new(),
            capacity,
            usage: Resources::ZERO,
            fence_method: FenceMethod::Bmc,
        }
    }

    /// What can still be allocated on it.
    pub fn free(&self) -> Resources {
        self.capacity.allocatable().saturating_sub(self.usage)
    }
}
