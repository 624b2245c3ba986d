//! The hands: executes the engine's effect commands against Nova and the fencer, with
//! bounded parallelism and timeouts, and turns every answer into an event.
//!
//! Each command runs in its own task holding one permit of a semaphore
//! (`openstack.max_parallel_calls`); its result goes back to the engine task through
//! the same bounded channel as every other input. Nothing here decides anything: a
//! failed call is reported as the core's error kind and the core chooses what next.
//!
//! One exception to "one call": `EnableHost` first waits (a bounded while, holding no
//! permit) until Nova sees the host's compute up, because Nova syncs Placement's
//! `COMPUTE_STATUS_DISABLED` trait only for a service that is up when it is enabled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_core::event::{Event, NovaError};
use lazarus_core::{Command, HostName, InstanceId, ResetMethod};
use lazarus_openstack::{
    ArrivalState, Cloud, EvacuateOptions, MigrationFilter, MigrationType, ServerAction,
    ServiceState, ServiceUpdate, VmState as NovaVmState,
};
use tokio::sync::{mpsc, Semaphore};

use crate::agents::AgentCommands;
use crate::config::{Arrival, EvacuateTarget, OpenStackSection};
use crate::fencer::Fencer;
use crate::metrics::Metrics;
use crate::nova::{self, Liveness};
use crate::runtime::Input;

/// Everything an effect needs.
#[derive(Debug)]
pub struct Effects<C> {
    /// The cloud.
    pub cloud: Arc<C>,
    /// The fencer.
    pub fencer: Arc<dyn Fencer>,
    /// Commands waiting for the agents' next heartbeats.
    pub agents: Arc<AgentCommands>,
    /// Bounds the calls in flight.
    pub permits: Arc<Semaphore>,
    /// Where results go.
    pub tx: mpsc::Sender<Input>,
    /// `[openstack]`.
    pub config: OpenStackSection,
    /// Compute service UUIDs by host, from the services poll.
    pub service_ids: Arc<Mutex<HashMap<HostName, String>>>,
    /// Service liveness (our own writes are registered here).
    pub liveness: Arc<Mutex<Liveness>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl<C: Cloud + 'static> Effects<C> {
    /// The longest one command may take, retries within it included.
    fn call_timeout(&self) -> Duration {
        self.config.request_timeout.saturating_mul(2)
    }

    /// How often, and for how long at most, an enable waits for Nova to see the
    /// host's compute up: a tenth of `report_interval`, and three of them (1 s and
    /// 30 s by default). A starting compute reports at once, then every
    /// `report_interval`, so three intervals cover a slow start.
    fn enable_wait(&self) -> (Duration, Duration) {
        let interval = self.config.report_interval;
        let poll = (interval / 10).max(Duration::from_millis(1));
        (poll, interval.saturating_mul(3))
    }

