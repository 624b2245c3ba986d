//! `lazarus`: the controller, the agent, the simulator and the operator CLI in one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agent;
mod controller;
mod logging;
mod simulate;

/// Instance high availability for OpenStack.
#[derive(Debug, Parser)]
#[command(name = "lazarus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Commands {
    /// Run the controller: the Masakari-compatible API, the decision engine and the
    /// recovery of failed hosts against the configured OpenStack cloud.
    Controller(controller::ControllerArgs),
    /// Run the host agent: heartbeats to the controller, peer probes, nova-compute and
    /// libvirtd monitoring, isolation response and watchdog.
    Agent(agent::AgentArgs),
    /// Run the deterministic simulator: `--seeds N` sweeps seeds, `--seed S` replays one.
    Simulate(simulate::SimulateArgs),
    /// The operator commands: segment, host, notification, vmove, recovery, status.
    #[command(flatten)]
    Operator(lazarus_cli::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Controller(args) => controller::run(&args),
        Commands::Agent(args) => agent::run(&args),
        Commands::Simulate(args) => simulate::run(&args),
        Commands::Operator(command) => lazarus_cli::run(command),
    }
}
