//! A simulated Nova with the semantics instance HA depends on (domain facts §1):
//! service liveness from reports and `forced_down`, evacuation that answers at once and
//! runs in the background, `ComputeServiceInUse`, no reschedule, migration records, and
//! the refusal to lift `forced_down` while evacuation records are `done`.

use std::collections::{BTreeMap, BTreeSet};

use lazarus_core::model::{Resources, VmState};
use lazarus_core::{InstanceId, ServerGroupId};

/// Nova's default `service_down_time`.
pub const SERVICE_DOWN_MS: u64 = 60_000;
/// Nova's default `report_interval`.
pub const REPORT_INTERVAL_MS: u64 = 10_000;

/// One nova-compute service record.
#[derive(Debug, Clone, Default)]
pub struct NovaService {
    /// When it last reported (`updated_at`), if ever.
    pub last_report_ms: Option<u64>,
    /// `forced_down`.
    pub forced_down: bool,
    /// Disabled for scheduling.
    pub disabled: bool,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
}

/// One server as Nova records it.
#[derive(Debug, Clone)]
pub struct NovaInstance {
    /// The host index Nova says it is on.
    pub host: usize,
    /// Its `vm_state`.
    pub vm_state: VmState,
    /// What it consumes.
    pub resources: Resources,
    /// AZ it is pinned to, if any.
    pub pinned_az: Option<String>,
    /// Its server group, if any.
    pub server_group: Option<ServerGroupId>,
    /// An evacuation (rebuild) is running: other actions get 409.
    pub busy: bool,
}

/// Nova's migration status, for the evacuation records (`migration_type=evacuation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationStatus {
    /// Accepted by the API.
    Accepted,
    /// Being rebuilt on the destination.
    PreMigrating,
    /// Rebuilt on the destination; the source still has its old guest.
    Done,
    /// The source compute restarted and cleaned up its copy.
    Completed,
    /// The destination claim or the late group check failed (no reschedule).
    Failed,
    /// The rebuild broke on the destination.
    Error,
}

impl MigrationStatus {
    /// Whether the source still has to clean up (Nova's `_destroy_evacuated_instances`).
    pub fn source_must_clean_up(self) -> bool {
        matches!(
            self,
            MigrationStatus::Accepted | MigrationStatus::PreMigrating | MigrationStatus::Done
        )
    }

    /// Whether the evacuation did or may still succeed.
    pub fn is_live(self) -> bool {
        !matches!(self, MigrationStatus::Failed | MigrationStatus::Error)
    }
}

/// One evacuation record.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The server.
    pub instance: InstanceId,
    /// The failed host.
    pub source: usize,
    /// The host asked for, if any.
    pub requested: Option<usize>,
    /// The host the scheduler chose, once chosen.
    pub dest: Option<usize>,
    /// Its status.
    pub status: MigrationStatus,
    /// When it was accepted.
    pub created_ms: u64,
    /// The `vm_state` the server had when evacuated (2.95: STOPPED stays STOPPED).
    pub prior_state: VmState,
}

/// Why Nova refused a call (the 4xx a client sees). 5xx and timeouts are injected by
/// the controller's transport, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NovaRefusal {
    /// 404: no such server or service.
    NotFound,
    /// 400 `ComputeServiceInUse`: the source service is not down.
    ComputeServiceInUse,
    /// 400: the target is the source.
    SameHost,
    /// 409: the server is in a state or task that forbids the action.
    Conflict,
    /// 400: `forced_down` cannot be lifted while evacuations from the host are `done`.
    EvacuationsPending,
}

/// Nova's records: services, servers, evacuation migrations and Placement allocations.
#[derive(Debug, Clone, Default)]
pub struct SimNova {
    /// One service per host index.
    pub services: Vec<NovaService>,
    /// Servers by id.
    pub instances: BTreeMap<InstanceId, NovaInstance>,
    /// Evacuation records, by id (their index).
    pub migrations: Vec<Migration>,
    /// Placement: the hosts each server holds allocations on.
    pub allocations: BTreeMap<InstanceId, BTreeSet<usize>>,
}

