//! Process failure on a live host (nova-compute or libvirtd down): ask the agent to
//! restart it; if it stays down, disable the host for scheduling (its instances keep
//! running, nothing is evacuated); re-enable it once the process is back, only if
//! lazarus was the one that disabled it.

mod handlers;
mod monitor;

pub(crate) use monitor::{ProcessMonitor, ProcessWatch};
