//! The persisted state of one host's recovery: what has been decided and commanded.
//!
//! A [`RecoveryRecord`] is written (through [`crate::Command::Persist`]) before every
//! effect it leads to, so a controller that takes over reads it back and continues
//! from the last step without repeating an evacuation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{FenceMethod, Resources, RestartPriority};
use crate::{HostName, InstanceId, SegmentId, Timestamp};

/// Version of the record layout, bumped on incompatible changes.
pub const RECOVERY_RECORD_VERSION: u32 = 1;

/// Identifies one recovery: the host and when it started.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecoveryId {
    /// The failed host.
    pub host: HostName,
    /// When the recovery started.
    pub started_at: Timestamp,
}

impl fmt::Display for RecoveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.host, self.started_at.as_millis())
    }
}

/// What started a recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The detector judged the host failed; the signals behind the judgement.
    Detector {
        /// The detector's verdict and evidence, for the audit log.
        signals: String,
    },
    /// A monitor's notification (Masakari COMPUTE_HOST STOPPED, host_status NORMAL).
    Monitor {
        /// The notification UUID.
        notification: String,
    },
    /// An operator's request.
    Operator {
        /// Who.
        operator: String,
    },
}

/// The step a recovery is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Making sure the host is off; nothing is evacuated until it is confirmed.
    Fencing,
    /// Forcing the compute service down and disabling it in Nova.
    MarkingDown,
    /// Evacuating the planned instances in priority waves, verifying each.
    Evacuating,
    /// Every instance is recovered or given up; waiting for the host to come back.
    Finished,
    /// The host came back; lifting forced_down and re-enabling it.
    Returning,
    /// Over: the host is back in service, or the recovery was called off.
    Closed,
}

/// How a fence was confirmed. Without one, nothing is evacuated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceConfirmation {
    /// The BMC read back "Off" after a power-off.
    PowerOff {
        /// When it was read.
        at: Timestamp,
    },
    /// The watchdog promise: `watchdog_timeout + margin` elapsed since the last
    /// heartbeat.
    Watchdog {
        /// The last heartbeat heard.
        last_heartbeat: Timestamp,
        /// When the promise was kept.
        at: Timestamp,
    },
    /// An operator confirmed the host is off.
    Operator {
        /// Who.
        operator: String,
        /// When.
        at: Timestamp,
    },
    /// A monitor's notification (COMPUTE_HOST STOPPED, host_status NORMAL).
    Monitor {
        /// The notification UUID.
        notification: String,
        /// When.
        at: Timestamp,
    },
}

impl FenceConfirmation {
    /// When the fence was confirmed: from then on the host is known to have been off
    /// (or reset), so a heartbeat sent later means it came back.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::PowerOff { at }
            | Self::Watchdog { at, .. }
            | Self::Operator { at, .. }
            | Self::Monitor { at, .. } => *at,
        }
    }
}

/// Fencing progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceRecord {
    /// How the host is fenced.
    pub method: FenceMethod,
    /// Power-off attempts commanded so far.
    pub attempts: u32,
    /// The last heartbeat heard from the host when the recovery started (the
    /// watchdog promise counts from it).
    pub last_heartbeat: Option<Timestamp>,
    /// Retries are exhausted and a critical alert was raised; lazarus only waits.
    pub gave_up: bool,
    /// The confirmation, once there is one.
    pub confirmation: Option<FenceConfirmation>,
}

/// What Nova was told about the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NovaMarks {
    /// Nova confirmed the service forced down and disabled.
    pub marked_down: bool,
    /// The service was already disabled by someone else before lazarus marked it down:
    /// it is not re-enabled on return.
    pub disabled_by_others: bool,
}

/// What a recovered instance should look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedState {
    /// Running.
    Active,
    /// Shut off, as it was before.
    Stopped,
}

/// Where one instance's recovery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStep {
    /// Planned onto `target`; not yet requested.
    Planned {
        /// The target host.
        target: HostName,
    },
    /// The evacuation request is about to be sent (written before it is): its result
    /// is unknown until Nova answers or the instance is checked.
    Requested {
        /// The target host.
        target: HostName,
        /// The attempt number.
        attempt: u32,
    },
    /// Nova accepted the request; being verified.
    Accepted {
        /// The target host.
        target: HostName,
        /// The attempt number.
        attempt: u32,
    },
    /// Verified: running (or stopped as before) on `host`, migration done.
    Recovered {
        /// Where it runs now.
        host: HostName,
    },
    /// Not recovered, and why.
    GivenUp {
        /// Why.
        reason: String,
    },
}

impl InstanceStep {
    /// Whether the instance's recovery is over (recovered or given up).
    pub fn is_settled(&self) -> bool {
        match self {
            InstanceStep::Recovered { .. } | InstanceStep::GivenUp { .. } => true,
            InstanceStep::Planned { .. }
            | InstanceStep::Requested { .. }
            | InstanceStep::Accepted { .. } => false,
        }
    }
}

/// One instance of a failed host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// Restart priority (waves run from highest to lowest).
    pub priority: RestartPriority,
    /// Its flavor's resources (held on the target while in flight).
    pub resources: Resources,
    /// What it should look like when recovered.
    pub expected: ExpectedState,
    /// Evacuation attempts commanded so far.
    pub attempts: u32,
    /// Hosts already tried (avoided by later attempts).
    pub tried: BTreeSet<HostName>,
    /// Where it stands.
    pub step: InstanceStep,
    /// The last error seen, for the report.
    pub last_error: Option<String>,
}

/// How a recovery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every protected instance was recovered.
    Done,
    /// Some were given up, each with its reason.
    Partial,
    /// Called off before fencing (the host was heard from again).
    Aborted,
}

/// The persisted state of one host's recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryRecord {
    /// [`RECOVERY_RECORD_VERSION`] when written.
    pub version: u32,
    /// Which recovery.
    pub id: RecoveryId,
    /// The host's segment.
    pub segment: SegmentId,
    /// What started it.
    pub trigger: Trigger,
    /// Further reports of the same failure, recorded and not acted on.
    pub duplicate_reports: u32,
    /// The current step.
    pub phase: Phase,
    /// Fencing progress.
    pub fence: FenceRecord,
    /// Nova's marks.
    pub nova: NovaMarks,
    /// Whether the host's instances were planned (the plan is in `instances`).
    pub planned: bool,
    /// The protected instances and their recovery, filled in when planned.
    pub instances: BTreeMap<InstanceId, InstanceRecord>,
    /// How it ended, once it has.
    pub outcome: Option<Outcome>,
    /// When this record was last written.
    pub updated_at: Timestamp,
}

impl RecoveryRecord {
    /// The failed host.
    pub fn host(&self) -> &HostName {
        &self.id.host
    }
}

/// The end of a recovery, as reported by [`crate::Command::RecoveryFinished`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySummary {
    /// Which recovery.
    pub id: RecoveryId,
    /// How it ended.
    pub outcome: Outcome,
    /// Instances recovered, with where they run now.
    pub recovered: BTreeMap<InstanceId, HostName>,
    /// Instances given up, with why.
    pub given_up: BTreeMap<InstanceId, String>,
    /// When it ended.
    pub finished_at: Timestamp,
}
