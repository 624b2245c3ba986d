//! The signals the detector keeps per host.

use crate::event::{NovaService, PowerState};
use crate::model::FenceMethod;
use crate::{HostName, Timestamp};

use super::HostHealth;

/// What the detector knows about one host.
#[derive(Debug, Clone)]
pub(crate) struct HostSignals {
    pub(crate) name: HostName,
    /// Its segment, as an index into the detector's segment tallies.
    pub(crate) segment: usize,
    pub(crate) fence_method: FenceMethod,
    pub(crate) on_maintenance: bool,
    /// The last heartbeat from its agent; `None`: it has no agent (not judged).
    pub(crate) last_heard: Option<Timestamp>,
    /// The last moment a peer's agent is known to have reached it: a report's arrival
    /// minus the age the report gave, the latest over all reports.
    pub(crate) last_peer_seen: Option<Timestamp>,
    /// The last heartbeat really received (not the start of a silence clock set by
    /// `expect_agent`): whether the controller hears this host as a witness.
    pub(crate) last_received: Option<Timestamp>,
    /// The last tick on which the controller heard too few of this host's segment
    /// peers to know that the host could not reach a strict majority of them (and so
    /// could not be feeding its watchdog through them).
    pub(crate) last_unwitnessed: Timestamp,
    /// Nova's latest view of its compute service: (reporting, up).
    pub(crate) nova_down: bool,
    /// The latest BMC power reading, and when.
    pub(crate) power: Option<(PowerState, Timestamp)>,
    /// The current verdict.
    pub(crate) health: HostHealth,
    /// A recovery is under way: the verdict is frozen at failed until it closes.
    pub(crate) under_recovery: bool,
}

impl HostSignals {
    pub(crate) fn new(
        name: HostName,
        segment: usize,
        fence_method: FenceMethod,
        on_maintenance: bool,
    ) -> Self {
        Self {
            name,
            segment,
            fence_method,
            on_maintenance,
            last_heard: None,
            last_peer_seen: None,
            last_received: None,
            last_unwitnessed: Timestamp::ZERO,
            nova_down: false,
            power: None,
            health: HostHealth::Unmonitored,
            under_recovery: false,
        }
    }

    pub(crate) fn observe_nova(&mut self, s: &NovaService) {
        self.nova_down = !s.reporting && !s.up;
    }

    /// Whether the host is judged by heartbeats at all.
    pub(crate) fn monitored(&self) -> bool {
        self.last_heard.is_some() && !self.on_maintenance
    }
}
