//! Serves the Masakari-compatible API alone, for compatibility tests.
//!
//! ```text
//! cargo run -p lazarus-api --example masakari_api -- --db /tmp/lazarus.sqlite --port 0
//! ```
//!
//! Binds 127.0.0.1 only, with **no authentication** (`NoAuth`), every host name accepted
//! as a nova-compute, and accepted notifications dropped (no controller). Prints
//! `listening on http://127.0.0.1:PORT` once ready. The controller will serve the same
//! router with real authentication, a Nova-backed validator and its own sink.

use std::sync::Arc;

use anyhow::{bail, Context};
use lazarus_api::{AllowAllComputeHosts, ApiConfig, ApiState, NoAuth, NoopSink, SystemClock};
use lazarus_store::SqliteStore;

fn usage() -> ! {
    eprintln!("usage: masakari_api --db PATH [--port PORT]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut db = None;
    let mut port: u16 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--db" => db = Some(args.next().unwrap_or_else(|| usage())),
            "--port" => {
                port = args
                    .next()
                    .unwrap_or_else(|| usage())
                    .parse()
                    .context("--port takes a number")?
            }
            "-h" | "--help" => usage(),
            other => bail!("unknown argument {other:?}"),
        }
    }
    let Some(db) = db else { usage() };
    let store = SqliteStore::open(&db).with_context(|| format!("opening store {db}"))?;
    let state = ApiState {
        store: Arc::new(store),
        sink: Arc::new(NoopSink),
        compute: Arc::new(AllowAllComputeHosts),
        auth: Arc::new(NoAuth),
        clock: Arc::new(SystemClock),
        config: ApiConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    lazarus_api::serve_with_shutdown(listener, state, shutdown).await?;
    Ok(())
}
