//! `lazarus simulate`: run the deterministic simulator over many seeds, or replay one.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use lazarus_sim::{run_seed, run_seeds_parallel, SimConfig, SimOutcome, WatchdogFeed};

/// Prints a line, ignoring a closed pipe (`lazarus simulate --seed 3 | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Arguments of `lazarus simulate`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["seeds", "seed"])))]
pub struct SimulateArgs {
    /// Run this many seeds (from `--start`), and end with `seeds=N violations=V`.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// First seed of a sweep.
    #[arg(long, default_value_t = 0, requires = "seeds")]
    pub start: u64,
    /// Replay one seed and print its whole event log.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Threads for a sweep (default: the available cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Compute hosts in the simulated segment.
    #[arg(long, default_value_t = SimConfig::default().hosts)]
    pub hosts: usize,
    /// Most faults injected per seed.
    #[arg(long, default_value_t = SimConfig::default().max_faults)]
    pub max_faults: usize,
    /// Feed watchdogs only from controller acknowledgements (no peer quorum).
    #[arg(long)]
    pub watchdog_ack_only: bool,
}

impl SimulateArgs {
    fn config(&self) -> SimConfig {
        SimConfig {
            hosts: self.hosts.max(2),
            max_faults: self.max_faults.max(1),
            watchdog_feed: if self.watchdog_ack_only {
                WatchdogFeed::AckOnly
            } else {
                WatchdogFeed::AckOrPeerQuorum
            },
            ..SimConfig::default()
        }
    }
}

/// Runs the subcommand; the exit code is non-zero when any invariant was violated.
pub fn run(args: &SimulateArgs) -> ExitCode {
    if let Some(seed) = args.seed {
        return replay(seed, args.config());
    }
    let n = args.seeds.unwrap_or(0);
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    });
    let config = args.config();
    let started = wall_clock();
    let summary = run_seeds_parallel(args.start..args.start.saturating_add(n), &config, threads);
    let secs = started.elapsed().as_secs_f64();
    for f in &summary.failures {
        print_failure(f);
    }
    let t = &summary.totals;
    say!(
        "simulated {:.0} virtual hours, {} faults, {} evacuations ({} done, {} from hosts back up after their fence), {} power-offs, {} watchdog resets, {} controller crashes, {} critical alerts",
        t.virtual_ms as f64 / 3_600_000.0,
        t.faults,
        t.evacuations,
        t.evacuations_done,
        t.evacuations_from_returned_hosts,
        t.power_offs,
        t.watchdog_resets,
        t.controller_crashes,
        t.critical_alerts
    );
    say!(
        "throughput: {:.1} seeds/s ({} seeds in {:.2} s on {} thread(s))",
        summary.seeds as f64 / secs.max(1e-9),
        summary.seeds,
        secs,
        threads
    );
    let v = summary.violations();
    say!("seeds={} violations={}", summary.seeds, v);
    if v > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn replay(seed: u64, config: SimConfig) -> ExitCode {
    let config = SimConfig {
        full_log: true,
        ..config
    };
    let outcome = run_seed(seed, &config);
    for line in outcome.event_log.lines() {
        say!("{line}");
    }
    say!("{:?}", outcome.stats);
    for v in &outcome.violations {
        say!("seed={seed} VIOLATION {v}");
    }
    say!("seeds=1 violations={}", outcome.violations.len());
    if outcome.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_failure(f: &SimOutcome) {
    for v in &f.violations {
        say!("FAIL seed={} {v}", f.seed);
    }
    say!("  replay with: lazarus simulate --seed {}", f.seed);
    say!("  event log tail:");
    for line in f.event_log.lines() {
        say!("    {line}");
    }
}

/// The wall clock, only to report throughput. The simulation itself never reads it.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> std::time::Instant {
    std::time::Instant::now()
}
