//! The deterministic simulator of lazarus.
//!
//! It runs the **real** decision core ([`lazarus_core::Engine`]) against simulated
//! hosts, agents, BMCs, Nova and a virtual clock, all driven by one seed: the same seed
//! always gives the same run, event for event. Each seed injects faults (host crash,
//! power loss, partitions, misbehaving BMCs, Nova errors, controller crashes), then
//! heals them and runs until quiet, checking the invariants in [`invariants`] after
//! every step. See `docs/simulator.md`.

pub mod config;
pub mod faults;
pub mod history;
pub mod invariants;
pub mod log;
pub mod outcome;
pub mod queue;
pub mod rng;
pub mod scenario;
mod sim;
pub mod world;

use std::ops::Range;

pub use config::{SimConfig, WatchdogFeed};
pub use faults::{Fault, FaultPlan, ScheduledFault};
pub use invariants::Violation;
pub use outcome::{SimOutcome, Stats, Summary};

/// Runs one seed to the end and reports its violations, event log and counters.
pub fn run_seed(seed: u64, config: &SimConfig) -> SimOutcome {
    sim::Sim::new(seed, config).run()
}

/// Runs every seed of `seeds` on the calling thread.
pub fn run_seeds(seeds: Range<u64>, config: &SimConfig) -> Summary {
    let mut summary = Summary::default();
    for seed in seeds {
        summary.add(run_seed(seed, config));
    }
    summary
}

/// Runs every seed of `seeds` over `threads` threads (seeds interleaved), with the same
/// result as [`run_seeds`]: each seed's run depends on nothing but its seed.
pub fn run_seeds_parallel(seeds: Range<u64>, config: &SimConfig, threads: usize) -> Summary {
    let threads = threads.max(1);
    if threads == 1 {
        return run_seeds(seeds, config);
    }
    let mut summary = Summary::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|t| {
                let start = seeds.start;
                let end = seeds.end;
                scope.spawn(move || {
                    let mut s = Summary::default();
                    let mut seed = start + t;
                    while seed < end {
                        s.add(run_seed(seed, config));
                        seed += threads as u64;
                    }
                    s
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(s) => summary.merge(s),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    summary
}
