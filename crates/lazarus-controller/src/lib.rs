//! `lazarus controller`: the daemon that joins the decision core (`lazarus-core`), the
//! OpenStack adapter (`lazarus-openstack`), the store (`lazarus-store`) and the API
//! (`lazarus-api`).
//!
//! Shape (see `docs/controller.md`):
//! - one task owns the [`lazarus_core::Engine`] ([`runtime`]); everything else sends it
//!   inputs over one bounded channel;
//! - [`effects`] executes Nova and fencing commands with bounded parallelism and
//!   timeouts; results come back as events;
//! - [`journal`] writes each step ahead of its effects; [`reporter`] keeps Masakari's
//!   notification statuses and vmoves up to date;
//! - [`poller`] refreshes Nova's services and the protected servers; [`store_watch`]
//!   tells the engine about segments and hosts the API writes before the API answers;
//! - [`http`] serves the Masakari API, the native API, `/live`, `/ready`, `/metrics`;
//!   [`operator_http`] and [`operator`] take operators' actions on hosts to the engine.

pub mod agents;
pub mod clock;
pub mod config;
pub mod effects;
pub mod fencer;
pub mod http;
pub mod inventory;
pub mod journal;
pub mod metrics;
pub mod nova;
pub mod operator;
pub mod operator_http;
pub mod poller;
pub mod reporter;
pub mod runtime;
pub mod sink;
pub mod store_watch;
pub mod token_book;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lazarus_api::{AllowAllComputeHosts, ApiConfig, ApiState, Authenticator, SystemClock};
use lazarus_core::Engine;
use lazarus_openstack::Cloud;
use lazarus_store::{NotificationFilter, NotificationStatus, SqliteStore, Store};
use tokio::sync::{mpsc, watch, Semaphore};

pub use config::Config;

use crate::effects::Effects;
use crate::fencer::Fencer;
use crate::journal::{Journal, RecoveryIndex};
use crate::metrics::Metrics;
use crate::nova::Liveness;
use crate::runtime::{EngineTask, Input};

/// Capacity of the engine task's inbox.
const INBOX: usize = 4096;

/// Why the controller stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store could not be opened.
    #[error("cannot open the store {path}: {message}")]
    Store {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The API address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be read at start-up.
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// The engine stopped on a fatal error (the store could not record a step).
    #[error("the engine stopped: {0}")]
    Engine(#[from] runtime::EngineStopped),
    /// The HTTP server failed.
    #[error("the API server failed: {0}")]
    Serve(std::io::Error),
    /// The configuration was refused (the binary validates first, so only a file that
    /// changed in between, such as a BMC password file, gets here).
    #[error(transparent)]
    Config(#[from] config::ConfigError),
}

/// What `/ready` reports on, updated by the tasks that know.
#[derive(Debug, Default)]
pub struct Health {
    engine_started: AtomicBool,
    /// Wall-clock ms of the last successful services poll (0: never).
    cloud_ok_at: AtomicU64,
    /// The last poll error, if the last poll failed.
    cloud_error: Mutex<Option<String>>,
    /// How stale a successful poll may be.
    cloud_window_ms: AtomicU64,
}

impl Health {
    fn engine_started(&self) {
        self.engine_started.store(true, Ordering::SeqCst);
    }

    fn is_engine_started(&self) -> bool {
        self.engine_started.load(Ordering::SeqCst)
    }

    fn cloud_polled(&self, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.cloud_ok_at
                    .store(clock::now().as_millis(), Ordering::SeqCst);
                if let Ok(mut e) = self.cloud_error.lock() {
                    *e = None;
                }
            }
            Err(message) => {
                if let Ok(mut e) = self.cloud_error.lock() {
                    *e = Some(message);
                }
            }
        }
    }

    fn cloud_status(&self) -> Result<(), String> {
        let at = self.cloud_ok_at.load(Ordering::SeqCst);
        if at == 0 {
            return Err("not reached yet".into());
        }
        let age = clock::now().as_millis().saturating_sub(at);
        if age > self.cloud_window_ms.load(Ordering::SeqCst) {
            let last = self
                .cloud_error
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_default();
            return Err(format!("no successful poll for {} s: {last}", age / 1000));
        }
        Ok(())
    }
}

/// Runs the controller until `shutdown` completes (SIGTERM/SIGINT in the binary), then
/// stops starting new steps, lets calls in flight finish and exits within
/// `shutdown.deadline`.
pub async fn run<C: Cloud + std::fmt::Debug + 'static>(
    config: Config,
    cloud: C,
    auth: Arc<dyn Authenticator>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let fencer = fencer::from_config(&config.bmc).map_err(config::ConfigError::from)?;
    run_with_fencer(config, cloud, auth, fencer, shutdown).await
}

