//! The controller's configuration: one TOML file, every option with a default.
//!
//! `etc/lazarus.toml` lists every option with its default and what it does; this module
//! is the authority on both. Unknown keys are refused (`deny_unknown_fields`) so that a
//! typo never silently falls back to a default. [`Config::validate`] runs before anything
//! binds or connects; a refused file makes `lazarus controller` exit with code 2.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lazarus_core::model::{FenceMethod, RecoveryPolicy};
use lazarus_core::policy::{
    DetectorPolicy, EngineConfig, FencingPolicy, ProcessPolicy, Sensitivity, StormPolicy,
    VmMonitoring, WorkflowPolicy,
};
use serde::{Deserialize, Serialize};

/// Why a configuration was refused. Nothing was started.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration (unknown key, wrong type...).
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line and the key.
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid configuration: {field}: {reason}")]
    Invalid {
        /// The option, as `section.key`.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The engine's policies do not hold together.
    #[error("invalid configuration: engine: {0}")]
    Engine(#[from] lazarus_core::policy::ConfigError),
    /// The cloud could not be configured from clouds.yaml / `OS_*`.
    #[error("invalid configuration: openstack: {0}")]
    Cloud(#[from] lazarus_openstack::ConfigError),
    /// A `[bmc.hosts.X]` entry cannot make a driver (bad address, unreadable password
    /// or CA file...).
    #[error("invalid configuration: bmc: {0}")]
    Bmc(#[from] lazarus_fence::ConfigError),
}

/// Everything the controller is configured with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP API (Masakari v1, native, health and metrics).
    pub api: ApiSection,
    /// Durable state.
    pub store: StoreSection,
    /// The OpenStack cloud lazarus protects.
    pub openstack: OpenStackSection,
    /// How often Nova and Placement are read.
    pub poll: PollSection,
    /// Defaults for hosts registered through the API.
    pub hosts: HostsSection,
    /// Which instances are protected, and at which priority.
    pub instances: InstancesSection,
    /// The decision engine's policies.
    pub engine: EngineSection,
    /// Graceful shutdown.
    pub shutdown: ShutdownSection,
    /// The Prometheus endpoint.
    pub metrics: MetricsSection,
    /// Logging.
    pub log: LogSection,
    /// The BMC of each host fenced by power (`[bmc.hosts.<nova name>]`); a host listed
    /// here is fenced by `bmc` unless its `control_attributes` name another method.
    pub bmc: lazarus_fence::BmcSection,
    /// The lazarus agents on the compute hosts.
    pub agents: AgentsSection,
}

/// `[agents]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsSection {
    /// A directory with one token file per host, named after the host (its first line
    /// is the agent's bearer token). Unset (the default): no agent is taken, and
    /// `POST /v1/lazarus/agents/{host}/heartbeat` refuses every caller.
    pub token_dir: Option<PathBuf>,
    /// How often `token_dir` is read again while the controller runs (added, rotated
    /// and removed tokens); a refused heartbeat gets it read sooner.
    #[serde(with = "humantime_serde")]
    pub token_reread_interval: Duration,
    /// Where each host's agent answers peer probes (`ip:port`), sent to its peers with
    /// every heartbeat reply. A host not listed is probed where its peers' own
    /// configuration says (by default `<host>:7411`).
    pub probe_addresses: std::collections::BTreeMap<lazarus_core::HostName, String>,
}

impl Default for AgentsSection {
    fn default() -> Self {
        Self {
            token_dir: None,
            token_reread_interval: Duration::from_secs(30),
            probe_addresses: std::collections::BTreeMap::new(),
        }
    }
}

impl AgentsSection {
    /// The agents' tokens (none without `token_dir`).
    pub fn tokens(&self) -> Result<lazarus_agent::AgentTokens, ConfigError> {
        match &self.token_dir {
            None => Ok(lazarus_agent::AgentTokens::new()),
            Some(dir) => {
                lazarus_agent::AgentTokens::from_dir(dir).map_err(|e| ConfigError::Invalid {
                    field: "agents.token_dir",
                    reason: e.to_string(),
                })
            }
        }
    }
}

/// How API callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Keystone tokens (`X-Auth-Token`, validated and cached): admin role for writes,
    /// reader (or member, or admin) for reads. The default.
    Keystone,
    /// Every caller is an administrator. Only for loopback, tests, or behind a proxy
    /// that authenticates.
    None,
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSection {
    /// Address to listen on. Default `127.0.0.1:15868` (Masakari's port).
    pub listen: SocketAddr,
    /// `keystone` (default) or `none`.
    pub auth: AuthMode,
    /// Keystone URL tokens are validated against. Default: the cloud's `auth_url`.
    pub keystone_url: Option<String>,
    /// How long a validated token is trusted without asking Keystone again.
    #[serde(with = "humantime_serde")]
    pub token_cache_ttl: Duration,
    /// Largest page a list returns (Masakari's `osapi_max_limit`).
    pub max_limit: u32,
    /// Identical notifications within this window are refused with 409.
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
    /// Refuse hosts whose name is not a nova-compute service (as Masakari does).
    pub validate_compute_hosts: bool,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 15868)),
            auth: AuthMode::Keystone,
            keystone_url: None,
            token_cache_ttl: Duration::from_secs(300),
            max_limit: 1000,
            duplicate_window: Duration::from_secs(180),
            validate_compute_hosts: true,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// The SQLite file (created if missing). Default `lazarus.sqlite`.
    pub path: PathBuf,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            path: PathBuf::from("lazarus.sqlite"),
        }
    }
}

