//! Planner benchmarks (issue 2 target: 10,000 hosts, 200,000 instances, 100 failed
//! hosts, at most 50 ms per plan in release).
//!
//! Run: `cargo bench -p lazarus-core --bench planner`.

// A fixture that cannot be built is a bug in this file: stop loudly, like a test.
#![allow(clippy::expect_used)]

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use lazarus_core::model::{
    Capacity, Cluster, GroupPolicy, Host, Instance, RecoveryMethod, Resources, RestartPriority,
    Segment, ServerGroup, VmState,
};
use lazarus_core::planner::{plan, single_host_losses, what_if, PlanRequest};
use lazarus_core::HostName;

/// splitmix64: a fixed, dependency-free stream so the fixture is the same every run.
#[derive(Debug)]
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The shape of a synthetic cloud.
#[derive(Debug, Clone, Copy)]
struct Shape {
    segments: usize,
    hosts_per_segment: usize,
    /// Spread evenly over the ordinary hosts.
    instances: usize,
    /// Every n-th host of a segment is reserved (and empty).
    reserved_every: usize,
    zones_per_segment: usize,
}

const ISSUE_2: Shape = Shape {
    segments: 100,
    hosts_per_segment: 100,
    instances: 200_000,
    reserved_every: 10,
    zones_per_segment: 3,
};

/// Flavors, small ones more often (average 3.3 VCPU, 8.2 GiB).
const FLAVORS: [Resources; 10] = [
    Resources::new(1, 2048, 20),
    Resources::new(1, 2048, 20),
    Resources::new(1, 2048, 20),
    Resources::new(2, 4096, 40),
    Resources::new(2, 4096, 40),
    Resources::new(2, 4096, 40),
    Resources::new(4, 8192, 80),
    Resources::new(4, 8192, 80),
    Resources::new(8, 16384, 160),
    Resources::new(8, 32768, 160),
];

const PRIORITIES: [RestartPriority; 6] = [
    RestartPriority::Disabled,
    RestartPriority::Lowest,
    RestartPriority::Low,
    RestartPriority::Medium,
    RestartPriority::High,
    RestartPriority::Highest,
];

fn host_name(segment: usize, host: usize) -> String {
    format!("cmp-{segment:03}-{host:03}")
}

/// Builds the cloud: hosts of 48 cores (x4 overcommit), 256 GiB and 4 TB; ordinary
/// hosts share `instances` instances of mixed flavors and priorities (about 70 % of
/// memory used at 22 per host); some instances are pinned to their AZ, some stopped or
/// paused, and about 6 % belong to server groups of up to five members: the
/// (soft) affinity ones on one host, the (soft) anti-affinity ones across hosts.
fn build(shape: Shape, seed: u64) -> Cluster {
    let mut rng = Stream(seed);
    let mut cluster = Cluster::new();
    let methods = [
        RecoveryMethod::Auto,
        RecoveryMethod::Auto,
        RecoveryMethod::Auto,
        RecoveryMethod::Auto,
        RecoveryMethod::Auto,
        RecoveryMethod::Auto,
        RecoveryMethod::Auto,
        RecoveryMethod::AutoPriority,
        RecoveryMethod::RhPriority,
        RecoveryMethod::ReservedHost,
    ];
    let policies = [
        GroupPolicy::AntiAffinity,
        GroupPolicy::SoftAntiAffinity,
        GroupPolicy::Affinity,
        GroupPolicy::SoftAffinity,
    ];
    let ordinary_per_segment =
        shape.hosts_per_segment - shape.hosts_per_segment / shape.reserved_every;
    let ordinary = (shape.segments * ordinary_per_segment).max(1);
    let (per_host, extra) = (shape.instances / ordinary, shape.instances % ordinary);
    let mut ordinary_seen = 0usize;
    let mut next_instance = 0u64;
    let mut next_group = 0u64;
    for s in 0..shape.segments {
        let segment_id = format!("seg-{s:03}");
        let mut segment = Segment::new(segment_id.as_str(), segment_id.as_str());
        segment.recovery_method = methods[s % methods.len()];
        cluster.upsert_segment(segment);
        // (group, policy, members so far)
        let mut open_group: Option<(String, GroupPolicy, usize)> = None;
        for h in 0..shape.hosts_per_segment {
            let name = host_name(s, h);
            let zone = format!("az{}", h % shape.zones_per_segment);
            let mut host = Host::new(
                name.as_str(),
                segment_id.as_str(),
                Capacity::with_default_ratios(48, 262_144, 4000),
            );
            host.availability_zone = zone.clone();
            host.reserved = h % shape.reserved_every == shape.reserved_every - 1;
            let reserved = host.reserved;
            cluster.upsert_host(host).expect("segment exists");
            if reserved {
                continue;
            }
            let mut usage = Resources::ZERO;
            let count = per_host + usize::from(ordinary_seen < extra);
            ordinary_seen += 1;
            for _ in 0..count {
                let flavor = FLAVORS[rng.below(FLAVORS.len() as u64) as usize];
                let mut instance =
                    Instance::new(format!("vm-{next_instance:07}"), name.as_str(), flavor);
                next_instance += 1;
                instance.priority = PRIORITIES[rng.below(PRIORITIES.len() as u64) as usize];
                instance.vm_state = match rng.below(100) {
                    0..=2 => VmState::Stopped,
                    3 => VmState::Paused,
                    _ => VmState::Active,
                };
                if rng.below(10) < 3 {
                    instance.pinned_az = Some(zone.clone());
                }
                // Affinity groups fill up on one host; anti-affinity ones spread.
                let together = matches!(
                    open_group,
                    Some((_, GroupPolicy::Affinity | GroupPolicy::SoftAffinity, _))
                );
                if together || rng.below(25) == 0 {
                    let (group, _, members) = open_group.get_or_insert_with(|| {
                        let id = format!("grp-{next_group:05}");
                        let policy = policies[next_group as usize % policies.len()];
                        next_group += 1;
                        cluster.upsert_server_group(ServerGroup {
                            id: id.as_str().into(),
                            policy,
                        });
                        (id, policy, 0)
                    });
                    instance.server_group = Some(group.as_str().into());
                    *members += 1;
                    if *members == 5 {
                        open_group = None;
                    }
                }
                usage = usage.saturating_add(flavor);
                cluster.upsert_instance(instance).expect("host exists");
            }
            if let Some(h) = cluster.host_mut(&name.as_str().into()) {
                h.usage = usage;
            }
            if matches!(
                open_group,
                Some((_, GroupPolicy::Affinity | GroupPolicy::SoftAffinity, _))
            ) {
                open_group = None;
            }
        }
    }
    cluster
}

