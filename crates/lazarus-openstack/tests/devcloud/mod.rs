//! Helpers for the contract tests against the devcloud (`bin/devcloud up`).
//!
//! - The cloud comes from `OS_CLIENT_CONFIG_FILE`/`OS_CLOUD` (what `bin/devcloud env`
//!   exports), else from the repository's `.devcloud/clouds.yaml`, cloud
//!   `devcloud-admin`. A missing or unreachable cloud fails the test loudly.
//! - Scenarios that change the cloud hold [`CloudLock`], a lock directory that works
//!   across processes (nextest runs every test in its own process), and restore the
//!   cloud when they end, even by panic: servers and groups named [`PREFIX`] are
//!   deleted, computes this suite disabled are started again, un-forced and enabled.

#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lazarus_openstack::test_support::BootRequest;
use lazarus_openstack::{
    ClientOptions, Cloud, CloudConfig, CloudError, ComputeService, OpenStackClient, Server,
    ServiceState, ServiceStatus, ServiceUpdate,
};
use tokio::time::Instant;

/// Names of everything these tests create.
pub const PREFIX: &str = "lzos-contract-";
/// The disabled_reason these tests write; restoration re-enables only these.
pub const REASON: &str = "lazarus-openstack contract test: host fenced";

pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Canonical, as bin/devcloud writes the paths it hands to the processes it starts
    // (a test that looks a process up by its command line compares with them).
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// The devcloud configuration, or a panic that says how to get one.
pub fn config(cloud: Option<&str>) -> CloudConfig {
    let from_env = std::env::var_os("OS_CLIENT_CONFIG_FILE").is_some()
        && (cloud.is_some() || std::env::var_os("OS_CLOUD").is_some());
    let result = if from_env {
        CloudConfig::load(cloud)
    } else {
        let path = repo_root().join(".devcloud/clouds.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the devcloud is not configured: {} ({e}); run `bin/devcloud up` \
                 and `eval \"$(bin/devcloud env)\"`",
                path.display()
            )
        });
        CloudConfig::from_clouds_text(&text, None, cloud.unwrap_or("devcloud-admin"), &path)
    };
    result.unwrap_or_else(|e| panic!("the devcloud configuration is unusable: {e}"))
}

/// An admin client of the devcloud, checked to be reachable.
pub async fn admin() -> OpenStackClient {
    let client = OpenStackClient::new(&config(None), &ClientOptions::default())
        .unwrap_or_else(|e| panic!("cannot build the client: {e}"));
    if let Err(error) = client.list_compute_services().await {
        panic!("the devcloud is not reachable ({error}); start it with `bin/devcloud up`");
    }
    client
}

/// Runs `bin/devcloud ARGS`; panics with its output if it fails.
pub fn devcloud(args: &[&str]) -> String {
    let output = Command::new(repo_root().join("bin/devcloud"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run bin/devcloud: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "bin/devcloud {args:?} failed:\n{text}"
    );
    text
}

/// Prints a measurement and appends it to `$TEST_LOG_DIR/openstack-contract.txt`
/// (default `target/test-logs/`), so the figures survive nextest's output capture.
pub fn measured(line: &str) {
    eprintln!("MEASURED {line}");
    let dir = std::env::var_os("TEST_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/test-logs"));
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("openstack-contract.txt"))
    {
        let _ = writeln!(file, "{line}");
    }
}

/// Polls `check` every `every` until it returns `Some`, or panics after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Waits until the server has no task and `done(server)` holds; returns it with the
/// time waited.
pub async fn wait_server(
    client: &OpenStackClient,
    id: &str,
    what: &str,
    limit: Duration,
    done: impl Fn(&Server) -> bool,
) -> (Server, Duration) {
    let started = Instant::now();
    let server = wait_for(what, limit, Duration::from_millis(100), || async {
        match client.get_server_quick(id).await {
            Ok(server) if server.task_state.is_none() && done(&server) => Some(server),
            Ok(server) if server.status == "ERROR" && what != "ERROR" => {
                panic!("{id} went to ERROR while waiting for {what}: {server:?}")
            }
            Ok(_) => None,
            Err(error) if error.is_retryable() => None,
            Err(error) => panic!("reading {id}: {error}"),
        }
    })
    .await;
    (server, started.elapsed())
}

