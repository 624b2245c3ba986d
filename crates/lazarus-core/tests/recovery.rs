//! The recovery workflow, as specifications: event in, commands out.

mod common;

use common::world::World;
use common::*;
use lazarus_core::command::Command;
use lazarus_core::event::{
    EvacuationError, Event, HostEvent, HostStatus, Notification, NotificationPayload, NovaError,
    NovaService, PowerState,
};
use lazarus_core::model::{FenceMethod, Resources, RestartPriority};
use lazarus_core::workflow::{InstanceStep, Outcome, Phase};
use lazarus_core::{AlertKind, Record, Severity};

fn stopped(id: &str, host: &str) -> Event {
    Event::MonitorNotified(Notification {
        id: id.to_owned(),
        host: h(host),
        payload: NotificationPayload::ComputeHost {
            event: HostEvent::Stopped,
            host_status: HostStatus::Normal,
        },
    })
}

fn alerts(cmds: &[Command], kind: AlertKind) -> usize {
    cmds.iter()
        .filter(|c| matches!(c, Command::RaiseAlert(a) if a.kind == kind))
        .count()
}

#[test]
fn duplicate_notifications_start_one_recovery() {
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance("i1", "a")
        .instance("i2", "a");
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);

    let first = e.handle(w.now, stopped("n1", "a"));
    assert_eq!(
        shapes(&first),
        vec!["persist a MarkingDown fenced", "mark-down a (lazarus: )"]
    );
    let second = e.handle(w.now, stopped("n2", "a"));
    assert_eq!(
        shapes(&second),
        vec![
            "persist a MarkingDown fenced",
            "alert Warning DuplicateReport"
        ]
    );
    assert_eq!(e.recovery(&h("a")).unwrap().duplicate_reports, 1);

    w.execute(first);
    w.run(&mut e, secs(600));
    // A third report while the evacuations run is recorded too, and changes nothing.
    let third = e.handle(w.now, stopped("n3", "a"));
    assert_eq!(alerts(&third, AlertKind::DuplicateReport), 1);
    assert!(evacuations(&third).is_empty());

    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
    assert_eq!(w.evacuated.get(&i("i2")), Some(&1));
    let mark_downs = w
        .commands()
        .iter()
        .filter(|c| matches!(c, Command::MarkHostDown { .. }))
        .count();
    assert_eq!(mark_downs, 1);
    assert_eq!(phase(&e, "a"), Some(Phase::Finished));
}

#[test]
fn an_unconfirmed_fence_never_leads_to_evacuation() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.stuck_bmcs.insert(h("a"));

    let out = e.handle(
        w.now,
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "alice".into(),
        },
    );
    assert_eq!(shapes(&out), vec!["persist a Fencing", "fence a#1"]);
    w.execute(out);
    w.run(&mut e, secs(3600));

    let log = w.commands();
    assert!(evacuations(&log).is_empty(), "evacuated an unfenced host");
    assert!(!log
        .iter()
        .any(|c| matches!(c, Command::MarkHostDown { .. })));
    let fences = log
        .iter()
        .filter(|c| matches!(c, Command::FenceHost { .. }))
        .count();
    assert_eq!(fences, 3, "bounded retries");
    assert_eq!(alerts(&log, AlertKind::FenceUnconfirmed), 1);
    assert_eq!(alerts(&log, AlertKind::FenceRetry), 2);
    let critical = log.iter().any(|c| {
        matches!(c, Command::RaiseAlert(a) if a.kind == AlertKind::FenceUnconfirmed && a.severity == Severity::Critical)
    });
    assert!(critical);
    // Still waiting: it keeps reading the BMC.
    let late_reads = w
        .log
        .iter()
        .filter(|(at, c)| *at > secs(1800) && matches!(c, Command::ReadPowerState { .. }))
        .count();
    assert!(late_reads > 0);
    assert_eq!(phase(&e, "a"), Some(Phase::Fencing));

    // An operator's confirmation is what unblocks it.
    w.feed_and_run(
        &mut e,
        Event::OperatorConfirmedFenced {
            host: h("a"),
            operator: "alice".into(),
        },
        secs(7200),
    );
    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
}

