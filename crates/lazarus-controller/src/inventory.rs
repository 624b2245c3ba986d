//! What lazarus protects, read from the store (segments, hosts) and from OpenStack
//! (servers, server groups, Placement capacity and usage), and applied to the core's
//! [`Cluster`].
//!
//! Reading happens off the engine task (it is slow I/O); the result, an [`Inventory`],
//! is sent to the engine task, which applies it with `cluster_mut()` and
//! `cluster_changed()` between two events.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use lazarus_core::model::{
    Capacity, Cluster, FenceMethod, GroupPolicy, Host, Inventory as CoreInventory, RecoveryMethod,
    Resources, Segment, ServerGroup,
};
use lazarus_core::{HostName, InstanceId, SegmentId, ServerGroupId};
use lazarus_openstack::{Cloud, CloudError, ComputeService, Server};
use lazarus_store::{HostFilter, ListQuery, SegmentFilter, Store, StoreError};

use crate::config::{Config, RecoverySection};
use crate::nova;
use crate::store_watch::StoreGeneration;

/// A reading of everything lazarus protects.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Live segments in the store.
    pub segments: Vec<lazarus_store::Segment>,
    /// Live hosts in the store.
    pub hosts: Vec<lazarus_store::Host>,
    /// Nova's compute services (for AZs).
    pub services: Vec<ComputeService>,
    /// Servers per host that was listed (hosts missing here were not listed).
    pub servers: BTreeMap<HostName, Vec<Server>>,
    /// Server groups, when read.
    pub groups: Option<Vec<lazarus_openstack::ServerGroup>>,
    /// Placement capacity and usage per host, when read.
    pub capacity: HashMap<HostName, (Capacity, Resources)>,
    /// The [`StoreGeneration`] seen just before the store was read.
    pub store_generation: u64,
}

/// The newest reading of the store's segments and hosts the engine applied, so that an
/// inventory whose store part is older (a poll that read the store before an API write
/// and then spent seconds on Nova) does not undo what that write added: its Nova part is
/// applied over this view instead.
#[derive(Debug, Default)]
pub struct StoreView {
    generation: u64,
    segments: Vec<lazarus_store::Segment>,
    hosts: Vec<lazarus_store::Host>,
}

impl StoreView {
    /// The generation of the reading held.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Makes `inv` carry the newest store reading: its own, remembered here, if it was
    /// read at this view's generation or later; otherwise this view's.
    pub fn reconcile(&mut self, inv: &mut Inventory) {
        if inv.store_generation >= self.generation {
            self.generation = inv.store_generation;
            self.segments.clone_from(&inv.segments);
            self.hosts.clone_from(&inv.hosts);
        } else {
            tracing::debug!(
                read_at = inv.store_generation,
                newest = self.generation,
                "an inventory read the store before a later API write: its segments and hosts are replaced by the newer reading"
            );
            inv.store_generation = self.generation;
            inv.segments.clone_from(&self.segments);
            inv.hosts.clone_from(&self.hosts);
        }
    }
}

/// Why an inventory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// OpenStack failed.
    #[error("openstack: {0}")]
    Cloud(#[from] CloudError),
}

/// Reads segments and hosts from the store, noting `generation` (read first) in the
/// result.
pub async fn read_store(
    store: &dyn Store,
    generation: &StoreGeneration,
) -> Result<Inventory, StoreError> {
    let store_generation = generation.current();
    let segments = store
        .list_segments(&SegmentFilter::default(), &ListQuery::all())
        .await?;
    let hosts = store
        .list_hosts(&HostFilter::default(), &ListQuery::all())
        .await?;
    Ok(Inventory {
        segments,
        hosts,
        store_generation,
        ..Inventory::default()
    })
}