impl SimNova {
    /// Whether host `h`'s compute service is up (reported within `service_down_time` and
    /// not forced down).
    pub fn service_up(&self, h: usize, now_ms: u64) -> bool {
        self.services.get(h).is_some_and(|s| {
            !s.forced_down
                && s.last_report_ms
                    .is_some_and(|t| now_ms.saturating_sub(t) <= SERVICE_DOWN_MS)
        })
    }

    /// Placement usage on host `h`.
    pub fn usage(&self, h: usize) -> Resources {
        self.allocations
            .iter()
            .filter(|(_, hosts)| hosts.contains(&h))
            .filter_map(|(i, _)| self.instances.get(i))
            .fold(Resources::ZERO, |acc, i| acc.saturating_add(i.resources))
    }

    /// `PUT /os-services/{id}` with `forced_down: true` and `status: disabled` in one
    /// go, as the core's mark-down does.
    pub fn mark_down(&mut self, h: usize, reason: &str) -> Result<(), NovaRefusal> {
        let s = self.services.get_mut(h).ok_or(NovaRefusal::NotFound)?;
        s.forced_down = true;
        s.disabled = true;
        s.disabled_reason = Some(reason.to_owned());
        Ok(())
    }

    /// `forced_down: false`; 400 while an evacuation from the host is still `done`.
    pub fn lift_forced_down(&mut self, h: usize) -> Result<(), NovaRefusal> {
        if self
            .migrations
            .iter()
            .any(|m| m.source == h && m.status == MigrationStatus::Done)
        {
            return Err(NovaRefusal::EvacuationsPending);
        }
        let s = self.services.get_mut(h).ok_or(NovaRefusal::NotFound)?;
        s.forced_down = false;
        Ok(())
    }

    /// Disable for scheduling with a reason.
    pub fn disable(&mut self, h: usize, reason: &str) -> Result<(), NovaRefusal> {
        let s = self.services.get_mut(h).ok_or(NovaRefusal::NotFound)?;
        s.disabled = true;
        s.disabled_reason = Some(reason.to_owned());
        Ok(())
    }

    /// Enable for scheduling.
    pub fn enable(&mut self, h: usize) -> Result<(), NovaRefusal> {
        let s = self.services.get_mut(h).ok_or(NovaRefusal::NotFound)?;
        s.disabled = false;
        s.disabled_reason = None;
        Ok(())
    }

    /// The evacuation API's synchronous checks; on success the record is `accepted`
    /// and its index returned (the work then runs in the background).
    pub fn accept_evacuation(
        &mut self,
        now_ms: u64,
        instance: &InstanceId,
        target: Option<usize>,
    ) -> Result<usize, NovaRefusal> {
        let server = self.instances.get(instance).ok_or(NovaRefusal::NotFound)?;
        let source = server.host;
        if server.busy || !server.vm_state.is_evacuable() {
            return Err(NovaRefusal::Conflict);
        }
        if self.service_up(source, now_ms) {
            return Err(NovaRefusal::ComputeServiceInUse);
        }
        if target == Some(source) {
            return Err(NovaRefusal::SameHost);
        }
        let prior_state = server.vm_state;
        if let Some(s) = self.instances.get_mut(instance) {
            s.busy = true;
        }
        self.migrations.push(Migration {
            instance: instance.clone(),
            source,
            requested: target,
            dest: None,
            status: MigrationStatus::Accepted,
            created_ms: now_ms,
            prior_state,
        });
        Ok(self.migrations.len() - 1)
    }

    /// The latest evacuation record of a server, if any.
    pub fn last_migration(&self, instance: &InstanceId) -> Option<&Migration> {
        self.migrations
            .iter()
            .rev()
            .find(|m| &m.instance == instance)
    }
}
