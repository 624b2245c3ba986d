//! The hosts that may receive instances, indexed so a placement costs a few steps
//! rather than a scan of the segment.
//!
//! Per failover segment, per pool (ordinary or reserved hosts) and per availability
//! zone, the candidates sit in an ordered set keyed by free memory, largest first, then
//! by host name. A search walks one set from the top: the first host that fits and is
//! not excluded is the best one in that zone, and as soon as a host has less free memory
//! than the instance needs, no later host can take it either, so the walk stops there.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Cluster, Host, Resources};
use crate::{HostName, SegmentId};

use super::PlanRequest;

/// Index of a candidate host in [`Candidates`]; ordered like host names.
pub(super) type HostIdx = u32;

/// Which hosts of a segment a recovery method may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PoolKind {
    /// Hosts not flagged `reserved`: they run ordinary workload.
    Ordinary,
    /// Reserved hosts: empty standbys for the `reserved_host` methods.
    Reserved,
}

impl PoolKind {
    fn slot(self) -> usize {
        match self {
            PoolKind::Ordinary => 0,
            PoolKind::Reserved => 1,
        }
    }
}

/// One host that may receive instances.
#[derive(Debug)]
struct Candidate<'a> {
    host: &'a Host,
    segment: usize,
    kind: PoolKind,
    zone: usize,
    /// Free now: Placement's free, less in-flight claims, less what this plan placed.
    free: Resources,
}

/// The candidates of one availability zone of one pool, best first.
#[derive(Debug)]
struct Zone<'a> {
    az: &'a str,
    ranked: BTreeSet<(Reverse<u64>, HostIdx)>,
}

/// One pool of one segment, its zones sorted by name.
#[derive(Debug, Default)]
struct Pool<'a> {
    zones: Vec<Zone<'a>>,
    hosts: usize,
}

/// The two pools of one segment, and where its candidates sit in the host list.
#[derive(Debug, Default)]
struct SegmentPools<'a> {
    pools: [Pool<'a>; 2],
    /// Its candidates are `hosts[first..first + len]`, in name order.
    first: usize,
    len: usize,
}

/// What a search must respect besides capacity.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Filter<'f> {
    /// Hosts already tried for (one of) the instance(s).
    pub avoid: &'f [&'f BTreeSet<HostName>],
    /// Hosts holding a member of its hard anti-affinity group: never.
    pub forbidden: Option<&'f BTreeMap<HostIdx, u32>>,
    /// Members of its soft anti-affinity group per host: fewer is better.
    pub apart: Option<&'f BTreeMap<HostIdx, u32>>,
    /// Hosts holding members of its soft affinity group: preferred when they fit.
    pub together: Option<&'f BTreeMap<HostIdx, u32>>,
}

/// Why a search found nothing, to turn into an operator's reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Miss {
    /// Candidates of the allowed pools in the segment, any zone.
    pub pool_hosts: usize,
    /// Of those, candidates in the pinned zone (all of them when not pinned).
    pub zone_hosts: usize,
    /// Hosts with room excluded by hard anti-affinity.
    pub forbidden_with_room: usize,
    /// Hosts with room excluded because they were already tried.
    pub avoided_with_room: usize,
    /// Free resources of the candidate with the most free memory.
    pub roomiest: Option<Resources>,
}

/// The candidate hosts of the segments a plan touches.
#[derive(Debug)]
pub(super) struct Candidates<'a> {
    cluster: &'a Cluster,
    /// Segment by segment, each in host name order, so within a segment the index order
    /// is the name order (the final tie-break).
    hosts: Vec<Candidate<'a>>,
    segments: Vec<SegmentPools<'a>>,
    segment_index: BTreeMap<&'a SegmentId, usize>,
}