/// Reads the store and, from OpenStack, the servers of `only` (every protected host if
/// `None`), the server groups and (if `placement`) capacity and usage.
pub async fn read<C: Cloud>(
    store: &dyn Store,
    generation: &StoreGeneration,
    cloud: &C,
    only: Option<&HostName>,
    placement: bool,
) -> Result<Inventory, InventoryError> {
    let mut inv = read_store(store, generation).await?;
    inv.services = cloud.list_compute_services().await?;
    let names: Vec<HostName> = match only {
        Some(h) => vec![h.clone()],
        None => inv
            .hosts
            .iter()
            .map(|h| HostName::from(h.name.as_str()))
            .collect(),
    };
    for name in names {
        let servers = cloud.list_servers_on_host(name.as_str()).await?;
        inv.servers.insert(name, servers);
    }
    if only.is_none() {
        inv.groups = Some(cloud.list_server_groups().await?);
    }
    if placement {
        match read_placement(cloud, &inv.hosts).await {
            Ok(c) => inv.capacity = c,
            Err(e) => {
                tracing::warn!(error = %e, "could not read Placement; keeping the last capacity figures")
            }
        }
    }
    Ok(inv)
}

/// Reads what a failed host's recovery plans from, as fast as possible: the store, the
/// host's servers and Placement, the last two at the same time.
pub async fn read_failed_host<C: Cloud>(
    store: &dyn Store,
    generation: &StoreGeneration,
    cloud: &C,
    host: &HostName,
) -> Result<Inventory, InventoryError> {
    let mut inv = read_store(store, generation).await?;
    let (servers, capacity) = tokio::join!(
        cloud.list_servers_on_host(host.as_str()),
        read_placement(cloud, &inv.hosts)
    );
    inv.servers.insert(host.clone(), servers?);
    match capacity {
        Ok(c) => inv.capacity = c,
        Err(e) => {
            tracing::warn!(error = %e, "could not read Placement; keeping the last capacity figures")
        }
    }
    Ok(inv)
}

/// Inventories and usages of the protected hosts' resource providers.
///
/// A compute node's resource provider is named after its hypervisor hostname, which is
/// the service's host name or its FQDN. `os-hypervisors` would map them exactly, but
/// Nova answers it only after a 60 s RPC timeout while a compute is down, which is
/// exactly when capacity matters; so providers are matched by name.
async fn read_placement<C: Cloud>(
    cloud: &C,
    hosts: &[lazarus_store::Host],
) -> Result<HashMap<HostName, (Capacity, Resources)>, CloudError> {
    let providers = cloud.list_resource_providers().await?;
    let mut out = HashMap::new();
    for host in hosts {
        let name = host.name.as_str();
        let Some(provider) = providers.iter().find(|p| p.name == name).or_else(|| {
            providers.iter().find(|p| {
                p.name
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
        }) else {
            tracing::warn!(
                host = name,
                "no Placement resource provider is named after this host; its capacity is unknown"
            );
            continue;
        };
        let (inventories, usages) = tokio::join!(
            cloud.provider_inventories(&provider.uuid),
            cloud.provider_usages(&provider.uuid)
        );
        let (inventories, usages) = (inventories?, usages?);
        let inv = |class: &str| {
            inventories
                .inventories
                .get(class)
                .map(|r| CoreInventory {
                    total: r.total,
                    reserved: r.reserved,
                    allocation_ratio: r.allocation_ratio,
                })
                .unwrap_or(CoreInventory::exact(0))
        };
        let capacity = Capacity {
            vcpu: inv("VCPU"),
            memory_mb: inv("MEMORY_MB"),
            disk_gb: inv("DISK_GB"),
        };
        let used = |class: &str| usages.usages.get(class).copied().unwrap_or(0);
        let usage = Resources::new(used("VCPU"), used("MEMORY_MB"), used("DISK_GB"));
        out.insert(HostName::from(name), (capacity, usage));
    }
    Ok(out)
}

fn recovery_method(m: lazarus_store::RecoveryMethod) -> RecoveryMethod {
    match m {
        lazarus_store::RecoveryMethod::Auto => RecoveryMethod::Auto,
        lazarus_store::RecoveryMethod::ReservedHost => RecoveryMethod::ReservedHost,
        lazarus_store::RecoveryMethod::AutoPriority => RecoveryMethod::AutoPriority,
        lazarus_store::RecoveryMethod::RhPriority => RecoveryMethod::RhPriority,
    }
}

/// The fence method a host's `control_attributes` ask for (`fence_method=bmc`), if any.
pub fn fence_method_of(control_attributes: &str) -> Option<FenceMethod> {
    control_attributes
        .split([',', ';', ' ', '\n'])
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == "fence_method")
        .and_then(|(_, v)| match v.trim() {
            "manual" => Some(FenceMethod::Manual),
            "bmc" => Some(FenceMethod::Bmc),
            "watchdog" => Some(FenceMethod::Watchdog),
            _ => None,
        })
}

fn group_policy(p: &str) -> Option<GroupPolicy> {
    match p {
        "affinity" => Some(GroupPolicy::Affinity),
        "anti-affinity" => Some(GroupPolicy::AntiAffinity),
        "soft-affinity" => Some(GroupPolicy::SoftAffinity),
        "soft-anti-affinity" => Some(GroupPolicy::SoftAntiAffinity),
        _ => None,
    }
}

/// What applying an inventory changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Hosts whose servers were listed.
    pub listed: Vec<HostName>,
}

