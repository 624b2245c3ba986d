//! `lazarus controller`: reads the configuration, checks it and clouds.yaml before
//! anything binds (a bad file exits with code 2), then runs the controller until
//! SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use lazarus_api::{Authenticator, KeystoneAuth, NoAuth};
use lazarus_controller::config::AuthMode;
use lazarus_controller::Config;
use lazarus_openstack::{ClientOptions, CloudConfig, OpenStackClient};

/// Exit code of a refused configuration or command line (BSD `EX_USAGE` is 64; clap
/// and most daemons use 2).
const USAGE: u8 = 2;

/// Arguments of `lazarus controller`.
#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// The configuration file (TOML; every option is listed with its default in
    /// etc/lazarus.toml). Without one, the defaults apply.
    #[arg(long, short, env = "LAZARUS_CONFIG")]
    config: Option<PathBuf>,
    /// Check the configuration and clouds.yaml, print the effective configuration and
    /// exit.
    #[arg(long)]
    check: bool,
}

/// Runs `lazarus controller`.
pub fn run(args: &ControllerArgs) -> ExitCode {
    let config = match &args.config {
        Some(path) => Config::load(path),
        None => {
            let c = Config::default();
            c.validate().map(|()| c)
        }
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lazarus controller: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let cloud = match CloudConfig::load(config.openstack.cloud.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lazarus controller: openstack: {e} (set [openstack] cloud, or OS_CLOUD)");
            return ExitCode::from(USAGE);
        }
    };
    let options = ClientOptions {
        request_timeout: config.openstack.request_timeout,
        connect_timeout: config.openstack.connect_timeout,
    };
    let client = match OpenStackClient::new(&cloud, &options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lazarus controller: openstack: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let auth: Arc<dyn Authenticator> = match config.api.auth {
        AuthMode::None => Arc::new(NoAuth),
        AuthMode::Keystone => {
            let url = config
                .api
                .keystone_url
                .clone()
                .unwrap_or_else(|| cloud.auth_url.clone());
            match KeystoneAuth::new(
                &url,
                config.openstack.request_timeout,
                config.api.token_cache_ttl,
            ) {
                Ok(k) => Arc::new(k),
                Err(e) => {
                    eprintln!("lazarus controller: invalid configuration: api.keystone_url: {e}");
                    return ExitCode::from(USAGE);
                }
            }
        }
    };
    if args.check {
        println!("# configuration is valid; cloud from {}", cloud.origin);
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    if let Err(code) = crate::logging::init("controller", &config.log.filter) {
        return code;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lazarus controller: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(lazarus_controller::run(
        config,
        client,
        auth,
        lazarus_controller::shutdown_signal(),
    ));
    // Timers and calls still in flight are abandoned: they resume from the journal.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lazarus controller: {e}");
            ExitCode::FAILURE
        }
    }
}