#[test]
fn a_bmc_reading_off_after_the_power_off_confirms_the_fence() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let (mut e, _) = fx.engine();
    let start = e.handle(
        secs(1),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    );
    assert_eq!(shapes(&start), vec!["persist a Fencing", "fence a#1"]);
    let ok = e.handle(
        secs(2),
        Event::FenceAttempted {
            host: h("a"),
            attempt: 1,
            result: Ok(()),
        },
    );
    assert_eq!(shapes(&ok), vec!["timer"]);
    let (at, token) = timers(&ok)[0];
    assert_eq!(
        at,
        t(2_500),
        "first read 500 ms after the accepted power-off"
    );
    let read = e.handle(at, Event::TimerFired(token));
    assert_eq!(shapes(&read), vec!["read-power a"]);
    let on = e.handle(
        at,
        Event::PowerStateRead {
            host: h("a"),
            result: Ok(PowerState::On),
        },
    );
    assert_eq!(
        shapes(&on),
        vec!["timer"],
        "on is not off: read again later"
    );
    let (at, token) = timers(&on)[0];
    assert_eq!(at, t(4_500), "the next read 2 s after an On");
    assert_eq!(
        shapes(&e.handle(at, Event::TimerFired(token))),
        vec!["read-power a"]
    );
    let off = e.handle(
        at,
        Event::PowerStateRead {
            host: h("a"),
            result: Ok(PowerState::Off),
        },
    );
    assert_eq!(
        shapes(&off),
        vec!["persist a MarkingDown fenced", "mark-down a (lazarus: )"]
    );
    // A stale timer token is dropped.
    assert!(e.handle(secs(7), Event::TimerFired(token)).is_empty());
}

#[test]
fn evacuation_waits_for_the_watchdog_promise() {
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance("i1", "a")
        .fence("a", FenceMethod::Watchdog);
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = World::new(&cluster);
    w.execute(start);
    // All agents heard every second until 10 s; then a falls silent and its peers no
    // longer reach it.
    for s in 0..=30u64 {
        w.advance_to(&mut e, secs(s));
        if s <= 10 {
            w.feed(&mut e, hb("a", &["b", "c"]));
        }
        w.feed(&mut e, hb("b", if s <= 10 { &["a", "c"] } else { &["c"] }));
        w.feed(&mut e, hb("c", if s <= 10 { &["a", "b"] } else { &["b"] }));
    }
    assert_eq!(
        phase(&e, "a"),
        Some(Phase::Fencing),
        "judged failed, fencing"
    );
    let safe_at = secs(10).saturating_add(e.config().fencing.watchdog_safe_after());
    for s in 31..=120u64 {
        w.advance_to(&mut e, secs(s));
        w.feed(&mut e, hb("b", &["c"]));
        w.feed(&mut e, hb("c", &["b"]));
    }
    let first_evacuation = w
        .log
        .iter()
        .find(|(_, c)| matches!(c, Command::EvacuateInstance { .. }))
        .map(|(at, _)| *at)
        .expect("evacuated after the promise");
    assert!(
        first_evacuation >= safe_at,
        "evacuated at {first_evacuation}, before {safe_at}"
    );
    let first_mark_down = w
        .log
        .iter()
        .find(|(_, c)| matches!(c, Command::MarkHostDown { .. }))
        .map(|(at, _)| *at)
        .unwrap();
    assert_eq!(first_mark_down, safe_at, "and no later than needed");
    assert!(!w
        .commands()
        .iter()
        .any(|c| matches!(c, Command::FenceHost { .. })));
    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
}

