//! What the run loop pops off its queue: everything due at a virtual time.

use lazarus_core::event::Heartbeat;
use lazarus_core::{Event, InstanceId};

use super::call::Call;
use crate::faults::Fault;
use crate::world::PartitionKind;

/// Something due at a virtual time.
#[derive(Debug)]
pub(super) enum Happening {
    /// A fault starts.
    Fault(Fault),
    /// A timed fault ends.
    Heal(Heal),
    /// Every fault is cleared; operators repair what is broken.
    HealAll,
    /// An agent's heartbeat period (and the watchdog's check).
    HostTick(usize),
    /// A compute service's report period.
    ComputeReport(usize),
    /// A host finishes booting (if still in the same life).
    HostBooted(usize, u64),
    /// A crashed host reboots by itself (if still in the same life).
    HostAutoReboot(usize, u64),
    /// A BMC's power change lands.
    PowerLands(usize, bool),
    /// The conductor claims the destination of an evacuation.
    EvacuationClaim(usize),
    /// The destination finishes an evacuation.
    EvacuationFinish(usize),
    /// An event reaches the controller incarnation `epoch`.
    Deliver(u64, Event),
    /// A heartbeat sent at the given time reaches the controller incarnation `epoch`,
    /// with the agent's reboot report (`host_rebooted`) if one is not yet taken.
    Heartbeat(u64, u64, Heartbeat, Option<Vec<InstanceId>>),
    /// A controller request reaches its BMC, Nova or agent.
    Arrive(u64, Call),
    /// The controller reads Nova's services.
    NovaPoll(u64),
    /// An armed controller crash that no write triggered fires anyway.
    CrashFallback(u64),
    /// A new controller starts and resumes from the store.
    ControllerStart,
    /// The operator looks at a host they were paged about.
    OperatorChecks(usize),
    /// A host monitor looks at the host it watches.
    MonitorLooks(usize),
}

/// The end of a timed fault.
#[derive(Debug)]
pub(super) enum Heal {
    Partition(usize, PartitionKind),
    Rack(Vec<usize>),
    ControllerIsolation,
    Bmc(usize),
    Nova,
    Compute(usize),
}
