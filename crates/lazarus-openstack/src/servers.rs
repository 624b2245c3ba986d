//! Nova servers: what is on a host, and the actions recovery takes on them
//! (evacuate, live migrate, reboot, stop, start, reset state, lock).

use std::collections::{BTreeMap, HashMap};

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use crate::error::CloudError;
use crate::microversion::Microversion;
use crate::server_groups;
use crate::session::{ApiRequest, Service, Session};
use crate::timestamp::Timestamp;

/// 2.47 embeds the flavor (vcpus, ram, disk, extra_specs) in the server.
const READ_FLOOR: Microversion = Microversion::new(2, 47);
/// 2.96 adds `pinned_availability_zone`; 2.71 (below it) adds `server_groups` to GET
/// of one server. Newer versions only add fields this adapter does not read.
const READ_PREFERRED: Microversion = Microversion::new(2, 96);
/// The server shows its groups from this version.
const SHOW_GROUPS: Microversion = Microversion::new(2, 71);
/// Evacuate with an optional host, no `onSharedStorage`, `force` defaulting to false.
const EVACUATE_FLOOR: Microversion = Microversion::new(2, 29);
/// The newest version that keeps the evacuated server's state (ACTIVE stays ACTIVE).
const EVACUATE_KEEP_STATE: Microversion = Microversion::new(2, 94);
/// From this version an evacuated server lands stopped (unless it was in ERROR).
const EVACUATE_STOPPED: Microversion = Microversion::new(2, 95);
/// Live migration with an optional host and `block_migration: "auto"`.
const LIVE_MIGRATE_FLOOR: Microversion = Microversion::new(2, 30);
/// 2.68 removes `force`: a given host is always checked by the scheduler.
const LIVE_MIGRATE_PREFERRED: Microversion = Microversion::new(2, 68);
/// Locking with a reason.
const LOCK_REASON: Microversion = Microversion::new(2, 73);

/// A server as `GET /servers/detail` shows it to an admin (2.47+).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Server {
    /// UUID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// API status: `ACTIVE`, `SHUTOFF`, `ERROR`, `REBUILD`, `MIGRATING`...
    pub status: String,
    /// The VM state, which decides what recovery may do with it.
    #[serde(rename = "OS-EXT-STS:vm_state", default)]
    pub vm_state: Option<VmState>,
    /// The task in progress (`rebuilding`, `migrating`, ...), if any.
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    pub task_state: Option<String>,
    /// The hypervisor's power state (1 running, 4 shutdown, ...).
    #[serde(rename = "OS-EXT-STS:power_state", default)]
    pub power_state: Option<u8>,
    /// The compute host it is on.
    #[serde(rename = "OS-EXT-SRV-ATTR:host", default)]
    pub host: Option<String>,
    /// The hypervisor node it is on.
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname", default)]
    pub hypervisor_hostname: Option<String>,
    /// The availability zone it is in.
    #[serde(rename = "OS-EXT-AZ:availability_zone", default)]
    pub availability_zone: Option<String>,
    /// The zone it was created in and must stay in (2.96), if pinned.
    #[serde(default)]
    pub pinned_availability_zone: Option<String>,
    /// Its flavor, embedded (2.47).
    #[serde(default)]
    pub flavor: Option<Flavor>,
    /// User metadata (lazarus reads its protection settings from here).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The image it was booted from; `None` when it boots from a volume.
    #[serde(rename = "image", default, deserialize_with = "image_id")]
    pub image_id: Option<String>,
    /// Attached volume ids.
    #[serde(
        rename = "os-extended-volumes:volumes_attached",
        default,
        deserialize_with = "volume_ids"
    )]
    pub volume_ids: Vec<String>,
    /// Whether it is locked.
    #[serde(default)]
    pub locked: Option<bool>,
    /// Why it is locked (2.73).
    #[serde(default)]
    pub locked_reason: Option<String>,
    /// The state of its host (`UP`, `DOWN`, `MAINTENANCE`, `UNKNOWN`; 2.16).
    #[serde(default)]
    pub host_status: Option<String>,
    /// The owning project.
    #[serde(rename = "tenant_id", default)]
    pub project_id: Option<String>,
    /// The owning user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// When it was first launched; never launched servers cannot be evacuated.
    #[serde(rename = "OS-SRV-USG:launched_at", default)]
    pub launched_at: Option<Timestamp>,
    /// When it was last updated.
    #[serde(default)]
    pub updated: Option<Timestamp>,
    /// The server groups it belongs to (Nova allows at most one).
    #[serde(default)]
    pub server_groups: Vec<String>,
}

