//! The CLI's commands against the real lazarus API (Masakari v1 routes), served
//! in-process over an SQLite store on an ephemeral loopback port.

// Fixture helpers outside `#[test]` functions fail the test on error, as tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use lazarus_api::{AllowAllComputeHosts, ApiConfig, ApiState, NoAuth, NoopSink, SystemClock};
use lazarus_cli::{execute_to_text, Cli, CliError, ClientError, Context, LazarusClient};
use lazarus_store::{NewVMove, SqliteStore, Store, VMoveStatus, VMoveType, VMoveUpdate};
use serde_json::Value;

/// A running API and a CLI context pointed at it.
struct Fixture {
    ctx: Context,
    store: Arc<SqliteStore>,
    endpoint: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("lazarus.sqlite")).unwrap());
    let state = ApiState {
        store: store.clone(),
        sink: Arc::new(NoopSink),
        compute: Arc::new(AllowAllComputeHosts),
        auth: Arc::new(NoAuth),
        clock: Arc::new(SystemClock),
        config: ApiConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(lazarus_api::serve(listener, state));
    let client = LazarusClient::new(&endpoint, None, "1.3", Duration::from_secs(10)).unwrap();
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    Fixture {
        ctx: Context { client, now },
        store,
        endpoint,
        _dir: dir,
    }
}

impl Fixture {
    /// Runs `lazarus <args> --endpoint <api>` and returns its text.
    async fn run(&self, args: &str) -> Result<String, CliError> {
        let mut argv = vec!["lazarus".to_owned()];
        argv.extend(args.split_whitespace().map(str::to_owned));
        argv.push("--endpoint".into());
        argv.push(self.endpoint.clone());
        let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{args}: {e}"));
        // The client as the command line describes it (endpoint and microversion); not
        // `connect`, which would honour an `OS_CLOUD` set in the test's environment.
        let conn = cli.command.connection();
        let client = LazarusClient::new(
            conn.endpoint.as_deref().unwrap_or_default(),
            None,
            &conn.api_version,
            Duration::from_secs(10),
        )
        .unwrap();
        let ctx = Context {
            client,
            now: self.ctx.now,
        };
        execute_to_text(&cli.command, &ctx).await
    }

    async fn ok(&self, args: &str) -> String {
        self.run(args)
            .await
            .unwrap_or_else(|e| panic!("lazarus {args}: {e}"))
    }

    async fn json(&self, args: &str) -> Value {
        let text = self.ok(&format!("{args} -f json")).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args}: {e}: {text}"))
    }
}

#[tokio::test]
async fn segments_are_created_listed_shown_changed_and_deleted() {
    let f = start().await;
    let created = f
        .json("segment create rack-a --recovery-method reserved_host --description first")
        .await;
    let uuid = created["uuid"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "rack-a");
    assert_eq!(created["recovery_method"], "reserved_host");
    assert_eq!(created["service_type"], "compute");
    assert_eq!(created["enabled"], true);
    f.ok("segment create rack-b --disabled").await;

    let table = f.ok("segment list --sort name:asc").await;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].starts_with("| uuid "), "{table}");
    assert!(
        lines[3].contains("rack-a") && lines[3].contains("True"),
        "{table}"
    );
    assert!(
        lines[4].contains("rack-b") && lines[4].contains("False"),
        "{table}"
    );
    assert_eq!(lines.len(), 6, "{table}");

    let names = f.ok("segment list -f value -c name --sort name:desc").await;
    assert_eq!(names, "rack-b\nrack-a\n");
    let enabled = f.ok("segment list --enabled false -f value -c name").await;
    assert_eq!(enabled, "rack-b\n");
    let first_page = f
        .ok("segment list --sort name:asc --limit 1 -f value -c uuid")
        .await;
    assert_eq!(first_page.trim(), uuid);
    let second_page = f
        .ok(&format!(
            "segment list --sort name:asc --limit 1 --marker {uuid} -f value -c name"
        ))
        .await;
    assert_eq!(second_page, "rack-b\n");

    // By name or by uuid, the same record.
    let by_name = f.json("segment show rack-a").await;
    let by_uuid = f.json(&format!("segment show {uuid}")).await;
    assert_eq!(by_name, by_uuid);
    assert_eq!(by_name["description"], "first");

    let changed = f
        .json("segment set rack-a --name rack-a2 --recovery-method auto --disable")
        .await;
    assert_eq!(changed["uuid"], uuid.as_str());
    assert_eq!(changed["name"], "rack-a2");
    assert_eq!(changed["recovery_method"], "auto");
    assert_eq!(changed["enabled"], false);

    assert_eq!(f.ok("segment delete rack-a2 rack-b").await, "");
    assert_eq!(f.ok("segment list -f json").await, "[]\n");
}

