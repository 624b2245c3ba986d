//! `lazarus agent`: reads the agent configuration and the host's token, checks both
//! before anything binds (a bad file exits with code 2), then runs the agent until
//! SIGTERM or SIGINT (a clean stop disarms the watchdog).

use std::path::PathBuf;
use std::process::ExitCode;

use lazarus_agent::HostName;
use lazarus_agent::{AgentConfig, AgentToken};

/// Exit code of a refused configuration or command line.
const USAGE: u8 = 2;

/// Arguments of `lazarus agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The configuration file (TOML; every option is listed with its default in
    /// etc/lazarus-agent.toml). Without one, the defaults apply.
    #[arg(long, short, env = "LAZARUS_AGENT_CONFIG")]
    config: Option<PathBuf>,
    /// This host's name, overriding the configuration's `host` (the devcloud's agent
    /// hook sets LAZARUS_HOST).
    #[arg(long, env = "LAZARUS_HOST")]
    host: Option<String>,
    /// Check the configuration and the token file, print the effective configuration
    /// and exit.
    #[arg(long)]
    check: bool,
}

/// Runs `lazarus agent`.
pub fn run(args: &AgentArgs) -> ExitCode {
    let config = match &args.config {
        Some(path) => AgentConfig::load(path),
        None => {
            let c = AgentConfig::default();
            c.validate().map(|()| c)
        }
    };
    let mut config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lazarus agent: {e}");
            return ExitCode::from(USAGE);
        }
    };
    if let Some(h) = &args.host {
        config.host.clone_from(h);
    }
    let host = match host_name(&config.host) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("lazarus agent: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let token = match AgentToken::from_file(&config.controller.token_file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lazarus agent: {e}");
            return ExitCode::from(USAGE);
        }
    };
    if args.check {
        println!("# configuration is valid; host {host}; token read");
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    if let Err(code) = crate::logging::init("agent", &config.log.filter) {
        return code;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lazarus agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match lazarus_agent::start(config, host, token).await {
            Ok(agent) => {
                agent.run_until_signal().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lazarus agent: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// The configured host name, or the system's.
fn host_name(configured: &str) -> Result<HostName, String> {
    if !configured.is_empty() {
        return Ok(HostName::from(configured));
    }
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| format!("host is not set and the system host name is unreadable: {e}"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err("host is not set and the system host name is empty".into());
    }
    Ok(HostName::from(name))
}
