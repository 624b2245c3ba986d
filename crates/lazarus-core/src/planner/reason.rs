//! Why the planner could not place an instance, in words an operator reads.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Resources, VmState};
use crate::{HostName, SegmentId, ServerGroupId};

/// Why an instance of a failed host got no target in a [`Plan`](super::Plan).
///
/// Each variant's message is what an operator sees in a recovery report or a what-if
/// report, so it says what blocked the placement and, where it helps, by how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum UnplacedReason {
    /// Its restart priority is `disabled`: lazarus does not recover it. Listed only
    /// when the request named it explicitly.
    #[error("not protected (restart priority is disabled)")]
    NotProtected,
    /// Nova refuses to evacuate a server in this `vm_state` (domain facts §1.7).
    #[error("not evacuable in vm_state {0:?} (Nova evacuates only ACTIVE, STOPPED or ERROR)")]
    NotEvacuable(VmState),
    /// The request named it, but it does not run on one of the failed hosts.
    #[error("runs on {0}, which is not one of the failed hosts")]
    NotOnFailedHost(HostName),
    /// Its host is not in the cluster model.
    #[error("host {0} is unknown")]
    HostUnknown(HostName),
    /// Its failover segment is disabled, so it is not recovered (Masakari API 1.2).
    #[error("failover segment {0} is disabled")]
    SegmentDisabled(SegmentId),
    /// Its host's failover segment is not in the cluster model.
    #[error("failover segment {0} is unknown")]
    SegmentUnknown(SegmentId),
    /// The segment has no healthy host of the kind its recovery method allows
    /// (all failed, unavailable or on maintenance).
    #[error("no healthy host left in failover segment {0} for its recovery method")]
    NoTargetHost(SegmentId),
    /// The `reserved_host` method has no healthy reserved host left in the segment.
    #[error("no healthy reserved host left in failover segment {0}")]
    NoReservedHost(SegmentId),
    /// It is pinned to an availability zone where no allowed host is healthy.
    #[error("pinned to availability zone {0}, where no allowed host is healthy")]
    NoHostInPinnedAz(String),
    /// No allowed host has room for it in every resource class.
    #[error(
        "no allowed host has room: needs {}, roomiest allowed host has {} free",
        Show(*.needed),
        Show(*.largest_free)
    )]
    NoCapacity {
        /// What its flavor asks for.
        needed: Resources,
        /// What the allowed host with the most free memory still had free.
        largest_free: Resources,
    },
    /// Every allowed host with room already holds (or is planned to hold) another
    /// member of its hard anti-affinity group.
    #[error(
        "anti-affinity group {group}: every host with room already holds a member ({hosts_excluded} excluded)"
    )]
    AntiAffinityExhausted {
        /// The server group.
        group: ServerGroupId,
        /// How many allowed hosts with room were excluded for holding a member.
        hosts_excluded: usize,
    },
    /// Every allowed host with room was already tried for it and failed.
    #[error("every allowed host with room was already tried ({tried} tried)")]
    AllCandidatesTried {
        /// How many hosts had been tried for it.
        tried: usize,
    },
    /// Its hard affinity group (members of the failed hosts, none left elsewhere)
    /// fits together on no allowed host, so none of them is placed.
    #[error(
        "affinity group {group}: its {members} members need {} together and no allowed host has room",
        Show(*.needed)
    )]
    AffinityGroupDoesNotFit {
        /// The server group.
        group: ServerGroupId,
        /// How many members the plan had to place together.
        members: usize,
        /// Their resources added up.
        needed: Resources,
    },
    /// Its hard affinity group's surviving members run on a host that may not take it
    /// (another segment, unavailable, on maintenance, wrong kind, AZ or already tried).
    #[error("affinity group {group}: its other members run on {host}, which may not take it")]
    AffinityHostNotAllowed {
        /// The server group.
        group: ServerGroupId,
        /// Where the surviving members run.
        host: HostName,
    },
    /// Its hard affinity group's surviving members run on a host without room for it.
    #[error(
        "affinity group {group}: its other members run on {host}, which has {} free of {} needed",
        Show(*.free),
        Show(*.needed)
    )]
    AffinityHostFull {
        /// The server group.
        group: ServerGroupId,
        /// Where the surviving members run.
        host: HostName,
        /// What the members to place need together.
        needed: Resources,
        /// What that host has free.
        free: Resources,
    },
    /// Members of one hard affinity group are pinned to different availability zones,
    /// so no single host can take them all.
    #[error("affinity group {0}: members are pinned to different availability zones")]
    AffinityGroupSpansAzs(ServerGroupId),
}

