//! Test fixtures: a cluster builder whose usages always match the instances placed.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Capacity, Cluster, GroupPolicy, Host, Instance, Inventory, RecoveryMethod, Resources, Segment,
    ServerGroup,
};
use crate::{HostName, InstanceId};

/// A capacity with no overcommit and nothing reserved, so sums are easy to read.
pub fn exact(vcpu: u64, memory_mb: u64, disk_gb: u64) -> Capacity {
    Capacity {
        vcpu: Inventory::exact(vcpu),
        memory_mb: Inventory::exact(memory_mb),
        disk_gb: Inventory::exact(disk_gb),
    }
}

/// Shorthand for a flavor.
pub fn res(vcpu: u64, memory_mb: u64, disk_gb: u64) -> Resources {
    Resources::new(vcpu, memory_mb, disk_gb)
}

/// A set of host names.
pub fn hosts<const N: usize>(names: [&str; N]) -> BTreeSet<HostName> {
    names.into_iter().map(HostName::from).collect()
}

/// A set of instance ids.
pub fn ids<const N: usize>(names: [&str; N]) -> BTreeSet<InstanceId> {
    names.into_iter().map(InstanceId::from).collect()
}

/// Builds a [`Cluster`]; each instance added also adds its resources to its host's
/// usage, as Placement would report.
#[derive(Debug, Default)]
pub struct ClusterBuilder {
    cluster: Cluster,
}

impl ClusterBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A segment with the given recovery method, enabled.
    pub fn segment(self, id: &str, method: RecoveryMethod) -> Self {
        self.segment_with(id, method, |_| {})
    }

    /// A segment, adjusted by `f`.
    pub fn segment_with(
        mut self,
        id: &str,
        method: RecoveryMethod,
        f: impl FnOnce(&mut Segment),
    ) -> Self {
        let mut s = Segment::new(id, id);
        s.recovery_method = method;
        f(&mut s);
        self.cluster.upsert_segment(s);
        self
    }

    /// Ordinary hosts of one capacity, in AZ `nova`.
    pub fn hosts(mut self, segment: &str, names: &[&str], capacity: Capacity) -> Self {
        for name in names {
            self = self.host_with(name, segment, capacity, |_| {});
        }
        self
    }

    /// A reserved host.
    pub fn reserved_host(self, name: &str, segment: &str, capacity: Capacity) -> Self {
        self.host_with(name, segment, capacity, |h| h.reserved = true)
    }

    /// A host, adjusted by `f` (AZ, maintenance, reserved...).
    pub fn host_with(
        mut self,
        name: &str,
        segment: &str,
        capacity: Capacity,
        f: impl FnOnce(&mut Host),
    ) -> Self {
        let mut h = Host::new(name, segment, capacity);
        f(&mut h);
        self.cluster.upsert_host(h).expect("segment exists");
        self
    }

    /// A server group.
    pub fn group(mut self, id: &str, policy: GroupPolicy) -> Self {
        self.cluster.upsert_server_group(ServerGroup {
            id: id.into(),
            policy,
        });
        self
    }

    /// A protected, active, medium-priority instance.
    pub fn instance(self, id: &str, host: &str, resources: Resources) -> Self {
        self.instance_with(id, host, resources, |_| {})
    }

    /// An instance adjusted by `f` (priority, state, AZ pin, group...).
    pub fn instance_with(
        mut self,
        id: &str,
        host: &str,
        resources: Resources,
        f: impl FnOnce(&mut Instance),
    ) -> Self {
        let mut i = Instance::new(id, host, resources);
        f(&mut i);
        let h = self.cluster.host_mut(&host.into()).expect("host exists");
        h.usage = h.usage.saturating_add(resources);
        self.cluster.upsert_instance(i).expect("host exists");
        self
    }

    /// Sets a host's usage outright (e.g. load not modelled as instances).
    pub fn usage(mut self, host: &str, usage: Resources) -> Self {
        self.cluster
            .host_mut(&host.into())
            .expect("host exists")
            .usage = usage;
        self
    }

    pub fn build(self) -> Cluster {
        self.cluster
    }
}

/// `(instance, target)` pairs of a plan, in plan order, as strings.
pub fn targets(plan: &super::Plan) -> Vec<(String, String)> {
    plan.placements
        .iter()
        .map(|p| (p.instance.to_string(), p.to.to_string()))
        .collect()
}

/// The reason of each unplaced instance, by id.
pub fn reasons(plan: &super::Plan) -> BTreeMap<String, super::UnplacedReason> {
    plan.unplaced
        .iter()
        .map(|u| (u.instance.to_string(), u.reason.clone()))
        .collect()
}
