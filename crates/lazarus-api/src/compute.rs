//! Checking that a host name is a Nova compute, as Masakari does before adding a host.

use async_trait::async_trait;
use thiserror::Error;

/// Decides whether `name` is a nova-compute service host.
///
/// Masakari refuses (400) to add a host, or rename one, to a name Nova does not know as a
/// compute service. The controller will plug in a Nova-backed implementation (through the
/// OpenStack adapter's `os-services` query); [`AllowAllComputeHosts`] accepts every name,
/// for deployments and tests without Nova.
#[async_trait]
pub trait ComputeHostValidator: Send + Sync + std::fmt::Debug {
    /// `Ok` if `name` is a compute host.
    async fn validate(&self, name: &str) -> Result<(), ComputeCheckError>;
}

/// Why a compute host name was not accepted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ComputeCheckError {
    /// Nova has no compute service of that name (answered 400).
    #[error("Compute service with name {0} could not be found.")]
    NotFound(String),
    /// Nova could not be asked (answered 503; retryable).
    #[error("cannot check the compute service: {0}")]
    Unavailable(String),
}

/// Accepts every name.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAllComputeHosts;

#[async_trait]
impl ComputeHostValidator for AllowAllComputeHosts {
    async fn validate(&self, _name: &str) -> Result<(), ComputeCheckError> {
        Ok(())
    }
}

/// Accepts only the names it was given (tests).
#[derive(Debug, Clone, Default)]
pub struct KnownComputeHosts(pub Vec<String>);

#[async_trait]
impl ComputeHostValidator for KnownComputeHosts {
    async fn validate(&self, name: &str) -> Result<(), ComputeCheckError> {
        if self.0.iter().any(|n| n == name) {
            Ok(())
        } else {
            Err(ComputeCheckError::NotFound(name.to_owned()))
        }
    }
}
