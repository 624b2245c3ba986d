//! The core's whole view of the protected cloud, with the indexes decisions need.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Host, Instance, Segment, ServerGroup};
use crate::{HostName, InstanceId, SegmentId, ServerGroupId};

/// Why a change to the [`Cluster`] was refused. The cluster is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The segment named does not exist.
    #[error("segment {0} does not exist")]
    UnknownSegment(SegmentId),
    /// The host named does not exist.
    #[error("host {0} does not exist")]
    UnknownHost(HostName),
    /// The instance named does not exist.
    #[error("instance {0} does not exist")]
    UnknownInstance(InstanceId),
    /// A host belongs to one segment only (as in Masakari).
    #[error("host {host} already belongs to segment {segment}")]
    HostInOtherSegment {
        /// The host.
        host: HostName,
        /// The segment it is in.
        segment: SegmentId,
    },
}

/// Segments, hosts, instances and server groups, with instances indexed by host.
///
/// Ordered maps throughout, so iteration (and so every decision) is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    segments: BTreeMap<SegmentId, Segment>,
    hosts: BTreeMap<HostName, Host>,
    instances: BTreeMap<InstanceId, Instance>,
    server_groups: BTreeMap<ServerGroupId, ServerGroup>,
    #[serde(skip)]
    instances_by_host: BTreeMap<HostName, BTreeSet<InstanceId>>,
    #[serde(skip)]
    instances_by_group: BTreeMap<ServerGroupId, BTreeSet<InstanceId>>,
    #[serde(skip)]
    hosts_by_segment: BTreeMap<SegmentId, BTreeSet<HostName>>,
}

