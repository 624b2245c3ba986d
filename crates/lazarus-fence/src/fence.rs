//! Fencing as one call: power off, then read the power state back until "Off", with
//! bounded retries. For tools, tests and measurements; the controller does not use
//! it, because the core runs the same loop itself through
//! [`lazarus_core::Command::FenceHost`] and [`lazarus_core::Command::ReadPowerState`]
//! so that every step is journaled.

use std::time::Duration;

use lazarus_core::event::PowerState;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::{BmcError, PowerControl};

/// How hard [`fence`] tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencePolicy {
    /// Time limit of each BMC call.
    pub call_timeout: Duration,
    /// Power-off requests at most (each followed by reads).
    pub max_attempts: u32,
    /// Wait between two power reads.
    pub read_interval: Duration,
    /// After an accepted power-off, how long to read before trying again.
    pub confirm_within: Duration,
    /// Wait after a refused power-off before the next one.
    pub retry_delay: Duration,
}

impl Default for FencePolicy {
    /// 20 s per call, 3 attempts, a read every second, 30 s to read "Off" back (real
    /// BMCs take seconds; sushy-tools' fake driver up to 11 s), 2 s between attempts.
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(20),
            max_attempts: 3,
            read_interval: Duration::from_secs(1),
            confirm_within: Duration::from_secs(30),
            retry_delay: Duration::from_secs(2),
        }
    }
}

/// A confirmed fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fenced {
    /// From the first power-off request to reading "Off".
    pub elapsed: Duration,
    /// Power-off requests sent (1 when the first was enough).
    pub attempts: u32,
    /// Power reads made, the confirming one included.
    pub reads: u32,
}

/// A fence that could not be confirmed: the host must be treated as possibly on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FenceFailure {
    /// The BMC refused the power-off in a way retrying cannot fix (credentials,
    /// unsupported), or every attempt was refused.
    #[error("power-off refused after {attempts} attempt(s): {last}")]
    Refused {
        /// Attempts made.
        attempts: u32,
        /// The last refusal.
        last: BmcError,
    },
    /// Power-offs were accepted, but "Off" was never read back.
    #[error(
        "power never read back Off after {attempts} attempt(s), {reads} read(s); last read: {last}"
    )]
    NotConfirmed {
        /// Attempts made.
        attempts: u32,
        /// Reads made.
        reads: u32,
        /// The last read's result, for the audit log.
        last: String,
    },
}

/// Powers the host off and reads its power state until it is "Off".
///
/// Guarantees: `Ok` only after a read returned exactly [`PowerState::Off`]. A
/// power-off whose answer was lost (timeout) is followed by reads, which are
/// harmless, before another power-off is sent. Bounded: at most
/// `max_attempts` power-offs, each followed by reads for at most `confirm_within`.
pub async fn fence(bmc: &dyn PowerControl, policy: &FencePolicy) -> Result<Fenced, FenceFailure> {
    let start = Instant::now();
    let mut reads = 0u32;
    let mut last_read = String::from("none");
    let mut attempts = 0u32;
    while attempts < policy.max_attempts {
        attempts = attempts.saturating_add(1);
        match bmc.power_off(policy.call_timeout).await {
            Ok(()) => {}
            // The answer was lost, not the request: read before sending again.
            Err(e @ BmcError::Timeout(_)) => {
                warn!(attempt = attempts, error = %e, "power-off unanswered; reading the power state");
            }
            Err(e) if e.is_retryable() && attempts < policy.max_attempts => {
                warn!(attempt = attempts, error = %e, "power-off failed; retrying");
                tokio::time::sleep(policy.retry_delay).await;
                continue;
            }
            Err(e) => return Err(FenceFailure::Refused { attempts, last: e }),
        }
        let deadline = Instant::now() + policy.confirm_within;
        loop {
            reads = reads.saturating_add(1);
            match bmc.power_state(policy.call_timeout).await {
                Ok(PowerState::Off) => {
                    let fenced = Fenced {
                        elapsed: start.elapsed(),
                        attempts,
                        reads,
                    };
                    info!(?fenced.elapsed, attempts, reads, "fence confirmed: power reads Off");
                    return Ok(fenced);
                }
                Ok(state) => last_read = format!("{state:?}"),
                Err(e) => last_read = e.to_string(),
            }
            if Instant::now() + policy.read_interval > deadline {
                break;
            }
            tokio::time::sleep(policy.read_interval).await;
        }
        warn!(attempt = attempts, reads, last = %last_read, "power did not read Off in time");
    }
    Err(FenceFailure::NotConfirmed {
        attempts,
        reads,
        last: last_read,
    })
}

