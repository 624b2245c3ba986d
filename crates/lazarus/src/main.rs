//! `lazarus`: the controller, the agent, the simulator and the operator CLI in one binary.

use clap::Parser;

/// Instance high availability for OpenStack.
#[derive(Debug, Parser)]
#[command(name = "lazarus", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
