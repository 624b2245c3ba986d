//! The reset bookkeeping of every instance.

use std::collections::BTreeMap;

use crate::event::InstanceFailureKind;
use crate::policy::VmMonitoring;
use crate::{InstanceId, Timestamp};

/// What to do about one instance failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetDecision {
    /// Reset it; this is reset number `n` within the window.
    Reset {
        /// Resets within the window, this one included.
        n: u32,
    },
    /// Ignore: a guest heartbeat silent for less than the failure interval.
    NotYetFailed,
    /// Ignore: reset less than the minimum uptime ago, it is still booting.
    StillBooting,
    /// The cap is reached: no reset. `first` is true the first time, so the alert is
    /// raised once per window.
    CapReached {
        /// Whether this is the first refusal since the cap was reached.
        first: bool,
    },
}

#[derive(Debug, Default)]
struct Resets {
    at: Vec<Timestamp>,
    cap_alerted: bool,
}

/// Reset counts per instance.
#[derive(Debug)]
pub(crate) struct InstanceMonitor {
    policy: VmMonitoring,
    resets: BTreeMap<InstanceId, Resets>,
}

impl InstanceMonitor {
    pub(crate) fn new(policy: VmMonitoring) -> Self {
        Self {
            policy,
            resets: BTreeMap::new(),
        }
    }

    /// Decides about one failure and, if it is a reset, records it.
    pub(crate) fn decide(
        &mut self,
        now: Timestamp,
        instance: &InstanceId,
        kind: InstanceFailureKind,
    ) -> ResetDecision {
        match kind {
            InstanceFailureKind::GuestHeartbeatLost { silent_for }
                if silent_for < self.policy.failure_interval =>
            {
                return ResetDecision::NotYetFailed;
            }
            InstanceFailureKind::GuestHeartbeatLost { .. }
            | InstanceFailureKind::Crashed
            | InstanceFailureKind::Watchdog
            | InstanceFailureKind::IoError => {}
        }
        let window = self.policy.reset_window;
        let r = self.resets.entry(instance.clone()).or_default();
        r.at.retain(|t| now.saturating_since(*t) < window);
        // Only a silent guest heartbeat can be a boot not finished yet; a crash, a
        // watchdog or an I/O error is a failure even right after a reset.
        let booting_matters = match kind {
            InstanceFailureKind::GuestHeartbeatLost { .. } => true,
            InstanceFailureKind::Crashed
            | InstanceFailureKind::Watchdog
            | InstanceFailureKind::IoError => false,
        };
        if let Some(last) = r.at.last() {
            if booting_matters && now.saturating_since(*last) < self.policy.min_uptime {
                return ResetDecision::StillBooting;
            }
        }
        if r.at.len() >= self.policy.max_resets as usize {
            let first = !r.cap_alerted;
            r.cap_alerted = true;
            return ResetDecision::CapReached { first };
        }
        r.cap_alerted = false;
        r.at.push(now);
        ResetDecision::Reset {
            n: u32::try_from(r.at.len()).unwrap_or(u32::MAX),
        }
    }
}
