//! The planner: where the protected instances of failed hosts go.
//!
//! A pure function of the cluster model and a [`PlanRequest`]: same input, same
//! [`Plan`], no I/O, no clock, no randomness. The recovery workflow asks it once per
//! failed host (and again, with `avoid` and `only`, for instances whose evacuation
//! failed); the admission-control report asks it "what if these hosts failed"
//! through [`what_if`].
//!
//! How it decides (see `docs/planner.md` for the full rules):
//!
//! 1. Only protected instances (restart priority not `disabled`) in an evacuable
//!    `vm_state`, on failed hosts of enabled segments, are placed.
//! 2. Targets are the healthy hosts of the same failover segment (not failed, not
//!    unavailable, not on maintenance, not already tried for that instance), restricted
//!    by the segment's recovery method to ordinary hosts, reserved hosts, or one then
//!    the other (Masakari's `auto`, `reserved_host`, `auto_priority`, `rh_priority`),
//!    and by the instance's pinned availability zone.
//! 3. Instances are placed highest priority first, larger first within a priority, so
//!    when capacity is short the lower priorities are the ones left out.
//! 4. Every resource class must fit in Placement's terms, less in-flight claims and
//!    what this plan already placed. Among the hosts that fit, the one with the most
//!    free memory wins (Nova's default spreading), ties broken by host name.
//! 5. Hard anti-affinity never puts two members on one host; hard affinity places a
//!    group's members together (on the host its other members run on, if any), or none
//!    of them; soft policies only break ties.

mod admission;
mod candidates;
mod engine;
mod plan;
mod reason;
mod request;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

pub use admission::{single_host_losses, HostLoss};
pub use plan::{Placement, Plan, PlanSummary, Unplaced, Wave};
pub use reason::UnplacedReason;
pub use request::PlanRequest;

use crate::model::Cluster;
use crate::HostName;

/// Places the protected instances of the failed hosts on healthy hosts of their
/// segments, highest priority first, and says why each of the others cannot be.
pub fn plan(req: &PlanRequest<'_>) -> Plan {
    engine::Engine::new(*req).run()
}

/// "If these hosts failed now, where would their protected instances go, and which
/// would not come back?" For admission-control and capacity reports: the same plan
/// the workflow would make, with nothing else unavailable and nothing in flight.
pub fn what_if(cluster: &Cluster, hosts: &BTreeSet<HostName>) -> Plan {
    plan(&PlanRequest::new(cluster, hosts))
}
