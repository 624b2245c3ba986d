//! lazarus's operator CLI: `lazarus segment|host|notification|vmove|recovery|status`.
//!
//! In the style of python-openstackclient and python-masakariclient: tables by default,
//! `-f json|yaml|value|table`, `-c COLUMN` to pick columns, filters and `--limit`,
//! `--marker`, `--sort` as the API takes them, `--os-api-version` for the `instance-ha`
//! microversion (1.3 by default).
//!
//! The crate is a library so that the `lazarus` binary embeds the command tree
//! ([`Command`], a `clap::Subcommand`) next to its own subcommands, and so that tests
//! drive the commands against a real API:
//!
//! - [`LazarusClient`] sends requests to the Masakari v1 routes and the native
//!   `/v1/lazarus/...` ones and turns error answers into the API's message;
//! - each command ([`Command::execute`]) returns an [`Output`] (a listing, a record, or
//!   nothing) and never prints;
//! - [`render`] prints an `Output` in the chosen [`Format`];
//! - [`run`] does all of it for the binary and maps failures to exit codes (2 for
//!   usage errors, 1 for API and network errors), never panicking.

pub mod args;
pub mod client;
pub mod command;
pub mod commands;
pub mod connect;
pub mod error;
pub mod format;
pub mod keystone;
pub mod output;

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

pub use args::{ConnectionArgs, ListArgs};
pub use client::LazarusClient;
pub use command::{Cli, Command};
pub use commands::Context;
pub use error::{CliError, ClientError};
pub use format::{Format, OutputArgs};
pub use output::{render, Listing, Output, Record};

/// Runs `command` and renders its output as text (what [`run`] prints).
pub async fn execute_to_text(command: &Command, ctx: &Context) -> Result<String, CliError> {
    let output = command.execute(ctx).await?;
    match command.output() {
        Some(args) => render(&output, args),
        None => Ok(String::new()),
    }
}

/// Runs `command` to completion for the `lazarus` binary: connects, executes, prints
/// the result on stdout or the error on stderr, and returns the exit code.
pub fn run(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lazarus: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let now = wall_clock_now();
    let result = runtime.block_on(async {
        let client = connect::connect(command.connection()).await?;
        let ctx = Context { client, now };
        execute_to_text(&command, &ctx).await
    });
    match result {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lazarus: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The one wall-clock read of the CLI: the command's start time, for
/// `--generated-time now`.
#[allow(clippy::disallowed_methods)]
fn wall_clock_now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}