/// Reads the power state until it is `wanted` or `within` has passed; returns how
/// long it took. For tests and tools (after [`PowerControl::power_on`]).
pub async fn wait_for(
    bmc: &dyn PowerControl,
    wanted: PowerState,
    within: Duration,
    policy: &FencePolicy,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let read = bmc.power_state(policy.call_timeout).await;
        if read.as_ref().ok() == Some(&wanted) {
            return Ok(start.elapsed());
        }
        if start.elapsed() + policy.read_interval > within {
            return Err(format!("power still reads {read:?} after {within:?}"));
        }
        tokio::time::sleep(policy.read_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;

    /// A BMC that answers from scripts and counts what it was asked.
    #[derive(Debug, Default)]
    struct Scripted {
        offs: Mutex<VecDeque<Result<(), BmcError>>>,
        reads: Mutex<VecDeque<Result<PowerState, BmcError>>>,
        off_calls: Mutex<u32>,
    }

    impl Scripted {
        fn new(offs: Vec<Result<(), BmcError>>, reads: Vec<Result<PowerState, BmcError>>) -> Self {
            Self {
                offs: Mutex::new(offs.into()),
                reads: Mutex::new(reads.into()),
                off_calls: Mutex::new(0),
            }
        }
    }

    #[async_trait]
    impl PowerControl for Scripted {
        async fn power_off(&self, _: Duration) -> Result<(), BmcError> {
            *self.off_calls.lock().unwrap() += 1;
            self.offs.lock().unwrap().pop_front().unwrap_or(Ok(()))
        }
        async fn power_on(&self, _: Duration) -> Result<(), BmcError> {
            Ok(())
        }
        async fn power_state(&self, _: Duration) -> Result<PowerState, BmcError> {
            self.reads
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok(PowerState::On))
        }
    }

    fn policy() -> FencePolicy {
        FencePolicy {
            call_timeout: Duration::from_secs(1),
            max_attempts: 3,
            read_interval: Duration::from_secs(1),
            confirm_within: Duration::from_secs(5),
            retry_delay: Duration::from_secs(2),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fence_is_confirmed_only_when_off_is_read_back() {
        let bmc = Scripted::new(
            vec![Ok(())],
            vec![
                Ok(PowerState::On),
                Ok(PowerState::Unknown),
                Err(BmcError::Timeout(Duration::from_secs(1))),
                Ok(PowerState::Off),
            ],
        );
        let fenced = fence(&bmc, &policy()).await.unwrap();
        assert_eq!(fenced.attempts, 1);
        assert_eq!(fenced.reads, 4);
        assert_eq!(fenced.elapsed, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_that_never_reads_off_is_not_fenced_and_attempts_are_bounded() {
        let bmc = Scripted::new(vec![], vec![]);
        let err = fence(&bmc, &policy()).await.unwrap_err();
        match err {
            FenceFailure::NotConfirmed {
                attempts,
                reads,
                last,
            } => {
                assert_eq!(attempts, 3);
                assert_eq!(reads, 18, "reads at 0, 1, ..., 5 s after each power-off");
                assert_eq!(last, "On");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(*bmc.off_calls.lock().unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn refused_credentials_stop_at_once() {
        let bmc = Scripted::new(vec![Err(BmcError::AuthFailed("401".into()))], vec![]);
        let err = fence(&bmc, &policy()).await.unwrap_err();
        assert_eq!(
            err,
            FenceFailure::Refused {
                attempts: 1,
                last: BmcError::AuthFailed("401".into())
            }
        );
        assert_eq!(*bmc.off_calls.lock().unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_refusal_is_retried_after_the_delay() {
        let bmc = Scripted::new(
            vec![Err(BmcError::Unreachable("reset".into())), Ok(())],
            vec![Ok(PowerState::Off)],
        );
        let fenced = fence(&bmc, &policy()).await.unwrap();
        assert_eq!(fenced.attempts, 2);
        assert_eq!(fenced.reads, 1);
        assert_eq!(fenced.elapsed, Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_power_off_is_followed_by_reads_before_another_is_sent() {
        let bmc = Scripted::new(
            vec![Err(BmcError::Timeout(Duration::from_secs(1)))],
            vec![Ok(PowerState::On), Ok(PowerState::Off)],
        );
        let fenced = fence(&bmc, &policy()).await.unwrap();
        assert_eq!(fenced.attempts, 1);
        assert_eq!(*bmc.off_calls.lock().unwrap(), 1);
    }
}
