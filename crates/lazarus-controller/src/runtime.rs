//! The engine task: the one owner of the core's [`Engine`].
//!
//! Everything else (the API's notification sink, the pollers, effect results, timers,
//! API queries) sends it an [`Input`] over one bounded channel. For each input it calls
//! the engine and executes the returned commands **in order**:
//!
//! - `Persist` is written to the journal and awaited: the commands after it start only
//!   once it is durable (write-ahead);
//! - effects (Nova, fencing) are handed to [`Effects`], which runs them in parallel
//!   within its bound and sends their results back as events;
//! - `ScheduleTimer` becomes a `tokio::time` sleep that sends `TimerFired`;
//! - `RaiseAlert` is logged at the level its severity names;
//! - `RecoveryFinished` goes to the reporter (notification status, vmoves).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use lazarus_core::alert::{Alert, Severity};
use lazarus_core::engine::Record;
use lazarus_core::event::{
    Event, HostEvent, HostStatus, InstanceFailureKind, Notification, NotificationPayload,
};
use lazarus_core::workflow::{RecoveryRecord, Trigger};
use lazarus_core::{Command, Engine, HostHealth, HostName, InstanceId};
use lazarus_openstack::{Cloud, ComputeService};
use lazarus_store::{NotificationStatus, NotificationType};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Config;
use crate::effects::Effects;
use crate::inventory::{self, Inventory, StoreView};
use crate::journal::{phase_name, Journal, JournalError};
use crate::metrics::Metrics;
use crate::nova::{self, Liveness};
use crate::operator::{self, OperatorRequest};
use crate::reporter::Report;
use crate::store_watch::StoreGeneration;
use crate::{clock, Health};

/// The longest a notification waits for the failed host's servers to be refreshed.
const PREPARE_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

/// What the engine task is sent.
#[derive(Debug)]
pub enum Input {
    /// An event for the engine (command results, timers).
    Event(Event),
    /// A Masakari notification the API accepted.
    Notification(Box<lazarus_store::Notification>),
    /// A notification whose host's inventory was just refreshed: hand it over now.
    NotificationReady(Box<lazarus_store::Notification>),
    /// A fresh reading of what is protected.
    Inventory(Box<Inventory>),
    /// The API wrote segments or hosts (see `store_watch.rs`): re-read them now.
    StoreChanged,
    /// The refresh of a failed host's servers ended (its inventory, if read, was sent
    /// just before): events held back for it can go to the engine.
    RefreshDone(HostName),
    /// Nova's compute services.
    Services(Vec<ComputeService>),
    /// A question from the API.
    Query(Query),
    /// An operator's action from the native API, judged and handled in one go.
    Operator(OperatorRequest),
}

/// Questions the native API asks the engine.
#[derive(Debug)]
pub enum Query {
    /// Every host with its health.
    Hosts(oneshot::Sender<Vec<HostView>>),
    /// Recoveries under way.
    Recoveries(oneshot::Sender<Vec<RecoveryRecord>>),
}

/// One host as the native API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    /// Name.
    pub name: String,
    /// Segment UUID.
    pub segment: String,
    /// The detector's verdict.
    pub health: Option<HostHealth>,
    /// Why, in words.
    pub why: String,
    /// Nova's latest view.
    pub nova: Option<NovaView>,
    /// The recovery under way, if any.
    pub recovery: Option<String>,
    /// Its phase.
    pub recovery_phase: Option<&'static str>,
    /// Instances known on it.
    pub instances: usize,
    /// Protected instances among them.
    pub protected_instances: usize,
    /// How it is fenced.
    pub fence_method: lazarus_core::model::FenceMethod,
    /// Reserved host.
    pub reserved: bool,
    /// Under maintenance.
    pub on_maintenance: bool,
}

