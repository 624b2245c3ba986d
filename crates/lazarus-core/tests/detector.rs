//! The detector and the storm guard, as specifications.

mod common;

use common::world::World;
use common::*;
use lazarus_core::command::Command;
use lazarus_core::engine::Engine;
use lazarus_core::event::{Event, Heartbeat};
use lazarus_core::{AlertKind, HostHealth, Severity};

fn names(n: usize) -> Vec<String> {
    (0..n).map(|k| format!("h{k:02}")).collect()
}

/// Drives `seconds` of heartbeats: `heard(host, s)` says whether the controller hears
/// `host` at second `s`; `reaches(from, to, s)` whether `from`'s agent reaches `to`.
fn drive(
    w: &mut World,
    e: &mut Engine,
    hosts: &[String],
    from: u64,
    to: u64,
    heard: impl Fn(&str, u64) -> bool,
    reaches: impl Fn(&str, &str, u64) -> bool,
) {
    drive_with_ages(w, e, hosts, from, to, heard, |a, b, s| {
        reaches(a, b, s).then_some(0)
    });
}

/// Like [`drive`], but `reaches(from, to, s)` gives how many ms before the heartbeat
/// `to` last answered `from`'s probes (`None`: not reachable), as the agent reports it.
fn drive_with_ages(
    w: &mut World,
    e: &mut Engine,
    hosts: &[String],
    from: u64,
    to: u64,
    heard: impl Fn(&str, u64) -> bool,
    reaches: impl Fn(&str, &str, u64) -> Option<u64>,
) {
    for s in from..=to {
        w.advance_to(e, secs(s));
        for a in hosts {
            if !heard(a, s) {
                continue;
            }
            let mut beat = Heartbeat::healthy(a.as_str());
            for b in hosts.iter().filter(|b| *b != a) {
                if let Some(age) = reaches(a, b, s) {
                    beat.reachable_peers.insert(h(b));
                    beat.peer_ages.insert(h(b), d(age));
                }
            }
            w.feed(e, Event::HeartbeatReceived(beat));
        }
    }
}

fn count(log: &[Command], kind: AlertKind) -> usize {
    log.iter()
        .filter(|c| matches!(c, Command::RaiseAlert(a) if a.kind == kind))
        .count()
}

fn fenced_or_evacuated(log: &[Command]) -> bool {
    log.iter().any(|c| {
        matches!(
            c,
            Command::FenceHost { .. }
                | Command::MarkHostDown { .. }
                | Command::EvacuateInstance { .. }
        )
    })
}

/// Four hosts h00..h03, one instance on h00, the engine started and its first
/// commands executed.
fn four_hosts() -> (Vec<String>, Engine, World) {
    let hosts = names(4);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let fx = Fixture::hosts(&refs).instance("i1", "h00");
    let cluster = fx.cluster.clone();
    let (e, start) = fx.engine();
    let mut w = World::new(&cluster);
    w.execute(start);
    (hosts, e, w)
}

/// h00 is judged partitioned, nothing was fenced or evacuated, no recovery runs, and
/// the partition was alerted once.
fn assert_partitioned_and_left_alone(e: &Engine, w: &World) {
    assert_eq!(e.host_health(&h("h00")), Some(HostHealth::Partitioned));
    let log = w.commands();
    assert!(
        !fenced_or_evacuated(&log),
        "a partitioned host was acted on"
    );
    assert!(e.recovery(&h("h00")).is_none());
    assert_eq!(count(&log, AlertKind::HostPartitioned), 1);
}

#[test]
fn a_partitioned_host_is_never_fenced() {
    let (hosts, mut e, mut w) = four_hosts();
    // From 10 s the controller no longer hears h00, but every peer still reaches it.
    drive(
        &mut w,
        &mut e,
        &hosts,
        0,
        600,
        |a, s| a != "h00" || s < 10,
        |_, _, _| true,
    );

    assert_partitioned_and_left_alone(&e, &w);
}

#[test]
fn a_host_nobody_hears_is_judged_failed_and_fenced() {
    // The control for the test above: the same silence, but the peers lose it too.
    let (hosts, mut e, mut w) = four_hosts();
    drive(
        &mut w,
        &mut e,
        &hosts,
        0,
        60,
        |a, s| a != "h00" || s < 10,
        |_, b, s| b != "h00" || s < 10,
    );
    let log = w.commands();
    let fence_at = w
        .log
        .iter()
        .find(|(_, c)| matches!(c, Command::FenceHost { .. }))
        .map(|(at, _)| *at)
        .expect("fenced");
    // Last heard at 9 s; failed after 3 missed heartbeats, judged on a 500 ms tick.
    assert!(
        fence_at >= secs(12) && fence_at <= secs(13),
        "fenced at {fence_at}"
    );
    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
    assert_eq!(count(&log, AlertKind::HostFailed), 1);
}

