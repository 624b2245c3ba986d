//! A host heard again after its fence, before its evacuation, as specifications: its
//! fence no longer holds, so nothing more is evacuated from it and what is left is
//! checked in place. A heartbeat that may have been in flight when the host went down
//! (within `suspect_after` of the confirmation) proves nothing and stops nothing
//! (seed 6 `--hosts 12 --max-faults 8`, docs/sim-findings.md F15, cause 2).

mod common;

use common::*;
use lazarus_core::command::Command;
use lazarus_core::engine::Engine;
use lazarus_core::event::Event;
use lazarus_core::model::FenceMethod;
use lazarus_core::time::Timestamp;
use lazarus_core::Record;

fn persisted(cmds: &[Command]) -> Vec<Record> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Persist(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// A watchdog host `a` (running `i1`) reported failed at 11 s and confirmed off by an
/// operator at 20 s: its recovery is marking it down. The fixture, the engine, and the
/// records it persisted.
fn recovery_marking_down() -> (Fixture, Engine, Vec<Record>) {
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance("i1", "a")
        .fence("a", FenceMethod::Watchdog);
    let keep = Fixture {
        cluster: fx.cluster.clone(),
        config: fx.config.clone(),
    };
    let (mut e, _) = fx.engine();
    e.handle(secs(10), hb("a", &["b", "c"]));
    let mut records = persisted(&e.handle(
        secs(11),
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    ));
    let confirmed = e.handle(
        secs(20),
        Event::OperatorConfirmedFenced {
            host: h("a"),
            operator: "op".into(),
        },
    );
    assert!(
        shapes(&confirmed).contains(&"persist a MarkingDown fenced".to_owned()),
        "{:?}",
        shapes(&confirmed)
    );
    records.extend(persisted(&confirmed));
    (keep, e, records)
}

fn marked_down() -> Event {
    Event::HostMarkedDown {
        host: h("a"),
        result: Ok(()),
    }
}

#[test]
fn a_heartbeat_after_the_fence_stops_the_evacuation_of_a_host_that_came_back() {
    let (_, mut e, _) = recovery_marking_down();
    // a is powered on again and its agent heartbeats, well after the confirmation.
    let back = e.handle(secs(30), hb("a", &["b", "c"]));
    assert!(
        shapes(&back).contains(&"check i1".to_owned()),
        "what is left is checked in place: {:?}",
        shapes(&back)
    );
    let later = e.handle(secs(31), marked_down());
    assert!(
        evacuations(&later).is_empty(),
        "nothing is evacuated from a host that came back: {:?}",
        shapes(&later)
    );
}

#[test]
fn after_a_takeover_a_heartbeat_after_the_fence_stops_the_evacuation_of_a_host_that_came_back() {
    let (fx, _, records) = recovery_marking_down();
    // The controller dies after writing MarkingDown; a boots meanwhile.
    let mut e = Engine::new(fx.config, fx.cluster);
    let resumed = e.resume(secs(100), records);
    assert!(evacuations(&resumed).is_empty(), "{:?}", shapes(&resumed));
    let back = e.handle(secs(101), hb("a", &["b", "c"]));
    assert!(
        shapes(&back).contains(&"check i1".to_owned()),
        "{:?}",
        shapes(&back)
    );
    let later = e.handle(secs(102), marked_down());
    assert!(evacuations(&later).is_empty(), "{:?}", shapes(&later));
}

#[test]
fn a_heartbeat_that_may_have_been_in_flight_at_the_fence_stops_nothing() {
    let (_, mut e, _) = recovery_marking_down();
    // Within `suspect_after` (2 s) of the confirmation at 20 s: it may have been sent
    // before a went down.
    let early = e.handle(Timestamp::from_millis(21_500), hb("a", &["b", "c"]));
    assert!(
        !shapes(&early).contains(&"check i1".to_owned()),
        "{:?}",
        shapes(&early)
    );
    let later = e.handle(secs(22), marked_down());
    assert_eq!(
        evacuations(&later).len(),
        1,
        "i1 is evacuated as planned: {:?}",
        shapes(&later)
    );
}

#[test]
fn a_host_heard_again_is_stopped_once_not_at_every_heartbeat() {
    let (_, mut e, _) = recovery_marking_down();
    e.handle(secs(30), hb("a", &["b", "c"]));
    let again = e.handle(secs(31), hb("a", &["b", "c"]));
    assert!(
        !shapes(&again)
            .iter()
            .any(|s| s.starts_with("persist") || s.starts_with("check")),
        "{:?}",
        shapes(&again)
    );
}

/// The timers a batch of commands scheduled, fired in order.
fn fire_timers(e: &mut Engine, cmds: &[Command]) -> Vec<Command> {
    let mut out = Vec::new();
    for c in cmds {
        if let Command::ScheduleTimer { at, token } = c {
            out.extend(e.handle(*at, Event::TimerFired(*token)));
        }
    }
    out
}

#[test]
fn after_a_takeover_the_mark_down_waits_until_a_host_that_came_back_can_be_heard() {
    let (fx, _, records) = recovery_marking_down();
    let mut e = Engine::new(fx.config, fx.cluster);
    let resumed = e.resume(secs(100), records);
    assert!(
        !shapes(&resumed).iter().any(|s| s.starts_with("mark-down")),
        "not marked down (nor evacuated) before a can have been heard: {:?}",
        shapes(&resumed)
    );
    // a booted while no controller watched: its first heartbeat reaches the new one.
    let back = e.handle(Timestamp::from_millis(100_400), hb("a", &["b", "c"]));
    assert!(
        shapes(&back).contains(&"check i1".to_owned()),
        "{:?}",
        shapes(&back)
    );
    let later = fire_timers(&mut e, &resumed);
    assert!(
        !shapes(&later).iter().any(|s| s.starts_with("mark-down"))
            && evacuations(&later).is_empty(),
        "{:?}",
        shapes(&later)
    );
}

#[test]
fn after_a_takeover_a_host_still_silent_is_marked_down_and_evacuated() {
    let (fx, _, records) = recovery_marking_down();
    let mut e = Engine::new(fx.config, fx.cluster);
    let resumed = e.resume(secs(100), records);
    let later = fire_timers(&mut e, &resumed);
    assert!(
        shapes(&later).iter().any(|s| s.starts_with("mark-down")),
        "{:?}",
        shapes(&later)
    );
    let down = e.handle(secs(103), marked_down());
    assert_eq!(evacuations(&down).len(), 1, "{:?}", shapes(&down));
}
