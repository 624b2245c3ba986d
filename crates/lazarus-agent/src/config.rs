//! The agent's configuration: one TOML file, every option with a default
//! (`etc/lazarus-agent.toml` lists them all). Unknown keys are refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a configuration was refused.
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
    /// Not valid TOML for this configuration.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {field}: {reason}")]
    Invalid {
        /// The option, as `section.key`.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// Everything the agent is configured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// This host's name as Nova's compute service reports it. Empty: the system's
    /// host name (`/proc/sys/kernel/hostname`).
    pub host: String,
    /// The file holding the host's boot id, sent with each heartbeat and saved with
    /// the running guests to tell a reboot from an agent restart. Linux:
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id_file: PathBuf,
    /// Where heartbeats go.
    pub controller: ControllerSection,
    /// Peer probing.
    pub peers: PeersSection,
    /// nova-compute and libvirtd.
    pub processes: ProcessesSection,
    /// Instance monitoring.
    pub instances: InstancesSection,
    /// Isolation detection and response.
    pub isolation: IsolationSection,
    /// The watchdog.
    pub watchdog: WatchdogSection,
    /// Logging.
    pub log: LogSection,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            boot_id_file: PathBuf::from("/proc/sys/kernel/random/boot_id"),
            controller: ControllerSection::default(),
            peers: PeersSection::default(),
            processes: ProcessesSection::default(),
            instances: InstancesSection::default(),
            isolation: IsolationSection::default(),
            watchdog: WatchdogSection::default(),
            log: LogSection::default(),
        }
    }
}

/// `[controller]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerSection {
    /// Base URLs of the controllers; a heartbeat goes to all of them at once and any
    /// 200 counts as heard.
    pub urls: Vec<String>,
    /// The file holding this host's token.
    pub token_file: PathBuf,
    /// How often a heartbeat is sent (the controller's `engine.detector.heartbeat_interval`).
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Time limit of one heartbeat request.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for ControllerSection {
    fn default() -> Self {
        Self {
            urls: vec!["http://127.0.0.1:15868".into()],
            token_file: PathBuf::from("/etc/lazarus/agent-token"),
            heartbeat_interval: Duration::from_secs(1),
            request_timeout: Duration::from_millis(800),
        }
    }
}

/// `[peers]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeersSection {
    /// Where this agent answers its peers' probes (UDP).
    pub listen: SocketAddr,
    /// How often each peer is probed.
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
    /// A peer is reachable if it answered within this.
    #[serde(with = "humantime_serde")]
    pub reachable_window: Duration,
    /// The port used for a peer the controller names without a probe address
    /// (`<host>:<port>`, resolved by DNS).
    pub default_port: u16,
    /// Peers probed before (and besides) the controller names them: host → `ip:port`.
    pub addresses: BTreeMap<String, String>,
}

impl Default for PeersSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 7411)),
            probe_interval: Duration::from_secs(1),
            reachable_window: Duration::from_secs(4),
            default_port: 7411,
            addresses: BTreeMap::new(),
        }
    }
}

/// `[processes]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessesSection {
    /// How often each process is checked.
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// nova-compute.
    pub nova_compute: ProcessConfig,
    /// libvirtd.
    pub libvirtd: ProcessConfig,
}

impl Default for ProcessesSection {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(1),
            nova_compute: ProcessConfig::systemd("nova-compute"),
            libvirtd: ProcessConfig::systemd("libvirtd"),
        }
    }
}

/// How a process is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckMethod {
    /// `systemctl is-active --quiet <unit>`; a unit that does not exist is absent.
    Systemd,
    /// `pgrep -f <pattern>`.
    Pgrep,
    /// A pid file whose pid has a `/proc/<pid>`; no pid file is stopped.
    Pidfile,
    /// `check_command` exits 0 when running.
    Command,
    /// Not monitored: reported absent.
    None,
}

/// One monitored process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessConfig {
    /// How it is checked.
    pub check: CheckMethod,
    /// The systemd unit (`check = "systemd"`).
    pub unit: String,
    /// The `pgrep -f` pattern (`check = "pgrep"`).
    pub pattern: String,
    /// The pid file (`check = "pidfile"`).
    pub pid_file: PathBuf,
    /// The check command (`check = "command"`), argv.
    pub check_command: Vec<String>,
    /// The restart command, argv. Empty: never restarted by the agent.
    pub restart_command: Vec<String>,
    /// Restart on its own when seen stopped (also on the controller's command).
    pub auto_restart: bool,
    /// After a restart, how long before "still stopped" is a restart failure.
    #[serde(with = "humantime_serde")]
    pub restart_grace: Duration,
}

