//! After every fault healed, every protected instance is back, or lazarus said why not.

use lazarus_core::model::{Cluster, VmState};
use lazarus_core::HostName;

use super::Violation;
use crate::history::History;
use crate::world::World;

/// Judged once, at the end of the heal phase. Each protected instance of the initial
/// `cluster` must be:
/// - if it was ACTIVE: running on exactly the host Nova records for it;
/// - if it was STOPPED: known to Nova, not in ERROR;
///
/// or else the history must hold a reason for it (a recovery report that gave it up,
/// an alert naming it, or a critical alert about a host it was on).
pub fn after_heal_every_protected_instance_runs_or_has_a_reason(
    initial: &Cluster,
    world: &World,
    history: &History,
    at_ms: u64,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for inst in initial.instances().filter(|i| i.is_protected()) {
        let server = world.nova.instances.get(&inst.id);
        let copies = world.live_copies(&inst.id);
        let problem = match (inst.vm_state, server) {
            (_, None) => Some("is gone from Nova".to_owned()),
            (VmState::Active, Some(s)) => {
                if copies == [s.host] {
                    None
                } else {
                    let on = |hs: &[usize]| {
                        hs.iter()
                            .filter_map(|h| world.host_name(*h).map(|n| n.to_string()))
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    Some(format!(
                        "is not running where Nova says ({}; vm_state {:?}; runs on [{}])",
                        on(&[s.host]),
                        s.vm_state,
                        on(&copies)
                    ))
                }
            }
            (_, Some(s)) => {
                if s.vm_state == VmState::Error {
                    Some("is in ERROR".to_owned())
                } else {
                    None
                }
            }
        };
        let Some(problem) = problem else {
            continue;
        };
        let mut hosts: Vec<HostName> = vec![inst.host.clone()];
        if let Some(name) = server.and_then(|s| world.host_name(s.host)) {
            hosts.push(name.clone());
        }
        if !history.has_reason_for(&inst.id, &hosts) {
            out.push(Violation {
                invariant: "after_heal_every_protected_instance_runs_or_has_a_reason",
                at_ms,
                detail: format!("{} {problem}, and no reason was recorded", inst.id),
            });
        }
    }
    out
}
