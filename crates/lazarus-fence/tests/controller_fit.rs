//! The fleet plugs into the controller's `Fencer` trait exactly as docs/fencing.md
//! shows. The trait is copied here (the controller depends on this crate, not the
//! reverse); if the controller's trait changes, update both.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lazarus_core::event::{FenceError, FenceErrorKind, PowerState};
use lazarus_core::HostName;
use lazarus_fence::{BmcError, BmcSection, Fleet, PowerControl};

/// crates/lazarus-controller/src/fencer.rs, as of this commit.
#[async_trait]
pub trait Fencer: Send + Sync + std::fmt::Debug {
    async fn power_off(&self, host: &HostName) -> Result<(), FenceError>;
    async fn power_state(&self, host: &HostName) -> Result<PowerState, FenceError>;
}

#[async_trait]
impl Fencer for Fleet {
    async fn power_off(&self, host: &HostName) -> Result<(), FenceError> {
        Fleet::power_off(self, host).await
    }
    async fn power_state(&self, host: &HostName) -> Result<PowerState, FenceError> {
        Fleet::power_state(self, host).await
    }
}

/// A BMC that is off and answers at once.
#[derive(Debug)]
struct Off;

#[async_trait]
impl PowerControl for Off {
    async fn power_off(&self, _: Duration) -> Result<(), BmcError> {
        Ok(())
    }
    async fn power_on(&self, _: Duration) -> Result<(), BmcError> {
        Err(BmcError::Unsupported("stays off".into()))
    }
    async fn power_state(&self, _: Duration) -> Result<PowerState, BmcError> {
        Ok(PowerState::Off)
    }
}

#[tokio::test]
async fn the_fleet_serves_as_the_controllers_fencer() {
    let section: BmcSection = toml::from_str("").unwrap();
    let mut fleet = Fleet::from_config(&section).unwrap();
    fleet.insert("compute1".into(), Arc::new(Off));
    let fencer: Arc<dyn Fencer> = Arc::new(fleet);
    let h = HostName::from("compute1");
    fencer.power_off(&h).await.unwrap();
    assert_eq!(fencer.power_state(&h).await, Ok(PowerState::Off));
    let other = fencer.power_off(&"compute2".into()).await.unwrap_err();
    assert_eq!(other.kind, FenceErrorKind::NotConfigured);
}