#[test]
fn a_peer_report_counts_from_when_the_peer_last_heard_the_host_not_from_its_arrival() {
    // h00 is last heard at 9 s and last answers its peers' probes at 9.5 s; the peers
    // keep listing it for their reachable window, saying how long ago it answered.
    let (hosts, mut e, mut w) = four_hosts();
    drive_with_ages(
        &mut w,
        &mut e,
        &hosts,
        0,
        60,
        |a, s| a != "h00" || s < 10,
        |_, b, s| match (b, s) {
            ("h00", 0..=9) => Some(0),
            // 0.5, 1.5 and 2.5 s ago: the answer of 9.5 s.
            ("h00", 10..=12) => Some(s * 1000 - 9_500),
            ("h00", _) => None,
            _ => Some(0),
        },
    );
    let fence_at = w
        .log
        .iter()
        .find(|(_, c)| matches!(c, Command::FenceHost { .. }))
        .map(|(at, _)| *at)
        .expect("fenced");
    // The report of 12 s (age 2.5 s) keeps it partitioned only until its last answer
    // plus the peer window of 4 s (13.5 s), not for 4 s after it arrived (16 s).
    assert_eq!(fence_at, t(13_500), "fenced at {fence_at}");
    assert_eq!(w.evacuated.get(&i("i1")), Some(&1));
    assert_eq!(count(&w.commands(), AlertKind::HostFailed), 1);
}

#[test]
fn a_host_its_peers_reached_moments_ago_stays_partitioned() {
    // The controller no longer hears h00 from 10 s; its peers still reach it, each
    // answer up to 1.9 s old when reported (a probe lost now and then, the probe and
    // heartbeat timers out of phase): the evidence is recent, it is never fenced.
    let (hosts, mut e, mut w) = four_hosts();
    drive_with_ages(
        &mut w,
        &mut e,
        &hosts,
        0,
        600,
        |a, s| a != "h00" || s < 10,
        |_, _, s| Some([100, 900, 1_900][(s % 3) as usize]),
    );
    assert_partitioned_and_left_alone(&e, &w);
}

#[test]
fn an_old_report_arriving_late_does_not_move_a_newer_sighting_back() {
    // h01 reports h00 fresh at 11 s; h02's report of the same second says it last
    // heard h00 2.9 s ago. The fresher sighting holds: partitioned, not failed.
    let (hosts, mut e, mut w) = four_hosts();
    drive_with_ages(
        &mut w,
        &mut e,
        &hosts,
        0,
        13,
        |a, s| a != "h00" || s < 10,
        |a, b, s| match (a, b) {
            ("h01", "h00") => Some(0),
            ("h02", "h00") if s >= 10 => Some(2_900),
            _ => Some(0),
        },
    );
    assert_eq!(e.host_health(&h("h00")), Some(HostHealth::Partitioned));
    assert!(!fenced_or_evacuated(&w.commands()));
}

#[test]
fn a_host_without_an_agent_is_not_judged_by_heartbeats() {
    let (hosts, mut e, mut w) = four_hosts();
    drive(
        &mut w,
        &mut e,
        &hosts,
        0,
        120,
        |a, _| a != "h00",
        |_, b, _| b != "h00",
    );
    assert_eq!(e.host_health(&h("h00")), Some(HostHealth::Unmonitored));
    assert!(!fenced_or_evacuated(&w.commands()));
}

#[test]
fn the_storm_guard_holds_back_mass_fencing() {
    let hosts = names(10);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let mut fx = Fixture::hosts(&refs);
    for (k, host) in refs.iter().enumerate() {
        fx = fx.instance(&format!("i{k}"), host);
    }
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = World::new(&cluster);
    w.execute(start);
    // At 10 s the controller loses 7 of 10 hosts at once (it is the one cut off):
    // the three it still hears cannot reach the others either.
    let cut = |a: &str| a >= "h03";
    drive(
        &mut w,
        &mut e,
        &hosts,
        0,
        300,
        |a, s| s < 10 || !cut(a),
        |_, b, s| s < 10 || !cut(b),
    );
    let log = w.commands();
    assert!(e.storm_engaged());
    assert!(!fenced_or_evacuated(&log), "acted during a storm");
    assert_eq!(
        count(&log, AlertKind::StormGuardEngaged),
        1,
        "one alert, not one per tick"
    );
    let critical = log.iter().any(|c| {
        matches!(c, Command::RaiseAlert(a) if a.kind == AlertKind::StormGuardEngaged && a.severity == Severity::Critical)
    });
    assert!(critical);

    // The cut heals: judgement resumes, and nobody was fenced.
    drive(
        &mut w,
        &mut e,
        &hosts,
        301,
        330,
        |_, _| true,
        |_, _, _| true,
    );
    assert!(!e.storm_engaged());
    assert_eq!(count(&w.commands(), AlertKind::StormGuardReleased), 1);
    assert!(!fenced_or_evacuated(&w.commands()));
    assert_eq!(e.host_health(&h("h05")), Some(HostHealth::Up));
}

