//! One detector tick over 10,000 hosts (target: ≤ 1 ms).
//!
//! `cargo bench -p lazarus-core --bench detector`

#![allow(clippy::expect_used)] // a broken fixture may stop the bench

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use lazarus_core::detector::Detector;
use lazarus_core::event::Heartbeat;
use lazarus_core::model::{Capacity, Cluster, Host, Segment};
use lazarus_core::policy::{DetectorPolicy, StormPolicy};
use lazarus_core::{HostName, Timestamp};

const HOSTS: usize = 10_000;

fn cluster() -> Cluster {
    let mut c = Cluster::new();
    for s in 0..100 {
        c.upsert_segment(Segment::new(format!("seg-{s}"), format!("seg-{s}")));
    }
    for h in 0..HOSTS {
        let host = Host::new(
            format!("compute-{h:05}"),
            format!("seg-{}", h % 100),
            Capacity::with_default_ratios(64, 512 * 1024, 2000),
        );
        c.upsert_host(host).expect("segment exists");
    }
    c
}

/// A detector that has heard every host at `t`, each reporting two peers.
fn detector(c: &Cluster, t: Timestamp) -> Detector {
    let mut d = Detector::new(DetectorPolicy::default(), StormPolicy::default(), c);
    for h in 0..HOSTS {
        let mut hb = Heartbeat::healthy(format!("compute-{h:05}"));
        for p in [1, 2] {
            hb.reachable_peers
                .insert(HostName::new(format!("compute-{:05}", (h + p) % HOSTS)));
        }
        d.heartbeat(t, &hb);
    }
    d
}

fn bench(c: &mut Criterion) {
    let cl = cluster();
    let t0 = Timestamp::from_millis(1_000_000);

    let mut steady = detector(&cl, t0);
    steady.tick(t0);
    c.bench_function("detector_tick_10k_hosts_all_up", |b| {
        b.iter(|| {
            black_box(steady.tick(black_box(
                t0.saturating_add(std::time::Duration::from_millis(500)),
            )))
        })
    });

    // 1 % of the hosts (100, spread over segments) silent for 3 s: they turn suspect,
    // then failed; measured once they are settled in their new state.
    let mut some_dead = detector(&cl, t0);
    let later = t0.saturating_add(std::time::Duration::from_secs(4));
    for h in 0..HOSTS {
        if h % 100 != 7 {
            some_dead.heartbeat(later, &Heartbeat::healthy(format!("compute-{h:05}")));
        }
    }
    some_dead.tick(later);
    c.bench_function("detector_tick_10k_hosts_1pct_failed", |b| {
        b.iter(|| black_box(some_dead.tick(black_box(later))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