#[tokio::test]
async fn hosts_are_managed_within_their_segment() {
    let f = start().await;
    f.ok("segment create rack-a").await;
    let h = f
        .json("host create compute1 --segment rack-a --reserved")
        .await;
    assert_eq!(h["name"], "compute1");
    assert_eq!(h["type"], "COMPUTE");
    assert_eq!(h["control_attributes"], "SSH");
    assert_eq!(h["reserved"], true);
    assert!(
        h.get("failover_segment").is_none(),
        "embedded segment hidden"
    );
    f.ok("host create compute2 -s rack-a --type KVM").await;

    let listed = f.json("host list --segment rack-a --sort name:asc").await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["compute1", "compute2"]);
    let reserved = f
        .ok("host list --segment rack-a --reserved true -f value -c name")
        .await;
    assert_eq!(reserved, "compute1\n");

    let shown = f.ok("host show compute2 --segment rack-a").await;
    assert!(shown.contains("| type                "), "{shown}");
    assert!(shown.contains("KVM"), "{shown}");

    let set = f
        .json("host set compute1 --segment rack-a --reserved false --on-maintenance true")
        .await;
    assert_eq!(set["reserved"], false);
    assert_eq!(set["on_maintenance"], true);

    f.ok("host delete compute1 --segment rack-a").await;
    let left = f.ok("host list --segment rack-a -f value -c name").await;
    assert_eq!(left, "compute2\n");
}

#[tokio::test]
async fn a_host_is_found_in_whichever_segment_has_it() {
    let f = start().await;
    f.ok("segment create rack-a").await;
    f.ok("segment create rack-b").await;
    f.ok("host create compute1 --segment rack-a").await;
    f.ok("host create compute2 --segment rack-b").await;
    f.ok("host create compute3 --segment rack-b").await;

    let all = f.ok("host list -f value -c name --sort name:asc").await;
    let mut names: Vec<&str> = all.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["compute1", "compute2", "compute3"]);

    let b = f.json("segment show rack-b").await;
    let shown = f.json("host show compute3").await;
    assert_eq!(shown["failover_segment_id"], b["uuid"]);
    let set = f.json("host set compute2 --reserved true").await;
    assert_eq!(set["reserved"], true);
    f.ok("host delete compute1").await;
    assert_eq!(
        f.ok("host list --segment rack-a -f value -c name").await,
        ""
    );

    let missing = f.run("host show compute9").await.unwrap_err();
    assert_eq!(missing.exit_code(), 1);
    assert!(
        missing.to_string().contains("no host \"compute9\""),
        "{missing}"
    );
    let paged = f.run("host list --limit 1").await.unwrap_err();
    assert_eq!(paged.exit_code(), 2, "{paged}");
}

#[tokio::test]
async fn a_host_failure_report_is_posted_listed_and_shown() {
    let f = start().await;
    f.ok("segment create rack-a").await;
    f.ok("host create compute1 --segment rack-a").await;
    let n = f.json("notification create --hostname compute1").await;
    assert_eq!(n["type"], "COMPUTE_HOST");
    assert_eq!(n["status"], "new");
    assert_eq!(n["hostname"], "compute1");
    assert_eq!(n["payload"]["event"], "STOPPED");
    assert_eq!(n["payload"]["host_status"], "NORMAL");
    // `now` is the command's start time, handed in by the context.
    assert_eq!(n["generated_time"], "2026-11-21T10:00:00.000000");
    let id = n["notification_uuid"].as_str().unwrap().to_owned();

    let listed = f
        .ok("notification list -f value -c notification_uuid -c status")
        .await;
    assert_eq!(listed, format!("{id} new\n"));
    let none = f.ok("notification list --status finished -f json").await;
    assert_eq!(none, "[]\n");

    let shown = f.json(&format!("notification show {id}")).await;
    assert_eq!(shown["notification_uuid"], id.as_str());
    assert!(
        shown.get("recovery_workflow_details").is_some(),
        "1.1+ detail has the workflow details"
    );
    let old = f
        .json(&format!("notification show {id} --os-api-version 1.0"))
        .await;
    assert_eq!(old["notification_uuid"], id.as_str());
    assert!(
        old.get("recovery_workflow_details").is_none(),
        "1.0 detail has no workflow details"
    );

    let moves = f.ok(&format!("vmove list {id} -f json")).await;
    assert_eq!(moves, "[]\n");
}

