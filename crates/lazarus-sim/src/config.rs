//! What a simulation run looks like: the size of the cloud, the length of its phases,
//! how often things fail, and the engine's own configuration.

use lazarus_core::policy::EngineConfig;

use crate::faults::FaultPlan;

/// What keeps a watchdog host's watchdog fed (the agent's isolation rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogFeed {
    /// Only a controller acknowledgement of a heartbeat. Safe for the engine's
    /// "T + margin since the last heartbeat" promise, but a controller outage or a
    /// controller-side network failure longer than T resets every watchdog host.
    AckOnly,
    /// A controller acknowledgement, or reaching a strict majority of the segment's
    /// hosts both ways (as corosync-based stacks do): no mass reset when the controller
    /// is the one cut off. The default.
    AckOrPeerQuorum,
}

/// The knobs of one simulation run. The seed decides everything else.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Compute hosts, in all.
    pub hosts: usize,
    /// Failover segments the hosts are split into (contiguous runs of hosts, sizes
    /// differing by at most one). More than one lets a rack partition hold a peer
    /// majority of its segment while the controller still hears most of the cluster.
    pub segments: usize,
    /// Instances created per host.
    pub instances_per_host: usize,
    /// Chance that a host is fenced by its agent's watchdog rather than its BMC.
    pub watchdog_share: f64,
    /// What feeds a watchdog.
    pub watchdog_feed: WatchdogFeed,
    /// Chance that a (BMC) host has no automatic fencing: an operator must confirm.
    pub manual_share: f64,
    /// A simulated operator answers alerts: when paged about a host whose fencing waits
    /// for a person (a manual host judged failed, or a fence that could not be
    /// confirmed), they look 1-5 minutes later and confirm it only if it really is off
    /// or its OS really is down.
    pub operator: bool,
    /// Chance that a host is also watched by a Pacemaker-style monitor
    /// (masakari-monitors' hostmonitor): every 60 s it looks, and for a host that is
    /// really down it fences it itself and posts COMPUTE_HOST STOPPED with host_status
    /// NORMAL — again at every look while the host stays down (duplicates).
    pub monitor_share: f64,
    /// How long faults may start for, from time zero.
    pub fault_phase_ms: u64,
    /// Most faults injected per seed.
    pub max_faults: usize,
    /// Longest time the heal phase runs before the final invariant is judged.
    pub heal_max_ms: u64,
    /// The heal phase ends early once the controller has commanded nothing but timers
    /// for this long, every host is up and no evacuation is in flight.
    pub quiet_ms: u64,
    /// Chance that a Nova call fails (5xx) while a Nova-errors fault is active.
    pub nova_error_rate: f64,
    /// Chance that a Nova call times out while a Nova-errors fault is active.
    pub nova_timeout_rate: f64,
    /// Chance that an evacuation's destination claim fails (no reschedule).
    pub claim_failure_rate: f64,
    /// The engine's configuration (timings, storm guard, fencing retries).
    pub engine: EngineConfig,
    /// A fixed fault plan; `None` draws one from the seed.
    pub plan: Option<FaultPlan>,
    /// Keep the full event log (replays); sweeps keep only its tail.
    pub full_log: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            hosts: 6,
            segments: 2,
            instances_per_host: 4,
            watchdog_share: 0.25,
            watchdog_feed: WatchdogFeed::AckOrPeerQuorum,
            manual_share: 0.1,
            operator: true,
            monitor_share: 0.3,
            fault_phase_ms: 240_000,
            max_faults: 3,
            heal_max_ms: 1_200_000,
            quiet_ms: 150_000,
            nova_error_rate: 0.3,
            nova_timeout_rate: 0.1,
            claim_failure_rate: 0.05,
            engine: EngineConfig::default(),
            plan: None,
            full_log: false,
        }
    }
}
