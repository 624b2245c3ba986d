//! Operators' events (`OperatorConfirmedFenced`, `OperatorRequestedRecovery`), as the
//! controller's native API sends them, as specifications.
//!
//! A confirmation answers a recovery waiting for one and never starts a recovery: the
//! engine ignores (and alerts about) any other, as the controller refuses it (409,
//! `crates/lazarus-controller/src/operator.rs`) before the engine sees it.

mod common;

use common::world::World;
use common::*;
use lazarus_core::command::Command;
use lazarus_core::event::Event;
use lazarus_core::model::FenceMethod;
use lazarus_core::workflow::Phase;
use lazarus_core::{AlertKind, Severity};

fn confirm(host: &str) -> Event {
    Event::OperatorConfirmedFenced {
        host: h(host),
        operator: "alice (project p1)".into(),
    }
}

fn recover(host: &str) -> Event {
    Event::OperatorRequestedRecovery {
        host: h(host),
        operator: "alice (project p1)".into(),
    }
}

fn marks_down(cmds: &[Command]) -> bool {
    cmds.iter()
        .any(|c| matches!(c, Command::MarkHostDown { .. }))
}

fn mark_downs(cmds: &[Command]) -> usize {
    cmds.iter()
        .filter(|c| matches!(c, Command::MarkHostDown { .. }))
        .count()
}

fn ignored_confirmations(cmds: &[Command]) -> usize {
    cmds.iter()
        .filter(|c| {
            matches!(c, Command::RaiseAlert(a)
                if a.kind == AlertKind::FenceConfirmationIgnored && a.severity == Severity::Warning)
        })
        .count()
}

/// Recoveries started, counted by the distinct ids persisted.
fn recovery_ids(cmds: &[Command]) -> std::collections::BTreeSet<String> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Persist(lazarus_core::engine::Record::Recovery(r)) => Some(r.id.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_manual_host_asked_for_is_evacuated_only_after_an_operator_confirms_it_off() {
    let fx = Fixture::hosts(&["a", "b"])
        .instance("i1", "a")
        .fence("a", FenceMethod::Manual);
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);

    w.feed_and_run(
        &mut e,
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "alice (project p1)".into(),
        },
        secs(3600),
    );
    assert_eq!(phase(&e, "a"), Some(Phase::Fencing));
    assert!(
        !marks_down(&w.commands()),
        "marked down before a confirmation"
    );
    assert!(evacuations(&w.commands()).is_empty());

    w.feed_and_run(&mut e, confirm("a"), secs(7200));
    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
}

#[test]
fn a_confirmation_after_the_fence_is_confirmed_changes_nothing() {
    let fx = Fixture::hosts(&["a", "b"])
        .instance("i1", "a")
        .fence("a", FenceMethod::Manual);
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.feed(
        &mut e,
        Event::OperatorRequestedRecovery {
            host: h("a"),
            operator: "op".into(),
        },
    );
    w.feed_and_run(&mut e, confirm("a"), secs(600));
    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
    let again = e.handle(secs(601), confirm("a"));
    assert!(!marks_down(&again), "{:?}", shapes(&again));
    assert!(evacuations(&again).is_empty());
}

/// A confirmation alone, for a host nobody reported failed (here one whose agent
/// heartbeats), starts no recovery and evacuates nothing: it is alerted as ignored.
#[test]
fn a_confirmation_alone_for_a_healthy_host_evacuates_nothing() {
    let fx = Fixture::hosts(&["a", "b"])
        .instance("i1", "a")
        .fence("a", FenceMethod::Manual);
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.feed(&mut e, hb("a", &["b"]));
    w.feed_and_run(&mut e, confirm("a"), secs(600));
    assert!(evacuations(&w.commands()).is_empty());
    assert!(!marks_down(&w.commands()));
    assert!(recovery_ids(&w.commands()).is_empty());
    assert_eq!(phase(&e, "a"), None);
    assert_eq!(ignored_confirmations(&w.commands()), 1);
}

#[test]
fn a_confirmation_for_an_unknown_host_is_alerted_and_ignored() {
    let fx = Fixture::hosts(&["a", "b"]).instance("i1", "a");
    let (mut e, _) = fx.engine();
    let out = e.handle(secs(1), confirm("nowhere"));
    assert_eq!(shapes(&out).len(), 1, "{:?}", shapes(&out));
    assert!(matches!(&out[0], Command::RaiseAlert(a) if a.kind == AlertKind::UnknownSubject));
    assert_eq!(phase(&e, "nowhere"), None);
}

/// A manual host the detector judged failed waits in `Fencing`; the operator's
/// confirmation lets its recovery go on to the evacuation.
#[test]
fn a_confirmation_lets_a_recovery_the_detector_started_go_on() {
    let fx = Fixture::hosts(&["a", "b", "c"])
        .instance("i1", "a")
        .fence("a", FenceMethod::Manual);
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = World::new(&cluster);
    w.execute(start);
    // a is heard until 9 s; then neither the controller nor its peers hear it.
    for s in 0..=60 {
        w.advance_to(&mut e, secs(s));
        if s < 10 {
            w.feed(&mut e, hb("a", &["b", "c"]));
        }
        let reach: &[&str] = if s < 10 { &["a"] } else { &[] };
        w.feed(&mut e, hb("b", &[reach, &["c"]].concat()));
        w.feed(&mut e, hb("c", &[reach, &["b"]].concat()));
    }
    assert_eq!(phase(&e, "a"), Some(Phase::Fencing));
    assert!(evacuations(&w.commands()).is_empty());

    w.feed_and_run(&mut e, confirm("a"), secs(3600));
    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
    assert_eq!(ignored_confirmations(&w.commands()), 0);
}

/// Two confirmations of the same fence (two operators, or a retried request) lead to
/// one recovery, one mark-down and one evacuation; the second is alerted as ignored.
#[test]
fn a_confirmation_sent_twice_leads_to_one_recovery() {
    let fx = Fixture::hosts(&["a", "b"])
        .instance("i1", "a")
        .fence("a", FenceMethod::Manual);
    let cluster = fx.cluster.clone();
    let (mut e, _) = fx.engine();
    let mut w = World::new(&cluster);
    w.feed(&mut e, recover("a"));
    w.feed(&mut e, confirm("a"));
    w.feed(&mut e, confirm("a"));
    w.run(&mut e, secs(3600));
    // And once more after the evacuation.
    w.feed_and_run(&mut e, confirm("a"), secs(7200));

    let log = w.commands();
    assert_eq!(recovery_ids(&log).len(), 1);
    assert_eq!(mark_downs(&log), 1);
    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
    assert_eq!(ignored_confirmations(&log), 2);
}
