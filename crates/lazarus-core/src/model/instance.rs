//! A Nova server as lazarus protects it.

use serde::{Deserialize, Serialize};

use super::Resources;
use crate::{HostName, InstanceId, ServerGroupId};

/// Restart priority, from not protected at all to first in line (vSphere HA's scale).
///
/// Ordered: `Disabled < Lowest < ... < Highest`, so a plan sorts by it directly.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RestartPriority {
    /// Not protected: never evacuated or restarted by lazarus.
    Disabled,
    /// Restarted last.
    Lowest,
    /// Below medium.
    Low,
    /// The default for a protected instance.
    #[default]
    Medium,
    /// Above medium.
    High,
    /// Restarted first.
    Highest,
}

/// Nova's `vm_state` values that matter to recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmState {
    /// Running.
    Active,
    /// Shut off (Nova's `stopped`).
    Stopped,
    /// In error; still a valid evacuation source state.
    Error,
    /// Paused.
    Paused,
    /// Suspended.
    Suspended,
    /// Any other state (building, rescued, shelved...), not evacuable.
    Other,
}

impl VmState {
    /// Whether Nova accepts an evacuation of a server in this state (ACTIVE, STOPPED
    /// or ERROR; domain facts §1.7).
    pub fn is_evacuable(self) -> bool {
        matches!(self, VmState::Active | VmState::Stopped | VmState::Error)
    }
}

/// A Nova server on a protected host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Server UUID.
    pub id: InstanceId,
    /// Display name, for reports.
    pub name: String,
    /// The compute host it runs on now.
    pub host: HostName,
    /// What its flavor asks of a host.
    pub resources: Resources,
    /// The AZ it must stay in, when it was created in one (`pinned_availability_zone`).
    pub pinned_az: Option<String>,
    /// The server group it belongs to, if any.
    pub server_group: Option<ServerGroupId>,
    /// Restart priority; `Disabled` means not protected.
    pub priority: RestartPriority,
    /// Nova's `vm_state`.
    pub vm_state: VmState,
}

impl Instance {
    /// A protected, active instance of medium priority with no placement constraints.
    pub fn new(id: impl Into<InstanceId>, host: impl Into<HostName>, resources: Resources) -> Self {
        let id = id.into();
        Self {
            name: id.to_string(),
            id,
            host: host.into(),
            resources,
            pinned_az: None,
            server_group: None,
            priority: RestartPriority::Medium,
            vm_state: VmState::Active,
        }
    }

    /// Whether lazarus recovers it at all.
    pub fn is_protected(&self) -> bool {
        self.priority != RestartPriority::Disabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_from_disabled_to_highest() {
        use RestartPriority::*;
        let mut v = vec![Highest, Disabled, Medium, Low, High, Lowest];
        v.sort();
        assert_eq!(v, vec![Disabled, Lowest, Low, Medium, High, Highest]);
    }

    #[test]
    fn only_active_stopped_and_error_are_evacuable() {
        assert!(VmState::Active.is_evacuable());
        assert!(VmState::Stopped.is_evacuable());
        assert!(VmState::Error.is_evacuable());
        assert!(!VmState::Paused.is_evacuable());
        assert!(!VmState::Other.is_evacuable());
    }
}
