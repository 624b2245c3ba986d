//! Commands: what the engine wants done, in the imperative.
//!
//! The runtime executes commands **in the order given**: a [`Command::Persist`] that
//! precedes effect commands must be durable before they start (write-ahead). Results
//! come back as [`crate::Event`]s.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::engine::{Record, TimerToken};
use crate::event::Process;
use crate::model::FenceMethod;
use crate::workflow::RecoverySummary;
use crate::{HostName, InstanceId, Timestamp};

/// The prefix of every `disabled_reason` lazarus writes, so that it re-enables only
/// what it disabled (libvirt uses `AUTO: ` the same way).
pub const DISABLED_REASON_PREFIX: &str = "lazarus: ";

/// Whether a `disabled_reason` was written by lazarus.
pub fn disabled_by_lazarus(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| r.starts_with(DISABLED_REASON_PREFIX))
}

/// Something to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Write this record durably before executing anything that follows it. The
    /// store keeps the latest record per [`Record::key`].
    Persist(Record),
    /// Power the host off through its BMC. Answered by [`crate::Event::FenceAttempted`];
    /// followed by power reads until "Off" is read back.
    FenceHost {
        /// The host.
        host: HostName,
        /// How (always [`FenceMethod::Bmc`] today; watchdog and manual fences need no
        /// command).
        method: FenceMethod,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// Read the host's power state from its BMC. Answered by
    /// [`crate::Event::PowerStateRead`].
    ReadPowerState {
        /// The host.
        host: HostName,
    },
    /// Force the compute service down and disable it, in this order, with `reason`
    /// (which starts with [`DISABLED_REASON_PREFIX`]). Answered by
    /// [`crate::Event::HostMarkedDown`].
    MarkHostDown {
        /// The host.
        host: HostName,
        /// The `disabled_reason`.
        reason: String,
    },
    /// Evacuate one instance to `to` (Nova validates the host through its scheduler).
    /// Answered by [`crate::Event::EvacuationAccepted`] or
    /// [`crate::Event::EvacuationRejected`].
    EvacuateInstance {
        /// The instance.
        instance: InstanceId,
        /// The failed host it is on.
        from: HostName,
        /// The target host.
        to: HostName,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// Read the instance from Nova (host, states, latest evacuation migration).
    /// Answered by [`crate::Event::InstanceObserved`].
    CheckInstance {
        /// The instance.
        instance: InstanceId,
    },
    /// Reset a failed instance on its (live) host. Answered by
    /// [`crate::Event::InstanceResetDone`].
    ResetInstance {
        /// The instance.
        instance: InstanceId,
        /// Its host.
        host: HostName,
        /// How.
        method: ResetMethod,
        /// Why, for the audit log.
        reason: String,
    },
    /// Ask the host's agent to restart a process. A failure comes back as
    /// [`crate::Event::ProcessRestartFailed`]; success shows in later heartbeats.
    RestartProcess {
        /// The host.
        host: HostName,
        /// Which process.
        process: Process,
    },
    /// Disable the compute service for scheduling (not forced down: its instances keep
    /// running). Answered by [`crate::Event::HostDisabled`].
    DisableHost {
        /// The host.
        host: HostName,
        /// The `disabled_reason`, starting with [`DISABLED_REASON_PREFIX`].
        reason: String,
    },
    /// Enable a compute service lazarus disabled. Answered by
    /// [`crate::Event::HostEnabled`].
    EnableHost {
        /// The host.
        host: HostName,
    },
    /// Lift `forced_down` on a recovered host and, if `enable`, re-enable it (only
    /// when lazarus disabled it). Answered by [`crate::Event::HostReturnedToService`].
    ReturnHostToService {
        /// The host.
        host: HostName,
        /// Whether to enable the service too.
        enable: bool,
    },
    /// Fire [`crate::Event::TimerFired`] with `token` at `at`.
    ScheduleTimer {
        /// When.
        at: Timestamp,
        /// The token to hand back.
        token: TimerToken,
    },
    /// Tell people.
    RaiseAlert(Alert),
    /// A host's recovery reached its end (Done or Partial): report it (Masakari
    /// notification status, audit, availability figures).
    RecoveryFinished(RecoverySummary),
}

/// How an instance is reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetMethod {
    /// `reboot` with `type: HARD`.
    HardReboot,
    /// `os-stop` then `os-start`, waiting at most this long for it to stop.
    StopStart {
        /// How long to wait for the stop.
        stop_timeout: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_prefix_counts_as_ours() {
        assert!(disabled_by_lazarus(Some("lazarus: host failed")));
        assert!(!disabled_by_lazarus(Some("AUTO: libvirt down")));
        assert!(!disabled_by_lazarus(Some("maintenance")));
        assert!(!disabled_by_lazarus(None));
    }
}