/// The flavor embedded in a server (2.47).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Flavor {
    /// The flavor's name when the server was created.
    #[serde(default)]
    pub original_name: Option<String>,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub ram: u64,
    /// Root disk in GiB.
    pub disk: u64,
    /// Ephemeral disk in GiB.
    #[serde(default)]
    pub ephemeral: u64,
    /// Swap in MiB.
    #[serde(default)]
    pub swap: u64,
    /// Extra specs (shown to admins).
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

/// Nova's `vm_state`. Evacuation accepts servers that are [`VmState::Active`],
/// [`VmState::Stopped`] or [`VmState::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VmState {
    /// Running.
    Active,
    /// Being created.
    Building,
    /// Paused.
    Paused,
    /// Suspended.
    Suspended,
    /// Stopped (`SHUTOFF`).
    Stopped,
    /// In rescue mode.
    Rescued,
    /// Resized, waiting for confirmation.
    Resized,
    /// Soft-deleted.
    #[serde(rename = "soft-delete")]
    SoftDeleted,
    /// Deleted.
    Deleted,
    /// Failed.
    Error,
    /// Shelved.
    Shelved,
    /// Shelved and removed from its host.
    ShelvedOffloaded,
    /// A state this adapter does not know.
    #[serde(other)]
    Other,
}

impl VmState {
    /// Whether Nova accepts an evacuation of a server in this state.
    pub fn is_evacuable(self) -> bool {
        matches!(self, Self::Active | Self::Stopped | Self::Error)
    }
}

/// How an evacuated server should arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArrivalState {
    /// As it was: ACTIVE stays ACTIVE, stopped stays stopped (microversion up to
    /// 2.94, the newest the cloud offers).
    #[default]
    KeepState,
    /// Stopped at the destination, unless it was in ERROR (2.95). Refused by clouds
    /// older than 2.95.
    Stopped,
}

/// Options of an evacuation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvacuateOptions {
    /// The host to evacuate to; `None` lets the scheduler choose. A given host is still
    /// checked by the scheduler (from 2.68; before, `force` stays false).
    pub target_host: Option<String>,
    /// How the server should arrive.
    pub arrival: ArrivalState,
}

/// A state to force a server into with `os-resetState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetState {
    /// `active`: clears an ERROR left by a failed operation on a healthy server.
    Active,
    /// `error`: marks a server as failed, so that it can be evacuated or rebuilt.
    Error,
}

/// The simple server actions (`POST /servers/{id}/action`), all answered 202 and
/// carried out in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAction {
    /// Power cycle (`reboot` HARD).
    HardReboot,
    /// Power off (`os-stop`).
    Stop,
    /// Power on (`os-start`).
    Start,
    /// Force the server's state (`os-resetState`).
    ResetState(ResetState),
    /// Lock the server so non-admins cannot act on it; with a reason from 2.73.
    Lock {
        /// Why, shown to users.
        reason: Option<String>,
    },
    /// Unlock it.
    Unlock,
}

