//! Events: what happened, in the past tense, as the runtime observed it.
//!
//! The runtime turns everything it sees (an agent's heartbeat, a Nova answer, a BMC
//! reading, a monitor's notification, a timer) into one [`Event`] and hands it to
//! [`crate::Engine::handle`] with the current time. Results of commands come back as
//! events too, so the engine never waits on anything.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::TimerToken;
use crate::model::VmState;
use crate::{HostName, InstanceId};

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// An agent's heartbeat arrived.
    HeartbeatReceived(Heartbeat),
    /// Nova's view of a compute service was read (`GET /os-services`).
    NovaServiceObserved(NovaService),
    /// A BMC power state was read (answer to [`crate::Command::ReadPowerState`]).
    PowerStateRead {
        /// The host.
        host: HostName,
        /// What the BMC said.
        result: Result<PowerState, FenceError>,
    },
    /// A power-off was sent (answer to [`crate::Command::FenceHost`]). Success means
    /// the BMC accepted the request, not that the host is off: that is confirmed
    /// only by reading "Off" back.
    FenceAttempted {
        /// The host.
        host: HostName,
        /// The attempt number it answers.
        attempt: u32,
        /// What the BMC said.
        result: Result<(), FenceError>,
    },
    /// Answer to [`crate::Command::MarkHostDown`].
    HostMarkedDown {
        /// The host.
        host: HostName,
        /// What Nova said.
        result: Result<(), NovaError>,
    },
    /// Nova accepted an evacuation request (the work runs in the background).
    EvacuationAccepted {
        /// The instance.
        instance: InstanceId,
        /// The target host the request named.
        target: HostName,
        /// The attempt number it answers.
        attempt: u32,
    },
    /// Nova refused an evacuation request, or the call failed.
    EvacuationRejected {
        /// The instance.
        instance: InstanceId,
        /// The target host the request named.
        target: HostName,
        /// The attempt number it answers.
        attempt: u32,
        /// Why.
        error: EvacuationError,
    },
    /// An instance was observed in Nova (answer to [`crate::Command::CheckInstance`],
    /// or a periodic sync).
    InstanceObserved(InstanceObservation),
    /// An instance was observed failing on a live host.
    InstanceFailed {
        /// The instance.
        instance: InstanceId,
        /// How.
        kind: InstanceFailureKind,
    },
    /// Answer to [`crate::Command::ResetInstance`].
    InstanceResetDone {
        /// The instance.
        instance: InstanceId,
        /// What Nova said.
        result: Result<(), NovaError>,
    },
    /// A process was seen stopped on a host whose agent is alive.
    ProcessDown {
        /// The host.
        host: HostName,
        /// Which process.
        process: Process,
    },
    /// A process was seen running again.
    ProcessUp {
        /// The host.
        host: HostName,
        /// Which process.
        process: Process,
    },
    /// The agent could not restart a process.
    ProcessRestartFailed {
        /// The host.
        host: HostName,
        /// Which process.
        process: Process,
        /// The agent's error, for the audit log.
        error: String,
    },
    /// Answer to [`crate::Command::DisableHost`].
    HostDisabled {
        /// The host.
        host: HostName,
        /// What Nova said.
        result: Result<(), NovaError>,
    },
    /// Answer to [`crate::Command::EnableHost`].
    HostEnabled {
        /// The host.
        host: HostName,
        /// What Nova said.
        result: Result<(), NovaError>,
    },
    /// Answer to [`crate::Command::ReturnHostToService`].
    HostReturnedToService {
        /// The host.
        host: HostName,
        /// What Nova said. A 400 ([`NovaError::BadRequest`]) while evacuation records
        /// are still `done` means "not yet": retried later.
        result: Result<(), NovaError>,
    },
    /// A failed host's compute service reports again (it was repaired or rebooted).
    HostReturned {
        /// The host.
        host: HostName,
    },
    /// A host's agent reports that the host rebooted since it last saw its guests
    /// (another boot id), with the guests it last saw running before. Sent once per
    /// reboot (resent only until the controller took it); a guest a user stopped
    /// before the reboot is not listed. The engine restarts in place, if they are
    /// found shut off, the listed guests of a host with no recovery
    /// (docs/sim-findings.md F13).
    HostRebooted {
        /// The host.
        host: HostName,
        /// The guests (Nova server ids) running on it before the reboot.
        guests_running_before: Vec<InstanceId>,
    },
    /// A monitor (masakari-monitors, or anything speaking the Masakari API) reported.
    MonitorNotified(Notification),
    /// An operator confirmed a host is off (fenced by hand).
    OperatorConfirmedFenced {
        /// The host.
        host: HostName,
        /// Who, for the audit log.
        operator: String,
    },
    /// An operator asked for a host to be recovered (its instances evacuated). The
    /// host still has to be fenced (or confirmed) first.
    OperatorRequestedRecovery {
        /// The host.
        host: HostName,
        /// Who.
        operator: String,
    },
    /// An operator asked for a host to be returned to service.
    OperatorRequestedReturn {
        /// The host.
        host: HostName,
        /// Who.
        operator: String,
    },
    /// A timer scheduled by [`crate::Command::ScheduleTimer`] fired. Tokens the engine
    /// no longer waits for are dropped, so the runtime never has to cancel a timer.
    TimerFired(TimerToken),
}