/// Nova's view of a host's compute service.
#[derive(Debug, Clone, Serialize)]
pub struct NovaView {
    /// The compute process reports (fresh `updated_at`).
    pub reporting: bool,
    /// Watched long enough for `reporting == false` to mean its reports stopped.
    pub reporting_known: bool,
    /// Nova says up.
    pub up: bool,
    /// forced_down.
    pub forced_down: bool,
    /// disabled.
    pub disabled: bool,
    /// disabled_reason.
    pub disabled_reason: Option<String>,
}

/// Why the engine task stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum EngineStopped {
    /// The journal could not record a step: the controller must not act further.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The engine task's state.
pub struct EngineTask<C> {
    pub(crate) engine: Engine,
    pub(crate) journal: Journal,
    pub(crate) effects: Arc<Effects<C>>,
    pub(crate) reports: mpsc::Sender<Report>,
    pub(crate) rx: mpsc::Receiver<Input>,
    pub(crate) tx: mpsc::Sender<Input>,
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<dyn lazarus_store::Store>,
    pub(crate) liveness: Arc<Mutex<Liveness>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) health: Arc<Health>,
    pub(crate) stopping: watch::Receiver<bool>,
    /// Hosts whose servers were listed at least once.
    pub(crate) listed: HashSet<HostName>,
    /// Nova's latest view per host, for the native API.
    pub(crate) nova: BTreeMap<HostName, NovaView>,
    /// Failed hosts whose servers are being re-read before their recovery plans.
    pub(crate) refreshing: HashSet<HostName>,
    /// `HostMarkedDown` events held back until their host's refresh is done (the
    /// engine plans the recovery when it gets one).
    pub(crate) deferred: Vec<Event>,
    /// Hosts with an agent token: expected to heartbeat from the start.
    pub(crate) expected_agents: Vec<HostName>,
    /// Counts the API's segment and host writes.
    pub(crate) store_generation: StoreGeneration,
    /// The newest store reading applied.
    pub(crate) store_view: StoreView,
}

impl<C> std::fmt::Debug for EngineTask<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineTask").finish_non_exhaustive()
    }
}

