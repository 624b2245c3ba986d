//! Properties that hold for any cluster: nothing over-committed, every placement valid,
//! every instance accounted for exactly once.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::fixtures::{res, ClusterBuilder};
use super::{plan, Plan, PlanRequest};
use crate::model::{
    Capacity, Cluster, GroupPolicy, Inventory, RecoveryMethod, Resources, RestartPriority, VmState,
};
use crate::{HostName, InstanceId};

const SEGMENTS: usize = 3;
const GROUPS: usize = 4;

#[derive(Debug, Clone)]
struct HostSpec {
    segment: usize,
    reserved: bool,
    maintenance: bool,
    az: u8,
    vcpu: u64,
    cpu_ratio: f64,
    memory_gb: u64,
    disk_gb: u64,
    failed: bool,
    unavailable: bool,
    in_flight_mb: Option<u64>,
}

#[derive(Debug, Clone)]
struct InstanceSpec {
    host: usize,
    vcpu: u64,
    memory_mb: u64,
    disk_gb: u64,
    priority: usize,
    state: usize,
    pinned_az: Option<u8>,
    group: Option<usize>,
    avoid_host: Option<usize>,
}

#[derive(Debug, Clone)]
struct Scenario {
    methods: Vec<(RecoveryMethod, bool)>,
    policies: Vec<GroupPolicy>,
    hosts: Vec<HostSpec>,
    instances: Vec<InstanceSpec>,
}

fn host_spec() -> impl Strategy<Value = HostSpec> {
    (
        (
            0..SEGMENTS,
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.1),
            0u8..3,
        ),
        (
            1u64..16,
            prop::sample::select(vec![1.0, 2.0, 4.0]),
            1u64..24,
            20u64..400,
        ),
        (
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.1),
            prop::option::weighted(0.2, 0u64..8192),
        ),
    )
        .prop_map(
            |(
                (segment, reserved, maintenance, az),
                (vcpu, cpu_ratio, memory_gb, disk_gb),
                (failed, unavailable, in_flight_mb),
            )| HostSpec {
                segment,
                reserved,
                maintenance,
                az,
                vcpu,
                cpu_ratio,
                memory_gb,
                disk_gb,
                failed,
                unavailable,
                in_flight_mb,
            },
        )
}