/// Where evacuated instances go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvacuateTarget {
    /// Name the host lazarus's planner chose (Nova's scheduler still validates it).
    Planned,
    /// Name no host: Nova's scheduler picks one.
    Scheduler,
}

/// The state evacuated instances arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// As they were (microversion 2.94 or older: ACTIVE stays ACTIVE).
    KeepState,
    /// Stopped (2.95); ERROR ones come up ACTIVE.
    Stopped,
}

/// `[openstack]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenStackSection {
    /// The cloud's name in clouds.yaml. Default: `OS_CLOUD`, else the `OS_*` variables.
    pub cloud: Option<String>,
    /// The longest one HTTP request may take.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// The longest a connection may take to open.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// `planned` (default) or `scheduler`.
    pub evacuate_target: EvacuateTarget,
    /// `keep_state` (default) or `stopped`.
    pub evacuate_arrival: Arrival,
    /// Nova and Placement calls in flight at once.
    pub max_parallel_calls: usize,
    /// Nova's `report_interval` (how often a compute updates its service record):
    /// a compute counts as reporting again after two fresh reports within 3.5 of these.
    #[serde(with = "humantime_serde")]
    pub report_interval: Duration,
}

impl Default for OpenStackSection {
    fn default() -> Self {
        Self {
            cloud: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            evacuate_target: EvacuateTarget::Planned,
            evacuate_arrival: Arrival::KeepState,
            max_parallel_calls: 8,
            report_interval: Duration::from_secs(10),
        }
    }
}

/// `[poll]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollSection {
    /// `GET /os-services` (host liveness, forced_down, disabled).
    #[serde(with = "humantime_serde")]
    pub services_interval: Duration,
    /// Servers on the protected hosts (flavors, states, groups, priorities).
    #[serde(with = "humantime_serde")]
    pub servers_interval: Duration,
    /// Placement inventories and usages.
    #[serde(with = "humantime_serde")]
    pub placement_interval: Duration,
}

impl Default for PollSection {
    fn default() -> Self {
        Self {
            services_interval: Duration::from_secs(2),
            servers_interval: Duration::from_secs(10),
            placement_interval: Duration::from_secs(30),
        }
    }
}

/// How a host is fenced, as the configuration names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceMethodName {
    /// An operator or a monitor (COMPUTE_HOST STOPPED + NORMAL) confirms the host is off.
    Manual,
    /// Power off through the host's BMC (Redfish or IPMI, its `[bmc.hosts.<name>]`
    /// entry, driven by `lazarus_fence`), confirmed by reading the power state back. A
    /// host without an entry gets a "not configured" answer and waits, with a critical
    /// alert, for an operator's or a monitor's confirmation.
    Bmc,
    /// The agent's watchdog promise (needs the agent).
    Watchdog,
}

impl From<FenceMethodName> for FenceMethod {
    fn from(m: FenceMethodName) -> Self {
        match m {
            FenceMethodName::Manual => FenceMethod::Manual,
            FenceMethodName::Bmc => FenceMethod::Bmc,
            FenceMethodName::Watchdog => FenceMethod::Watchdog,
        }
    }
}

