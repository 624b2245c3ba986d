//! Nova hypervisors (`/os-hypervisors`): the compute nodes, whose ids are also their
//! Placement resource provider UUIDs.

use serde::{Deserialize, Serialize};

use crate::error::CloudError;
use crate::microversion::Microversion;
use crate::session::{ApiRequest, Service, Session};

/// 2.53 gives UUID ids (= resource provider UUIDs).
const HYPERVISORS_FLOOR: Microversion = Microversion::new(2, 53);
/// 2.88 drops the usage statistics (Placement is the source of truth for them) and
/// adds `uptime`; the statistics are read when an older cloud still sends them.
const HYPERVISORS_PREFERRED: Microversion = Microversion::new(2, 88);

/// A compute node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Hypervisor {
    /// UUID: the compute node's, and its Placement resource provider's.
    pub id: String,
    /// The node name (with the libvirt driver, the host's FQDN).
    pub hypervisor_hostname: String,
    /// `up` or `down` (its compute service's state).
    #[serde(default)]
    pub state: Option<String>,
    /// `enabled` or `disabled` (its compute service's status).
    #[serde(default)]
    pub status: Option<String>,
    /// The driver's type (`fake`, `QEMU`, ...).
    #[serde(default)]
    pub hypervisor_type: Option<String>,
    /// The host's IP address.
    #[serde(default)]
    pub host_ip: Option<String>,
    /// Its compute service.
    #[serde(default)]
    pub service: Option<HypervisorService>,
    /// Physical CPUs (before 2.88).
    #[serde(default)]
    pub vcpus: Option<u64>,
    /// Memory in MiB (before 2.88).
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// Local disk in GiB (before 2.88).
    #[serde(default)]
    pub local_gb: Option<u64>,
    /// Servers running (before 2.88).
    #[serde(default)]
    pub running_vms: Option<u64>,
}

/// The compute service of a hypervisor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct HypervisorService {
    /// The host name.
    pub host: String,
    /// The service's UUID.
    pub id: String,
    /// Why it is disabled, if it is.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

/// `GET /os-hypervisors/detail`, every page.
pub(crate) async fn list(session: &Session) -> Result<Vec<Hypervisor>, CloudError> {
    let version = session
        .negotiate(
            Service::Compute,
            "listing hypervisors",
            HYPERVISORS_FLOOR,
            HYPERVISORS_PREFERRED,
        )
        .await?;
    let request = ApiRequest::get(Service::Compute, "/os-hypervisors/detail").microversion(version);
    session
        .collect_pages(request, "hypervisors", "hypervisors_links")
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hypervisor_parses_with_and_without_statistics() {
        let new: Hypervisor = serde_json::from_str(
            r#"{"id": "u1", "hypervisor_hostname": "compute1", "state": "up", "status": "enabled",
            "hypervisor_type": "fake", "host_ip": "127.0.0.1", "uptime": null,
            "service": {"host": "compute1", "id": "s1", "disabled_reason": null}}"#,
        )
        .unwrap();
        assert_eq!(new.vcpus, None);
        assert_eq!(new.service.unwrap().host, "compute1");
        let old: Hypervisor = serde_json::from_str(
            r#"{"id": "u1", "hypervisor_hostname": "compute1", "vcpus": 8, "memory_mb": 8192,
            "local_gb": 100, "running_vms": 2, "cpu_info": {"arch": "x86_64"}}"#,
        )
        .unwrap();
        assert_eq!(old.running_vms, Some(2));
    }
}