impl ProcessConfig {
    fn systemd(unit: &str) -> Self {
        Self {
            check: CheckMethod::Systemd,
            unit: unit.into(),
            pattern: String::new(),
            pid_file: PathBuf::new(),
            check_command: Vec::new(),
            restart_command: vec!["systemctl".into(), "restart".into(), unit.into()],
            auto_restart: true,
            restart_grace: Duration::from_secs(20),
        }
    }
}

impl Default for ProcessConfig {
    fn default() -> Self {
        Self::systemd("nova-compute")
    }
}

/// `[instances]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstancesSection {
    /// `none` or `virsh` (lifecycle events from `virsh event --loop`, and guest pings
    /// if `guest_ping`).
    pub monitor: InstanceMonitorKind,
    /// The event stream command, argv.
    pub virsh_event_command: Vec<String>,
    /// `virsh domuuid` to map a domain name to its UUID (the Nova server id), argv
    /// without the domain.
    pub virsh_domuuid_command: Vec<String>,
    /// Lists every domain as `<uuid> <name>` lines, argv: run when the event stream
    /// starts, so that a transient domain that dies (and with it, its name) is still
    /// reported by its UUID.
    pub virsh_list_command: Vec<String>,
    /// Pings each running domain's QEMU guest agent (`guest-ping`) every
    /// `guest_ping_interval` and reports `guest_heartbeat_lost` once a guest that
    /// answered before missed `guest_ping_misses` pings in a row. Needs `monitor = "virsh"`.
    pub guest_ping: bool,
    /// How often each running domain is pinged.
    #[serde(with = "humantime_serde")]
    pub guest_ping_interval: Duration,
    /// How long one ping may take (`--timeout`, whole seconds, at least 1 s, less
    /// than the interval).
    #[serde(with = "humantime_serde")]
    pub guest_ping_timeout: Duration,
    /// Pings missed in a row (by a guest that answered before) before its silence is
    /// reported; each further miss is reported too, with the silence so far, and the
    /// controller's `failure_interval` decides.
    pub guest_ping_misses: u32,
    /// Lists the running domains as `<uuid> <name>` lines, argv.
    pub virsh_running_command: Vec<String>,
    /// `virsh qemu-agent-command`, argv without the domain (the domain,
    /// `{"execute":"guest-ping"}` and `--timeout <s>` are appended).
    pub virsh_guest_ping_command: Vec<String>,
    /// Where the guests last seen running are kept, with the boot id they ran in
    /// (`monitor = "virsh"`): after a reboot, the agent reports them
    /// (`host_rebooted`) so that the controller restarts in place those the reboot
    /// shut off. Written atomically (a temporary file, then a rename).
    pub running_guests_file: PathBuf,
    /// How often the running guests are listed (`virsh_running_command`) and saved.
    #[serde(with = "humantime_serde")]
    pub running_guests_interval: Duration,
}

impl Default for InstancesSection {
    fn default() -> Self {
        Self {
            monitor: InstanceMonitorKind::None,
            virsh_event_command: ["virsh", "-c", "qemu:///system", "event", "--all", "--loop"]
                .map(String::from)
                .to_vec(),
            virsh_domuuid_command: ["virsh", "-c", "qemu:///system", "domuuid"]
                .map(String::from)
                .to_vec(),
            virsh_list_command: [
                "virsh",
                "-c",
                "qemu:///system",
                "list",
                "--all",
                "--uuid",
                "--name",
            ]
            .map(String::from)
            .to_vec(),
            guest_ping: false,
            guest_ping_interval: Duration::from_secs(10),
            guest_ping_timeout: Duration::from_secs(5),
            guest_ping_misses: 3,
            virsh_running_command: ["virsh", "-c", "qemu:///system", "list", "--uuid", "--name"]
                .map(String::from)
                .to_vec(),
            virsh_guest_ping_command: ["virsh", "-c", "qemu:///system", "qemu-agent-command"]
                .map(String::from)
                .to_vec(),
            running_guests_file: PathBuf::from("/var/lib/lazarus/running-guests.json"),
            running_guests_interval: Duration::from_secs(5),
        }
    }
}

/// Which instance monitor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceMonitorKind {
    /// No instance monitoring.
    None,
    /// `virsh event --all --loop`.
    Virsh,
}