/// `[hosts]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostsSection {
    /// Fence method of every host registered through the API. Default `manual`: a
    /// monitor's COMPUTE_HOST STOPPED + NORMAL notification (or an operator) confirms
    /// the host is off, as with Masakari.
    pub fence_method: FenceMethodName,
}

impl Default for HostsSection {
    fn default() -> Self {
        Self {
            fence_method: FenceMethodName::Manual,
        }
    }
}

/// `[instances]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstancesSection {
    /// Server metadata key holding the restart priority (`disabled`, `lowest`, `low`,
    /// `medium`, `high`, `highest`).
    pub priority_key: String,
    /// Honour Masakari's `HA_Enabled` metadata: `HA_Enabled=False` (any case) means not
    /// protected, unless the priority key says otherwise.
    pub honour_ha_enabled: bool,
    /// Whether servers with neither key are protected (at `medium`).
    pub protect_by_default: bool,
}

impl Default for InstancesSection {
    fn default() -> Self {
        Self {
            priority_key: "lazarus:priority".into(),
            honour_ha_enabled: true,
            protect_by_default: true,
        }
    }
}

/// `[engine]`: the decision core's policies (see `lazarus_core::policy`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSection {
    /// `[engine.detector]`.
    pub detector: DetectorSection,
    /// `[engine.storm]`.
    pub storm: StormSection,
    /// `[engine.fencing]`.
    pub fencing: FencingSection,
    /// `[engine.workflow]`.
    pub workflow: WorkflowSection,
    /// `[engine.recovery]`: per-segment recovery knobs (every segment gets these).
    pub recovery: RecoverySection,
    /// `[engine.vm_monitoring]`.
    pub vm_monitoring: VmMonitoringSection,
    /// `[engine.process]`.
    pub process: ProcessSection,
}

/// `[engine.detector]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorSection {
    /// How often agents send heartbeats.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// How often every host is judged.
    #[serde(with = "humantime_serde")]
    pub tick_interval: Duration,
    /// Missed heartbeats before a host is suspect.
    pub suspect_after_missed: u32,
    /// Missed heartbeats before a host may be judged failed.
    pub failed_after_missed: u32,
    /// A peer's report of reaching a host counts this long.
    #[serde(with = "humantime_serde")]
    pub peer_window: Duration,
}

impl Default for DetectorSection {
    fn default() -> Self {
        let d = DetectorPolicy::default();
        Self {
            heartbeat_interval: d.heartbeat_interval,
            tick_interval: d.tick_interval,
            suspect_after_missed: d.suspect_after_missed,
            failed_after_missed: d.failed_after_missed,
            peer_window: d.peer_window,
        }
    }
}

/// `[engine.storm]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StormSection {
    /// Engage when more than this share of monitored hosts is unheard at once...
    pub max_unheard_fraction: f64,
    /// ...or more than this many...
    pub max_unheard_hosts: usize,
    /// ...but never for fewer than this many.
    pub min_unheard_for_storm: usize,
    /// At most this many detector-started fences per window.
    pub max_fences_per_window: usize,
    /// The fence cap's window.
    #[serde(with = "humantime_serde")]
    pub fence_window: Duration,
}

impl Default for StormSection {
    fn default() -> Self {
        let s = StormPolicy::default();
        Self {
            max_unheard_fraction: s.max_unheard_fraction,
            max_unheard_hosts: s.max_unheard_hosts,
            min_unheard_for_storm: s.min_unheard_for_storm,
            max_fences_per_window: s.max_fences_per_window,
            fence_window: s.fence_window,
        }
    }
}

/// `[engine.fencing]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FencingSection {
    /// Wait between an accepted power-off and the first power read.
    #[serde(with = "humantime_serde")]
    pub first_power_read: Duration,
    /// Wait between a power read that did not find "Off" and the next one.
    #[serde(with = "humantime_serde")]
    pub power_read_interval: Duration,
    /// Power reads per fence attempt.
    pub max_power_reads: u32,
    /// Fence attempts before giving up (critical alert).
    pub max_fence_attempts: u32,
    /// First retry delay, doubled per attempt.
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
    /// Ceiling of the retry delay.
    #[serde(with = "humantime_serde")]
    pub max_retry_backoff: Duration,
    /// After giving up, keep reading the BMC this often.
    #[serde(with = "humantime_serde")]
    pub unconfirmed_poll_interval: Duration,
    /// The agent's watchdog reboots an isolated host within this.
    #[serde(with = "humantime_serde")]
    pub watchdog_timeout: Duration,
    /// Margin added to the watchdog timeout.
    #[serde(with = "humantime_serde")]
    pub watchdog_margin: Duration,
}

