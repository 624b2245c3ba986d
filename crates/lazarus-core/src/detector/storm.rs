//! The storm guard: when the controller stops hearing a large share of hosts at once,
//! the controller is probably the one cut off, so no host is judged failed.

use serde::{Deserialize, Serialize};

use crate::policy::StormPolicy;
use crate::Timestamp;

/// A change of the storm guard's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StormStatus {
    /// Engaged: judgement is held back.
    Engaged {
        /// Monitored hosts unheard.
        unheard: usize,
        /// Monitored hosts in all.
        monitored: usize,
    },
    /// Released: normal judgement resumes.
    Released,
}

#[derive(Debug)]
pub(crate) struct StormGuard {
    policy: StormPolicy,
    engaged: bool,
}

impl StormGuard {
    pub(crate) fn new(policy: StormPolicy) -> Self {
        Self {
            policy,
            engaged: false,
        }
    }

    pub(crate) fn engaged(&self) -> bool {
        self.engaged
    }

    /// Whether `unheard` out of `monitored` looks like the controller is cut off.
    pub(crate) fn is_storm(&self, monitored: usize, unheard: usize) -> bool {
        if unheard < self.policy.min_unheard_for_storm || monitored == 0 {
            return false;
        }
        let share = unheard as f64 / monitored as f64;
        share > self.policy.max_unheard_fraction || unheard > self.policy.max_unheard_hosts
    }

    /// Re-evaluates; returns the change, if any.
    pub(crate) fn evaluate(
        &mut self,
        _now: Timestamp,
        monitored: usize,
        unheard: usize,
    ) -> Option<StormStatus> {
        let storm = self.is_storm(monitored, unheard);
        match (self.engaged, storm) {
            (false, true) => {
                self.engaged = true;
                Some(StormStatus::Engaged { unheard, monitored })
            }
            (true, false) => {
                self.engaged = false;
                Some(StormStatus::Released)
            }
            (true, true) | (false, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_dead_host_of_three_is_not_a_storm() {
        let g = StormGuard::new(StormPolicy::default());
        assert!(!g.is_storm(3, 1));
        assert!(!g.is_storm(3, 2));
    }

    #[test]
    fn a_third_of_a_large_cluster_unheard_is_a_storm() {
        let g = StormGuard::new(StormPolicy::default());
        assert!(g.is_storm(100, 31));
        assert!(!g.is_storm(100, 30));
        assert!(g.is_storm(1000, 51));
    }
}
