//! Keeps the engine's view of the cloud fresh: Nova's compute services every
//! `poll.services_interval` (liveness, forced_down, disabled: a failed host coming back
//! shows here), and the protected hosts' servers with Placement capacity every
//! `poll.servers_interval` / `poll.placement_interval`.
//!
//! Segments and hosts written through the API do not wait for these polls: the API's
//! store tells the engine at once (`store_watch.rs`). The servers poll still re-reads
//! them, which covers writes that bypass the API.
//!
//! Failures are logged once when they start and once when they clear, not on every
//! poll (a remote party's outage must not flood the log).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lazarus_openstack::Cloud;
use lazarus_store::{ListQuery, NotificationFilter, NotificationType, Store};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::inventory::{self, Inventory};
use crate::journal::RecoveryIndex;
use crate::runtime::Input;
use crate::store_watch::StoreGeneration;
use crate::Health;

/// Reads the first inventory, retrying (with a warning) until OpenStack answers: the
/// engine must not start recoveries without knowing the hosts' servers.
pub async fn initial_inventory<C: Cloud>(
    store: &dyn Store,
    generation: &StoreGeneration,
    cloud: &C,
    health: &Health,
) -> Inventory {
    let mut delay = Duration::from_secs(1);
    loop {
        match inventory::read(store, generation, cloud, None, true).await {
            Ok(inv) => {
                health.cloud_polled(Ok(()));
                return inv;
            }
            Err(e) => {
                health.cloud_polled(Err(e.to_string()));
                tracing::warn!(error = %e, retry_in_s = delay.as_secs(), "cannot read the inventory yet; the engine waits for it");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Adds the recoveries named by stored notifications to the index (finished recoveries
/// of earlier runs, for the native API).
pub async fn index_notified_recoveries(store: &dyn Store, index: &RecoveryIndex) {
    let filter = NotificationFilter {
        notification_type: Some(NotificationType::ComputeHost),
        ..NotificationFilter::default()
    };
    let Ok(list) = store.list_notifications(&filter, &ListQuery::all()).await else {
        return;
    };
    if let Ok(mut idx) = index.lock() {
        for n in list {
            if let Some(id) = n
                .recovery_workflow_details
                .get("lazarus_recovery_id")
                .and_then(|v| v.as_str())
            {
                idx.insert(id.to_owned());
            }
        }
    }
}

/// The store the pollers read segments and hosts from, with the count of the API's
/// writes to it.
#[derive(Debug, Clone)]
pub struct StoreSource {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The API's writes to it.
    pub generation: StoreGeneration,
}

/// Starts the pollers; they stop when `stop` turns true.
pub fn spawn<C: Cloud + 'static>(
    config: Arc<Config>,
    source: StoreSource,
    cloud: Arc<C>,
    tx: mpsc::Sender<Input>,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
    initial_hosts: BTreeSet<String>,
) -> Vec<JoinHandle<()>> {
    let services = {
        let (cloud, tx, health, mut stop) = (
            Arc::clone(&cloud),
            tx.clone(),
            Arc::clone(&health),
            stop.clone(),
        );
        let every = config.poll.services_interval;
        tokio::spawn(async move {
            let mut failing = false;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                match cloud.list_compute_services().await {
                    Ok(list) => {
                        if failing {
                            tracing::info!("Nova answers again");
                            failing = false;
                        }
                        health.cloud_polled(Ok(()));
                        if tx.send(Input::Services(list)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "cannot read Nova's compute services");
                            failing = true;
                        }
                        health.cloud_polled(Err(e.to_string()));
                    }
                }
            }
        })
    };
    let servers = {
        let StoreSource { store, generation } = source;
        let mut stop = stop;
        let every = config.poll.servers_interval;
        let placement_every = config.poll.placement_interval;
        tokio::spawn(async move {
            let mut failing = false;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The initial inventory just read everything.
            tick.tick().await;
            let mut last_placement = tokio::time::Instant::now();
            let mut placement_hosts: BTreeSet<String> = initial_hosts;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                // Placement is read on its own interval, and at once for hosts it has
                // not been read for (a host just added has no capacity figures yet).
                let hosts: BTreeSet<String> =
                    match inventory::read_store(&*store, &generation).await {
                        Ok(inv) => inv.hosts.into_iter().map(|h| h.name).collect(),
                        Err(_) => placement_hosts.clone(),
                    };
                let placement = last_placement.elapsed() >= placement_every
                    || !hosts.is_subset(&placement_hosts);
                match inventory::read(&*store, &generation, &*cloud, None, placement).await {
                    Ok(inv) => {
                        if placement && !inv.capacity.is_empty() {
                            last_placement = tokio::time::Instant::now();
                            placement_hosts =
                                inv.capacity.keys().map(ToString::to_string).collect();
                        }
                        if failing {
                            tracing::info!("the inventory can be read again");
                            failing = false;
                        }
                        if tx.send(Input::Inventory(Box::new(inv))).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "cannot refresh the inventory");
                            failing = true;
                        }
                    }
                }
            }
        })
    };
    vec![services, servers]
}
