//! The whole controller (API, engine task, journal, effects, pollers, reporter) against
//! an in-memory cloud: a monitor's notification recovers a host, and a controller
//! restarted on the same store resumes without evacuating anything twice. The devcloud
//! end-to-end tests (crates/lazarus/tests/e2e_*) prove the same against real Nova;
//! these run offline in a few seconds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_api::NoAuth;
use lazarus_controller::fencer::Fencer;
use lazarus_controller::Config;
use lazarus_openstack::{
    Allocations, Cloud, CloudError, ComputeService, EvacuateOptions, Hypervisor, Migration,
    MigrationFilter, ProviderAggregates, ProviderInventories, ProviderTraits, ProviderUsages,
    ResourceProvider, Server, ServerAction, ServerGroup, ServiceUpdate,
};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// A three-host cloud in memory. Computes "report" (bump `updated_at`) on every
/// services read while alive.
#[derive(Debug, Default)]
struct World {
    alive: BTreeMap<String, bool>,
    forced_down: BTreeMap<String, bool>,
    disabled: BTreeMap<String, Option<String>>,
    reports: u64,
    /// server id -> host
    servers: BTreeMap<String, String>,
    /// (server id, status)
    migrations: Vec<(String, String)>,
    evacuate_calls: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Default)]
struct FakeCloud(Arc<Mutex<World>>);

const HOSTS: [&str; 3] = ["c1", "c2", "c3"];

impl FakeCloud {
    fn new(servers_per_host: usize) -> Self {
        let mut w = World::default();
        for h in HOSTS {
            w.alive.insert(h.into(), true);
            w.forced_down.insert(h.into(), false);
            w.disabled.insert(h.into(), None);
            for i in 0..servers_per_host {
                w.servers.insert(format!("{h}-vm{i}"), h.into());
            }
        }
        Self(Arc::new(Mutex::new(w)))
    }

    fn service(w: &World, h: &str) -> ComputeService {
        let alive = w.alive[h];
        let forced = w.forced_down[h];
        serde_json::from_value(json!({
            "id": format!("svc-{h}"), "binary": "nova-compute", "host": h, "zone": "nova",
            "status": if w.disabled[h].is_some() { "disabled" } else { "enabled" },
            "state": if alive && !forced { "up" } else { "down" },
            "forced_down": forced,
            "disabled_reason": w.disabled[h],
            "updated_at": format!("t{}-{h}", if alive { w.reports } else { 0 }),
        }))
        .unwrap()
    }

    fn server(w: &World, id: &str) -> Server {
        serde_json::from_value(json!({
            "id": id, "name": id, "status": "ACTIVE",
            "OS-EXT-STS:vm_state": "active",
            "OS-EXT-SRV-ATTR:host": w.servers[id],
            "flavor": {"vcpus": 1, "ram": 512, "disk": 1},
        }))
        .unwrap()
    }

    fn unsupported<T>() -> Result<T, CloudError> {
        Err(CloudError::NoEndpoint {
            service_type: "fake".into(),
            region: None,
            interface: "public".into(),
        })
    }
}

impl Cloud for FakeCloud {
    fn list_compute_services(
        &self,
    ) -> impl Future<Output = Result<Vec<ComputeService>, CloudError>> + Send {
        let mut w = self.0.lock().unwrap();
        w.reports += 1;
        let list = HOSTS.iter().map(|h| Self::service(&w, h)).collect();
        async move { Ok(list) }
    }

    fn update_compute_service(
        &self,
        service_id: &str,
        update: &ServiceUpdate,
    ) -> impl Future<Output = Result<ComputeService, CloudError>> + Send {
        let mut w = self.0.lock().unwrap();
        let h = service_id.trim_start_matches("svc-").to_owned();
        if update.forced_down == Some(false)
            && w.migrations
                .iter()
                .any(|(id, s)| s == "done" && !id.is_empty())
            && !w.alive[&h]
        {
            let request = lazarus_openstack::RequestInfo {
                method: "PUT".into(),
                path: format!("/os-services/{service_id}"),
                request_id: None,
            };
            return futures_ready(Err(CloudError::EvacuationsStillDone {
                request,
                message: "done evacuations".into(),
            }));
        }
        if let Some(f) = update.forced_down {
            w.forced_down.insert(h.clone(), f);
        }
        match update.status {
            Some(lazarus_openstack::ServiceStatus::Disabled) => {
                w.disabled.insert(
                    h.clone(),
                    Some(update.disabled_reason.clone().unwrap_or_default()),
                );
            }
            Some(lazarus_openstack::ServiceStatus::Enabled) => {
                w.disabled.insert(h.clone(), None);
            }
            None => {}
        }
        let s = Self::service(&w, &h);
        futures_ready(Ok(s))
    }

