//! Per host, the process lazarus is restarting or has disabled the host for.

use std::collections::BTreeMap;

use crate::event::Process;
use crate::policy::ProcessPolicy;
use crate::HostName;

/// Where a host's process failure stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcessWatch {
    /// A restart was asked for; waiting for the process to be seen running.
    Restarting(Process),
    /// The host is disabled for scheduling by lazarus (the enable may be in flight).
    Disabled { process: Process, enabling: bool },
}

/// Process failures per host.
#[derive(Debug)]
pub(crate) struct ProcessMonitor {
    pub(crate) policy: ProcessPolicy,
    pub(crate) hosts: BTreeMap<HostName, ProcessWatch>,
}

impl ProcessMonitor {
    pub(crate) fn new(policy: ProcessPolicy) -> Self {
        Self {
            policy,
            hosts: BTreeMap::new(),
        }
    }
}