/// `[isolation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationSection {
    /// Addresses proving the host still has a network: `ip:port` (TCP connect) or
    /// `icmp:<ip>` (`ping -c1 -W1`). Checked only while neither a controller nor a peer
    /// is heard.
    pub addresses: Vec<String>,
    /// Time limit of one address check.
    #[serde(with = "humantime_serde")]
    pub check_timeout: Duration,
    /// Hearing nothing (controllers, peers, addresses) for this long is isolation.
    #[serde(with = "humantime_serde")]
    pub isolation_time: Duration,
    /// What to do when isolated.
    pub response: IsolationResponse,
    /// The command that powers off this host's instances (`power-off-instances`), argv.
    pub power_off_command: Vec<String>,
}

impl Default for IsolationSection {
    fn default() -> Self {
        Self {
            addresses: Vec::new(),
            check_timeout: Duration::from_secs(1),
            isolation_time: Duration::from_secs(10),
            response: IsolationResponse::LeaveRunning,
            power_off_command: vec![
                "sh".into(),
                "-c".into(),
                "for d in $(virsh -c qemu:///system list --name); do virsh -c qemu:///system destroy \"$d\"; done".into(),
            ],
        }
    }
}

/// What an isolated host does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationResponse {
    /// Nothing but a critical log line.
    LeaveRunning,
    /// Run `power_off_command` once.
    PowerOffInstances,
    /// Stop feeding the watchdog for good: the host resets within its timeout.
    StopFeedingWatchdog,
}

impl IsolationResponse {
    /// The configured spelling.
    pub fn name(self) -> &'static str {
        match self {
            IsolationResponse::LeaveRunning => "leave-running",
            IsolationResponse::PowerOffInstances => "power-off-instances",
            IsolationResponse::StopFeedingWatchdog => "stop-feeding-watchdog",
        }
    }
}

/// `[watchdog]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchdogSection {
    /// The watchdog device (`/dev/watchdog`). Empty: none.
    pub device: PathBuf,
    /// A stand-in run at each feed instead of a device (tests), argv. Empty: none.
    pub feed_command: Vec<String>,
    /// The device's timeout (set by its driver, e.g. `softdog soft_margin=30`); must
    /// not exceed the controller's `engine.fencing.watchdog_timeout`. Reported only.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How often the feed rule is evaluated (and the watchdog fed if it holds).
    #[serde(with = "humantime_serde")]
    pub feed_interval: Duration,
    /// A controller answer within this counts for the feed rule.
    #[serde(with = "humantime_serde")]
    pub controller_window: Duration,
}

impl Default for WatchdogSection {
    fn default() -> Self {
        Self {
            device: PathBuf::new(),
            feed_command: Vec::new(),
            timeout: Duration::from_secs(30),
            feed_interval: Duration::from_secs(1),
            controller_window: Duration::from_secs(3),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// `tracing` filter (`RUST_LOG` overrides it).
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            filter: "info".into(),
        }
    }
}

