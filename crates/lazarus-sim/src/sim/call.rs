//! The controller's requests in flight: sent with a latency, they reach the BMC,
//! Nova or the agent, and the answer travels back to the incarnation that sent it.

use lazarus_core::event::Process;
use lazarus_core::{Event, InstanceId};

use super::happening::Happening;
use super::Sim;

/// A request in flight from the controller.
#[derive(Debug)]
pub(super) enum Call {
    PowerOff {
        host: usize,
        attempt: u32,
    },
    ReadPower {
        host: usize,
    },
    MarkDown {
        host: usize,
        reason: String,
    },
    Evacuate {
        instance: InstanceId,
        to: usize,
        attempt: u32,
    },
    Check {
        instance: InstanceId,
    },
    Reset {
        instance: InstanceId,
    },
    Disable {
        host: usize,
        reason: String,
    },
    Enable {
        host: usize,
    },
    Return {
        host: usize,
        enable: bool,
    },
    RestartProcess {
        host: usize,
        process: Process,
    },
}

impl Sim<'_> {
    /// Sends a request: it arrives after a latency drawn in `lo..hi` ms.
    pub(super) fn send(&mut self, call: Call, lo: u64, hi: u64) {
        let d = self.rng.range(lo, hi);
        let epoch = self.controller.epoch;
        self.queue.after(d, Happening::Arrive(epoch, call));
    }

    /// Sends an answer back to the controller incarnation `epoch`, `delay` ms from now.
    pub(super) fn reply(&mut self, epoch: u64, delay: u64, event: Event) {
        self.queue.after(delay, Happening::Deliver(epoch, event));
    }

    /// A controller request reaches its BMC, Nova or agent: the effect happens now,
    /// the answer travels back (to the incarnation that sent it).
    pub(super) fn arrive(&mut self, epoch: u64, call: Call) {
        let now = self.queue.now_ms();
        match call {
            Call::PowerOff { host, attempt } => self.bmc_power_off(epoch, host, attempt),
            Call::ReadPower { host } => self.bmc_read_power(epoch, host),
            Call::MarkDown { host, reason } => self.nova_mark_down(epoch, host, reason),
            Call::Evacuate {
                instance,
                to,
                attempt,
            } => self.nova_evacuate(epoch, now, instance, to, attempt),
            Call::Check { instance } => self.nova_check(epoch, instance),
            Call::Reset { instance } => self.nova_reset(epoch, now, instance),
            Call::Disable { host, reason } => self.nova_disable(epoch, host, reason),
            Call::Enable { host } => self.nova_enable(epoch, host),
            Call::Return { host, enable } => self.nova_return(epoch, now, host, enable),
            Call::RestartProcess { host, process } => {
                self.agent_restart_process(epoch, now, host, process)
            }
        }
    }
}
