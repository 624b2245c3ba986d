//! The faults a seed injects, and when.

use lazarus_core::InstanceId;

use crate::config::SimConfig;
use crate::rng::SimRng;
use crate::world::{BmcFault, PartitionKind};

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The host's OS crashes (kernel panic, hang): guests die, power stays on, the BMC
    /// still answers. It reboots by itself after `reboot_after_ms`, if given.
    HostCrash {
        /// The host.
        host: usize,
        /// Automatic reboot delay, if it reboots at all.
        reboot_after_ms: Option<u64>,
    },
    /// The chassis loses power, BMC included: off, and its BMC mute until healed.
    PowerLoss {
        /// The host.
        host: usize,
    },
    /// A network partition around one host.
    Partition {
        /// The host.
        host: usize,
        /// What is cut.
        kind: PartitionKind,
        /// How long it lasts.
        duration_ms: u64,
    },
    /// A rack partition: these hosts (of one segment) lose the controller, Nova and
    /// every other host together, but still reach one another. Holding a strict
    /// majority of their segment, they keep feeding their watchdogs.
    RackPartition {
        /// The hosts of the rack.
        hosts: Vec<usize>,
        /// How long it lasts.
        duration_ms: u64,
    },
    /// The controller is cut from every host (its own network fails): the storm guard
    /// must hold it back.
    ControllerIsolated {
        /// How long it lasts.
        duration_ms: u64,
    },
    /// A BMC misbehaves for a while.
    Bmc {
        /// The host.
        host: usize,
        /// How.
        fault: BmcFault,
        /// How long.
        duration_ms: u64,
    },
    /// Nova answers with 5xx errors and timeouts for a while.
    NovaErrors {
        /// How long.
        duration_ms: u64,
    },
    /// The controller crashes right after its `after_persists`-th next write (0: at
    /// once; if no write comes within a minute, it crashes then), and a new one
    /// resumes from the store `down_ms` later.
    ControllerCrash {
        /// Writes to let through before crashing.
        after_persists: u32,
        /// How long until the new controller starts.
        down_ms: u64,
    },
    /// nova-compute dies on a live host, and cannot be restarted for a while.
    ComputeDeath {
        /// The host.
        host: usize,
        /// How long it stays unrestartable.
        duration_ms: u64,
    },
    /// One guest crashes on its live host.
    GuestCrash {
        /// The instance.
        instance: InstanceId,
    },
}

/// A fault and when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledFault {
    /// Start time, in virtual milliseconds.
    pub at_ms: u64,
    /// The fault.
    pub fault: Fault,
}

/// Every fault of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// The faults, in any order.
    pub faults: Vec<ScheduledFault>,
}

impl FaultPlan {
    /// A plan of the given faults.
    pub fn of(faults: Vec<ScheduledFault>) -> Self {
        Self { faults }
    }

    /// Draws 1..=`max_faults` faults for a seed. Host faults hit distinct hosts and at
    /// most a third of them, so that the segment keeps room to recover.
    pub fn random(config: &SimConfig, instances: &[InstanceId], rng: &mut SimRng) -> Self {
        let mut faults = Vec::new();
        let n = rng.range(1, config.max_faults.max(1) as u64) as usize;
        let mut used_hosts: Vec<usize> = Vec::new();
        let host_budget = (config.hosts / 3).max(1);
        let phase = config.fault_phase_ms.max(10_000);
        for _ in 0..n {
            let at_ms = rng.range(5_000, phase - 5_000);
            let mut pick_host = |rng: &mut SimRng| -> Option<usize> {
                if used_hosts.len() >= host_budget {
                    return None;
                }
                loop {
                    let h = rng.index(config.hosts);
                    if !used_hosts.contains(&h) {
                        used_hosts.push(h);
                        return Some(h);
                    }
                }
            };
            let fault = match rng.range(0, 13) {
                0 | 1 => pick_host(rng).map(|host| Fault::HostCrash {
                    host,
                    reboot_after_ms: if rng.chance(0.5) {
                        Some(rng.range(20_000, 120_000))
                    } else {
                        None
                    },
                }),
                2 => pick_host(rng).map(|host| Fault::PowerLoss { host }),
                3..=5 => pick_host(rng).map(|host| Fault::Partition {
                    host,
                    kind: match rng.range(0, 3) {
                        0 => PartitionKind::ControllerOnly,
                        1 => PartitionKind::HostToController,
                        2 => PartitionKind::ControllerToHost,
                        _ => PartitionKind::Total,
                    },
                    duration_ms: rng.range(2_000, 180_000),
                }),
                6 => Some(Fault::ControllerIsolated {
                    duration_ms: rng.range(5_000, 90_000),
                }),
                7 | 8 => Some(Fault::Bmc {
                    host: rng.index(config.hosts),
                    fault: match rng.range(0, 2) {
                        0 => BmcFault::Slow,
                        1 => BmcFault::Failing,
                        _ => BmcFault::Mute,
                    },
                    duration_ms: rng.range(10_000, 300_000),
                }),
                9 => Some(Fault::NovaErrors {
                    duration_ms: rng.range(10_000, 120_000),
                }),
                10 | 11 => Some(Fault::ControllerCrash {
                    after_persists: rng.range(0, 6) as u32,
                    down_ms: rng.range(1_000, 20_000),
                }),
                12 => pick_host(rng).map(|host| Fault::ComputeDeath {
                    host,
                    duration_ms: rng.range(5_000, 120_000),
                }),
                _ => {
                    let i = rng.index(instances.len());
                    instances
                        .get(i)
                        .cloned()
                        .map(|instance| Fault::GuestCrash { instance })
                }
            };
            if let Some(fault) = fault {
                faults.push(ScheduledFault { at_ms, fault });
            }
        }
        // Drawn after every other fault, so the plans of earlier versions are kept and
        // a rack partition is only added to them.
        if let Some(rack) = rack_partition(config, rng) {
            faults.push(rack);
        }
        faults.sort_by_key(|f| f.at_ms);
        Self { faults }
    }
}

/// With a chance of one in three, a rack partition: the smallest strict majority of one
/// segment (so its hosts keep feeding their watchdogs through one another), if that
/// many unheard hosts stay below the default storm guard (three or more, and more than
/// 30 % of the cluster, engage it) — otherwise none, the guard would hold anyway.
/// None with a single segment: there a rack holding the segment's majority is most of
/// the cluster, which the storm guard or the controller's blindness covers, and the
/// plans of one-segment runs stay exactly those of earlier versions (regressions.rs).
fn rack_partition(config: &SimConfig, rng: &mut SimRng) -> Option<ScheduledFault> {
    let segments = config.segments.clamp(1, config.hosts.max(1));
    if segments < 2 || !rng.chance(1.0 / 3.0) {
        return None;
    }
    let seg = rng.index(segments);
    let members: Vec<usize> = (0..config.hosts)
        .filter(|h| crate::scenario::segment_of(*h, config.hosts, config.segments) == seg)
        .collect();
    let size = members.len() / 2 + 1;
    let storm = size >= 3 && size * 10 > config.hosts * 3;
    if members.len() < 2 || storm {
        return None;
    }
    let skip = rng.index(members.len() - size + 1);
    let hosts = members.into_iter().skip(skip).take(size).collect();
    let at_ms = rng.range(5_000, config.fault_phase_ms.max(10_000) - 5_000);
    Some(ScheduledFault {
        at_ms,
        fault: Fault::RackPartition {
            hosts,
            duration_ms: rng.range(20_000, 180_000),
        },
    })
}
