//! The placement loop: gather the instances, group hard-affinity members, place the
//! units highest priority first, and explain every instance left behind.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use super::candidates::{Candidates, Filter, HostIdx, Miss, PoolKind};
use super::{Placement, Plan, PlanRequest, Unplaced, UnplacedReason};
use crate::model::{GroupPolicy, Instance, RecoveryMethod, Resources, RestartPriority, Segment};
use crate::{HostName, SegmentId, ServerGroupId};

/// An instance to place: protected, evacuable, on a failed host of an enabled segment.
#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    instance: &'a Instance,
    segment: &'a Segment,
}

/// What is known of one server group the plan touches.
#[derive(Debug)]
struct GroupState<'a> {
    policy: GroupPolicy,
    /// Members per candidate host, counting both those running there and those this
    /// plan sends there.
    members_on: BTreeMap<HostIdx, u32>,
    /// For hard affinity: the healthy host most of its other members run on.
    anchor: Option<&'a HostName>,
}

/// Instances placed together: one, or the members of a hard affinity group.
#[derive(Debug)]
struct Unit<'a> {
    items: Vec<Item<'a>>,
    priority: RestartPriority,
    resources: Resources,
    affinity: Option<&'a ServerGroupId>,
}

impl Unit<'_> {
    fn order_key(&self) -> OrderKey<&str> {
        let id = self.items.first().map_or("", |i| i.instance.id.as_str());
        order_key(self.priority, self.resources, id)
    }
}

/// Evacuation order: priority (highest first), then size (memory, VCPU, disk; largest
/// first, which also packs better), then id.
type OrderKey<Id> = (Reverse<RestartPriority>, Reverse<(u64, u64, u64)>, Id);

fn order_key<Id>(priority: RestartPriority, r: Resources, id: Id) -> OrderKey<Id> {
    (
        Reverse(priority),
        Reverse((r.memory_mb, r.vcpu, r.disk_gb)),
        id,
    )
}

/// The pools a recovery method may use, in the order it tries them (Masakari's
/// semantics: reserved hosts take no ordinary workload).
fn pools_for(method: RecoveryMethod) -> &'static [PoolKind] {
    match method {
        RecoveryMethod::Auto => &[PoolKind::Ordinary],
        RecoveryMethod::ReservedHost => &[PoolKind::Reserved],
        RecoveryMethod::AutoPriority => &[PoolKind::Ordinary, PoolKind::Reserved],
        RecoveryMethod::RhPriority => &[PoolKind::Reserved, PoolKind::Ordinary],
    }
}

/// The planner run for one request.
#[derive(Debug)]
pub(super) struct Engine<'a> {
    req: PlanRequest<'a>,
    placements: Vec<Placement>,
    unplaced: Vec<Unplaced>,
}

impl<'a> Engine<'a> {
    pub fn new(req: PlanRequest<'a>) -> Self {
        Self {
            req,
            placements: Vec::new(),
            unplaced: Vec::new(),
        }
    }

    pub fn run(mut self) -> Plan {
        let items = self.gather();
        let segments: BTreeSet<&'a SegmentId> = items.iter().map(|i| &i.segment.id).collect();
        let mut candidates = Candidates::build(&self.req, &segments);
        let mut groups = self.group_states(&items, &candidates);
        let mut units = units(items, &groups);
        units.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        for unit in &units {
            self.place(unit, &mut candidates, &mut groups);
        }
        self.placements.sort_by(|a, b| {
            order_key(a.priority, a.resources, &a.instance).cmp(&order_key(
                b.priority,
                b.resources,
                &b.instance,
            ))
        });
        let cluster = self.req.cluster;
        self.unplaced.sort_by_cached_key(|u| {
            let r = cluster
                .instance(&u.instance)
                .map_or(Resources::ZERO, |i| i.resources);
            order_key(u.priority, r, u.instance.clone())
        });
        Plan {
            placements: self.placements,
            unplaced: self.unplaced,
        }
    }

