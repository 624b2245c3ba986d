//! Nova compute services (`/os-services`): liveness as Nova sees it, and the switches
//! lazarus flips on a failed host (forced_down, disabled).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::CloudError;
use crate::microversion::Microversion;
use crate::session::{ApiRequest, Service, Session};
use crate::timestamp::Timestamp;

/// 2.53 addresses services by UUID; 2.69 would add "UNKNOWN" entries for down cells,
/// which this adapter does not want to guess about, so 2.53 is also the newest used.
const SERVICES_VERSION: Microversion = Microversion::new(2, 53);

/// A `nova-compute` service, as `GET /os-services` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ComputeService {
    /// The service's UUID (from 2.53), used to update it.
    pub id: String,
    /// Always `nova-compute` here.
    pub binary: String,
    /// The compute host name (the `host` of its servers).
    pub host: String,
    /// The availability zone of the host.
    #[serde(default)]
    pub zone: Option<String>,
    /// Whether the scheduler may place servers on it.
    pub status: ServiceStatus,
    /// Whether Nova thinks it is alive: it reported within `service_down_time` and is
    /// not forced down.
    pub state: ServiceState,
    /// Whether an operator (or lazarus) declared it down.
    #[serde(default)]
    pub forced_down: bool,
    /// Why it was disabled. lazarus writes a recognisable prefix here and re-enables
    /// only services whose reason carries it.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// When it last reported (or was updated).
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

/// Whether a service takes new servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    /// The scheduler may use it.
    Enabled,
    /// The scheduler skips it.
    Disabled,
}

/// Whether Nova considers a service alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    /// Reporting, and not forced down.
    Up,
    /// Silent for longer than `service_down_time`, or forced down.
    Down,
}

/// A change to a compute service, sent as one `PUT /os-services/{id}` (2.53).
///
/// Use the constructors: they encode the orders that Nova needs. In particular
/// [`ServiceUpdate::force_down_and_disable`] sets both in one call, because disabling a
/// dead host that is not yet down makes nova-api wait on an RPC to it for
/// `rpc_response_timeout` (60 s measured on the devcloud; 0.01 s in one call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUpdate {
    /// New status, if it changes.
    pub status: Option<ServiceStatus>,
    /// The reason, with [`ServiceStatus::Disabled`] only.
    pub disabled_reason: Option<String>,
    /// New forced_down flag, if it changes.
    pub forced_down: Option<bool>,
}

impl ServiceUpdate {
    /// Fencing done: declare the host down and keep the scheduler off it, at once.
    pub fn force_down_and_disable(reason: impl Into<String>) -> Self {
        Self {
            status: Some(ServiceStatus::Disabled),
            disabled_reason: Some(reason.into()),
            forced_down: Some(true),
        }
    }

    /// Keep the scheduler off a host whose servers keep running (nova-compute or
    /// libvirtd failing on a live host).
    pub fn disable(reason: impl Into<String>) -> Self {
        Self {
            status: Some(ServiceStatus::Disabled),
            disabled_reason: Some(reason.into()),
            forced_down: None,
        }
    }

    /// Let the scheduler use the host again.
    pub fn enable() -> Self {
        Self {
            status: Some(ServiceStatus::Enabled),
            disabled_reason: None,
            forced_down: None,
        }
    }

    /// The host is back: lift forced_down and enable it. Nova answers 400
    /// ([`CloudError::EvacuationsStillDone`]) until the restarted compute has moved its
    /// evacuation records from `done` to `completed`.
    pub fn lift_forced_down_and_enable() -> Self {
        Self {
            status: Some(ServiceStatus::Enabled),
            disabled_reason: None,
            forced_down: Some(false),
        }
    }

    /// Lift forced_down only (the host stays disabled, for example because someone
    /// else disabled it).
    pub fn lift_forced_down() -> Self {
        Self {
            status: None,
            disabled_reason: None,
            forced_down: Some(false),
        }
    }

    /// The request body.
    fn body(&self) -> Value {
        let mut body = Map::new();
        if let Some(status) = self.status {
            body.insert("status".into(), json!(status));
            if status == ServiceStatus::Disabled {
                if let Some(reason) = &self.disabled_reason {
                    body.insert("disabled_reason".into(), json!(reason));
                }
            }
        }
        if let Some(forced_down) = self.forced_down {
            body.insert("forced_down".into(), json!(forced_down));
        }
        Value::Object(body)
    }
}

/// `GET /os-services?binary=nova-compute`.
pub(crate) async fn list(session: &Session) -> Result<Vec<ComputeService>, CloudError> {
    let version = negotiate(session, "listing compute services").await?;
    let request = ApiRequest::get(Service::Compute, "/os-services")
        .query("binary", "nova-compute")
        .microversion(version);
    let body: ServicesBody = session.json(&request).await?;
    Ok(body.services)
}

/// `PUT /os-services/{id}`.
pub(crate) async fn update(
    session: &Session,
    service_id: &str,
    update: &ServiceUpdate,
) -> Result<ComputeService, CloudError> {
    let version = negotiate(session, "updating a compute service").await?;
    let request = ApiRequest::new(
        Service::Compute,
        reqwest::Method::PUT,
        format!("/os-services/{service_id}"),
    )
    .microversion(version)
    .json(update.body());
    let body: ServiceBody = session.json(&request).await?;
    Ok(body.service)
}

async fn negotiate(session: &Session, what: &'static str) -> Result<Microversion, CloudError> {
    session
        .negotiate(Service::Compute, what, SERVICES_VERSION, SERVICES_VERSION)
        .await
}

#[derive(Deserialize)]
struct ServicesBody {
    services: Vec<ComputeService>,
}

#[derive(Deserialize)]
struct ServiceBody {
    service: ComputeService,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_down_and_disable_is_one_body() {
        assert_eq!(
            ServiceUpdate::force_down_and_disable("lazarus: host failed").body(),
            json!({"status": "disabled", "disabled_reason": "lazarus: host failed", "forced_down": true})
        );
    }

    #[test]
    fn enabling_never_sends_a_reason() {
        assert_eq!(
            ServiceUpdate::lift_forced_down_and_enable().body(),
            json!({"status": "enabled", "forced_down": false})
        );
        let mut odd = ServiceUpdate::enable();
        odd.disabled_reason = Some("ignored".into());
        assert_eq!(odd.body(), json!({"status": "enabled"}));
        assert_eq!(
            ServiceUpdate::lift_forced_down().body(),
            json!({"forced_down": false})
        );
    }

    #[test]
    fn a_service_list_parses() {
        let body: ServicesBody = serde_json::from_str(
            r#"{"services": [{"id": "4c9d1b8a-7d31-4c36-a2b5-5f9c7e0e9e53", "binary": "nova-compute",
              "disabled_reason": null, "host": "compute1", "state": "down", "status": "enabled",
              "updated_at": "2026-01-01T10:00:00.000000", "forced_down": true, "zone": "nova"}]}"#,
        )
        .unwrap();
        let service = &body.services[0];
        assert_eq!(service.state, ServiceState::Down);
        assert_eq!(service.status, ServiceStatus::Enabled);
        assert!(service.forced_down);
        assert_eq!(service.zone.as_deref(), Some("nova"));
    }
}
