//! Fencing drivers: the controller's door to BMCs.
//!
//! With hosts under `[bmc.hosts]`, the fencer is a [`lazarus_fence::Fleet`] (Redfish or
//! IPMI per host). Without any, it is [`NoBmc`], which answers every request with a
//! non-retryable "not configured" error, so the core never believes a host is off
//! because of it: a BMC-fenced host then waits, with a critical alert, for an
//! operator's confirmation or a monitor's COMPUTE_HOST STOPPED + NORMAL notification.
//! Hosts without a `[bmc.hosts]` entry default to the `hosts.fence_method` of the
//! configuration (`manual`), which waits for the same confirmations without trying a
//! BMC at all.

use async_trait::async_trait;
use lazarus_core::event::{FenceError, FenceErrorKind, PowerState};
use lazarus_core::HostName;
use lazarus_fence::Fleet;

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

/// The BMCs of `[bmc.hosts]`: a host without one answers "not configured", like
/// [`NoBmc`].
#[async_trait]
impl Fencer for Fleet {
    async fn power_off(&self, host: &HostName) -> Result<(), FenceError> {
        Fleet::power_off(self, host).await
    }

    async fn power_state(&self, host: &HostName) -> Result<PowerState, FenceError> {
        Fleet::power_state(self, host).await
    }
}

/// The fencer a configuration asks for: [`NoBmc`] with no `[bmc.hosts]`, else the
/// [`Fleet`] of their drivers (password and CA files are read now).
pub fn from_config(
    section: &lazarus_fence::BmcSection,
) -> Result<std::sync::Arc<dyn Fencer>, lazarus_fence::ConfigError> {
    if section.hosts.is_empty() {
        return Ok(std::sync::Arc::new(NoBmc));
    }
    Ok(std::sync::Arc::new(Fleet::from_config(section)?))
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

    #[test]
    fn no_bmc_host_means_no_bmc_driver_and_a_listed_host_gets_the_fleet() {
        let none = from_config(&lazarus_fence::BmcSection::default()).unwrap();
        assert_eq!(format!("{none:?}"), "NoBmc");
        let section: lazarus_fence::BmcSection = toml::from_str(
            r#"
[hosts.c1]
driver = "redfish"
address = "http://127.0.0.1:1"
username = "u"
password = "p"
"#,
        )
        .unwrap();
        let fleet = from_config(&section).unwrap();
        assert!(format!("{fleet:?}").starts_with("Fleet"), "{fleet:?}");
    }

    #[tokio::test]
    async fn a_fleet_answers_not_configured_for_a_host_it_has_no_bmc_for() {
        let fleet = Fleet::new(std::time::Duration::from_secs(1));
        let e = Fencer::power_off(&fleet, &HostName::from("c9"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, FenceErrorKind::NotConfigured);
        assert!(!e.retryable);
    }
}