#[test]
fn the_fence_cap_holds_back_more_failures_than_it_allows() {
    // 20 hosts, 6 die together: 30 % is not above the storm share, but 6 fences
    // exceed the cap of 5 per window, so none is fenced.
    let hosts = names(20);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let fx = Fixture::hosts(&refs);
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = World::new(&cluster);
    w.execute(start);
    let dead = |a: &str| a < "h06";
    drive(
        &mut w,
        &mut e,
        &hosts,
        0,
        120,
        |a, s| s < 10 || !dead(a),
        |_, b, s| s < 10 || !dead(b),
    );
    let log = w.commands();
    assert!(!e.storm_engaged());
    assert!(!fenced_or_evacuated(&log));
    assert_eq!(count(&log, AlertKind::FenceCapReached), 1);
    assert_eq!(e.recoveries().count(), 0);
}

#[test]
fn failures_within_the_cap_are_all_fenced() {
    // The control: 5 of 20 die together, within the cap.
    let hosts = names(20);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let fx = Fixture::hosts(&refs);
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = World::new(&cluster);
    w.execute(start);
    let dead = |a: &str| a < "h05";
    drive(
        &mut w,
        &mut e,
        &hosts,
        0,
        120,
        |a, s| s < 10 || !dead(a),
        |_, b, s| s < 10 || !dead(b),
    );
    let fences = w
        .commands()
        .iter()
        .filter(|c| matches!(c, Command::FenceHost { attempt: 1, .. }))
        .count();
    assert_eq!(fences, 5);
}

#[test]
fn a_silent_host_whose_bmc_says_on_is_isolated_and_fenced() {
    let (hosts, mut e, mut w) = four_hosts();
    drive(
        &mut w,
        &mut e,
        &hosts,
        0,
        11,
        |a, s| a != "h00" || s < 10,
        |_, b, s| b != "h00" || s < 10,
    );
    // The suspect read (answered by the world's BMC: on) is evidence of isolation.
    assert!(w
        .commands()
        .iter()
        .any(|c| matches!(c, Command::ReadPowerState { host } if host.as_str() == "h00")));
    let judged = w.commands().iter().any(|c| {
        matches!(c, Command::RaiseAlert(a) if a.kind == AlertKind::HostFailed && a.message.contains("Isolated"))
    });
    assert!(!judged, "not yet: 3 s have not passed");
    drive(
        &mut w,
        &mut e,
        &hosts,
        12,
        20,
        |a, _| a != "h00",
        |_, b, _| b != "h00",
    );
    let judged = w.commands().iter().any(|c| {
        matches!(c, Command::RaiseAlert(a) if a.kind == AlertKind::HostFailed && a.message.contains("Isolated"))
    });
    assert!(judged, "judged isolated");
    assert!(w
        .commands()
        .iter()
        .any(|c| matches!(c, Command::FenceHost { host, .. } if host.as_str() == "h00")));
}

#[test]
fn a_host_that_died_while_no_controller_watched_is_found_once_its_agent_is_expected() {
    let hosts = names(4);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let fx = Fixture::hosts(&refs).instance("i1", "h00");
    let cluster = fx.cluster.clone();
    let config = fx.config.clone();
    // A new controller starts at 25 s; h00 died at 20 s, before it heard anything.
    for expect in [false, true] {
        let mut e = Engine::new(config.clone(), cluster.clone());
        let mut w = World::new(&cluster);
        w.now = secs(25);
        let start = e.resume(w.now, Vec::<lazarus_core::Record>::new());
        if expect {
            e.expect_agents(w.now, cluster.hosts().map(|h| h.name.clone()));
        }
        w.execute(start);
        drive(
            &mut w,
            &mut e,
            &hosts,
            25,
            60,
            |a, _| a != "h00",
            |_, b, _| b != "h00",
        );
        let fenced = w
            .commands()
            .iter()
            .any(|c| matches!(c, Command::FenceHost { host, .. } if host.as_str() == "h00"));
        assert_eq!(fenced, expect, "expect_agents={expect}");
    }
}

#[test]
fn a_failed_host_of_a_disabled_segment_is_reported_once_and_not_fenced() {
    let hosts = names(4);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let mut fx = Fixture::hosts(&refs).instance("i1", "h00");
    let mut seg = fx.cluster.segment(&"seg".into()).unwrap().clone();
    seg.enabled = false;
    fx.cluster.upsert_segment(seg);
    let cluster = fx.cluster.clone();
    let (mut e, start) = fx.engine();
    let mut w = World::new(&cluster);
    w.execute(start);
    drive(
        &mut w,
        &mut e,
        &hosts,
        0,
        60,
        |a, s| a != "h00" || s < 10,
        |_, b, s| b != "h00" || s < 10,
    );
    let log = w.commands();
    assert!(!fenced_or_evacuated(&log));
    assert_eq!(count(&log, AlertKind::InstanceNotRecovered), 1);
    assert_eq!(count(&log, AlertKind::HostFailed), 0);
}