    fn list_servers_on_host(
        &self,
        host: &str,
    ) -> impl Future<Output = Result<Vec<Server>, CloudError>> + Send {
        let w = self.0.lock().unwrap();
        let list = w
            .servers
            .iter()
            .filter(|(_, h)| *h == host)
            .map(|(id, _)| Self::server(&w, id))
            .collect();
        futures_ready(Ok(list))
    }

    fn get_server(
        &self,
        server_id: &str,
    ) -> impl Future<Output = Result<Server, CloudError>> + Send {
        let w = self.0.lock().unwrap();
        futures_ready(Ok(Self::server(&w, server_id)))
    }

    fn evacuate(
        &self,
        server_id: &str,
        options: &EvacuateOptions,
    ) -> impl Future<Output = Result<(), CloudError>> + Send {
        let mut w = self.0.lock().unwrap();
        *w.evacuate_calls.entry(server_id.to_owned()).or_default() += 1;
        let target = options.target_host.clone().unwrap_or_else(|| "c3".into());
        w.servers.insert(server_id.to_owned(), target);
        w.migrations.push((server_id.to_owned(), "done".into()));
        futures_ready(Ok(()))
    }

    fn live_migrate(
        &self,
        _server_id: &str,
        _target_host: Option<&str>,
    ) -> impl Future<Output = Result<(), CloudError>> + Send {
        futures_ready(Self::unsupported())
    }

    fn server_action(
        &self,
        _server_id: &str,
        _action: &ServerAction,
    ) -> impl Future<Output = Result<(), CloudError>> + Send {
        futures_ready(Ok(()))
    }

    fn list_migrations(
        &self,
        filter: &MigrationFilter,
    ) -> impl Future<Output = Result<Vec<Migration>, CloudError>> + Send {
        let w = self.0.lock().unwrap();
        let list = w
            .migrations
            .iter()
            .enumerate()
            .filter(|(_, (id, _))| filter.instance_uuid.as_deref().is_none_or(|f| f == id))
            .map(|(n, (id, status))| {
                serde_json::from_value(json!({
                    "id": n, "instance_uuid": id, "migration_type": "evacuation",
                    "status": status, "created_at": format!("2026-01-01T00:00:{n:02}.000000"),
                }))
                .unwrap()
            })
            .collect();
        futures_ready(Ok(list))
    }

    fn list_hypervisors(&self) -> impl Future<Output = Result<Vec<Hypervisor>, CloudError>> + Send {
        futures_ready(Self::unsupported())
    }

    fn list_server_groups(
        &self,
    ) -> impl Future<Output = Result<Vec<ServerGroup>, CloudError>> + Send {
        futures_ready(Ok(Vec::new()))
    }

    fn list_resource_providers(
        &self,
    ) -> impl Future<Output = Result<Vec<ResourceProvider>, CloudError>> + Send {
        let list = HOSTS
            .iter()
            .map(|h| ResourceProvider {
                uuid: format!("rp-{h}"),
                name: (*h).to_owned(),
                generation: 1,
                parent_provider_uuid: None,
                root_provider_uuid: None,
            })
            .collect();
        futures_ready(Ok(list))
    }

    fn provider_inventories(
        &self,
        _provider: &str,
    ) -> impl Future<Output = Result<ProviderInventories, CloudError>> + Send {
        let inv = |total: u64| json!({"total": total, "reserved": 0, "min_unit": 1, "max_unit": total, "step_size": 1, "allocation_ratio": 1.0});
        futures_ready(Ok(serde_json::from_value(json!({
            "resource_provider_generation": 1,
            "inventories": {"VCPU": inv(64), "MEMORY_MB": inv(65536), "DISK_GB": inv(1000)},
        }))
        .unwrap()))
    }