impl Default for FencingSection {
    fn default() -> Self {
        let f = FencingPolicy::default();
        Self {
            first_power_read: f.first_power_read,
            power_read_interval: f.power_read_interval,
            max_power_reads: f.max_power_reads,
            max_fence_attempts: f.max_fence_attempts,
            retry_backoff: f.retry_backoff,
            max_retry_backoff: f.max_retry_backoff,
            unconfirmed_poll_interval: f.unconfirmed_poll_interval,
            watchdog_timeout: f.watchdog_timeout,
            watchdog_margin: f.watchdog_margin,
        }
    }
}

/// `[engine.workflow]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowSection {
    /// Retry delay after Nova failed to mark a host down.
    #[serde(with = "humantime_serde")]
    pub mark_down_retry: Duration,
    /// How often an evacuated instance is checked until verified.
    #[serde(with = "humantime_serde")]
    pub verify_poll_interval: Duration,
    /// Retry delay for returning a host to service (Nova answers 400 until the
    /// compute restarted).
    #[serde(with = "humantime_serde")]
    pub return_retry: Duration,
    /// Delay before re-checking an instance after an ambiguous evacuate answer.
    #[serde(with = "humantime_serde")]
    pub ambiguous_check_delay: Duration,
    /// A fenced host's compute counts as back only this long after the fence was
    /// confirmed (so a report from before the failure is not taken for a return).
    /// lazarus already requires two fresh service reports (see `[openstack]
    /// report_interval`), so this may be shortened on clouds that trust that.
    #[serde(with = "humantime_serde")]
    pub return_grace: Duration,
}

impl Default for WorkflowSection {
    fn default() -> Self {
        let w = WorkflowPolicy::default();
        Self {
            mark_down_retry: w.mark_down_retry,
            verify_poll_interval: w.verify_poll_interval,
            return_retry: w.return_retry,
            ambiguous_check_delay: w.ambiguous_check_delay,
            return_grace: w.return_grace,
        }
    }
}

/// `[engine.recovery]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoverySection {
    /// Evacuations in flight at once per recovery.
    pub max_parallel_evacuations: u32,
    /// Attempts per instance before it is given up.
    pub max_attempts_per_instance: u32,
    /// How long an evacuated instance may take to reach its expected state.
    #[serde(with = "humantime_serde")]
    pub verify_timeout: Duration,
}

impl Default for RecoverySection {
    fn default() -> Self {
        let r = RecoveryPolicy::default();
        Self {
            max_parallel_evacuations: r.max_parallel_evacuations,
            max_attempts_per_instance: r.max_attempts_per_instance,
            verify_timeout: r.verify_timeout,
        }
    }
}

impl RecoverySection {
    /// The core's per-segment policy.
    pub fn policy(&self) -> RecoveryPolicy {
        RecoveryPolicy {
            max_parallel_evacuations: self.max_parallel_evacuations,
            max_attempts_per_instance: self.max_attempts_per_instance,
            verify_timeout: self.verify_timeout,
        }
    }
}

/// `[engine.vm_monitoring]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VmMonitoringSection {
    /// vSphere-style preset: `low`, `medium` (default) or `high`.
    pub sensitivity: Sensitivity,
    /// Resets allowed per instance within the preset's window.
    pub max_resets: u32,
}

impl Default for VmMonitoringSection {
    fn default() -> Self {
        Self {
            sensitivity: Sensitivity::Medium,
            max_resets: VmMonitoring::default().max_resets,
        }
    }
}

/// `[engine.process]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessSection {
    /// How long a restarted process may take to be seen running again.
    #[serde(with = "humantime_serde")]
    pub restart_grace: Duration,
}

impl Default for ProcessSection {
    fn default() -> Self {
        Self {
            restart_grace: ProcessPolicy::default().restart_grace,
        }
    }
}

/// `[shutdown]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownSection {
    /// After SIGTERM/SIGINT, the process exits within this, whatever is in flight.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
}

