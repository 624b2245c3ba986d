//! VM moves: one instance's move during the recovery of a host notification (API 1.3).

use crate::model::wire_enum;
use crate::Time;

wire_enum!(
    /// How the instance is moved.
    VMoveType {
        /// Rebuilt on another host (the source is down).
        Evacuation => "evacuation",
        /// Cold migration.
        Migration => "migration",
        /// Live migration.
        LiveMigration => "live_migration",
    }
);

wire_enum!(
    /// Where the move is.
    VMoveStatus {
        /// Planned, not started.
        Pending => "pending",
        /// In progress.
        Ongoing => "ongoing",
        /// Deliberately not done.
        Ignored => "ignored",
        /// Gave up.
        Failed => "failed",
        /// Done and verified.
        Succeeded => "succeeded",
    }
);

/// A stored VM move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VMove {
    /// Numeric id, assigned by the store.
    pub id: i64,
    /// UUID, chosen by the caller.
    pub uuid: String,
    /// The notification whose recovery moves the instance.
    pub notification_uuid: String,
    /// Nova server UUID.
    pub instance_uuid: String,
    /// Nova server name.
    pub instance_name: String,
    /// Host the instance left.
    pub source_host: Option<String>,
    /// Host the instance landed on.
    pub dest_host: Option<String>,
    /// When the move started.
    pub start_time: Option<Time>,
    /// When the move ended.
    pub end_time: Option<Time>,
    /// How it moves.
    pub vmove_type: Option<VMoveType>,
    /// Where it is.
    pub status: Option<VMoveStatus>,
    /// Human-readable outcome.
    pub message: Option<String>,
    /// When it was recorded.
    pub created_at: Time,
    /// When it last changed, if ever.
    pub updated_at: Option<Time>,
}

/// What a new VM move is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVMove {
    /// UUID, chosen by the caller.
    pub uuid: String,
    /// The notification (must exist).
    pub notification_uuid: String,
    /// Nova server UUID.
    pub instance_uuid: String,
    /// Nova server name.
    pub instance_name: String,
    /// Host the instance leaves.
    pub source_host: Option<String>,
    /// How it moves.
    pub vmove_type: Option<VMoveType>,
    /// Initial status.
    pub status: Option<VMoveStatus>,
}

/// A partial update of a VM move: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VMoveUpdate {
    /// Destination host.
    pub dest_host: Option<String>,
    /// Start time.
    pub start_time: Option<Time>,
    /// End time.
    pub end_time: Option<Time>,
    /// New status.
    pub status: Option<VMoveStatus>,
    /// New message.
    pub message: Option<String>,
}

/// Which moves a list returns; every `Some` must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VMoveFilter {
    /// Only moves of this notification (uuid).
    pub notification_uuid: Option<String>,
    /// Only this status.
    pub status: Option<VMoveStatus>,
    /// Only this type.
    pub vmove_type: Option<VMoveType>,
}
