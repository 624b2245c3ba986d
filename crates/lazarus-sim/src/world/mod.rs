//! The simulated world: hosts, their BMCs, the network and Nova, as one piece of truth
//! the controller only sees through messages, and the invariants judge directly.

mod bmc;
mod host;
mod network;
mod nova;

use std::collections::BTreeMap;

pub use bmc::{BmcAnswer, BmcFault, SimBmc};
pub use host::{GuestState, SimHost};
pub use network::{Network, Node, PartitionKind};
pub use nova::{
    Migration, MigrationStatus, NovaInstance, NovaRefusal, NovaService, SimNova,
    REPORT_INTERVAL_MS, SERVICE_DOWN_MS,
};

use lazarus_core::model::{Cluster, GroupPolicy, Resources, VmState};
use lazarus_core::{HostName, InstanceId};

/// Everything that is really true in the simulation.
#[derive(Debug, Clone)]
pub struct World {
    /// Hosts, by index.
    pub hosts: Vec<SimHost>,
    /// One BMC per host, by index.
    pub bmcs: Vec<SimBmc>,
    /// The network.
    pub network: Network,
    /// Nova's records.
    pub nova: SimNova,
    /// Host indexes by name.
    pub index: BTreeMap<HostName, usize>,
    /// What each host may allocate (Placement inventories after ratios).
    pub allocatable: Vec<Resources>,
    /// Each host's availability zone.
    pub azs: Vec<String>,
    /// The cluster model the controller was configured with (server-group policies).
    pub cluster: Cluster,
}

impl World {
    /// The world matching `cluster`: every host up, every instance running where the
    /// model says, Nova's records in line, each host reporting as of time zero.
    pub fn from_cluster(cluster: &Cluster, watchdog_ms: impl Fn(&HostName) -> Option<u64>) -> Self {
        let mut hosts = Vec::new();
        let mut index = BTreeMap::new();
        let mut allocatable = Vec::new();
        let mut azs = Vec::new();
        for (i, h) in cluster.hosts().enumerate() {
            index.insert(h.name.clone(), i);
            hosts.push(SimHost::new(h.name.clone(), watchdog_ms(&h.name)));
            allocatable.push(h.capacity.allocatable());
            azs.push(h.availability_zone.clone());
        }
        let mut nova = SimNova {
            services: vec![
                NovaService {
                    last_report_ms: Some(0),
                    ..NovaService::default()
                };
                hosts.len()
            ],
            ..SimNova::default()
        };
        for inst in cluster.instances() {
            let Some(&h) = index.get(&inst.host) else {
                continue;
            };
            let state = match inst.vm_state {
                VmState::Active => GuestState::Running,
                VmState::Stopped
                | VmState::Error
                | VmState::Paused
                | VmState::Suspended
                | VmState::Other => GuestState::Shutoff,
            };
            if let Some(host) = hosts.get_mut(h) {
                host.guests.insert(inst.id.clone(), state);
            }
            nova.instances.insert(
                inst.id.clone(),
                NovaInstance {
                    host: h,
                    vm_state: inst.vm_state,
                    resources: inst.resources,
                    pinned_az: inst.pinned_az.clone(),
                    server_group: inst.server_group.clone(),
                    busy: false,
                },
            );
            nova.allocations
                .entry(inst.id.clone())
                .or_default()
                .insert(h);
        }
        let n = hosts.len();
        Self {
            hosts,
            bmcs: vec![SimBmc::default(); n],
            network: Network::new(n),
            nova,
            index,
            allocatable,
            azs,
            cluster: cluster.clone(),
        }
    }

    /// A host's index by name.
    pub fn host_index(&self, name: &HostName) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// A host's name by index.
    pub fn host_name(&self, h: usize) -> Option<&HostName> {
        self.hosts.get(h).map(|x| &x.name)
    }

    /// Whether the scheduler would accept `dest` for `instance` evacuated from `source`
    /// (service up and enabled, other than the source, room, AZ, hard group policies).
    pub fn scheduler_accepts(
        &self,
        now_ms: u64,
        instance: &InstanceId,
        source: usize,
        dest: usize,
    ) -> bool {
        let Some(server) = self.nova.instances.get(instance) else {
            return false;
        };
        let Some(service) = self.nova.services.get(dest) else {
            return false;
        };
        if dest == source || service.disabled || !self.nova.service_up(dest, now_ms) {
            return false;
        }
        let Some(limit) = self.allocatable.get(dest) else {
            return false;
        };
        let used = self.nova.usage(dest);
        if !used.saturating_add(server.resources).fits_within(*limit) {
            return false;
        }
        if let Some(az) = &server.pinned_az {
            if self.azs.get(dest) != Some(az) {
                return false;
            }
        }
        if let Some(group) = &server.server_group {
            let policy = self.cluster.server_group(group).map(|g| g.policy);
            let members_elsewhere = || {
                self.nova.instances.iter().filter(|(id, other)| {
                    *id != instance && other.server_group.as_ref() == Some(group)
                })
            };
            match policy {
                Some(GroupPolicy::AntiAffinity) => {
                    if members_elsewhere().any(|(_, o)| o.host == dest) {
                        return false;
                    }
                }
                Some(GroupPolicy::Affinity) => {
                    let live: Vec<usize> = members_elsewhere()
                        .map(|(_, o)| o.host)
                        .filter(|h| *h != source)
                        .collect();
                    if live.iter().any(|h| *h != dest) {
                        return false;
                    }
                }
                Some(GroupPolicy::SoftAffinity) | Some(GroupPolicy::SoftAntiAffinity) | None => {}
            }
        }
        true
    }