impl<'a> Candidates<'a> {
    /// Indexes every host of `segments` that may receive instances: not failed, not
    /// unavailable, not on maintenance. Costs the size of those segments only.
    pub fn build(req: &PlanRequest<'a>, segments: &BTreeSet<&'a SegmentId>) -> Self {
        let cluster: &'a Cluster = req.cluster;
        let segment_index: BTreeMap<&'a SegmentId, usize> =
            segments.iter().enumerate().map(|(i, s)| (*s, i)).collect();
        let mut segs: Vec<SegmentPools<'a>> = Vec::with_capacity(segments.len());
        let mut hosts = Vec::new();
        for (segment, id) in segments.iter().enumerate() {
            let mut pools = SegmentPools {
                first: hosts.len(),
                ..SegmentPools::default()
            };
            for host in cluster.hosts_in_segment(id) {
                if host.on_maintenance
                    || req.failed_hosts.contains(&host.name)
                    || req.unavailable_hosts.contains(&host.name)
                {
                    continue;
                }
                let Ok(idx) = HostIdx::try_from(hosts.len()) else {
                    break;
                };
                let free = if req.in_flight.is_empty() {
                    host.free()
                } else {
                    match req.in_flight.get(&host.name) {
                        Some(claimed) => host.free().saturating_sub(*claimed),
                        None => host.free(),
                    }
                };
                let kind = if host.reserved {
                    PoolKind::Reserved
                } else {
                    PoolKind::Ordinary
                };
                let pool = &mut pools.pools[kind.slot()];
                let az = host.availability_zone.as_str();
                let zone = match pool.zones.iter().position(|z| z.az == az) {
                    Some(z) => z,
                    None => {
                        pool.zones.push(Zone {
                            az,
                            ranked: BTreeSet::new(),
                        });
                        pool.zones.len() - 1
                    }
                };
                pool.zones[zone]
                    .ranked
                    .insert((Reverse(free.memory_mb), idx));
                pool.hosts += 1;
                hosts.push(Candidate {
                    host,
                    segment,
                    kind,
                    zone,
                    free,
                });
            }
            pools.len = hosts.len() - pools.first;
            segs.push(pools);
        }
        Self {
            cluster,
            hosts,
            segments: segs,
            segment_index,
        }
    }

    /// The candidate index of a host, if it may receive instances at all.
    pub fn index_of(&self, name: &HostName) -> Option<HostIdx> {
        let host = self.cluster.host(name)?;
        let seg = &self.segments[*self.segment_index.get(&host.segment)?];
        let range = &self.hosts[seg.first..seg.first + seg.len];
        let at = range.binary_search_by(|c| c.host.name.cmp(name)).ok()?;
        HostIdx::try_from(seg.first + at).ok()
    }

