//! Alerts: what the core wants a person to know, with enough context to act and audit.
//!
//! The core does not log. An alert is a command like any other: the runtime logs it at
//! the level its [`Severity`] names, exports it as a metric and forwards it to whatever
//! pages people.

use serde::{Deserialize, Serialize};

use crate::{HostName, InstanceId};

/// How urgently a person is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Unexpected but handled (a retry, a duplicate report, a held-back reset).
    Warning,
    /// Gave up on one unit of work (an instance could not be recovered or reset).
    Error,
    /// Safety is at risk and a person is needed now (a fence that cannot be confirmed,
    /// the storm guard holding back fencing).
    Critical,
}

/// What the alert is about, so the runtime can deduplicate, count and route alerts
/// without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The controller stopped hearing a large share of hosts at once: it is probably
    /// the one cut off, so no host is judged failed until this clears.
    StormGuardEngaged,
    /// The storm guard condition cleared; normal judgement resumed.
    StormGuardReleased,
    /// More hosts would be fenced within the window than the cap allows.
    FenceCapReached,
    /// A host is judged failed and its recovery starts.
    HostFailed,
    /// A host the controller cannot hear is still reachable by its peers: partitioned
    /// from the controller only, so it is not fenced.
    HostPartitioned,
    /// Fencing could not be confirmed after every retry; lazarus waits for a BMC answer
    /// or an operator's confirmation and evacuates nothing meanwhile.
    FenceUnconfirmed,
    /// An operator's fence confirmation arrived while no recovery of the host waited for
    /// one (none under way, or its fence already confirmed): nothing was done.
    FenceConfirmationIgnored,
    /// A fence attempt failed and will be retried.
    FenceRetry,
    /// Nova refused to mark the host down, or failed; retried.
    MarkDownFailed,
    /// An instance could not be placed or recovered; it carries the reason.
    InstanceNotRecovered,
    /// An evacuation attempt failed and is retried elsewhere.
    EvacuationRetry,
    /// Another report of a failure already under recovery was recorded, not acted on.
    DuplicateReport,
    /// A host heard from again before it was fenced: its recovery was called off.
    RecoveryAborted,
    /// An instance reached its cap of resets within the window; no further reset.
    ResetCapReached,
    /// A process on a host stayed down after a restart; the host was disabled for
    /// scheduling (its instances keep running).
    ProcessDown,
    /// Returning a host to service failed in a way that needs a person.
    ReturnToServiceFailed,
    /// A report named a host or instance lazarus does not know.
    UnknownSubject,
}

/// One alert: severity, kind, a human message, and the host and instance concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// How urgent.
    pub severity: Severity,
    /// What about.
    pub kind: AlertKind,
    /// The host concerned, if any.
    pub host: Option<HostName>,
    /// The instance concerned, if any.
    pub instance: Option<InstanceId>,
    /// What happened and why, with the signals behind the decision.
    pub message: String,
}

impl Alert {
    /// An alert about a host.
    pub fn host(
        severity: Severity,
        kind: AlertKind,
        host: &HostName,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind,
            host: Some(host.clone()),
            instance: None,
            message: message.into(),
        }
    }

    /// An alert about an instance (and the host it was on, when known).
    pub fn instance(
        severity: Severity,
        kind: AlertKind,
        instance: &InstanceId,
        host: Option<&HostName>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind,
            host: host.cloned(),
            instance: Some(instance.clone()),
            message: message.into(),
        }
    }

    /// An alert about the controller or the cluster as a whole.
    pub fn cluster(severity: Severity, kind: AlertKind, message: impl Into<String>) -> Self {
        Self {
            severity,
            kind,
            host: None,
            instance: None,
            message: message.into(),
        }
    }
}
