//! Notifications: failure reports posted by monitors (or by lazarus's own detector).

use std::time::Duration;

use crate::model::wire_enum;
use crate::Time;

wire_enum!(
    /// What failed, per the monitor.
    NotificationType {
        /// A whole compute host.
        ComputeHost => "COMPUTE_HOST",
        /// One instance.
        Vm => "VM",
        /// A process on a host (nova-compute).
        Process => "PROCESS",
    }
);

wire_enum!(
    /// Where a notification is in its processing.
    NotificationStatus {
        /// Accepted, not yet picked up.
        New => "new",
        /// A recovery is acting on it.
        Running => "running",
        /// The recovery hit an error and may be retried.
        Error => "error",
        /// The recovery gave up.
        Failed => "failed",
        /// Nothing to do (e.g. a STARTED event).
        Ignored => "ignored",
        /// Recovered.
        Finished => "finished",
    }
);

impl NotificationStatus {
    /// Whether a notification in this status still holds its segment "under recovery"
    /// (Masakari refuses to change or delete such segments and their hosts).
    pub fn holds_segment(self) -> bool {
        match self {
            NotificationStatus::New | NotificationStatus::Running | NotificationStatus::Error => {
                true
            }
            NotificationStatus::Failed
            | NotificationStatus::Ignored
            | NotificationStatus::Finished => false,
        }
    }
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Numeric id, assigned by the store.
    pub id: i64,
    /// UUID, chosen by the caller.
    pub notification_uuid: String,
    /// What failed.
    pub notification_type: NotificationType,
    /// The host the monitor named.
    pub hostname: String,
    /// When the monitor saw the failure.
    pub generated_time: Time,
    /// The monitor's payload (a JSON object).
    pub payload: serde_json::Value,
    /// Processing status.
    pub status: NotificationStatus,
    /// UUID of the host record `hostname` resolved to.
    pub source_host_uuid: String,
    /// UUID of that host's segment.
    pub failover_segment_uuid: String,
    /// Human-readable outcome, if any.
    pub message: Option<String>,
    /// Masakari 1.1 `recovery_workflow_details`: a JSON array of task progress objects.
    pub recovery_workflow_details: serde_json::Value,
    /// When it was accepted.
    pub created_at: Time,
    /// When it last changed, if ever.
    pub updated_at: Option<Time>,
}

/// What a new notification is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// UUID, chosen by the caller.
    pub notification_uuid: String,
    /// What failed.
    pub notification_type: NotificationType,
    /// The host the monitor named.
    pub hostname: String,
    /// When the monitor saw the failure.
    pub generated_time: Time,
    /// The monitor's payload.
    pub payload: serde_json::Value,
    /// Initial status (normally `new`).
    pub status: NotificationStatus,
    /// Resolved host.
    pub source_host_uuid: String,
    /// Resolved segment.
    pub failover_segment_uuid: String,
}

/// When a new notification counts as a duplicate of a stored one (and is refused with
/// [`StoreError::Conflict`](crate::StoreError::Conflict)): same type, same source host,
/// equal payload, the stored one still `new` or `running`, and generated no earlier than
/// `window` before the new one. This is Masakari's rule
/// (`duplicate_notification_detection_interval`, default 180 s) as its documentation
/// states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateWindow(pub Duration);

/// A partial update of a notification, made by the controller as it processes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationUpdate {
    /// New status.
    pub status: Option<NotificationStatus>,
    /// New message (`Some(None)` clears it).
    pub message: Option<Option<String>>,
    /// New workflow details (a JSON array).
    pub recovery_workflow_details: Option<serde_json::Value>,
}

/// Which notifications a list returns; every `Some` must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFilter {
    /// Only these statuses (any of them); empty means any status.
    pub statuses: Vec<NotificationStatus>,
    /// Only from this host (uuid).
    pub source_host_uuid: Option<String>,
    /// Only of this segment (uuid).
    pub failover_segment_uuid: Option<String>,
    /// Only of this type.
    pub notification_type: Option<NotificationType>,
    /// Only generated at or after this time.
    pub generated_since: Option<Time>,
}