/// The compute services, by host.
pub async fn compute(client: &OpenStackClient, host: &str) -> ComputeService {
    client
        .list_compute_services()
        .await
        .expect("list compute services")
        .into_iter()
        .find(|s| s.host == host)
        .unwrap_or_else(|| panic!("no compute service on {host}"))
}

/// `n` hosts that are up and enabled, preferring the highest-numbered (other tests
/// of the project tend to use compute1). Panics if there are fewer.
pub async fn healthy_hosts(client: &OpenStackClient, n: usize) -> Vec<String> {
    let mut hosts: Vec<String> = client
        .list_compute_services()
        .await
        .expect("list compute services")
        .into_iter()
        .filter(|s| {
            s.state == ServiceState::Up && s.status == ServiceStatus::Enabled && !s.forced_down
        })
        .map(|s| s.host)
        .collect();
    hosts.sort_by_key(|h| std::cmp::Reverse(natural_key(h)));
    assert!(
        hosts.len() >= n,
        "this test needs {n} healthy computes, the devcloud has {hosts:?}"
    );
    hosts.truncate(n);
    hosts
}

fn natural_key(name: &str) -> (String, u64) {
    let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
    (
        name[..name.len() - digits.len()].to_owned(),
        digits.parse().unwrap_or(0),
    )
}

/// The ids of the devcloud's cirros image and m1.tiny flavor.
pub async fn cirros_tiny(client: &OpenStackClient) -> (String, String) {
    let image = client
        .find_image_id("cirros")
        .await
        .expect("look up the image")
        .expect("the devcloud has a cirros image");
    let flavor = client
        .find_flavor_id("m1.tiny")
        .await
        .expect("look up the flavor")
        .expect("the devcloud has an m1.tiny flavor");
    (image, flavor)
}

/// Boots a cirros m1.tiny server with no network on `host`; returns its id once ACTIVE.
pub async fn boot_active(
    client: &OpenStackClient,
    name: &str,
    host: &str,
    group: Option<&str>,
    metadata: &[(&str, &str)],
) -> String {
    let (image, flavor) = cirros_tiny(client).await;
    let boot = BootRequest {
        name: format!("{PREFIX}{name}"),
        image_id: image,
        flavor_id: flavor,
        host: Some(host.to_owned()),
        zone: None,
        metadata: metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        server_group: group.map(str::to_owned),
    };
    let id = client.boot_server(&boot).await.expect("boot a server");
    let (server, took) = wait_server(
        client,
        &id,
        "ACTIVE after boot",
        Duration::from_secs(60),
        |s| s.status == "ACTIVE",
    )
    .await;
    assert_eq!(
        server.host.as_deref(),
        Some(host),
        "booted on the forced host"
    );
    measured(&format!(
        "boot {name} on {host}: ACTIVE after {:.2} s",
        took.as_secs_f64()
    ));
    id
}

/// Lifts forced_down and enables `service`, retrying while Nova still has `done`
/// evacuation records from it; returns how long that took.
pub async fn lift_forced_down(
    client: &OpenStackClient,
    service_id: &str,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    wait_for(
        "forced_down to be lifted",
        limit,
        Duration::from_millis(500),
        || async {
            match client
                .update_compute_service(service_id, &ServiceUpdate::lift_forced_down_and_enable())
                .await
            {
                Ok(_) => Some(()),
                Err(CloudError::EvacuationsStillDone { .. }) => None,
                Err(error) if error.is_retryable() => None,
                Err(error) => panic!("lifting forced_down: {error}"),
            }
        },
    )
    .await;
    started.elapsed()
}

