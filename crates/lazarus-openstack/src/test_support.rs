//! Helpers for tests against a real cloud (feature `test-support`): boot a server on
//! a chosen host, delete it, look up images and flavors. lazarus itself never creates
//! or deletes servers, so these are not part of [`crate::Cloud`].

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::OpenStackClient;
use crate::error::CloudError;
use crate::microversion::Microversion;
use crate::servers::{Server, ServerBody};
use crate::session::{ApiRequest, Service};

/// `"networks": "none"` needs 2.37.
const BOOT_FLOOR: Microversion = Microversion::new(2, 37);
const BOOT_PREFERRED: Microversion = Microversion::new(2, 96);

/// What to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootRequest {
    /// Display name.
    pub name: String,
    /// Image UUID.
    pub image_id: String,
    /// Flavor id.
    pub flavor_id: String,
    /// Force the host (admin only): sent as `availability_zone: "<zone>:<host>"`.
    pub host: Option<String>,
    /// The zone to use with `host` (default `nova`).
    pub zone: Option<String>,
    /// Server metadata.
    pub metadata: Vec<(String, String)>,
    /// A server group to put it in.
    pub server_group: Option<String>,
}

impl OpenStackClient {
    /// Boots a server with no network (`"networks": "none"`); returns its UUID at
    /// once, before it is ACTIVE.
    pub async fn boot_server(&self, boot: &BootRequest) -> Result<String, CloudError> {
        let version = self
            .session
            .negotiate(Service::Compute, "boot", BOOT_FLOOR, BOOT_PREFERRED)
            .await?;
        let metadata: serde_json::Map<String, Value> = boot
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let mut server = json!({
            "name": boot.name,
            "imageRef": boot.image_id,
            "flavorRef": boot.flavor_id,
            "networks": "none",
            "metadata": metadata,
        });
        if let Some(host) = &boot.host {
            let zone = boot.zone.as_deref().unwrap_or("nova");
            server["availability_zone"] = json!(format!("{zone}:{host}"));
        }
        let mut body = json!({ "server": server });
        if let Some(group) = &boot.server_group {
            body["os:scheduler_hints"] = json!({ "group": group });
        }
        let request = ApiRequest::new(Service::Compute, Method::POST, "/servers")
            .microversion(version)
            .json(body);
        #[derive(Deserialize)]
        struct Created {
            server: CreatedServer,
        }
        #[derive(Deserialize)]
        struct CreatedServer {
            id: String,
        }
        let created: Created = self.session.json(&request).await?;
        Ok(created.server.id)
    }

    /// Revokes this client's current Keystone token but keeps using it, so that the
    /// next call is answered 401 (once the services stop trusting their cache).
    pub async fn revoke_token(&self) -> Result<(), CloudError> {
        self.session.auth().revoke_current().await
    }

    /// Deletes a server (`DELETE /servers/{id}`); Nova deletes it in the background.
    pub async fn delete_server(&self, server_id: &str) -> Result<(), CloudError> {
        let request = ApiRequest::new(
            Service::Compute,
            Method::DELETE,
            format!("/servers/{server_id}"),
        );
        self.session.send(&request).await.map(drop)
    }

    /// Every server of every project, with a name starting with `prefix` (to clean up
    /// what earlier test runs left).
    pub async fn list_servers_named(&self, prefix: &str) -> Result<Vec<Server>, CloudError> {
        let version = self
            .session
            .negotiate(
                Service::Compute,
                "listing servers",
                BOOT_FLOOR,
                BOOT_PREFERRED,
            )
            .await?;
        let request = ApiRequest::get(Service::Compute, "/servers/detail")
            .query("all_tenants", "true")
            .query("name", format!("^{prefix}"))
            .microversion(version);
        self.session
            .collect_pages(request, "servers", "servers_links")
            .await
    }

    /// A server without its server groups (one request, for polling).
    pub async fn get_server_quick(&self, server_id: &str) -> Result<Server, CloudError> {
        let version = self
            .session
            .negotiate(
                Service::Compute,
                "showing a server",
                BOOT_FLOOR,
                BOOT_PREFERRED,
            )
            .await?;
        let request = ApiRequest::get(Service::Compute, format!("/servers/{server_id}"))
            .microversion(version);
        Ok(self.session.json::<ServerBody>(&request).await?.server)
    }

    /// The UUID of the Glance image with this name.
    pub async fn find_image_id(&self, name: &str) -> Result<Option<String>, CloudError> {
        let request = ApiRequest::get(Service::Image, "/v2/images").query("name", name);
        let body: Value = self.session.json(&request).await?;
        Ok(first_id(&body, "images"))
    }

    /// The id of the flavor with this name.
    pub async fn find_flavor_id(&self, name: &str) -> Result<Option<String>, CloudError> {
        let request = ApiRequest::get(Service::Compute, "/flavors");
        let body: Value = self.session.json(&request).await?;
        Ok(body
            .get("flavors")
            .and_then(Value::as_array)
            .and_then(|flavors| {
                flavors
                    .iter()
                    .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
            })
            .and_then(|f| f.get("id").and_then(Value::as_str))
            .map(str::to_owned))
    }

    /// Creates a server group with this policy; returns its UUID.
    pub async fn create_server_group(
        &self,
        name: &str,
        policy: &str,
    ) -> Result<String, CloudError> {
        let version = self
            .session
            .negotiate(
                Service::Compute,
                "creating a server group",
                Microversion::new(2, 64),
                Microversion::new(2, 64),
            )
            .await?;
        let request = ApiRequest::new(Service::Compute, Method::POST, "/os-server-groups")
            .microversion(version)
            .json(json!({"server_group": {"name": name, "policy": policy}}));
        let body: Value = self.session.json(&request).await?;
        body.pointer("/server_group/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| CloudError::InvalidResponse {
                request: crate::error::RequestInfo {
                    method: "POST".into(),
                    path: "/os-server-groups".into(),
                    request_id: None,
                },
                detail: "no server_group.id".into(),
            })
    }

    /// Deletes a server group.
    pub async fn delete_server_group(&self, group_id: &str) -> Result<(), CloudError> {
        let request = ApiRequest::new(
            Service::Compute,
            Method::DELETE,
            format!("/os-server-groups/{group_id}"),
        );
        self.session.send(&request).await.map(drop)
    }
}

fn first_id(body: &Value, key: &str) -> Option<String> {
    body.get(key)?
        .as_array()?
        .first()?
        .get("id")?
        .as_str()
        .map(str::to_owned)
}
