//! `lazarus`: the controller, the agent, the simulator and the operator CLI in one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod simulate;

/// Instance high availability for OpenStack.
#[derive(Debug, Parser)]
#[command(name = "lazarus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Commands>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Commands {
    /// Run the deterministic simulator: `--seeds N` sweeps seeds, `--seed S` replays one.
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Commands::Simulate(args)) => simulate::run(&args),
        None => ExitCode::SUCCESS,
    }
}
