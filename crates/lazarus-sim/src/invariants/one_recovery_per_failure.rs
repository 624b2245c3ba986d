//! One failure, one recovery: an instance is evacuated again only after its previous
//! evacuation failed, or after the host it was recovered onto failed in turn.

use super::Violation;
use crate::history::EvacuationCommand;

/// An evacuation commanded while the instance's previous evacuation is still running,
/// or after it succeeded onto a host that is still healthy and runs it, is a
/// violation: the same failure is being recovered twice (Masakari LP#1961110).
/// Checked when each command is issued.
pub fn one_recovery_per_failure(ev: &EvacuationCommand) -> Option<Violation> {
    let prior = ev.prior.as_ref()?;
    let why = if prior.in_progress {
        "while its previous evacuation from the same failure is still running"
    } else if prior.succeeded && prior.dest_healthy {
        "although it was already recovered and runs on a healthy host"
    } else {
        return None;
    };
    Some(Violation {
        invariant: "one_recovery_per_failure",
        at_ms: ev.at_ms,
        detail: format!(
            "evacuate {} from {} to {} (attempt {}) {why} (previous: {} -> {})",
            ev.instance,
            ev.from,
            ev.to,
            ev.attempt,
            prior.source,
            prior
                .dest
                .as_ref()
                .map_or_else(|| "unscheduled".to_owned(), |d| d.to_string()),
        ),
    })
}