    fn provider_usages(
        &self,
        _provider: &str,
    ) -> impl Future<Output = Result<ProviderUsages, CloudError>> + Send {
        futures_ready(Ok(serde_json::from_value(json!({
            "resource_provider_generation": 1, "usages": {},
        }))
        .unwrap()))
    }

    fn provider_aggregates(
        &self,
        _provider: &str,
    ) -> impl Future<Output = Result<ProviderAggregates, CloudError>> + Send {
        futures_ready(Self::unsupported())
    }

    fn provider_traits(
        &self,
        _provider: &str,
    ) -> impl Future<Output = Result<ProviderTraits, CloudError>> + Send {
        futures_ready(Self::unsupported())
    }

    fn consumer_allocations(
        &self,
        _consumer: &str,
    ) -> impl Future<Output = Result<Allocations, CloudError>> + Send {
        futures_ready(Self::unsupported())
    }
}

fn futures_ready<T: Send>(v: T) -> impl Future<Output = T> + Send {
    std::future::ready(v)
}

fn config(dir: &std::path::Path, port: u16, extra: &str) -> Config {
    Config::parse(&format!(
        r#"
[api]
listen = "127.0.0.1:{port}"
auth = "none"
[store]
path = "{}"
[openstack]
report_interval = "200ms"
[poll]
services_interval = "100ms"
servers_interval = "300ms"
[engine.workflow]
verify_poll_interval = "100ms"
return_retry = "200ms"
return_grace = "300ms"
[engine.recovery]
max_parallel_evacuations = 2
[shutdown]
deadline = "3s"
{extra}
"#,
        dir.join("lazarus.sqlite").display()
    ))
    .unwrap()
}

/// A controller on its own runtime, so that a crash can drop every one of its tasks at
/// once, mid-await, like a killed process.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    task: Option<tokio::task::JoinHandle<()>>,
    base: String,
    http: reqwest::Client,
}

impl Running {
    async fn start(cloud: FakeCloud, dir: &std::path::Path) -> Self {
        Self::start_with(cloud, dir, "", None).await
    }