#[tokio::test]
async fn api_refusals_surface_as_the_apis_message_with_exit_code_1() {
    let f = start().await;
    f.ok("segment create rack-a").await;

    let dup = f.run("segment create rack-a").await.unwrap_err();
    assert_eq!(dup.exit_code(), 1);
    assert!(
        matches!(&dup, CliError::Client(ClientError::Api { status: 409, .. })),
        "{dup:?}"
    );

    let missing = f.run("segment show nowhere").await.unwrap_err();
    assert_eq!(missing.exit_code(), 1);
    assert!(missing.to_string().contains("nowhere"), "{missing}");

    let unknown_host = f
        .run("notification create --hostname ghost")
        .await
        .unwrap_err();
    assert_eq!(unknown_host.exit_code(), 1);
    assert!(
        unknown_host
            .to_string()
            .contains("ghost could not be found"),
        "{unknown_host}"
    );

    let nothing = f.run("segment set rack-a").await.unwrap_err();
    assert_eq!(nothing.exit_code(), 2, "{nothing}");

    let bad_column = f.run("segment list -c nmae").await.unwrap_err();
    assert_eq!(bad_column.exit_code(), 2, "{bad_column}");
}

#[tokio::test]
async fn an_unreachable_api_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = LazarusClient::new(&endpoint, None, "1.3", Duration::from_secs(2)).unwrap();
    let ctx = Context {
        client,
        now: DateTime::<Utc>::UNIX_EPOCH,
    };
    let cli = Cli::try_parse_from(["lazarus", "segment", "list"]).unwrap();
    let e = execute_to_text(&cli.command, &ctx).await.unwrap_err();
    assert!(
        matches!(e, CliError::Client(ClientError::Transport { .. })),
        "{e:?}"
    );
    assert_eq!(e.exit_code(), 1);
}

#[tokio::test]
async fn the_moves_of_a_host_recovery_are_listed_and_shown() {
    let f = start().await;
    f.ok("segment create rack-a").await;
    f.ok("host create compute1 --segment rack-a").await;
    let n = f.json("notification create --hostname compute1").await;
    let nid = n["notification_uuid"].as_str().unwrap().to_owned();
    // The controller records moves; here the store stands in for it.
    let now = f.ctx.now;
    for (i, status) in [VMoveStatus::Succeeded, VMoveStatus::Ongoing]
        .into_iter()
        .enumerate()
    {
        let m = f
            .store
            .create_vmove(
                NewVMove {
                    uuid: format!("00000000-0000-4000-8000-00000000000{i}"),
                    notification_uuid: nid.clone(),
                    instance_uuid: format!("10000000-0000-4000-8000-00000000000{i}"),
                    instance_name: format!("vm-{i}"),
                    source_host: Some("compute1".into()),
                    vmove_type: Some(VMoveType::Evacuation),
                    status: Some(VMoveStatus::Pending),
                },
                now,
            )
            .await
            .unwrap();
        let update = VMoveUpdate {
            dest_host: Some("compute2".into()),
            status: Some(status),
            ..VMoveUpdate::default()
        };
        f.store.update_vmove(&m.uuid, update, now).await.unwrap();
    }
    let listed = f
        .ok(&format!(
            "vmove list {nid} --sort instance_name:asc -f value -c instance_name -c dest_host -c status"
        ))
        .await;
    assert_eq!(listed, "vm-0 compute2 succeeded\nvm-1 compute2 ongoing\n");
    let ongoing = f
        .ok(&format!(
            "vmove list {nid} --status ongoing -f value -c uuid"
        ))
        .await;
    assert_eq!(ongoing, "00000000-0000-4000-8000-000000000001\n");
    let shown = f
        .json(&format!(
            "vmove show {nid} 00000000-0000-4000-8000-000000000000"
        ))
        .await;
    assert_eq!(shown["instance_name"], "vm-0");
    assert_eq!(shown["type"], "evacuation");
    assert_eq!(shown["source_host"], "compute1");
}