impl Default for ShutdownSection {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Serve `/metrics` (Prometheus text format) on the API address.
    pub enabled: bool,
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// A `tracing` filter (`info`, `lazarus_controller=debug,info`...); `RUST_LOG`
    /// overrides it.
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            filter: "info".into(),
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text (no validation).
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    /// Checks every value, before anything binds or connects.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self
            .api
            .keystone_url
            .as_deref()
            .is_some_and(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(invalid(
                "api.keystone_url",
                "must be an http:// or https:// URL",
            ));
        }
        if self.api.max_limit == 0 {
            return Err(invalid("api.max_limit", "must be greater than zero"));
        }
        if self.store.path.as_os_str().is_empty() {
            return Err(invalid("store.path", "must not be empty"));
        }
        for (field, d) in [
            ("openstack.request_timeout", self.openstack.request_timeout),
            ("openstack.connect_timeout", self.openstack.connect_timeout),
            ("openstack.report_interval", self.openstack.report_interval),
            ("poll.services_interval", self.poll.services_interval),
            ("poll.servers_interval", self.poll.servers_interval),
            ("poll.placement_interval", self.poll.placement_interval),
            (
                "agents.token_reread_interval",
                self.agents.token_reread_interval,
            ),
            ("shutdown.deadline", self.shutdown.deadline),
            (
                "engine.recovery.verify_timeout",
                self.engine.recovery.verify_timeout,
            ),
        ] {
            if d.is_zero() {
                return Err(invalid(field, "must be greater than zero"));
            }
        }
        if self.openstack.max_parallel_calls == 0 {
            return Err(invalid(
                "openstack.max_parallel_calls",
                "must be greater than zero",
            ));
        }
        if self.engine.recovery.max_parallel_evacuations == 0 {
            return Err(invalid(
                "engine.recovery.max_parallel_evacuations",
                "must be greater than zero",
            ));
        }
        if self.engine.recovery.max_attempts_per_instance == 0 {
            return Err(invalid(
                "engine.recovery.max_attempts_per_instance",
                "must be greater than zero",
            ));
        }
        if self.instances.priority_key.trim().is_empty() {
            return Err(invalid("instances.priority_key", "must not be empty"));
        }
        self.engine_config().validate()?;
        if self.bmc.call_timeout.is_zero() {
            return Err(invalid("bmc.call_timeout", "must be greater than zero"));
        }
        // Builds the drivers (reads password and CA files) only to refuse a bad entry
        // now, with exit code 2, rather than at the first fence.
        lazarus_fence::Fleet::from_config(&self.bmc)?;
        self.agents.tokens()?;
        Ok(())
    }

    /// The core's configuration.
    pub fn engine_config(&self) -> EngineConfig {
        let e = &self.engine;
        let mut vm = VmMonitoring::preset(e.vm_monitoring.sensitivity);
        vm.max_resets = e.vm_monitoring.max_resets;
        EngineConfig {
            detector: DetectorPolicy {
                heartbeat_interval: e.detector.heartbeat_interval,
                tick_interval: e.detector.tick_interval,
                suspect_after_missed: e.detector.suspect_after_missed,
                failed_after_missed: e.detector.failed_after_missed,
                peer_window: e.detector.peer_window,
            },
            storm: StormPolicy {
                max_unheard_fraction: e.storm.max_unheard_fraction,
                max_unheard_hosts: e.storm.max_unheard_hosts,
                min_unheard_for_storm: e.storm.min_unheard_for_storm,
                max_fences_per_window: e.storm.max_fences_per_window,
                fence_window: e.storm.fence_window,
            },
            fencing: FencingPolicy {
                first_power_read: e.fencing.first_power_read,
                power_read_interval: e.fencing.power_read_interval,
                max_power_reads: e.fencing.max_power_reads,
                max_fence_attempts: e.fencing.max_fence_attempts,
                retry_backoff: e.fencing.retry_backoff,
                max_retry_backoff: e.fencing.max_retry_backoff,
                unconfirmed_poll_interval: e.fencing.unconfirmed_poll_interval,
                watchdog_timeout: e.fencing.watchdog_timeout,
                watchdog_margin: e.fencing.watchdog_margin,
            },
            workflow: WorkflowPolicy {
                mark_down_retry: e.workflow.mark_down_retry,
                verify_poll_interval: e.workflow.verify_poll_interval,
                return_retry: e.workflow.return_retry,
                ambiguous_check_delay: e.workflow.ambiguous_check_delay,
                return_grace: e.workflow.return_grace,
            },
            vm_monitoring: vm,
            process: ProcessPolicy {
                restart_grace: e.process.restart_grace,
            },
        }
    }

    /// The effective configuration as TOML, for the start-up log. It holds no secret
    /// (credentials live in clouds.yaml, which is not echoed).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("<unprintable: {e}>"))
    }
}

