//! The service catalog of a Keystone token, and endpoint selection from it.

use serde::Deserialize;

use crate::config::Interface;
use crate::error::CloudError;

/// The catalog Keystone returns with a project-scoped token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Catalog {
    services: Vec<CatalogService>,
}

/// One service of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogService {
    /// Service type, such as `compute` or `placement`.
    #[serde(rename = "type")]
    pub service_type: String,
    /// Service name, such as `nova`.
    #[serde(default)]
    pub name: Option<String>,
    /// Its endpoints.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of a catalog service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoint {
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// The region id.
    #[serde(default)]
    pub region_id: Option<String>,
    /// The same, under its legacy name (Keystone sends both; older ones only this).
    #[serde(default)]
    pub region: Option<String>,
    /// The base URL.
    pub url: String,
}

impl Catalog {
    /// Builds a catalog from services (tests and other adapters).
    pub fn new(services: Vec<CatalogService>) -> Self {
        Self { services }
    }

    /// The base URL (no trailing `/`) of the `service_type` endpoint with this
    /// interface, in `region` if one is given (the first match otherwise, as
    /// openstacksdk does). Older deployments name some types differently
    /// (`compute_legacy`, `os-placement`...); only the official type is accepted.
    pub fn endpoint(
        &self,
        service_type: &str,
        region: Option<&str>,
        interface: Interface,
    ) -> Result<String, CloudError> {
        self.services
            .iter()
            .filter(|s| s.service_type == service_type)
            .flat_map(|s| s.endpoints.iter())
            .filter(|e| e.interface == interface.as_str())
            .find(|e| region.is_none() || e.region_id.as_deref().or(e.region.as_deref()) == region)
            .map(|e| e.url.trim_end_matches('/').to_owned())
            .ok_or_else(|| CloudError::NoEndpoint {
                service_type: service_type.to_owned(),
                region: region.map(str::to_owned),
                interface: interface.as_str().to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        serde_json::from_value(serde_json::json!([
            {"type": "compute", "name": "nova", "id": "1", "endpoints": [
                {"id": "a", "interface": "public", "region_id": "RegionOne",
                 "region": "RegionOne", "url": "https://one.example/compute/v2.1/"},
                {"id": "b", "interface": "internal", "region_id": "RegionOne",
                 "region": "RegionOne", "url": "http://10.0.0.1:8774/v2.1"},
                {"id": "c", "interface": "public", "region_id": "RegionTwo",
                 "region": "RegionTwo", "url": "https://two.example/compute/v2.1"}]},
            {"type": "placement", "name": "placement", "id": "2", "endpoints": [
                {"id": "d", "interface": "public", "region": "RegionOne",
                 "url": "https://one.example/placement"}]}
        ]))
        .unwrap()
    }

    #[test]
    fn endpoints_are_chosen_by_type_region_and_interface() {
        let catalog = catalog();
        let pick = |t, r, i| catalog.endpoint(t, r, i).unwrap();
        assert_eq!(
            pick("compute", Some("RegionOne"), Interface::Public),
            "https://one.example/compute/v2.1"
        );
        assert_eq!(
            pick("compute", Some("RegionOne"), Interface::Internal),
            "http://10.0.0.1:8774/v2.1"
        );
        assert_eq!(
            pick("compute", Some("RegionTwo"), Interface::Public),
            "https://two.example/compute/v2.1"
        );
        assert_eq!(
            pick("placement", None, Interface::Public),
            "https://one.example/placement"
        );
    }

    #[test]
    fn a_missing_endpoint_says_what_was_looked_for() {
        let error = catalog()
            .endpoint("placement", Some("RegionTwo"), Interface::Public)
            .unwrap_err();
        assert!(!error.is_retryable());
        assert_eq!(
            error.to_string(),
            "no public endpoint for service type placement in region RegionTwo"
        );
    }
}
