//! Never evacuate an instance from a host that is not really fenced.

use super::Violation;
use crate::history::EvacuationCommand;

/// An evacuation commanded while its source host is really powered on, booted, and has
/// not reset itself since the controller last heard from it, is a violation: whatever
/// the engine believed, the host could still be running the instance (and, once Nova
/// is forced to accept, would run it twice). Checked when each command is issued.
pub fn no_evacuation_of_an_unfenced_host(ev: &EvacuationCommand) -> Option<Violation> {
    if ev.source.is_fenced() {
        return None;
    }
    Some(Violation {
        invariant: "no_evacuation_of_an_unfenced_host",
        at_ms: ev.at_ms,
        detail: format!(
            "evacuate {} from {} to {} (attempt {}) while {} is powered on and up{}",
            ev.instance,
            ev.from,
            ev.to,
            ev.attempt,
            ev.from,
            if ev.source.guest_running {
                " and the guest still runs there"
            } else {
                ""
            }
        ),
    })
}