    /// With more configuration, and a fencer of the test's instead of `[bmc]`'s.
    async fn start_with(
        cloud: FakeCloud,
        dir: &std::path::Path,
        extra: &str,
        fencer: Option<Arc<dyn Fencer>>,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (tx, rx) = oneshot::channel::<()>();
        let cfg = config(dir, port, extra);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let task = runtime.spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            match fencer {
                Some(f) => {
                    lazarus_controller::run_with_fencer(cfg, cloud, Arc::new(NoAuth), f, shutdown)
                        .await
                }
                None => lazarus_controller::run(cfg, cloud, Arc::new(NoAuth), shutdown).await,
            }
            .unwrap();
        });
        let r = Self {
            stop: Some(tx),
            runtime: Some(runtime),
            task: Some(task),
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        r.wait("ready", || async {
            r.http
                .get(format!("{}/ready", r.base))
                .send()
                .await
                .is_ok_and(|x| x.status().is_success())
        })
        .await;
        r
    }

    async fn wait<F, Fut>(&self, what: &str, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        for _ in 0..600 {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "POST {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn protect(&self) {
        let seg = self
            .post(
                "/v1/segments",
                json!({"segment": {"name": "s", "recovery_method": "auto", "service_type": "COMPUTE"}}),
            )
            .await;
        let id = seg["segment"]["uuid"].as_str().unwrap().to_owned();
        for h in HOSTS {
            self.post(
                &format!("/v1/segments/{id}/hosts"),
                json!({"host": {"name": h, "type": "COMPUTE", "control_attributes": "x"}}),
            )
            .await;
        }
    }

    async fn notify(&self, host: &str) -> String {
        self.notify_at(host, "2026-01-01T00:00:00").await
    }

    async fn notify_at(&self, host: &str, generated: &str) -> String {
        let n = self
            .post(
                "/v1/notifications",
                json!({"notification": {"type": "COMPUTE_HOST", "hostname": host,
                    "generated_time": generated,
                    "payload": {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}}}),
            )
            .await;
        n["notification"]["notification_uuid"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn notification_status(&self, id: &str) -> String {
        self.get(&format!("/v1/notifications/{id}")).await["notification"]["status"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops within its deadline")
            .unwrap();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    /// Every task of the controller is dropped where it stands.
    fn crash(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn on_host(cloud: &FakeCloud, host: &str) -> usize {
    cloud
        .0
        .lock()
        .unwrap()
        .servers
        .values()
        .filter(|h| *h == host)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notified_host_is_marked_down_emptied_and_returned_to_service() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(4);
    let ctl = Running::start(cloud.clone(), dir.path()).await;
    ctl.protect().await;
    ctl.wait("the servers of c1 to be known", || async {
        let hosts = ctl.get("/v1/lazarus/hosts").await;
        hosts["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == "c1"))
            .is_some_and(|h| h["instances"] == 4)
    })
    .await;
    cloud.0.lock().unwrap().alive.insert("c1".into(), false);
    let n = ctl.notify("c1").await;
    // A second monitor reports the same failure: recorded, not acted on.
    let dup = ctl.notify_at("c1", "2026-01-01T00:05:00").await;
    ctl.wait("the duplicate to be ignored", || async {
        ctl.notification_status(&dup).await == "ignored"
    })
    .await;
    ctl.wait("the notification to finish", || async {
        ctl.notification_status(&n).await == "finished"
    })
    .await;
    {
        let w = cloud.0.lock().unwrap();
        assert!(w.forced_down["c1"]);
        assert!(w.disabled["c1"]
            .as_deref()
            .is_some_and(|r| r.starts_with("lazarus: ")));
        assert_eq!(w.evacuate_calls.len(), 4);
        assert!(w.evacuate_calls.values().all(|n| *n == 1));
    }
    assert_eq!(on_host(&cloud, "c1"), 0);
    let recoveries = ctl.get("/v1/lazarus/recoveries").await;
    let recoveries = recoveries["recoveries"].as_array().unwrap();
    assert_eq!(
        recoveries.len(),
        1,
        "one recovery for two reports: {recoveries:?}"
    );
    assert_eq!(recoveries[0]["duplicate_reports"], 1);
    let vmoves = ctl.get(&format!("/v1/notifications/{n}/vmoves")).await;
    let vmoves = vmoves["vmoves"].as_array().unwrap();
    assert_eq!(vmoves.len(), 4);
    assert!(
        vmoves.iter().all(|v| v["status"] == "succeeded"),
        "{vmoves:?}"
    );

    // Not returned while the compute is dead...
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(cloud.0.lock().unwrap().forced_down["c1"]);
    // ...and returned by itself once it reports again.
    cloud.0.lock().unwrap().alive.insert("c1".into(), true);
    ctl.wait("c1 to be returned to service", || async {
        let w = cloud.0.lock().unwrap();
        !w.forced_down["c1"] && w.disabled["c1"].is_none()
    })
    .await;
    let metrics = ctl
        .http
        .get(format!("{}/metrics", ctl.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("lazarus_recoveries_finished_total{outcome=\"done\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lazarus_evacuations_total{result=\"accepted\"} 4"),
        "{metrics}"
    );
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_crashed_mid_recovery_resumes_from_its_store_without_repeating_evacuations() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(6);
    let ctl = Running::start(cloud.clone(), dir.path()).await;
    ctl.protect().await;
    ctl.wait("the servers of c1 to be known", || async {
        let hosts = ctl.get("/v1/lazarus/hosts").await;
        hosts["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == "c1"))
            .is_some_and(|h| h["instances"] == 6)
    })
    .await;
    cloud.0.lock().unwrap().alive.insert("c1".into(), false);
    let n = ctl.notify("c1").await;
    ctl.wait("a first evacuation", || async {
        !cloud.0.lock().unwrap().evacuate_calls.is_empty()
    })
    .await;
    ctl.crash();
    let moved_before = 6 - on_host(&cloud, "c1");
    assert!(moved_before < 6, "the crash must land mid-recovery");
    let ctl = Running::start(cloud.clone(), dir.path()).await;
    ctl.wait("the notification to finish after the restart", || async {
        ctl.notification_status(&n).await == "finished"
    })
    .await;
    let w = cloud.0.lock().unwrap().evacuate_calls.clone();
    assert_eq!(w.len(), 6, "every server evacuated: {w:?}");
    assert!(
        w.values().all(|n| *n == 1),
        "none twice: {w:?} ({moved_before} moved before the crash)"
    );
    assert_eq!(on_host(&cloud, "c1"), 0);
    ctl.stop().await;
}

// --- Agents and BMC fencing ------------------------------------------------------

/// One token file per host in `dir/tokens`; returns the `[agents]` section.
fn agents_section(dir: &std::path::Path, hosts: &[&str]) -> String {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    for h in hosts {
        std::fs::write(tokens.join(h), format!("{}\n", token(h))).unwrap();
    }
    format!("[agents]\ntoken_dir = \"{}\"\n", tokens.display())
}

fn token(host: &str) -> String {
    format!("agent-token-of-{host}-0123456789")
}

/// What each stand-in agent says: `None` is silent, `Some(peers)` heartbeats every
/// 250 ms reporting these peers reachable.
type AgentScript = Arc<Mutex<BTreeMap<String, Option<Vec<String>>>>>;

/// Stand-in agents posting heartbeats to the controller's agent endpoint, as the
/// lazarus agent does; returns the answers' HTTP statuses seen, per host.
fn spawn_agents(base: &str, script: &AgentScript) -> Arc<Mutex<BTreeMap<String, Vec<u16>>>> {
    let statuses: Arc<Mutex<BTreeMap<String, Vec<u16>>>> = Arc::default();
    let hosts: Vec<String> = script.lock().unwrap().keys().cloned().collect();
    for host in hosts {
        let (base, script, statuses) = (base.to_owned(), Arc::clone(script), Arc::clone(&statuses));
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for sequence in 1u64.. {
                let peers = script.lock().unwrap().get(&host).cloned().flatten();
                if let Some(peers) = peers {
                    let r = http
                        .post(format!("{base}/v1/lazarus/agents/{host}/heartbeat"))
                        .bearer_auth(token(&host))
                        .json(&json!({
                            "agent_run": format!("run-{host}"), "sequence": sequence,
                            "sent_at_ms": 0, "interval_ms": 1000,
                            "reachable_peers": peers,
                            "nova_compute": "running", "libvirtd": "running",
                        }))
                        .send()
                        .await;
                    if let Ok(r) = r {
                        let status = r.status().as_u16();
                        statuses
                            .lock()
                            .unwrap()
                            .entry(host.clone())
                            .or_default()
                            .push(status);
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    }
    statuses
}

fn agents_of(hosts: &[(&str, &[&str])]) -> AgentScript {
    Arc::new(Mutex::new(
        hosts
            .iter()
            .map(|(h, peers)| {
                (
                    (*h).to_owned(),
                    Some(peers.iter().map(|p| (*p).to_owned()).collect()),
                )
            })
            .collect(),
    ))
}

impl Running {
    async fn health(&self, host: &str) -> String {
        let hosts = self.get("/v1/lazarus/hosts").await;
        hosts["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == host))
            .and_then(|h| h["health"].as_str())
            .unwrap_or("")
            .to_owned()
    }

    async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_heartbeats_make_hosts_up_and_a_silent_host_nobody_reaches_is_suspect_then_failed() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    let extra = agents_section(dir.path(), &["c1", "c2"]);
    let ctl = Running::start_with(cloud.clone(), dir.path(), &extra, None).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up", || async {
        ctl.health("c1").await == "up" && ctl.health("c2").await == "up"
    })
    .await;
    // A host without a token is refused, and stays unjudged by heartbeats.
    let refused = ctl
        .http
        .post(format!("{}/v1/lazarus/agents/c3/heartbeat", ctl.base))
        .bearer_auth(token("c3"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_ne!(ctl.health("c3").await, "up");
    assert!(statuses.lock().unwrap()["c1"].iter().all(|s| *s == 200));

    // c2 falls silent and c1 no longer reaches it.
    cloud.0.lock().unwrap().alive.insert("c2".into(), false);
    script.lock().unwrap().insert("c2".into(), None);
    script.lock().unwrap().insert("c1".into(), Some(vec![]));
    ctl.wait("c2 to be suspect", || async {
        ctl.health("c2").await == "suspect"
    })
    .await;
    ctl.wait("c2 to be judged failed", || async {
        ctl.health("c2").await == "failed"
    })
    .await;
    // Fenced `manual`: nothing confirms it off, so a critical alert, and no evacuation.
    ctl.wait("a critical fence alert", || async {
        ctl.metrics().await.lines().any(|l| {
            l.starts_with("lazarus_alerts_total{") && l.contains("critical") && l.contains("ence")
        })
    })
    .await;
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    assert_eq!(ctl.health("c1").await, "up");
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_host_its_peer_still_reaches_is_partitioned_and_not_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    let extra = agents_section(dir.path(), &["c1", "c2"]);
    let ctl = Running::start_with(cloud.clone(), dir.path(), &extra, None).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let _statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up", || async {
        ctl.health("c1").await == "up" && ctl.health("c2").await == "up"
    })
    .await;
    // The controller loses c2, but c1 keeps reaching it.
    script.lock().unwrap().insert("c2".into(), None);
    ctl.wait("c2 to be partitioned", || async {
        ctl.health("c2").await == "partitioned"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ctl.health("c2").await, "partitioned");
    let r = ctl.get("/v1/lazarus/recoveries").await;
    assert_eq!(r["recoveries"].as_array().map(Vec::len), Some(0), "{r}");
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    ctl.stop().await;
}

/// A stand-in BMC: accepts power-offs if it answers, and reads "On" until released.
#[derive(Debug, Default)]
struct Bmc {
    answers: bool,
    released: bool,
    power_offs: u32,
    reads: u32,
    off_read: bool,
}

#[derive(Debug, Clone, Default)]
struct ScriptedBmc(Arc<Mutex<Bmc>>);

#[async_trait::async_trait]
impl lazarus_fence::PowerControl for ScriptedBmc {
    async fn power_off(&self, timeout: Duration) -> Result<(), lazarus_fence::BmcError> {
        let mut b = self.0.lock().unwrap();
        if !b.answers {
            return Err(lazarus_fence::BmcError::Timeout(timeout));
        }
        b.power_offs += 1;
        Ok(())
    }

    async fn power_on(&self, _timeout: Duration) -> Result<(), lazarus_fence::BmcError> {
        Ok(())
    }

    async fn power_state(
        &self,
        timeout: Duration,
    ) -> Result<lazarus_core::event::PowerState, lazarus_fence::BmcError> {
        let mut b = self.0.lock().unwrap();
        if !b.answers {
            return Err(lazarus_fence::BmcError::Timeout(timeout));
        }
        b.reads += 1;
        if b.released && b.power_offs > 0 {
            b.off_read = true;
            Ok(lazarus_core::event::PowerState::Off)
        } else {
            Ok(lazarus_core::event::PowerState::On)
        }
    }
}

/// `[bmc.hosts.c2]` (so c2 defaults to `bmc`) and fast fencing retries; the drivers
/// themselves are the test's.
const BMC_C2: &str = r#"
[bmc.hosts.c2]
driver = "redfish"
address = "http://127.0.0.1:9"
username = "u"
password = "p"
[engine.fencing]
power_read_interval = "300ms"
max_power_reads = 40
max_fence_attempts = 2
retry_backoff = "300ms"
"#;

fn fleet_with(bmc: &ScriptedBmc) -> Arc<dyn Fencer> {
    let mut fleet = lazarus_fence::Fleet::new(Duration::from_secs(1));
    fleet.insert("c2".into(), Arc::new(bmc.clone()));
    Arc::new(fleet)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bmc_fenced_host_is_evacuated_only_after_off_is_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(2);
    let bmc = ScriptedBmc::default();
    bmc.0.lock().unwrap().answers = true;
    let extra = format!("{}{BMC_C2}", agents_section(dir.path(), &["c1", "c2"]));
    let ctl = Running::start_with(cloud.clone(), dir.path(), &extra, Some(fleet_with(&bmc))).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let _statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up", || async {
        ctl.health("c1").await == "up" && ctl.health("c2").await == "up"
    })
    .await;
    let hosts = ctl.get("/v1/lazarus/hosts").await;
    let c2 = hosts["hosts"]
        .as_array()
        .and_then(|a| a.iter().find(|h| h["name"] == "c2"))
        .cloned()
        .unwrap();
    assert_eq!(c2["fence_method"], "bmc", "{c2}");

    cloud.0.lock().unwrap().alive.insert("c2".into(), false);
    script.lock().unwrap().insert("c2".into(), None);
    script.lock().unwrap().insert("c1".into(), Some(vec![]));
    ctl.wait("c2 to be powered off and read a few times", || async {
        let b = bmc.0.lock().unwrap();
        b.power_offs >= 1 && b.reads >= 3
    })
    .await;
    // Powered off, but "On" still read back: nothing is evacuated.
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    assert_eq!(on_host(&cloud, "c2"), 2);
    bmc.0.lock().unwrap().released = true;
    ctl.wait("c2 to be emptied", || async { on_host(&cloud, "c2") == 0 })
        .await;
    assert!(bmc.0.lock().unwrap().off_read);
    assert_eq!(cloud.0.lock().unwrap().evacuate_calls.len(), 2);
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bmc_that_does_not_answer_means_no_evacuation_and_a_critical_alert() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(2);
    let bmc = ScriptedBmc::default();
    let extra = format!("{}{BMC_C2}", agents_section(dir.path(), &["c1", "c2"]));
    let ctl = Running::start_with(cloud.clone(), dir.path(), &extra, Some(fleet_with(&bmc))).await;
    ctl.protect().await;
    let script = agents_of(&[("c1", &["c2"]), ("c2", &["c1"])]);
    let _statuses = spawn_agents(&ctl.base, &script);
    ctl.wait("c1 and c2 to be up", || async {
        ctl.health("c1").await == "up" && ctl.health("c2").await == "up"
    })
    .await;
    cloud.0.lock().unwrap().alive.insert("c2".into(), false);
    script.lock().unwrap().insert("c2".into(), None);
    script.lock().unwrap().insert("c1".into(), Some(vec![]));
    ctl.wait("a critical fence alert", || async {
        ctl.metrics().await.lines().any(|l| {
            l.starts_with("lazarus_alerts_total{") && l.contains("critical") && l.contains("ence")
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(cloud.0.lock().unwrap().evacuate_calls.is_empty());
    assert_eq!(on_host(&cloud, "c2"), 2);
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_down_reported_by_an_agent_comes_back_as_a_restart_command_in_a_reply() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(1);
    let extra = agents_section(dir.path(), &["c1"]);
    let ctl = Running::start_with(cloud.clone(), dir.path(), &extra, None).await;
    ctl.protect().await;
    let mut sequence = 0u64;
    let mut commands = Vec::new();
    for _ in 0..100 {
        sequence += 1;
        let reply: Value = ctl
            .http
            .post(format!("{}/v1/lazarus/agents/c1/heartbeat", ctl.base))
            .bearer_auth(token("c1"))
            .json(&json!({
                "agent_run": "run-c1", "sequence": sequence, "sent_at_ms": 0,
                "interval_ms": 1000, "reachable_peers": ["c2"],
                "nova_compute": "stopped", "libvirtd": "running",
                "events": [{"id": 1, "at_ms": 0,
                    "kind": {"process_down": {"process": "nova-compute"}}}],
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["acked_event"], 1, "{reply}");
        let peers: Vec<&str> = reply["peers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["host"].as_str())
            .collect();
        assert_eq!(peers, ["c2", "c3"], "{reply}");
        commands.extend(reply["commands"].as_array().cloned().unwrap_or_default());
        if !commands.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        commands,
        vec![json!({"restart_process": {"process": "nova-compute"}})]
    );
    // Delivered once: the next replies carry no command.
    let reply: Value = ctl
        .http
        .post(format!("{}/v1/lazarus/agents/c1/heartbeat", ctl.base))
        .bearer_auth(token("c1"))
        .json(&json!({
            "agent_run": "run-c1", "sequence": sequence + 1, "sent_at_ms": 0,
            "interval_ms": 1000, "reachable_peers": ["c2"],
            "nova_compute": "stopped", "libvirtd": "running",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["commands"], json!([]), "{reply}");
    ctl.stop().await;
}
