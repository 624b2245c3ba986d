//! `lazarus_cli::run`, what the binary calls: the exit code of each kind of outcome.

// Fixture helpers outside `#[test]` functions fail the test on error, as tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use lazarus_api::{AllowAllComputeHosts, ApiConfig, ApiState, NoAuth, NoopSink, SystemClock};
use lazarus_cli::{Cli, Command};
use lazarus_store::SqliteStore;

/// Serves the API from a thread of its own (`run` builds its own runtime, so the test
/// cannot be async) and returns its URL.
fn serve() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let state = ApiState {
                store: Arc::new(SqliteStore::open_in_memory().unwrap()),
                sink: Arc::new(NoopSink),
                compute: Arc::new(AllowAllComputeHosts),
                auth: Arc::new(NoAuth),
                clock: Arc::new(SystemClock),
                config: ApiConfig::default(),
            };
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            lazarus_api::serve(listener, state).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// The command for `args` against `endpoint`, without Keystone even if `OS_CLOUD` is
/// set in the test's environment.
fn command(endpoint: &str, args: &[&str]) -> Command {
    let mut argv = vec!["lazarus"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--endpoint", endpoint, "-f", "value"]);
    let mut c = Cli::try_parse_from(argv).unwrap().command;
    match &mut c {
        Command::Segment(s) => s.connection.os_cloud = None,
        Command::Host(_)
        | Command::Notification(_)
        | Command::Vmove(_)
        | Command::Recovery(_)
        | Command::Status(_) => panic!("only segment commands are used here"),
    }
    c
}

#[test]
fn success_is_0_an_api_refusal_1_and_a_usage_error_2() {
    let api = serve();
    assert_eq!(
        lazarus_cli::run(command(
            &api,
            &["segment", "create", "rack-a", "-c", "name"]
        )),
        ExitCode::SUCCESS
    );
    assert_eq!(
        lazarus_cli::run(command(&api, &["segment", "create", "rack-a"])),
        ExitCode::from(1),
        "409: the name exists"
    );
    assert_eq!(
        lazarus_cli::run(command(&api, &["segment", "list", "-c", "nmae"])),
        ExitCode::from(2),
        "unknown column"
    );
    assert_eq!(
        lazarus_cli::run(command("http://127.0.0.1:1", &["segment", "list"])),
        ExitCode::from(1),
        "nothing listens"
    );
}