    /// The instances to place; those that cannot be are recorded as unplaced.
    fn gather(&mut self) -> Vec<Item<'a>> {
        let cluster = self.req.cluster;
        let mut items = Vec::new();
        match self.req.only {
            Some(only) => {
                for id in only {
                    // An id the cluster does not know has no host to evacuate from.
                    let Some(instance) = cluster.instance(id) else {
                        continue;
                    };
                    if !self.req.failed_hosts.contains(&instance.host) {
                        self.reject(
                            instance,
                            UnplacedReason::NotOnFailedHost(instance.host.clone()),
                        );
                    } else if !instance.is_protected() {
                        self.reject(instance, UnplacedReason::NotProtected);
                    } else {
                        match self.segment_of(&instance.host) {
                            Ok(segment) => self.admit(instance, segment, &mut items),
                            Err(reason) => self.reject(instance, reason),
                        }
                    }
                }
            }
            None => {
                for host in self.req.failed_hosts {
                    let segment = self.segment_of(host);
                    for instance in cluster.instances_on(host) {
                        if !instance.is_protected() {
                            continue;
                        }
                        match &segment {
                            Ok(segment) => self.admit(instance, segment, &mut items),
                            Err(reason) => self.reject(instance, reason.clone()),
                        }
                    }
                }
            }
        }
        items
    }

    /// The enabled segment of a failed host, or why its instances cannot be recovered.
    fn segment_of(&self, host: &HostName) -> Result<&'a Segment, UnplacedReason> {
        let cluster = self.req.cluster;
        let host = cluster
            .host(host)
            .ok_or_else(|| UnplacedReason::HostUnknown(host.clone()))?;
        let segment = cluster
            .segment(&host.segment)
            .ok_or_else(|| UnplacedReason::SegmentUnknown(host.segment.clone()))?;
        if segment.enabled {
            Ok(segment)
        } else {
            Err(UnplacedReason::SegmentDisabled(segment.id.clone()))
        }
    }

    /// Admits a protected instance of a failed host of an enabled segment, if Nova can
    /// evacuate it.
    fn admit(&mut self, instance: &'a Instance, segment: &'a Segment, items: &mut Vec<Item<'a>>) {
        if instance.vm_state.is_evacuable() {
            items.push(Item { instance, segment });
        } else {
            self.reject(instance, UnplacedReason::NotEvacuable(instance.vm_state));
        }
    }

    fn reject(&mut self, instance: &Instance, reason: UnplacedReason) {
        self.unplaced.push(Unplaced {
            instance: instance.id.clone(),
            from: instance.host.clone(),
            priority: instance.priority,
            reason,
        });
    }

    /// Where the members of each group the items belong to run now.
    fn group_states(
        &self,
        items: &[Item<'a>],
        candidates: &Candidates<'a>,
    ) -> BTreeMap<&'a ServerGroupId, GroupState<'a>> {
        let cluster = self.req.cluster;
        let mut groups = BTreeMap::new();
        for item in items {
            let Some(id) = &item.instance.server_group else {
                continue;
            };
            if groups.contains_key(id) {
                continue;
            }
            // A group the cluster does not know imposes nothing.
            let Some(group) = cluster.server_group(id) else {
                continue;
            };
            let mut members_on: BTreeMap<HostIdx, u32> = BTreeMap::new();
            let mut survivors: BTreeMap<&'a HostName, u32> = BTreeMap::new();
            for member in cluster.members_of(id) {
                if let Some(idx) = candidates.index_of(&member.host) {
                    *members_on.entry(idx).or_default() += 1;
                }
                if !self.req.failed_hosts.contains(&member.host) {
                    *survivors.entry(&member.host).or_default() += 1;
                }
            }
            let anchor = survivors
                .into_iter()
                .max_by_key(|&(host, n)| (n, Reverse(host)))
                .map(|(host, _)| host);
            groups.insert(
                id,
                GroupState {
                    policy: group.policy,
                    members_on,
                    anchor,
                },
            );
        }
        groups
    }

    fn place(
        &mut self,
        unit: &Unit<'a>,
        candidates: &mut Candidates<'a>,
        groups: &mut BTreeMap<&'a ServerGroupId, GroupState<'a>>,
    ) {
        let Some(first) = unit.items.first() else {
            return;
        };
        let segment = first.segment;
        let kinds = pools_for(segment.recovery_method);
        match unit.affinity {
            Some(group) => {
                let anchor = groups.get(group).and_then(|g| g.anchor);
                self.place_affinity(unit, group, anchor, kinds, candidates);
            }
            None => self.place_single(first, kinds, candidates, groups),
        }
    }

    /// Places one instance, honouring its group's anti-affinity or soft policy.
    fn place_single(
        &mut self,
        item: &Item<'a>,
        kinds: &[PoolKind],
        candidates: &mut Candidates<'a>,
        groups: &mut BTreeMap<&'a ServerGroupId, GroupState<'a>>,
    ) {
        let instance = item.instance;
        let group_id = instance.server_group.as_ref();
        let group = group_id.and_then(|g| groups.get(g));
        let avoid_set = self.req.avoid.get(&instance.id);
        let avoid: Vec<&BTreeSet<HostName>> = avoid_set.into_iter().collect();
        let mut filter = Filter {
            avoid: &avoid,
            ..Filter::default()
        };
        if let Some(g) = group {
            match g.policy {
                GroupPolicy::AntiAffinity => filter.forbidden = Some(&g.members_on),
                GroupPolicy::SoftAntiAffinity => filter.apart = Some(&g.members_on),
                GroupPolicy::SoftAffinity => filter.together = Some(&g.members_on),
                // Hard affinity members are placed as units; one left here (a group
                // the cluster does not describe) has no constraint.
                GroupPolicy::Affinity => {}
            }
        }
        let az = instance.pinned_az.as_deref();
        let found = candidates.search(&item.segment.id, kinds, instance.resources, az, &filter);
        match found {
            Ok(idx) => {
                self.accept(instance, idx, candidates);
                if let Some(g) = group_id.and_then(|g| groups.get_mut(g)) {
                    *g.members_on.entry(idx).or_default() += 1;
                }
            }
            Err(miss) => {
                let reason = explain(&miss, item, kinds, avoid_set.map_or(0, BTreeSet::len));
                self.reject(instance, reason);
            }
        }
    }

    /// Places the members of a hard affinity group together, or none of them.
    fn place_affinity(
        &mut self,
        unit: &Unit<'a>,
        group: &'a ServerGroupId,
        anchor: Option<&'a HostName>,
        kinds: &[PoolKind],
        candidates: &mut Candidates<'a>,
    ) {
        let Some(first) = unit.items.first() else {
            return;
        };
        let segment = &first.segment.id;
        let mut pins = unit
            .items
            .iter()
            .filter_map(|i| i.instance.pinned_az.as_deref());
        let az = pins.next();
        if pins.any(|p| Some(p) != az) {
            return self.reject_all(unit, UnplacedReason::AffinityGroupSpansAzs(group.clone()));
        }
        let avoid: Vec<&BTreeSet<HostName>> = unit
            .items
            .iter()
            .filter_map(|i| self.req.avoid.get(&i.instance.id))
            .collect();
        let target = match anchor {
            Some(host) => {
                let idx = candidates
                    .index_of(host)
                    .filter(|&idx| candidates.allows(idx, segment, kinds, az, &avoid));
                let Some(idx) = idx else {
                    return self.reject_all(
                        unit,
                        UnplacedReason::AffinityHostNotAllowed {
                            group: group.clone(),
                            host: host.clone(),
                        },
                    );
                };
                let free = candidates.free(idx);
                if !unit.resources.fits_within(free) {
                    return self.reject_all(
                        unit,
                        UnplacedReason::AffinityHostFull {
                            group: group.clone(),
                            host: host.clone(),
                            needed: unit.resources,
                            free,
                        },
                    );
                }
                idx
            }
            None => {
                let filter = Filter {
                    avoid: &avoid,
                    ..Filter::default()
                };
                match candidates.search(segment, kinds, unit.resources, az, &filter) {
                    Ok(idx) => idx,
                    Err(_) => {
                        return self.reject_all(
                            unit,
                            UnplacedReason::AffinityGroupDoesNotFit {
                                group: group.clone(),
                                members: unit.items.len(),
                                needed: unit.resources,
                            },
                        )
                    }
                }
            }
        };
        for item in &unit.items {
            self.accept(item.instance, target, candidates);
        }
    }

    fn accept(&mut self, instance: &Instance, idx: HostIdx, candidates: &mut Candidates<'a>) {
        let Some(host) = candidates.host(idx) else {
            return self.reject(instance, UnplacedReason::HostUnknown(instance.host.clone()));
        };
        candidates.take(idx, instance.resources);
        self.placements.push(Placement {
            instance: instance.id.clone(),
            from: instance.host.clone(),
            to: host.name.clone(),
            priority: instance.priority,
            resources: instance.resources,
        });
    }

    fn reject_all(&mut self, unit: &Unit<'a>, reason: UnplacedReason) {
        for item in &unit.items {
            self.reject(item.instance, reason.clone());
        }
    }
}

