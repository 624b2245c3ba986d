//! The agent daemon: a handful of tokio tasks around one shared state.
//!
//! | Task | Every | Does |
//! |---|---|---|
//! | peer socket | packet | answers probes, records answers |
//! | prober | `peers.probe_interval` | one probe per peer |
//! | processes | `processes.check_interval` | checks nova-compute and libvirtd, restarts, queues reports |
//! | instances | event | `virsh event` failures → queued reports |
//! | running guests | `instances.running_guests_interval` | saves the guests seen running with the boot id (`boot.rs`) |
//! | heartbeat | `controller.heartbeat_interval` | one heartbeat to every controller at once; the first 200 wins |
//! | addresses | `watchdog.feed_interval` | while nothing else is heard, checks the isolation addresses |
//! | supervisor | `watchdog.feed_interval` | isolation decision and response, the watchdog feed rule |
//!
//! Time is `tokio::time`, so tests can pause it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_core::event::Process;
use lazarus_core::HostName;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::config::{AgentConfig, InstanceMonitorKind, IsolationResponse};
use crate::isolation::{should_feed, Hearing};
use crate::peers::{PeerTable, Prober};
use crate::process::{ProcessWatch, Step};
use crate::protocol::{
    heartbeat_path, AgentCommand, AgentEvent, AgentEventKind, AgentHeartbeat, AgentReply,
    PeerAgeMs, WatchdogReport,
};
use crate::token::AgentToken;
use crate::watchdog::Watchdog;

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The peer socket could not be bound.
    #[error("cannot listen for peer probes on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// What the agent knows, shared by its tasks.
#[derive(Debug)]
struct State {
    hearing: Hearing,
    sequence: u64,
    next_event: u64,
    pending: VecDeque<AgentEvent>,
    nova: ProcessWatch,
    libvirt: ProcessWatch,
    isolation_applied: bool,
    stopped_feeding: bool,
    feeding: bool,
}

/// A snapshot for tests and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    /// Peers that answered within the window.
    pub reachable_peers: std::collections::BTreeSet<HostName>,
    /// Whether a controller answered within the watchdog's controller window.
    pub controller_heard: bool,
    /// Whether the isolation response has been applied (and not cleared by hearing
    /// something again).
    pub isolation_applied: bool,
    /// Whether the feed rule held at the last evaluation.
    pub feeding: bool,
    /// Reports not yet acknowledged.
    pub pending_events: usize,
}

struct Inner {
    config: AgentConfig,
    host: HostName,
    token: AgentToken,
    run_id: String,
    /// The host's boot id, read at start (`None`: unreadable; reboots go unreported).
    boot_id: Option<String>,
    state: Mutex<State>,
    peers: Arc<Mutex<PeerTable>>,
    watchdog: tokio::sync::Mutex<Watchdog>,
    client: reqwest::Client,
    /// Wakes the heartbeat task when something is reported, so that a crash or a
    /// process going down reaches the controller now, not at the next tick.
    reported: tokio::sync::Notify,
}

/// A running agent.
pub struct AgentHandle {
    inner: Arc<Inner>,
    probe_addr: std::net::SocketAddr,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for AgentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentHandle")
            .field("host", &self.inner.host)
            .field("probe_addr", &self.probe_addr)
            .finish_non_exhaustive()
    }
}

