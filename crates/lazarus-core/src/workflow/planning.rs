//! Calling the planner for a recovery: which hosts are failed or unavailable, what is
//! already in flight towards which host.

use std::collections::{BTreeMap, BTreeSet};

use super::InstanceStep;
use crate::detector::HostHealth;
use crate::engine::Engine;
use crate::model::Resources;
use crate::planner;
use crate::{HostName, InstanceId};

/// A placement decision for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placed {
    /// Place it on this host.
    On(HostName),
    /// It cannot be placed, and why.
    Not(String),
}

impl Engine {
    /// Plans `only` (or every protected instance of the failed hosts), avoiding the
    /// hosts given per instance. Results in planner order (highest priority first).
    pub(crate) fn plan_placements(
        &self,
        only: Option<&BTreeSet<InstanceId>>,
        avoid: &BTreeMap<InstanceId, BTreeSet<HostName>>,
    ) -> Vec<(InstanceId, Placed)> {
        let failed_hosts: BTreeSet<HostName> = self.recoveries.keys().cloned().collect();
        let unavailable_hosts = self.unavailable_hosts();
        let in_flight = self.in_flight();
        let plan = planner::plan(&planner::PlanRequest {
            cluster: &self.cluster,
            failed_hosts: &failed_hosts,
            unavailable_hosts: &unavailable_hosts,
            avoid,
            only,
            in_flight: &in_flight,
        });
        let mut out = Vec::with_capacity(plan.placements.len() + plan.unplaced.len());
        for p in plan.placements {
            out.push((p.instance, Placed::On(p.to)));
        }
        for u in plan.unplaced {
            out.push((u.instance, Placed::Not(u.reason.to_string())));
        }
        out
    }

    /// Hosts that must not receive evacuations: judged anything but up by the
    /// detector, disabled or down in Nova, or disabled by lazarus for a process.
    fn unavailable_hosts(&self) -> BTreeSet<HostName> {
        let mut set = BTreeSet::new();
        for h in self.cluster.hosts() {
            let health = self.detector.health(&h.name);
            let bad_health = match health {
                Some(HostHealth::Up) | Some(HostHealth::Unmonitored) | None => false,
                Some(HostHealth::Suspect)
                | Some(HostHealth::Partitioned)
                | Some(HostHealth::Isolated)
                | Some(HostHealth::Failed) => true,
            };
            let bad_nova = self
                .nova
                .get(&h.name)
                .is_some_and(|s| s.disabled || s.forced_down || !s.up);
            if bad_health || bad_nova || self.processes.hosts.contains_key(&h.name) {
                set.insert(h.name.clone());
            }
        }
        set
    }

    /// Resources on their way to each host: evacuations planned, requested or
    /// accepted but not yet verified (the cluster's usage moves only when verified).
    fn in_flight(&self) -> BTreeMap<HostName, Resources> {
        let mut m: BTreeMap<HostName, Resources> = BTreeMap::new();
        for r in self.recoveries.values() {
            for i in r.record.instances.values() {
                let target = match &i.step {
                    InstanceStep::Planned { target }
                    | InstanceStep::Requested { target, .. }
                    | InstanceStep::Accepted { target, .. } => target,
                    InstanceStep::Recovered { .. } | InstanceStep::GivenUp { .. } => continue,
                };
                let e = m.entry(target.clone()).or_default();
                *e = e.saturating_add(i.resources);
            }
        }
        m
    }
}