impl ServerAction {
    fn body(&self) -> Value {
        match self {
            Self::HardReboot => json!({"reboot": {"type": "HARD"}}),
            Self::Stop => json!({"os-stop": null}),
            Self::Start => json!({"os-start": null}),
            Self::ResetState(ResetState::Active) => json!({"os-resetState": {"state": "active"}}),
            Self::ResetState(ResetState::Error) => json!({"os-resetState": {"state": "error"}}),
            Self::Lock {
                reason: Some(reason),
            } => json!({"lock": {"locked_reason": reason}}),
            Self::Lock { reason: None } => json!({"lock": null}),
            Self::Unlock => json!({"unlock": null}),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::HardReboot => "hard reboot",
            Self::Stop => "stop",
            Self::Start => "start",
            Self::ResetState(_) => "reset state",
            Self::Lock { .. } => "lock",
            Self::Unlock => "unlock",
        }
    }
}

/// All servers on `host`, of every project, with their server groups.
pub(crate) async fn list_on_host(session: &Session, host: &str) -> Result<Vec<Server>, CloudError> {
    let version = read_version(session, "listing servers").await?;
    let request = ApiRequest::get(Service::Compute, "/servers/detail")
        .query("all_tenants", "true")
        .query("host", host)
        .microversion(version);
    let mut servers: Vec<Server> = session
        .collect_pages(request, "servers", "servers_links")
        .await?;
    if !servers.is_empty() {
        let groups = server_groups::list(session).await?;
        let mut membership: HashMap<&str, Vec<String>> = HashMap::new();
        for group in &groups {
            for member in &group.members {
                membership.entry(member).or_default().push(group.id.clone());
            }
        }
        for server in &mut servers {
            server.server_groups = membership.remove(server.id.as_str()).unwrap_or_default();
        }
    }
    Ok(servers)
}

/// One server, with its server groups.
pub(crate) async fn get(session: &Session, server_id: &str) -> Result<Server, CloudError> {
    let version = read_version(session, "showing a server").await?;
    let request =
        ApiRequest::get(Service::Compute, format!("/servers/{server_id}")).microversion(version);
    let mut server = session.json::<ServerBody>(&request).await?.server;
    if version < SHOW_GROUPS {
        server.server_groups = server_groups::list(session)
            .await?
            .into_iter()
            .filter(|g| g.members.contains(&server.id))
            .map(|g| g.id)
            .collect();
    }
    Ok(server)
}

/// `evacuate`: rebuild the server on another host. Nova answers at once; the rebuild
/// runs in the background and shows in the server's state and its evacuation
/// migration record.
pub(crate) async fn evacuate(
    session: &Session,
    server_id: &str,
    options: &EvacuateOptions,
) -> Result<(), CloudError> {
    let version = match options.arrival {
        ArrivalState::KeepState => {
            session
                .negotiate(
                    Service::Compute,
                    "evacuate",
                    EVACUATE_FLOOR,
                    EVACUATE_KEEP_STATE,
                )
                .await?
        }
        ArrivalState::Stopped => {
            session
                .negotiate(
                    Service::Compute,
                    "evacuate to a stopped server",
                    EVACUATE_STOPPED,
                    EVACUATE_STOPPED,
                )
                .await?
        }
    };
    let mut evacuate = json!({});
    if let Some(host) = &options.target_host {
        evacuate["host"] = json!(host);
    }
    action(
        session,
        server_id,
        json!({ "evacuate": evacuate }),
        Some(version),
    )
    .await
}

/// `os-migrateLive` with `block_migration: "auto"`; the scheduler picks the host if
/// none is given.
pub(crate) async fn live_migrate(
    session: &Session,
    server_id: &str,
    target_host: Option<&str>,
) -> Result<(), CloudError> {
    let version = session
        .negotiate(
            Service::Compute,
            "live migrate",
            LIVE_MIGRATE_FLOOR,
            LIVE_MIGRATE_PREFERRED,
        )
        .await?;
    let body = json!({"os-migrateLive": {"host": target_host, "block_migration": "auto"}});
    action(session, server_id, body, Some(version)).await
}