impl<C: Cloud + 'static> EngineTask<C> {
    /// Resumes the persisted recoveries, then handles inputs until asked to stop.
    pub async fn run(mut self, records: Vec<Record>) -> Result<(), EngineStopped> {
        let resumed = records.len();
        let cmds = self.engine.resume(clock::now(), records);
        self.engine
            .expect_agents(clock::now(), std::mem::take(&mut self.expected_agents));
        self.execute(cmds).await?;
        self.health.engine_started();
        tracing::info!(resumed, "engine started");
        self.publish();
        loop {
            tokio::select! {
                biased;
                changed = self.stopping.changed() => {
                    if changed.is_err() || *self.stopping.borrow() {
                        break;
                    }
                }
                input = self.rx.recv() => match input {
                    Some(input) => self.on_input(input).await?,
                    None => break,
                },
            }
        }
        tracing::info!("engine stopped: no new step is started");
        Ok(())
    }

    async fn on_input(&mut self, input: Input) -> Result<(), EngineStopped> {
        match input {
            Input::Event(Event::HostMarkedDown { host, result })
                if self.refreshing.contains(&host) =>
            {
                self.deferred.push(Event::HostMarkedDown { host, result });
            }
            Input::Event(e) => self.step(e).await?,
            Input::RefreshDone(host) => {
                self.refreshing.remove(&host);
                let (ready, rest): (Vec<Event>, Vec<Event>) =
                    std::mem::take(&mut self.deferred).into_iter().partition(
                        |e| matches!(e, Event::HostMarkedDown { host: h, .. } if *h == host),
                    );
                self.deferred = rest;
                for e in ready {
                    self.step(e).await?;
                }
            }
            Input::Notification(n) => self.on_notification(*n).await?,
            Input::NotificationReady(n) => self.dispatch_notification(*n).await?,
            Input::Inventory(inv) => self.apply_inventory(*inv),
            Input::StoreChanged => self.on_store_changed().await,
            Input::Services(services) => self.on_services(services).await?,
            Input::Query(q) => self.answer(q),
            Input::Operator(req) => self.on_operator(req).await?,
        }
        self.publish();
        Ok(())
    }

    /// An operator's action: judged on the engine's state, handed to the engine, and
    /// answered once its commands are executed (its step persisted), with nothing else
    /// in between (see `operator.rs`). One met after its deadline is dropped: the
    /// caller was told it timed out, so it must not be taken.
    async fn on_operator(&mut self, req: OperatorRequest) -> Result<(), EngineStopped> {
        if tokio::time::Instant::now() > req.deadline {
            tracing::warn!(host = %req.ask.host, action = req.ask.action.name(), operator = %req.ask.operator, "operator action dropped: it waited past its deadline");
            return Ok(());
        }
        let answer = match operator::admit(&self.engine, &req.ask) {
            Ok(()) => {
                if req.ask.action == operator::OperatorAction::Recover {
                    // As for a notification: the plan waits for the host's servers to
                    // be re-read (a host added a moment ago was never listed).
                    self.refresh_before_plan(req.ask.host.clone());
                }
                let event = req
                    .ask
                    .action
                    .event(req.ask.host.clone(), req.ask.operator.clone());
                let mut cmds = Vec::new();
                self.engine.handle_into(clock::now(), event, &mut cmds);
                let answer = operator::outcome(&self.engine, &req.ask, &cmds);
                self.execute(cmds).await?;
                answer
            }
            Err(refused) => Err(refused),
        };
        let _ = req.reply.send(answer);
        Ok(())
    }

    async fn step(&mut self, event: Event) -> Result<(), EngineStopped> {
        let cmds = self.engine.handle(clock::now(), event);
        self.execute(cmds).await
    }

    /// Executes commands in order; see the module documentation.
    async fn execute(&mut self, cmds: Vec<Command>) -> Result<(), EngineStopped> {
        for cmd in cmds {
            match cmd {
                Command::Persist(record) => self.persist(record).await?,
                Command::ScheduleTimer { at, token } => {
                    let tx = self.tx.clone();
                    let wait = at.saturating_since(clock::now());
                    tokio::spawn(async move {
                        tokio::time::sleep(wait).await;
                        let _ = tx.send(Input::Event(Event::TimerFired(token))).await;
                    });
                }
                Command::RaiseAlert(alert) => self.alert(&alert),
                Command::RecoveryFinished(summary) => {
                    let outcome = match summary.outcome {
                        lazarus_core::workflow::Outcome::Done => "done",
                        lazarus_core::workflow::Outcome::Partial => "partial",
                        lazarus_core::workflow::Outcome::Aborted => "aborted",
                    };
                    let took = summary.finished_at.saturating_since(summary.id.started_at);
                    self.metrics.recovery_finished(outcome, took.as_secs_f64());
                    let span =
                        tracing::info_span!("recovery", id = %summary.id, host = %summary.id.host);
                    span.in_scope(|| {
                        tracing::info!(
                            outcome,
                            took_s = took.as_secs_f64(),
                            recovered = summary.recovered.len(),
                            given_up = summary.given_up.len(),
                            "recovery finished"
                        )
                    });
                    let trigger = self
                        .engine
                        .recovery(&summary.id.host)
                        .map(|r| r.trigger.clone());
                    if let Some(trigger) = trigger {
                        let _ = self
                            .reports
                            .send(Report::Finished { summary, trigger })
                            .await;
                    }
                }
                effect @ (Command::FenceHost { .. }
                | Command::ReadPowerState { .. }
                | Command::MarkHostDown { .. }
                | Command::EvacuateInstance { .. }
                | Command::CheckInstance { .. }
                | Command::ResetInstance { .. }
                | Command::RestartProcess { .. }
                | Command::DisableHost { .. }
                | Command::EnableHost { .. }
                | Command::ReturnHostToService { .. }) => {
                    if *self.stopping.borrow() {
                        tracing::info!(command = ?effect, "shutting down: command not started (it is resumed from the journal)");
                        continue;
                    }
                    tracing::debug!(command = ?effect, "executing");
                    self.effects.spawn(effect);
                }
            }
        }
        Ok(())
    }

    async fn persist(&mut self, record: Record) -> Result<(), EngineStopped> {
        let (id, first) = self.journal.append(&record).await?;
        match &record {
            Record::Recovery(r) => {
                let phase = phase_name(r.phase);
                self.metrics.step(&format!("recovery.{phase}"));
                let span = tracing::info_span!("recovery", id = %id, host = %r.id.host);
                span.in_scope(|| {
                    if first {
                        self.metrics.recovery_started();
                        tracing::info!(trigger = ?r.trigger, "recovery started");
                    }
                    tracing::debug!(phase, instances = r.instances.len(), "step persisted");
                });
                let names: BTreeMap<InstanceId, String> = r
                    .instances
                    .keys()
                    .filter_map(|i| {
                        self.engine
                            .cluster()
                            .instance(i)
                            .map(|x| (i.clone(), x.name.clone()))
                    })
                    .collect();
                let _ = self
                    .reports
                    .send(Report::Step {
                        record: Box::new(r.clone()),
                        names,
                    })
                    .await;
            }
            Record::ProcessDisable(p) => {
                self.metrics.step("process_disable");
                tracing::info!(host = %p.host, process = ?p.process, disabled = p.disabled, "process disable step persisted");
            }
        }
        Ok(())
    }

    fn alert(&self, a: &Alert) {
        let kind = serde_json::to_value(a.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let host = a.host.as_ref().map(ToString::to_string).unwrap_or_default();
        let instance = a
            .instance
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        match a.severity {
            Severity::Critical => {
                self.metrics.alert(&kind, "critical");
                tracing::error!(critical = true, kind, host, instance, "{}", a.message)
            }
            Severity::Error => {
                self.metrics.alert(&kind, "error");
                tracing::error!(kind, host, instance, "{}", a.message)
            }
            Severity::Warning => {
                self.metrics.alert(&kind, "warning");
                tracing::warn!(kind, host, instance, "{}", a.message)
            }
        }
    }

    /// A Masakari notification. A recovery plans from the failed host's servers, so they
    /// are re-read first; but fencing and marking the host down need no inventory, so
    /// for a host already known the notification goes to the engine at once and only
    /// the plan waits for the refresh (its `HostMarkedDown` is held back until then).
    async fn on_notification(
        &mut self,
        n: lazarus_store::Notification,
    ) -> Result<(), EngineStopped> {
        let host = HostName::from(n.hostname.as_str());
        let refresh = n.notification_type == NotificationType::ComputeHost
            && self.engine.recovery(&host).is_none();
        if !refresh {
            return self.dispatch_notification(n).await;
        }
        let known = self.listed.contains(&host) && self.engine.cluster().host(&host).is_some();
        if known {
            self.refresh_before_plan(host);
            self.dispatch_notification(n).await
        } else {
            let refresh = self.refresh_failed_host(host);
            tokio::spawn(async move {
                let tx = refresh.await;
                let _ = tx.send(Input::NotificationReady(Box::new(n))).await;
            });
            Ok(())
        }
    }

    /// Re-reads `host`'s servers while its recovery starts: its `HostMarkedDown`, on
    /// which the engine plans, is held back until the reading is applied.
    fn refresh_before_plan(&mut self, host: HostName) {
        self.refreshing.insert(host.clone());
        let refresh = self.refresh_failed_host(host.clone());
        tokio::spawn(async move {
            let tx = refresh.await;
            let _ = tx.send(Input::RefreshDone(host)).await;
        });
    }

    /// Reads what a failed host's recovery plans from and sends it to the engine task as
    /// an inventory; the future gives back the inbox for what follows.
    fn refresh_failed_host(
        &self,
        host: HostName,
    ) -> impl std::future::Future<Output = mpsc::Sender<Input>> + Send + 'static {
        let store = Arc::clone(&self.store);
        let generation = self.store_generation.clone();
        let cloud = Arc::clone(&self.effects.cloud);
        let tx = self.tx.clone();
        let limit = PREPARE_LIMIT.min(self.config.openstack.request_timeout);
        async move {
            // Fresh usages too: the plan is made from them. Bounded: a slow Nova must
            // not hold the recovery back; the last poll's figures are used instead.
            let read = inventory::read_failed_host(&*store, &generation, &*cloud, &host);
            match tokio::time::timeout(limit, read).await {
                Ok(Ok(inv)) => {
                    let _ = tx.send(Input::Inventory(Box::new(inv))).await;
                }
                Ok(Err(e)) => {
                    tracing::warn!(%host, error = %e, "could not refresh the failed host's servers; using the last known list")
                }
                Err(_) => {
                    tracing::warn!(%host, limit_s = limit.as_secs_f64(), "refreshing the failed host's servers took too long; using the last known list")
                }
            }
            tx
        }
    }

    async fn dispatch_notification(
        &mut self,
        n: lazarus_store::Notification,
    ) -> Result<(), EngineStopped> {
        let host = HostName::from(n.hostname.as_str());
        let Some(core) = core_notification(&n) else {
            let _ = self
                .reports
                .send(Report::Notification {
                    uuid: n.notification_uuid.clone(),
                    status: NotificationStatus::Ignored,
                    message: "payload not understood: nothing to do".into(),
                    recovery: None,
                })
                .await;
            return Ok(());
        };
        let before = self.engine.recovery(&host).map(|r| r.id.to_string());
        let mut cmds = Vec::new();
        self.engine.handle_into(
            clock::now(),
            Event::MonitorNotified(core.clone()),
            &mut cmds,
        );
        let acted = !cmds.is_empty();
        self.execute(cmds).await?;
        let after = self
            .engine
            .recovery(&host)
            .map(|r| (r.id.to_string(), r.trigger.clone()));
        let (status, message, recovery) = match (&core.payload, after) {
            (NotificationPayload::ComputeHost { .. }, Some((id, Trigger::Monitor { notification })))
                if notification == n.notification_uuid =>
            {
                (
                    NotificationStatus::Running,
                    format!("recovery {id} under way"),
                    Some(id),
                )
            }
            (NotificationPayload::ComputeHost { .. }, Some((id, _))) => (
                NotificationStatus::Ignored,
                format!(
                    "duplicate report of a failure already under recovery ({}): recorded, not acted on",
                    before.as_deref().unwrap_or(&id)
                ),
                Some(id),
            ),
            (NotificationPayload::ComputeHost { event, host_status }, None) => (
                NotificationStatus::Ignored,
                match (event, host_status) {
                    (HostEvent::Stopped, HostStatus::Normal) => {
                        "not recovered: the host is unknown to lazarus or its segment is disabled"
                            .to_owned()
                    }
                    _ => "only COMPUTE_HOST STOPPED with host_status NORMAL starts a recovery (as in Masakari)".to_owned(),
                },
                None,
            ),
            (NotificationPayload::Process { .. } | NotificationPayload::Vm { .. }, _) => {
                if acted {
                    (
                        NotificationStatus::Finished,
                        "handed to lazarus's process/instance failure handling".to_owned(),
                        None,
                    )
                } else {
                    (
                        NotificationStatus::Ignored,
                        "no action needed for this event".to_owned(),
                        None,
                    )
                }
            }
        };
        tracing::info!(notification = %n.notification_uuid, %host, status = status.as_str(), "{message}");
        let _ = self
            .reports
            .send(Report::Notification {
                uuid: n.notification_uuid,
                status,
                message,
                recovery,
            })
            .await;
        Ok(())
    }

    /// The API wrote segments or hosts: they are re-read from the store and applied
    /// now, unless a reading at the current generation or later was applied already
    /// (then it holds the write: a burst of writes is read once). Only the store's
    /// part is read; Nova's facts about a new host (its service, its servers, its
    /// capacity) come with the next polls, or at once when it fails.
    async fn on_store_changed(&mut self) {
        if self.store_generation.current() <= self.store_view.generation() {
            return;
        }
        match inventory::read_store(&*self.store, &self.store_generation).await {
            Ok(inv) => {
                tracing::debug!(
                    generation = inv.store_generation,
                    segments = inv.segments.len(),
                    hosts = inv.hosts.len(),
                    "segments and hosts re-read after an API write"
                );
                self.apply_inventory(inv);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not re-read segments and hosts after an API write; the next servers poll reads them")
            }
        }
    }

    fn apply_inventory(&mut self, mut inv: Inventory) {
        self.store_view.reconcile(&mut inv);
        let busy: HashSet<HostName> = self
            .engine
            .recoveries()
            .map(|r| r.id.host.clone())
            .collect();
        let config = Arc::clone(&self.config);
        let applied = inventory::apply(
            self.engine.cluster_mut(),
            &inv,
            &config,
            &config.engine.recovery,
            |h| busy.contains(h),
        );
        self.engine.cluster_changed();
        self.listed.extend(applied.listed);
    }

    async fn on_services(&mut self, services: Vec<ComputeService>) -> Result<(), EngineStopped> {
        let now = clock::now();
        if let Ok(mut ids) = self.effects.service_ids.lock() {
            for s in &services {
                ids.insert(HostName::from(s.host.as_str()), s.id.clone());
            }
        }
        for s in services {
            let host = HostName::from(s.host.as_str());
            if self.engine.cluster().host(&host).is_none() {
                continue;
            }
            let (reporting, reporting_known) = match self.liveness.lock() {
                Ok(mut l) => (
                    l.observe(&host, s.updated_at.as_ref().map(|t| t.as_str()), now),
                    l.watched_long_enough(&host, now),
                ),
                Err(_) => (false, false),
            };
            let observed = nova::service(&s, reporting);
            self.nova.insert(
                host.clone(),
                NovaView {
                    reporting,
                    reporting_known,
                    up: observed.up,
                    forced_down: observed.forced_down,
                    disabled: observed.disabled,
                    disabled_reason: observed.disabled_reason.clone(),
                },
            );
            self.step(Event::NovaServiceObserved(observed)).await?;
        }
        Ok(())
    }

    fn answer(&self, q: Query) {
        match q {
            Query::Hosts(reply) => {
                let _ = reply.send(self.host_views());
            }
            Query::Recoveries(reply) => {
                let _ = reply.send(self.engine.recoveries().cloned().collect());
            }
        }
    }

    fn host_views(&self) -> Vec<HostView> {
        let cluster = self.engine.cluster();
        cluster
            .hosts()
            .map(|h| {
                let health = self.engine.host_health(&h.name);
                let recovery = self.engine.recovery(&h.name);
                let nova = self.nova.get(&h.name).cloned();
                let instances: Vec<_> = cluster.instances_on(&h.name).collect();
                let why = explain(health, recovery, nova.as_ref(), h.on_maintenance);
                HostView {
                    name: h.name.to_string(),
                    segment: h.segment.to_string(),
                    health,
                    why,
                    nova,
                    recovery: recovery.map(|r| r.id.to_string()),
                    recovery_phase: recovery.map(|r| phase_name(r.phase)),
                    instances: instances.len(),
                    protected_instances: instances.iter().filter(|i| i.is_protected()).count(),
                    fence_method: h.fence_method,
                    reserved: h.reserved,
                    on_maintenance: h.on_maintenance,
                }
            })
            .collect()
    }

    /// Publishes gauges after each input.
    fn publish(&self) {
        let mut counts: BTreeMap<&'static str, i64> = [
            "unmonitored",
            "up",
            "suspect",
            "partitioned",
            "isolated",
            "failed",
        ]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
        for h in self.engine.cluster().hosts() {
            if let Some(health) = self.engine.host_health(&h.name) {
                *counts.entry(health_name(health)).or_default() += 1;
            }
        }
        let counts: Vec<(&str, i64)> = counts.into_iter().collect();
        self.metrics.set_host_health(&counts);
        self.metrics
            .set_recoveries_active(i64::try_from(self.engine.recoveries().count()).unwrap_or(0));
    }
}

