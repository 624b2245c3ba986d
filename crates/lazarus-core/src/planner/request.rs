//! What the planner is asked: which hosts failed, and what it must steer clear of.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Cluster, Resources};
use crate::{HostName, InstanceId};

static NO_HOSTS: BTreeSet<HostName> = BTreeSet::new();
static NO_AVOID: BTreeMap<InstanceId, BTreeSet<HostName>> = BTreeMap::new();
static NO_IN_FLIGHT: BTreeMap<HostName, Resources> = BTreeMap::new();

/// One planning question, borrowed from the caller's state so asking is free.
///
/// Start from [`PlanRequest::new`] and add what applies with the `with_*` methods.
#[derive(Debug, Clone, Copy)]
pub struct PlanRequest<'a> {
    /// The cluster as the core knows it now (usages as Placement reports them).
    pub cluster: &'a Cluster,
    /// Hosts whose instances must be placed elsewhere.
    pub failed_hosts: &'a BTreeSet<HostName>,
    /// Hosts that must not receive instances (suspect, down, disabled, being fenced...),
    /// in addition to the failed ones and those on_maintenance.
    pub unavailable_hosts: &'a BTreeSet<HostName>,
    /// Per instance, targets already tried and failed (retry elsewhere).
    pub avoid: &'a BTreeMap<InstanceId, BTreeSet<HostName>>,
    /// Restrict the plan to these instances (None = all protected instances of the
    /// failed hosts).
    pub only: Option<&'a BTreeSet<InstanceId>>,
    /// Resources already promised to in-flight evacuations, per target host, not yet in
    /// `usage`.
    pub in_flight: &'a BTreeMap<HostName, Resources>,
}

impl<'a> PlanRequest<'a> {
    /// Place every protected instance of `failed_hosts`, with no other host excluded,
    /// nothing to avoid and nothing in flight.
    pub fn new(cluster: &'a Cluster, failed_hosts: &'a BTreeSet<HostName>) -> Self {
        Self {
            cluster,
            failed_hosts,
            unavailable_hosts: &NO_HOSTS,
            avoid: &NO_AVOID,
            only: None,
            in_flight: &NO_IN_FLIGHT,
        }
    }

    /// Also keep instances off these hosts.
    pub fn with_unavailable(mut self, hosts: &'a BTreeSet<HostName>) -> Self {
        self.unavailable_hosts = hosts;
        self
    }

    /// Per instance, targets not to try again.
    pub fn with_avoid(mut self, avoid: &'a BTreeMap<InstanceId, BTreeSet<HostName>>) -> Self {
        self.avoid = avoid;
        self
    }

    /// Plan only these instances (a retry, or an operator's selection).
    pub fn with_only(mut self, only: &'a BTreeSet<InstanceId>) -> Self {
        self.only = Some(only);
        self
    }

    /// Count these resources as already taken on their hosts.
    pub fn with_in_flight(mut self, in_flight: &'a BTreeMap<HostName, Resources>) -> Self {
        self.in_flight = in_flight;
        self
    }
}