/// One failed ordinary host in each of the first `count` segments.
fn failed_hosts(shape: Shape, count: usize) -> BTreeSet<HostName> {
    (0..count)
        .map(|i| {
            let segment = i % shape.segments;
            let host = (i / shape.segments) * shape.reserved_every;
            HostName::from(host_name(segment, host))
        })
        .collect()
}

fn planner(c: &mut Criterion) {
    let cluster = build(ISSUE_2, 42);
    let failed = failed_hosts(ISSUE_2, 100);
    let sample = plan(&PlanRequest::new(&cluster, &failed));
    println!(
        "fixture: {} hosts, {} instances ({} in server groups), {} failed hosts; plan: {}",
        cluster.host_count(),
        cluster.instance_count(),
        cluster
            .instances()
            .filter(|i| i.server_group.is_some())
            .count(),
        failed.len(),
        sample.summary()
    );

    let mut group = c.benchmark_group("planner");
    group.bench_function("plan/10k_hosts_200k_instances_100_failed", |b| {
        b.iter(|| plan(black_box(&PlanRequest::new(&cluster, &failed))))
    });

    // Most of one segment lost at once: capacity runs out, many reasons to explain.
    let one_segment: BTreeSet<HostName> = (0..60).map(|h| host_name(7, h).into()).collect();
    let sample = plan(&PlanRequest::new(&cluster, &one_segment));
    println!("60 hosts of one segment failed: {}", sample.summary());
    group.bench_function("plan/60_failed_in_one_segment", |b| {
        b.iter(|| plan(black_box(&PlanRequest::new(&cluster, &one_segment))))
    });

    // Admission control asks one host at a time.
    let one: BTreeSet<HostName> = [HostName::from(host_name(3, 0))].into();
    group.bench_function("what_if/one_host", |b| {
        b.iter(|| what_if(black_box(&cluster), black_box(&one)))
    });
    // ...or a rack's worth across the cloud.
    let rack = failed_hosts(ISSUE_2, 10);
    group.bench_function("what_if/10_hosts", |b| {
        b.iter(|| what_if(black_box(&cluster), black_box(&rack)))
    });
    // N+1 check of one segment: a what-if per host.
    let segment = lazarus_core::SegmentId::from("seg-003");
    println!(
        "seg-003 single host losses that strand instances: {}",
        single_host_losses(&cluster, &segment).len()
    );
    group.bench_function("single_host_losses/one_100_host_segment", |b| {
        b.iter(|| single_host_losses(black_box(&cluster), black_box(&segment)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = planner
}
criterion_main!(benches);
