//! The controller's side of the agents' heartbeats: the [`HeartbeatSink`] the
//! `lazarus_agent::heartbeat_router` calls, and the commands waiting for each agent.
//!
//! A heartbeat is authenticated by its host's token (`[agents] token_dir`), its core
//! events (de-duplicated by the [`EventLedger`]) go to the engine task's inbox, and the
//! reply carries the host's segment peers and the commands queued for it. Commands
//! (`RestartProcess`) are queued by the effects executor and delivered with the next
//! heartbeat: nothing answers them synchronously, the agent's later `process_up` or
//! `process_restart_failed` does (and the engine's `restart_grace` covers an agent that
//! never answers).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use lazarus_agent::protocol::{
    AgentCommand, AgentEventKind, AgentHeartbeat, AgentReply, EventLedger, PeerInfo,
};
use lazarus_agent::{HeartbeatSink, SinkError};
use lazarus_core::HostName;
use lazarus_store::{HostFilter, ListQuery, Store, StoreError};
use tokio::sync::mpsc;

use crate::runtime::Input;
use crate::token_book::TokenBook;

/// Commands waiting for the next heartbeat of each host's agent.
#[derive(Debug, Default)]
pub struct AgentCommands {
    /// Hosts with a token: the only ones a command can be queued for.
    agents: RwLock<BTreeSet<HostName>>,
    pending: Mutex<HashMap<HostName, Vec<AgentCommand>>>,
}

impl AgentCommands {
    /// Queues for the agents of `hosts` (the hosts with a token).
    pub fn new(hosts: impl IntoIterator<Item = HostName>) -> Self {
        Self {
            agents: RwLock::new(hosts.into_iter().collect()),
            pending: Mutex::default(),
        }
    }

    /// The hosts with a token now (the token directory was re-read); commands waiting
    /// for a host that lost its token are dropped.
    pub fn set_agents(&self, hosts: impl IntoIterator<Item = HostName>) {
        let hosts: BTreeSet<HostName> = hosts.into_iter().collect();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|h, _| hosts.contains(h));
        *self.agents.write().unwrap_or_else(|e| e.into_inner()) = hosts;
    }

    /// Whether `host` runs an agent (has a token).
    pub fn has_agent(&self, host: &HostName) -> bool {
        self.agents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(host)
    }

    /// Queues a command for `host`'s agent; `false` if the host has no agent. A command
    /// already waiting is not queued twice (the agent's restart is idempotent anyway).
    pub fn queue(&self, host: &HostName, command: AgentCommand) -> bool {
        if !self.has_agent(host) {
            return false;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let queue = pending.entry(host.clone()).or_default();
        if !queue.contains(&command) {
            queue.push(command);
        }
        true
    }

    /// Takes what waits for `host`.
    pub fn take(&self, host: &HostName) -> Vec<AgentCommand> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host)
            .unwrap_or_default()
    }
}

/// Takes authenticated heartbeats into the engine task.
pub struct AgentSink {
    tokens: Arc<TokenBook>,
    ledger: Mutex<EventLedger>,
    tx: mpsc::Sender<Input>,
    commands: Arc<AgentCommands>,
    store: Arc<dyn Store>,
    probe_addresses: BTreeMap<HostName, String>,
}

impl std::fmt::Debug for AgentSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSink")
            .field("agents", &self.tokens.hosts().len())
            .finish_non_exhaustive()
    }
}

impl AgentSink {
    /// A sink into the engine task's inbox.
    pub fn new(
        tokens: Arc<TokenBook>,
        tx: mpsc::Sender<Input>,
        commands: Arc<AgentCommands>,
        store: Arc<dyn Store>,
        probe_addresses: BTreeMap<HostName, String>,
    ) -> Self {
        Self {
            tokens,
            ledger: Mutex::new(EventLedger::new()),
            tx,
            commands,
            store,
            probe_addresses,
        }
    }

    /// The other hosts of `host`'s segment, with their probe address if configured.
    async fn peers(&self, host: &HostName) -> Result<Vec<PeerInfo>, SinkError> {
        let unavailable = |e: StoreError| SinkError::Unavailable(format!("store: {e}"));
        let me = match self.store.get_host_by_name(host.as_str()).await {
            Ok(h) => h,
            Err(StoreError::NotFound { .. }) => return Err(SinkError::UnknownHost(host.clone())),
            Err(e) => return Err(unavailable(e)),
        };
        let filter = HostFilter {
            failover_segment_id: Some(me.failover_segment_id),
            ..HostFilter::default()
        };
        let hosts = self
            .store
            .list_hosts(&filter, &ListQuery::all())
            .await
            .map_err(unavailable)?;
        let mut names: Vec<HostName> = hosts
            .into_iter()
            .map(|h| HostName::from(h.name.as_str()))
            .filter(|h| h != host)
            .collect();
        // By name, so that a reply does not depend on the store's order.
        names.sort();
        Ok(names
            .into_iter()
            .map(|h| PeerInfo {
                probe: self.probe_addresses.get(&h).cloned(),
                host: h,
            })
            .collect())
    }
}

#[async_trait]
impl HeartbeatSink for AgentSink {
    fn authenticate(&self, host: &HostName, token: &str) -> bool {
        self.tokens.verify(host, token)
    }

    async fn deliver(
        &self,
        host: HostName,
        heartbeat: AgentHeartbeat,
    ) -> Result<AgentReply, SinkError> {
        let peers = self.peers(&host).await?;
        for e in &heartbeat.events {
            match &e.kind {
                AgentEventKind::IsolationResponseApplied { response, detail } => {
                    tracing::error!(
                        critical = true,
                        %host,
                        event = e.id,
                        response,
                        detail,
                        "the agent applied its isolation response"
                    );
                }
                AgentEventKind::ProcessDown { .. }
                | AgentEventKind::ProcessUp { .. }
                | AgentEventKind::ProcessRestartFailed { .. }
                | AgentEventKind::InstanceFailed { .. }
                | AgentEventKind::HostRebooted { .. } => {}
            }
        }
        let (events, acked_event) = self
            .ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(&host, &heartbeat);
        for event in events {
            if let lazarus_core::Event::InstanceFailed { instance, kind } = &event {
                // Whatever the engine decides (reset, cap reached, unprotected, host
                // under recovery), the failure itself is worth a line.
                tracing::warn!(%host, %instance, ?kind, "the agent reports an instance failure");
            }
            if let lazarus_core::Event::HostRebooted {
                guests_running_before,
                ..
            } = &event
            {
                // Once per reboot: the engine restarts in place those found shut off
                // if the host had no recovery.
                tracing::warn!(
                    %host,
                    guests = guests_running_before.len(),
                    "the agent reports a reboot; checking the guests that ran before it"
                );
            }
            self.tx
                .send(Input::Event(event))
                .await
                .map_err(|_| SinkError::Unavailable("the engine is stopping".into()))?;
        }
        Ok(AgentReply {
            acked_event,
            peers,
            commands: self.commands.take(&host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lazarus_core::event::Process;

    #[test]
    fn a_command_is_queued_once_for_a_host_with_an_agent_and_taken_once() {
        let c = AgentCommands::new([HostName::from("c1")]);
        let restart = AgentCommand::RestartProcess {
            process: Process::NovaCompute,
        };
        assert!(c.queue(&HostName::from("c1"), restart.clone()));
        assert!(c.queue(&HostName::from("c1"), restart.clone()));
        assert!(!c.queue(&HostName::from("c2"), restart.clone()));
        assert_eq!(c.take(&HostName::from("c1")), vec![restart]);
        assert!(c.take(&HostName::from("c1")).is_empty());
    }
}
