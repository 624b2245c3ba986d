//! Nova server groups and their placement policies.

use serde::{Deserialize, Serialize};

use crate::ServerGroupId;

/// A server group's policy. Hard policies must hold; soft ones are preferences
/// (Nova's weighers), which the planner honours when it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupPolicy {
    /// All members on one host.
    Affinity,
    /// No two members on one host.
    AntiAffinity,
    /// Members together where possible.
    SoftAffinity,
    /// Members apart where possible.
    SoftAntiAffinity,
}

impl GroupPolicy {
    /// Whether breaking the policy makes Nova refuse the placement.
    pub fn is_hard(self) -> bool {
        matches!(self, GroupPolicy::Affinity | GroupPolicy::AntiAffinity)
    }
}

/// A Nova server group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerGroup {
    /// Group UUID.
    pub id: ServerGroupId,
    /// Its policy.
    pub policy: GroupPolicy,
}