impl UnplacedReason {
    /// A short stable name for the reason, for summaries and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            UnplacedReason::NotProtected => "not_protected",
            UnplacedReason::NotEvacuable(_) => "not_evacuable",
            UnplacedReason::NotOnFailedHost(_) => "not_on_failed_host",
            UnplacedReason::HostUnknown(_) => "host_unknown",
            UnplacedReason::SegmentDisabled(_) => "segment_disabled",
            UnplacedReason::SegmentUnknown(_) => "segment_unknown",
            UnplacedReason::NoTargetHost(_) => "no_target_host",
            UnplacedReason::NoReservedHost(_) => "no_reserved_host",
            UnplacedReason::NoHostInPinnedAz(_) => "no_host_in_pinned_az",
            UnplacedReason::NoCapacity { .. } => "no_capacity",
            UnplacedReason::AntiAffinityExhausted { .. } => "anti_affinity_exhausted",
            UnplacedReason::AllCandidatesTried { .. } => "all_candidates_tried",
            UnplacedReason::AffinityGroupDoesNotFit { .. } => "affinity_group_does_not_fit",
            UnplacedReason::AffinityHostNotAllowed { .. } => "affinity_host_not_allowed",
            UnplacedReason::AffinityHostFull { .. } => "affinity_host_full",
            UnplacedReason::AffinityGroupSpansAzs(_) => "affinity_group_spans_azs",
        }
    }

    /// Whether it is a shortage of allowed room: more capacity, or hosts coming back,
    /// would place it. `false` for reasons about the instance or its configuration
    /// (unprotected, not evacuable, segment disabled...), which no capacity fixes.
    pub fn is_placement_shortfall(&self) -> bool {
        match self {
            UnplacedReason::NotProtected
            | UnplacedReason::NotEvacuable(_)
            | UnplacedReason::NotOnFailedHost(_)
            | UnplacedReason::HostUnknown(_)
            | UnplacedReason::SegmentDisabled(_)
            | UnplacedReason::SegmentUnknown(_)
            | UnplacedReason::AffinityGroupSpansAzs(_) => false,
            UnplacedReason::NoTargetHost(_)
            | UnplacedReason::NoReservedHost(_)
            | UnplacedReason::NoHostInPinnedAz(_)
            | UnplacedReason::NoCapacity { .. }
            | UnplacedReason::AntiAffinityExhausted { .. }
            | UnplacedReason::AllCandidatesTried { .. }
            | UnplacedReason::AffinityGroupDoesNotFit { .. }
            | UnplacedReason::AffinityHostNotAllowed { .. }
            | UnplacedReason::AffinityHostFull { .. } => true,
        }
    }
}

/// Resources as an operator reads them: `4 VCPU, 8192 MB RAM, 80 GB disk`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Show(pub(crate) Resources);

impl fmt::Display for Show {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} VCPU, {} MB RAM, {} GB disk",
            self.0.vcpu, self.0.memory_mb, self.0.disk_gb
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_capacity_says_what_was_needed_and_what_was_free() {
        let r = UnplacedReason::NoCapacity {
            needed: Resources::new(4, 8192, 80),
            largest_free: Resources::new(2, 4096, 500),
        };
        assert_eq!(
            r.to_string(),
            "no allowed host has room: needs 4 VCPU, 8192 MB RAM, 80 GB disk, \
             roomiest allowed host has 2 VCPU, 4096 MB RAM, 500 GB disk free"
        );
        assert_eq!(r.kind(), "no_capacity");
        assert!(r.is_placement_shortfall());
        assert!(!UnplacedReason::NotEvacuable(VmState::Paused).is_placement_shortfall());
    }

    #[test]
    fn reasons_serialise_with_a_reason_tag() {
        let r = UnplacedReason::NoHostInPinnedAz("az1".into());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["reason"], "no_host_in_pinned_az");
        let back: UnplacedReason = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
}
