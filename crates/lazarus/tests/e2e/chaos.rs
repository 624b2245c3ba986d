//! The chaos cloud: a second devcloud whose computes are *hosts* (`bin/devcloud up
//! --netns`): each in its own network namespace with its nova-compute and a real
//! `lazarus agent`, and a Redfish BMC that really powers it off. The chaos tests
//! break one host at a time (power, links, processes, BMC) and watch a real
//! `lazarus controller` judge it.
//!
//! - The cloud lives in `.devcloud-chaos/` (or `LAZARUS_CHAOS_DEVCLOUD_DIR`) with port
//!   offset 300, apart from the shared devcloud the other end-to-end tests use. It is
//!   started on first use (`bin/devcloud up --netns --computes 3`, idempotent) and left
//!   running; `scripts/test` starts it beforehand and stops it at the end.
//! - Each host's agent runs `lazarus agent` (this build, linked as
//!   `<dir>/agents/lazarus`) with `<dir>/agents/<host>.toml`, through the devcloud's
//!   agent hook, so it dies with its host and comes back at power-on.
//! - The controller listens on the bridge address (where the hosts reach it); the
//!   BMCs, like a BMC network, stay reachable from it whatever happens to a host's link.
//! - [`ChaosCloud`] holds the cloud's lock and puts every host back (linked, BMC
//!   answering, powered on, nova-compute and agent running, Nova's service up and
//!   enabled) on the way in and on the way out, also when a test panics.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lazarus_agent::test_domains::TestDomains;
use lazarus_openstack::test_support::BootRequest;
use lazarus_openstack::{
    ClientOptions, Cloud, CloudConfig, OpenStackClient, ServiceState, ServiceStatus, ServiceUpdate,
};
use serde_json::Value;
use tokio::time::Instant;

use super::devcloud::{self, repo_root, wait_for, CloudLock};
use super::{measured, Controller};

/// The chaos cloud's hosts.
pub const HOSTS: [&str; 3] = ["compute1", "compute2", "compute3"];
/// Names of the servers and segments the chaos tests create.
pub const PREFIX: &str = "lzchaos-";
/// The chaos cloud's port offset (its Keystone is on 5300, its BMCs on 163xx).
const PORT_OFFSET: u16 = 300;
/// Where the controller listens, on the bridge address.
const CONTROLLER_PORT: u16 = 15868 + PORT_OFFSET;
/// Where each agent answers its peers' probes, inside its namespace.
const PROBE_PORT: u16 = 7411;

/// The chaos cloud, locked for one test.
pub struct ChaosCloud {
    /// The cloud's state directory.
    pub dir: PathBuf,
    /// The bridge address: the controller as the hosts see it.
    pub bridge: String,
    /// An admin client of this cloud.
    pub client: OpenStackClient,
    lock: Option<CloudLock>,
}

