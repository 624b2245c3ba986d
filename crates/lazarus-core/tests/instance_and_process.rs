//! Instance resets and process restarts, as specifications.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use lazarus_core::engine::ProcessDisableRecord;
use lazarus_core::event::{
    Event, Heartbeat, InstanceFailureKind, NovaError, NovaService, Process, ProcessState,
};
use lazarus_core::model::RestartPriority;
use lazarus_core::policy::{Sensitivity, VmMonitoring};
use lazarus_core::{Command, Engine, Record, RecordKey};

fn crashed(id: &str) -> Event {
    Event::InstanceFailed {
        instance: i(id),
        kind: InstanceFailureKind::Crashed,
    }
}

#[test]
fn instance_resets_stop_at_the_cap() {
    let (mut e, _) = Fixture::hosts(&["a", "b"]).instance("vm", "a").engine();
    // Medium: 3 resets per 24 h, 240 s minimum uptime.
    assert_eq!(shapes(&e.handle(secs(0), crashed("vm"))), vec!["reset vm"]);
    let lost = Event::InstanceFailed {
        instance: i("vm"),
        kind: InstanceFailureKind::GuestHeartbeatLost {
            silent_for: Duration::from_secs(90),
        },
    };
    assert!(
        e.handle(secs(100), lost).is_empty(),
        "a silent guest heartbeat within the minimum uptime: still booting"
    );
    assert_eq!(
        shapes(&e.handle(secs(150), crashed("vm"))),
        vec!["reset vm"],
        "a crash is a crash, even right after a reset"
    );
    assert_eq!(
        shapes(&e.handle(secs(600), crashed("vm"))),
        vec!["reset vm"]
    );
    assert_eq!(
        shapes(&e.handle(secs(900), crashed("vm"))),
        vec!["alert Error ResetCapReached"]
    );
    assert!(
        e.handle(secs(1200), crashed("vm")).is_empty(),
        "alerted once"
    );
    // A day after the first reset, one slot is free again.
    assert_eq!(
        shapes(&e.handle(secs(24 * 3600 + 1), crashed("vm"))),
        vec!["reset vm"]
    );
}

#[test]
fn a_guest_heartbeat_silent_for_less_than_the_failure_interval_is_not_a_failure() {
    let (mut e, _) = Fixture::hosts(&["a"]).instance("vm", "a").engine();
    let lost = |s| Event::InstanceFailed {
        instance: i("vm"),
        kind: InstanceFailureKind::GuestHeartbeatLost {
            silent_for: Duration::from_secs(s),
        },
    };
    assert!(e.handle(secs(10), lost(30)).is_empty());
    assert_eq!(shapes(&e.handle(secs(40), lost(60))), vec!["reset vm"]);
}

#[test]
fn the_high_preset_resets_sooner() {
    let mut fx = Fixture::hosts(&["a"]).instance("vm", "a");
    fx.config.vm_monitoring = VmMonitoring::preset(Sensitivity::High);
    let (mut e, _) = fx.engine();
    let lost = Event::InstanceFailed {
        instance: i("vm"),
        kind: InstanceFailureKind::GuestHeartbeatLost {
            silent_for: Duration::from_secs(30),
        },
    };
    assert_eq!(shapes(&e.handle(secs(10), lost)), vec!["reset vm"]);
}

#[test]
fn unprotected_instances_are_not_reset() {
    let (mut e, _) = Fixture::hosts(&["a"])
        .instance_with("vm", "a", RestartPriority::Disabled)
        .engine();
    assert!(e.handle(secs(0), crashed("vm")).is_empty());
}

fn beat(host: &str, nova: ProcessState) -> Event {
    let mut b = Heartbeat::healthy(host);
    b.nova_compute = nova;
    Event::HeartbeatReceived(b)
}

#[test]
fn a_dead_nova_compute_is_restarted_then_the_host_disabled() {
    let (mut e, _) = Fixture::hosts(&["a", "b"]).instance("vm", "a").engine();
    let first = e.handle(secs(1), beat("a", ProcessState::Stopped));
    assert_eq!(shapes(&first), vec!["restart a nova-compute", "timer"]);
    assert!(
        e.handle(secs(2), beat("a", ProcessState::Stopped))
            .is_empty(),
        "one restart at a time"
    );
    let (at, token) = timers(&first)[0];
    assert_eq!(at, secs(31));
    let disabled = e.handle(at, Event::TimerFired(token));
    assert_eq!(
        shapes(&disabled),
        vec![
            "alert Error ProcessDown",
            "persist process-disable a true",
            "disable a (lazarus: nova-compute down)"
        ]
    );
    // Nothing is evacuated: the host keeps running its instances.
    assert!(evacuations(&disabled).is_empty());
    assert!(e
        .handle(secs(40), beat("a", ProcessState::Stopped))
        .is_empty());
    // Well again: re-enabled, since lazarus disabled it; the record written ahead
    // still says "disabled" (with the enable pending) until Nova confirms.
    assert_eq!(
        shapes(&e.handle(secs(50), beat("a", ProcessState::Running))),
        vec!["persist process-disable a true", "enable a"]
    );
    assert_eq!(
        shapes(&e.handle(
            secs(51),
            Event::HostEnabled {
                host: h("a"),
                result: Ok(())
            }
        )),
        vec!["persist process-disable a false"]
    );
    assert!(e
        .handle(secs(52), beat("a", ProcessState::Running))
        .is_empty());
}

