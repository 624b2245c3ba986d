//! The command line: what parses into what, and what is a usage error (exit 2).

// Fixture helpers outside `#[test]` functions fail the test on error, as tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use clap::error::ErrorKind;
use clap::Parser;
use lazarus_cli::commands::host::HostAction;
use lazarus_cli::commands::notification::{NotificationAction, NotificationType};
use lazarus_cli::commands::segment::{RecoveryMethod, SegmentAction};
use lazarus_cli::{Cli, Command, Format};

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    let mut argv = vec!["lazarus"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).map(|c| c.command)
}

#[test]
fn segment_create_takes_a_name_and_defaults_to_auto_recovery_of_computes() {
    let Command::Segment(c) = parse(&["segment", "create", "rack-a"]).unwrap() else {
        panic!("not a segment command");
    };
    let SegmentAction::Create(a) = c.action else {
        panic!("not create");
    };
    assert_eq!(a.name, "rack-a");
    assert_eq!(a.recovery_method, RecoveryMethod::Auto);
    assert_eq!(a.service_type, "compute");
    assert!(!a.disabled);
    assert_eq!(c.connection.api_version, "1.3");
}

#[test]
fn connection_options_are_accepted_before_and_after_the_action() {
    for argv in [
        &["segment", "--endpoint", "http://h:1", "list"][..],
        &["segment", "list", "--endpoint", "http://h:1"][..],
    ] {
        let c = parse(argv).unwrap();
        assert_eq!(c.connection().endpoint.as_deref(), Some("http://h:1"));
    }
    let c = parse(&["status", "--os-api-version", "1.1", "--no-auth"]).unwrap();
    assert_eq!(c.connection().api_version, "1.1");
    assert!(c.connection().no_auth);
}

#[test]
fn format_and_columns_parse_into_the_output_options() {
    let c = parse(&["segment", "list", "-f", "json", "-c", "uuid", "-c", "name"]).unwrap();
    let out = c.output().unwrap();
    assert_eq!(out.format, Format::Json);
    assert_eq!(out.columns, vec!["uuid", "name"]);
    let c = parse(&["segment", "delete", "a", "b"]).unwrap();
    assert!(c.output().is_none(), "delete prints nothing");
}

#[test]
fn only_host_create_needs_a_segment() {
    let e = parse(&["host", "create", "compute1"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
    assert_eq!(e.exit_code(), 2);
    let Command::Host(c) = parse(&[
        "host",
        "set",
        "compute1",
        "--segment",
        "s",
        "--reserved",
        "true",
    ])
    .unwrap() else {
        panic!("not a host command");
    };
    let HostAction::Set(a) = c.action else {
        panic!("not set");
    };
    assert_eq!(a.segment.segment.as_deref(), Some("s"));
    assert_eq!(a.reserved, Some(true));
    assert_eq!(a.on_maintenance, None);
    for argv in [
        &["host", "list"][..],
        &["host", "show", "compute1"][..],
        &["host", "delete", "compute1", "compute2"][..],
    ] {
        let c = parse(argv).unwrap();
        assert!(matches!(c, Command::Host(_)), "{argv:?}");
    }
}

#[test]
fn a_notification_defaults_to_a_compute_host_report_generated_now() {
    let Command::Notification(c) =
        parse(&["notification", "create", "--hostname", "compute1"]).unwrap()
    else {
        panic!("not a notification command");
    };
    let NotificationAction::Create(a) = c.action else {
        panic!("not create");
    };
    assert_eq!(a.notification_type, NotificationType::ComputeHost);
    assert_eq!(a.generated_time, "now");
    assert_eq!(a.payload, None);
}

#[test]
fn bad_values_are_usage_errors() {
    let cases: &[&[&str]] = &[
        &["segment", "create", "x", "--recovery-method", "fastest"],
        &["segment", "list", "--enabled", "maybe"],
        &["segment", "list", "--sort", "name:sideways"],
        &["segment", "list", "--limit", "-3"],
        &["segment", "list", "-f", "xml"],
        &["segment", "list", "--os-api-version", "2.0"],
        &["segment", "set", "x", "--enable", "--disable"],
        &[
            "notification",
            "create",
            "--hostname",
            "c1",
            "--payload",
            "{not json",
        ],
        &[
            "notification",
            "create",
            "--hostname",
            "c1",
            "--payload",
            "[1]",
        ],
        &[
            "notification",
            "create",
            "--hostname",
            "c1",
            "--type",
            "DISK",
        ],
        &["vmove", "show", "only-one-id"],
        &["segment", "frobnicate"],
    ];
    for argv in cases {
        let e = parse(argv).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{argv:?}: {e}");
    }
}

#[test]
fn operator_actions_take_a_host_name_and_an_optional_reason() {
    for (verb, expected) in [
        ("confirm-fenced", "confirm-fenced"),
        ("recover", "recover"),
        ("return", "return"),
    ] {
        let Command::Host(c) = parse(&["host", verb, "compute1", "--reason", "BMC dead"]).unwrap()
        else {
            panic!("not a host command");
        };
        let (name, a) = match c.action {
            HostAction::ConfirmFenced(a) => ("confirm-fenced", a),
            HostAction::Recover(a) => ("recover", a),
            HostAction::Return(a) => ("return", a),
            other => panic!("{verb} parsed as {other:?}"),
        };
        assert_eq!(name, expected);
        assert_eq!(a.name, "compute1");
        assert_eq!(a.reason.as_deref(), Some("BMC dead"));
        let Command::Host(c) = parse(&["host", verb, "compute1", "-f", "json"]).unwrap() else {
            panic!("not a host command");
        };
        assert_eq!(c.action.output().unwrap().format, Format::Json);

        let missing = parse(&["host", verb]).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::MissingRequiredArgument, "{verb}");
        assert_eq!(missing.exit_code(), 2);
    }
}