    /// Starts `cmd` in its own task; its result comes back as an event.
    pub fn spawn(self: &Arc<Self>, cmd: Command) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            // Before the permit: many hosts re-enabled at once must not hold every
            // permit while they wait, and so delay a fencing.
            if let Command::EnableHost { host } = &cmd {
                this.wait_until_service_up(host).await;
            }
            let Ok(_permit) = Arc::clone(&this.permits).acquire_owned().await else {
                return;
            };
            if let Some(event) = this.run(cmd).await {
                if this.tx.send(Input::Event(event)).await.is_err() {
                    tracing::debug!("engine stopped; a command result was dropped");
                }
            }
        });
    }

    /// Waits until no command is in flight (all permits free), for graceful shutdown.
    pub async fn drain(&self) {
        let all = u32::try_from(self.config.max_parallel_calls).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }

    async fn run(&self, cmd: Command) -> Option<Event> {
        match cmd {
            Command::FenceHost {
                host,
                method: _,
                attempt,
            } => {
                let result = self.fencer.power_off(&host).await;
                Some(Event::FenceAttempted {
                    host,
                    attempt,
                    result,
                })
            }
            Command::ReadPowerState { host } => {
                let result = self.fencer.power_state(&host).await;
                Some(Event::PowerStateRead { host, result })
            }
            Command::MarkHostDown { host, reason } => {
                // One PUT with forced_down and disabled together: disabling a dead
                // compute that is not yet down waits on RPC for 60 s.
                let result = self
                    .update_service(
                        &host,
                        ServiceUpdate::force_down_and_disable(reason),
                        "mark_down",
                    )
                    .await;
                Some(Event::HostMarkedDown { host, result })
            }
            Command::EvacuateInstance {
                instance,
                from,
                to,
                attempt,
            } => Some(self.evacuate(instance, from, to, attempt).await),
            Command::CheckInstance { instance } => Some(self.check(instance).await),
            Command::ResetInstance {
                instance,
                host,
                method,
                reason,
            } => {
                tracing::info!(%instance, %host, %reason, "resetting instance");
                let result = self.reset(&instance, method).await;
                self.metrics.nova_call("reset_instance", result.is_ok());
                Some(Event::InstanceResetDone { instance, result })
            }
            // Delivered with the agent's next heartbeat reply; its later process_up or
            // process_restart_failed is the answer (the engine's restart_grace covers
            // an agent that never answers).
            Command::RestartProcess { host, process } => {
                if self.agents.queue(
                    &host,
                    lazarus_agent::AgentCommand::RestartProcess { process },
                ) {
                    tracing::info!(%host, ?process, "restart queued for the host's agent");
                    None
                } else {
                    Some(Event::ProcessRestartFailed {
                        host,
                        process,
                        error:
                            "no lazarus agent runs on this host (no token in [agents] token_dir)"
                                .into(),
                    })
                }
            }
            Command::DisableHost { host, reason } => {
                let result = self
                    .update_service(&host, ServiceUpdate::disable(reason), "disable")
                    .await;
                Some(Event::HostDisabled { host, result })
            }
            Command::EnableHost { host } => {
                let result = self
                    .update_service(&host, ServiceUpdate::enable(), "enable")
                    .await;
                Some(Event::HostEnabled { host, result })
            }
            Command::ReturnHostToService { host, enable } => {
                let update = if enable {
                    ServiceUpdate::lift_forced_down_and_enable()
                } else {
                    ServiceUpdate::lift_forced_down()
                };
                let result = self.update_service(&host, update, "return").await;
                Some(Event::HostReturnedToService { host, result })
            }
            // Executed by the engine task itself, never spawned.
            Command::Persist(_)
            | Command::ScheduleTimer { .. }
            | Command::RaiseAlert(_)
            | Command::RecoveryFinished(_) => None,
        }
    }

    /// Returns once Nova reports the host's compute service `up`, or after the bound
    /// of [`Self::enable_wait`] (with a warning: the enable is sent anyway, since a
    /// host disabled for good is worse than one Placement keeps out of scheduling
    /// until its compute restarts).
    ///
    /// Why: Nova syncs the `COMPUTE_STATUS_DISABLED` trait of a compute node only if
    /// its service is up at the moment it is enabled; else nova-api logs "will be
    /// synchronized when the service is restarted" and the host takes no new server
    /// (NoValidHost). A nova-compute just restarted after more than
    /// `service_down_time` is still `down` until its first report lands.
    async fn wait_until_service_up(&self, host: &HostName) {
        let (poll, bound) = self.enable_wait();
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            match self.service_state(host).await {
                Ok(ServiceState::Up) => return,
                Ok(ServiceState::Down) => {
                    tracing::debug!(%host, "nova still reports the compute down; the enable waits");
                }
                Err(error) => {
                    tracing::debug!(%host, %error, "could not read the compute service; the enable waits");
                }
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    %host,
                    waited_s = bound.as_secs_f64(),
                    "nova does not report the host's compute up; enabling it anyway: Placement may keep it \
                     COMPUTE_STATUS_DISABLED (no new servers) until its nova-compute restarts"
                );
                return;
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Nova's view of the host's compute service, read under one permit.
    async fn service_state(&self, host: &HostName) -> Result<ServiceState, String> {
        let Ok(_permit) = self.permits.acquire().await else {
            return Err("shutting down".into());
        };
        let result =
            match tokio::time::timeout(self.call_timeout(), self.cloud.list_compute_services())
                .await
            {
                Ok(Ok(services)) => services
                    .iter()
                    .find(|s| s.host == host.as_str())
                    .map(|s| s.state)
                    .ok_or_else(|| "no compute service on this host".to_owned()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_owned()),
            };
        self.metrics.nova_call("service_state", result.is_ok());
        result
    }

    async fn service_id(&self, host: &HostName) -> Result<String, NovaError> {
        if let Some(id) = self
            .service_ids
            .lock()
            .ok()
            .and_then(|m| m.get(host).cloned())
        {
            return Ok(id);
        }
        let services = self
            .cloud
            .list_compute_services()
            .await
            .map_err(|e| nova::nova_error(&e))?;
        let id = services
            .iter()
            .find(|s| s.host == host.as_str())
            .map(|s| s.id.clone())
            .ok_or(NovaError::NotFound)?;
        if let Ok(mut m) = self.service_ids.lock() {
            m.insert(host.clone(), id.clone());
        }
        Ok(id)
    }

    async fn update_service(
        &self,
        host: &HostName,
        update: ServiceUpdate,
        operation: &'static str,
    ) -> Result<(), NovaError> {
        let call = async {
            let id = self.service_id(host).await?;
            let service = self
                .cloud
                .update_compute_service(&id, &update)
                .await
                .map_err(|e| {
                    tracing::warn!(%host, operation, error = %e, "nova refused a service update");
                    nova::nova_error(&e)
                })?;
            if let (Some(at), Ok(mut l)) = (&service.updated_at, self.liveness.lock()) {
                l.our_write(host, at.as_str());
            }
            Ok(())
        };
        let result = match tokio::time::timeout(self.call_timeout(), call).await {
            Ok(r) => r,
            Err(_) => Err(NovaError::Timeout),
        };
        self.metrics.nova_call(operation, result.is_ok());
        result
    }

    async fn evacuate(
        &self,
        instance: InstanceId,
        from: HostName,
        to: HostName,
        attempt: u32,
    ) -> Event {
        let options = EvacuateOptions {
            target_host: match self.config.evacuate_target {
                EvacuateTarget::Planned => Some(to.to_string()),
                EvacuateTarget::Scheduler => None,
            },
            arrival: match self.config.evacuate_arrival {
                Arrival::KeepState => ArrivalState::KeepState,
                Arrival::Stopped => ArrivalState::Stopped,
            },
        };
        tracing::info!(%instance, %from, %to, attempt, "evacuating");
        let result = tokio::time::timeout(
            self.call_timeout(),
            self.cloud.evacuate(instance.as_str(), &options),
        )
        .await;
        match result {
            Ok(Ok(())) => {
                self.metrics.evacuation("accepted");
                Event::EvacuationAccepted {
                    instance,
                    target: to,
                    attempt,
                }
            }
            Ok(Err(e)) => {
                let error = nova::evacuation_error(&e);
                tracing::warn!(%instance, %to, attempt, error = %e, "nova did not accept an evacuation");
                self.metrics.evacuation(evacuation_result(&error));
                Event::EvacuationRejected {
                    instance,
                    target: to,
                    attempt,
                    error,
                }
            }
            Err(_) => {
                self.metrics.evacuation("timeout");
                Event::EvacuationRejected {
                    instance,
                    target: to,
                    attempt,
                    error: lazarus_core::event::EvacuationError::Timeout,
                }
            }
        }
    }

    /// Reads a server and its latest evacuation record, retrying until it gets an
    /// answer (the core waits for one; a read has no side effect).
    async fn check(&self, instance: InstanceId) -> Event {
        let mut delay = Duration::from_millis(500);
        loop {
            match self.read_instance(&instance).await {
                Ok(o) => return Event::InstanceObserved(o),
                Err(e) => {
                    tracing::warn!(%instance, error = %e, "could not read an instance; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn read_instance(
        &self,
        instance: &InstanceId,
    ) -> Result<lazarus_core::event::InstanceObservation, String> {
        let read = async {
            let server = match self.cloud.get_server(instance.as_str()).await {
                Ok(s) => Some(s),
                Err(lazarus_openstack::CloudError::NotFound { .. }) => None,
                Err(e) => return Err(e.to_string()),
            };
            let filter = MigrationFilter {
                instance_uuid: Some(instance.to_string()),
                migration_type: Some(MigrationType::Evacuation),
                ..MigrationFilter::default()
            };
            let migrations = match server {
                Some(_) => self
                    .cloud
                    .list_migrations(&filter)
                    .await
                    .map_err(|e| e.to_string())?,
                None => Vec::new(),
            };
            Ok(nova::observation(
                instance,
                server.as_ref(),
                nova::latest_migration(&migrations),
            ))
        };
        let result = match tokio::time::timeout(self.call_timeout(), read).await {
            Ok(r) => r,
            Err(_) => Err("timed out".to_owned()),
        };
        self.metrics.nova_call("check_instance", result.is_ok());
        result
    }

    async fn reset(&self, instance: &InstanceId, method: ResetMethod) -> Result<(), NovaError> {
        let id = instance.as_str();
        match method {
            ResetMethod::HardReboot => self
                .cloud
                .server_action(id, &ServerAction::HardReboot)
                .await
                .map_err(|e| nova::nova_error(&e)),
            ResetMethod::StopStart { stop_timeout } => {
                self.cloud
                    .server_action(id, &ServerAction::Stop)
                    .await
                    .map_err(|e| nova::nova_error(&e))?;
                let stopped = async {
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if let Ok(s) = self.cloud.get_server(id).await {
                            if s.vm_state == Some(NovaVmState::Stopped) {
                                return;
                            }
                        }
                    }
                };
                if tokio::time::timeout(stop_timeout, stopped).await.is_err() {
                    return Err(NovaError::Timeout);
                }
                self.cloud
                    .server_action(id, &ServerAction::Start)
                    .await
                    .map_err(|e| nova::nova_error(&e))
            }
        }
    }
}

/// The metric label of a refused evacuation.
fn evacuation_result(e: &lazarus_core::event::EvacuationError) -> &'static str {
    use lazarus_core::event::EvacuationError as E;
    match e {
        E::ComputeServiceInUse => "compute_service_in_use",
        E::Conflict(_) => "conflict",
        E::ServerError(_) => "server_error",
        E::Timeout => "timeout",
        E::NotFound => "not_found",
        E::Other(_) => "other",
    }
}