/// Puts the devcloud back the way these tests found it: deletes their servers and
/// groups; starts, un-forces and enables the computes they disabled. Never panics
/// (it also runs while a failed test unwinds); problems are printed.
pub async fn restore(client: &OpenStackClient) {
    match client.list_servers_named(PREFIX).await {
        Ok(servers) => {
            for server in &servers {
                if let Err(e) = client.delete_server(&server.id).await {
                    eprintln!("restore: delete {}: {e}", server.id);
                }
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                match client.list_servers_named(PREFIX).await {
                    Ok(left) if left.is_empty() => break,
                    _ => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }
        Err(e) => eprintln!("restore: list servers: {e}"),
    }
    match client.list_server_groups().await {
        Ok(groups) => {
            for group in groups.iter().filter(|g| g.name.starts_with(PREFIX)) {
                if let Err(e) = client.delete_server_group(&group.id).await {
                    eprintln!("restore: delete group {}: {e}", group.id);
                }
            }
        }
        Err(e) => eprintln!("restore: list server groups: {e}"),
    }
    let services = match client.list_compute_services().await {
        Ok(services) => services,
        Err(e) => {
            eprintln!("restore: list compute services: {e}");
            return;
        }
    };
    for service in services
        .iter()
        .filter(|s| s.disabled_reason.as_deref() == Some(REASON))
    {
        let output = Command::new(repo_root().join("bin/devcloud"))
            .args(["start-compute", &service.host])
            .current_dir(repo_root())
            .output();
        if let Err(e) = output {
            eprintln!("restore: start {}: {e}", service.host);
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match client
                .update_compute_service(&service.id, &ServiceUpdate::lift_forced_down_and_enable())
                .await
            {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => {
                    eprintln!("restore: un-force {}: {e}", service.host);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
}

/// A scenario that changes the cloud: holds the lock, restores the cloud on the way in
/// (after a crashed run) and on the way out (also when the test panics).
pub struct Scenario {
    pub client: OpenStackClient,
    lock: Option<CloudLock>,
}

impl Scenario {
    pub async fn begin(name: &str) -> Self {
        let client = admin().await;
        let lock = CloudLock::acquire(name, Duration::from_secs(900));
        restore(&client).await;
        Self {
            client,
            lock: Some(lock),
        }
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        // A fresh runtime and client on another thread: this may run while the test's
        // runtime is unwinding.
        let restored = std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(async {
                    match OpenStackClient::new(&config(None), &ClientOptions::default()) {
                        Ok(client) => restore(&client).await,
                        Err(e) => eprintln!("restore: {e}"),
                    }
                }),
                Err(e) => eprintln!("restore: no runtime: {e}"),
            }
        })
        .join();
        if restored.is_err() {
            eprintln!("restore panicked");
        }
        drop(self.lock.take());
    }
}

/// A lock across processes: a directory next to the devcloud's state. `mkdir` is
/// atomic; the owner's pid is written inside, so a lock left by a killed process is
/// taken over.
pub struct CloudLock {
    dir: PathBuf,
}

impl CloudLock {
    pub fn acquire(holder: &str, limit: Duration) -> Self {
        let state = std::env::var_os("DEVCLOUD_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".devcloud"));
        Self::acquire_in(&state, holder, limit)
    }

    /// The lock of the devcloud whose state directory is `state`.
    pub fn acquire_in(state: &Path, holder: &str, limit: Duration) -> Self {
        let dir = state.join("contract-tests.lock");
        let mut waited = Duration::ZERO;
        let pause = Duration::from_millis(500);
        loop {
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let _ = std::fs::write(
                        dir.join("owner"),
                        format!("{} {holder}", std::process::id()),
                    );
                    return Self { dir };
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(dir.join("owner")).unwrap_or_default();
                    let pid = owner.split(' ').next().unwrap_or("");
                    let alive = !pid.is_empty() && Path::new("/proc").join(pid).exists();
                    let age = std::fs::metadata(&dir)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .unwrap_or_default();
                    if !alive && (!pid.is_empty() || age > Duration::from_secs(10)) {
                        eprintln!("taking over a stale devcloud test lock ({owner:?})");
                        let _ = std::fs::remove_dir_all(&dir);
                        continue;
                    }
                }
                Err(e) => panic!("cannot create {}: {e}", dir.display()),
            }
            assert!(
                waited < limit,
                "waited {limit:?} for the devcloud test lock at {}",
                dir.display()
            );
            std::thread::sleep(pause);
            waited += pause;
        }
    }
}

impl Drop for CloudLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
