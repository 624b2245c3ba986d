//! `EnableHost` re-enables a host only once Nova hears its compute (Nova syncs
//! Placement's `COMPUTE_STATUS_DISABLED` trait only for a service that is up when it is
//! enabled), and still enables it after a bounded wait if the compute stays down.
//!
//! Driven through the real [`Effects`] against a cloud whose compute services follow a
//! script and which logs every call, so the tests assert the order of reads and writes.
//! The wait scales with `report_interval` (a tenth of it per poll, three of it at most),
//! so the tests shorten it instead of pausing time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_controller::agents::AgentCommands;
use lazarus_controller::config::OpenStackSection;
use lazarus_controller::effects::Effects;
use lazarus_controller::fencer::NoBmc;
use lazarus_controller::metrics::Metrics;
use lazarus_controller::nova::Liveness;
use lazarus_controller::runtime::Input;
use lazarus_core::event::Event;
use lazarus_core::{Command, HostName};
use lazarus_openstack::{
    Allocations, Cloud, CloudError, ComputeService, EvacuateOptions, Hypervisor, Migration,
    MigrationFilter, ProviderAggregates, ProviderInventories, ProviderTraits, ProviderUsages,
    ResourceProvider, Server, ServerAction, ServerGroup, ServiceStatus, ServiceUpdate,
};
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

/// A cloud of hosts c1 and c2 whose c1 compute reads `down` for `down_reads` reads
/// (`None`: for ever), then `up`. c2 is always up. Every call is logged.
#[derive(Debug)]
struct ScriptedCloud {
    down_reads: Mutex<Option<u32>>,
    log: Mutex<Vec<String>>,
}

impl ScriptedCloud {
    fn new(down_reads: Option<u32>) -> Arc<Self> {
        Arc::new(Self {
            down_reads: Mutex::new(down_reads),
            log: Mutex::new(Vec::new()),
        })
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn service(host: &str, up: bool) -> ComputeService {
        serde_json::from_value(json!({
            "id": format!("svc-{host}"), "binary": "nova-compute", "host": host,
            "status": "disabled", "state": if up { "up" } else { "down" },
            "forced_down": false, "disabled_reason": "lazarus: process nova-compute",
        }))
        .unwrap()
    }

    fn unsupported<T>() -> Result<T, CloudError> {
        Err(CloudError::NoEndpoint {
            service_type: "scripted".into(),
            region: None,
            interface: "public".into(),
        })
    }
}

impl Cloud for ScriptedCloud {
    fn list_compute_services(
        &self,
    ) -> impl Future<Output = Result<Vec<ComputeService>, CloudError>> + Send {
        let mut left = self.down_reads.lock().unwrap();
        let up = match *left {
            Some(0) => true,
            Some(n) => {
                *left = Some(n - 1);
                false
            }
            None => false,
        };
        self.log
            .lock()
            .unwrap()
            .push(if up { "read c1 up" } else { "read c1 down" }.into());
        ready(Ok(vec![Self::service("c1", up), Self::service("c2", true)]))
    }

    fn update_compute_service(
        &self,
        service_id: &str,
        update: &ServiceUpdate,
    ) -> impl Future<Output = Result<ComputeService, CloudError>> + Send {
        let host = service_id.trim_start_matches("svc-");
        let what = match update.status {
            Some(ServiceStatus::Enabled) => "enable",
            Some(ServiceStatus::Disabled) => "disable",
            None => "update",
        };
        self.log.lock().unwrap().push(format!("{what} {host}"));
        ready(Ok(Self::service(host, true)))
    }

    fn list_servers_on_host(
        &self,
        _host: &str,
    ) -> impl Future<Output = Result<Vec<Server>, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn get_server(
        &self,
        _server_id: &str,
    ) -> impl Future<Output = Result<Server, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn evacuate(
        &self,
        _server_id: &str,
        _options: &EvacuateOptions,
    ) -> impl Future<Output = Result<(), CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn live_migrate(
        &self,
        _server_id: &str,
        _target_host: Option<&str>,
    ) -> impl Future<Output = Result<(), CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn server_action(
        &self,
        _server_id: &str,
        _action: &ServerAction,
    ) -> impl Future<Output = Result<(), CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn list_migrations(
        &self,
        _filter: &MigrationFilter,
    ) -> impl Future<Output = Result<Vec<Migration>, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn list_hypervisors(&self) -> impl Future<Output = Result<Vec<Hypervisor>, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn list_server_groups(
        &self,
    ) -> impl Future<Output = Result<Vec<ServerGroup>, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn list_resource_providers(
        &self,
    ) -> impl Future<Output = Result<Vec<ResourceProvider>, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn provider_inventories(
        &self,
        _provider: &str,
    ) -> impl Future<Output = Result<ProviderInventories, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn provider_usages(
        &self,
        _provider: &str,
    ) -> impl Future<Output = Result<ProviderUsages, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn provider_aggregates(
        &self,
        _provider: &str,
    ) -> impl Future<Output = Result<ProviderAggregates, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn provider_traits(
        &self,
        _provider: &str,
    ) -> impl Future<Output = Result<ProviderTraits, CloudError>> + Send {
        ready(Self::unsupported())
    }