/// Starts an agent for `host` (the configuration is assumed validated).
pub async fn start(
    config: AgentConfig,
    host: HostName,
    token: AgentToken,
) -> Result<AgentHandle, StartError> {
    let now = Instant::now();
    let peers = Arc::new(Mutex::new(PeerTable::new()));
    if let Ok(mut t) = peers.lock() {
        for (h, addr) in &config.peers.addresses {
            if h != host.as_str() {
                t.upsert(HostName::from(h.as_str()), addr.clone());
            }
        }
    }
    let prober = Prober::bind(config.peers.listen, host.clone(), peers.clone())
        .await
        .map_err(|source| StartError::Bind {
            addr: config.peers.listen,
            source,
        })?;
    let probe_addr = prober.local_addr().map_err(|source| StartError::Bind {
        addr: config.peers.listen,
        source,
    })?;
    let client = reqwest::Client::builder()
        .timeout(config.controller.request_timeout)
        .connect_timeout(config.controller.request_timeout)
        .build()
        .map_err(|e| StartError::Client(e.to_string()))?;
    let state = State {
        hearing: Hearing::new(now),
        sequence: 0,
        next_event: 1,
        pending: VecDeque::new(),
        nova: ProcessWatch::new(Process::NovaCompute, &config.processes.nova_compute),
        libvirt: ProcessWatch::new(Process::Libvirtd, &config.processes.libvirtd),
        isolation_applied: false,
        stopped_feeding: false,
        feeding: false,
    };
    let boot_id = crate::boot::read_boot_id(&config.boot_id_file);
    if boot_id.is_none() {
        tracing::warn!(
            file = %config.boot_id_file.display(),
            "cannot read the boot id: reboots will not be reported"
        );
    }
    let inner = Arc::new(Inner {
        boot_id,
        reported: tokio::sync::Notify::new(),
        watchdog: tokio::sync::Mutex::new(Watchdog::from_config(&config.watchdog)),
        run_id: run_id(),
        config,
        host,
        token,
        state: Mutex::new(state),
        peers,
        client,
    });
    tracing::info!(host = %inner.host, %probe_addr, run = %inner.run_id, "agent started");

    let mut tasks = JoinSet::new();
    let prober = Arc::new(prober);
    {
        let p = prober.clone();
        tasks.spawn(async move { p.serve().await });
    }
    {
        let p = prober;
        let every = inner.config.peers.probe_interval;
        tasks.spawn(async move {
            let mut tick = interval(every);
            loop {
                tick.tick().await;
                p.probe_round().await;
            }
        });
    }
    tasks.spawn(process_loop(inner.clone()));
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    crate::instances::spawn(&inner.config.instances, tx);
    {
        let inner = inner.clone();
        tasks.spawn(async move {
            while let Some((instance, failure)) = rx.recv().await {
                inner.report(AgentEventKind::InstanceFailed { instance, failure });
            }
            // No instance monitor (or it gave up): stay, so that only a fault ends a task.
            std::future::pending::<()>().await;
        });
    }
    if inner.config.instances.monitor == InstanceMonitorKind::Virsh {
        if let Some(boot_id) = inner.boot_id.clone() {
            let file = &inner.config.instances.running_guests_file;
            let saved = crate::boot::RunningGuests::load(file);
            if let Some(report) = saved.as_ref().and_then(|r| r.reboot_report(&boot_id)) {
                tracing::warn!(?report, "the host rebooted since its guests were last seen");
                inner.report(report);
            }
            tasks.spawn(running_guests_loop(inner.clone(), boot_id, saved));
        }
    }
    tasks.spawn(heartbeat_loop(inner.clone()));
    tasks.spawn(address_loop(inner.clone()));
    tasks.spawn(supervisor_loop(inner.clone()));
    Ok(AgentHandle {
        inner,
        probe_addr,
        tasks,
    })
}

impl AgentHandle {
    /// Where this agent answers probes.
    pub fn probe_addr(&self) -> std::net::SocketAddr {
        self.probe_addr
    }

    /// What the agent currently believes.
    pub fn status(&self) -> AgentStatus {
        let now = Instant::now();
        let c = &self.inner.config;
        let reachable_peers = match self.inner.peers.lock() {
            Ok(t) => t.reachable(now, c.peers.reachable_window),
            Err(_) => Default::default(),
        };
        match self.inner.state.lock() {
            Ok(s) => AgentStatus {
                reachable_peers,
                controller_heard: s
                    .hearing
                    .controller_heard(now, c.watchdog.controller_window),
                isolation_applied: s.isolation_applied,
                feeding: s.feeding,
                pending_events: s.pending.len(),
            },
            Err(_) => AgentStatus {
                reachable_peers,
                controller_heard: false,
                isolation_applied: false,
                feeding: false,
                pending_events: 0,
            },
        }
    }

    /// Stops every task; disarms the watchdog (magic close) unless the isolation
    /// response stopped feeding it.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
        let stopped = self
            .inner
            .state
            .lock()
            .map(|s| s.stopped_feeding)
            .unwrap_or(true);
        if stopped {
            tracing::error!(
                critical = true,
                "agent stopping with its watchdog left armed: the host will reset"
            );
        } else {
            self.inner.watchdog.lock().await.disarm();
        }
        tracing::info!(host = %self.inner.host, "agent stopped");
    }

    /// Runs until SIGTERM or SIGINT (or a task ends, which none should), then shuts
    /// down cleanly.
    pub async fn run_until_signal(mut self) {
        tokio::select! {
            () = shutdown_signal() => {}
            _ = self.tasks.join_next() => {
                tracing::error!("an agent task ended unexpectedly; stopping");
            }
        }
        self.shutdown().await;
    }
}

