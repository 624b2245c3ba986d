//! The cloud a seed starts from: failover segments of hosts, with instances of
//! varied flavors, priorities, states and server groups.

use lazarus_core::model::{
    Capacity, Cluster, FenceMethod, GroupPolicy, Host, Instance, Resources, RestartPriority,
    Segment, ServerGroup, VmState,
};
use lazarus_core::{HostName, ServerGroupId};

use crate::config::SimConfig;
use crate::rng::SimRng;

/// The first segment (the only one when `segments` is 1).
pub const SEGMENT: &str = "seg-sim";

/// The segment index of host `i` of `hosts` split into `segments` contiguous runs.
pub fn segment_of(i: usize, hosts: usize, segments: usize) -> usize {
    let segments = segments.clamp(1, hosts.max(1));
    i * segments / hosts.max(1)
}

/// The name of segment `k`.
pub fn segment_name(k: usize) -> String {
    if k == 0 {
        SEGMENT.to_owned()
    } else {
        format!("{SEGMENT}-{k}")
    }
}

/// A host's name from its index.
pub fn host_name(i: usize) -> HostName {
    HostName::new(format!("cmp-{i:02}"))
}

/// The cluster a run of `seed` starts from (built from the first generator forked off
/// the run's), so tests can pick its hosts and instances before running it.
pub fn cluster_for_seed(seed: u64, config: &SimConfig) -> Cluster {
    let mut rng = SimRng::new(seed).fork();
    build_cluster(config, &mut rng)
}

/// Builds the cluster for a seed. Hosts are roomy enough that one or two failures can
/// be absorbed, not so roomy that placement never matters.
pub fn build_cluster(config: &SimConfig, rng: &mut SimRng) -> Cluster {
    let mut cluster = Cluster::new();
    for k in 0..config.segments.clamp(1, config.hosts.max(1)) {
        cluster.upsert_segment(Segment::new(segment_name(k).as_str(), "simulated"));
    }
    let group = ServerGroupId::new("sg-anti");
    cluster.upsert_server_group(ServerGroup {
        id: group.clone(),
        policy: GroupPolicy::AntiAffinity,
    });
    for i in 0..config.hosts {
        let mut host = Host::new(
            host_name(i),
            segment_name(segment_of(i, config.hosts, config.segments)).as_str(),
            Capacity::with_default_ratios(8, 32_768, 400),
        );
        if rng.chance(config.watchdog_share) {
            host.fence_method = FenceMethod::Watchdog;
        }
        // Ignoring the error is sound: the segment was inserted just above.
        let _ = cluster.upsert_host(host);
    }
    let mut anti_members = 0;
    for h in 0..config.hosts {
        for k in 0..config.instances_per_host {
            let id = format!("vm-{h:02}-{k}");
            let memory = 1024 * rng.range(1, 6);
            let mut inst = Instance::new(
                id.as_str(),
                host_name(h),
                Resources::new(rng.range(1, 4), memory, 20),
            );
            inst.priority = match rng.range(0, 9) {
                0 => RestartPriority::Disabled,
                1 => RestartPriority::Lowest,
                2 => RestartPriority::Low,
                3..=5 => RestartPriority::Medium,
                6 | 7 => RestartPriority::High,
                _ => RestartPriority::Highest,
            };
            if rng.chance(0.15) {
                inst.vm_state = VmState::Stopped;
            }
            // Two members of a hard anti-affinity group, on different hosts.
            if k == 0 && anti_members < 2 && rng.chance(0.5) {
                inst.server_group = Some(group.clone());
                anti_members += 1;
            }
            let _ = cluster.upsert_instance(inst);
        }
    }
    // Manual fencing drawn from its own generator, so that adding it left every other
    // draw (and so every earlier seed's cloud) as it was.
    let mut manual_rng = rng.fork();
    for i in 0..config.hosts {
        let pick = manual_rng.chance(config.manual_share);
        if let Some(h) = cluster.host_mut(&host_name(i)) {
            if pick && h.fence_method == FenceMethod::Bmc {
                h.fence_method = FenceMethod::Manual;
            }
        }
    }
    let usages: Vec<(HostName, Resources)> = cluster
        .hosts()
        .map(|h| {
            let used = cluster
                .instances_on(&h.name)
                .fold(Resources::ZERO, |a, i| a.saturating_add(i.resources));
            (h.name.clone(), used)
        })
        .collect();
    for (name, used) in usages {
        if let Some(h) = cluster.host_mut(&name) {
            h.usage = used;
        }
    }
    cluster
}
