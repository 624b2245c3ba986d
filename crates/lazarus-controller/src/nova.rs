//! Translations between the OpenStack adapter's types and the core's.
//!
//! Adapter errors become the core's error kinds (which decide retries); Nova servers
//! become the core's instances and observations; compute services become
//! [`NovaService`] observations, with "reporting" judged from fresh service reports
//! (see [`Liveness`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use lazarus_core::event::{
    EvacuationError, InstanceObservation, MigrationStatus, NovaError, NovaService,
};
use lazarus_core::model::{Instance, Resources, RestartPriority, VmState};
use lazarus_core::{HostName, InstanceId, ServerGroupId, Timestamp};
use lazarus_openstack::{
    CloudError, ComputeService, Migration, Server, ServiceState, ServiceStatus,
    VmState as NovaVmState,
};

use crate::config::InstancesSection;

/// A failed Nova call other than evacuate, as the core sees it.
pub fn nova_error(e: &CloudError) -> NovaError {
    match e {
        CloudError::BadRequest { message, .. }
        | CloudError::EvacuationsStillDone { message, .. } => {
            NovaError::BadRequest(message.clone())
        }
        CloudError::NotFound { .. } => NovaError::NotFound,
        CloudError::Conflict { message, .. } | CloudError::ComputeServiceInUse { message, .. } => {
            NovaError::Conflict(message.clone())
        }
        CloudError::ServerError { status, .. } => NovaError::ServerError(*status),
        CloudError::RateLimited { .. } => NovaError::ServerError(429),
        // Whether a request that could not be sent or answered took effect is unknown:
        // the core treats a timeout as "retry, effect unknown".
        CloudError::Timeout { .. } | CloudError::Unreachable { .. } => NovaError::Timeout,
        CloudError::Forbidden { .. }
        | CloudError::Unauthorized { .. }
        | CloudError::UnexpectedStatus { .. }
        | CloudError::InvalidRequest { .. }
        | CloudError::InvalidResponse { .. }
        | CloudError::UnsupportedMicroversion { .. }
        | CloudError::NoEndpoint { .. } => NovaError::Other(e.to_string()),
    }
}

/// A failed evacuate call, as the core sees it.
pub fn evacuation_error(e: &CloudError) -> EvacuationError {
    match e {
        CloudError::ComputeServiceInUse { .. } => EvacuationError::ComputeServiceInUse,
        CloudError::Conflict { message, .. } => EvacuationError::Conflict(message.clone()),
        CloudError::ServerError { status, .. } => EvacuationError::ServerError(*status),
        CloudError::RateLimited { .. } => EvacuationError::ServerError(429),
        CloudError::Timeout { .. } | CloudError::Unreachable { .. } => EvacuationError::Timeout,
        CloudError::NotFound { .. } => EvacuationError::NotFound,
        CloudError::BadRequest { .. }
        | CloudError::EvacuationsStillDone { .. }
        | CloudError::Forbidden { .. }
        | CloudError::Unauthorized { .. }
        | CloudError::UnexpectedStatus { .. }
        | CloudError::InvalidRequest { .. }
        | CloudError::InvalidResponse { .. }
        | CloudError::UnsupportedMicroversion { .. }
        | CloudError::NoEndpoint { .. } => EvacuationError::Other(e.to_string()),
    }
}

/// Nova's `vm_state` as the core knows it.
pub fn vm_state(s: Option<NovaVmState>) -> VmState {
    match s {
        Some(NovaVmState::Active) => VmState::Active,
        Some(NovaVmState::Stopped) => VmState::Stopped,
        Some(NovaVmState::Error) => VmState::Error,
        Some(NovaVmState::Paused) => VmState::Paused,
        Some(NovaVmState::Suspended) => VmState::Suspended,
        Some(
            NovaVmState::Building
            | NovaVmState::Rescued
            | NovaVmState::Resized
            | NovaVmState::SoftDeleted
            | NovaVmState::Deleted
            | NovaVmState::Shelved
            | NovaVmState::ShelvedOffloaded
            | NovaVmState::Other,
        )
        | None => VmState::Other,
    }
}

