//! Tries a `[bmc]` configuration by hand: reads, powers off or on, or fences a host.
//!
//! ```text
//! cargo run -p lazarus-fence --example bmc -- CONFIG.toml probe
//! cargo run -p lazarus-fence --example bmc -- CONFIG.toml status|off|on|fence HOST
//! ```
//! CONFIG.toml holds a `[bmc]` section (the controller's configuration file works: other
//! sections are ignored). `tests/bmc/up` prints one for the emulators it starts.

use std::process::ExitCode;

use anyhow::{bail, Context};
use lazarus_core::HostName;
use lazarus_fence::{fence, BmcSection, FencePolicy, Fleet, HostBmc};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    bmc: BmcSection,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, verb, host) = match args.as_slice() {
        [p, v] => (p, v.as_str(), None),
        [p, v, h] => (p, v.as_str(), Some(HostName::from(h.as_str()))),
        _ => bail!("usage: bmc CONFIG.toml probe | status|off|on|fence HOST"),
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let file: File = toml::from_str(&text).with_context(|| format!("parsing {path}"))?;
    let fleet = Fleet::from_config(&file.bmc)?;
    let need_host = || host.clone().context("this command needs a HOST");
    match verb {
        "probe" => {
            for (h, r) in fleet.probe().await {
                match r {
                    Ok(state) => println!("{h}: {state:?}"),
                    Err(e) => println!("{h}: error: {e}"),
                }
            }
        }
        "status" => println!("{:?}", fleet.power_state(&need_host()?).await?),
        "off" => fleet.power_off(&need_host()?).await?,
        "on" => fleet.power_on(&need_host()?).await?,
        "fence" => {
            let h = need_host()?;
            let bmc = file
                .bmc
                .hosts
                .get(&h)
                .context("no such host in [bmc.hosts]")?;
            let driver = HostBmc::driver(bmc)?;
            let fenced = fence(driver.as_ref(), &FencePolicy::default()).await?;
            println!(
                "{h}: off, confirmed after {:.2} s ({} attempt(s), {} read(s))",
                fenced.elapsed.as_secs_f64(),
                fenced.attempts,
                fenced.reads
            );
        }
        other => bail!("unknown command {other:?}"),
    }
    Ok(())
}