/// Groups the items into units: hard affinity members of one segment together.
fn units<'a>(
    items: Vec<Item<'a>>,
    groups: &BTreeMap<&'a ServerGroupId, GroupState<'a>>,
) -> Vec<Unit<'a>> {
    let mut units = Vec::with_capacity(items.len());
    let mut affinity: BTreeMap<(&'a ServerGroupId, &'a SegmentId), usize> = BTreeMap::new();
    for item in items {
        let hard_group = item.instance.server_group.as_ref().filter(|g| {
            groups
                .get(g)
                .is_some_and(|s| s.policy == GroupPolicy::Affinity)
        });
        let Some(group) = hard_group else {
            units.push(Unit {
                items: vec![item],
                priority: item.instance.priority,
                resources: item.instance.resources,
                affinity: None,
            });
            continue;
        };
        match affinity.get(&(group, &item.segment.id)) {
            Some(&u) => {
                let unit = &mut units[u];
                unit.priority = unit.priority.max(item.instance.priority);
                unit.resources = unit.resources.saturating_add(item.instance.resources);
                unit.items.push(item);
            }
            None => {
                affinity.insert((group, &item.segment.id), units.len());
                units.push(Unit {
                    items: vec![item],
                    priority: item.instance.priority,
                    resources: item.instance.resources,
                    affinity: Some(group),
                });
            }
        }
    }
    units
}

/// Turns a failed search into the reason an operator reads, most specific first.
fn explain(miss: &Miss, item: &Item<'_>, kinds: &[PoolKind], tried: usize) -> UnplacedReason {
    let instance = item.instance;
    if miss.pool_hosts == 0 {
        return match kinds {
            [PoolKind::Reserved] => UnplacedReason::NoReservedHost(item.segment.id.clone()),
            _ => UnplacedReason::NoTargetHost(item.segment.id.clone()),
        };
    }
    if miss.zone_hosts == 0 {
        if let Some(az) = &instance.pinned_az {
            return UnplacedReason::NoHostInPinnedAz(az.clone());
        }
    }
    if miss.forbidden_with_room > 0 {
        if let Some(group) = &instance.server_group {
            return UnplacedReason::AntiAffinityExhausted {
                group: group.clone(),
                hosts_excluded: miss.forbidden_with_room,
            };
        }
    }
    if miss.avoided_with_room > 0 {
        return UnplacedReason::AllCandidatesTried { tried };
    }
    UnplacedReason::NoCapacity {
        needed: instance.resources,
        largest_free: miss.roomiest.unwrap_or(Resources::ZERO),
    }
}