impl Inner {
    fn report(&self, kind: AgentEventKind) {
        if let Ok(mut s) = self.state.lock() {
            let id = s.next_event;
            s.next_event += 1;
            s.pending.push_back(AgentEvent {
                id,
                at_ms: wall_clock_ms(),
                kind,
            });
        }
        self.reported.notify_one();
    }

    fn heartbeat(&self) -> AgentHeartbeat {
        let now = Instant::now();
        let window = self.config.peers.reachable_window;
        let ages = match self.peers.lock() {
            Ok(t) => t.reachable_ages(now, window),
            Err(_) => Default::default(),
        };
        let reachable_peers = ages.keys().cloned().collect();
        let reachable_peer_ages_ms = ages
            .into_iter()
            .map(|(peer, age)| (peer, PeerAgeMs::from_duration(age.min(window))))
            .collect();
        let watchdog = self.config.has_watchdog().then_some(());
        let mut s = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        s.sequence += 1;
        AgentHeartbeat {
            agent_run: self.run_id.clone(),
            sequence: s.sequence,
            sent_at_ms: wall_clock_ms(),
            interval_ms: millis(self.config.controller.heartbeat_interval),
            reachable_peers,
            reachable_peer_ages_ms,
            nova_compute: s.nova.status(),
            libvirtd: s.libvirt.status(),
            events: s.pending.iter().cloned().collect(),
            watchdog: watchdog.map(|()| WatchdogReport {
                armed: s.feeding,
                timeout_ms: millis(self.config.watchdog.timeout),
            }),
            boot_id: self.boot_id.clone(),
        }
    }

    /// Takes a controller's answer.
    fn answered(self: &Arc<Self>, reply: AgentReply) {
        let now = Instant::now();
        let mut steps = Vec::new();
        if let Ok(mut s) = self.state.lock() {
            s.hearing.last_controller = Some(now);
            s.pending.retain(|e| e.id > reply.acked_event);
            for c in &reply.commands {
                match c {
                    AgentCommand::RestartProcess { process } => {
                        tracing::info!(process = process.name(), "controller asks for a restart");
                        let w = match process {
                            Process::NovaCompute => &mut s.nova,
                            Process::Libvirtd => &mut s.libvirt,
                        };
                        steps.extend(
                            w.restart_requested(now)
                                .into_iter()
                                .map(|st| (*process, st)),
                        );
                    }
                }
            }
        }
        if !reply.peers.is_empty() {
            let configured = &self.config.peers;
            if let Ok(mut t) = self.peers.lock() {
                let mut hosts = Vec::new();
                for p in reply.peers.iter().filter(|p| p.host != self.host) {
                    let address = p
                        .probe
                        .clone()
                        .or_else(|| configured.addresses.get(p.host.as_str()).cloned())
                        .unwrap_or_else(|| format!("{}:{}", p.host, configured.default_port));
                    t.upsert(p.host.clone(), address);
                    hosts.push(p.host.clone());
                }
                hosts.extend(
                    configured
                        .addresses
                        .keys()
                        .map(|h| HostName::from(h.as_str())),
                );
                t.retain(&hosts);
            }
        }
        for (process, step) in steps {
            self.step(process, step);
        }
    }

    fn step(self: &Arc<Self>, process: Process, step: Step) {
        match step {
            Step::Report(kind) => self.report(kind),
            Step::Restart => {
                let argv = self.process_config(process).restart_command.clone();
                let inner = self.clone();
                tokio::spawn(async move {
                    tracing::warn!(process = process.name(), "restarting: {}", argv.join(" "));
                    if let Err(e) = crate::command::run(&argv, &[]).await {
                        tracing::error!(process = process.name(), "restart failed: {e}");
                        let steps = match inner.state.lock() {
                            Ok(mut s) => match process {
                                Process::NovaCompute => s.nova.restart_failed(e),
                                Process::Libvirtd => s.libvirt.restart_failed(e),
                            },
                            Err(_) => Vec::new(),
                        };
                        for st in steps {
                            inner.step(process, st);
                        }
                    }
                });
            }
        }
    }

    fn process_config(&self, process: Process) -> &crate::config::ProcessConfig {
        match process {
            Process::NovaCompute => &self.config.processes.nova_compute,
            Process::Libvirtd => &self.config.processes.libvirtd,
        }
    }
}

