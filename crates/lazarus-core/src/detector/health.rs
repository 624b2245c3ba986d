//! The detector's verdict on one host.

use serde::{Deserialize, Serialize};

/// What the detector thinks of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostHealth {
    /// No agent heartbeat ever seen, or on maintenance: not judged by heartbeats
    /// (recovered only on a monitor's notification or an operator's request).
    Unmonitored,
    /// Heard within `suspect_after`.
    Up,
    /// Missed enough heartbeats to be suspect, not yet judged.
    Suspect,
    /// The controller cannot hear it, but a peer reached it recently: partitioned from
    /// the controller only. Never fenced for that.
    Partitioned,
    /// Nobody hears it, but its BMC said it is powered on.
    Isolated,
    /// Nobody hears it, and nothing says it is on.
    Failed,
}

impl HostHealth {
    /// Whether the verdict starts a recovery.
    pub fn is_failure(self) -> bool {
        match self {
            HostHealth::Isolated | HostHealth::Failed => true,
            HostHealth::Unmonitored
            | HostHealth::Up
            | HostHealth::Suspect
            | HostHealth::Partitioned => false,
        }
    }

    /// Whether the controller cannot hear the host (it counts towards the storm guard).
    pub fn is_unheard(self) -> bool {
        match self {
            HostHealth::Suspect
            | HostHealth::Partitioned
            | HostHealth::Isolated
            | HostHealth::Failed => true,
            HostHealth::Unmonitored | HostHealth::Up => false,
        }
    }
}