/// The status of an evacuation migration record. Statuses Nova uses for other kinds of
/// migration count as still running.
pub fn migration_status(status: &str) -> MigrationStatus {
    match status {
        "accepted" => MigrationStatus::Accepted,
        "done" => MigrationStatus::Done,
        "completed" => MigrationStatus::Completed,
        "failed" => MigrationStatus::Failed,
        "error" => MigrationStatus::Error,
        _ => MigrationStatus::PreMigrating,
    }
}

/// The most recent of a server's evacuation records.
pub fn latest_migration(migrations: &[Migration]) -> Option<&Migration> {
    migrations
        .iter()
        .max_by(|a, b| (a.created_at.as_str(), a.id).cmp(&(b.created_at.as_str(), b.id)))
}

/// What the core learns from reading one server (answer to `CheckInstance`).
pub fn observation(
    id: &InstanceId,
    server: Option<&Server>,
    migration: Option<&Migration>,
) -> InstanceObservation {
    InstanceObservation {
        instance: id.clone(),
        host: server.and_then(|s| s.host.clone()).map(HostName::from),
        vm_state: server.map_or(VmState::Other, checked_vm_state),
        task_state: server.and_then(|s| s.task_state.clone()),
        migration: migration.map(|m| migration_status(&m.status)),
    }
}

/// Nova's power states of a guest that is not running: `SHUTDOWN` and `CRASHED`.
const POWER_STATES_OFF: [u8; 2] = [4, 6];

/// A server's state as a check must judge it. A host that reset shuts its guests off
/// without Nova's `vm_state` following: it stays `active` until Nova's power-state sync
/// (every `sync_power_state_interval`, 10 min by default) stops the server. With no
/// task running, an `active` server whose guest Nova reads shut down or crashed is
/// taken as stopped, as the sync will conclude; so a guest a reset shut off is found
/// and restarted in place at once rather than up to 10 min later.
pub fn checked_vm_state(server: &Server) -> VmState {
    let state = vm_state(server.vm_state);
    let off = server
        .power_state
        .is_some_and(|p| POWER_STATES_OFF.contains(&p));
    if state == VmState::Active && off && server.task_state.is_none() {
        VmState::Stopped
    } else {
        state
    }
}

/// The restart priority a server's metadata asks for (see `[instances]`).
pub fn priority(metadata: &BTreeMap<String, String>, cfg: &InstancesSection) -> RestartPriority {
    if let Some(v) = metadata.get(&cfg.priority_key) {
        if let Some(p) = parse_priority(v) {
            return p;
        }
        tracing::warn!(
            key = %cfg.priority_key,
            value = %v,
            "unknown restart priority in server metadata; using the default"
        );
    }
    if cfg.honour_ha_enabled {
        if let Some(v) = metadata.get("HA_Enabled") {
            return if v.eq_ignore_ascii_case("false") {
                RestartPriority::Disabled
            } else {
                RestartPriority::Medium
            };
        }
    }
    if cfg.protect_by_default {
        RestartPriority::Medium
    } else {
        RestartPriority::Disabled
    }
}

fn parse_priority(v: &str) -> Option<RestartPriority> {
    match v.trim().to_ascii_lowercase().as_str() {
        "disabled" | "none" | "off" | "false" => Some(RestartPriority::Disabled),
        "lowest" => Some(RestartPriority::Lowest),
        "low" => Some(RestartPriority::Low),
        "medium" | "true" => Some(RestartPriority::Medium),
        "high" => Some(RestartPriority::High),
        "highest" => Some(RestartPriority::Highest),
        _ => None,
    }
}

/// A Nova server as the core's instance, if it has a host.
pub fn instance(server: &Server, cfg: &InstancesSection) -> Option<Instance> {
    let host = server.host.clone()?;
    let resources = server
        .flavor
        .as_ref()
        .map(|f| {
            // Placement's DISK_GB counts root, ephemeral and swap (MiB, rounded up).
            let swap_gb = f.swap.div_ceil(1024);
            Resources::new(
                u64::from(f.vcpus),
                f.ram,
                f.disk.saturating_add(f.ephemeral).saturating_add(swap_gb),
            )
        })
        .unwrap_or(Resources::ZERO);
    Some(Instance {
        id: InstanceId::from(server.id.as_str()),
        name: server.name.clone(),
        host: HostName::from(host),
        resources,
        pinned_az: server.pinned_availability_zone.clone(),
        server_group: server
            .server_groups
            .first()
            .map(|g| ServerGroupId::from(g.as_str())),
        priority: priority(&server.metadata, cfg),
        vm_state: vm_state(server.vm_state),
    })
}

