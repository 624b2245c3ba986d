//! The planner's rules, one test each.

use std::collections::{BTreeMap, BTreeSet};

use super::fixtures::{exact, hosts, ids, reasons, res, targets, ClusterBuilder};
use super::{plan, what_if, PlanRequest, UnplacedReason};
use crate::model::{Capacity, GroupPolicy, Inventory, RecoveryMethod, RestartPriority, VmState};
use crate::{HostName, InstanceId};

use RecoveryMethod::{Auto, AutoPriority, ReservedHost, RhPriority};
use RestartPriority::{High, Highest, Low, Lowest, Medium};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// One segment: `dead` plus the given ordinary hosts of 16 VCPU / 16 GiB / 1 TB.
fn segment(method: RecoveryMethod, names: &[&str]) -> ClusterBuilder {
    ClusterBuilder::new()
        .segment("s", method)
        .hosts("s", &["dead"], exact(16, 16384, 1000))
        .hosts("s", names, exact(16, 16384, 1000))
}

#[test]
fn highest_priority_is_placed_first_when_capacity_is_short() {
    let cluster = ClusterBuilder::new()
        .segment("s", Auto)
        .hosts("s", &["dead"], exact(16, 16384, 1000))
        .hosts("s", &["t"], exact(16, 8192, 1000))
        .instance_with("a-low", "dead", res(1, 4096, 10), |i| i.priority = Low)
        .instance_with("b-highest", "dead", res(1, 4096, 10), |i| {
            i.priority = Highest
        })
        .instance_with("c-medium", "dead", res(1, 4096, 10), |i| {
            i.priority = Medium
        })
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert_eq!(targets(&p), pairs(&[("b-highest", "t"), ("c-medium", "t")]));
    assert_eq!(
        reasons(&p)["a-low"],
        UnplacedReason::NoCapacity {
            needed: res(1, 4096, 10),
            largest_free: res(14, 0, 980),
        }
    );
}