async fn process_loop(inner: Arc<Inner>) {
    let mut tick = interval(inner.config.processes.check_interval);
    loop {
        tick.tick().await;
        for process in [Process::NovaCompute, Process::Libvirtd] {
            let status = crate::process::check(inner.process_config(process)).await;
            let now = Instant::now();
            let steps = match inner.state.lock() {
                Ok(mut s) => match process {
                    Process::NovaCompute => s.nova.observe(now, status),
                    Process::Libvirtd => s.libvirt.observe(now, status),
                },
                Err(_) => Vec::new(),
            };
            for step in steps {
                if let Step::Report(kind) = &step {
                    tracing::warn!(process = process.name(), ?kind, "process state changed");
                }
                inner.step(process, step);
            }
        }
    }
}

/// Lists the running guests every `running_guests_interval` and saves them with this
/// boot's id when the list changed. While a `host_rebooted` report is not yet
/// acknowledged the file is left alone, so that an agent restarted before the
/// controller took the report reports it again.
async fn running_guests_loop(
    inner: Arc<Inner>,
    boot_id: String,
    saved: Option<crate::boot::RunningGuests>,
) {
    let c = &inner.config.instances;
    let mut last = saved.filter(|r| r.boot_id == boot_id);
    let mut tick = interval(c.running_guests_interval);
    loop {
        tick.tick().await;
        let reboot_unacked = match inner.state.lock() {
            Ok(s) => s
                .pending
                .iter()
                .any(|e| matches!(e.kind, AgentEventKind::HostRebooted { .. })),
            Err(_) => true,
        };
        if reboot_unacked {
            continue;
        }
        let Some(guests) = crate::boot::list_running(&c.virsh_running_command).await else {
            tracing::debug!("cannot list the running guests; keeping the saved list");
            continue;
        };
        let now = crate::boot::RunningGuests {
            boot_id: boot_id.clone(),
            guests,
        };
        if last.as_ref() == Some(&now) {
            continue;
        }
        match now.save(&c.running_guests_file) {
            Ok(()) => last = Some(now),
            Err(e) => tracing::warn!(
                file = %c.running_guests_file.display(),
                "cannot save the running guests: {e}"
            ),
        }
    }
}

async fn heartbeat_loop(inner: Arc<Inner>) {
    let mut tick = interval(inner.config.controller.heartbeat_interval);
    let mut failures: u64 = 0;
    loop {
        // A report sends the next heartbeat at once (and restarts the period): at most
        // one extra heartbeat per round trip, however many reports arrive meanwhile.
        tokio::select! {
            _ = tick.tick() => {}
            () = inner.reported.notified() => tick.reset(),
        }
        let hb = inner.heartbeat();
        let path = heartbeat_path(&inner.host);
        let mut calls = JoinSet::new();
        for url in &inner.config.controller.urls {
            let request = inner
                .client
                .post(format!("{}{path}", url.trim_end_matches('/')))
                .bearer_auth(inner.token.expose())
                .json(&hb);
            let url = url.clone();
            calls.spawn(async move {
                let resp = request.send().await.map_err(|e| format!("{url}: {e}"))?;
                let status = resp.status();
                if !status.is_success() {
                    let body = resp.text().await.unwrap_or_default();
                    return Err(format!("{url}: {status} {body}"));
                }
                resp.json::<AgentReply>()
                    .await
                    .map_err(|e| format!("{url}: bad reply: {e}"))
            });
        }
        let mut errors = Vec::new();
        let mut reply = None;
        while let Some(r) = calls.join_next().await {
            match r {
                Ok(Ok(r)) => {
                    reply = Some(r);
                    break;
                }
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(e.to_string()),
            }
        }
        drop(calls);
        match reply {
            Some(r) => {
                if failures > 0 {
                    tracing::info!(after = failures, "a controller answers again");
                }
                failures = 0;
                inner.answered(r);
            }
            None => {
                failures += 1;
                // The first failure, then one line per minute of heartbeats.
                if failures == 1 || failures % 60 == 0 {
                    tracing::warn!(
                        failures,
                        "no controller took the heartbeat: {}",
                        errors.join("; ")
                    );
                }
            }
        }
    }
}

async fn address_loop(inner: Arc<Inner>) {
    let c = &inner.config;
    if c.isolation.addresses.is_empty() {
        // Nothing to check; the task stays so that every task ending means a fault.
        std::future::pending::<()>().await;
    }
    let mut tick = interval(c.watchdog.feed_interval);
    let quiet_after = c.controller.heartbeat_interval * 2;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let last_peer = inner.peers.lock().ok().and_then(|t| t.last_answer());
        let quiet = match inner.state.lock() {
            Ok(s) => [s.hearing.last_controller, last_peer]
                .into_iter()
                .flatten()
                .all(|t| now.saturating_duration_since(t) > quiet_after),
            Err(_) => true,
        };
        if !quiet {
            continue;
        }
        for address in &c.isolation.addresses {
            if address_answers(address, c.isolation.check_timeout).await {
                if let Ok(mut s) = inner.state.lock() {
                    s.hearing.last_address = Some(Instant::now());
                }
                break;
            }
        }
    }
}