/// One heartbeat from a host's agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The host the agent runs on.
    pub host: HostName,
    /// The peers the agent could reach recently (its own probes).
    pub reachable_peers: BTreeSet<HostName>,
    /// How long before the heartbeat was sent each reachable peer last answered the
    /// agent's probes. A reachable peer missing here answered just now (age zero), so
    /// a heartbeat without ages (an older agent, a test) reads as it always did. The
    /// detector credits each peer's sighting at `arrival - age`: a dead host stops
    /// looking reached `peer_window` after its last answer, not after the last report
    /// that still listed it (docs/core.md, "Detector").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peer_ages: BTreeMap<HostName, Duration>,
    /// The state of nova-compute on the host.
    pub nova_compute: ProcessState,
    /// The state of libvirtd on the host.
    pub libvirtd: ProcessState,
    /// Instance failures the agent saw since its last heartbeat.
    pub instance_failures: Vec<InstanceFailure>,
}

impl Heartbeat {
    /// A heartbeat from a healthy host that reaches no peer and has nothing to report.
    pub fn healthy(host: impl Into<HostName>) -> Self {
        Self {
            host: host.into(),
            reachable_peers: BTreeSet::new(),
            peer_ages: BTreeMap::new(),
            nova_compute: ProcessState::Running,
            libvirtd: ProcessState::Running,
            instance_failures: Vec::new(),
        }
    }

    /// How long before this heartbeat was sent `peer` last answered the agent: its
    /// reported age, or zero when none was reported.
    pub fn peer_age(&self, peer: &HostName) -> Duration {
        self.peer_ages.get(peer).copied().unwrap_or(Duration::ZERO)
    }
}

/// The processes an agent watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Process {
    /// `nova-compute`.
    NovaCompute,
    /// `libvirtd`.
    Libvirtd,
}

impl Process {
    /// The process's name as monitors spell it.
    pub fn name(self) -> &'static str {
        match self {
            Process::NovaCompute => "nova-compute",
            Process::Libvirtd => "libvirtd",
        }
    }

    /// Parses a monitor's process name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "nova-compute" | "/usr/bin/nova-compute" => Some(Process::NovaCompute),
            "libvirtd" | "/usr/sbin/libvirtd" => Some(Process::Libvirtd),
            _ => None,
        }
    }
}

/// A process's state as an agent reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    /// Running.
    Running,
    /// Not running.
    Stopped,
    /// The agent could not tell.
    Unknown,
}

/// One instance failure an agent or monitor saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFailure {
    /// The instance.
    pub instance: InstanceId,
    /// How it failed.
    pub kind: InstanceFailureKind,
}

/// How an instance failed on a live host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceFailureKind {
    /// The guest crashed or its QEMU process died (libvirt LIFECYCLE STOPPED_FAILED).
    Crashed,
    /// The guest agent's heartbeat has been silent for this long.
    GuestHeartbeatLost {
        /// Silence so far.
        silent_for: Duration,
    },
    /// The guest's virtual watchdog fired.
    Watchdog,
    /// The guest's disk I/O failed (libvirt IO_ERROR).
    IoError,
}

/// Nova's view of one compute service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NovaService {
    /// The host.
    pub host: HostName,
    /// Whether the service reports within `service_down_time` (its `updated_at` is
    /// recent), whatever `forced_down` says: the compute process is alive.
    pub reporting: bool,
    /// Nova's `state` (`up` or `down`; `forced_down` makes it `down`).
    pub up: bool,
    /// `forced_down`.
    pub forced_down: bool,
    /// `status == disabled`.
    pub disabled: bool,
    /// `disabled_reason`, if any.
    pub disabled_reason: Option<String>,
}

/// A BMC's answer to a power read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off: the only answer that confirms a fence.
    Off,
    /// The BMC answered with something else (powering on/off, unknown).
    Unknown,
}

/// What went wrong talking to a BMC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct FenceError {
    /// What kind of failure.
    pub kind: FenceErrorKind,
    /// Whether trying again may help.
    pub retryable: bool,
    /// The driver's message, for the audit log.
    pub message: String,
}