    fn consumer_allocations(
        &self,
        _consumer: &str,
    ) -> impl Future<Output = Result<Allocations, CloudError>> + Send {
        ready(Self::unsupported())
    }
}

/// Effects over `cloud` with `permits` call permits and Nova's `report_interval`
/// (the enable polls every tenth of it, for three of it at most), and the inbox
/// their results go to. The service ids are known, so the only reads are the waits'.
fn effects(
    cloud: &Arc<ScriptedCloud>,
    permits: usize,
    report_interval: Duration,
) -> (Arc<Effects<ScriptedCloud>>, mpsc::Receiver<Input>) {
    let (tx, rx) = mpsc::channel(16);
    let service_ids = ["c1", "c2"]
        .into_iter()
        .map(|h| (HostName::from(h), format!("svc-{h}")))
        .collect::<HashMap<_, _>>();
    let effects = Effects {
        cloud: Arc::clone(cloud),
        fencer: Arc::new(NoBmc),
        agents: Arc::new(AgentCommands::new(Vec::<HostName>::new())),
        permits: Arc::new(Semaphore::new(permits)),
        tx,
        config: OpenStackSection {
            max_parallel_calls: permits,
            report_interval,
            ..OpenStackSection::default()
        },
        service_ids: Arc::new(Mutex::new(service_ids)),
        liveness: Arc::new(Mutex::new(Liveness::new(report_interval))),
        metrics: Arc::new(Metrics::new()),
    };
    (Arc::new(effects), rx)
}

/// The next command result; a generous guard against a hang, not a speed check.
async fn next_event(rx: &mut mpsc::Receiver<Input>) -> Event {
    match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
        Ok(Some(Input::Event(e))) => e,
        other => panic!("no command result: {other:?}"),
    }
}

#[tokio::test]
async fn the_enable_is_sent_only_once_nova_reports_the_compute_up() {
    let cloud = ScriptedCloud::new(Some(3));
    // Polls every 100 ms for up to 3 s: three down reads end well within the bound.
    let (effects, mut rx) = effects(&cloud, 4, Duration::from_secs(1));

    effects.spawn(Command::EnableHost {
        host: HostName::from("c1"),
    });

    match next_event(&mut rx).await {
        Event::HostEnabled { host, result } => {
            assert_eq!(host.as_str(), "c1");
            assert!(result.is_ok(), "{result:?}");
        }
        other => panic!("expected HostEnabled, got {other:?}"),
    }
    assert_eq!(
        cloud.log(),
        [
            "read c1 down",
            "read c1 down",
            "read c1 down",
            "read c1 up",
            "enable c1"
        ]
    );
}

#[tokio::test]
async fn a_compute_that_never_comes_up_is_still_enabled_after_the_bound() {
    let cloud = ScriptedCloud::new(None);
    // Polls every 2 ms for up to 60 ms.
    let (effects, mut rx) = effects(&cloud, 4, Duration::from_millis(20));

    effects.spawn(Command::EnableHost {
        host: HostName::from("c1"),
    });

    match next_event(&mut rx).await {
        Event::HostEnabled { host, result } => {
            assert_eq!(host.as_str(), "c1");
            assert!(result.is_ok(), "{result:?}");
        }
        other => panic!("expected HostEnabled, got {other:?}"),
    }
    let log = cloud.log();
    let (enable, reads) = log.split_last().unwrap();
    assert_eq!(enable, "enable c1");
    assert!(reads.len() >= 2, "it polled before giving up: {log:?}");
    assert!(reads.iter().all(|r| r == "read c1 down"), "{log:?}");
}

#[tokio::test]
async fn a_waiting_enable_holds_no_permit_so_other_calls_go_first() {
    let cloud = ScriptedCloud::new(None);
    // One permit; the enable of c1 waits up to 3 s for a compute that stays down.
    let (effects, mut rx) = effects(&cloud, 1, Duration::from_secs(1));

    effects.spawn(Command::EnableHost {
        host: HostName::from("c1"),
    });
    effects.spawn(Command::DisableHost {
        host: HostName::from("c2"),
        reason: "lazarus: process nova-compute".into(),
    });

    match next_event(&mut rx).await {
        Event::HostDisabled { host, result } => {
            assert_eq!(host.as_str(), "c2");
            assert!(result.is_ok(), "{result:?}");
        }
        other => panic!("the disable should not wait behind the enable, got {other:?}"),
    }
    assert!(!cloud.log().iter().any(|c| c == "enable c1"));
}