/// Judges whether each compute process is alive from its service record's
/// `updated_at`, which the compute bumps every `report_interval`.
///
/// Nova's own `state` cannot tell: a forced-down service is `down` whether its process
/// runs or not, and a freshly killed one stays `up` for `service_down_time`. A compute
/// counts as reporting once two fresh reports were seen within 3.5 report intervals:
/// one could be a report written just before it died, two cannot. Writes lazarus makes
/// itself (forcing down, disabling) also bump `updated_at`; those are not reports and
/// are ignored.
#[derive(Debug, Default)]
pub struct Liveness {
    window: Duration,
    hosts: HashMap<HostName, HostLiveness>,
}

#[derive(Debug, Default)]
struct HostLiveness {
    /// When this tracker first read the service: before a whole window has passed, a
    /// compute that is not (yet) reporting may simply not have been watched long enough.
    first_seen: Option<Timestamp>,
    last_value: Option<String>,
    /// (when seen, value) of each advance of `updated_at`.
    advances: VecDeque<(Timestamp, String)>,
    /// `updated_at` values written by lazarus's own updates.
    ours: VecDeque<String>,
}

impl Liveness {
    /// A tracker for computes that report every `report_interval`.
    pub fn new(report_interval: Duration) -> Self {
        Self {
            window: report_interval.saturating_mul(7) / 2,
            hosts: HashMap::new(),
        }
    }

    /// Records that lazarus's own update left `updated_at` at `value`.
    pub fn our_write(&mut self, host: &HostName, value: &str) {
        let h = self.hosts.entry(host.clone()).or_default();
        h.advances.retain(|(_, v)| v != value);
        h.ours.push_back(value.to_owned());
        while h.ours.len() > 8 {
            h.ours.pop_front();
        }
    }

    /// Records a reading of the service at `now`; returns whether it is reporting.
    pub fn observe(&mut self, host: &HostName, updated_at: Option<&str>, now: Timestamp) -> bool {
        let window = self.window;
        let h = self.hosts.entry(host.clone()).or_default();
        h.first_seen.get_or_insert(now);
        if let Some(value) = updated_at {
            let changed = h.last_value.as_deref().is_some_and(|last| last != value);
            if changed && !h.ours.iter().any(|v| v == value) {
                h.advances.push_back((now, value.to_owned()));
            }
            h.last_value = Some(value.to_owned());
        }
        while h
            .advances
            .front()
            .is_some_and(|(t, _)| now.saturating_since(*t) > window)
        {
            h.advances.pop_front();
        }
        h.advances.len() >= 2
    }
}

impl Liveness {
    /// Whether `host` has been watched for a whole window by `now`, so that "not
    /// reporting" means its reports stopped rather than that too few were seen yet
    /// (right after the controller started, or after the host was added).
    pub fn watched_long_enough(&self, host: &HostName, now: Timestamp) -> bool {
        self.hosts
            .get(host)
            .and_then(|h| h.first_seen)
            .is_some_and(|t| now.saturating_since(t) >= self.window)
    }
}