impl AgentConfig {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let c: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        c.validate()?;
        Ok(c)
    }

    /// Checks values and their consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.into(),
            })
        };
        if self.controller.urls.is_empty() {
            return invalid("controller.urls", "at least one controller is needed");
        }
        if let Some(u) = self
            .controller
            .urls
            .iter()
            .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(ConfigError::Invalid {
                field: "controller.urls",
                reason: format!("{u:?} is not an http(s) URL"),
            });
        }
        let nonzero = [
            (
                "controller.heartbeat_interval",
                self.controller.heartbeat_interval,
            ),
            (
                "controller.request_timeout",
                self.controller.request_timeout,
            ),
            ("peers.probe_interval", self.peers.probe_interval),
            ("processes.check_interval", self.processes.check_interval),
            ("isolation.check_timeout", self.isolation.check_timeout),
            ("watchdog.feed_interval", self.watchdog.feed_interval),
        ];
        for (field, d) in nonzero {
            if d.is_zero() {
                return invalid(field, "must be more than 0");
            }
        }
        if self.peers.reachable_window < self.peers.probe_interval {
            return invalid(
                "peers.reachable_window",
                "must be at least peers.probe_interval",
            );
        }
        if self.isolation.isolation_time < self.controller.heartbeat_interval * 2 {
            return invalid(
                "isolation.isolation_time",
                "must be at least two heartbeat intervals",
            );
        }
        let has_watchdog = self.has_watchdog();
        if has_watchdog && self.watchdog.feed_interval * 2 > self.watchdog.timeout {
            return invalid(
                "watchdog.feed_interval",
                "must be at most half of watchdog.timeout",
            );
        }
        match self.isolation.response {
            IsolationResponse::StopFeedingWatchdog if !has_watchdog => invalid(
                "isolation.response",
                "stop-feeding-watchdog needs watchdog.device or watchdog.feed_command",
            ),
            IsolationResponse::PowerOffInstances if self.isolation.power_off_command.is_empty() => {
                invalid(
                    "isolation.power_off_command",
                    "power-off-instances needs a command",
                )
            }
            IsolationResponse::LeaveRunning
            | IsolationResponse::PowerOffInstances
            | IsolationResponse::StopFeedingWatchdog => Ok(()),
        }?;
        let i = &self.instances;
        if i.monitor == InstanceMonitorKind::Virsh {
            if i.running_guests_interval.is_zero() {
                return invalid("instances.running_guests_interval", "must be more than 0");
            }
            if i.running_guests_file.as_os_str().is_empty() || i.virsh_running_command.is_empty() {
                return invalid(
                    "instances.running_guests_file",
                    "monitor = \"virsh\" needs running_guests_file and virsh_running_command",
                );
            }
        }
        if i.guest_ping {
            if i.monitor != InstanceMonitorKind::Virsh {
                return invalid("instances.guest_ping", "needs monitor = \"virsh\"");
            }
            if i.guest_ping_timeout < Duration::from_secs(1) {
                return invalid("instances.guest_ping_timeout", "must be at least 1s");
            }
            if i.guest_ping_interval <= i.guest_ping_timeout {
                return invalid(
                    "instances.guest_ping_interval",
                    "must be more than instances.guest_ping_timeout",
                );
            }
            if i.guest_ping_misses == 0 {
                return invalid("instances.guest_ping_misses", "must be at least 1");
            }
            if i.virsh_running_command.is_empty() || i.virsh_guest_ping_command.is_empty() {
                return invalid(
                    "instances.virsh_guest_ping_command",
                    "guest pings need virsh_running_command and virsh_guest_ping_command",
                );
            }
        }
        for (field, p) in [
            ("processes.nova_compute", &self.processes.nova_compute),
            ("processes.libvirtd", &self.processes.libvirtd),
        ] {
            let missing = match p.check {
                CheckMethod::Systemd => p.unit.is_empty(),
                CheckMethod::Pgrep => p.pattern.is_empty(),
                CheckMethod::Pidfile => p.pid_file.as_os_str().is_empty(),
                CheckMethod::Command => p.check_command.is_empty(),
                CheckMethod::None => false,
            };
            if missing {
                return invalid(
                    field,
                    "its check method needs unit, pattern, pid_file or check_command",
                );
            }
        }
        Ok(())
    }

    /// Whether a watchdog (device or stand-in) is configured.
    pub fn has_watchdog(&self) -> bool {
        !self.watchdog.device.as_os_str().is_empty() || !self.watchdog.feed_command.is_empty()
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        AgentConfig::default().validate().unwrap();
    }

    #[test]
    fn the_shipped_example_is_the_defaults() {
        let text = include_str!("../../../etc/lazarus-agent.toml");
        let c: AgentConfig = toml::from_str(text).unwrap();
        assert_eq!(c, AgentConfig::default());
    }

    #[test]
    fn the_printed_configuration_reads_back() {
        let c = AgentConfig::default();
        let back: AgentConfig = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn stop_feeding_the_watchdog_without_a_watchdog_is_refused() {
        let mut c = AgentConfig::default();
        c.isolation.response = IsolationResponse::StopFeedingWatchdog;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("isolation.response"), "{e}");
        c.watchdog.device = "/dev/watchdog".into();
        c.validate().unwrap();
    }

    #[test]
    fn guest_pings_need_the_virsh_monitor_and_sane_timings() {
        let mut c = AgentConfig::default();
        c.instances.guest_ping = true;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("instances.guest_ping"), "{e}");
        c.instances.monitor = InstanceMonitorKind::Virsh;
        c.validate().unwrap();
        c.instances.guest_ping_timeout = Duration::from_millis(500);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("guest_ping_timeout"), "{e}");
        c.instances.guest_ping_timeout = Duration::from_secs(10);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("guest_ping_interval"), "{e}");
        c.instances.guest_ping_timeout = Duration::from_secs(5);
        c.instances.guest_ping_misses = 0;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("guest_ping_misses"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<AgentConfig>("[peers]\nlisen = \"0.0.0.0:1\"\n").is_err());
    }
}
