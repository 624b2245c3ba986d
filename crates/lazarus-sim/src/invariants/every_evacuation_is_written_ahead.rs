//! Write-ahead: an evacuation is on disk before it is on the wire.

use super::Violation;
use crate::history::EvacuationCommand;

/// An evacuation commanded while the store does not yet hold its source's recovery
/// record with the instance at step `Requested` (same target, same attempt) is a
/// violation: a controller crashing right after sending it would not know it had, and
/// its successor could evacuate the instance a second time. Checked when each
/// command is issued, against the simulated store.
pub fn every_evacuation_is_written_ahead(ev: &EvacuationCommand) -> Option<Violation> {
    if ev.written_ahead {
        return None;
    }
    Some(Violation {
        invariant: "every_evacuation_is_written_ahead",
        at_ms: ev.at_ms,
        detail: format!(
            "evacuate {} from {} to {} (attempt {}) with no persisted Requested step for it",
            ev.instance, ev.from, ev.to, ev.attempt
        ),
    })
}