/// [`run`] with a fencer of the caller's (tests: stand-in BMCs) instead of the one
/// `[bmc]` describes; `config.bmc.hosts` still decides which hosts default to `bmc`.
pub async fn run_with_fencer<C: Cloud + std::fmt::Debug + 'static>(
    config: Config,
    cloud: C,
    auth: Arc<dyn Authenticator>,
    fencer: Arc<dyn Fencer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let tokens = config.agents.tokens()?;
    let config = Arc::new(config);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %config.to_toml(),
        "lazarus controller starting"
    );
    let store: Arc<dyn Store> =
        Arc::new(
            SqliteStore::open(&config.store.path).map_err(|e| RunError::Store {
                path: config.store.path.display().to_string(),
                message: e.to_string(),
            })?,
        );
    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .map_err(|source| RunError::Bind {
            addr: config.api.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| RunError::Bind {
        addr: config.api.listen,
        source,
    })?;

    let cloud = Arc::new(cloud);
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    let window = config
        .poll
        .services_interval
        .saturating_mul(3)
        .saturating_add(config.openstack.request_timeout);
    health.cloud_window_ms.store(
        lazarus_core::time::duration_millis(window),
        Ordering::SeqCst,
    );
    let index: RecoveryIndex = Arc::default();
    let (tx, rx) = mpsc::channel::<Input>(INBOX);
    let (stop_tx, stop_rx) = watch::channel(false);

    // The API first, so /live answers while the inventory loads. Its segment and host
    // writes reach the engine before it answers them.
    let generation = store_watch::StoreGeneration::default();
    let api_store: Arc<dyn Store> = Arc::new(store_watch::WatchedStore::new(
        Arc::clone(&store),
        generation.clone(),
        tx.clone(),
    ));
    let sink = sink::EngineSink::new(tx.clone());
    let compute: Arc<dyn lazarus_api::ComputeHostValidator> = if config.api.validate_compute_hosts {
        Arc::new(sink::NovaComputeHosts::new(Arc::clone(&cloud)))
    } else {
        Arc::new(AllowAllComputeHosts)
    };
    let api = ApiState {
        store: api_store,
        sink: Arc::new(sink),
        compute,
        auth: Arc::clone(&auth),
        clock: Arc::new(SystemClock),
        config: ApiConfig {
            max_limit: config.api.max_limit,
            duplicate_window: config.api.duplicate_window,
        },
    };
    let expected_agents: Vec<lazarus_core::HostName> = tokens.hosts().cloned().collect();
    let agent_commands = Arc::new(agents::AgentCommands::new(expected_agents.clone()));
    let token_book = Arc::new(token_book::TokenBook::new(
        config.agents.token_dir.clone(),
        tokens,
        Arc::clone(&agent_commands),
    ));
    let token_rereader = tokio::spawn(
        Arc::clone(&token_book).run(config.agents.token_reread_interval, stop_rx.clone()),
    );
    let agent_sink = agents::AgentSink::new(
        token_book,
        tx.clone(),
        Arc::clone(&agent_commands),
        Arc::clone(&store),
        config.agents.probe_addresses.clone(),
    );
    let app = http::router(
        http::AppState {
            store: Arc::clone(&store),
            engine: tx.clone(),
            metrics: Arc::clone(&metrics),
            metrics_enabled: config.metrics.enabled,
            health: Arc::clone(&health),
            index: Arc::clone(&index),
            auth,
        },
        api,
    )
    // Outside the Keystone layer: agents authenticate with their own bearer tokens.
    .merge(lazarus_agent::heartbeat_router(Arc::new(agent_sink)));
    tracing::info!(agents = expected_agents.len(), "agent heartbeats taken");
    let mut http_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%addr, auth = ?config.api.auth, "API listening");

    // What is protected, before the engine starts.
    let mut inventory = poller::initial_inventory(&*store, &generation, &*cloud, &health).await;
    let (journal, records) = Journal::open(Arc::clone(&store), Arc::clone(&index)).await?;
    poller::index_notified_recoveries(&*store, &index).await;
    let mut engine = Engine::new(config.engine_config(), lazarus_core::model::Cluster::new());
    let liveness = Arc::new(Mutex::new(Liveness::new(config.openstack.report_interval)));
    let (report_tx, report_rx) = mpsc::channel(INBOX);
    let reporter = tokio::spawn(reporter::run(Arc::clone(&store), report_rx));
    let effects = Arc::new(Effects {
        cloud: Arc::clone(&cloud),
        fencer,
        agents: agent_commands,
        permits: Arc::new(Semaphore::new(config.openstack.max_parallel_calls)),
        tx: tx.clone(),
        config: config.openstack.clone(),
        service_ids: Arc::default(),
        liveness: Arc::clone(&liveness),
        metrics: Arc::clone(&metrics),
    });
    let mut listed = std::collections::HashSet::new();
    let mut store_view = inventory::StoreView::default();
    store_view.reconcile(&mut inventory);
    {
        let applied = inventory::apply(
            engine.cluster_mut(),
            &inventory,
            &config,
            &config.engine.recovery,
            |_| true,
        );
        listed.extend(applied.listed);
        engine.cluster_changed();
    }
    tracing::info!(
        segments = engine.cluster().segments().count(),
        hosts = engine.cluster().host_count(),
        instances = engine.cluster().instance_count(),
        resuming = records.len(),
        "inventory loaded"
    );
    let task = EngineTask {
        engine,
        journal,
        effects: Arc::clone(&effects),
        reports: report_tx,
        rx,
        tx: tx.clone(),
        config: Arc::clone(&config),
        store: Arc::clone(&store),
        liveness,
        metrics: Arc::clone(&metrics),
        health: Arc::clone(&health),
        stopping: stop_rx.clone(),
        listed,
        nova: Default::default(),
        refreshing: Default::default(),
        deferred: Vec::new(),
        expected_agents,
        store_generation: generation.clone(),
        store_view,
    };
    let mut engine_task = tokio::spawn(task.run(records));

    // Notifications accepted while no controller ran (or that the sink dropped).
    pick_up_new_notifications(&*store, &tx).await;
    let placement_hosts = inventory.capacity.keys().map(ToString::to_string).collect();
    let pollers = poller::spawn(
        Arc::clone(&config),
        poller::StoreSource {
            store: Arc::clone(&store),
            generation,
        },
        Arc::clone(&cloud),
        tx.clone(),
        Arc::clone(&health),
        stop_rx.clone(),
        placement_hosts,
    );
    drop(tx);

    tokio::pin!(shutdown);
    let outcome = tokio::select! {
        () = &mut shutdown => {
            tracing::info!(deadline_s = config.shutdown.deadline.as_secs_f64(), "shutdown requested: no new step starts");
            Ok(())
        }
        r = &mut engine_task => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::error!(critical = true, error = %e, "the engine stopped on a fatal error; the controller stops");
                Err(RunError::Engine(e))
            }
            Err(e) => {
                tracing::error!(critical = true, error = %e, "the engine task panicked");
                Ok(())
            }
        },
    };
    let _ = stop_tx.send(true);
    let deadline = config.shutdown.deadline;
    let graceful = async {
        if !engine_task.is_finished() {
            let _ = (&mut engine_task).await;
        }
        effects.drain().await;
        for p in pollers {
            p.abort();
        }
        token_rereader.abort();
        // The reporter ends once every sender is gone; give it the rest of the time.
        drop(effects);
        let _ = reporter.await;
        match server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(RunError::Serve(e)),
            Err(_) => Ok(()),
        }
    };
    match tokio::time::timeout(deadline, graceful).await {
        Ok(Ok(())) => tracing::info!("lazarus controller stopped"),
        Ok(Err(e)) => tracing::error!(error = %e, "lazarus controller stopped with an error"),
        Err(_) => tracing::warn!(
            deadline_s = deadline.as_secs_f64(),
            "shutdown deadline reached; exiting with calls still in flight (they resume from the journal)"
        ),
    }
    outcome
}

/// Hands notifications still `new` in the store to the engine.
async fn pick_up_new_notifications(store: &dyn Store, tx: &mpsc::Sender<Input>) {
    let filter = NotificationFilter {
        statuses: vec![NotificationStatus::New],
        ..NotificationFilter::default()
    };
    let query =
        lazarus_store::ListQuery::all().sorted_by("created_at", lazarus_store::SortDir::Asc);
    match store.list_notifications(&filter, &query).await {
        Ok(list) => {
            if !list.is_empty() {
                tracing::info!(
                    count = list.len(),
                    "picking up notifications accepted while no controller ran"
                );
            }
            for n in list {
                let _ = tx.send(Input::Notification(Box::new(n))).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read new notifications"),
    }
}

/// Waits for SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
