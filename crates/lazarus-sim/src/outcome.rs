//! What a run, or a sweep of runs, produced.

use crate::history::History;
use crate::invariants::Violation;
use crate::log::EventLog;
use crate::world::World;

/// Counters of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Simulation events processed.
    pub steps: u64,
    /// Virtual time reached, in milliseconds.
    pub virtual_ms: u64,
    /// Faults injected.
    pub faults: u32,
    /// Commands the engine returned.
    pub commands: u64,
    /// Records persisted.
    pub persists: u64,
    /// Evacuations commanded.
    pub evacuations: u32,
    /// Evacuations Nova completed (migration done).
    pub evacuations_done: u32,
    /// Power-offs BMCs carried out.
    pub power_offs: u32,
    /// Recoveries reported finished.
    pub recoveries_finished: u32,
    /// Critical alerts.
    pub critical_alerts: u32,
    /// Controller crashes.
    pub controller_crashes: u32,
    /// Watchdog resets of hosts.
    pub watchdog_resets: u32,
    /// Instances Nova hard-rebooted for the engine.
    pub resets: u32,
    /// Evacuations commanded from a host that had come back up after its fence (not
    /// a split brain, since its guests are shut off, but a stale decision).
    pub evacuations_from_returned_hosts: u32,
}

/// The result of one seed.
#[derive(Debug, Clone)]
pub struct SimOutcome {
    /// The seed.
    pub seed: u64,
    /// Broken invariants (the run stops at the first step that breaks any).
    pub violations: Vec<Violation>,
    /// The event log (whole for replays, the tail for sweeps).
    pub event_log: EventLog,
    /// Counters.
    pub stats: Stats,
    /// What the controller did that the invariants look back on (evacuations with the
    /// truth about their source, alerts, recovery reports).
    pub history: History,
    /// The world as the run left it.
    pub world: World,
}

/// The result of a sweep of seeds.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// The outcomes with at least one violation.
    pub failures: Vec<SimOutcome>,
    /// Counters summed over every seed.
    pub totals: Stats,
}

impl Summary {
    /// Total violations over the sweep.
    pub fn violations(&self) -> usize {
        self.failures.iter().map(|f| f.violations.len()).sum()
    }

    /// Adds one outcome.
    pub fn add(&mut self, outcome: SimOutcome) {
        self.seeds += 1;
        let s = &outcome.stats;
        let t = &mut self.totals;
        t.steps += s.steps;
        t.virtual_ms += s.virtual_ms;
        t.faults += s.faults;
        t.commands += s.commands;
        t.persists += s.persists;
        t.evacuations += s.evacuations;
        t.evacuations_done += s.evacuations_done;
        t.power_offs += s.power_offs;
        t.recoveries_finished += s.recoveries_finished;
        t.critical_alerts += s.critical_alerts;
        t.controller_crashes += s.controller_crashes;
        t.watchdog_resets += s.watchdog_resets;
        t.resets += s.resets;
        t.evacuations_from_returned_hosts += s.evacuations_from_returned_hosts;
        if !outcome.violations.is_empty() {
            self.failures.push(outcome);
        }
    }

    /// Merges another sweep's summary into this one (parallel sweeps).
    pub fn merge(&mut self, other: Summary) {
        self.seeds += other.seeds;
        let (t, o) = (&mut self.totals, other.totals);
        t.steps += o.steps;
        t.virtual_ms += o.virtual_ms;
        t.faults += o.faults;
        t.commands += o.commands;
        t.persists += o.persists;
        t.evacuations += o.evacuations;
        t.evacuations_done += o.evacuations_done;
        t.power_offs += o.power_offs;
        t.recoveries_finished += o.recoveries_finished;
        t.critical_alerts += o.critical_alerts;
        t.controller_crashes += o.controller_crashes;
        t.watchdog_resets += o.watchdog_resets;
        t.resets += o.resets;
        t.evacuations_from_returned_hosts += o.evacuations_from_returned_hosts;
        self.failures.extend(other.failures);
        self.failures.sort_by_key(|f| f.seed);
    }
}