/// Kinds of BMC failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceErrorKind {
    /// The BMC did not answer in time.
    Timeout,
    /// The BMC could not be reached.
    Unreachable,
    /// The credentials were refused.
    AuthFailed,
    /// No BMC is configured for the host.
    NotConfigured,
    /// Anything else.
    Other,
}

/// What went wrong with a Nova call other than evacuate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum NovaError {
    /// 400: the request is refused in the current state.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404: the service or server does not exist.
    #[error("not found")]
    NotFound,
    /// 409: conflicting state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 5xx: retryable.
    #[error("server error {0}")]
    ServerError(u16),
    /// No answer in time: retryable, the effect is unknown.
    #[error("timed out")]
    Timeout,
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl NovaError {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            NovaError::ServerError(_) | NovaError::Timeout | NovaError::Conflict(_) => true,
            NovaError::BadRequest(_) | NovaError::NotFound | NovaError::Other(_) => false,
        }
    }
}

/// Why Nova refused (or failed) an evacuation request, mirroring Nova's errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum EvacuationError {
    /// 400 `ComputeServiceInUse`: the source service is not down yet. Mark it down
    /// again, then retry on the same target.
    #[error("compute service in use (source not down yet)")]
    ComputeServiceInUse,
    /// 409, or the destination claim / late server-group check refused it: retry on
    /// another host.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 5xx: the request may or may not have been taken; check before retrying.
    #[error("server error {0}")]
    ServerError(u16),
    /// No answer in time: the request may or may not have been taken; check first.
    #[error("timed out")]
    Timeout,
    /// 404: the server no longer exists; nothing to recover.
    #[error("not found")]
    NotFound,
    /// Anything else (400 for a non-evacuable server...): this attempt failed.
    #[error("{0}")]
    Other(String),
}

/// One instance as Nova shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceObservation {
    /// The instance.
    pub instance: InstanceId,
    /// `OS-EXT-SRV-ATTR:host`; `None` if the server no longer exists.
    pub host: Option<HostName>,
    /// `vm_state`.
    pub vm_state: VmState,
    /// `task_state`, if any (`rebuilding`, `rebuild_spawning`...).
    pub task_state: Option<String>,
    /// Status of its most recent evacuation migration record, if it has one.
    pub migration: Option<MigrationStatus>,
}

/// The status of a Nova evacuation migration record (domain facts §1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationStatus {
    /// Accepted by the API.
    Accepted,
    /// The conductor is working on it.
    PreMigrating,
    /// The destination rebuilt the server.
    Done,
    /// The source compute restarted and cleaned up.
    Completed,
    /// It failed (claim or late group check); the server stayed on the source.
    Failed,
    /// It errored.
    Error,
}

impl MigrationStatus {
    /// Whether the migration is still running.
    pub fn in_progress(self) -> bool {
        match self {
            MigrationStatus::Accepted | MigrationStatus::PreMigrating => true,
            MigrationStatus::Done
            | MigrationStatus::Completed
            | MigrationStatus::Failed
            | MigrationStatus::Error => false,
        }
    }

    /// Whether it finished successfully.
    pub fn succeeded(self) -> bool {
        match self {
            MigrationStatus::Done | MigrationStatus::Completed => true,
            MigrationStatus::Accepted
            | MigrationStatus::PreMigrating
            | MigrationStatus::Failed
            | MigrationStatus::Error => false,
        }
    }
}

/// A Masakari-style notification from a monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The notification's UUID, for the audit log and deduplication.
    pub id: String,
    /// The host it is about.
    pub host: HostName,
    /// What it says.
    pub payload: NotificationPayload,
}

/// The payload of a notification, by Masakari type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationPayload {
    /// `COMPUTE_HOST`. Acted on only for `STOPPED` with `host_status` `NORMAL`, which
    /// counts as a failure report and a fence confirmation (as in Masakari).
    ComputeHost {
        /// `event`.
        event: HostEvent,
        /// `host_status`.
        host_status: HostStatus,
    },
    /// `PROCESS`. Acted on for `STOPPED` of a watched process.
    Process {
        /// `process_name`.
        process_name: String,
        /// `event`.
        event: HostEvent,
    },
    /// `VM`. Acted on for the failure events Masakari acts on.
    Vm {
        /// `instance_uuid`.
        instance: InstanceId,
        /// What failed; `None` for events Masakari ignores.
        failure: Option<InstanceFailureKind>,
    },
}

/// `STARTED` or `STOPPED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HostEvent {
    /// It started.
    Started,
    /// It stopped.
    Stopped,
}

/// `host_status` of a COMPUTE_HOST notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HostStatus {
    /// The monitor's cluster fenced the host: it is known to be down.
    Normal,
    /// The monitor does not know.
    Unknown,
}
