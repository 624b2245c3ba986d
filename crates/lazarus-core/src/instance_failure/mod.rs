//! Instance failure on a live host (crash, lost guest heartbeat, watchdog, I/O error):
//! reset it, within a cap of resets per window, as vSphere's VM monitoring does.

mod handlers;
mod monitor;

pub(crate) use monitor::InstanceMonitor;
pub use monitor::ResetDecision;