/// The snake_case name of a verdict.
pub fn health_name(h: HostHealth) -> &'static str {
    match h {
        HostHealth::Unmonitored => "unmonitored",
        HostHealth::Up => "up",
        HostHealth::Suspect => "suspect",
        HostHealth::Partitioned => "partitioned",
        HostHealth::Isolated => "isolated",
        HostHealth::Failed => "failed",
    }
}

fn explain(
    health: Option<HostHealth>,
    recovery: Option<&RecoveryRecord>,
    nova: Option<&NovaView>,
    on_maintenance: bool,
) -> String {
    let mut parts = Vec::new();
    if on_maintenance {
        parts.push("on maintenance: not monitored, not a failover target".to_owned());
    }
    match health {
        Some(HostHealth::Unmonitored) | None => parts.push(
            "no agent heartbeat: judged only by monitor notifications and operators".to_owned(),
        ),
        Some(HostHealth::Up) => parts.push("agent heartbeats arrive".to_owned()),
        Some(HostHealth::Suspect) => parts.push("agent heartbeats missed".to_owned()),
        Some(HostHealth::Partitioned) => {
            parts.push("unheard by the controller but reached by peers: partitioned".to_owned())
        }
        Some(HostHealth::Isolated) => {
            parts.push("unheard by everyone while its BMC says powered on".to_owned())
        }
        Some(HostHealth::Failed) => parts.push("unheard by everyone".to_owned()),
    }
    if let Some(n) = nova {
        parts.push(format!(
            "nova: {}{}{}{}",
            if n.up { "up" } else { "down" },
            if n.reporting {
                ", compute reporting"
            } else if n.reporting_known {
                ", compute not reporting"
            } else {
                ", compute reports: too few seen yet"
            },
            if n.forced_down { ", forced down" } else { "" },
            if n.disabled {
                format!(
                    ", disabled ({})",
                    n.disabled_reason.as_deref().unwrap_or("no reason")
                )
            } else {
                String::new()
            }
        ));
    }
    if let Some(r) = recovery {
        parts.push(format!("under recovery {} ({})", r.id, phase_name(r.phase)));
    }
    parts.join("; ")
}

