//! A rack cut off together from the controller keeps feeding its watchdogs through its
//! own peer majority: its watchdog promise must not be taken as kept (F11 in
//! docs/sim-findings.md; the argument is in docs/core.md, "The watchdog promise").

#![allow(clippy::expect_used)]

mod common;

use common::*;
use lazarus_core::command::Command;
use lazarus_core::engine::Engine;
use lazarus_core::model::{Capacity, FenceMethod, Host, Segment};
use lazarus_core::{AlertKind, Severity, Timestamp};

const RACK: [&str; 3] = ["a1", "a2", "a3"];
const REST: [&str; 2] = ["a4", "a5"];
const OTHER: [&str; 5] = ["b1", "b2", "b3", "b4", "b5"];

/// Segment `seg` (a1..a5, a1..a3 watchdog-fenced, an instance on a1) and segment
/// `seg-b` (b1..b5): ten hosts, so three unheard stay below the storm guard (30 %).
fn two_segments() -> Fixture {
    let mut fx = Fixture::hosts(&["a1", "a2", "a3", "a4", "a5"]).instance("i1", "a1");
    for r in RACK {
        fx = fx.fence(r, FenceMethod::Watchdog);
    }
    fx.cluster.upsert_segment(Segment::new("seg-b", "seg-b"));
    for b in OTHER {
        fx.cluster
            .upsert_host(Host::new(
                b,
                "seg-b",
                Capacity::with_default_ratios(16, 32768, 500),
            ))
            .expect("segment seg-b was just added");
    }
    fx
}

/// Each host's heartbeat with the peers of its segment it reaches, when `cut` hosts
/// reach only one another (and the controller hears none of them).
fn heartbeats(cut: &[&str]) -> Vec<lazarus_core::event::Event> {
    let segment_a: Vec<&str> = RACK.iter().chain(REST.iter()).copied().collect();
    let mut out = Vec::new();
    for seg in [segment_a.as_slice(), OTHER.as_slice()] {
        for &me in seg {
            if cut.contains(&me) {
                continue;
            }
            let peers: Vec<&str> = seg
                .iter()
                .copied()
                .filter(|p| *p != me && !cut.contains(p))
                .collect();
            out.push(hb(me, &peers));
        }
    }
    out
}

fn first_mark_down(w: &common::world::World) -> Option<Timestamp> {
    w.log
        .iter()
        .find(|(_, c)| matches!(c, Command::MarkHostDown { .. }))
        .map(|(at, _)| *at)
}

fn run(e: &mut Engine, w: &mut common::world::World, from: u64, to: u64, cut: &[&str]) {
    for s in from..to {
        w.advance_to(e, secs(s));
        for event in heartbeats(cut) {
            w.feed(e, event);
        }
    }
}

#[test]
fn a_rack_partition_keeps_feeding_watchdogs_and_is_never_evacuated() {
    let fx = two_segments();
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = common::world::World::new(&cluster);
    w.execute(start);
    run(&mut e, &mut w, 0, 10, &[]);
    // a1, a2, a3 lose their uplink together: they still reach one another, 3 of 5,
    // and so keep feeding their watchdogs. a4 and a5 are heard and do not reach them.
    run(&mut e, &mut w, 10, 300, &RACK);
    assert!(!e.storm_engaged(), "three of ten must stay below the guard");
    assert_eq!(
        first_mark_down(&w),
        None,
        "a watchdog promise taken as kept for a host running with its rack"
    );
    assert!(
        w.log
            .iter()
            .all(|(_, c)| !matches!(c, Command::EvacuateInstance { .. })),
        "evacuated from a running rack"
    );
    let alerted = w.log.iter().any(|(_, c)| match c {
        Command::RaiseAlert(a) => {
            a.kind == AlertKind::FenceUnconfirmed
                && a.severity == Severity::Critical
                && a.host.as_ref().is_some_and(|host| host == &h("a1"))
        }
        _ => false,
    });
    assert!(
        alerted,
        "no critical alert that fencing cannot be confirmed"
    );
    // The uplink comes back: the rack is heard, its recoveries are called off.
    run(&mut e, &mut w, 300, 320, &[]);
    assert_eq!(phase(&e, "a1"), None);
    assert_eq!(first_mark_down(&w), None);
}

#[test]
fn a_lone_silent_host_whose_segment_is_heard_keeps_its_watchdog_promise() {
    // Only a1 falls silent; a2..a5 are heard and none reaches it: it cannot hold a
    // majority, so the promise is kept 30 s + 10 s after its last heartbeat.
    let fx = two_segments();
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = common::world::World::new(&cluster);
    w.execute(start);
    run(&mut e, &mut w, 0, 10, &[]);
    run(&mut e, &mut w, 10, 120, &["a1"]);
    let at = first_mark_down(&w).expect("the promise is kept");
    assert!(at >= secs(49) && at <= secs(53), "{at}");
}

#[test]
fn a_rack_that_holds_only_half_its_segment_keeps_its_watchdog_promise() {
    // a1 and a2 cut off together: 2 of 5 is no majority, and the controller hears
    // a3, a4, a5 (at least half of the segment) not reaching them.
    let fx = two_segments();
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = common::world::World::new(&cluster);
    w.execute(start);
    run(&mut e, &mut w, 0, 10, &[]);
    run(&mut e, &mut w, 10, 120, &["a1", "a2"]);
    let at = first_mark_down(&w).expect("the promise is kept");
    assert!(at <= secs(53), "{at}");
}