/// The cloud's state directory.
fn state_dir() -> PathBuf {
    std::env::var_os("LAZARUS_CHAOS_DEVCLOUD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".devcloud-chaos"))
}

/// Runs `bin/devcloud ARGS` against the chaos cloud; the exit status and the output.
fn run_devcloud(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(repo_root().join("bin/devcloud"));
    cmd.args(args)
        .current_dir(repo_root())
        .env("DEVCLOUD_DIR", dir)
        .env("DEVCLOUD_PORT_OFFSET", PORT_OFFSET.to_string())
        .env_remove("OS_CLIENT_CONFIG_FILE")
        .env_remove("OS_CLOUD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run bin/devcloud: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

impl ChaosCloud {
    /// Starts the cloud if it is not up, takes its lock, writes the agents' files and
    /// puts every host back in service.
    pub async fn begin(test: &str) -> Self {
        let dir = state_dir();
        let (ok, out) = run_devcloud(&dir, &["up", "--netns", "--computes", "3"], &[]);
        assert!(ok, "bin/devcloud up --netns (root needed) failed:\n{out}");
        let lock = CloudLock::acquire_in(&dir, test, Duration::from_secs(1200));
        let settings: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("devcloud.json")).expect("devcloud.json"),
        )
        .expect("devcloud.json is JSON");
        let bridge = settings["netns"]["controller"]
            .as_str()
            .expect("a --netns cloud names its bridge address")
            .to_owned();
        let clouds = dir.join("clouds.yaml");
        let config = CloudConfig::from_clouds_text(
            &std::fs::read_to_string(&clouds).expect("the chaos cloud's clouds.yaml"),
            None,
            "devcloud-admin",
            &clouds,
        )
        .expect("its clouds.yaml is usable");
        let client = OpenStackClient::new(&config, &ClientOptions::default()).expect("client");
        let cloud = Self {
            dir,
            bridge,
            client,
            lock: Some(lock),
        };
        cloud.write_agent_files();
        cloud.restore().await;
        cloud
    }

    /// Runs `bin/devcloud ARGS` against this cloud; panics with its output on failure.
    pub fn devcloud(&self, args: &[&str]) -> String {
        let (ok, out) = run_devcloud(&self.dir, args, &[]);
        assert!(ok, "bin/devcloud {args:?} failed:\n{out}");
        out
    }

    /// The clouds.yaml the controller uses.
    pub fn clouds_yaml(&self) -> PathBuf {
        self.dir.join("clouds.yaml")
    }

    /// A host's address (inside its namespace).
    pub fn host_addr(&self, host: &str) -> String {
        let n = host.trim_start_matches("compute");
        let prefix = self.bridge.trim_end_matches(".0.1");
        format!("{prefix}.{n}.2")
    }

    /// The controller's base URL as the hosts (and the tests) reach it.
    pub fn controller_base(&self) -> String {
        format!("http://{}:{CONTROLLER_PORT}", self.bridge)
    }

    fn agents_dir(&self) -> PathBuf {
        self.dir.join("agents")
    }

    /// Where the controller reads the agents' tokens.
    pub fn token_dir(&self) -> PathBuf {
        self.agents_dir().join("tokens")
    }

    /// Where a host's isolation response (the stand-in power-off command) writes.
    pub fn isolation_marker(&self, host: &str) -> PathBuf {
        self.agents_dir().join(format!("{host}.isolated"))
    }

    /// Per host: a token (the controller's copy and the agent's), the agent's
    /// configuration; and the link to this build's `lazarus`.
    fn write_agent_files(&self) {
        let agents = self.agents_dir();
        let tokens = self.token_dir();
        std::fs::create_dir_all(&tokens).expect("agents dir");
        let link = agents.join("lazarus");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lazarus"), &link).expect("link lazarus");
        for host in HOSTS {
            let token = format!("chaos-token-{host}-{}", std::process::id());
            std::fs::write(tokens.join(host), format!("{token}\n")).expect("token");
            let token_file = agents.join(format!("{host}.token"));
            std::fs::write(&token_file, format!("{token}\n")).expect("token");
            let peers: String = HOSTS
                .iter()
                .filter(|h| **h != host)
                .map(|h| format!("{h} = \"{}:{PROBE_PORT}\"\n", self.host_addr(h)))
                .collect();
            let config = format!(
                r#"# Written by the chaos tests (crates/lazarus/tests/e2e/chaos.rs).
host = "{host}"

[controller]
urls = ["{controller}"]
token_file = "{token_file}"
heartbeat_interval = "1s"
request_timeout = "800ms"

[peers]
listen = "0.0.0.0:{PROBE_PORT}"
probe_interval = "1s"
reachable_window = "4s"

[peers.addresses]
{peers}
[processes]
check_interval = "1s"

[processes.nova_compute]
check = "pgrep"
pattern = "computes/{host}/nova-compute-netns.conf"
restart_command = ["{devcloud}", "start-compute", "{host}", "--no-wait"]
restart_grace = "20s"

[processes.libvirtd]
check = "none"
restart_command = []

[isolation]
isolation_time = "2s"
response = "power-off-instances"
power_off_command = ["sh", "-c", "date +%s.%N >> {marker}"]

[log]
filter = "info"
"#,
                controller = self.controller_base(),
                token_file = token_file.display(),
                devcloud = repo_root().join("bin/devcloud").display(),
                marker = self.isolation_marker(host).display(),
            );
            std::fs::write(agents.join(format!("{host}.toml")), config).expect("agent config");
            let _ = std::fs::remove_file(self.isolation_marker(host));
        }
    }

    /// Rewrites `host`'s agent configuration so that it restarts nova-compute with
    /// `argv` (e.g. a command that fails), and restarts the agent.
    pub fn set_restart_command(&self, host: &str, argv: &[&str]) {
        let path = self.agents_dir().join(format!("{host}.toml"));
        let text = std::fs::read_to_string(&path).expect("agent config");
        let quoted: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
        let replaced: String = text
            .lines()
            .map(|l| {
                if l.starts_with("restart_command = [\"") && l.contains("start-compute") {
                    format!("restart_command = [{}]\n", quoted.join(", "))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        assert_ne!(replaced, text, "the restart command line was found");
        std::fs::write(&path, replaced).expect("agent config");
        let (ok, out) = run_devcloud(&self.dir, &["start-agent", host], &[]);
        assert!(ok, "start-agent {host}: {out}");
    }

    /// Appends `section` (TOML, e.g. an `[instances]` table) to `host`'s agent
    /// configuration and restarts the agent. The other hosts keep theirs; the next
    /// test's [`ChaosCloud::begin`] writes every file afresh.
    pub fn add_agent_section(&self, host: &str, section: &str) {
        let path = self.agent_config(host);
        let mut text = std::fs::read_to_string(&path).expect("agent config");
        text.push('\n');
        text.push_str(section);
        std::fs::write(&path, text).expect("agent config");
        let (ok, out) = run_devcloud(&self.dir, &["start-agent", host], &[]);
        assert!(ok, "start-agent {host}: {out}");
    }

    /// Where `host`'s agent configuration is.
    pub fn agent_config(&self, host: &str) -> PathBuf {
        self.agents_dir().join(format!("{host}.toml"))
    }

    /// The agent's log (the devcloud's `agent-<host>` service log).
    pub fn agent_log(&self, host: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("logs/agent-{host}.log"))).unwrap_or_default()
    }

    /// What the host's BMC reads (On, Off, PoweringOff).
    pub fn power_state(&self, host: &str) -> String {
        self.devcloud(&["power-status", host]).trim().to_owned()
    }

    /// Every host linked, its BMC answering, powered on, nova-compute and a fresh
    /// agent running; Nova's services up, not forced down, enabled; the tests'
    /// servers deleted. Never panics.
    pub async fn restore(&self) {
        restore_cloud(&self.dir, &self.client).await;
    }

    /// The controller's configuration: defaults, except short polls and retries so a
    /// test does not wait for production back-offs; the agents' tokens and probe
    /// addresses; the BMCs as `bin/devcloud bmc-config` prints them, with `bmc_tuning`
    /// replacing its timing lines (e.g. shorter timeouts for a BMC that never answers).
    pub fn write_controller_config(
        &self,
        dir: &Path,
        extra: &str,
        bmc_tuning: &[(&str, &str)],
    ) -> PathBuf {
        let mut bmc = self.devcloud(&["bmc-config"]);
        for (from, to) in bmc_tuning {
            bmc = bmc.replace(from, to);
        }
        let probes: String = HOSTS
            .iter()
            .map(|h| format!("{h} = \"{}:{PROBE_PORT}\"\n", self.host_addr(h)))
            .collect();
        let sections = format!(
            r#"{extra}

[agents]
token_dir = "{tokens}"

[agents.probe_addresses]
{probes}
{bmc}
"#,
            tokens = self.token_dir().display(),
        );
        super::write_config_at(
            dir,
            &format!("{}:{CONTROLLER_PORT}", self.bridge),
            "2s",
            &sections,
        )
    }

    /// Starts the controller (log `target/test-logs/chaos-<tag>-controller.log`),
    /// protects the three hosts in one segment and waits until every agent is heard.
    pub async fn start_controller(&self, tag: &str, config: &Path) -> Controller {
        let log = format!("chaos-{tag}-controller");
        let _ = std::fs::remove_file(super::log_dir().join(format!("{log}.log")));
        let ctl =
            Controller::start_at(config, &self.controller_base(), &self.clouds_yaml(), &log).await;
        ctl.protect(&format!("{PREFIX}{tag}-{}", std::process::id()), &HOSTS)
            .await;
        let started = Instant::now();
        wait_for(
            "every host to be judged up (agents heard, peers reachable)",
            Duration::from_secs(90),
            Duration::from_millis(200),
            || async {
                let hosts = ctl.get("/v1/lazarus/hosts").await;
                HOSTS
                    .iter()
                    .all(|h| host_view_of(&hosts, h).health() == "up")
                    .then_some(())
            },
        )
        .await;
        eprintln!(
            "every agent heard {:.1} s after the segment was created",
            started.elapsed().as_secs_f64()
        );
        ctl
    }

    /// Boots `n` servers on `host` and waits until they are ACTIVE and the
    /// controller knows them.
    pub async fn boot_on(&self, ctl: &Controller, tag: &str, host: &str, n: usize) -> Vec<String> {
        self.boot_on_with(ctl, tag, host, n, &[]).await
    }

    /// [`ChaosCloud::boot_on`], with server metadata (e.g. Masakari's `HA_Enabled`).
    pub async fn boot_on_with(
        &self,
        ctl: &Controller,
        tag: &str,
        host: &str,
        n: usize,
        metadata: &[(&str, &str)],
    ) -> Vec<String> {
        let client = &self.client;
        let (image, flavor) = devcloud::cirros_tiny(client).await;
        let mut ids = Vec::new();
        for i in 0..n {
            let boot = BootRequest {
                name: format!("{PREFIX}{tag}-{i:02}"),
                image_id: image.clone(),
                flavor_id: flavor.clone(),
                host: Some(host.to_owned()),
                zone: None,
                metadata: metadata
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                server_group: None,
            };
            ids.push(client.boot_server(&boot).await.expect("boot a server"));
        }
        for id in &ids {
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
                Some(host),
                "booted on the forced host"
            );
        }
        wait_for(
            "the controller to know the servers",
            Duration::from_secs(60),
            Duration::from_millis(250),
            || async { (ctl.known_instances(host).await == n as u64).then_some(()) },
        )
        .await;
        ids
    }

    /// Waits until every server is ACTIVE on another host than `failed`; returns when
    /// the last one was seen so.
    pub async fn wait_recovered(&self, ids: &[String], failed: &str, limit: Duration) -> Instant {
        wait_for(
            "every server ACTIVE on another host",
            limit,
            Duration::from_millis(200),
            || async {
                let servers = self.client.list_servers_named(PREFIX).await.ok()?;
                let done = ids.iter().all(|id| {
                    servers.iter().any(|s| {
                        &s.id == id
                            && s.status == "ACTIVE"
                            && s.task_state.is_none()
                            && s.host.as_deref().is_some_and(|h| h != failed)
                    })
                });
                done.then(Instant::now)
            },
        )
        .await
    }

    /// The hosts of the servers, by id.
    pub async fn server_hosts(&self, ids: &[String]) -> Vec<Option<String>> {
        let servers = self
            .client
            .list_servers_named(PREFIX)
            .await
            .expect("list servers");
        ids.iter()
            .map(|id| {
                servers
                    .iter()
                    .find(|s| &s.id == id)
                    .and_then(|s| s.host.clone())
            })
            .collect()
    }
}

/// What [`ChaosCloud::restore`] does, for the cloud in `dir`.
async fn restore_cloud(dir: &Path, client: &OpenStackClient) {
    let agent_cmd = "exec \"$DEVCLOUD_DIR/agents/lazarus\" agent --config \"$DEVCLOUD_DIR/agents/$LAZARUS_HOST.toml\"";
    for host in HOSTS {
        for args in [["restore", host], ["bmc-unmute", host]] {
            let (ok, out) = run_devcloud(dir, &args, &[]);
            if !ok {
                eprintln!("restore: bin/devcloud {args:?}: {out}");
            }
        }
        let (_, power) = run_devcloud(dir, &["power-status", host], &[]);
        if power.trim() != "On" {
            let (ok, out) = run_devcloud(dir, &["power-on", host], &[]);
            if !ok {
                eprintln!("restore: power-on {host}: {out}");
            }
        }
        let (ok, out) = run_devcloud(dir, &["start-compute", host], &[]);
        if !ok {
            eprintln!("restore: start-compute {host}: {out}");
        }
        let (ok, out) = run_devcloud(
            dir,
            &["start-agent", host],
            &[("DEVCLOUD_AGENT_CMD", agent_cmd)],
        );
        if !ok {
            eprintln!("restore: start-agent {host}: {out}");
        }
    }
    if let Ok(servers) = client.list_servers_named(PREFIX).await {
        for s in &servers {
            let _ = client.delete_server(&s.id).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut all_up = true;
        match client.list_compute_services().await {
            Ok(services) => {
                for s in services.iter().filter(|s| HOSTS.contains(&s.host.as_str())) {
                    let ours = s
                        .disabled_reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("lazarus"));
                    if s.forced_down || (s.status == ServiceStatus::Disabled && ours) {
                        all_up = false;
                        let update = if s.status == ServiceStatus::Disabled && !ours {
                            ServiceUpdate::lift_forced_down()
                        } else {
                            ServiceUpdate::lift_forced_down_and_enable()
                        };
                        let _ = client.update_compute_service(&s.id, &update).await;
                    } else if s.state != ServiceState::Up {
                        all_up = false;
                    }
                }
            }
            Err(_) => all_up = false,
        }
        let servers_gone = client
            .list_servers_named(PREFIX)
            .await
            .is_ok_and(|l| l.is_empty());
        if all_up && servers_gone && !hosts_placement_disabled(dir, client).await {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("restore: the chaos cloud is not fully back after 180 s");
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether Placement still marks a host disabled (`COMPUTE_STATUS_DISABLED`) although
/// Nova's service is enabled: Nova syncs that trait only when the service is up at the
/// moment it is enabled, else at the compute's next start, and until then nothing can
/// be booted there. Such a host's nova-compute is restarted (which syncs it).
async fn hosts_placement_disabled(dir: &Path, client: &OpenStackClient) -> bool {
    let Ok(providers) = client.list_resource_providers().await else {
        return false;
    };
    let mut stale = false;
    for p in providers
        .iter()
        .filter(|p| HOSTS.contains(&p.name.as_str()))
    {
        let disabled = client
            .provider_traits(&p.uuid)
            .await
            .is_ok_and(|t| t.traits.iter().any(|t| t == "COMPUTE_STATUS_DISABLED"));
        if disabled {
            eprintln!(
                "restore: Placement still marks {} COMPUTE_STATUS_DISABLED; restarting its nova-compute",
                p.name
            );
            let _ = run_devcloud(dir, &["stop-compute", &p.name], &[]);
            let _ = run_devcloud(dir, &["start-compute", &p.name], &[]);
            stale = true;
        }
    }
    stale
}

impl Drop for ChaosCloud {
    fn drop(&mut self) {
        // On another thread with its own runtime: this may run while the test's runtime
        // is unwinding.
        let dir = self.dir.clone();
        let client = self.client.clone();
        let restored = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(restore_cloud(&dir, &client));
            }
        })
        .join();
        if restored.is_err() {
            eprintln!("restore panicked");
        }
        drop(self.lock.take());
    }
}

/// One host as `GET /v1/lazarus/hosts` shows it.
pub struct HostView(pub Value);

impl HostView {
    /// The detector's verdict (`up`, `suspect`, `partitioned`, `failed`...).
    pub fn health(&self) -> String {
        self.0["health"].as_str().unwrap_or("").to_ascii_lowercase()
    }

    /// The phase of the host's recovery (`fencing`, `marking_down`...), if any.
    pub fn phase(&self) -> String {
        self.0["recovery_phase"].as_str().unwrap_or("").to_owned()
    }
}

/// What the controller said of one host over time: every change of its verdict or
/// recovery phase, polled every 100 ms from the moment the watch starts.
pub struct Watch {
    started: Instant,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(Duration, String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// Starts watching `host`; times are measured from now.
    pub fn start(ctl: &Controller, host: &str) -> Self {
        let started = Instant::now();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (http, url, host, log) = (
            ctl.http.clone(),
            format!("{}/v1/lazarus/hosts", ctl.base),
            host.to_owned(),
            std::sync::Arc::clone(&seen),
        );
        let task = tokio::spawn(async move {
            loop {
                if let Ok(r) = http.get(&url).send().await {
                    let view = host_view_of(&r.json().await.unwrap_or(Value::Null), &host);
                    let (health, phase) = (view.health(), view.phase());
                    let mut log = log.lock().unwrap();
                    let changed =
                        log.last()
                            .is_none_or(|(_, h, p): &(Duration, String, String)| {
                                *h != health || *p != phase
                            });
                    if changed && !health.is_empty() {
                        log.push((started.elapsed(), health, phase));
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self {
            started,
            seen,
            task,
        }
    }

    /// When the watch started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The first time (since the start) a verdict and phase matched.
    pub fn first(&self, matches: impl Fn(&str, &str) -> bool) -> Option<Duration> {
        self.first_since(Duration::ZERO, matches)
    }

    /// The first time, not before `since`, a verdict and phase matched.
    pub fn first_since(
        &self,
        since: Duration,
        matches: impl Fn(&str, &str) -> bool,
    ) -> Option<Duration> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .find(|(t, h, p)| *t >= since && matches(h, p))
            .map(|(t, _, _)| *t)
    }

    /// Waits (at most `limit`) for a verdict and phase to match; the time since the start.
    pub async fn wait(
        &self,
        what: &str,
        limit: Duration,
        matches: impl Fn(&str, &str) -> bool,
    ) -> Duration {
        self.wait_since(what, limit, Duration::ZERO, matches).await
    }

    /// Waits (at most `limit`) for a verdict and phase to match, not before `since`.
    pub async fn wait_since(
        &self,
        what: &str,
        limit: Duration,
        since: Duration,
        matches: impl Fn(&str, &str) -> bool,
    ) -> Duration {
        wait_for(what, limit, Duration::from_millis(50), || async {
            self.first_since(since, &matches)
        })
        .await
    }

    /// Every verdict and phase seen so far, one line each.
    pub fn timeline(&self) -> String {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(t, h, p)| format!("  +{:.2}s {h} {p}\n", t.as_secs_f64()))
            .collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `host` as the controller shows it.
pub fn host_view_of(hosts: &Value, host: &str) -> HostView {
    HostView(
        hosts["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == host))
            .cloned()
            .unwrap_or(Value::Null),
    )
}

/// Asks the controller for `host` (Null when it does not answer).
pub async fn host_now(ctl: &Controller, host: &str) -> HostView {
    match ctl
        .http
        .get(format!("{}/v1/lazarus/hosts", ctl.base))
        .send()
        .await
    {
        Ok(r) => host_view_of(&r.json().await.unwrap_or(Value::Null), host),
        Err(_) => HostView(Value::Null),
    }
}

/// Every recovery the controller knows.
pub async fn recoveries(ctl: &Controller) -> Vec<Value> {
    ctl.get("/v1/lazarus/recoveries").await["recoveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The sum of a metric's samples whose line contains every one of `labels`.
pub async fn metric(ctl: &Controller, name: &str, labels: &[&str]) -> f64 {
    let text = ctl
        .http
        .get(format!("{}/metrics", ctl.base))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Records a figure of a scenario.
pub fn figure(scenario: &str, what: &str, d: Duration) {
    measured(&format!(
        "chaos {scenario}: {what} {:.2} s",
        d.as_secs_f64()
    ));
}

impl ChaosCloud {
    /// The log of the controller started by [`ChaosCloud::start_controller`] with `tag`.
    pub fn controller_log(&self, tag: &str) -> String {
        std::fs::read_to_string(super::log_dir().join(format!("chaos-{tag}-controller.log")))
            .unwrap_or_default()
    }

    /// `GET` on Nova's API (the endpoint of the admin client's catalog) at a recent
    /// microversion; `None` on any error. For what the adapter does not wrap, such as
    /// a server's `os-instance-actions`.
    pub async fn nova_get(&self, path: &str) -> Option<Value> {
        let (token, endpoint) = self.client.token_and_endpoint("compute").await.ok()?;
        let response = reqwest::Client::new()
            .get(format!("{}{path}", endpoint.trim_end_matches('/')))
            .header("X-Auth-Token", token.expose())
            .header("OpenStack-API-Version", "compute 2.96")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// The actions Nova recorded for a server (`create`, `reboot`, `stop`...), oldest
    /// first.
    pub async fn instance_actions(&self, id: &str) -> Option<Vec<String>> {
        let body = self
            .nova_get(&format!("/servers/{id}/os-instance-actions"))
            .await?;
        let mut actions: Vec<(String, String)> = body["instanceActions"]
            .as_array()?
            .iter()
            .map(|a| {
                (
                    a["start_time"].as_str().unwrap_or("").to_owned(),
                    a["action"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        actions.sort();
        Some(actions.into_iter().map(|(_, a)| a).collect())
    }

    /// The `virsh event` stream `host`'s agent runs (its instance monitor), if it runs.
    pub fn virsh_event_stream(&self, host: &str) -> Option<EventStream> {
        let config = self.agent_config(host);
        let agent_argv = format!("agent\0--config\0{}\0", config.display());
        let processes = processes();
        let agent = processes.iter().find(|p| p.cmdline.contains(&agent_argv))?;
        let stream = processes
            .iter()
            .find(|p| p.ppid == agent.pid && p.cmdline.contains("event\0--all\0--loop"))?;
        Some(EventStream {
            pid: stream.pid,
            netns: netns_of(stream.pid),
        })
    }
}

/// The `virsh event` process of an agent's instance monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStream {
    /// Its pid.
    pub pid: u32,
    /// Its network namespace (`net:[inode]`).
    pub netns: String,
}

/// One process as `/proc` shows it.
struct ProcessInfo {
    pid: u32,
    ppid: u32,
    cmdline: String,
}

/// Every process of the machine.
fn processes() -> Vec<ProcessInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // stat: pid (comm) state ppid ...
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = std::fs::read_to_string(e.path().join("cmdline")).unwrap_or_default();
            Some(ProcessInfo { pid, ppid, cmdline })
        })
        .collect()
}

/// A process's network namespace (`net:[inode]`), or "" if unreadable.
pub fn netns_of(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Transient domains on the machine's real libvirtd (`tests/libvirt/up`), standing in
/// for Nova servers' guests: the chaos cloud's nova-compute uses Nova's fake driver,
/// which has no domain of its own, so a test creates one whose UUID is the server's id
/// (as Nova's libvirt driver does). Destroyed when dropped.
pub struct LibvirtDomains(TestDomains);

impl LibvirtDomains {
    /// None yet; checks that libvirtd answers.
    pub fn connect() -> Self {
        Self(TestDomains::connect().unwrap_or_else(|e| panic!("{e}")))
    }

    /// `virsh create`s a domain named `name` with UUID `uuid`.
    pub fn create(&mut self, name: &str, uuid: &str) {
        self.0
            .create(name, uuid, "")
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// `virsh destroy`: an operator's stop.
    pub fn destroy(&self, name: &str) {
        self.0.destroy(name).unwrap_or_else(|e| panic!("{e}"));
    }

    /// SIGKILL to the domain's QEMU: a guest that crashes.
    pub fn kill_qemu(&self, name: &str) {
        self.0.kill_qemu(name).unwrap_or_else(|e| panic!("{e}"));
    }
}
