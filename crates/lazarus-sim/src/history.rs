//! What happened during a run, as the invariants need it: every evacuation the
//! controller commanded (with the truth about its source at that moment), every alert
//! and every recovery report.

use lazarus_core::alert::Alert;
use lazarus_core::workflow::RecoverySummary;
use lazarus_core::{HostName, InstanceId};

/// The truth about an evacuation's source host when the command was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceTruth {
    /// Chassis power is on.
    pub powered: bool,
    /// Its OS is up (not crashed, not rebooting).
    pub os_up: bool,
    /// The instance's guest really runs there.
    pub guest_running: bool,
    /// The host stopped its guests (power off, crash, watchdog reset) after the last
    /// heartbeat the controller heard from it before its recovery began (the recovery
    /// record's `fence.last_heartbeat`), so whatever it ran then is gone.
    pub reset_since_failure: bool,
}

impl SourceTruth {
    /// Whether the host was really fenced: off, crashed, or reset since the failure
    /// (so nothing it ran then still runs).
    pub fn is_fenced(&self) -> bool {
        !self.powered || !self.os_up || self.reset_since_failure
    }
}

/// The latest evacuation of the instance Nova knew when a new one was commanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorEvacuation {
    /// Where it was evacuated from.
    pub source: HostName,
    /// Where to, if the scheduler got that far.
    pub dest: Option<HostName>,
    /// Whether that migration was still running (accepted or pre-migrating).
    pub in_progress: bool,
    /// Whether it succeeded (done or completed).
    pub succeeded: bool,
    /// Whether the instance now really runs on that destination, which is up and has
    /// not been reset since.
    pub dest_healthy: bool,
}

/// One `EvacuateInstance` command, as the controller issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvacuationCommand {
    /// When, in virtual milliseconds.
    pub at_ms: u64,
    /// The instance.
    pub instance: InstanceId,
    /// The host the engine evacuates it from.
    pub from: HostName,
    /// The target.
    pub to: HostName,
    /// The engine's attempt number.
    pub attempt: u32,
    /// The truth about `from` at that moment.
    pub source: SourceTruth,
    /// The instance's latest evacuation in Nova before this one, if any.
    pub prior: Option<PriorEvacuation>,
    /// The store held, when the command was issued, a recovery record of `from` with
    /// this instance at step `Requested` for this target and attempt (write-ahead).
    pub written_ahead: bool,
}

/// Everything the invariants look back on.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Evacuations commanded, in order.
    pub evacuations: Vec<EvacuationCommand>,
    /// Alerts raised, with their time.
    pub alerts: Vec<(u64, Alert)>,
    /// Recovery reports, with their time.
    pub summaries: Vec<(u64, RecoverySummary)>,
}

impl History {
    /// Whether the controller left a reason for not running `instance` (it ran on
    /// `hosts` at some point): a recovery report that gave it up, an alert naming it,
    /// or a critical alert about one of those hosts or the whole cluster.
    pub fn has_reason_for(&self, instance: &InstanceId, hosts: &[HostName]) -> bool {
        use lazarus_core::alert::Severity;
        self.summaries
            .iter()
            .any(|(_, s)| s.given_up.contains_key(instance))
            || self.alerts.iter().any(|(_, a)| {
                a.instance.as_ref() == Some(instance)
                    || (a.severity == Severity::Critical
                        && a.instance.is_none()
                        && a.host.as_ref().is_none_or(|h| hosts.contains(h)))
            })
    }
}