#[test]
fn a_compute_service_in_use_rejection_is_retried_after_mark_down() {
    let fx = Fixture::hosts(&["a", "b", "c"]).instance("i1", "a");
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    let planned = e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    assert_eq!(
        shapes(&planned),
        vec![
            "persist a Evacuating fenced i1:planned->b",
            "persist a Evacuating fenced i1:requested->b#1",
            "evacuate i1 a->b#1"
        ]
    );
    let rejected = e.handle(
        secs(3),
        Event::EvacuationRejected {
            instance: i("i1"),
            target: h("b"),
            attempt: 1,
            error: EvacuationError::ComputeServiceInUse,
        },
    );
    assert_eq!(
        shapes(&rejected),
        vec![
            "persist a MarkingDown fenced i1:planned->b",
            "alert Warning EvacuationRetry",
            "mark-down a (lazarus: )"
        ]
    );
    let again = e.handle(
        secs(4),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    assert_eq!(
        shapes(&again),
        vec![
            "persist a Evacuating fenced i1:planned->b",
            "persist a Evacuating fenced i1:requested->b#1",
            "evacuate i1 a->b#1"
        ],
        "the refused attempt does not count: Nova did nothing"
    );
}

#[test]
fn a_failed_evacuation_is_retried_on_another_host() {
    let fx = Fixture::hosts(&["a", "b", "c"]).instance("i1", "a");
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.failing_targets.insert(h("b"));
    w.feed_and_run(&mut e, stopped("n1", "a"), secs(600));

    let targets: Vec<_> = evacuations(&w.commands())
        .into_iter()
        .map(|(_, to)| to)
        .collect();
    assert_eq!(targets, vec![h("b"), h("c")]);
    assert_eq!(w.evacuated.get(&i("i1")), Some(&2));
    assert_eq!(w.instances[&i("i1")].host, h("c"));
    assert_eq!(alerts(&w.commands(), AlertKind::EvacuationRetry), 1);
    let r = e.recovery(&h("a")).unwrap();
    assert_eq!(r.outcome, Some(Outcome::Done));
    assert_eq!(
        r.instances[&i("i1")].step,
        InstanceStep::Recovered { host: h("c") }
    );
}

#[test]
fn retries_stop_at_the_segment_s_attempt_limit() {
    let fx = Fixture::hosts(&["a", "b", "c", "d"])
        .instance("i1", "a")
        .max_attempts(2);
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.failing_targets.extend([h("b"), h("c"), h("d")]);
    w.feed_and_run(&mut e, stopped("n1", "a"), secs(600));
    assert_eq!(w.evacuated.get(&i("i1")), Some(&2));
    let r = e.recovery(&h("a")).unwrap();
    assert_eq!(r.outcome, Some(Outcome::Partial));
    match &r.instances[&i("i1")].step {
        InstanceStep::GivenUp { reason } => {
            assert!(reason.contains("after 2 attempts"), "{reason}")
        }
        other => panic!("not given up: {other:?}"),
    }
}

#[test]
fn unplaceable_instances_carry_reasons() {
    let fx = Fixture::hosts(&["a", "b"])
        .instance("small", "a")
        .big_instance("huge", "a", Resources::new(8, 30000, 100))
        .big_instance("filler", "b", Resources::new(8, 20000, 100));
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.feed_and_run(&mut e, stopped("n1", "a"), secs(600));

    let log = w.commands();
    let finished = log
        .iter()
        .find_map(|c| match c {
            Command::RecoveryFinished(s) => Some(s.clone()),
            _ => None,
        })
        .expect("the recovery finishes");
    assert_eq!(finished.outcome, Outcome::Partial);
    assert_eq!(finished.recovered.get(&i("small")), Some(&h("b")));
    let reason = finished.given_up.get(&i("huge")).expect("huge is given up");
    assert!(reason.starts_with("not placed: "), "{reason}");
    assert!(reason.len() > "not placed: ".len());
    let alerted = log.iter().any(|c| {
        matches!(c, Command::RaiseAlert(a) if a.kind == AlertKind::InstanceNotRecovered
            && a.instance == Some(i("huge")) && a.severity == Severity::Error)
    });
    assert!(alerted);
    assert_eq!(w.evacuated.get(&i("huge")), None);
}

#[test]
fn waves_run_by_priority_with_bounded_parallelism() {
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance_with("hi1", "a", RestartPriority::Highest)
        .instance_with("hi2", "a", RestartPriority::Highest)
        .instance_with("hi3", "a", RestartPriority::Highest)
        .instance_with("lo1", "a", RestartPriority::Low)
        .max_parallel(2);
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    let first = e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    let ev: Vec<_> = evacuations(&first).into_iter().map(|(i, _)| i).collect();
    assert_eq!(ev, vec![i("hi1"), i("hi2")], "two at a time, highest first");
    // hi1 is accepted and verified: hi3 may go, lo1 must wait for the whole wave.
    let (_, to) = evacuations(&first)[0].clone();
    e.handle(
        secs(3),
        Event::EvacuationAccepted {
            instance: i("hi1"),
            target: to.clone(),
            attempt: 1,
        },
    );
    let verified = e.handle(
        secs(8),
        Event::InstanceObserved(lazarus_core::event::InstanceObservation {
            instance: i("hi1"),
            host: Some(to),
            vm_state: lazarus_core::model::VmState::Active,
            task_state: None,
            migration: Some(lazarus_core::event::MigrationStatus::Done),
        }),
    );
    let ev: Vec<_> = evacuations(&verified).into_iter().map(|(i, _)| i).collect();
    assert_eq!(ev, vec![i("hi3")]);
}

#[test]
fn the_host_is_returned_to_service_only_if_lazarus_disabled_it() {
    for (disabled_before, expect_enable) in [(None, true), (Some("maintenance window"), false)] {
        let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
        let cluster = fx.cluster.clone();
        let (mut e, _) = fx.engine();
        let mut w = World::new(&cluster);
        if let Some(reason) = disabled_before {
            e.handle(
                w.now,
                Event::NovaServiceObserved(NovaService {
                    host: h("a"),
                    reporting: true,
                    up: true,
                    forced_down: false,
                    disabled: true,
                    disabled_reason: Some(reason.into()),
                }),
            );
        }
        w.feed_and_run(&mut e, stopped("n1", "a"), secs(600));
        assert_eq!(phase(&e, "a"), Some(Phase::Finished));

        // The compute comes back, but Nova refuses (evacuations still `done`): later.
        let out = e.handle(w.now, Event::HostReturned { host: h("a") });
        assert_eq!(
            shapes(&out),
            vec![
                "persist a Returning fenced i1:recovered@b".to_owned(),
                format!("return a enable={expect_enable}")
            ]
        );
        let refused = e.handle(
            w.now,
            Event::HostReturnedToService {
                host: h("a"),
                result: Err(NovaError::BadRequest("evacuation records done".into())),
            },
        );
        assert_eq!(
            shapes(&refused),
            vec!["timer"],
            "a 400 is retried later, quietly"
        );
        let (at, token) = timers(&refused)[0];
        let retry = e.handle(at, Event::TimerFired(token));
        assert_eq!(
            shapes(&retry),
            vec![format!("return a enable={expect_enable}")]
        );
        let done = e.handle(
            at,
            Event::HostReturnedToService {
                host: h("a"),
                result: Ok(()),
            },
        );
        assert_eq!(
            shapes(&done),
            vec!["persist a Closed fenced i1:recovered@b"]
        );
        assert!(e.recovery(&h("a")).is_none());
    }
}

#[test]
fn a_return_nova_keeps_refusing_raises_one_error_alert_at_the_third_refusal() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.feed_and_run(&mut e, stopped("n1", "a"), secs(600));
    e.handle(w.now, Event::HostReturned { host: h("a") });
    let refuse = |e: &mut lazarus_core::Engine, at| {
        e.handle(
            at,
            Event::HostReturnedToService {
                host: h("a"),
                result: Err(NovaError::BadRequest("evacuation records done".into())),
            },
        )
    };
    let mut at = w.now;
    let mut alerts_seen = Vec::new();
    for _ in 0..6 {
        let out = refuse(&mut e, at);
        alerts_seen.push(alerts(&out, AlertKind::ReturnToServiceFailed));
        let (next, token) = timers(&out)[0];
        let retry = e.handle(next, Event::TimerFired(token));
        assert_eq!(
            shapes(&retry),
            vec!["return a enable=true"],
            "still retried"
        );
        at = next;
    }
    assert_eq!(
        alerts_seen,
        vec![0, 0, 1, 0, 0, 0],
        "one alert, at the third"
    );
    assert!(e.recovery(&h("a")).is_some(), "not closed while refused");

    // Accepted at last: closed; a later recovery of the host starts counting afresh.
    let done = e.handle(
        at,
        Event::HostReturnedToService {
            host: h("a"),
            result: Ok(()),
        },
    );
    assert_eq!(alerts(&done, AlertKind::ReturnToServiceFailed), 0);
    assert!(e.recovery(&h("a")).is_none());
}