#[test]
fn larger_instances_go_first_within_a_priority() {
    let cluster = segment(Auto, &["t"])
        .instance("small", "dead", res(1, 1024, 10))
        .instance("big", "dead", res(1, 8192, 10))
        .instance("mid", "dead", res(1, 4096, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    let order: Vec<&str> = p.placements.iter().map(|p| p.instance.as_str()).collect();
    assert_eq!(order, vec!["big", "mid", "small"]);
}

#[test]
fn reserved_host_method_uses_only_reserved_hosts() {
    let cluster = segment(ReservedHost, &["roomy"])
        .reserved_host("r", "s", exact(16, 4096, 1000))
        .instance("i1", "dead", res(1, 4096, 10))
        .instance("i2", "dead", res(1, 2048, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert_eq!(targets(&p), pairs(&[("i1", "r")]));
    assert!(matches!(
        reasons(&p)["i2"],
        UnplacedReason::NoCapacity { .. }
    ));
}

#[test]
fn reserved_host_method_without_a_healthy_reserved_host_says_so() {
    let cluster = segment(ReservedHost, &["roomy"])
        .reserved_host("r", "s", exact(16, 4096, 1000))
        .instance("i1", "dead", res(1, 1024, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])).with_unavailable(&hosts(["r"])));
    assert_eq!(
        reasons(&p)["i1"],
        UnplacedReason::NoReservedHost("s".into())
    );
}

#[test]
fn auto_never_uses_reserved_hosts() {
    let cluster = segment(Auto, &["small"])
        .usage("small", res(0, 15360, 0))
        .reserved_host("r", "s", exact(64, 65536, 1000))
        .instance("i1", "dead", res(1, 2048, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert!(p.placements.is_empty());
    assert_eq!(
        reasons(&p)["i1"],
        UnplacedReason::NoCapacity {
            needed: res(1, 2048, 10),
            largest_free: res(16, 1024, 1000),
        }
    );
}

#[test]
fn auto_priority_falls_back_to_reserved_hosts() {
    let cluster = segment(AutoPriority, &["t"])
        .usage("t", res(0, 12288, 0))
        .reserved_host("r", "s", exact(16, 16384, 1000))
        .instance("i1", "dead", res(1, 4096, 10))
        .instance("i2", "dead", res(1, 2048, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert_eq!(targets(&p), pairs(&[("i1", "t"), ("i2", "r")]));
}

#[test]
fn rh_priority_fills_reserved_hosts_before_ordinary_ones() {
    let cluster = segment(RhPriority, &["t"])
        .reserved_host("r", "s", exact(16, 4096, 1000))
        .instance("i1", "dead", res(1, 4096, 10))
        .instance("i2", "dead", res(1, 2048, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert_eq!(targets(&p), pairs(&[("i1", "r"), ("i2", "t")]));
}

#[test]
fn spreads_to_the_host_with_most_free_memory_ties_by_name() {
    let cluster = segment(Auto, &["a", "b", "c"])
        .usage("a", res(0, 8192, 0))
        .instance("i1", "dead", res(1, 4096, 10))
        .instance("i2", "dead", res(1, 4096, 10))
        .instance("i3", "dead", res(1, 4096, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    // b and c tie at 16 GiB free (b first by name); then c has more than b.
    assert_eq!(targets(&p), pairs(&[("i1", "b"), ("i2", "c"), ("i3", "b")]));
}

#[test]
fn az_pinning_is_respected_and_reported() {
    let cluster = ClusterBuilder::new()
        .segment("s", Auto)
        .hosts("s", &["dead"], exact(16, 16384, 1000))
        .host_with("in-az1", "s", exact(16, 4096, 1000), |h| {
            h.availability_zone = "az1".into()
        })
        .host_with("roomy-az2", "s", exact(64, 65536, 1000), |h| {
            h.availability_zone = "az2".into()
        })
        .instance_with("pinned", "dead", res(1, 2048, 10), |i| {
            i.pinned_az = Some("az1".into())
        })
        .instance_with("lost", "dead", res(1, 2048, 10), |i| {
            i.pinned_az = Some("az3".into())
        })
        .instance("free", "dead", res(1, 2048, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    let t: BTreeMap<String, String> = targets(&p).into_iter().collect();
    assert_eq!(t["pinned"], "in-az1");
    assert_eq!(t["free"], "roomy-az2");
    assert_eq!(
        reasons(&p)["lost"],
        UnplacedReason::NoHostInPinnedAz("az3".into())
    );
}

#[test]
fn hard_anti_affinity_never_colocates_members() {
    let cluster = segment(Auto, &["t1", "t2", "t3"])
        .group("g", GroupPolicy::AntiAffinity)
        .instance_with("m-survivor", "t1", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("m1", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("m2", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("m3", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    let used: Vec<&str> = p.placements.iter().map(|p| p.to.as_str()).collect();
    assert_eq!(used.len(), 2);
    assert!(!used.contains(&"t1"), "t1 holds a surviving member");
    assert_ne!(used[0], used[1]);
    assert_eq!(
        reasons(&p)["m3"],
        UnplacedReason::AntiAffinityExhausted {
            group: "g".into(),
            hosts_excluded: 3,
        }
    );
}

#[test]
fn hard_affinity_follows_the_surviving_members() {
    let cluster = segment(Auto, &["roomy", "t2"])
        .usage("t2", res(0, 8192, 0))
        .group("g", GroupPolicy::Affinity)
        .instance_with("survivor", "t2", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("a1", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("a2", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into());
            i.priority = Lowest;
        })
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    let t: BTreeMap<String, String> = targets(&p).into_iter().collect();
    assert_eq!(t["a1"], "t2");
    assert_eq!(t["a2"], "t2");
}

#[test]
fn hard_affinity_places_the_whole_group_on_one_host_or_reports_it() {
    let together = segment(Auto, &["half-a", "half-b", "whole"])
        .usage("half-a", res(0, 12288, 0))
        .usage("half-b", res(0, 12288, 0))
        .usage("whole", res(0, 8192, 0))
        .group("g", GroupPolicy::Affinity)
        .instance_with("a1", "dead", res(1, 4096, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("a2", "dead", res(1, 4096, 10), |i| {
            i.server_group = Some("g".into())
        })
        .build();
    let p = plan(&PlanRequest::new(&together, &hosts(["dead"])));
    assert_eq!(targets(&p), pairs(&[("a1", "whole"), ("a2", "whole")]));

    let mut apart = together.clone();
    apart.host_mut(&"whole".into()).unwrap().usage = res(0, 12288, 0);
    let p = plan(&PlanRequest::new(&apart, &hosts(["dead"])));
    assert!(p.placements.is_empty(), "no member placed alone");
    let expected = UnplacedReason::AffinityGroupDoesNotFit {
        group: "g".into(),
        members: 2,
        needed: res(2, 8192, 20),
    };
    assert_eq!(reasons(&p)["a1"], expected);
    assert_eq!(reasons(&p)["a2"], expected);
}

#[test]
fn hard_affinity_reports_a_full_or_unusable_anchor_host() {
    let cluster = segment(Auto, &["roomy", "anchor"])
        .usage("anchor", res(0, 16000, 0))
        .group("g", GroupPolicy::Affinity)
        .instance_with("survivor", "anchor", res(1, 100, 1), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("a1", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert!(matches!(
        reasons(&p)["a1"],
        UnplacedReason::AffinityHostFull { .. }
    ));
    let p =
        plan(&PlanRequest::new(&cluster, &hosts(["dead"])).with_unavailable(&hosts(["anchor"])));
    assert_eq!(
        reasons(&p)["a1"],
        UnplacedReason::AffinityHostNotAllowed {
            group: "g".into(),
            host: "anchor".into()
        }
    );
}

#[test]
fn soft_anti_affinity_prefers_a_host_without_members() {
    let cluster = segment(Auto, &["roomy", "small"])
        .usage("small", res(0, 8192, 0))
        .group("g", GroupPolicy::SoftAntiAffinity)
        .instance_with("survivor", "roomy", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("m1", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("m2", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    // m1 avoids roomy's member; m2 then finds one member on each and takes the roomier.
    assert_eq!(targets(&p), pairs(&[("m1", "small"), ("m2", "roomy")]));
}

#[test]
fn soft_affinity_prefers_a_host_with_members() {
    let cluster = segment(Auto, &["roomy", "small"])
        .usage("small", res(0, 8192, 0))
        .group("g", GroupPolicy::SoftAffinity)
        .instance_with("survivor", "small", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("m1", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into())
        })
        .instance_with("too-big", "dead", res(1, 12288, 10), |i| {
            i.server_group = Some("g".into())
        })
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    let t: BTreeMap<String, String> = targets(&p).into_iter().collect();
    assert_eq!(t["m1"], "small");
    assert_eq!(t["too-big"], "roomy", "a preference, not a rule");
}

#[test]
fn overcommit_ratios_are_honoured() {
    let overcommitted = Capacity {
        vcpu: Inventory {
            total: 4,
            reserved: 0,
            allocation_ratio: 4.0,
        },
        memory_mb: Inventory {
            total: 8192,
            reserved: 2048,
            allocation_ratio: 1.5,
        },
        disk_gb: Inventory::exact(1000),
    };
    // 16 VCPU and 9216 MB allocatable.
    let cluster = ClusterBuilder::new()
        .segment("s", Auto)
        .hosts("s", &["dead"], exact(64, 65536, 1000))
        .hosts("s", &["t"], overcommitted)
        .instance("a", "dead", res(12, 8192, 10))
        .instance("b", "dead", res(4, 1024, 10))
        .instance("c", "dead", res(1, 1, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert_eq!(targets(&p), pairs(&[("a", "t"), ("b", "t")]));
    assert_eq!(
        reasons(&p)["c"],
        UnplacedReason::NoCapacity {
            needed: res(1, 1, 10),
            largest_free: res(0, 0, 980),
        }
    );
}

#[test]
fn hosts_already_tried_are_avoided() {
    let cluster = segment(Auto, &["t1", "t2"])
        .usage("t2", res(0, 4096, 0))
        .instance("i", "dead", res(1, 1024, 10))
        .build();
    let mut avoid: BTreeMap<InstanceId, BTreeSet<HostName>> = BTreeMap::new();
    avoid.insert("i".into(), hosts(["t1"]));
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])).with_avoid(&avoid));
    assert_eq!(targets(&p), pairs(&[("i", "t2")]));

    avoid.insert("i".into(), hosts(["t1", "t2"]));
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])).with_avoid(&avoid));
    assert_eq!(
        reasons(&p)["i"],
        UnplacedReason::AllCandidatesTried { tried: 2 }
    );
}

#[test]
fn in_flight_claims_are_counted() {
    let cluster = segment(Auto, &["t1", "t2"])
        .usage("t2", res(0, 4096, 0))
        .instance("i", "dead", res(1, 4096, 10))
        .build();
    let mut in_flight = BTreeMap::new();
    in_flight.insert(HostName::from("t1"), res(0, 14336, 0));
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])).with_in_flight(&in_flight));
    assert_eq!(targets(&p), pairs(&[("i", "t2")]));

    in_flight.insert(HostName::from("t2"), res(0, 10240, 0));
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])).with_in_flight(&in_flight));
    assert!(matches!(
        reasons(&p)["i"],
        UnplacedReason::NoCapacity { .. }
    ));
}

#[test]
fn failed_unavailable_maintenance_and_foreign_hosts_receive_nothing() {
    let cluster = ClusterBuilder::new()
        .segment("s", Auto)
        .segment("other", Auto)
        .hosts(
            "s",
            &["dead", "dead2", "suspect", "ok"],
            exact(16, 16384, 1000),
        )
        .host_with("maint", "s", exact(64, 65536, 1000), |h| {
            h.on_maintenance = true
        })
        .hosts("other", &["foreign"], exact(64, 65536, 1000))
        .usage("ok", res(0, 15360, 0))
        .instance("i1", "dead", res(1, 1024, 10))
        .instance("i2", "dead", res(1, 1024, 10))
        .build();
    let p = plan(
        &PlanRequest::new(&cluster, &hosts(["dead", "dead2"]))
            .with_unavailable(&hosts(["suspect"])),
    );
    assert_eq!(targets(&p), pairs(&[("i1", "ok")]));
    assert!(matches!(
        reasons(&p)["i2"],
        UnplacedReason::NoCapacity { .. }
    ));
}

#[test]
fn a_segment_with_no_healthy_host_says_so() {
    let cluster = segment(Auto, &["t"])
        .instance("i", "dead", res(1, 1024, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead", "t"])));
    assert_eq!(reasons(&p)["i"], UnplacedReason::NoTargetHost("s".into()));
}

#[test]
fn unprotected_instances_are_skipped_unless_named() {
    let cluster = segment(Auto, &["t"])
        .instance_with("off", "dead", res(1, 1024, 10), |i| {
            i.priority = RestartPriority::Disabled
        })
        .instance("on", "dead", res(1, 1024, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert_eq!(targets(&p), pairs(&[("on", "t")]));
    assert!(p.unplaced.is_empty());

    let only = ids(["off"]);
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])).with_only(&only));
    assert!(p.placements.is_empty());
    assert_eq!(reasons(&p)["off"], UnplacedReason::NotProtected);
}

#[test]
fn only_restricts_the_plan_and_flags_instances_not_on_failed_hosts() {
    let cluster = segment(Auto, &["t"])
        .instance("a", "dead", res(1, 1024, 10))
        .instance("b", "dead", res(1, 1024, 10))
        .instance("elsewhere", "t", res(1, 1024, 10))
        .build();
    let only = ids(["b", "elsewhere"]);
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])).with_only(&only));
    assert_eq!(targets(&p), pairs(&[("b", "t")]));
    assert_eq!(
        reasons(&p)["elsewhere"],
        UnplacedReason::NotOnFailedHost("t".into())
    );
}

#[test]
fn non_evacuable_states_and_disabled_segments_are_reported() {
    let cluster = ClusterBuilder::new()
        .segment("s", Auto)
        .segment_with("off", Auto, |s| s.enabled = false)
        .hosts("s", &["dead", "t"], exact(16, 16384, 1000))
        .hosts("off", &["dead-off", "t-off"], exact(16, 16384, 1000))
        .instance_with("paused", "dead", res(1, 1024, 10), |i| {
            i.vm_state = VmState::Paused
        })
        .instance_with("stopped", "dead", res(1, 1024, 10), |i| {
            i.vm_state = VmState::Stopped
        })
        .instance("in-off", "dead-off", res(1, 1024, 10))
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead", "dead-off"])));
    assert_eq!(targets(&p), pairs(&[("stopped", "t")]));
    assert_eq!(
        reasons(&p)["paused"],
        UnplacedReason::NotEvacuable(VmState::Paused)
    );
    assert_eq!(
        reasons(&p)["in-off"],
        UnplacedReason::SegmentDisabled("off".into())
    );
}

#[test]
fn the_same_input_gives_the_same_plan() {
    let mut b = ClusterBuilder::new()
        .segment("s", AutoPriority)
        .group("anti", GroupPolicy::AntiAffinity)
        .group("soft", GroupPolicy::SoftAntiAffinity);
    for h in 0..12 {
        let name = format!("h{h:02}");
        b = b.host_with(&name, "s", exact(32, 32768, 1000), |host| {
            host.reserved = h % 5 == 4;
            host.availability_zone = format!("az{}", h % 2);
        });
    }
    for i in 0..60 {
        let host = format!("h{:02}", i % 3);
        b = b.instance_with(
            &format!("i{i:03}"),
            &host,
            res(1 + i % 4, 512 * (1 + i % 7), 10),
            |inst| {
                inst.priority = [Lowest, Low, Medium, High, Highest][(i % 5) as usize];
                inst.server_group = match i % 6 {
                    0 => Some("anti".into()),
                    1 => Some("soft".into()),
                    _ => None,
                };
            },
        );
    }
    let cluster = b.build();
    let failed = hosts(["h00", "h01"]);
    let first = plan(&PlanRequest::new(&cluster, &failed));
    let again = plan(&PlanRequest::new(&cluster.clone(), &failed));
    assert!(!first.placements.is_empty());
    assert_eq!(first, again);
}

#[test]
fn placements_come_in_waves_highest_priority_first() {
    let cluster = segment(Auto, &["t"])
        .instance_with("l", "dead", res(1, 1024, 10), |i| i.priority = Low)
        .instance_with("h1", "dead", res(1, 1024, 10), |i| i.priority = High)
        .instance_with("h2", "dead", res(1, 2048, 10), |i| i.priority = High)
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    let waves: Vec<(RestartPriority, Vec<&str>)> = p
        .waves()
        .into_iter()
        .map(|w| {
            (
                w.priority,
                w.placements.iter().map(|p| p.instance.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(waves, vec![(High, vec!["h2", "h1"]), (Low, vec!["l"])]);
}

#[test]
fn what_if_tells_which_protected_instances_would_not_come_back() {
    let cluster = segment(Auto, &["t"])
        .usage("t", res(0, 14336, 0))
        .instance_with("fits", "dead", res(1, 2048, 10), |i| i.priority = High)
        .instance("no-room", "dead", res(1, 2048, 10))
        .instance_with("unprotected", "dead", res(1, 2048, 10), |i| {
            i.priority = RestartPriority::Disabled
        })
        .build();
    let p = what_if(&cluster, &hosts(["dead"]));
    assert_eq!(targets(&p), pairs(&[("fits", "t")]));
    assert_eq!(
        p.unplaced
            .iter()
            .map(|u| u.instance.as_str())
            .collect::<Vec<_>>(),
        vec!["no-room"]
    );
    assert_eq!(
        p.summary().to_string(),
        "placed 1 of 2 instances; unplaced: no_capacity 1"
    );
    // The cluster itself is untouched: a what-if moves nothing.
    assert_eq!(cluster.instances_on(&"dead".into()).count(), 3);
}

#[test]
fn a_hard_affinity_group_is_placed_at_its_highest_members_priority() {
    let cluster = segment(Auto, &["t"])
        .usage("t", res(0, 13312, 0))
        .group("g", GroupPolicy::Affinity)
        .instance_with("g-high", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into());
            i.priority = Highest;
        })
        .instance_with("g-low", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into());
            i.priority = Lowest;
        })
        .instance_with("medium", "dead", res(1, 2048, 10), |i| i.priority = Medium)
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    // The group (2 GiB together) goes first; the medium instance finds 1 GiB left.
    assert_eq!(targets(&p), pairs(&[("g-high", "t"), ("g-low", "t")]));
    assert!(matches!(
        reasons(&p)["medium"],
        UnplacedReason::NoCapacity { .. }
    ));
    // Each placement keeps its own priority, so the waves stay truthful.
    assert_eq!(p.waves().len(), 2);
}

#[test]
fn a_hard_affinity_group_pinned_to_two_zones_is_reported() {
    let cluster = segment(Auto, &["t"])
        .group("g", GroupPolicy::Affinity)
        .instance_with("a", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into());
            i.pinned_az = Some("nova".into());
        })
        .instance_with("b", "dead", res(1, 1024, 10), |i| {
            i.server_group = Some("g".into());
            i.pinned_az = Some("az2".into());
        })
        .build();
    let p = plan(&PlanRequest::new(&cluster, &hosts(["dead"])));
    assert!(p.placements.is_empty());
    assert_eq!(
        reasons(&p)["b"],
        UnplacedReason::AffinityGroupSpansAzs("g".into())
    );
}