/// Applies an inventory to the cluster. `busy` says whether a host is under recovery:
/// instances of such a host are never forgotten (the recovery owns them).
pub fn apply(
    cluster: &mut Cluster,
    inv: &Inventory,
    config: &Config,
    recovery: &RecoverySection,
    busy: impl Fn(&HostName) -> bool,
) -> Applied {
    let live_segments: BTreeSet<&str> = inv.segments.iter().map(|s| s.uuid.as_str()).collect();
    for s in &inv.segments {
        cluster.upsert_segment(Segment {
            id: SegmentId::from(s.uuid.as_str()),
            name: s.name.clone(),
            recovery_method: recovery_method(s.recovery_method),
            enabled: s.enabled,
            policy: recovery.policy(),
        });
    }
    // Segments deleted from the store are disabled in the model (it has no removal).
    let gone: Vec<Segment> = cluster
        .segments()
        .filter(|s| !live_segments.contains(s.id.as_str()) && s.enabled)
        .cloned()
        .collect();
    for mut s in gone {
        s.enabled = false;
        cluster.upsert_segment(s);
    }
    let zones: HashMap<&str, &str> = inv
        .services
        .iter()
        .filter_map(|s| s.zone.as_deref().map(|z| (s.host.as_str(), z)))
        .collect();
    let live_hosts: BTreeSet<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
    for h in &inv.hosts {
        let name = HostName::from(h.name.as_str());
        let existing = cluster.host(&name).cloned();
        let (capacity, usage) = inv
            .capacity
            .get(&name)
            .copied()
            .or_else(|| existing.as_ref().map(|e| (e.capacity, e.usage)))
            .unwrap_or((
                Capacity {
                    vcpu: CoreInventory::exact(0),
                    memory_mb: CoreInventory::exact(0),
                    disk_gb: CoreInventory::exact(0),
                },
                Resources::ZERO,
            ));
        let host = Host {
            name: name.clone(),
            segment: SegmentId::from(h.failover_segment_id.as_str()),
            reserved: h.reserved,
            on_maintenance: h.on_maintenance,
            availability_zone: zones
                .get(h.name.as_str())
                .map(|z| (*z).to_owned())
                .or_else(|| existing.as_ref().map(|e| e.availability_zone.clone()))
                .unwrap_or_else(|| "nova".to_owned()),
            aggregates: existing.map(|e| e.aggregates).unwrap_or_default(),
            capacity,
            usage,
            // A host with a BMC entry is fenced by it unless its attributes say otherwise.
            fence_method: fence_method_of(&h.control_attributes).unwrap_or_else(|| {
                if config.bmc.hosts.contains_key(&name) {
                    FenceMethod::Bmc
                } else {
                    config.hosts.fence_method.into()
                }
            }),
        };
        if let Err(e) = cluster.upsert_host(host) {
            tracing::warn!(host = %name, error = %e, "host not added to the model");
        }
    }
    // Hosts deleted from the store are neither monitored nor failover targets.
    let gone: Vec<Host> = cluster
        .hosts()
        .filter(|h| !live_hosts.contains(h.name.as_str()) && !h.on_maintenance)
        .cloned()
        .collect();
    for mut h in gone {
        h.on_maintenance = true;
        let _ = cluster.upsert_host(h);
    }
    if let Some(groups) = &inv.groups {
        for g in groups {
            let Some(policy) = g
                .policy
                .as_deref()
                .or(g.policies.first().map(String::as_str))
                .and_then(group_policy)
            else {
                continue;
            };
            cluster.upsert_server_group(ServerGroup {
                id: ServerGroupId::from(g.id.as_str()),
                policy,
            });
        }
    }
    let mut applied = Applied::default();
    for (host, servers) in &inv.servers {
        applied.listed.push(host.clone());
        let seen: BTreeSet<InstanceId> = servers
            .iter()
            .map(|s| InstanceId::from(s.id.as_str()))
            .collect();
        for s in servers {
            let Some(instance) = nova::instance(s, &config.instances) else {
                continue;
            };
            if cluster.host(&instance.host).is_none() {
                continue;
            }
            if let Err(e) = cluster.upsert_instance(instance) {
                tracing::debug!(error = %e, "instance not added to the model");
            }
        }
        if busy(host) {
            continue;
        }
        let stale: Vec<InstanceId> = cluster
            .instances_on(host)
            .filter(|i| !seen.contains(&i.id))
            .map(|i| i.id.clone())
            .collect();
        for id in stale {
            cluster.remove_instance(&id);
        }
    }
    applied
}

