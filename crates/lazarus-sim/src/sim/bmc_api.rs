//! The simulated BMCs' answers to the controller: power-off and power reads.

use lazarus_core::event::{FenceError, FenceErrorKind, PowerState};
use lazarus_core::Event;

use super::happening::Happening;
use super::Sim;
use crate::world::BmcAnswer;

/// How long the controller waits for a BMC before calling it a timeout.
const BMC_TIMEOUT_MS: u64 = 10_000;

impl Sim<'_> {
    /// A power-off reaches the BMC: it lands later, if the BMC works.
    pub(super) fn bmc_power_off(&mut self, epoch: u64, host: usize, attempt: u32) {
        let name = self.name(host);
        let base = self.rng.range(100, 800);
        let answer = self.world.bmcs.get(host).map(|b| b.answer(base));
        let result = match answer {
            Some(BmcAnswer::After(d)) => {
                let lands = self.rng.range(1_000, 11_000);
                self.queue.after(lands, Happening::PowerLands(host, false));
                (d, Ok(()))
            }
            Some(BmcAnswer::ErrorAfter(d)) => {
                (d, Err(bmc_error(FenceErrorKind::Other, "BMC answered 500")))
            }
            Some(BmcAnswer::Never) | None => (
                BMC_TIMEOUT_MS,
                Err(bmc_error(FenceErrorKind::Timeout, "BMC did not answer")),
            ),
        };
        self.reply(
            epoch,
            result.0,
            Event::FenceAttempted {
                host: name,
                attempt,
                result: result.1,
            },
        );
    }

    /// A power read reaches the BMC: it answers the host's power, if it works.
    pub(super) fn bmc_read_power(&mut self, epoch: u64, host: usize) {
        let name = self.name(host);
        let base = self.rng.range(100, 800);
        let answer = self.world.bmcs.get(host).map(|b| b.answer(base));
        let powered = self.world.hosts.get(host).is_some_and(|x| x.powered);
        let (d, result) = match answer {
            Some(BmcAnswer::After(d)) => (
                d,
                Ok(if powered {
                    PowerState::On
                } else {
                    PowerState::Off
                }),
            ),
            Some(BmcAnswer::ErrorAfter(d)) => {
                (d, Err(bmc_error(FenceErrorKind::Other, "BMC answered 500")))
            }
            Some(BmcAnswer::Never) | None => (
                BMC_TIMEOUT_MS,
                Err(bmc_error(FenceErrorKind::Timeout, "BMC did not answer")),
            ),
        };
        self.reply(epoch, d, Event::PowerStateRead { host: name, result });
    }
}

/// A BMC failure the engine may retry.
fn bmc_error(kind: FenceErrorKind, message: &str) -> FenceError {
    FenceError {
        kind,
        retryable: true,
        message: message.to_owned(),
    }
}
