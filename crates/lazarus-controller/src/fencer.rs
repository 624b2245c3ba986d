//! Fencing drivers: the controller's door to BMCs.
//!
//! There is no BMC driver yet (Redfish and IPMI come with issue 5). [`NoBmc`] answers
//! every request with a non-retryable "not configured" error, so the core never
//! believes a host is off because of it: a BMC-fenced host then waits, with a critical
//! alert, for an operator's confirmation or a monitor's COMPUTE_HOST STOPPED + NORMAL
//! notification. Hosts registered through the API default to the `manual` fence method,
//! which waits for the same confirmations without trying a BMC at all.

use async_trait::async_trait;
use lazarus_core::event::{FenceError, FenceErrorKind, PowerState};
use lazarus_core::HostName;

/// Powers hosts off and reads their power state.
#[async_trait]
pub trait Fencer: Send + Sync + std::fmt::Debug {
    /// Sends a power-off. Success means the BMC accepted it, not that the host is off.
    async fn power_off(&self, host: &HostName) -> Result<(), FenceError>;

    /// Reads the power state.
    async fn power_state(&self, host: &HostName) -> Result<PowerState, FenceError>;
}

/// The fencer of a controller with no BMC driver: every call fails, not retryable.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBmc;

impl NoBmc {
    fn error(host: &HostName) -> FenceError {
        FenceError {
            kind: FenceErrorKind::NotConfigured,
            retryable: false,
            message: format!(
                "no BMC is configured for {host} (no BMC driver in this build): confirm the host is off by hand or through a monitor's COMPUTE_HOST STOPPED notification"
            ),
        }
    }
}

#[async_trait]
impl Fencer for NoBmc {
    async fn power_off(&self, host: &HostName) -> Result<(), FenceError> {
        Err(Self::error(host))
    }

    async fn power_state(&self, host: &HostName) -> Result<PowerState, FenceError> {
        Err(Self::error(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_bmc_nothing_is_ever_confirmed_off() {
        let h = HostName::from("compute1");
        let off = NoBmc.power_off(&h).await.unwrap_err();
        assert_eq!(off.kind, FenceErrorKind::NotConfigured);
        assert!(!off.retryable);
        assert!(NoBmc.power_state(&h).await.is_err());
    }
}
