//! Fencing confirmations that must not be taken too early, and alerts that must not
//! be lost, as specifications.

mod common;

use common::*;
use lazarus_core::command::Command;
use lazarus_core::engine::Engine;
use lazarus_core::event::{Event, FenceError, FenceErrorKind, PowerState};
use lazarus_core::model::FenceMethod;
use lazarus_core::{AlertKind, Record, Severity};

fn persisted(cmds: &[Command]) -> Vec<Record> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Persist(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn marks_down(cmds: &[Command]) -> bool {
    cmds.iter()
        .any(|c| matches!(c, Command::MarkHostDown { .. }))
}

/// An engine that heard `a`, `b` and `c` until 10 s, then was asked to recover `a`
/// (watchdog): the records and the commands of that start.
fn watchdog_recovery() -> (Engine, Vec<Command>, Fixture) {
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
    assert_eq!(timers(&out)[0].0, secs(50), "10 s + 30 s + 10 s");
    (e, out, keep)
}

#[test]
fn a_new_controller_counts_the_watchdog_promise_from_its_own_start() {
    let (_, out, fx) = watchdog_recovery();
    // The old controller died; a new one starts at 100 s. The promise (30 + 10 s) from
    // the last heartbeat (10 s) looks kept, but while no controller watched, the host
    // may have fed its watchdog through its peers: count from 100 s.
    let mut e = Engine::new(fx.config, fx.cluster);
    let out = e.resume(secs(100), persisted(&out));
    assert!(!marks_down(&out), "promise taken as kept at once");
    let (at, token) = timers(&out)
        .into_iter()
        .find(|(at, _)| *at == secs(140))
        .expect("waits for the promise, counted from the start");
    let out = e.handle(at, Event::TimerFired(token));
    assert_eq!(
        shapes(&out),
        vec!["persist a MarkingDown fenced", "mark-down a (lazarus: )"]
    );
}

#[test]
fn a_peer_reaching_the_host_pushes_the_watchdog_promise_back() {
    let (mut e, out, _) = watchdog_recovery();
    let (at, token) = timers(&out)[0];
    // At 30 s a peer still reaches a: its watchdog may still be fed.
    e.handle(secs(30), hb("b", &["a"]));
    let early = e.handle(at, Event::TimerFired(token));
    assert!(!marks_down(&early));
    let (later, token) = timers(&early)[0];
    assert_eq!(later, secs(70), "30 s + 30 s + 10 s");
    assert!(marks_down(&e.handle(later, Event::TimerFired(token))));
}

#[test]
fn a_lost_critical_fence_alert_is_raised_again_on_resume() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let keep = (fx.config.clone(), fx.cluster.clone());
    let (mut e, _) = fx.engine();
    let mut records = Vec::new();
    let out = e.handle(
        secs(1),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    );
    records.extend(persisted(&out));
    let failure = || {
        Err(FenceError {
            kind: FenceErrorKind::Unreachable,
            retryable: true,
            message: "no route to BMC".into(),
        })
    };
    let mut now = secs(2);
    for attempt in 1..=3 {
        let out = e.handle(
            now,
            Event::FenceAttempted {
                host: h("a"),
                attempt,
                result: failure(),
            },
        );
        records.extend(persisted(&out));
        if attempt < 3 {
            let (at, token) = timers(&out)[0];
            now = at;
            records.extend(persisted(&e.handle(now, Event::TimerFired(token))));
        } else {
            assert!(out.iter().any(|c| matches!(c, Command::RaiseAlert(a)
                if a.kind == AlertKind::FenceUnconfirmed && a.severity == Severity::Critical)));
        }
    }
    // The controller dies right after persisting "gave up", before the alert went out.
    let mut e2 = Engine::new(keep.0, keep.1);
    let out = e2.resume(now, records);
    assert!(
        out.iter().any(|c| matches!(c, Command::RaiseAlert(a)
            if a.kind == AlertKind::FenceUnconfirmed && a.severity == Severity::Critical)),
        "{:?}",
        shapes(&out)
    );
    assert!(out
        .iter()
        .any(|c| matches!(c, Command::ReadPowerState { .. })));
    assert!(!marks_down(&out));
}

#[test]
fn the_watchdog_promise_waits_out_a_blindness_too_small_for_the_storm_guard() {
    // Three hosts: c (watchdog) fails; then the controller hears neither a nor b for
    // a while (two unheard hosts do not engage the storm guard). c may have reached its
    // peers meanwhile, so its promise counts from the end of that blindness.
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance("i1", "c")
        .fence("c", FenceMethod::Watchdog);
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = common::world::World::new(&cluster);
    w.execute(start);
    for s in 0..=80u64 {
        w.advance_to(&mut e, secs(s));
        if s < 10 {
            w.feed(&mut e, hb("c", &["a", "b"]));
        }
        let blind = (20..50).contains(&s);
        if !blind {
            w.feed(&mut e, hb("a", if s < 10 { &["b", "c"] } else { &["b"] }));
            w.feed(&mut e, hb("b", if s < 10 { &["a", "c"] } else { &["a"] }));
        }
    }
    assert!(!e.storm_engaged());
    let mark_down = w
        .log
        .iter()
        .find(|(_, c)| matches!(c, Command::MarkHostDown { .. }))
        .map(|(at, _)| *at);
    assert_eq!(mark_down, None, "promise taken while blind (by 80 s)");
    for s in 81..=120u64 {
        w.advance_to(&mut e, secs(s));
        w.feed(&mut e, hb("a", &["b"]));
        w.feed(&mut e, hb("b", &["a"]));
    }
    let mark_down = w
        .log
        .iter()
        .find(|(_, c)| matches!(c, Command::MarkHostDown { .. }))
        .map(|(at, _)| *at)
        .expect("confirmed once the blindness is over and the promise kept");
    // Blind until the tick after 49 s (heard again at 50 s): promise at ~52 + 40 s.
    assert!(
        mark_down >= secs(90) && mark_down <= secs(93),
        "{mark_down}"
    );
}

