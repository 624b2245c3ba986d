//! The invariant checkers catch the violations they exist for, and stay quiet when
//! nothing is wrong: each is fed a crafted trace.

// Helpers outside #[test] functions too: a panic here is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lazarus_core::alert::{Alert, AlertKind, Severity};
use lazarus_core::model::{Capacity, Cluster, Host, Instance, Resources, Segment, VmState};
use lazarus_core::{HostName, InstanceId};
use lazarus_sim::history::{EvacuationCommand, History, PriorEvacuation, SourceTruth};
use lazarus_sim::invariants::{
    after_heal_every_protected_instance_runs_or_has_a_reason, every_evacuation_is_written_ahead,
    never_two_live_copies_of_an_instance, no_evacuation_of_an_unfenced_host,
    one_recovery_per_failure,
};
use lazarus_sim::world::{GuestState, World};

fn cluster() -> Cluster {
    let mut c = Cluster::new();
    c.upsert_segment(Segment::new("seg", "seg"));
    for h in ["a", "b", "c"] {
        c.upsert_host(Host::new(
            h,
            "seg",
            Capacity::with_default_ratios(8, 16_384, 100),
        ))
        .unwrap();
    }
    c.upsert_instance(Instance::new("vm1", "a", Resources::new(1, 1024, 10)))
        .unwrap();
    c
}

fn evacuation(source: SourceTruth, prior: Option<PriorEvacuation>) -> EvacuationCommand {
    EvacuationCommand {
        at_ms: 12_000,
        instance: InstanceId::from("vm1"),
        from: HostName::from("a"),
        to: HostName::from("b"),
        attempt: 1,
        source,
        prior,
        written_ahead: true,
    }
}

const LIVE: SourceTruth = SourceTruth {
    powered: true,
    os_up: true,
    guest_running: true,
    reset_since_failure: false,
};

#[test]
fn evacuating_from_a_host_that_is_on_and_up_is_caught() {
    let v = no_evacuation_of_an_unfenced_host(&evacuation(LIVE, None))
        .expect("a live source must be reported");
    assert_eq!(v.invariant, "no_evacuation_of_an_unfenced_host");
    assert_eq!(v.at_ms, 12_000);
    assert!(v.detail.contains("vm1") && v.detail.contains("guest still runs"));
}

#[test]
fn evacuating_from_a_host_that_is_off_crashed_or_reset_is_fine() {
    for source in [
        SourceTruth {
            powered: false,
            ..LIVE
        },
        SourceTruth {
            os_up: false,
            ..LIVE
        },
        SourceTruth {
            reset_since_failure: true,
            guest_running: false,
            ..LIVE
        },
    ] {
        assert_eq!(
            no_evacuation_of_an_unfenced_host(&evacuation(source, None)),
            None
        );
    }
}

#[test]
fn a_second_copy_of_a_running_instance_is_caught() {
    let c = cluster();
    let mut world = World::from_cluster(&c, |_| None);
    assert_eq!(never_two_live_copies_of_an_instance(&world, 1), None);
    world.hosts[1]
        .guests
        .insert(InstanceId::from("vm1"), GuestState::Running);
    let v = never_two_live_copies_of_an_instance(&world, 5).expect("two copies");
    assert!(
        v.detail.contains("vm1 runs on both a and b"),
        "{}",
        v.detail
    );
}

#[test]
fn a_copy_on_a_powered_off_host_does_not_count() {
    let c = cluster();
    let mut world = World::from_cluster(&c, |_| None);
    world.hosts[1]
        .guests
        .insert(InstanceId::from("vm1"), GuestState::Running);
    world.hosts[0].power_off(3);
    assert_eq!(never_two_live_copies_of_an_instance(&world, 5), None);
}

