//! The command tree: [`Command`] is what the `lazarus` binary flattens into its own
//! subcommands; [`Cli`] is the same tree as a stand-alone parser (tests, embedding).

use clap::{Args, Parser, Subcommand};

use crate::args::ConnectionArgs;
use crate::commands::host::HostAction;
use crate::commands::notification::NotificationAction;
use crate::commands::recovery::RecoveryAction;
use crate::commands::segment::SegmentAction;
use crate::commands::status::StatusArgs;
use crate::commands::vmove::VMoveAction;
use crate::commands::Context;
use crate::error::CliError;
use crate::format::OutputArgs;
use crate::output::Output;

/// The operator commands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Failover segments: groups of hosts that recover into each other.
    Segment(SegmentCommand),
    /// The hosts of a segment.
    Host(HostCommand),
    /// Failure reports, as monitors post them.
    Notification(NotificationCommand),
    /// The instance moves of a host recovery (API 1.3).
    Vmove(VMoveCommand),
    /// lazarus's recoveries, with their step timelines.
    Recovery(RecoveryCommand),
    /// The controller's readiness and what it believes about its hosts.
    Status(StatusCommand),
}

/// `lazarus segment ...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SegmentCommand {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub action: SegmentAction,
}

/// `lazarus host ...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct HostCommand {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub action: HostAction,
}

/// `lazarus notification ...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct NotificationCommand {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub action: NotificationAction,
}

/// `lazarus vmove ...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct VMoveCommand {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub action: VMoveAction,
}

/// `lazarus recovery ...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct RecoveryCommand {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub action: RecoveryAction,
}

/// `lazarus status`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StatusCommand {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub args: StatusArgs,
}

impl Command {
    /// How to reach the API.
    pub fn connection(&self) -> &ConnectionArgs {
        match self {
            Command::Segment(c) => &c.connection,
            Command::Host(c) => &c.connection,
            Command::Notification(c) => &c.connection,
            Command::Vmove(c) => &c.connection,
            Command::Recovery(c) => &c.connection,
            Command::Status(c) => &c.connection,
        }
    }

    /// How to print the result (`None` for commands that print nothing).
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            Command::Segment(c) => c.action.output(),
            Command::Host(c) => c.action.output(),
            Command::Notification(c) => c.action.output(),
            Command::Vmove(c) => c.action.output(),
            Command::Recovery(c) => c.action.output(),
            Command::Status(c) => Some(&c.args.output),
        }
    }

    /// Runs the command against the API in `ctx`.
    pub async fn execute(&self, ctx: &Context) -> Result<Output, CliError> {
        match self {
            Command::Segment(c) => c.action.run(ctx).await,
            Command::Host(c) => c.action.run(ctx).await,
            Command::Notification(c) => c.action.run(ctx).await,
            Command::Vmove(c) => c.action.run(ctx).await,
            Command::Recovery(c) => c.action.run(ctx).await,
            Command::Status(c) => c.args.run(ctx).await,
        }
    }
}

/// The operator commands as a stand-alone `lazarus` parser.
#[derive(Debug, Parser)]
#[command(name = "lazarus")]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}