fn instance_spec() -> impl Strategy<Value = InstanceSpec> {
    (
        (0usize..64, 1u64..8, 1u64..16, 1u64..80),
        (0usize..6, 0usize..6),
        (
            prop::option::weighted(0.2, 0u8..3),
            prop::option::weighted(0.4, 0..GROUPS),
            prop::option::weighted(0.1, 0usize..64),
        ),
    )
        .prop_map(
            |(
                (host, vcpu, memory_512, disk_gb),
                (priority, state),
                (pinned_az, group, avoid_host),
            )| {
                InstanceSpec {
                    host,
                    vcpu,
                    memory_mb: memory_512 * 512,
                    disk_gb,
                    priority,
                    state,
                    pinned_az,
                    group,
                    avoid_host,
                }
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let method = prop::sample::select(vec![
        RecoveryMethod::Auto,
        RecoveryMethod::ReservedHost,
        RecoveryMethod::AutoPriority,
        RecoveryMethod::RhPriority,
    ]);
    let policy = prop::sample::select(vec![
        GroupPolicy::Affinity,
        GroupPolicy::AntiAffinity,
        GroupPolicy::SoftAffinity,
        GroupPolicy::SoftAntiAffinity,
    ]);
    (
        prop::collection::vec((method, prop::bool::weighted(0.9)), SEGMENTS),
        prop::collection::vec(policy, GROUPS),
        prop::collection::vec(host_spec(), 1..16),
        prop::collection::vec(instance_spec(), 0..80),
    )
        .prop_map(|(methods, policies, hosts, instances)| Scenario {
            methods,
            policies,
            hosts,
            instances,
        })
}

/// Everything a request borrows, owned.
struct World {
    cluster: Cluster,
    failed: BTreeSet<HostName>,
    unavailable: BTreeSet<HostName>,
    avoid: BTreeMap<InstanceId, BTreeSet<HostName>>,
    in_flight: BTreeMap<HostName, Resources>,
}

fn host_name(i: usize) -> String {
    format!("h{i:02}")
}

fn build(s: &Scenario) -> World {
    let mut b = ClusterBuilder::new();
    for (i, (method, enabled)) in s.methods.iter().enumerate() {
        let enabled = *enabled;
        b = b.segment_with(&format!("s{i}"), *method, |seg| seg.enabled = enabled);
    }
    for (i, policy) in s.policies.iter().enumerate() {
        b = b.group(&format!("g{i}"), *policy);
    }
    let mut w = World {
        cluster: Cluster::new(),
        failed: BTreeSet::new(),
        unavailable: BTreeSet::new(),
        avoid: BTreeMap::new(),
        in_flight: BTreeMap::new(),
    };
    for (i, h) in s.hosts.iter().enumerate() {
        let capacity = Capacity {
            vcpu: Inventory {
                total: h.vcpu,
                reserved: 0,
                allocation_ratio: h.cpu_ratio,
            },
            memory_mb: Inventory {
                total: h.memory_gb * 1024,
                reserved: 512,
                allocation_ratio: 1.0,
            },
            disk_gb: Inventory::exact(h.disk_gb),
        };
        b = b.host_with(
            &host_name(i),
            &format!("s{}", h.segment),
            capacity,
            |host| {
                host.reserved = h.reserved;
                host.on_maintenance = h.maintenance;
                host.availability_zone = format!("az{}", h.az);
            },
        );
        if h.failed {
            w.failed.insert(host_name(i).into());
        }
        if h.unavailable {
            w.unavailable.insert(host_name(i).into());
        }
        if let Some(mb) = h.in_flight_mb {
            w.in_flight.insert(host_name(i).into(), res(1, mb, 1));
        }
    }
    let priorities = [
        RestartPriority::Disabled,
        RestartPriority::Lowest,
        RestartPriority::Low,
        RestartPriority::Medium,
        RestartPriority::High,
        RestartPriority::Highest,
    ];
    let states = [
        VmState::Active,
        VmState::Active,
        VmState::Stopped,
        VmState::Error,
        VmState::Paused,
        VmState::Other,
    ];
    for (i, spec) in s.instances.iter().enumerate() {
        let id = format!("i{i:03}");
        let host = host_name(spec.host % s.hosts.len());
        b = b.instance_with(
            &id,
            &host,
            res(spec.vcpu, spec.memory_mb, spec.disk_gb),
            |inst| {
                inst.priority = priorities[spec.priority];
                inst.vm_state = states[spec.state];
                inst.pinned_az = spec.pinned_az.map(|az| format!("az{az}"));
                inst.server_group = spec.group.map(|g| format!("g{g}").into());
            },
        );
        if let Some(a) = spec.avoid_host {
            w.avoid
                .entry(id.into())
                .or_default()
                .insert(host_name(a % s.hosts.len()).into());
        }
    }
    w.cluster = b.build();
    w
}

/// What the planner owes for a failed host's instance, from the rules alone.
fn check(w: &World, p: &Plan) -> Result<(), TestCaseError> {
    let c = &w.cluster;
    // Accounted for exactly once, and only what was due.
    let mut seen: BTreeSet<&InstanceId> = BTreeSet::new();
    for id in p
        .placements
        .iter()
        .map(|p| &p.instance)
        .chain(p.unplaced.iter().map(|u| &u.instance))
    {
        prop_assert!(seen.insert(id), "{id} appears twice");
    }
    for host in &w.failed {
        for i in c.instances_on(host) {
            prop_assert_eq!(
                seen.contains(&i.id),
                i.is_protected(),
                "{} (protected: {}) accounted for wrongly",
                i.id,
                i.is_protected()
            );
        }
    }
    prop_assert_eq!(
        seen.len(),
        w.failed
            .iter()
            .flat_map(|h| c.instances_on(h))
            .filter(|i| i.is_protected())
            .count()
    );

    // Every placement valid.
    let mut load: BTreeMap<&HostName, Resources> = BTreeMap::new();
    let mut per_group_target: BTreeMap<String, BTreeSet<&HostName>> = BTreeMap::new();
    let mut group_placed_count: BTreeMap<(String, &HostName), usize> = BTreeMap::new();
    for pl in &p.placements {
        let i = c.instance(&pl.instance).expect("placed instance exists");
        let from = c.host(&i.host).expect("source exists");
        let to = c.host(&pl.to).expect("target exists");
        let segment = c.segment(&from.segment).expect("segment exists");
        prop_assert!(i.is_protected() && i.vm_state.is_evacuable());
        prop_assert!(segment.enabled);
        prop_assert_eq!(&pl.from, &i.host);
        prop_assert_eq!(pl.resources, i.resources);
        prop_assert_eq!(pl.priority, i.priority);
        prop_assert_eq!(&to.segment, &from.segment, "{} left its segment", i.id);
        prop_assert!(!w.failed.contains(&to.name));
        prop_assert!(!w.unavailable.contains(&to.name));
        prop_assert!(!to.on_maintenance);
        prop_assert!(!w.avoid.get(&i.id).is_some_and(|a| a.contains(&to.name)));
        if let Some(az) = &i.pinned_az {
            prop_assert_eq!(&to.availability_zone, az);
        }
        match segment.recovery_method {
            RecoveryMethod::Auto => prop_assert!(!to.reserved, "auto used a reserved host"),
            RecoveryMethod::ReservedHost => prop_assert!(to.reserved),
            RecoveryMethod::AutoPriority | RecoveryMethod::RhPriority => {}
        }
        let entry = load.entry(&to.name).or_default();
        *entry = entry.saturating_add(i.resources);
        if let Some(g) = &i.server_group {
            per_group_target
                .entry(g.to_string())
                .or_default()
                .insert(&to.name);
            *group_placed_count
                .entry((g.to_string(), &to.name))
                .or_default() += 1;
        }
    }
    // Never over-committed.
    for (host, added) in &load {
        let h = c.host(host).expect("target exists");
        let room = h
            .free()
            .saturating_sub(w.in_flight.get(*host).copied().unwrap_or_default());
        prop_assert!(
            added.fits_within(room),
            "{host} gets {added:?} with only {room:?} free"
        );
    }
    // Hard group policies.
    for (g, targets) in &per_group_target {
        let Some(group) = c.server_group(&g.as_str().into()) else {
            continue;
        };
        match group.policy {
            GroupPolicy::AntiAffinity => {
                for t in targets {
                    prop_assert_eq!(group_placed_count[&(g.clone(), *t)], 1);
                    let others = c.members_of(&group.id).filter(|m| &m.host == *t).count();
                    prop_assert_eq!(others, 0, "{} already holds a member of {}", t, g);
                }
            }
            GroupPolicy::Affinity => {
                // Placed members of one segment share one host...
                let mut by_segment: BTreeMap<&crate::SegmentId, BTreeSet<&HostName>> =
                    BTreeMap::new();
                for t in targets {
                    let seg = &c.host(t).expect("target exists").segment;
                    by_segment.entry(seg).or_default().insert(*t);
                }
                for hosts in by_segment.values() {
                    prop_assert_eq!(hosts.len(), 1, "affinity group {} split", g);
                }
                // ...which is where its surviving members run, if any.
                let survivors: BTreeSet<&HostName> = c
                    .members_of(&group.id)
                    .filter(|m| !w.failed.contains(&m.host))
                    .map(|m| &m.host)
                    .collect();
                if !survivors.is_empty() {
                    prop_assert_eq!(targets.len(), 1);
                    prop_assert!(targets.is_subset(&survivors));
                }
            }
            GroupPolicy::SoftAffinity | GroupPolicy::SoftAntiAffinity => {}
        }
    }
    // Nothing left behind for lack of room while an allowed host still has room.
    for u in &p.unplaced {
        let super::UnplacedReason::NoCapacity { needed, .. } = &u.reason else {
            continue;
        };
        let i = c.instance(&u.instance).expect("unplaced instance exists");
        let from = c.host(&i.host).expect("source exists");
        let method = c
            .segment(&from.segment)
            .expect("segment exists")
            .recovery_method;
        for h in c.hosts_in_segment(&from.segment) {
            let allowed_kind = match method {
                RecoveryMethod::Auto => !h.reserved,
                RecoveryMethod::ReservedHost => h.reserved,
                RecoveryMethod::AutoPriority | RecoveryMethod::RhPriority => true,
            };
            if !allowed_kind
                || h.on_maintenance
                || w.failed.contains(&h.name)
                || w.unavailable.contains(&h.name)
                || i.pinned_az
                    .as_ref()
                    .is_some_and(|az| az != &h.availability_zone)
            {
                continue;
            }
            let room = h
                .free()
                .saturating_sub(w.in_flight.get(&h.name).copied().unwrap_or_default())
                .saturating_sub(load.get(&h.name).copied().unwrap_or_default());
            prop_assert!(
                !needed.fits_within(room),
                "{} left with NoCapacity though {} still has {:?}",
                i.id,
                h.name,
                room
            );
        }
    }
    // Evacuation order.
    for pair in p.placements.windows(2) {
        prop_assert!(pair[0].priority >= pair[1].priority);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_plan_is_valid_complete_and_never_overcommits(s in scenario()) {
        let w = build(&s);
        let req = PlanRequest::new(&w.cluster, &w.failed)
            .with_unavailable(&w.unavailable)
            .with_avoid(&w.avoid)
            .with_in_flight(&w.in_flight);
        let p = plan(&req);
        check(&w, &p)?;
        prop_assert_eq!(plan(&req), p, "same input, same plan");
    }

    #[test]
    fn only_plans_exactly_the_instances_named(s in scenario(), pick in prop::collection::vec(any::<bool>(), 80)) {
        let w = build(&s);
        let only: BTreeSet<InstanceId> = w
            .cluster
            .instances()
            .zip(pick.iter())
            .filter(|(_, keep)| **keep)
            .map(|(i, _)| i.id.clone())
            .collect();
        let req = PlanRequest::new(&w.cluster, &w.failed)
            .with_unavailable(&w.unavailable)
            .with_only(&only);
        let p = plan(&req);
        let mut listed: Vec<&InstanceId> = p
            .placements
            .iter()
            .map(|p| &p.instance)
            .chain(p.unplaced.iter().map(|u| &u.instance))
            .collect();
        listed.sort();
        prop_assert_eq!(listed, only.iter().collect::<Vec<_>>(), "each named instance exactly once");
        for pl in &p.placements {
            let i = w.cluster.instance(&pl.instance).expect("placed instance exists");
            prop_assert!(w.failed.contains(&i.host) && i.is_protected());
        }
    }
}
