//! Never two running copies of one instance: the split-brain damage itself.

use std::collections::BTreeMap;

use super::Violation;
use crate::world::World;

/// An instance whose guest runs on two powered-on, booted hosts at once is a violation
/// (two copies writing one disk). Checked after every step, against the world's truth.
pub fn never_two_live_copies_of_an_instance(world: &World, at_ms: u64) -> Option<Violation> {
    let mut seen: BTreeMap<&lazarus_core::InstanceId, usize> = BTreeMap::new();
    for (h, host) in world.hosts.iter().enumerate() {
        for id in host.running() {
            if let Some(first) = seen.insert(id, h) {
                let name = |i: usize| {
                    world
                        .host_name(i)
                        .map_or_else(|| format!("#{i}"), |n| n.to_string())
                };
                return Some(Violation {
                    invariant: "never_two_live_copies_of_an_instance",
                    at_ms,
                    detail: format!("{id} runs on both {} and {}", name(first), name(h)),
                });
            }
        }
    }
    None
}