/// A BMC that stopped answering (the fence gave up, critical alert, nothing evacuated)
/// and answers again: the host is powered off then, and evacuated once it reads Off.
#[test]
fn a_bmc_that_answers_again_after_the_fence_gave_up_is_asked_to_power_off_again() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let (mut e, _) = fx.engine();
    e.handle(
        secs(1),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    );
    let timeout = || {
        Err(FenceError {
            kind: FenceErrorKind::Timeout,
            retryable: true,
            message: "the BMC did not answer".into(),
        })
    };
    let mut now = secs(2);
    let mut out = Vec::new();
    for attempt in 1..=3 {
        out = e.handle(
            now,
            Event::FenceAttempted {
                host: h("a"),
                attempt,
                result: timeout(),
            },
        );
        if attempt < 3 {
            let (at, token) = timers(&out)[0];
            now = at;
            e.handle(now, Event::TimerFired(token));
        }
    }
    assert!(out.iter().any(|c| matches!(c, Command::RaiseAlert(a)
        if a.kind == AlertKind::FenceUnconfirmed && a.severity == Severity::Critical)));
    // Polled while it gave up: still silent, then it answers (the host reads On).
    let (at, token) = timers(&out)[0];
    let read = e.handle(at, Event::TimerFired(token));
    assert!(read
        .iter()
        .any(|c| matches!(c, Command::ReadPowerState { .. })));
    let silent = e.handle(
        at,
        Event::PowerStateRead {
            host: h("a"),
            result: timeout().map(|()| PowerState::On),
        },
    );
    assert!(!silent
        .iter()
        .any(|c| matches!(c, Command::FenceHost { .. })));
    assert!(!marks_down(&silent), "nothing before a confirmation");
    let (at, token) = timers(&silent)[0];
    e.handle(at, Event::TimerFired(token));
    let answered = e.handle(
        at,
        Event::PowerStateRead {
            host: h("a"),
            result: Ok(PowerState::On),
        },
    );
    assert!(!marks_down(&answered), "On is no confirmation");
    let attempt = answered
        .iter()
        .find_map(|c| match c {
            Command::FenceHost { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .expect("the power-off is sent again once the BMC answers");
    assert_eq!(attempt, 4);
    let accepted = e.handle(
        at,
        Event::FenceAttempted {
            host: h("a"),
            attempt,
            result: Ok(()),
        },
    );
    let (at, token) = timers(&accepted)[0];
    e.handle(at, Event::TimerFired(token));
    let off = e.handle(
        at,
        Event::PowerStateRead {
            host: h("a"),
            result: Ok(PowerState::Off),
        },
    );
    assert!(marks_down(&off), "{:?}", shapes(&off));
}

/// The first power read comes `first_power_read` after the BMC accepted the power-off
/// (most BMCs have switched the host off by then); while it does not read Off, the
/// following ones come every `power_read_interval`, and only an Off read confirms.
#[test]
fn the_first_power_read_comes_sooner_than_the_following_ones() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let policy = fx.config.fencing.clone();
    assert!(policy.first_power_read < policy.power_read_interval);
    let (mut e, _) = fx.engine();
    e.handle(
        secs(1),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    );
    let accepted_at = secs(2);
    let accepted = e.handle(
        accepted_at,
        Event::FenceAttempted {
            host: h("a"),
            attempt: 1,
            result: Ok(()),
        },
    );
    let (first, token) = timers(&accepted)[0];
    assert_eq!(first, accepted_at.saturating_add(policy.first_power_read));
    e.handle(first, Event::TimerFired(token));
    let on = e.handle(
        first,
        Event::PowerStateRead {
            host: h("a"),
            result: Ok(PowerState::On),
        },
    );
    assert!(!marks_down(&on), "On is no confirmation");
    let (second, token) = timers(&on)[0];
    assert_eq!(second, first.saturating_add(policy.power_read_interval));
    e.handle(second, Event::TimerFired(token));
    let on = e.handle(
        second,
        Event::PowerStateRead {
            host: h("a"),
            result: Ok(PowerState::On),
        },
    );
    let (third, _) = timers(&on)[0];
    assert_eq!(third, second.saturating_add(policy.power_read_interval));
}
