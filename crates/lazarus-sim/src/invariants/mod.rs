//! The safety and liveness properties every run must keep, one per file (like
//! openraft's `tests-turmoil/invariants/`). The simulator checks the step invariants
//! after every event and the final one after the heal phase.

mod after_heal_every_protected_instance_runs_or_has_a_reason;
mod every_evacuation_is_written_ahead;
mod never_two_live_copies_of_an_instance;
mod no_evacuation_of_an_unfenced_host;
mod one_recovery_per_failure;

use std::fmt;

pub use after_heal_every_protected_instance_runs_or_has_a_reason::after_heal_every_protected_instance_runs_or_has_a_reason;
pub use every_evacuation_is_written_ahead::every_evacuation_is_written_ahead;
pub use never_two_live_copies_of_an_instance::never_two_live_copies_of_an_instance;
pub use no_evacuation_of_an_unfenced_host::no_evacuation_of_an_unfenced_host;
pub use one_recovery_per_failure::one_recovery_per_failure;

/// A broken invariant: which, when, and what exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name (its function's).
    pub invariant: &'static str,
    /// Virtual time, in milliseconds.
    pub at_ms: u64,
    /// What was seen.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {}.{:03}s: {}",
            self.invariant,
            self.at_ms / 1000,
            self.at_ms % 1000,
            self.detail
        )
    }
}