/// Shared handle type for the store.
pub type SharedStore = Arc<dyn Store>;

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use lazarus_core::model::RestartPriority;
    use serde_json::json;

    use super::*;

    fn t() -> lazarus_store::Time {
        chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    fn segment() -> lazarus_store::Segment {
        lazarus_store::Segment {
            id: 1,
            uuid: "seg".into(),
            name: "s".into(),
            description: None,
            recovery_method: lazarus_store::RecoveryMethod::Auto,
            service_type: "COMPUTE".into(),
            enabled: true,
            created_at: t(),
            updated_at: None,
        }
    }

    fn host(name: &str, control: &str) -> lazarus_store::Host {
        lazarus_store::Host {
            id: 1,
            uuid: format!("{name}-uuid"),
            name: name.into(),
            host_type: "COMPUTE".into(),
            control_attributes: control.into(),
            reserved: false,
            on_maintenance: false,
            failover_segment_id: "seg".into(),
            created_at: t(),
            updated_at: None,
        }
    }

    fn server(id: &str, host: &str, metadata: serde_json::Value) -> Server {
        serde_json::from_value(json!({
            "id": id, "name": format!("vm-{id}"), "status": "ACTIVE",
            "OS-EXT-STS:vm_state": "active",
            "OS-EXT-SRV-ATTR:host": host,
            "flavor": {"vcpus": 2, "ram": 1024, "disk": 10, "ephemeral": 5, "swap": 512},
            "metadata": metadata,
        }))
        .unwrap()
    }

    fn inventory(servers: Vec<Server>) -> Inventory {
        Inventory {
            segments: vec![segment()],
            hosts: vec![host("c1", "SSH"), host("c2", "fence_method=bmc")],
            servers: BTreeMap::from([(HostName::from("c1"), servers)]),
            ..Inventory::default()
        }
    }

    #[test]
    fn a_host_with_a_bmc_entry_is_fenced_by_bmc_unless_its_attributes_say_otherwise() {
        let config = Config::parse(
            r#"
[bmc.hosts.c1]
driver = "redfish"
address = "http://127.0.0.1:1"
username = "u"
password = "p"
[bmc.hosts.c3]
driver = "redfish"
address = "http://127.0.0.1:1"
username = "u"
password = "p"
"#,
        )
        .unwrap();
        config.validate().unwrap();
        let mut cluster = Cluster::new();
        let mut inv = inventory(vec![]);
        inv.hosts.push(host("c3", "fence_method=manual"));
        apply(&mut cluster, &inv, &config, &config.engine.recovery, |_| {
            false
        });
        let method = |h: &str| cluster.host(&HostName::from(h)).unwrap().fence_method;
        assert_eq!(method("c1"), FenceMethod::Bmc);
        assert_eq!(method("c2"), FenceMethod::Bmc);
        assert_eq!(method("c3"), FenceMethod::Manual);
    }

    #[test]
    fn servers_become_instances_with_placement_sized_resources_and_their_priority() {
        let config = Config::default();
        let mut cluster = Cluster::new();
        let inv = inventory(vec![
            server("a", "c1", json!({"lazarus:priority": "high"})),
            server("b", "c1", json!({"HA_Enabled": "False"})),
        ]);
        let applied = apply(&mut cluster, &inv, &config, &config.engine.recovery, |_| {
            false
        });
        assert_eq!(applied.listed, vec![HostName::from("c1")]);
        let a = cluster.instance(&InstanceId::from("a")).unwrap();
        assert_eq!(a.priority, RestartPriority::High);
        assert_eq!(a.resources, Resources::new(2, 1024, 16));
        let b = cluster.instance(&InstanceId::from("b")).unwrap();
        assert!(!b.is_protected());
        assert_eq!(
            cluster.host(&HostName::from("c1")).unwrap().fence_method,
            FenceMethod::Manual
        );
        assert_eq!(
            cluster.host(&HostName::from("c2")).unwrap().fence_method,
            FenceMethod::Bmc
        );
    }

    #[test]
    fn a_vanished_server_is_forgotten_unless_its_host_is_under_recovery() {
        let config = Config::default();
        let mut cluster = Cluster::new();
        let both = inventory(vec![
            server("a", "c1", json!({})),
            server("b", "c1", json!({})),
        ]);
        apply(
            &mut cluster,
            &both,
            &config,
            &config.engine.recovery,
            |_| false,
        );
        let one = inventory(vec![server("a", "c1", json!({}))]);
        apply(&mut cluster, &one, &config, &config.engine.recovery, |_| {
            true
        });
        assert_eq!(
            cluster.instance_count(),
            2,
            "a recovery owns its host's instances"
        );
        apply(&mut cluster, &one, &config, &config.engine.recovery, |_| {
            false
        });
        assert_eq!(cluster.instance_count(), 1);
    }

    #[test]
    fn a_host_deleted_from_the_store_is_no_longer_monitored_or_a_target() {
        let config = Config::default();
        let mut cluster = Cluster::new();
        apply(
            &mut cluster,
            &inventory(vec![]),
            &config,
            &config.engine.recovery,
            |_| false,
        );
        let mut inv = inventory(vec![]);
        inv.hosts.retain(|h| h.name == "c1");
        apply(&mut cluster, &inv, &config, &config.engine.recovery, |_| {
            false
        });
        assert!(cluster.host(&HostName::from("c2")).unwrap().on_maintenance);
        assert!(!cluster.host(&HostName::from("c1")).unwrap().on_maintenance);
    }

    #[test]
    fn a_poll_that_read_the_store_before_an_api_write_does_not_undo_it() {
        let mut view = StoreView::default();
        // The API added c2 (generation 1) and the engine re-read the store.
        let mut fresh = inventory(vec![]);
        fresh.servers.clear();
        fresh.store_generation = 1;
        view.reconcile(&mut fresh);
        // A poll that read the store at generation 0 (before c2) arrives afterwards:
        // its servers stay, its store part is the newer one.
        let mut stale = inventory(vec![server("i1", "c1", json!({}))]);
        stale.hosts.retain(|h| h.name == "c1");
        view.reconcile(&mut stale);
        assert_eq!(view.generation(), 1);
        assert_eq!(stale.store_generation, 1);
        assert_eq!(stale.hosts.len(), 2);
        assert_eq!(stale.servers.len(), 1);
        // A later reading replaces the view.
        let mut later = inventory(vec![]);
        later.hosts.retain(|h| h.name == "c2");
        later.store_generation = 2;
        view.reconcile(&mut later);
        assert_eq!(later.hosts.len(), 1);
        assert_eq!(view.hosts.len(), 1);
    }
}
