//! Guests a failure shut off on a host that came back, across a controller takeover,
//! as specifications. A new controller builds its model from Nova after the failure,
//! when Nova may already show a reset host's guests as STOPPED (its power sync): it
//! must not read that as "a user stopped them" and leave them off without a word
//! (seed 1418 `--hosts 4 --max-faults 5`, docs/sim-findings.md F12).

mod common;

use common::*;
use lazarus_core::command::Command;
use lazarus_core::engine::Engine;
use lazarus_core::event::{Event, InstanceObservation};
use lazarus_core::model::{Cluster, FenceMethod, VmState};
use lazarus_core::{AlertKind, Record, Severity};

fn persisted(cmds: &[Command]) -> Vec<Record> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Persist(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// `id` seen shut off on `host`, no task, no migration.
fn shut_off(id: &str, host: &str) -> Event {
    Event::InstanceObserved(InstanceObservation {
        instance: i(id),
        host: Some(h(host)),
        vm_state: VmState::Stopped,
        task_state: None,
        migration: None,
    })
}

/// Nova's view after `host` rebooted with its guests off: every instance there STOPPED.
fn synced_after_reset(cluster: &Cluster, host: &str) -> Cluster {
    let mut c = cluster.clone();
    let on: Vec<_> = c.instances_on(&h(host)).map(|x| x.id.clone()).collect();
    for id in on {
        if let Some(x) = c.instance_mut(&id) {
            x.vm_state = VmState::Stopped;
        }
    }
    c
}

/// A watchdog host `a` (running `i1`) judged failed by an operator's request at 11 s:
/// its recovery waits in Fencing for the watchdog promise. The fixture's cluster, the
/// engine, and the records it persisted.
fn recovery_waiting_for_the_watchdog() -> (Fixture, Engine, Vec<Record>) {
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance("i1", "a")
        .fence("a", FenceMethod::Watchdog);
    let keep = Fixture {
        cluster: fx.cluster.clone(),
        config: fx.config.clone(),
    };
    let (mut e, _) = fx.engine();
    e.handle(secs(10), hb("a", &["b", "c"]));
    let out = e.handle(
        secs(11),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    );
    assert_eq!(shapes(&out), vec!["persist a Fencing", "timer"]);
    (keep, e, persisted(&out))
}

#[test]
fn a_host_back_before_its_fence_has_its_shut_off_guests_restarted_in_place() {
    let (_, mut e, _) = recovery_waiting_for_the_watchdog();
    // a reset (its watchdog) and boots: its agent heartbeats again.
    let back = e.handle(secs(30), hb("a", &["b", "c"]));
    assert_eq!(
        shapes(&back),
        vec![
            "persist a Returning",
            "alert Warning RecoveryAborted",
            "check i1",
            "timer"
        ]
    );
    assert_eq!(
        shapes(&e.handle(secs(31), shut_off("i1", "a"))),
        vec!["reset i1", "persist a Closed"]
    );
}

#[test]
fn after_a_takeover_a_guest_the_model_shows_stopped_on_a_host_back_before_its_fence_is_reported() {
    let (fx, _, records) = recovery_waiting_for_the_watchdog();
    // The controller dies; a reset and booted meanwhile, and Nova synced i1 to STOPPED.
    // The new controller's model, read from Nova, cannot tell that from a user's stop.
    let mut e = Engine::new(fx.config, synced_after_reset(&fx.cluster, "a"));
    e.resume(secs(100), records);
    let back = e.handle(secs(101), hb("a", &["b", "c"]));
    assert_eq!(
        shapes(&back),
        vec![
            "persist a Returning",
            "alert Warning RecoveryAborted",
            "check i1",
            "timer"
        ],
        "the guest is looked at, not forgotten"
    );
    let seen = e.handle(secs(102), shut_off("i1", "a"));
    assert_eq!(
        shapes(&seen),
        vec!["alert Error InstanceNotRecovered", "persist a Closed"]
    );
    let Command::RaiseAlert(alert) = &seen[0] else {
        unreachable!()
    };
    assert_eq!(alert.severity, Severity::Error);
    assert_eq!(alert.kind, AlertKind::InstanceNotRecovered);
    assert_eq!(
        alert.instance,
        Some(i("i1")),
        "the alert names the instance"
    );
    assert_eq!(alert.host, Some(h("a")));
}

#[test]
fn after_a_takeover_a_guest_found_running_on_a_host_back_before_its_fence_raises_nothing() {
    let (fx, _, records) = recovery_waiting_for_the_watchdog();
    let mut e = Engine::new(fx.config, synced_after_reset(&fx.cluster, "a"));
    e.resume(secs(100), records);
    e.handle(secs(101), hb("a", &["b", "c"]));
    let running = e.handle(
        secs(102),
        Event::InstanceObserved(InstanceObservation {
            instance: i("i1"),
            host: Some(h("a")),
            vm_state: VmState::Active,
            task_state: None,
            migration: None,
        }),
    );
    assert_eq!(
        shapes(&running),
        vec!["persist a Closed"],
        "no reset, no alert: the recovery just closes"
    );
}

#[test]
fn after_a_takeover_a_planned_guest_given_up_is_restarted_from_its_recorded_state() {
    // One host only: a's instance cannot be placed and is given up; the recovery
    // records it as expected ACTIVE.
    let fx = Fixture::hosts(&["a"]).instance("i1", "a");
    let cluster = fx.cluster.clone();
    let config = fx.config.clone();
    let (mut e, _) = fx.engine();
    let mut records = persisted(&e.handle(
        secs(1),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    ));
    records.extend(persisted(&e.handle(
        secs(2),
        Event::OperatorConfirmedFenced {
            host: h("a"),
            operator: "op".into(),
        },
    )));
    records.extend(persisted(&e.handle(
        secs(3),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    )));
    assert!(
        records.iter().any(|r| matches!(
            r,
            Record::Recovery(r) if r.phase == lazarus_core::workflow::Phase::Finished
        )),
        "the recovery finished with i1 given up"
    );
    // A new controller starts after a was powered on and Nova synced i1 to STOPPED.
    let mut e = Engine::new(config, synced_after_reset(&cluster, "a"));
    e.resume(secs(100), records);
    let back = e.handle(secs(101), Event::HostReturned { host: h("a") });
    assert!(
        shapes(&back).contains(&"check i1".to_owned()),
        "{:?}",
        shapes(&back)
    );
    assert_eq!(
        shapes(&e.handle(secs(102), shut_off("i1", "a"))),
        vec!["reset i1"]
    );
}

/// The phases of the recovery records in a batch of commands, in order.
fn phases(cmds: &[Command]) -> Vec<lazarus_core::workflow::Phase> {
    persisted(cmds)
        .into_iter()
        .filter_map(|r| match r {
            Record::Recovery(r) => Some(r.phase),
            Record::ProcessDisable(_) => None,
        })
        .collect()
}

#[test]
fn a_crash_after_calling_a_recovery_off_still_restarts_the_guests_in_place() {
    let (fx, mut e, mut records) = recovery_waiting_for_the_watchdog();
    // a resets (its watchdog) and boots: its heartbeat calls the recovery off. The
    // controller crashes right after that write: the checks that followed it are lost.
    records.extend(persisted(&e.handle(secs(30), hb("a", &["b", "c"]))));
    // The new controller's model still shows i1 ACTIVE (Nova's power sync has not run).
    let mut e = Engine::new(fx.config, fx.cluster);
    let resumed = e.resume(secs(40), records);
    assert!(
        shapes(&resumed).contains(&"check i1".to_owned()),
        "the restart in place is done again: {:?}",
        shapes(&resumed)
    );
    assert_eq!(
        shapes(&e.handle(secs(41), shut_off("i1", "a")))[0],
        "reset i1"
    );
}

#[test]
fn a_crash_after_a_finished_recovery_starts_returning_still_restarts_the_guests_in_place() {
    // One host only: a's instance cannot be placed and is given up, recorded as
    // expected ACTIVE; the recovery finishes.
    let fx = Fixture::hosts(&["a"]).instance("i1", "a");
    let cluster = fx.cluster.clone();
    let config = fx.config.clone();
    let (mut e, _) = fx.engine();
    let mut records = persisted(&e.handle(
        secs(1),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    ));
    records.extend(persisted(&e.handle(
        secs(2),
        Event::OperatorConfirmedFenced {
            host: h("a"),
            operator: "op".into(),
        },
    )));
    records.extend(persisted(&e.handle(
        secs(3),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    )));
    // a is powered on and comes back; the controller crashes right after the write
    // that starts its return: what followed it is lost.
    records.extend(persisted(
        &e.handle(secs(50), Event::HostReturned { host: h("a") }),
    ));
    let mut e = Engine::new(config, synced_after_reset(&cluster, "a"));
    let resumed = e.resume(secs(60), records);
    let shapes_resumed = shapes(&resumed);
    assert!(
        shapes_resumed.contains(&"return a enable=true".to_owned()),
        "{shapes_resumed:?}"
    );
    assert!(
        shapes_resumed.contains(&"check i1".to_owned()),
        "the restart in place is done again: {shapes_resumed:?}"
    );
    assert_eq!(
        shapes(&e.handle(secs(61), shut_off("i1", "a")))[0],
        "reset i1"
    );
}

#[test]
fn a_recovery_called_off_is_closed_only_once_its_restart_checks_are_answered() {
    let (_, mut e, _) = recovery_waiting_for_the_watchdog();
    let back = e.handle(secs(30), hb("a", &["b", "c"]));
    assert!(
        !phases(&back).contains(&lazarus_core::workflow::Phase::Closed),
        "not closed while i1 is unchecked: {:?}",
        shapes(&back)
    );
    let seen = e.handle(secs(31), shut_off("i1", "a"));
    assert_eq!(
        phases(&seen),
        vec![lazarus_core::workflow::Phase::Closed],
        "{:?}",
        shapes(&seen)
    );
    assert!(shapes(&seen).contains(&"reset i1".to_owned()));
}

#[test]
fn a_lost_restart_check_answer_is_asked_again() {
    let (_, mut e, _) = recovery_waiting_for_the_watchdog();
    let back = e.handle(secs(30), hb("a", &["b", "c"]));
    let timers: Vec<_> = back
        .iter()
        .filter_map(|c| match c {
            Command::ScheduleTimer { at, token } => Some((*at, *token)),
            _ => None,
        })
        .collect();
    assert!(!timers.is_empty(), "{:?}", shapes(&back));
    let mut again = Vec::new();
    for (at, token) in timers {
        again.extend(e.handle(at, Event::TimerFired(token)));
    }
    assert!(
        shapes(&again).contains(&"check i1".to_owned()),
        "{:?}",
        shapes(&again)
    );
}

#[test]
fn after_a_takeover_a_guest_the_model_shows_stopped_is_evacuated_as_it_is_and_reported() {
    // The controller dies while a's recovery waits for its fence; a resets and Nova
    // syncs i1 to STOPPED. The new controller plans from that model: it cannot tell a
    // guest the failure shut off from one a user stopped, so i1 is evacuated as it is
    // (STOPPED) and reported, not left off without a word (seed 6 `--hosts 12
    // --max-faults 8`, docs/sim-findings.md F15).
    let (fx, _, records) = recovery_waiting_for_the_watchdog();
    let mut e = Engine::new(fx.config, synced_after_reset(&fx.cluster, "a"));
    e.resume(secs(100), records);
    e.handle(
        secs(101),
        Event::OperatorConfirmedFenced {
            host: h("a"),
            operator: "op".into(),
        },
    );
    let planned = e.handle(
        secs(102),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    assert_eq!(evacuations(&planned).len(), 1, "{:?}", shapes(&planned));
    let reported: Vec<_> = planned
        .iter()
        .filter_map(|c| match c {
            Command::RaiseAlert(a) if a.kind == AlertKind::InstanceNotRecovered => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(reported.len(), 1, "{:?}", shapes(&planned));
    assert_eq!(reported[0].instance, Some(i("i1")));
    assert_eq!(reported[0].severity, Severity::Error);
}

#[test]
fn a_guest_stopped_before_the_failure_is_evacuated_as_it_is_without_an_alert() {
    // Without a takeover the model predates the failure: STOPPED means a user stopped it.
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let mut cluster = fx.cluster.clone();
    if let Some(x) = cluster.instance_mut(&i("i1")) {
        x.vm_state = VmState::Stopped;
    }
    let mut e = Engine::new(fx.config, cluster);
    e.handle(
        secs(1),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    );
    e.handle(
        secs(2),
        Event::OperatorConfirmedFenced {
            host: h("a"),
            operator: "op".into(),
        },
    );
    let planned = e.handle(
        secs(3),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    assert_eq!(evacuations(&planned).len(), 1, "{:?}", shapes(&planned));
    assert!(
        !shapes(&planned).iter().any(|s| s.starts_with("alert")),
        "{:?}",
        shapes(&planned)
    );
}

#[test]
fn after_a_takeover_a_host_back_while_being_marked_down_has_its_stopped_guests_reported() {
    // As above, but a's compute reports again while Nova is marking it down, before
    // anything is planned: nothing is evacuated, and the guest the model shows STOPPED
    // is checked and reported, not skipped as if a plan had recorded it stopped.
    let (fx, _, records) = recovery_waiting_for_the_watchdog();
    let mut e = Engine::new(fx.config, synced_after_reset(&fx.cluster, "a"));
    e.resume(secs(100), records);
    e.handle(
        secs(101),
        Event::OperatorConfirmedFenced {
            host: h("a"),
            operator: "op".into(),
        },
    );
    let back = e.handle(secs(102), Event::HostReturned { host: h("a") });
    assert!(
        shapes(&back).contains(&"check i1".to_owned()),
        "{:?}",
        shapes(&back)
    );
    let seen = e.handle(secs(103), shut_off("i1", "a"));
    assert!(
        shapes(&seen).contains(&"alert Error InstanceNotRecovered".to_owned()),
        "{:?}",
        shapes(&seen)
    );
}

// --- A reboot the agent reports, of a host with no recovery (docs/sim-findings.md F13).

/// Hosts a, b, c; on a: `i1` and `i2` (protected), `i3` (not protected); on b: `i4`.
/// Heard from every host at 10 s.
fn cluster_with_a_host_to_reboot() -> Engine {
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance("i1", "a")
        .instance("i2", "a")
        .instance_with("i3", "a", lazarus_core::model::RestartPriority::Disabled)
        .instance("i4", "b");
    let (mut e, _) = fx.engine();
    for (host, peers) in [("a", ["b", "c"]), ("b", ["a", "c"]), ("c", ["a", "b"])] {
        e.handle(secs(10), hb(host, &peers));
    }
    e
}

fn rebooted(host: &str, guests: &[&str]) -> Event {
    Event::HostRebooted {
        host: h(host),
        guests_running_before: guests.iter().map(|g| i(g)).collect(),
    }
}

#[test]
fn a_host_that_rebooted_with_no_recovery_has_the_protected_guests_that_ran_before_restarted_in_place(
) {
    let mut e = cluster_with_a_host_to_reboot();
    // i2 is not listed: a user stopped it before the reboot. i3 is not protected, i4
    // is on another host and `gone` is unknown: none of them is looked at.
    let out = e.handle(secs(12), rebooted("a", &["i1", "i3", "i4", "gone"]));
    assert_eq!(shapes(&out), vec!["check i1", "timer"]);
    assert_eq!(
        shapes(&e.handle(secs(13), shut_off("i1", "a"))),
        vec!["reset i1"],
        "restarted in place, never evacuated"
    );
    assert!(e.recovery(&h("a")).is_none(), "no recovery is started");
}

#[test]
fn a_guest_found_running_after_a_reported_reboot_is_left_alone() {
    let mut e = cluster_with_a_host_to_reboot();
    e.handle(secs(12), rebooted("a", &["i1"]));
    let running = e.handle(
        secs(13),
        Event::InstanceObserved(InstanceObservation {
            instance: i("i1"),
            host: Some(h("a")),
            vm_state: VmState::Active,
            task_state: None,
            migration: None,
        }),
    );
    assert!(shapes(&running).is_empty(), "{running:?}");
}

#[test]
fn an_unanswered_check_after_a_reported_reboot_is_asked_again() {
    let mut e = cluster_with_a_host_to_reboot();
    let out = e.handle(secs(12), rebooted("a", &["i1"]));
    let (at, token) = timers(&out)[0];
    let again = e.handle(at, Event::TimerFired(token));
    assert_eq!(shapes(&again), vec!["check i1", "timer"]);
}

#[test]
fn a_reboot_reported_while_the_host_is_under_recovery_changes_nothing() {
    let (_, mut e, _) = recovery_waiting_for_the_watchdog();
    let out = e.handle(secs(20), rebooted("a", &["i1"]));
    assert!(
        shapes(&out).is_empty(),
        "the recovery's own return handles it: {out:?}"
    );
}

#[test]
fn a_reboot_check_answered_once_the_host_is_under_recovery_resets_nothing() {
    let mut e = cluster_with_a_host_to_reboot();
    e.handle(secs(12), rebooted("a", &["i1"]));
    e.handle(
        secs(13),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    );
    assert!(e.recovery(&h("a")).is_some());
    let seen = e.handle(secs(14), shut_off("i1", "a"));
    assert!(
        !shapes(&seen).iter().any(|s| s.starts_with("reset")),
        "the recovery's rules apply, not the check: {seen:?}"
    );
}
