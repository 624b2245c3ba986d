//! Admission-control questions built on [`what_if`](super::what_if): would a segment
//! bring every protected instance back if any one of its hosts failed?

use std::collections::BTreeSet;

use super::{what_if, Plan};
use crate::model::Cluster;
use crate::{HostName, SegmentId};

/// What losing one host would leave behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLoss {
    /// The host assumed failed.
    pub host: HostName,
    /// The plan lazarus would make; its `unplaced` are what would not come back.
    pub plan: Plan,
}

/// For each host of `segment` that is not on maintenance, in name order, the plan if it
/// alone failed now, keeping only the hosts whose loss would leave some protected
/// instance without room ([`UnplacedReason::is_placement_shortfall`]). An empty answer
/// means the segment tolerates any single host failure (vSphere's "host failures
/// cluster tolerates = 1"). Instances no capacity would bring back (not evacuable, in a
/// disabled segment) do not count here; they are still in each returned plan.
///
/// [`UnplacedReason::is_placement_shortfall`]: super::UnplacedReason::is_placement_shortfall
///
/// Costs one what-if per host: the candidate index covers one segment, so a
/// 100-host segment takes a few milliseconds.
pub fn single_host_losses(cluster: &Cluster, segment: &SegmentId) -> Vec<HostLoss> {
    let mut losses = Vec::new();
    let mut failed = BTreeSet::new();
    for host in cluster.hosts_in_segment(segment) {
        if host.on_maintenance {
            continue;
        }
        failed.clear();
        failed.insert(host.name.clone());
        let plan = what_if(cluster, &failed);
        if plan
            .unplaced
            .iter()
            .any(|u| u.reason.is_placement_shortfall())
        {
            losses.push(HostLoss {
                host: host.name.clone(),
                plan,
            });
        }
    }
    losses
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{exact, res, ClusterBuilder};
    use super::super::UnplacedReason;
    use super::*;
    use crate::model::{RecoveryMethod, VmState};

    #[test]
    fn a_segment_with_room_for_any_single_loss_reports_nothing() {
        let cluster = ClusterBuilder::new()
            .segment("s", RecoveryMethod::Auto)
            .hosts("s", &["a", "b", "c"], exact(8, 8192, 100))
            .instance("a1", "a", res(1, 2048, 10))
            .instance("b1", "b", res(1, 2048, 10))
            .instance("c1", "c", res(1, 2048, 10))
            .instance_with("paused", "c", res(1, 2048, 10), |i| {
                i.vm_state = VmState::Paused
            })
            .build();
        assert_eq!(single_host_losses(&cluster, &"s".into()), vec![]);
    }

    #[test]
    fn the_hosts_whose_loss_strands_instances_are_listed_with_the_plan() {
        let cluster = ClusterBuilder::new()
            .segment("s", RecoveryMethod::Auto)
            .hosts("s", &["big"], exact(8, 16384, 100))
            .hosts("s", &["small"], exact(8, 8192, 100))
            .instance("large", "big", res(1, 12288, 10))
            .instance("tiny", "small", res(1, 1024, 10))
            .build();
        let losses = single_host_losses(&cluster, &"s".into());
        assert_eq!(losses.len(), 1);
        assert_eq!(losses[0].host, HostName::from("big"));
        assert!(matches!(
            losses[0].plan.unplaced_reason(&"large".into()),
            Some(UnplacedReason::NoCapacity { .. })
        ));
    }
}
