//! Simulation throughput: whole seeds (fault phase, heal phase, invariants) per second.
//!
//! `cargo bench -p lazarus-sim --bench seeds`. One iteration runs 50 consecutive seeds
//! with the default configuration on one thread; seeds per second = 50 / time.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lazarus_sim::{run_seeds, SimConfig};

fn seeds(c: &mut Criterion) {
    let config = SimConfig::default();
    let mut group = c.benchmark_group("simulation");
    group.sample_size(10);
    group.throughput(Throughput::Elements(50));
    group.bench_function("50 seeds, 6 hosts, 24 instances, up to 3 faults", |b| {
        b.iter(|| black_box(run_seeds(black_box(0..50), &config)).seeds)
    });
    group.finish();
}

criterion_group!(benches, seeds);
criterion_main!(benches);