/// The core's view of a stored Masakari notification; `None` if its payload is not
/// understood.
pub fn core_notification(n: &lazarus_store::Notification) -> Option<Notification> {
    let p = &n.payload;
    let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let event = |v: Option<String>| match v.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("STOPPED") => Some(HostEvent::Stopped),
        Some("STARTED") => Some(HostEvent::Started),
        _ => None,
    };
    let payload = match n.notification_type {
        NotificationType::ComputeHost => NotificationPayload::ComputeHost {
            event: event(text("event"))?,
            host_status: match text("host_status")
                .map(|s| s.to_ascii_uppercase())
                .as_deref()
            {
                Some("NORMAL") => HostStatus::Normal,
                _ => HostStatus::Unknown,
            },
        },
        NotificationType::Process => NotificationPayload::Process {
            process_name: text("process_name")?,
            event: event(text("event"))?,
        },
        NotificationType::Vm => {
            let failure = match (
                text("event").as_deref(),
                text("vir_domain_event").as_deref(),
            ) {
                (Some("LIFECYCLE"), Some("STOPPED_FAILED")) => Some(InstanceFailureKind::Crashed),
                (Some("QEMU_GUEST_AGENT_ERROR"), Some("STOPPED_FAILED")) => {
                    Some(InstanceFailureKind::Crashed)
                }
                (Some("IO_ERROR"), Some("IO_ERROR_REPORT")) => Some(InstanceFailureKind::IoError),
                _ => None,
            };
            NotificationPayload::Vm {
                instance: InstanceId::from(text("instance_uuid")?),
                failure,
            }
        }
    };
    Some(Notification {
        id: n.notification_uuid.clone(),
        host: HostName::from(n.hostname.as_str()),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn stored(t: NotificationType, payload: serde_json::Value) -> lazarus_store::Notification {
        let now = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        lazarus_store::Notification {
            id: 1,
            notification_uuid: "n1".into(),
            notification_type: t,
            hostname: "compute1".into(),
            generated_time: now,
            payload,
            status: NotificationStatus::New,
            source_host_uuid: "h1".into(),
            failover_segment_uuid: "s1".into(),
            message: None,
            recovery_workflow_details: json!({}),
            created_at: now,
            updated_at: None,
        }
    }

    fn nova_view(reporting: bool, reporting_known: bool) -> NovaView {
        NovaView {
            reporting,
            reporting_known,
            up: true,
            forced_down: false,
            disabled: false,
            disabled_reason: None,
        }
    }

    #[test]
    fn a_compute_watched_too_briefly_is_not_said_to_have_stopped_reporting() {
        let say = |n: NovaView| explain(Some(HostHealth::Up), None, Some(&n), false);
        assert!(say(nova_view(false, false)).contains("compute reports: too few seen yet"));
        assert!(say(nova_view(false, true)).contains("compute not reporting"));
        assert!(say(nova_view(true, false)).contains("compute reporting"));
    }

    #[test]
    fn a_compute_host_stopped_normal_notification_is_a_fence_confirming_report() {
        let n = stored(
            NotificationType::ComputeHost,
            json!({"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}),
        );
        let c = core_notification(&n).unwrap();
        assert_eq!(c.host, HostName::from("compute1"));
        assert_eq!(
            c.payload,
            NotificationPayload::ComputeHost {
                event: HostEvent::Stopped,
                host_status: HostStatus::Normal
            }
        );
    }

    #[test]
    fn a_missing_host_status_counts_as_unknown_not_normal() {
        let n = stored(NotificationType::ComputeHost, json!({"event": "STOPPED"}));
        let c = core_notification(&n).unwrap();
        assert_eq!(
            c.payload,
            NotificationPayload::ComputeHost {
                event: HostEvent::Stopped,
                host_status: HostStatus::Unknown
            }
        );
    }

    #[test]
    fn vm_and_process_notifications_map_onto_the_failures_masakari_acts_on() {
        let vm = stored(
            NotificationType::Vm,
            json!({"instance_uuid": "i1", "vir_domain_event": "STOPPED_FAILED", "event": "LIFECYCLE"}),
        );
        assert_eq!(
            core_notification(&vm).unwrap().payload,
            NotificationPayload::Vm {
                instance: InstanceId::from("i1"),
                failure: Some(InstanceFailureKind::Crashed)
            }
        );
        let p = stored(
            NotificationType::Process,
            json!({"process_name": "nova-compute", "event": "stopped"}),
        );
        assert!(matches!(
            core_notification(&p).unwrap().payload,
            NotificationPayload::Process {
                event: HostEvent::Stopped,
                ..
            }
        ));
        let bad = stored(NotificationType::Process, json!({"event": "STOPPED"}));
        assert!(core_notification(&bad).is_none());
    }
}
