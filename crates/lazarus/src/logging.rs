//! Logging set-up shared by the daemons (`controller`, `agent`).

use std::process::ExitCode;

/// Exit code of a usage or configuration error.
const USAGE: u8 = 2;

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` if set, else by the
/// configuration's `log.filter`. A filter that does not parse is a configuration error
/// (exit code 2), reported as `lazarus <who>: ...`.
pub fn init(who: &str, configured_filter: &str) -> Result<(), ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(configured_filter))
        .map_err(|e| {
            eprintln!("lazarus {who}: invalid configuration: log.filter: {e}");
            ExitCode::from(USAGE)
        })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}
