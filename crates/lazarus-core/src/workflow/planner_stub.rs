//! TEMPORARY stand-in with the planner's API (crate::planner), until it lands.
//! Places each instance on the first host of its segment with room. Delete this file
//! when `crate::planner` exists.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{Cluster, Resources, RestartPriority};
use crate::{HostName, InstanceId};

pub(crate) struct PlanRequest<'a> {
    pub cluster: &'a Cluster,
    pub failed_hosts: &'a BTreeSet<HostName>,
    pub unavailable_hosts: &'a BTreeSet<HostName>,
    pub avoid: &'a BTreeMap<InstanceId, BTreeSet<HostName>>,
    pub only: Option<&'a BTreeSet<InstanceId>>,
    pub in_flight: &'a BTreeMap<HostName, Resources>,
}

pub(crate) struct Plan {
    pub placements: Vec<Placement>,
    pub unplaced: Vec<Unplaced>,
}

pub(crate) struct Placement {
    pub instance: InstanceId,
    #[allow(dead_code)]
    pub from: HostName,
    pub to: HostName,
    #[allow(dead_code)]
    pub priority: RestartPriority,
    #[allow(dead_code)]
    pub resources: Resources,
}

pub(crate) struct Unplaced {
    pub instance: InstanceId,
    #[allow(dead_code)]
    pub from: HostName,
    #[allow(dead_code)]
    pub priority: RestartPriority,
    pub reason: UnplacedReason,
}

pub(crate) struct UnplacedReason;

impl fmt::Display for UnplacedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no healthy host in the segment has room")
    }
}

pub(crate) fn plan(req: &PlanRequest<'_>) -> Plan {
    let mut used: BTreeMap<HostName, Resources> = req.in_flight.clone();
    let mut out = Plan {
        placements: Vec::new(),
        unplaced: Vec::new(),
    };
    let mut todo: Vec<_> = req
        .failed_hosts
        .iter()
        .flat_map(|h| req.cluster.instances_on(h))
        .filter(|i| i.is_protected())
        .filter(|i| req.only.is_none_or(|o| o.contains(&i.id)))
        .collect();
    todo.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    for i in todo {
        let Some(from) = req.cluster.host(&i.host) else {
            continue;
        };
        let avoid = req.avoid.get(&i.id);
        let target = req.cluster.hosts_in_segment(&from.segment).find(|h| {
            !req.failed_hosts.contains(&h.name)
                && !req.unavailable_hosts.contains(&h.name)
                && !h.on_maintenance
                && !avoid.is_some_and(|a| a.contains(&h.name))
                && h.usage
                    .saturating_add(used.get(&h.name).copied().unwrap_or_default())
                    .saturating_add(i.resources)
                    .fits_within(h.capacity.allocatable())
        });
        match target {
            Some(h) => {
                let e = used.entry(h.name.clone()).or_default();
                *e = e.saturating_add(i.resources);
                out.placements.push(Placement {
                    instance: i.id.clone(),
                    from: i.host.clone(),
                    to: h.name.clone(),
                    priority: i.priority,
                    resources: i.resources,
                });
            }
            None => out.unplaced.push(Unplaced {
                instance: i.id.clone(),
                from: i.host.clone(),
                priority: i.priority,
                reason: UnplacedReason,
            }),
        }
    }
    out
}
