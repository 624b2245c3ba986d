//! The planner's answer: where each instance goes, and which ones cannot go anywhere.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::UnplacedReason;
use crate::model::{Resources, RestartPriority};
use crate::{HostName, InstanceId};

/// One evacuation the plan decided: move `instance` from failed host `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The instance to evacuate.
    pub instance: InstanceId,
    /// The failed host it runs on.
    pub from: HostName,
    /// The healthy host it goes to.
    pub to: HostName,
    /// Its restart priority (its wave).
    pub priority: RestartPriority,
    /// What it claims on `to`.
    pub resources: Resources,
}

/// An instance of a failed host that the plan leaves where it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unplaced {
    /// The instance.
    pub instance: InstanceId,
    /// The host it runs on.
    pub from: HostName,
    /// Its restart priority.
    pub priority: RestartPriority,
    /// Why it was not placed.
    pub reason: UnplacedReason,
}

/// A recovery plan.
///
/// `placements` are in evacuation order: highest priority first, then larger instances
/// first (by memory, then VCPU, then disk), then by instance id. `unplaced` follows the
/// same order. Every instance the request asked about appears exactly once in one of
/// the two lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Instances to evacuate, in order.
    pub placements: Vec<Placement>,
    /// Instances that cannot be evacuated now, each with its reason.
    pub unplaced: Vec<Unplaced>,
}

/// The placements of one restart priority: the workflow evacuates a wave only once
/// the previous one is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wave<'a> {
    /// The priority all its placements share.
    pub priority: RestartPriority,
    /// Its placements, in evacuation order.
    pub placements: &'a [Placement],
}

/// Counts of a plan, for logs and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Instances placed.
    pub placed: usize,
    /// Instances not placed.
    pub unplaced: usize,
    /// Per priority, highest first: (placed, unplaced).
    pub by_priority: Vec<(RestartPriority, usize, usize)>,
    /// Unplaced instances per [`UnplacedReason::kind`], by kind name.
    pub unplaced_by_reason: BTreeMap<String, usize>,
}

impl Plan {
    /// The placements grouped by priority, highest first, each in evacuation order.
    pub fn waves(&self) -> Vec<Wave<'_>> {
        self.placements
            .chunk_by(|a, b| a.priority == b.priority)
            .filter_map(|chunk| {
                chunk.first().map(|p| Wave {
                    priority: p.priority,
                    placements: chunk,
                })
            })
            .collect()
    }

    /// The placement of one instance, if it has one.
    pub fn placement_of(&self, instance: &InstanceId) -> Option<&Placement> {
        self.placements.iter().find(|p| &p.instance == instance)
    }

    /// Why one instance was not placed, if it was not.
    pub fn unplaced_reason(&self, instance: &InstanceId) -> Option<&UnplacedReason> {
        self.unplaced
            .iter()
            .find(|u| &u.instance == instance)
            .map(|u| &u.reason)
    }

    /// Whether every instance asked about was placed.
    pub fn is_complete(&self) -> bool {
        self.unplaced.is_empty()
    }

    /// What each target host receives in all, by host name.
    pub fn load_by_target(&self) -> BTreeMap<&HostName, Resources> {
        let mut load: BTreeMap<&HostName, Resources> = BTreeMap::new();
        for p in &self.placements {
            let entry = load.entry(&p.to).or_default();
            *entry = entry.saturating_add(p.resources);
        }
        load
    }

    /// Counts per priority and per reason.
    pub fn summary(&self) -> PlanSummary {
        let mut per_priority: BTreeMap<RestartPriority, (usize, usize)> = BTreeMap::new();
        for p in &self.placements {
            per_priority.entry(p.priority).or_default().0 += 1;
        }
        let mut unplaced_by_reason = BTreeMap::new();
        for u in &self.unplaced {
            per_priority.entry(u.priority).or_default().1 += 1;
            *unplaced_by_reason
                .entry(u.reason.kind().to_owned())
                .or_insert(0) += 1;
        }
        PlanSummary {
            placed: self.placements.len(),
            unplaced: self.unplaced.len(),
            by_priority: per_priority
                .into_iter()
                .rev()
                .map(|(priority, (placed, unplaced))| (priority, placed, unplaced))
                .collect(),
            unplaced_by_reason,
        }
    }
}

impl fmt::Display for PlanSummary {
    /// `placed 18 of 20 instances; unplaced: no_capacity 2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "placed {} of {} instances",
            self.placed,
            self.placed + self.unplaced
        )?;
        if !self.unplaced_by_reason.is_empty() {
            f.write_str("; unplaced:")?;
            for (i, (kind, n)) in self.unplaced_by_reason.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                write!(f, "{sep}{kind} {n}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(id: &str, priority: RestartPriority) -> Placement {
        Placement {
            instance: id.into(),
            from: "dead".into(),
            to: "t".into(),
            priority,
            resources: Resources::new(1, 512, 1),
        }
    }

    #[test]
    fn waves_group_consecutive_placements_by_priority_highest_first() {
        use RestartPriority::*;
        let plan = Plan {
            placements: vec![
                placement("a", Highest),
                placement("b", Highest),
                placement("c", Medium),
                placement("d", Lowest),
            ],
            unplaced: vec![],
        };
        let waves = plan.waves();
        let shape: Vec<(RestartPriority, usize)> = waves
            .iter()
            .map(|w| (w.priority, w.placements.len()))
            .collect();
        assert_eq!(shape, vec![(Highest, 2), (Medium, 1), (Lowest, 1)]);
    }

    #[test]
    fn summary_counts_per_priority_and_reason() {
        use RestartPriority::*;
        let plan = Plan {
            placements: vec![placement("a", High), placement("b", Low)],
            unplaced: vec![Unplaced {
                instance: "c".into(),
                from: "dead".into(),
                priority: Low,
                reason: UnplacedReason::NotEvacuable(crate::model::VmState::Paused),
            }],
        };
        let s = plan.summary();
        assert_eq!(s.by_priority, vec![(High, 1, 0), (Low, 1, 1)]);
        assert_eq!(
            s.to_string(),
            "placed 2 of 3 instances; unplaced: not_evacuable 1"
        );
        assert!(!plan.is_complete());
        assert_eq!(
            plan.load_by_target()[&HostName::from("t")],
            Resources::new(2, 1024, 2)
        );
    }
}