#[test]
fn a_controller_crash_at_every_workflow_step_resumes_without_double_evacuation() {
    let fixture = || {
        Fixture::hosts(&["a", "b", "c", "d"])
            .instance_with("i1", "a", RestartPriority::High)
            .instance_with("i2", "a", RestartPriority::High)
            .instance_with("i3", "a", RestartPriority::Medium)
            .instance_with("i4", "a", RestartPriority::Low)
            .max_parallel(2)
    };
    let recover = |w: &mut World, e: &mut lazarus_core::Engine| {
        w.feed_and_run(
            e,
            Event::OperatorRequestedRecovery {
                host: h("a"),
                operator: "op".into(),
            },
            secs(600),
        );
    };
    // An uninterrupted run tells how many persisted steps there are.
    let fx = fixture();
    let cluster = fx.cluster.clone();
    let config = fx.config.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    recover(&mut w, &mut e);
    assert_eq!(phase(&e, "a"), Some(Phase::Finished));
    let steps = w.persists;
    assert!(steps >= 8, "only {steps} persisted steps");

    for crash_at in 1..=steps {
        let fx = fixture();
        let (mut e, _) = fx.engine();
        let mut w = World::new(&cluster);
        w.crash_after = Some(crash_at);
        recover(&mut w, &mut e);
        assert!(w.crashed, "crash point {crash_at} not reached");
        let mut e = w.restart(config.clone(), w.cluster_now(&cluster));
        w.run(&mut e, w.now.saturating_add(d(600_000)));

        let r = e
            .recovery(&h("a"))
            .unwrap_or_else(|| panic!("crash at {crash_at}: recovery lost"));
        assert_eq!(r.phase, Phase::Finished, "crash at {crash_at}");
        assert_eq!(r.outcome, Some(Outcome::Done), "crash at {crash_at}");
        for id in ["i1", "i2", "i3", "i4"] {
            let n = w.evacuated.get(&i(id)).copied().unwrap_or(0);
            assert_eq!(n, 1, "crash at {crash_at}: {id} evacuated {n} times");
            assert_ne!(
                w.instances[&i(id)].host,
                h("a"),
                "crash at {crash_at}: {id} not moved"
            );
        }
    }
}