#[test]
fn a_process_that_comes_back_after_its_restart_leaves_the_host_enabled() {
    let (mut e, _) = Fixture::hosts(&["a"]).engine();
    let first = e.handle(secs(1), beat("a", ProcessState::Stopped));
    let (at, token) = timers(&first)[0];
    assert!(e
        .handle(secs(5), beat("a", ProcessState::Running))
        .is_empty());
    assert!(
        e.handle(at, Event::TimerFired(token)).is_empty(),
        "stale grace timer"
    );
}

#[test]
fn a_failed_restart_disables_at_once_but_never_a_host_someone_else_disabled() {
    let (mut e, _) = Fixture::hosts(&["a"]).engine();
    e.handle(
        secs(0),
        Event::NovaServiceObserved(NovaService {
            host: h("a"),
            reporting: true,
            up: true,
            forced_down: false,
            disabled: true,
            disabled_reason: Some("AUTO: libvirt connection lost".into()),
        }),
    );
    e.handle(secs(1), beat("a", ProcessState::Stopped));
    let failed = e.handle(
        secs(2),
        Event::ProcessRestartFailed {
            host: h("a"),
            process: Process::NovaCompute,
            error: "unit failed".into(),
        },
    );
    assert_eq!(shapes(&failed), vec!["alert Error ProcessDown"]);
    assert!(e
        .handle(secs(9), beat("a", ProcessState::Running))
        .is_empty());
}

/// The records a store would keep after `cmds`: the latest per key.
fn keep(store: &mut BTreeMap<RecordKey, Record>, cmds: &[Command]) {
    for c in cmds {
        if let Command::Persist(r) = c {
            store.insert(r.key(), r.clone());
        }
    }
}

/// The process-disable record kept for `host`.
fn process_record(store: &BTreeMap<RecordKey, Record>, host: &str) -> Option<ProcessDisableRecord> {
    match store.get(&RecordKey::ProcessDisable(h(host))) {
        Some(Record::ProcessDisable(p)) => Some(p.clone()),
        Some(Record::Recovery(_)) | None => None,
    }
}

#[test]
fn an_enable_not_yet_confirmed_by_nova_is_sent_again_after_a_controller_crash() {
    let fixture = Fixture::hosts(&["a", "b"]);
    let (cluster, config) = (fixture.cluster.clone(), fixture.config.clone());
    let (mut e, _) = fixture.engine();
    let mut store = BTreeMap::new();
    let first = e.handle(secs(1), beat("a", ProcessState::Stopped));
    let (at, token) = timers(&first)[0];
    keep(&mut store, &e.handle(at, Event::TimerFired(token)));
    let enabling = e.handle(secs(50), beat("a", ProcessState::Running));
    assert!(shapes(&enabling).contains(&"enable a".to_owned()));
    keep(&mut store, &enabling);
    let pending = process_record(&store, "a");
    assert!(
        pending.as_ref().is_some_and(|p| p.disabled && p.enabling),
        "{pending:?}"
    );

    // The controller stops before Nova answers: a new one sends the enable again.
    let mut e = Engine::new(config.clone(), cluster.clone());
    let resumed = e.resume(secs(60), store.values().cloned());
    assert!(
        shapes(&resumed).contains(&"enable a".to_owned()),
        "{:?}",
        shapes(&resumed)
    );
    assert!(
        e.handle(secs(61), beat("a", ProcessState::Running))
            .is_empty(),
        "one enable in flight at a time"
    );
    let confirmed = e.handle(
        secs(62),
        Event::HostEnabled {
            host: h("a"),
            result: Ok(()),
        },
    );
    keep(&mut store, &confirmed);
    let closed = process_record(&store, "a");
    assert!(
        closed.as_ref().is_some_and(|p| !p.disabled && !p.enabling),
        "{closed:?}"
    );

    // Once Nova confirmed, a further restart leaves the host alone.
    let mut e = Engine::new(config, cluster);
    let resumed = e.resume(secs(70), store.values().cloned());
    assert_eq!(shapes(&resumed), vec!["timer"]);
    assert!(e
        .handle(secs(71), beat("a", ProcessState::Running))
        .is_empty());
}

#[test]
fn a_failed_enable_keeps_the_host_ours_and_is_retried() {
    let (mut e, _) = Fixture::hosts(&["a"]).engine();
    let first = e.handle(secs(1), beat("a", ProcessState::Stopped));
    let (at, token) = timers(&first)[0];
    e.handle(at, Event::TimerFired(token));
    e.handle(secs(50), beat("a", ProcessState::Running));
    let failed = e.handle(
        secs(51),
        Event::HostEnabled {
            host: h("a"),
            result: Err(NovaError::ServerError(503)),
        },
    );
    assert_eq!(
        shapes(&failed),
        vec!["alert Warning ReturnToServiceFailed"],
        "no closing record"
    );
    assert_eq!(
        shapes(&e.handle(secs(60), beat("a", ProcessState::Running))),
        vec!["persist process-disable a true", "enable a"]
    );
}

#[test]
fn a_process_disable_record_written_before_enabling_existed_still_loads() {
    let old =
        r#"{"process_disable":{"host":"a","process":"nova-compute","disabled":true,"at":5000}}"#;
    let record = serde_json::from_str::<Record>(old);
    assert!(
        matches!(
            record,
            Ok(Record::ProcessDisable(ProcessDisableRecord {
                disabled: true,
                enabling: false,
                ..
            }))
        ),
        "{record:?}"
    );
}