#[test]
fn evacuating_again_while_the_first_evacuation_runs_is_caught() {
    let prior = PriorEvacuation {
        source: HostName::from("a"),
        dest: Some(HostName::from("c")),
        in_progress: true,
        succeeded: false,
        dest_healthy: false,
    };
    let off = SourceTruth {
        powered: false,
        ..LIVE
    };
    let v = one_recovery_per_failure(&evacuation(off, Some(prior.clone()))).expect("double");
    assert!(v.detail.contains("still running"));

    let recovered = PriorEvacuation {
        in_progress: false,
        succeeded: true,
        dest_healthy: true,
        ..prior.clone()
    };
    assert!(one_recovery_per_failure(&evacuation(off, Some(recovered))).is_some());
}

#[test]
fn evacuating_again_after_a_failed_attempt_or_a_second_failure_is_fine() {
    let off = SourceTruth {
        powered: false,
        ..LIVE
    };
    let failed = PriorEvacuation {
        source: HostName::from("a"),
        dest: Some(HostName::from("c")),
        in_progress: false,
        succeeded: false,
        dest_healthy: false,
    };
    assert_eq!(one_recovery_per_failure(&evacuation(off, None)), None);
    assert_eq!(
        one_recovery_per_failure(&evacuation(off, Some(failed.clone()))),
        None
    );
    let dest_died = PriorEvacuation {
        succeeded: true,
        ..failed
    };
    assert_eq!(
        one_recovery_per_failure(&evacuation(off, Some(dest_died))),
        None
    );
}

#[test]
fn an_instance_left_dead_without_a_reason_is_caught_after_heal() {
    let c = cluster();
    let mut world = World::from_cluster(&c, |_| None);
    let history = History::default();
    assert!(
        after_heal_every_protected_instance_runs_or_has_a_reason(&c, &world, &history, 9)
            .is_empty()
    );
    world.hosts[0]
        .guests
        .insert(InstanceId::from("vm1"), GuestState::Shutoff);
    let v = after_heal_every_protected_instance_runs_or_has_a_reason(&c, &world, &history, 9);
    assert_eq!(v.len(), 1);
    assert!(
        v[0].detail.contains("vm1 is not running"),
        "{}",
        v[0].detail
    );
}

#[test]
fn a_recorded_reason_excuses_an_instance_that_does_not_run() {
    let c = cluster();
    let mut world = World::from_cluster(&c, |_| None);
    world.hosts[0]
        .guests
        .insert(InstanceId::from("vm1"), GuestState::Shutoff);
    let mut history = History::default();
    history.alerts.push((
        5,
        Alert::instance(
            Severity::Error,
            AlertKind::InstanceNotRecovered,
            &InstanceId::from("vm1"),
            Some(&HostName::from("a")),
            "no room",
        ),
    ));
    assert!(
        after_heal_every_protected_instance_runs_or_has_a_reason(&c, &world, &history, 9)
            .is_empty()
    );
}

#[test]
fn an_instance_in_error_is_caught_even_if_it_was_stopped() {
    let mut c = cluster();
    c.instance_mut(&InstanceId::from("vm1")).unwrap().vm_state = VmState::Stopped;
    let mut world = World::from_cluster(&c, |_| None);
    assert!(after_heal_every_protected_instance_runs_or_has_a_reason(
        &c,
        &world,
        &History::default(),
        9
    )
    .is_empty());
    world
        .nova
        .instances
        .get_mut(&InstanceId::from("vm1"))
        .unwrap()
        .vm_state = VmState::Error;
    let v = after_heal_every_protected_instance_runs_or_has_a_reason(
        &c,
        &world,
        &History::default(),
        9,
    );
    assert_eq!(v.len(), 1);
    assert!(v[0].detail.contains("ERROR"));
}

#[test]
fn an_evacuation_commanded_before_its_step_was_persisted_is_caught() {
    let off = SourceTruth {
        powered: false,
        ..LIVE
    };
    assert_eq!(
        every_evacuation_is_written_ahead(&evacuation(off, None)),
        None
    );
    let mut ev = evacuation(off, None);
    ev.written_ahead = false;
    let v = every_evacuation_is_written_ahead(&ev).expect("not written ahead");
    assert!(v.detail.contains("vm1"));
}
