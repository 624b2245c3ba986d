//! `lazarus vmove list|show NOTIFICATION`: the instance moves of a host recovery
//! (`/v1/notifications/{id}/vmoves`, microversion 1.3).

use clap::{Args, Subcommand, ValueEnum};

use super::{listing, record, seg, Context};
use crate::args::{push_opt, ListArgs};
use crate::error::CliError;
use crate::format::OutputArgs;
use crate::output::Output;

/// Masakari's vmove statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum VMoveStatus {
    /// Not started.
    Pending,
    /// Under way.
    Ongoing,
    /// Not attempted.
    Ignored,
    /// Failed.
    Failed,
    /// Done.
    Succeeded,
}

impl VMoveStatus {
    fn as_str(self) -> &'static str {
        match self {
            VMoveStatus::Pending => "pending",
            VMoveStatus::Ongoing => "ongoing",
            VMoveStatus::Ignored => "ignored",
            VMoveStatus::Failed => "failed",
            VMoveStatus::Succeeded => "succeeded",
        }
    }
}

/// Masakari's vmove types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum VMoveType {
    /// Rebuilt on another host (the source is dead).
    Evacuation,
    /// Cold migration.
    Migration,
    /// Live migration.
    LiveMigration,
}

impl VMoveType {
    fn as_str(self) -> &'static str {
        match self {
            VMoveType::Evacuation => "evacuation",
            VMoveType::Migration => "migration",
            VMoveType::LiveMigration => "live_migration",
        }
    }
}

/// The vmove actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum VMoveAction {
    /// List the moves of a COMPUTE_HOST notification.
    List(ListVMoves),
    /// Show one move.
    Show(ShowVMove),
}

/// `vmove list`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ListVMoves {
    /// The notification's uuid.
    pub notification: String,
    /// Only moves with this status.
    #[arg(long, value_enum)]
    pub status: Option<VMoveStatus>,
    /// Only moves of this type.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub vmove_type: Option<VMoveType>,
    #[command(flatten)]
    pub list: ListArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `vmove show`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ShowVMove {
    /// The notification's uuid.
    pub notification: String,
    /// The move's uuid.
    pub vmove: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

const COLUMNS: &[&str] = &[
    "uuid",
    "instance_uuid",
    "instance_name",
    "source_host",
    "dest_host",
    "start_time",
    "end_time",
    "type",
    "status",
];
const FIELDS: &[&str] = &[
    "uuid",
    "notification_uuid",
    "instance_uuid",
    "instance_name",
    "source_host",
    "dest_host",
    "start_time",
    "end_time",
    "type",
    "status",
    "message",
    "id",
    "created_at",
    "updated_at",
];

impl VMoveAction {
    /// The output options.
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            VMoveAction::List(a) => Some(&a.output),
            VMoveAction::Show(a) => Some(&a.output),
        }
    }

    /// Runs the action.
    pub async fn run(&self, ctx: &Context) -> Result<Output, CliError> {
        match self {
            VMoveAction::List(a) => {
                let mut q = a.list.query();
                push_opt(&mut q, "status", a.status.map(VMoveStatus::as_str));
                push_opt(&mut q, "type", a.vmove_type.map(VMoveType::as_str));
                let path = format!("/v1/notifications/{}/vmoves", seg(&a.notification));
                let items = ctx.client.get_key(&path, &q, "vmoves").await?;
                Ok(listing(&items, COLUMNS))
            }
            VMoveAction::Show(a) => {
                let path = format!(
                    "/v1/notifications/{}/vmoves/{}",
                    seg(&a.notification),
                    seg(&a.vmove)
                );
                let m = ctx.client.get_key(&path, &[], "vmove").await?;
                Ok(record(&m, FIELDS, &[]))
            }
        }
    }
}