impl Cluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a segment.
    pub fn upsert_segment(&mut self, segment: Segment) {
        self.segments.insert(segment.id.clone(), segment);
    }

    /// Adds or replaces a host. Its segment must exist, and a host already known in
    /// another segment is refused.
    pub fn upsert_host(&mut self, host: Host) -> Result<(), ClusterError> {
        if !self.segments.contains_key(&host.segment) {
            return Err(ClusterError::UnknownSegment(host.segment));
        }
        if let Some(existing) = self.hosts.get(&host.name) {
            if existing.segment != host.segment {
                return Err(ClusterError::HostInOtherSegment {
                    host: host.name,
                    segment: existing.segment.clone(),
                });
            }
        }
        self.instances_by_host.entry(host.name.clone()).or_default();
        self.hosts_by_segment
            .entry(host.segment.clone())
            .or_default()
            .insert(host.name.clone());
        self.hosts.insert(host.name.clone(), host);
        Ok(())
    }

    /// Adds or replaces a server group.
    pub fn upsert_server_group(&mut self, group: ServerGroup) {
        self.server_groups.insert(group.id.clone(), group);
    }

    /// Adds or replaces an instance. Its host must exist.
    pub fn upsert_instance(&mut self, instance: Instance) -> Result<(), ClusterError> {
        if !self.hosts.contains_key(&instance.host) {
            return Err(ClusterError::UnknownHost(instance.host));
        }
        if let Some(old) = self.instances.get(&instance.id) {
            if let Some(set) = self.instances_by_host.get_mut(&old.host) {
                set.remove(&instance.id);
            }
            if let Some(group) = &old.server_group {
                if let Some(set) = self.instances_by_group.get_mut(group) {
                    set.remove(&instance.id);
                }
            }
        }
        if let Some(group) = &instance.server_group {
            self.instances_by_group
                .entry(group.clone())
                .or_default()
                .insert(instance.id.clone());
        }
        self.instances_by_host
            .entry(instance.host.clone())
            .or_default()
            .insert(instance.id.clone());
        self.instances.insert(instance.id.clone(), instance);
        Ok(())
    }

    /// Records that an instance now runs on `to`, moving its resources from its old
    /// host's usage to the new host's.
    pub fn move_instance(&mut self, id: &InstanceId, to: &HostName) -> Result<(), ClusterError> {
        if !self.hosts.contains_key(to) {
            return Err(ClusterError::UnknownHost(to.clone()));
        }
        let instance = self
            .instances
            .get_mut(id)
            .ok_or_else(|| ClusterError::UnknownInstance(id.clone()))?;
        let from = std::mem::replace(&mut instance.host, to.clone());
        let resources = instance.resources;
        if let Some(set) = self.instances_by_host.get_mut(&from) {
            set.remove(id);
        }
        self.instances_by_host
            .entry(to.clone())
            .or_default()
            .insert(id.clone());
        if let Some(h) = self.hosts.get_mut(&from) {
            h.usage = h.usage.saturating_sub(resources);
        }
        if let Some(h) = self.hosts.get_mut(to) {
            h.usage = h.usage.saturating_add(resources);
        }
        Ok(())
    }

    /// Forgets an instance (deleted in Nova).
    pub fn remove_instance(&mut self, id: &InstanceId) -> Option<Instance> {
        let instance = self.instances.remove(id)?;
        if let Some(set) = self.instances_by_host.get_mut(&instance.host) {
            set.remove(id);
        }
        if let Some(group) = &instance.server_group {
            if let Some(set) = self.instances_by_group.get_mut(group) {
                set.remove(id);
            }
        }
        Some(instance)
    }

    /// A segment by id.
    pub fn segment(&self, id: &SegmentId) -> Option<&Segment> {
        self.segments.get(id)
    }

    /// A host by name.
    pub fn host(&self, name: &HostName) -> Option<&Host> {
        self.hosts.get(name)
    }

    /// A host by name, for updates of its flags and usage.
    pub fn host_mut(&mut self, name: &HostName) -> Option<&mut Host> {
        self.hosts.get_mut(name)
    }

    /// An instance by id.
    pub fn instance(&self, id: &InstanceId) -> Option<&Instance> {
        self.instances.get(id)
    }

    /// An instance by id, for updates of its state or priority (not its host: use
    /// [`Cluster::move_instance`]; not its server group: use [`Cluster::upsert_instance`],
    /// which keeps the group index right).
    pub fn instance_mut(&mut self, id: &InstanceId) -> Option<&mut Instance> {
        self.instances.get_mut(id)
    }

    /// A server group by id.
    pub fn server_group(&self, id: &ServerGroupId) -> Option<&ServerGroup> {
        self.server_groups.get(id)
    }

    /// All segments, by id.
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.values()
    }

    /// All hosts, by name.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// All instances, by id.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    /// The hosts of one segment, by name (indexed: costs the segment's size, not the
    /// cluster's).
    pub fn hosts_in_segment<'a>(
        &'a self,
        segment: &SegmentId,
    ) -> impl Iterator<Item = &'a Host> + 'a {
        self.hosts_by_segment
            .get(segment)
            .into_iter()
            .flat_map(|names| names.iter())
            .filter_map(|name| self.hosts.get(name))
    }

    /// The instances on one host, by id.
    pub fn instances_on<'a>(&'a self, host: &HostName) -> impl Iterator<Item = &'a Instance> + 'a {
        self.instances_by_host
            .get(host)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.instances.get(id))
    }

    /// The members of one server group, by id (the planner's anti-affinity and
    /// affinity checks need where the other members run).
    pub fn members_of<'a>(
        &'a self,
        group: &ServerGroupId,
    ) -> impl Iterator<Item = &'a Instance> + 'a {
        self.instances_by_group
            .get(group)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.instances.get(id))
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Number of instances.
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// Rebuilds the host, group and segment indexes after deserialisation (they are
    /// not serialised).
    pub fn reindex(&mut self) {
        self.instances_by_host.clear();
        self.instances_by_group.clear();
        self.hosts_by_segment.clear();
        for h in self.hosts.values() {
            self.instances_by_host.entry(h.name.clone()).or_default();
            self.hosts_by_segment
                .entry(h.segment.clone())
                .or_default()
                .insert(h.name.clone());
        }
        for i in self.instances.values() {
            self.instances_by_host
                .entry(i.host.clone())
                .or_default()
                .insert(i.id.clone());
            if let Some(group) = &i.server_group {
                self.instances_by_group
                    .entry(group.clone())
                    .or_default()
                    .insert(i.id.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Capacity, Resources};

    fn cluster() -> Cluster {
        let mut c = Cluster::new();
        c.upsert_segment(Segment::new("seg", "seg"));
        for h in ["a", "b"] {
            c.upsert_host(Host::new(
                h,
                "seg",
                Capacity::with_default_ratios(8, 16384, 100),
            ))
            .unwrap();
        }
        c
    }

    #[test]
    fn a_host_needs_an_existing_segment() {
        let mut c = Cluster::new();
        let err = c.upsert_host(Host::new(
            "a",
            "nope",
            Capacity::with_default_ratios(1, 1, 1),
        ));
        assert_eq!(err, Err(ClusterError::UnknownSegment("nope".into())));
        assert_eq!(c.host_count(), 0);
    }

    #[test]
    fn a_host_cannot_join_a_second_segment() {
        let mut c = cluster();
        c.upsert_segment(Segment::new("other", "other"));
        let err = c.upsert_host(Host::new(
            "a",
            "other",
            Capacity::with_default_ratios(1, 1, 1),
        ));
        assert!(matches!(err, Err(ClusterError::HostInOtherSegment { .. })));
        assert_eq!(c.host(&"a".into()).unwrap().segment, SegmentId::from("seg"));
    }

    #[test]
    fn moving_an_instance_moves_its_index_entry_and_usage() {
        let mut c = cluster();
        let r = Resources::new(2, 2048, 20);
        c.upsert_instance(Instance::new("i1", "a", r)).unwrap();
        c.host_mut(&"a".into()).unwrap().usage = r;
        c.move_instance(&"i1".into(), &"b".into()).unwrap();
        assert_eq!(c.instances_on(&"a".into()).count(), 0);
        assert_eq!(
            c.instances_on(&"b".into())
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>(),
            vec!["i1"]
        );
        assert_eq!(c.host(&"a".into()).unwrap().usage, Resources::ZERO);
        assert_eq!(c.host(&"b".into()).unwrap().usage, r);
    }

    #[test]
    fn hosts_in_segment_lists_only_that_segments_hosts() {
        let mut c = cluster();
        c.upsert_segment(Segment::new("other", "other"));
        c.upsert_host(Host::new(
            "c",
            "other",
            Capacity::with_default_ratios(1, 1, 1),
        ))
        .unwrap();
        let names = |seg: &str| {
            c.hosts_in_segment(&seg.into())
                .map(|h| h.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("seg"), vec!["a", "b"]);
        assert_eq!(names("other"), vec!["c"]);
        assert!(names("none").is_empty());
    }

    #[test]
    fn members_of_follows_upserts_and_removals() {
        let mut c = cluster();
        let mut i1 = Instance::new("i1", "a", Resources::new(1, 1, 1));
        i1.server_group = Some("g".into());
        let mut i2 = Instance::new("i2", "b", Resources::new(1, 1, 1));
        i2.server_group = Some("g".into());
        c.upsert_instance(i1.clone()).unwrap();
        c.upsert_instance(i2).unwrap();
        let ids = |c: &Cluster| {
            c.members_of(&"g".into())
                .map(|i| i.id.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&c), vec!["i1", "i2"]);
        i1.server_group = None;
        c.upsert_instance(i1).unwrap();
        assert_eq!(ids(&c), vec!["i2"]);
        c.remove_instance(&"i2".into());
        assert!(ids(&c).is_empty());
    }

    #[test]
    fn reindex_restores_the_host_index_after_a_round_trip() {
        let mut c = cluster();
        c.upsert_instance(Instance::new("i1", "b", Resources::new(1, 1, 1)))
            .unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let mut back: Cluster = serde_json::from_str(&json).unwrap();
        back.reindex();
        assert_eq!(back.instances_on(&"b".into()).count(), 1);
        assert_eq!(back, c);
    }
}