fn invalid(field: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit_none() -> Config {
        Config::parse("[api]\nauth = \"none\"\n").unwrap()
    }

    #[test]
    fn the_defaults_are_valid_and_authenticate_with_keystone() {
        Config::default().validate().unwrap();
        assert_eq!(Config::default().api.auth, AuthMode::Keystone);
        explicit_none().validate().unwrap();
        let c = Config::parse("[api]\nkeystone_url = \"keystone:5000\"\n").unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("api.keystone_url"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_name() {
        let e = Config::parse("[api]\nauth = \"none\"\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(e.contains("listen_addr"), "{e}");
        let e = Config::parse("[engine.detectr]\n").unwrap_err();
        assert!(e.contains("detectr"), "{e}");
    }

    #[test]
    fn durations_are_written_with_units() {
        let c = Config::parse(
            "[api]\nauth = \"none\"\n[engine.workflow]\nreturn_retry = \"5s\"\nverify_poll_interval = \"500ms\"\n",
        )
        .unwrap();
        let e = c.engine_config();
        assert_eq!(e.workflow.return_retry, Duration::from_secs(5));
        assert_eq!(e.workflow.verify_poll_interval, Duration::from_millis(500));
        let bad = Config::parse("[engine.workflow]\nreturn_retry = 5\n");
        assert!(bad.is_err());
    }

    #[test]
    fn engine_defaults_are_the_cores() {
        assert_eq!(explicit_none().engine_config(), EngineConfig::default());
        assert_eq!(
            RecoverySection::default().policy(),
            RecoveryPolicy::default()
        );
    }

    #[test]
    fn inconsistent_engine_policies_are_refused() {
        let c = Config::parse(
            "[api]\nauth = \"none\"\n[engine.detector]\nsuspect_after_missed = 3\nfailed_after_missed = 3\n",
        )
        .unwrap();
        assert!(matches!(c.validate(), Err(ConfigError::Engine(_))));
    }

    #[test]
    fn zero_intervals_are_refused() {
        let c =
            Config::parse("[api]\nauth = \"none\"\n[poll]\nservices_interval = \"0s\"\n").unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("poll.services_interval"), "{e}");
    }

    #[test]
    fn the_example_file_lists_every_option_at_its_default() {
        let text = include_str!("../../../etc/lazarus.toml");
        let uncommented: String = text
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .filter(|l| !l.starts_with("##"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut parsed = Config::parse(&uncommented).unwrap();
        // The one example value that is not a default.
        assert_eq!(parsed.openstack.cloud.as_deref(), Some("mycloud"));
        parsed.openstack.cloud = None;
        assert!(parsed.api.keystone_url.is_some());
        parsed.api.keystone_url = None;
        assert_eq!(parsed, Config::default());
        // And every default appears in it.
        let defaults = Config::default().to_toml();
        for line in defaults.lines().filter(|l| l.contains(" = ")) {
            assert!(
                uncommented.lines().any(|l| l == line),
                "etc/lazarus.toml does not list {line:?}"
            );
        }
    }

    #[test]
    fn an_unreadable_token_dir_or_a_bmc_entry_without_its_password_file_is_refused() {
        let c = Config::parse("[agents]\ntoken_dir = \"/nonexistent/lazarus-tokens\"\n").unwrap();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid {
                field: "agents.token_dir",
                ..
            })
        ));
        let c = Config::parse(
            "[bmc.hosts.c1]\ndriver = \"redfish\"\naddress = \"https://10.0.0.1\"\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\n",
        )
        .unwrap();
        assert!(matches!(c.validate(), Err(ConfigError::Bmc(_))));
    }

    #[test]
    fn the_effective_config_prints_and_parses_back() {
        let c = explicit_none();
        let text = c.to_toml();
        assert_eq!(Config::parse(&text).unwrap(), c);
    }
}
