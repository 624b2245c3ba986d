//! The one trait every BMC driver implements.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lazarus_core::event::PowerState;

use crate::BmcError;

/// Power control of one host through its BMC.
///
/// Each call is bounded by `timeout`: the driver gives up with
/// [`BmcError::Timeout`] when it passes (its own retries included). A successful
/// [`PowerControl::power_off`] means the BMC **accepted** the request, not that the
/// host is off: only [`PowerControl::power_state`] reading [`PowerState::Off`]
/// confirms that (see [`crate::fence`]).
///
/// `Debug` output names the driver and the BMC, never a credential.
#[async_trait]
pub trait PowerControl: Send + Sync + fmt::Debug {
    /// Asks for an immediate, ungraceful power-off (Redfish `ForceOff`, IPMI
    /// `chassis power off`). Idempotent: powering off a host that is off is accepted.
    async fn power_off(&self, timeout: Duration) -> Result<(), BmcError>;

    /// Asks for power on (Redfish `On`, IPMI `chassis power on`). Idempotent.
    async fn power_on(&self, timeout: Duration) -> Result<(), BmcError>;

    /// Reads the power state. Anything but a plain "on" or "off" (powering on or
    /// off, paused, absent) reads as [`PowerState::Unknown`].
    async fn power_state(&self, timeout: Duration) -> Result<PowerState, BmcError>;
}

/// Runs `work` within `timeout`, a [`BmcError::Timeout`] if it takes longer (the work
/// is dropped: a child process is killed, a request abandoned).
pub(crate) async fn bounded<T>(
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, BmcError>>,
) -> Result<T, BmcError> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(BmcError::Timeout(timeout)))
}
