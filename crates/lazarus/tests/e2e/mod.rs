//! Helpers for the end-to-end tests: `lazarus controller` as a child process protecting
//! the devcloud (`bin/devcloud up`).
//!
//! - The devcloud helpers (cloud configuration, `bin/devcloud`, polling, the
//!   cross-process lock that keeps cloud-changing tests one at a time) are the OpenStack
//!   adapter's contract-test helpers, included from `lazarus-openstack/tests/devcloud`.
//! - Everything these tests create is named [`PREFIX`] and deleted on the way in and on
//!   the way out (also when a test panics); computes are started again and hosts that
//!   lazarus left forced down or disabled are returned to service.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../lazarus-openstack/tests/devcloud/mod.rs"]
pub mod devcloud;

pub mod chaos;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_openstack::test_support::BootRequest;
use lazarus_openstack::{
    ClientOptions, Cloud, MigrationFilter, MigrationType, OpenStackClient, Server, ServiceState,
    ServiceStatus, ServiceUpdate,
};
use serde_json::{json, Value};
use tokio::time::Instant;

pub use devcloud::{admin, wait_for, CloudLock};

/// Names of the servers and segments these tests create.
pub const PREFIX: &str = "lzctl-e2e-";

/// The devcloud's computes.
pub const COMPUTES: [&str; 3] = ["compute1", "compute2", "compute3"];

/// Prints a figure and appends it to `$TEST_LOG_DIR/e2e.txt` (default
/// `target/test-logs/`), so it survives nextest's output capture.
pub fn measured(line: &str) {
    println!("MEASURED {line}");
    eprintln!("MEASURED {line}");
    let dir = log_dir();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("e2e.txt"))
    {
        let _ = writeln!(f, "{line}");
    }
}