    /// The conductor picks up an accepted evacuation: the destination claim either
    /// holds (allocations on both hosts) or fails (`failed`, no reschedule).
    /// `claim_fails` injects a failure of the claim or the late group check.
    pub fn evacuation_claim(&mut self, now_ms: u64, mid: usize, claim_fails: bool) -> bool {
        let Some(m) = self.nova.migrations.get(mid).cloned() else {
            return false;
        };
        if m.status != MigrationStatus::Accepted {
            return false;
        }
        let dest = m.requested;
        let ok = !claim_fails
            && dest.is_some_and(|d| self.scheduler_accepts(now_ms, &m.instance, m.source, d));
        if ok {
            if let Some(mm) = self.nova.migrations.get_mut(mid) {
                mm.status = MigrationStatus::PreMigrating;
                mm.dest = dest;
            }
            if let Some(d) = dest {
                self.nova
                    .allocations
                    .entry(m.instance.clone())
                    .or_default()
                    .insert(d);
            }
        } else {
            self.fail_evacuation(mid, MigrationStatus::Failed);
        }
        ok
    }

    /// The destination finished the rebuild: the guest runs there (or stays stopped,
    /// 2.95), Nova records it there, the migration is `done`. If the destination died
    /// meanwhile, the migration errors.
    pub fn evacuation_finish(&mut self, mid: usize) -> bool {
        let Some(m) = self.nova.migrations.get(mid).cloned() else {
            return false;
        };
        if m.status != MigrationStatus::PreMigrating {
            return false;
        }
        let Some(d) = m.dest else {
            return false;
        };
        let dest_ok = self
            .hosts
            .get(d)
            .is_some_and(|h| h.is_up() && h.compute_alive);
        if !dest_ok {
            if let Some(a) = self.nova.allocations.get_mut(&m.instance) {
                a.remove(&d);
            }
            self.fail_evacuation(mid, MigrationStatus::Error);
            return false;
        }
        let (state, vm_state) = match m.prior_state {
            VmState::Stopped => (GuestState::Shutoff, VmState::Stopped),
            VmState::Active
            | VmState::Error
            | VmState::Paused
            | VmState::Suspended
            | VmState::Other => (GuestState::Running, VmState::Active),
        };
        if let Some(h) = self.hosts.get_mut(d) {
            h.guests.insert(m.instance.clone(), state);
        }
        if let Some(s) = self.nova.instances.get_mut(&m.instance) {
            s.host = d;
            s.vm_state = vm_state;
            s.busy = false;
        }
        if let Some(mm) = self.nova.migrations.get_mut(mid) {
            mm.status = MigrationStatus::Done;
        }
        true
    }

    fn fail_evacuation(&mut self, mid: usize, status: MigrationStatus) {
        let Some(m) = self.nova.migrations.get_mut(mid) else {
            return;
        };
        m.status = status;
        let instance = m.instance.clone();
        if let Some(s) = self.nova.instances.get_mut(&instance) {
            s.busy = false;
            s.vm_state = VmState::Error;
        }
    }

    /// nova-compute started on host `h`: it destroys the guests that were evacuated
    /// away (records accepted, pre-migrating or done become completed, the source
    /// allocation is dropped), and syncs power states of the servers it hosts.
    pub fn compute_started(&mut self, h: usize) {
        let mut destroyed = Vec::new();
        for m in self.nova.migrations.iter_mut() {
            if m.source == h && m.status.source_must_clean_up() {
                m.status = MigrationStatus::Completed;
                destroyed.push(m.instance.clone());
            }
        }
        for i in &destroyed {
            if let Some(host) = self.hosts.get_mut(h) {
                host.guests.remove(i);
            }
            if let Some(a) = self.nova.allocations.get_mut(i) {
                a.remove(&h);
            }
        }
        let Some(host) = self.hosts.get(h) else {
            return;
        };
        for (id, server) in self.nova.instances.iter_mut() {
            if server.host == h
                && server.vm_state == VmState::Active
                && !server.busy
                && !host.runs(id)
            {
                server.vm_state = VmState::Stopped;
            }
        }
    }

    /// Hard reboot of a server on its host: the guest runs again if the host and its
    /// compute are up.
    pub fn reset_instance(&mut self, instance: &InstanceId) -> Result<(), NovaRefusal> {
        let server = self
            .nova
            .instances
            .get_mut(instance)
            .ok_or(NovaRefusal::NotFound)?;
        if server.busy {
            return Err(NovaRefusal::Conflict);
        }
        let h = server.host;
        let host = self.hosts.get_mut(h).ok_or(NovaRefusal::NotFound)?;
        if !(host.is_up() && host.compute_alive) {
            return Err(NovaRefusal::Conflict);
        }
        host.guests.insert(instance.clone(), GuestState::Running);
        server.vm_state = VmState::Active;
        Ok(())
    }

    /// Hosts on which `instance` really runs now.
    pub fn live_copies(&self, instance: &InstanceId) -> Vec<usize> {
        self.hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| h.runs(instance))
            .map(|(i, _)| i)
            .collect()
    }
}