    /// A candidate's host.
    pub fn host(&self, idx: HostIdx) -> Option<&'a Host> {
        self.hosts.get(idx as usize).map(|c| c.host)
    }

    /// What a candidate has free now.
    pub fn free(&self, idx: HostIdx) -> Resources {
        self.hosts
            .get(idx as usize)
            .map_or(Resources::ZERO, |c| c.free)
    }

    /// Whether a candidate belongs to `segment`, to one of `kinds` and to `az` (if set),
    /// and none of `avoid` names it. Capacity is not checked.
    pub fn allows(
        &self,
        idx: HostIdx,
        segment: &SegmentId,
        kinds: &[PoolKind],
        az: Option<&str>,
        avoid: &[&BTreeSet<HostName>],
    ) -> bool {
        let Some(c) = self.hosts.get(idx as usize) else {
            return false;
        };
        self.segment_index.get(segment) == Some(&c.segment)
            && kinds.contains(&c.kind)
            && az.is_none_or(|az| c.host.availability_zone == az)
            && !avoid.iter().any(|a| a.contains(&c.host.name))
    }

    /// Records that this plan puts `resources` on a candidate.
    pub fn take(&mut self, idx: HostIdx, resources: Resources) {
        let Some(c) = self.hosts.get_mut(idx as usize) else {
            return;
        };
        let zone = &mut self.segments[c.segment].pools[c.kind.slot()].zones[c.zone];
        zone.ranked.remove(&(Reverse(c.free.memory_mb), idx));
        c.free = c.free.saturating_sub(resources);
        zone.ranked.insert((Reverse(c.free.memory_mb), idx));
    }

    /// The best host for `need` in `segment`: pools in the order given (the first pool
    /// with a fitting host wins), within `az` if pinned, respecting `filter`. Best means
    /// a preferred soft-affinity host if one fits, else the fewest soft-anti-affinity
    /// members, then the most free memory, then the host name.
    pub fn search(
        &self,
        segment: &SegmentId,
        kinds: &[PoolKind],
        need: Resources,
        az: Option<&str>,
        filter: &Filter<'_>,
    ) -> Result<HostIdx, Miss> {
        let mut miss = Miss::default();
        let Some(&seg) = self.segment_index.get(segment) else {
            return Err(miss);
        };
        for &kind in kinds {
            let pool = &self.segments[seg].pools[kind.slot()];
            miss.pool_hosts += pool.hosts;
            if let Some(together) = filter.together {
                if let Some(idx) = self.best_preferred(together, seg, kind, need, az, filter) {
                    return Ok(idx);
                }
            }
            // (penalty, rank key) of the best fitting host so far, across zones.
            let mut best: Option<(u32, Reverse<u64>, HostIdx)> = None;
            for zone in &pool.zones {
                if az.is_some_and(|az| az != zone.az) {
                    continue;
                }
                miss.zone_hosts += zone.ranked.len();
                if let Some(&(_, top)) = zone.ranked.first() {
                    let top_free = self.free(top);
                    if miss
                        .roomiest
                        .is_none_or(|r| top_free.memory_mb > r.memory_mb)
                    {
                        miss.roomiest = Some(top_free);
                    }
                }
                if let Some(found) = self.walk(zone, need, filter, &mut miss) {
                    if best.is_none_or(|b| found < b) {
                        best = Some(found);
                    }
                }
            }
            if let Some((_, _, idx)) = best {
                return Ok(idx);
            }
        }
        Err(miss)
    }

    /// Walks one zone from the roomiest host down; returns the best fitting host as
    /// (soft-anti-affinity penalty, rank key), stopping at the first host with no
    /// penalty or the first with too little memory.
    fn walk(
        &self,
        zone: &Zone<'_>,
        need: Resources,
        filter: &Filter<'_>,
        miss: &mut Miss,
    ) -> Option<(u32, Reverse<u64>, HostIdx)> {
        let mut best: Option<(u32, Reverse<u64>, HostIdx)> = None;
        for &(rank, idx) in &zone.ranked {
            let Reverse(free_memory) = rank;
            if free_memory < need.memory_mb {
                break;
            }
            let c = &self.hosts[idx as usize];
            let fits = need.fits_within(c.free);
            if filter.forbidden.is_some_and(|f| f.contains_key(&idx)) {
                miss.forbidden_with_room += usize::from(fits);
                continue;
            }
            if filter.avoid.iter().any(|a| a.contains(&c.host.name)) {
                miss.avoided_with_room += usize::from(fits);
                continue;
            }
            if !fits {
                continue;
            }
            let penalty = filter.apart.and_then(|m| m.get(&idx).copied()).unwrap_or(0);
            if best.is_none_or(|(p, _, _)| penalty < p) {
                best = Some((penalty, rank, idx));
            }
            if penalty == 0 {
                break;
            }
        }
        best
    }

    /// Among the hosts of a soft affinity group, the roomiest that fits and is allowed.
    fn best_preferred(
        &self,
        together: &BTreeMap<HostIdx, u32>,
        seg: usize,
        kind: PoolKind,
        need: Resources,
        az: Option<&str>,
        filter: &Filter<'_>,
    ) -> Option<HostIdx> {
        together
            .keys()
            .copied()
            .filter(|&idx| {
                let c = &self.hosts[idx as usize];
                c.segment == seg
                    && c.kind == kind
                    && az.is_none_or(|az| c.host.availability_zone == az)
                    && need.fits_within(c.free)
                    && !filter.forbidden.is_some_and(|f| f.contains_key(&idx))
                    && !filter.avoid.iter().any(|a| a.contains(&c.host.name))
            })
            .min_by_key(|&idx| (Reverse(self.hosts[idx as usize].free.memory_mb), idx))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{exact, hosts, res, ClusterBuilder};
    use super::*;
    use crate::model::RecoveryMethod;

    fn cluster() -> Cluster {
        ClusterBuilder::new()
            .segment("s", RecoveryMethod::Auto)
            .segment("other", RecoveryMethod::Auto)
            .hosts("s", &["c", "a", "b", "dead"], exact(8, 8192, 100))
            .hosts("other", &["x"], exact(64, 65536, 1000))
            .usage("a", res(0, 4096, 0))
            .build()
    }

    #[test]
    fn only_the_affected_segments_healthy_hosts_are_candidates() {
        let c = cluster();
        let failed = hosts(["dead"]);
        let req = PlanRequest::new(&c, &failed);
        let segment = SegmentId::from("s");
        let cands = Candidates::build(&req, &[&segment].into());
        let names: Vec<&str> = (0..3)
            .filter_map(|i| cands.host(i))
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(names, vec!["a", "b", "c"], "name order within the segment");
        assert_eq!(cands.index_of(&"dead".into()), None);
        assert_eq!(cands.index_of(&"x".into()), None);
        assert_eq!(cands.index_of(&"b".into()), Some(1));
    }

    #[test]
    fn taking_resources_reranks_the_host() {
        let c = cluster();
        let failed = hosts(["dead"]);
        let req = PlanRequest::new(&c, &failed);
        let segment = SegmentId::from("s");
        let mut cands = Candidates::build(&req, &[&segment].into());
        let pools = [PoolKind::Ordinary];
        let need = res(1, 1024, 1);
        let best = cands.search(&segment, &pools, need, None, &Filter::default());
        assert_eq!(best, Ok(1), "b and c tie on memory, b wins by name");
        cands.take(1, res(0, 6144, 0));
        let best = cands.search(&segment, &pools, need, None, &Filter::default());
        assert_eq!(best, Ok(2), "c is now the roomiest");
        let miss = cands
            .search(&segment, &pools, res(1, 9000, 1), None, &Filter::default())
            .unwrap_err();
        assert_eq!(miss.pool_hosts, 3);
        assert_eq!(miss.roomiest, Some(res(8, 8192, 100)));
    }
}
