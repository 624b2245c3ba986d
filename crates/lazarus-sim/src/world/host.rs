//! A simulated compute host: power, operating system, nova-compute, the lazarus agent,
//! its watchdog, and the guests (libvirt domains) it runs.

use std::collections::BTreeMap;

use lazarus_core::{HostName, InstanceId};

/// A libvirt domain's state on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestState {
    /// The guest runs (it is only really running while the host is up).
    Running,
    /// Defined but shut off (after a host reboot, a crash of the guest, or a stop).
    Shutoff,
}

/// One host's simulated truth.
#[derive(Debug, Clone)]
pub struct SimHost {
    /// Nova's name for it.
    pub name: HostName,
    /// Chassis power, as its BMC sees it.
    pub powered: bool,
    /// The operating system is up (booted, not crashed or hung).
    pub os_up: bool,
    /// The nova-compute process runs.
    pub compute_alive: bool,
    /// nova-compute is held dead by a fault (it does not come back on reboot until healed).
    pub compute_fault: bool,
    /// The lazarus agent runs.
    pub agent_alive: bool,
    /// Domains defined on it.
    pub guests: BTreeMap<InstanceId, GuestState>,
    /// Watchdog timeout, when the host is fenced by its agent's watchdog.
    pub watchdog_ms: Option<u64>,
    /// When the agent last got an acknowledgement from the controller (feeds the watchdog).
    pub last_ack_ms: u64,
    /// Bumped at every power or OS transition, so timers of an earlier life are dropped.
    pub generation: u64,
    /// When the host last stopped running its guests (power off, crash, watchdog reset).
    pub last_reset_ms: Option<u64>,
    /// How many times its watchdog reset it.
    pub watchdog_resets: u32,
    /// The agent's peer table: per peer host (by index), when that peer last answered
    /// its probes. Emptied when the agent stops (a new agent starts with no answers).
    pub peer_answers: BTreeMap<usize, u64>,
    /// The agent's state file: the guests it last saw running (refreshed at each of
    /// its ticks). It survives reboots, as the real file does.
    pub saved_guests: Option<Vec<InstanceId>>,
    /// A reboot report (`host_rebooted`) not yet taken by a live controller: the
    /// saved list, taken at boot. The saved list is not refreshed meanwhile.
    pub reboot_report: Option<Vec<InstanceId>>,
}

impl SimHost {
    /// A powered, booted host with its services running and no guests.
    pub fn new(name: HostName, watchdog_ms: Option<u64>) -> Self {
        Self {
            name,
            powered: true,
            os_up: true,
            compute_alive: true,
            compute_fault: false,
            agent_alive: true,
            guests: BTreeMap::new(),
            watchdog_ms,
            last_ack_ms: 0,
            generation: 0,
            last_reset_ms: None,
            watchdog_resets: 0,
            peer_answers: BTreeMap::new(),
            saved_guests: None,
            reboot_report: None,
        }
    }

    /// Whether the OS is up on a powered host: agents, compute and guests can run.
    pub fn is_up(&self) -> bool {
        self.powered && self.os_up
    }

    /// Whether `instance` really runs here now.
    pub fn runs(&self, instance: &InstanceId) -> bool {
        self.is_up() && self.guests.get(instance) == Some(&GuestState::Running)
    }

    /// Instances really running here now.
    pub fn running(&self) -> impl Iterator<Item = &InstanceId> + '_ {
        let up = self.is_up();
        self.guests
            .iter()
            .filter(move |(_, s)| up && **s == GuestState::Running)
            .map(|(i, _)| i)
    }

    /// The OS stops (crash, power cut or watchdog reset): every guest stops with it.
    pub fn stop_os(&mut self, now_ms: u64) {
        if self.os_up {
            self.last_reset_ms = Some(now_ms);
        }
        self.os_up = false;
        self.compute_alive = false;
        self.agent_alive = false;
        self.peer_answers.clear();
        self.generation += 1;
        for s in self.guests.values_mut() {
            *s = GuestState::Shutoff;
        }
    }

    /// Chassis power goes off (also a reset point for a host that had crashed).
    pub fn power_off(&mut self, now_ms: u64) {
        self.stop_os(now_ms);
        self.powered = false;
        self.last_reset_ms = Some(now_ms);
    }

    /// The OS has finished booting: agent and (unless a fault holds it) nova-compute
    /// start; guests stay shut off (Nova's `resume_guests_state_on_host_boot` is false).
    pub fn finish_boot(&mut self, now_ms: u64) {
        self.os_up = true;
        self.agent_alive = true;
        // A new boot id: the agent reports what it saw running in an earlier boot.
        if let Some(saved) = &self.saved_guests {
            self.reboot_report = Some(saved.clone());
        }
        self.compute_alive = !self.compute_fault;
        self.last_ack_ms = now_ms;
        self.generation += 1;
    }
}