pub fn log_dir() -> PathBuf {
    let dir = std::env::var_os("TEST_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| devcloud::repo_root().join("target/test-logs"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The controller configuration the tests run with: defaults, except auth none on a
/// loopback port, the store in `dir`, and short retries so a test does not wait for
/// production-sized back-offs.
pub fn write_config(dir: &Path, port: u16, max_parallel_evacuations: u32) -> PathBuf {
    write_config_at(
        dir,
        &format!("127.0.0.1:{port}"),
        "5s",
        &format!("[engine.recovery]\nmax_parallel_evacuations = {max_parallel_evacuations}\n"),
    )
}

/// The tests' controller configuration listening on `listen`, polling servers every
/// `servers_interval`, with `sections` (more TOML tables) added.
pub fn write_config_at(
    dir: &Path,
    listen: &str,
    servers_interval: &str,
    sections: &str,
) -> PathBuf {
    let path = dir.join("lazarus.toml");
    let text = format!(
        r#"[api]
listen = "{listen}"
auth = "none"

[store]
path = "{store}"

[openstack]
cloud = "devcloud-admin"

[poll]
services_interval = "1s"
servers_interval = "{servers_interval}"

[engine.workflow]
verify_poll_interval = "1s"
return_retry = "5s"
return_grace = "20s"

{sections}
[log]
filter = "info,lazarus_controller=debug"
"#,
        store = dir.join("lazarus.sqlite").display()
    );
    std::fs::write(&path, text).expect("write the config");
    path
}

/// `lazarus controller`, running as a child process.
pub struct Controller {
    child: Option<Child>,
    pub base: String,
    pub http: reqwest::Client,
}

impl Controller {
    /// Starts the controller and waits until `/ready` says so.
    pub async fn start(config: &Path, port: u16, log_name: &str) -> Self {
        let clouds = std::env::var_os("OS_CLIENT_CONFIG_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| devcloud::repo_root().join(".devcloud/clouds.yaml"));
        Self::start_at(
            config,
            &format!("http://127.0.0.1:{port}"),
            &clouds,
            log_name,
        )
        .await
    }

    /// Starts the controller of another cloud (`clouds`, its clouds.yaml), serving at
    /// `base`, and waits until `/ready` says so.
    pub async fn start_at(config: &Path, base: &str, clouds: &Path, log_name: &str) -> Self {
        let log_path = log_dir().join(format!("{log_name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open the controller log");
        let child = Command::new(env!("CARGO_BIN_EXE_lazarus"))
            .args(["controller", "--config"])
            .arg(config)
            .env("OS_CLIENT_CONFIG_FILE", clouds)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start lazarus controller");
        let c = Self {
            child: Some(child),
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
        };
        let started = Instant::now();
        wait_for(
            "the controller to be ready",
            Duration::from_secs(60),
            Duration::from_millis(100),
            || async {
                match c.http.get(format!("{}/ready", c.base)).send().await {
                    Ok(r) if r.status().is_success() => Some(()),
                    _ => None,
                }
            },
        )
        .await;
        eprintln!(
            "controller ready after {:.2} s (log: {})",
            started.elapsed().as_secs_f64(),
            log_path.display()
        );
        c
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM; returns the exit status and how long the exit took.
    pub fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let mut child = self.child.take().expect("the controller runs");
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().expect("wait for the controller");
        (status, started.elapsed())
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates a segment with every devcloud compute, as an operator would.
    pub async fn protect_devcloud(&self, name: &str) -> String {
        self.protect(name, &COMPUTES).await
    }

    /// Creates a segment with `hosts`, as an operator would.
    pub async fn protect(&self, name: &str, hosts: &[&str]) -> String {
        let (status, body) = self
            .post(
                "/v1/segments",
                json!({"segment": {"name": name, "recovery_method": "auto", "service_type": "COMPUTE"}}),
            )
            .await;
        assert_eq!(status, 201, "create segment: {body}");
        let segment = body["segment"]["uuid"].as_str().expect("uuid").to_owned();
        for host in hosts {
            let (status, body) = self
                .post(
                    &format!("/v1/segments/{segment}/hosts"),
                    json!({"host": {"name": host, "type": "COMPUTE", "control_attributes": "SSH"}}),
                )
                .await;
            assert_eq!(status, 201, "add host {host}: {body}");
        }
        segment
    }

    /// Posts the notification a monitor (masakari-hostmonitor) posts for a dead host.
    pub async fn notify_host_down(&self, host: &str) -> String {
        let generated = chrono_like_now();
        let (status, body) = self
            .post(
                "/v1/notifications",
                json!({"notification": {
                    "type": "COMPUTE_HOST",
                    "hostname": host,
                    "generated_time": generated,
                    "payload": {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}
                }}),
            )
            .await;
        assert_eq!(status, 202, "post notification: {body}");
        body["notification"]["notification_uuid"]
            .as_str()
            .expect("notification uuid")
            .to_owned()
    }

    /// The instances the controller knows on `host`.
    pub async fn known_instances(&self, host: &str) -> u64 {
        let hosts = self.get("/v1/lazarus/hosts").await;
        hosts["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == host))
            .and_then(|h| h["instances"].as_u64())
            .unwrap_or(0)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// UTC now as Masakari's `generated_time` (`YYYY-MM-DDTHH:MM:SS`), without a date crate.
fn chrono_like_now() -> String {
    let output = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Boots `n` cirros m1.tiny servers with no network, spread round-robin over the
/// computes, and waits until all are ACTIVE. Returns (id, host) pairs.
pub async fn boot_spread(client: &OpenStackClient, tag: &str, n: usize) -> Vec<(String, String)> {
    let (image, flavor) = devcloud::cirros_tiny(client).await;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let host = COMPUTES[i % COMPUTES.len()].to_owned();
        let boot = BootRequest {
            name: format!("{PREFIX}{tag}-{i:02}"),
            image_id: image.clone(),
            flavor_id: flavor.clone(),
            host: Some(host.clone()),
            zone: None,
            metadata: vec![],
            server_group: None,
        };
        let client = client.clone();
        set.spawn(async move {
            // A few at a time would be kinder to nova-api; it copes with 20.
            let id = client.boot_server(&boot).await.expect("boot a server");
            (id, host)
        });
    }
    let mut servers = Vec::new();
    while let Some(r) = set.join_next().await {
        servers.push(r.expect("boot task"));
    }
    for (id, host) in &servers {
        let (server, _) = devcloud::wait_server(
            client,
            id,
            "ACTIVE after boot",
            Duration::from_secs(180),
            |s| s.status == "ACTIVE",
        )
        .await;
        assert_eq!(
            server.host.as_deref(),
            Some(host.as_str()),
            "booted on the forced host"
        );
    }
    measured(&format!(
        "e2e {tag}: booted {n} servers over {} computes in {:.1} s",
        COMPUTES.len(),
        started.elapsed().as_secs_f64()
    ));
    servers
}

/// The evacuation migration records of each server.
pub async fn evacuations_per_server(
    client: &OpenStackClient,
    ids: &[String],
) -> std::collections::BTreeMap<String, usize> {
    let filter = MigrationFilter {
        migration_type: Some(MigrationType::Evacuation),
        ..MigrationFilter::default()
    };
    let all = client
        .list_migrations(&filter)
        .await
        .expect("list evacuation records");
    ids.iter()
        .map(|id| {
            (
                id.clone(),
                all.iter().filter(|m| &m.instance_uuid == id).count(),
            )
        })
        .collect()
}

/// Reads a server, tolerating transient errors.
pub async fn server(client: &OpenStackClient, id: &str) -> Option<Server> {
    client.get_server_quick(id).await.ok()
}

/// Makes the devcloud whole for these tests: deletes servers named [`PREFIX`], starts
/// every compute, and returns to service the ones lazarus (or an earlier run) left
/// forced down or disabled. Never panics.
pub async fn restore(client: &OpenStackClient) {
    if let Ok(servers) = client.list_servers_named(PREFIX).await {
        for s in &servers {
            let _ = client.delete_server(&s.id).await;
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            match client.list_servers_named(PREFIX).await {
                Ok(left) if left.is_empty() => break,
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    let Ok(services) = client.list_compute_services().await else {
        eprintln!("restore: cannot list compute services");
        return;
    };
    for s in services
        .iter()
        .filter(|s| COMPUTES.contains(&s.host.as_str()))
    {
        let ours = s
            .disabled_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("lazarus"));
        let unhealthy = s.forced_down || s.state == ServiceState::Down;
        if !(unhealthy || (s.status == ServiceStatus::Disabled && ours)) {
            continue;
        }
        let _ = Command::new(devcloud::repo_root().join("bin/devcloud"))
            .args(["start-compute", &s.host])
            .current_dir(devcloud::repo_root())
            .output();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let update = if s.status == ServiceStatus::Disabled && !ours {
                ServiceUpdate::lift_forced_down()
            } else {
                ServiceUpdate::lift_forced_down_and_enable()
            };
            match client.update_compute_service(&s.id, &update).await {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => {
                    eprintln!("restore: return {} to service: {e}", s.host);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
    // Wait until every compute is up again (a just-started compute takes a few s).
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(services) = client.list_compute_services().await {
            if services
                .iter()
                .filter(|s| COMPUTES.contains(&s.host.as_str()))
                .all(|s| s.state == ServiceState::Up && !s.forced_down)
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!("restore: not every compute came back up");
}

/// Holds the devcloud lock for a test and restores the cloud on the way in and out.
pub struct Scene {
    pub client: OpenStackClient,
    lock: Option<CloudLock>,
}

impl Scene {
    pub async fn begin(name: &str) -> Self {
        let client = admin().await;
        let lock = CloudLock::acquire(name, Duration::from_secs(1200));
        restore(&client).await;
        // 20 servers need more than Nova's default quota of 10 instances.
        devcloud::devcloud(&[
            "openstack",
            "quota",
            "set",
            "--instances",
            "-1",
            "--cores",
            "-1",
            "--ram",
            "-1",
            "admin",
        ]);
        Self {
            client,
            lock: Some(lock),
        }
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let restored = std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    match OpenStackClient::new(&devcloud::config(None), &ClientOptions::default()) {
                        Ok(client) => restore(&client).await,
                        Err(e) => eprintln!("restore: {e}"),
                    }
                });
            }
        })
        .join();
        if restored.is_err() {
            eprintln!("restore panicked");
        }
        drop(self.lock.take());
    }
}

/// The end-to-end host recovery, optionally with the controller SIGKILLed right after
/// Nova accepted the first evacuation and restarted on the same SQLite file.
pub async fn host_recovery(tag: &str, crash: bool) {
    let scene = Scene::begin(tag).await;
    let client = &scene.client;
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    // With the crash, at most 2 evacuations in flight, so the kill lands mid-recovery.
    let config = write_config(dir.path(), port, if crash { 2 } else { 8 });
    let log = format!("e2e-{tag}-controller");
    let _ = std::fs::remove_file(log_dir().join(format!("{log}.log")));
    let mut ctl = Controller::start(&config, port, &log).await;
    let segment = ctl
        .protect_devcloud(&format!("{PREFIX}{tag}-{}", std::process::id()))
        .await;
    eprintln!("segment {segment} protects {COMPUTES:?}");

    let servers = boot_spread(client, tag, 20).await;
    let failed = COMPUTES[0];
    let victims: Vec<String> = servers
        .iter()
        .filter(|(_, h)| h == failed)
        .map(|(id, _)| id.clone())
        .collect();
    let bystanders: Vec<String> = servers
        .iter()
        .filter(|(_, h)| h != failed)
        .map(|(id, _)| id.clone())
        .collect();
    let expected = victims.len() as u64;
    wait_for(
        "the controller to know the servers on the host to fail",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || async { (ctl.known_instances(failed).await == expected).then_some(()) },
    )
    .await;

    devcloud::devcloud(&["kill-compute", failed]);
    let t0 = Instant::now();
    let notification = ctl.notify_host_down(failed).await;
    eprintln!("killed {failed}; notification {notification} posted");

    // Each figure has its own poller making one light call every 200 ms (nova-api has
    // 4 threads: a test that floods it measures its own queue).
    let forced = Arc::new(Mutex::new(None::<Duration>));
    let first_evac = Arc::new(Mutex::new(None::<Duration>));
    let services_poll = {
        let (client, forced) = (client.clone(), Arc::clone(&forced));
        tokio::spawn(async move {
            loop {
                if let Ok(list) = client.list_compute_services().await {
                    if list.iter().any(|s| s.host == failed && s.forced_down) {
                        *forced.lock().unwrap() = Some(t0.elapsed());
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let migrations_poll = {
        let (client, first_evac, victims) =
            (client.clone(), Arc::clone(&first_evac), victims.clone());
        tokio::spawn(async move {
            loop {
                if evacuations_per_server(&client, &victims)
                    .await
                    .values()
                    .any(|n| *n > 0)
                {
                    *first_evac.lock().unwrap() = Some(t0.elapsed());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut crashed_at = None;
    let last_active_at;
    let deadline = t0 + Duration::from_secs(300);
    let name_prefix = format!("{PREFIX}{tag}-");
    loop {
        if crash && crashed_at.is_none() && first_evac.lock().unwrap().is_some() {
            let pid = ctl.pid();
            ctl.kill9();
            crashed_at = Some(t0.elapsed());
            let left = evacuations_per_server(client, &victims)
                .await
                .values()
                .filter(|n| **n == 0)
                .count();
            eprintln!("SIGKILLed the controller (pid {pid}) after the first evacuation; {left} of {} servers not yet evacuated", victims.len());
            assert!(left > 0, "the kill must land in the middle of the recovery");
            ctl = Controller::start(&config, port, &log).await;
        }
        let listed = client
            .list_servers_named(&name_prefix)
            .await
            .unwrap_or_default();
        let active = listed
            .iter()
            .filter(|s| victims.contains(&s.id))
            .filter(|s| {
                s.status == "ACTIVE"
                    && s.task_state.is_none()
                    && s.host.as_deref().is_some_and(|h| h != failed)
            })
            .count();
        if active == victims.len() {
            last_active_at = t0.elapsed();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {active} of {} servers of {failed} are ACTIVE elsewhere after 300 s",
            victims.len()
        );
        tokio::time::sleep(Duration::from_millis(if crash { 100 } else { 200 })).await;
    }
    services_poll.abort();
    migrations_poll.abort();
    let forced_down_at = *forced.lock().unwrap();
    let first_evacuation_at = *first_evac.lock().unwrap();
    let forced_down_at = forced_down_at.expect("the host was forced down before its servers moved");
    let first_evacuation_at = first_evacuation_at.expect("an evacuation was seen");
    measured(&format!(
        "e2e {tag}: {} servers of {failed}: notification -> force-down {:.2} s, -> first evacuate {:.2} s, -> last ACTIVE {:.2} s{}",
        victims.len(),
        forced_down_at.as_secs_f64(),
        first_evacuation_at.as_secs_f64(),
        last_active_at.as_secs_f64(),
        crashed_at
            .map(|t| format!(" (controller SIGKILLed at {:.2} s and restarted)", t.as_secs_f64()))
            .unwrap_or_default()
    ));

    // The failed host is forced down and disabled, with our prefix, and stays so.
    let service = devcloud::compute(client, failed).await;
    assert!(service.forced_down, "{failed} forced down: {service:?}");
    assert_eq!(service.status, ServiceStatus::Disabled, "{service:?}");
    assert!(
        service
            .disabled_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("lazarus: ")),
        "disabled with lazarus's prefix: {service:?}"
    );

    // No server was evacuated twice, and none of the others was moved.
    let evacuations = evacuations_per_server(client, &victims).await;
    for (id, n) in &evacuations {
        assert_eq!(*n, 1, "server {id} has {n} evacuation records");
    }
    let others = evacuations_per_server(client, &bystanders).await;
    assert!(
        others.values().all(|n| *n == 0),
        "bystanders moved: {others:?}"
    );
    measured(&format!(
        "e2e {tag}: evacuation records per server: {:?} (each exactly 1)",
        evacuations.values().collect::<Vec<_>>()
    ));

    // Masakari's view: the notification finished, one succeeded vmove per server.
    let status = wait_for(
        "the notification to finish",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || async {
            let n = ctl.get(&format!("/v1/notifications/{notification}")).await;
            let status = n["notification"]["status"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            (status != "new" && status != "running").then_some(status)
        },
    )
    .await;
    assert_eq!(status, "finished");
    let vmoves = ctl
        .get(&format!("/v1/notifications/{notification}/vmoves"))
        .await;
    let vmoves = vmoves["vmoves"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        vmoves.len(),
        victims.len(),
        "one vmove per server: {vmoves:?}"
    );
    assert!(
        vmoves.iter().all(|v| v["status"] == "succeeded"),
        "every vmove succeeded: {vmoves:?}"
    );

    // The recovery and its timeline on the native API.
    let list = ctl.get("/v1/lazarus/recoveries").await;
    let id = list["recoveries"][0]["id"]
        .as_str()
        .expect("a recovery")
        .to_owned();
    let rec = ctl.get(&format!("/v1/lazarus/recoveries/{id}")).await;
    assert_eq!(rec["recovery"]["host"], failed);
    assert_eq!(rec["recovery"]["outcome"], "done");
    let timeline = rec["recovery"]["timeline"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        timeline.iter().any(|e| e["event"] == "marked_down"),
        "timeline: {timeline:?}"
    );

    // The compute comes back: lazarus returns the host to service by itself.
    // `bin/devcloud start-compute` returns once the compute runs (10-15 s); lazarus may
    // have returned the host to service by then, so the clock starts before it.
    let restarted = Instant::now();
    devcloud::devcloud(&["start-compute", failed]);
    let service = wait_for(
        "lazarus to return the host to service",
        Duration::from_secs(300),
        Duration::from_millis(500),
        || async {
            let s = devcloud::compute(client, failed).await;
            (!s.forced_down && s.status == ServiceStatus::Enabled).then_some(s)
        },
    )
    .await;
    measured(&format!(
        "e2e {tag}: start-compute issued -> returned to service (forced_down lifted, enabled) {:.1} s",
        restarted.elapsed().as_secs_f64()
    ));
    assert_eq!(service.disabled_reason, None);
    let closed = wait_for(
        "the recovery to close",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            let rec = ctl.get(&format!("/v1/lazarus/recoveries/{id}")).await;
            (rec["recovery"]["phase"] == "closed").then_some(rec)
        },
    )
    .await;
    eprintln!(
        "timeline: {}",
        serde_json::to_string_pretty(&closed["recovery"]["timeline"]).unwrap_or_default()
    );

    let (exit, took) = ctl.terminate();
    assert!(exit.success(), "controller exit on SIGTERM: {exit:?}");
    assert!(
        took < Duration::from_secs(15),
        "stopped within the deadline: {took:?}"
    );
    drop(scene);
}
