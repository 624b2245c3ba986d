//! The BMCs of all hosts, answering in the core's terms: the controller's fencer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lazarus_core::event::{FenceError, FenceErrorKind, PowerState};
use lazarus_core::HostName;
use tracing::{info, warn};

use crate::{BmcSection, ConfigError, PowerControl};

/// Each host's BMC driver, with the time limit of one call. Answers with the core's
/// [`FenceError`], ready for [`lazarus_core::Event::FenceAttempted`] and
/// [`lazarus_core::Event::PowerStateRead`]. A host without a BMC answers
/// [`FenceErrorKind::NotConfigured`], not retryable, so the core waits for an
/// operator's confirmation.
#[derive(Debug)]
pub struct Fleet {
    bmcs: BTreeMap<HostName, Arc<dyn PowerControl>>,
    call_timeout: Duration,
}

impl Fleet {
    /// An empty fleet (every host "not configured").
    pub fn new(call_timeout: Duration) -> Self {
        Self {
            bmcs: BTreeMap::new(),
            call_timeout,
        }
    }

    /// The drivers of a `[bmc]` section; password and CA files are read now.
    pub fn from_config(section: &BmcSection) -> Result<Self, ConfigError> {
        let mut fleet = Self::new(section.call_timeout);
        for (host, bmc) in &section.hosts {
            let driver = bmc
                .driver()
                .map_err(|e| ConfigError::Invalid(format!("[bmc.hosts.{host}]: {e}")))?;
            fleet.insert(host.clone(), driver);
        }
        Ok(fleet)
    }

    /// Adds (or replaces) a host's BMC.
    pub fn insert(&mut self, host: HostName, bmc: Arc<dyn PowerControl>) {
        self.bmcs.insert(host, bmc);
    }

    /// The hosts that have a BMC.
    pub fn hosts(&self) -> impl Iterator<Item = &HostName> {
        self.bmcs.keys()
    }

    fn bmc(&self, host: &HostName) -> Result<&Arc<dyn PowerControl>, FenceError> {
        self.bmcs.get(host).ok_or_else(|| FenceError {
            kind: FenceErrorKind::NotConfigured,
            retryable: false,
            message: format!(
                "no BMC is configured for {host} (add [bmc.hosts.{host}]): confirm the host is off by hand"
            ),
        })
    }

    /// Reads every host's power state at once: for a start-up or `--check` report of
    /// which BMCs answer and accept their credentials. Each read is bounded by the
    /// call limit, so this takes at most one call limit.
    pub async fn probe(&self) -> BTreeMap<HostName, Result<PowerState, FenceError>> {
        let mut reads = tokio::task::JoinSet::new();
        for (host, bmc) in &self.bmcs {
            let (host, bmc, limit) = (host.clone(), Arc::clone(bmc), self.call_timeout);
            reads.spawn(async move {
                let r = bmc.power_state(limit).await.map_err(FenceError::from);
                (host, r)
            });
        }
        let mut out = BTreeMap::new();
        while let Some(joined) = reads.join_next().await {
            if let Ok((host, r)) = joined {
                out.insert(host, r);
            }
        }
        out
    }

    /// Sends a power-off. Success means the BMC accepted it, not that the host is off.
    pub async fn power_off(&self, host: &HostName) -> Result<(), FenceError> {
        let result = self.bmc(host)?.power_off(self.call_timeout).await;
        match &result {
            Ok(()) => info!(%host, "BMC accepted the power-off"),
            Err(e) => {
                warn!(%host, error = %e, retryable = e.is_retryable(), "BMC power-off failed")
            }
        }
        result.map_err(FenceError::from)
    }

    /// Sends a power-on (returning a repaired host to service is an operator's
    /// decision; the engine never asks for it).
    pub async fn power_on(&self, host: &HostName) -> Result<(), FenceError> {
        let result = self.bmc(host)?.power_on(self.call_timeout).await;
        match &result {
            Ok(()) => info!(%host, "BMC accepted the power-on"),
            Err(e) => warn!(%host, error = %e, "BMC power-on failed"),
        }
        result.map_err(FenceError::from)
    }

    /// Reads the power state.
    pub async fn power_state(&self, host: &HostName) -> Result<PowerState, FenceError> {
        let result = self.bmc(host)?.power_state(self.call_timeout).await;
        if let Err(e) = &result {
            warn!(%host, error = %e, "BMC power read failed");
        }
        result.map_err(FenceError::from)
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::BmcError;

    #[derive(Debug)]
    struct Fixed(Result<PowerState, BmcError>);

    #[async_trait]
    impl PowerControl for Fixed {
        async fn power_off(&self, _: Duration) -> Result<(), BmcError> {
            self.0.clone().map(|_| ())
        }
        async fn power_on(&self, _: Duration) -> Result<(), BmcError> {
            self.0.clone().map(|_| ())
        }
        async fn power_state(&self, _: Duration) -> Result<PowerState, BmcError> {
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn a_host_without_a_bmc_is_never_confirmed_off() {
        let fleet = Fleet::new(Duration::from_secs(1));
        let h = HostName::from("compute9");
        let err = fleet.power_off(&h).await.unwrap_err();
        assert_eq!(err.kind, FenceErrorKind::NotConfigured);
        assert!(!err.retryable);
        assert!(fleet.power_state(&h).await.is_err());
    }

    #[tokio::test]
    async fn each_host_is_answered_by_its_own_bmc_in_the_cores_terms() {
        let mut fleet = Fleet::new(Duration::from_secs(1));
        fleet.insert("off".into(), Arc::new(Fixed(Ok(PowerState::Off))));
        fleet.insert(
            "locked".into(),
            Arc::new(Fixed(Err(BmcError::AuthFailed("HTTP 401".into())))),
        );
        assert_eq!(fleet.power_state(&"off".into()).await, Ok(PowerState::Off));
        let err = fleet.power_off(&"locked".into()).await.unwrap_err();
        assert_eq!(err.kind, FenceErrorKind::AuthFailed);
        assert!(!err.retryable);
        assert_eq!(fleet.hosts().count(), 2);
        let probed = fleet.probe().await;
        assert_eq!(probed[&HostName::from("off")], Ok(PowerState::Off));
        assert_eq!(
            probed[&HostName::from("locked")].as_ref().unwrap_err().kind,
            FenceErrorKind::AuthFailed
        );
    }

    #[test]
    fn a_bad_host_entry_names_the_host() {
        let section: BmcSection = toml::from_str(
            r#"
            [hosts.compute3]
            driver = "redfish"
            address = "https://10.0.0.13"
            username = "u"
            password_file = "/nonexistent/compute3"
            "#,
        )
        .unwrap();
        let err = Fleet::from_config(&section).unwrap_err();
        assert!(err.to_string().contains("[bmc.hosts.compute3]"), "{err}");
    }
}