/// One of the simple actions.
pub(crate) async fn run_action(
    session: &Session,
    server_id: &str,
    server_action: &ServerAction,
) -> Result<(), CloudError> {
    let version = match server_action {
        ServerAction::Lock { reason: Some(_) } => Some(
            session
                .negotiate(
                    Service::Compute,
                    "lock with a reason",
                    LOCK_REASON,
                    LOCK_REASON,
                )
                .await?,
        ),
        _ => None,
    };
    tracing::debug!(server_id, action = server_action.name(), "server action");
    action(session, server_id, server_action.body(), version).await
}

async fn action(
    session: &Session,
    server_id: &str,
    body: Value,
    version: Option<Microversion>,
) -> Result<(), CloudError> {
    let mut request = ApiRequest::new(
        Service::Compute,
        Method::POST,
        format!("/servers/{server_id}/action"),
    )
    .json(body);
    if let Some(version) = version {
        request = request.microversion(version);
    }
    session.send(&request).await.map(drop)
}

async fn read_version(session: &Session, what: &'static str) -> Result<Microversion, CloudError> {
    session
        .negotiate(Service::Compute, what, READ_FLOOR, READ_PREFERRED)
        .await
}

#[derive(Deserialize)]
pub(crate) struct ServerBody {
    pub(crate) server: Server,
}

/// `"image": ""` (boot from volume) or `{"id": ..., "links": [...]}`.
fn image_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(value.get("id").and_then(Value::as_str).map(str::to_owned))
}

/// `[{"id": ..., "delete_on_termination": ...}]`.
fn volume_ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(value
        .as_array()
        .map(|volumes| {
            volumes
                .iter()
                .filter_map(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_bodies_match_the_api_reference() {
        assert_eq!(
            ServerAction::HardReboot.body(),
            json!({"reboot": {"type": "HARD"}})
        );
        assert_eq!(
            ServerAction::ResetState(ResetState::Error).body(),
            json!({"os-resetState": {"state": "error"}})
        );
        assert_eq!(
            ServerAction::Lock {
                reason: Some("lazarus: recovering".into())
            }
            .body(),
            json!({"lock": {"locked_reason": "lazarus: recovering"}})
        );
        assert_eq!(ServerAction::Stop.body(), json!({"os-stop": null}));
    }

    #[test]
    fn only_active_stopped_and_error_servers_are_evacuable() {
        assert!(VmState::Active.is_evacuable());
        assert!(VmState::Stopped.is_evacuable());
        assert!(VmState::Error.is_evacuable());
        assert!(!VmState::Building.is_evacuable());
        assert!(!VmState::ShelvedOffloaded.is_evacuable());
    }

    #[test]
    fn a_server_detail_parses_with_its_embedded_flavor() {
        let body: ServerBody = serde_json::from_str(
            r#"{"server": {"id": "s1", "name": "vm", "status": "ACTIVE",
            "OS-EXT-STS:vm_state": "soft-delete", "OS-EXT-STS:task_state": null,
            "OS-EXT-STS:power_state": 1, "OS-EXT-SRV-ATTR:host": "compute1",
            "OS-EXT-AZ:availability_zone": "nova", "image": "",
            "os-extended-volumes:volumes_attached": [{"id": "v1", "delete_on_termination": false}],
            "flavor": {"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0,
              "original_name": "m1.tiny", "extra_specs": {"hw:cpu_policy": "dedicated"}},
            "metadata": {"ha": "high"}, "tenant_id": "p1", "locked": false,
            "OS-EXT-STS:future_field": "x"}}"#,
        )
        .unwrap();
        let server = body.server;
        assert_eq!(server.vm_state, Some(VmState::SoftDeleted));
        assert_eq!(server.image_id, None);
        assert_eq!(server.volume_ids, vec!["v1".to_owned()]);
        let flavor = server.flavor.unwrap();
        assert_eq!((flavor.vcpus, flavor.ram, flavor.disk), (1, 512, 1));
        assert_eq!(flavor.extra_specs["hw:cpu_policy"], "dedicated");
        assert_eq!(server.project_id.as_deref(), Some("p1"));
    }
}