#[test]
fn a_new_leader_checks_an_instance_whose_evacuation_result_is_unknown() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let cluster = fx.cluster.clone();
    let config = fx.config.clone();
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    let out = e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    let records: Vec<Record> = out
        .iter()
        .filter_map(|c| match c {
            Command::Persist(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    // The new engine knows only the records: i1 was requested, result unknown.
    let mut e2 = lazarus_core::Engine::new(config, cluster);
    let resumed = e2.resume(secs(30), records);
    assert_eq!(
        shapes(&resumed),
        vec!["timer", "check i1", "timer"],
        "checked, not re-evacuated"
    );
}

#[test]
fn a_compute_report_from_before_the_failure_is_not_taken_for_a_return() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.feed_and_run(&mut e, stopped("n1", "a"), secs(60));
    assert_eq!(phase(&e, "a"), Some(Phase::Finished));
    let reporting = Event::NovaServiceObserved(NovaService {
        host: h("a"),
        reporting: true,
        up: false,
        forced_down: true,
        disabled: true,
        disabled_reason: Some("lazarus: host failed".into()),
    });
    // Within Nova's service_down_time of the fence, "reporting" may be stale.
    assert!(e.handle(secs(30), reporting.clone()).is_empty());
    assert_eq!(
        shapes(&e.handle(secs(120), reporting)),
        vec![
            "persist a Returning fenced i1:recovered@b",
            "return a enable=true"
        ]
    );
}

#[test]
fn a_host_back_during_its_evacuation_is_not_evacuated_further_and_its_guests_restart_in_place() {
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance_with("first", "a", RestartPriority::Highest)
        .instance_with("later", "a", RestartPriority::Low);
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    let wave = e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    assert_eq!(evacuations(&wave).len(), 1, "first wave: one instance");
    // Someone powers the host on; its compute reports again.
    let back = e.handle(secs(20), Event::HostReturned { host: h("a") });
    assert_eq!(
        shapes(&back),
        vec![
            "persist a Evacuating fenced first:requested->b#1 later:given-up",
            "check later",
            "timer"
        ]
    );
    // first's evacuation is verified as usual; later is restarted where it is.
    let restarted = e.handle(
        secs(21),
        Event::InstanceObserved(lazarus_core::event::InstanceObservation {
            instance: i("later"),
            host: Some(h("a")),
            vm_state: lazarus_core::model::VmState::Stopped,
            task_state: None,
            migration: None,
        }),
    );
    assert_eq!(shapes(&restarted), vec!["reset later"]);
    let verified = e.handle(
        secs(22),
        Event::InstanceObserved(lazarus_core::event::InstanceObservation {
            instance: i("first"),
            host: Some(h("b")),
            vm_state: lazarus_core::model::VmState::Active,
            task_state: None,
            migration: Some(lazarus_core::event::MigrationStatus::Done),
        }),
    );
    assert_eq!(
        shapes(&verified),
        vec![
            "persist a Evacuating fenced first:recovered@b later:given-up",
            "persist a Finished fenced first:recovered@b later:given-up",
            "finished a Partial",
            "persist a Returning fenced first:recovered@b later:given-up",
            "return a enable=true"
        ]
    );
}

#[test]
fn a_stopped_instance_that_comes_up_active_after_an_error_is_recovered() {
    let mut fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    fx.cluster.instance_mut(&i("i1")).unwrap().vm_state = lazarus_core::model::VmState::Stopped;
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    e.handle(
        secs(3),
        Event::EvacuationAccepted {
            instance: i("i1"),
            target: h("b"),
            attempt: 1,
        },
    );
    let out = e.handle(
        secs(8),
        Event::InstanceObserved(lazarus_core::event::InstanceObservation {
            instance: i("i1"),
            host: Some(h("b")),
            vm_state: lazarus_core::model::VmState::Active,
            task_state: None,
            migration: Some(lazarus_core::event::MigrationStatus::Done),
        }),
    );
    assert!(
        shapes(&out).contains(&"finished a Done".to_owned()),
        "{:?}",
        shapes(&out)
    );
}

fn on_a_without_migration() -> Event {
    Event::InstanceObserved(lazarus_core::event::InstanceObservation {
        instance: i("i1"),
        host: Some(h("a")),
        vm_state: lazarus_core::model::VmState::Active,
        task_state: None,
        migration: None,
    })
}

#[test]
fn late_duplicate_check_answers_never_send_an_evacuation_twice() {
    let fx = Fixture::hosts(&["a", "b", "c"]).instance("i1", "a");
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    // The request times out: the instance is checked before anything else.
    let out = e.handle(
        secs(3),
        Event::EvacuationRejected {
            instance: i("i1"),
            target: h("b"),
            attempt: 1,
            error: EvacuationError::Timeout,
        },
    );
    assert_eq!(shapes(&out), vec!["timer"]);
    // Two answers to checks arrive, both showing no evacuation: one resend only.
    let first = e.handle(secs(8), on_a_without_migration());
    assert_eq!(evacuations(&first), vec![(i("i1"), h("b"))]);
    let second = e.handle(secs(9), on_a_without_migration());
    assert!(evacuations(&second).is_empty(), "{:?}", shapes(&second));
}

#[test]
fn a_conflict_is_checked_before_a_retry_elsewhere() {
    let fx = Fixture::hosts(&["a", "b", "c"]).instance("i1", "a");
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    let conflict = Event::EvacuationRejected {
        instance: i("i1"),
        target: h("b"),
        attempt: 1,
        error: EvacuationError::Conflict("instance busy".into()),
    };
    assert_eq!(shapes(&e.handle(secs(3), conflict)), vec!["timer"]);
    // An earlier request of ours turns out to be at work: it is followed, not doubled.
    let busy = e.handle(
        secs(8),
        Event::InstanceObserved(lazarus_core::event::InstanceObservation {
            instance: i("i1"),
            host: Some(h("a")),
            vm_state: lazarus_core::model::VmState::Active,
            task_state: Some("rebuilding".into()),
            migration: Some(lazarus_core::event::MigrationStatus::PreMigrating),
        }),
    );
    assert!(evacuations(&busy).is_empty());
    assert_eq!(
        shapes(&busy),
        vec!["persist a Evacuating fenced i1:accepted->b#1"],
        "(its check timer is still pending)"
    );

    // Without anything in progress, the 409 was a refusal: retried on another host.
    let fx = Fixture::hosts(&["a", "b", "c"]).instance("i1", "a");
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    e.handle(
        secs(3),
        Event::EvacuationRejected {
            instance: i("i1"),
            target: h("b"),
            attempt: 1,
            error: EvacuationError::Conflict("late group check".into()),
        },
    );
    let retry = e.handle(secs(8), on_a_without_migration());
    assert_eq!(evacuations(&retry), vec![(i("i1"), h("c"))]);
}

#[test]
fn a_check_read_before_a_retry_was_taken_does_not_fail_the_retry() {
    let fx = Fixture::hosts(&["a", "b", "c", "d"]).instance("i1", "a");
    let (mut e, _) = fx.engine();
    e.handle(secs(1), stopped("n1", "a"));
    e.handle(
        secs(2),
        Event::HostMarkedDown {
            host: h("a"),
            result: Ok(()),
        },
    );
    let accepted = e.handle(
        secs(3),
        Event::EvacuationAccepted {
            instance: i("i1"),
            target: h("b"),
            attempt: 1,
        },
    );
    let (at, token) = timers(&accepted)[0];
    let failed = Event::InstanceObserved(lazarus_core::event::InstanceObservation {
        instance: i("i1"),
        host: Some(h("a")),
        vm_state: lazarus_core::model::VmState::Error,
        task_state: None,
        migration: Some(lazarus_core::event::MigrationStatus::Failed),
    });
    // The poll sees attempt 1 failed: attempt 2 goes to c. A re-check is still due.
    let polled = e.handle(at, Event::TimerFired(token));
    assert_eq!(shapes(&polled), vec!["check i1", "timer"]);
    let retry = e.handle(at, failed.clone());
    assert_eq!(evacuations(&retry), vec![(i("i1"), h("c"))]);
    // The re-check is read while Nova has not yet taken attempt 2...
    let (at, token) = timers(&polled)[0];
    assert_eq!(
        shapes(&e.handle(at, Event::TimerFired(token)))[0],
        "check i1"
    );
    // ...Nova takes attempt 2, then that read arrives, still showing attempt 1's failed
    // record: it must not count as attempt 2 failing.
    e.handle(
        secs(20),
        Event::EvacuationAccepted {
            instance: i("i1"),
            target: h("c"),
            attempt: 2,
        },
    );
    let stale = e.handle(secs(21), failed.clone());
    assert!(evacuations(&stale).is_empty(), "{:?}", shapes(&stale));
    // A check read after Nova took it is believed.
    let later = e.handle(secs(30), failed);
    assert_eq!(evacuations(&later), vec![(i("i1"), h("d"))]);
}