/// `icmp:<ip>` → `ping -c1 -W<timeout>`; anything else → a TCP connect.
async fn address_answers(address: &str, timeout: Duration) -> bool {
    if let Some(ip) = address.strip_prefix("icmp:") {
        let secs = timeout.as_secs().max(1).to_string();
        let argv = ["ping", "-c1", "-W", &secs, ip].map(String::from);
        return crate::command::succeeds(&argv, &[]).await == Some(true);
    }
    matches!(
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await,
        Ok(Ok(_))
    )
}

async fn supervisor_loop(inner: Arc<Inner>) {
    let c = &inner.config;
    let mut tick = interval(c.watchdog.feed_interval);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let (reachable, segment, last_peer) = match inner.peers.lock() {
            Ok(t) => (
                t.reachable(now, c.peers.reachable_window).len(),
                t.segment_size(),
                t.last_answer(),
            ),
            Err(_) => (0, 1, None),
        };
        let mut apply = None;
        let feed = match inner.state.lock() {
            Ok(mut s) => {
                if let Some(t) = last_peer {
                    s.hearing.last_peer = Some(t);
                }
                let isolated = s.hearing.isolated(now, c.isolation.isolation_time);
                if isolated && !s.isolation_applied {
                    s.isolation_applied = true;
                    if c.isolation.response == IsolationResponse::StopFeedingWatchdog {
                        s.stopped_feeding = true;
                    }
                    apply = Some(now.saturating_duration_since(s.hearing.last_heard()));
                } else if !isolated && s.isolation_applied {
                    s.isolation_applied = false;
                    tracing::warn!("no longer isolated: something answers again");
                }
                let feed = should_feed(
                    &s.hearing,
                    now,
                    c.watchdog.controller_window,
                    reachable,
                    segment,
                    s.stopped_feeding,
                );
                s.feeding = feed;
                feed
            }
            Err(_) => false,
        };
        if let Some(silent) = apply {
            // In its own task: a slow power-off command must not hold up the feed.
            let inner = inner.clone();
            tokio::spawn(async move { apply_isolation_response(&inner, silent).await });
        }
        if feed {
            let mut w = inner.watchdog.lock().await;
            if let Err(e) = w.feed().await {
                tracing::error!(critical = true, "cannot feed the watchdog: {e}");
            }
        }
    }
}

async fn apply_isolation_response(inner: &Arc<Inner>, silent: Duration) {
    let c = &inner.config.isolation;
    let response = c.response;
    tracing::error!(
        critical = true,
        response = response.name(),
        silent_ms = millis(silent),
        "HOST ISOLATED: no controller, no peer and no isolation address answered for {:?}; applying the isolation response {}",
        silent,
        response.name()
    );
    let detail = match response {
        IsolationResponse::LeaveRunning => "instances left running".to_owned(),
        IsolationResponse::PowerOffInstances => {
            match crate::command::run(&c.power_off_command, &[]).await {
                Ok(()) => {
                    tracing::error!(critical = true, "isolation response: instances powered off");
                    "instances powered off".to_owned()
                }
                Err(e) => {
                    tracing::error!(
                        critical = true,
                        "isolation response: powering off instances failed: {e}"
                    );
                    format!("power-off command failed: {e}")
                }
            }
        }
        IsolationResponse::StopFeedingWatchdog => {
            let t = inner.config.watchdog.timeout;
            tracing::error!(
                critical = true,
                "isolation response: watchdog no longer fed; the host resets within {t:?}"
            );
            format!("watchdog no longer fed; reset within {t:?}")
        }
    };
    inner.report(AgentEventKind::IsolationResponseApplied {
        response: response.name().to_owned(),
        detail,
    });
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        },
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}; only SIGINT stops the agent");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn interval(every: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval(every);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The wall clock, only for the informational `sent_at_ms` / `at_ms` fields and the
/// run id: every decision uses `tokio::time`.
#[allow(clippy::disallowed_methods)]
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}

/// A run id unique enough to tell two runs of the agent apart: start time and pid.
#[allow(clippy::disallowed_methods)]
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}-{:x}", std::process::id())
}