/// Nova's view of one compute service, for the core.
pub fn service(s: &ComputeService, reporting: bool) -> NovaService {
    NovaService {
        host: HostName::from(s.host.as_str()),
        reporting,
        up: s.state == ServiceState::Up,
        forced_down: s.forced_down,
        disabled: s.status == ServiceStatus::Disabled,
        disabled_reason: s.disabled_reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(vm_state: &str, power_state: u8, task_state: Option<&str>) -> Server {
        serde_json::from_value(serde_json::json!({
            "id": "i1", "name": "i1", "status": "ACTIVE",
            "OS-EXT-STS:vm_state": vm_state, "OS-EXT-STS:power_state": power_state,
            "OS-EXT-STS:task_state": task_state, "OS-EXT-SRV-ATTR:host": "c1",
            "flavor": {"vcpus": 1, "ram": 64, "disk": 1}
        }))
        .unwrap()
    }

    #[test]
    fn an_active_server_whose_guest_is_shut_down_or_crashed_is_checked_as_stopped() {
        assert_eq!(
            checked_vm_state(&server("active", 4, None)),
            VmState::Stopped
        );
        assert_eq!(
            checked_vm_state(&server("active", 6, None)),
            VmState::Stopped
        );
        assert_eq!(
            checked_vm_state(&server("active", 1, None)),
            VmState::Active
        );
        assert_eq!(
            checked_vm_state(&server("active", 4, Some("rebooting_hard"))),
            VmState::Active,
            "a task is under way: its own outcome decides"
        );
        assert_eq!(
            checked_vm_state(&server("stopped", 4, None)),
            VmState::Stopped
        );
        assert_eq!(checked_vm_state(&server("error", 1, None)), VmState::Error);
    }

    fn at(s: u64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn one_fresh_report_is_not_enough_to_count_as_reporting() {
        let mut l = Liveness::new(Duration::from_secs(10));
        let h = HostName::from("c1");
        assert!(!l.observe(&h, Some("t0"), at(0)));
        assert!(
            !l.observe(&h, Some("t1"), at(2)),
            "could be its last report"
        );
        assert!(!l.observe(&h, Some("t1"), at(10)));
        assert!(l.observe(&h, Some("t2"), at(12)));
    }

    #[test]
    fn a_compute_is_watched_long_enough_only_a_whole_window_after_its_first_reading() {
        let mut l = Liveness::new(Duration::from_secs(10));
        let h = HostName::from("c1");
        assert!(!l.watched_long_enough(&h, at(0)), "never read");
        l.observe(&h, Some("t0"), at(100));
        assert!(!l.watched_long_enough(&h, at(134)));
        l.observe(&h, Some("t0"), at(134));
        assert!(l.watched_long_enough(&h, at(135)));
        assert!(!l.watched_long_enough(&HostName::from("c2"), at(135)));
    }

    #[test]
    fn a_dead_compute_stops_reporting_once_its_reports_age_out() {
        let mut l = Liveness::new(Duration::from_secs(10));
        let h = HostName::from("c1");
        l.observe(&h, Some("t0"), at(0));
        l.observe(&h, Some("t1"), at(10));
        assert!(l.observe(&h, Some("t2"), at(20)));
        assert!(l.observe(&h, Some("t2"), at(40)));
        assert!(!l.observe(&h, Some("t2"), at(60)));
    }

    #[test]
    fn lazarus_own_writes_are_not_reports() {
        let mut l = Liveness::new(Duration::from_secs(10));
        let h = HostName::from("c1");
        l.observe(&h, Some("t0"), at(0));
        l.observe(&h, Some("t1"), at(2));
        l.our_write(&h, "forced");
        assert!(!l.observe(&h, Some("forced"), at(3)));
        // Even when the poll saw our write before we learnt it was ours.
        l.observe(&h, Some("enabled"), at(5));
        l.our_write(&h, "enabled");
        assert!(!l.observe(&h, Some("enabled"), at(6)));
    }

    #[test]
    fn priority_comes_from_our_key_then_masakari_ha_enabled_then_the_default() {
        let cfg = InstancesSection::default();
        let md = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert_eq!(
            priority(&md("lazarus:priority", "highest"), &cfg),
            RestartPriority::Highest
        );
        assert_eq!(
            priority(&md("HA_Enabled", "False"), &cfg),
            RestartPriority::Disabled
        );
        assert_eq!(priority(&BTreeMap::new(), &cfg), RestartPriority::Medium);
        let strict = InstancesSection {
            protect_by_default: false,
            ..cfg
        };
        assert_eq!(
            priority(&BTreeMap::new(), &strict),
            RestartPriority::Disabled
        );
    }

    #[test]
    fn evacuation_records_map_onto_the_cores_statuses() {
        assert_eq!(migration_status("accepted"), MigrationStatus::Accepted);
        assert_eq!(
            migration_status("pre-migrating"),
            MigrationStatus::PreMigrating
        );
        assert_eq!(migration_status("done"), MigrationStatus::Done);
        assert_eq!(migration_status("completed"), MigrationStatus::Completed);
        assert_eq!(migration_status("failed"), MigrationStatus::Failed);
        assert!(migration_status("migrating").in_progress());
    }
}
