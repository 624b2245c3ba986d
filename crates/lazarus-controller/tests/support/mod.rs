//! A controller under test: the whole daemon (API, engine task, journal, effects,
//! pollers) on its own runtime, against an in-memory three-host cloud, with stand-in
//! agents, a caller's authenticator (so that route tests can act as an admin or a
//! reader) and, optionally, a fencer of the test's. Shared by the controller's
//! integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_api::Authenticator;
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
pub struct World {
    pub alive: BTreeMap<String, bool>,
    pub forced_down: BTreeMap<String, bool>,
    pub disabled: BTreeMap<String, Option<String>>,
    pub reports: u64,
    /// server id -> host
    pub servers: BTreeMap<String, String>,
    /// (server id, status)
    pub migrations: Vec<(String, String)>,
    pub evacuate_calls: BTreeMap<String, u32>,
    /// (server id, action) per server action asked of Nova, in order.
    pub server_actions: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeCloud(pub Arc<Mutex<World>>);

pub const HOSTS: [&str; 3] = ["c1", "c2", "c3"];

impl FakeCloud {
    pub fn new(servers_per_host: usize) -> Self {
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
        server_id: &str,
        action: &ServerAction,
    ) -> impl Future<Output = Result<(), CloudError>> + Send {
        self.0
            .lock()
            .unwrap()
            .server_actions
            .push((server_id.to_owned(), format!("{action:?}")));
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

/// The test configuration: fast polls and workflow timers, with `extra` merged over it
/// (a table `extra` also names, such as `[poll]`, has its keys overridden one by one).
pub fn config(dir: &std::path::Path, port: u16, extra: &str) -> Config {
    let mut base: toml::Table = toml::from_str(&format!(
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
"#,
        dir.join("lazarus.sqlite").display()
    ))
    .unwrap();
    merge(&mut base, toml::from_str(extra).unwrap());
    Config::parse(&toml::to_string(&base).unwrap()).unwrap()
}

/// Deep-merges `over` into `base`: tables key by key, anything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The token an admin sends (see [`TokenAuth`]).
pub const ADMIN: &str = "admin-token";
/// The token a reader sends.
pub const READER: &str = "reader-token";

/// Tokens mapped to principals: [`ADMIN`] is alice of project p1 with the admin role,
/// [`READER`] bob with the reader role; anything else is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenAuth;

#[async_trait::async_trait]
impl Authenticator for TokenAuth {
    async fn authenticate(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<lazarus_api::Principal, lazarus_api::AuthError> {
        let principal = |user: &str, role: &str| lazarus_api::Principal {
            user: user.into(),
            project_id: Some("p1".into()),
            roles: vec![role.into()],
        };
        match headers.get("X-Auth-Token").and_then(|v| v.to_str().ok()) {
            None => Err(lazarus_api::AuthError::Missing),
            Some(ADMIN) => Ok(principal("alice", "admin")),
            Some(READER) => Ok(principal("bob", "reader")),
            Some(_) => Err(lazarus_api::AuthError::Invalid("unknown token".into())),
        }
    }
}

/// A controller on its own runtime, so that a crash can drop every one of its tasks at
/// once, mid-await, like a killed process.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub base: String,
    pub http: reqwest::Client,
}

impl Running {
    /// Starts a controller with `extra` configuration and `auth`; every request of the
    /// fixture carries the [`ADMIN`] token.
    pub async fn start(
        cloud: FakeCloud,
        dir: &std::path::Path,
        extra: &str,
        auth: Arc<dyn Authenticator>,
    ) -> Self {
        Self::start_with(cloud, dir, extra, auth, None).await
    }

    /// Like [`Running::start`], with a fencer of the test's instead of `[bmc]`'s when
    /// `fencer` is given.
    pub async fn start_with(
        cloud: FakeCloud,
        dir: &std::path::Path,
        extra: &str,
        auth: Arc<dyn Authenticator>,
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
                Some(f) => lazarus_controller::run_with_fencer(cfg, cloud, auth, f, shutdown).await,
                None => lazarus_controller::run(cfg, cloud, auth, shutdown).await,
            }
            .unwrap();
        });
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "X-Auth-Token",
            reqwest::header::HeaderValue::from_static(ADMIN),
        );
        let r = Self {
            stop: Some(tx),
            runtime: Some(runtime),
            task: Some(task),
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
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

    pub async fn wait<F, Fut>(&self, what: &str, mut f: F)
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

    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
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

    /// One segment `s` with the three hosts.
    pub async fn protect(&self) {
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

    /// The entry of `GET /v1/lazarus/hosts` for `host` (null if absent).
    pub async fn host(&self, host: &str) -> Value {
        let hosts = self.get("/v1/lazarus/hosts").await;
        hosts["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == host))
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub async fn health(&self, host: &str) -> String {
        self.host(host).await["health"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// The `/metrics` page.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A monitor's COMPUTE_HOST STOPPED / NORMAL notification for `host`; its id.
    pub async fn notify(&self, host: &str) -> String {
        self.notify_at(host, "2026-01-01T00:00:00").await
    }

    /// The same, generated at `generated`.
    pub async fn notify_at(&self, host: &str, generated: &str) -> String {
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

    /// The Masakari status of notification `id`.
    pub async fn notification_status(&self, id: &str) -> String {
        self.get(&format!("/v1/notifications/{id}")).await["notification"]["status"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Every task of the controller is dropped where it stands.
    pub fn crash(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    pub async fn stop(mut self) {
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
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

pub fn on_host(cloud: &FakeCloud, host: &str) -> usize {
    cloud
        .0
        .lock()
        .unwrap()
        .servers
        .values()
        .filter(|h| *h == host)
        .count()
}

/// One token file per host in `dir/tokens`; returns the `[agents]` section.
pub fn agents_section(dir: &std::path::Path, hosts: &[&str]) -> String {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    for h in hosts {
        std::fs::write(tokens.join(h), format!("{}\n", token(h))).unwrap();
    }
    format!("[agents]\ntoken_dir = \"{}\"\n", tokens.display())
}

pub fn token(host: &str) -> String {
    format!("agent-token-of-{host}-0123456789")
}

/// What each stand-in agent says: `None` is silent, `Some(peers)` heartbeats every
/// 250 ms reporting these peers reachable.
pub type AgentScript = Arc<Mutex<BTreeMap<String, Option<Vec<String>>>>>;

/// Stand-in agents posting heartbeats to the controller's agent endpoint, as the
/// lazarus agent does; returns the answers' HTTP statuses seen, per host.
pub fn spawn_agents(base: &str, script: &AgentScript) -> Arc<Mutex<BTreeMap<String, Vec<u16>>>> {
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

pub fn agents_of(hosts: &[(&str, &[&str])]) -> AgentScript {
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
