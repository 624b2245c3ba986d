//! Placement: capacity (inventories), what is used (usages), and how providers are
//! grouped (aggregates, traits). The planner sizes the failover reserve from these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::CloudError;
use crate::microversion::Microversion;
use crate::session::{ApiRequest, Service, Session};

/// 1.19: aggregates come with the provider generation; 1.14: parent and root
/// providers. Everything read here exists from 1.19.
const PLACEMENT_FLOOR: Microversion = Microversion::new(1, 19);
/// The newest version whose answers were checked against this adapter's models.
const PLACEMENT_PREFERRED: Microversion = Microversion::new(1, 39);

/// A resource provider (a compute node, or a nested provider under one).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ResourceProvider {
    /// UUID (for a compute node, the hypervisor id).
    pub uuid: String,
    /// Name (for a compute node, the hypervisor hostname).
    pub name: String,
    /// Changes with every change to the provider.
    pub generation: u64,
    /// The parent provider, for nested providers.
    #[serde(default)]
    pub parent_provider_uuid: Option<String>,
    /// The root of the provider's tree.
    #[serde(default)]
    pub root_provider_uuid: Option<String>,
}

/// The inventories of one provider.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ProviderInventories {
    /// The provider generation they were read at.
    pub resource_provider_generation: u64,
    /// Per resource class (`VCPU`, `MEMORY_MB`, `DISK_GB`, ...).
    pub inventories: BTreeMap<String, InventoryRecord>,
}

/// The inventory of one resource class. Usable capacity is
/// `(total - reserved) * allocation_ratio`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct InventoryRecord {
    /// Physical amount.
    pub total: u64,
    /// Amount held back for the host itself.
    #[serde(default)]
    pub reserved: u64,
    /// Smallest amount one consumer may take.
    #[serde(default)]
    pub min_unit: u64,
    /// Largest amount one consumer may take.
    #[serde(default)]
    pub max_unit: u64,
    /// Amounts must be multiples of this.
    #[serde(default)]
    pub step_size: u64,
    /// Overcommit ratio.
    pub allocation_ratio: f64,
}

/// What is used on one provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ProviderUsages {
    /// The provider generation they were read at.
    pub resource_provider_generation: u64,
    /// Amount used per resource class.
    pub usages: BTreeMap<String, u64>,
}

/// The aggregates of one provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ProviderAggregates {
    /// The provider generation they were read at.
    pub resource_provider_generation: u64,
    /// Aggregate UUIDs.
    pub aggregates: Vec<String>,
}

/// The traits of one provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ProviderTraits {
    /// The provider generation they were read at.
    pub resource_provider_generation: u64,
    /// Trait names (`COMPUTE_STATUS_DISABLED`, `HW_CPU_X86_AVX2`, `CUSTOM_...`).
    pub traits: Vec<String>,
}

/// The allocations of one consumer (a server). After an evacuation the server holds
/// allocations on both hosts until the source compute restarts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Allocations {
    /// Per provider UUID.
    pub allocations: BTreeMap<String, ProviderAllocation>,
    /// The consumer's project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// The consumer's user.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// What one consumer holds on one provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ProviderAllocation {
    /// Amount per resource class.
    pub resources: BTreeMap<String, u64>,
}

/// `GET /resource_providers`.
pub(crate) async fn list_providers(session: &Session) -> Result<Vec<ResourceProvider>, CloudError> {
    #[derive(Deserialize)]
    struct Body {
        resource_providers: Vec<ResourceProvider>,
    }
    let body: Body = get(
        session,
        "listing resource providers",
        "/resource_providers".into(),
    )
    .await?;
    Ok(body.resource_providers)
}

/// `GET /resource_providers/{uuid}/inventories`.
pub(crate) async fn inventories(
    session: &Session,
    provider: &str,
) -> Result<ProviderInventories, CloudError> {
    let path = format!("/resource_providers/{provider}/inventories");
    get(session, "reading inventories", path).await
}

/// `GET /resource_providers/{uuid}/usages`.
pub(crate) async fn usages(
    session: &Session,
    provider: &str,
) -> Result<ProviderUsages, CloudError> {
    let path = format!("/resource_providers/{provider}/usages");
    get(session, "reading usages", path).await
}

/// `GET /resource_providers/{uuid}/aggregates`.
pub(crate) async fn aggregates(
    session: &Session,
    provider: &str,
) -> Result<ProviderAggregates, CloudError> {
    let path = format!("/resource_providers/{provider}/aggregates");
    get(session, "reading aggregates", path).await
}

/// `GET /resource_providers/{uuid}/traits`.
pub(crate) async fn traits(
    session: &Session,
    provider: &str,
) -> Result<ProviderTraits, CloudError> {
    let path = format!("/resource_providers/{provider}/traits");
    get(session, "reading traits", path).await
}

/// `GET /allocations/{consumer}`.
pub(crate) async fn allocations(
    session: &Session,
    consumer: &str,
) -> Result<Allocations, CloudError> {
    let path = format!("/allocations/{consumer}");
    get(session, "reading allocations", path).await
}

async fn get<T: serde::de::DeserializeOwned>(
    session: &Session,
    what: &'static str,
    path: String,
) -> Result<T, CloudError> {
    let version = session
        .negotiate(
            Service::Placement,
            what,
            PLACEMENT_FLOOR,
            PLACEMENT_PREFERRED,
        )
        .await?;
    session
        .json(&ApiRequest::get(Service::Placement, path).microversion(version))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventories_and_usages_parse() {
        let inventories: ProviderInventories = serde_json::from_str(
            r#"{"resource_provider_generation": 5, "inventories": {
              "VCPU": {"total": 8, "reserved": 0, "min_unit": 1, "max_unit": 8,
                       "step_size": 1, "allocation_ratio": 16.0},
              "MEMORY_MB": {"total": 8192, "reserved": 512, "min_unit": 1, "max_unit": 8192,
                            "step_size": 1, "allocation_ratio": 1.5}}}"#,
        )
        .unwrap();
        assert_eq!(inventories.inventories["MEMORY_MB"].reserved, 512);
        assert!((inventories.inventories["VCPU"].allocation_ratio - 16.0).abs() < f64::EPSILON);
        let usages: ProviderUsages = serde_json::from_str(
            r#"{"resource_provider_generation": 5, "usages": {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 2}}"#,
        )
        .unwrap();
        assert_eq!(usages.usages["VCPU"], 2);
    }

    #[test]
    fn allocations_of_an_evacuated_server_span_two_providers() {
        let allocations: Allocations = serde_json::from_str(
            r#"{"allocations": {
              "rp-src": {"generation": 3, "resources": {"VCPU": 1, "MEMORY_MB": 512}},
              "rp-dst": {"generation": 9, "resources": {"VCPU": 1, "MEMORY_MB": 512}}},
              "project_id": "p", "user_id": "u", "consumer_generation": 2}"#,
        )
        .unwrap();
        assert_eq!(allocations.allocations.len(), 2);
    }
}
