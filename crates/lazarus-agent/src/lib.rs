//! `lazarus agent`: the host agent, and the controller side of its heartbeat protocol.
//!
//! On each compute host the agent heartbeats to the controller(s), probes the other
//! agents of its segment, watches nova-compute and libvirtd (restarting them), reports
//! instance failures seen by libvirt, and — when it hears nothing at all — applies the
//! configured isolation response. Its watchdog is fed by the rule the engine's
//! watchdog promise assumes ([`isolation`]). See `docs/agent.md`.
//!
//! The controller mounts [`heartbeat_router`] and implements [`HeartbeatSink`].

pub mod agent;
pub mod boot;
pub mod command;
pub mod config;
pub mod guest_ping;
pub mod instances;
pub mod isolation;
pub mod peers;
pub mod process;
pub mod protocol;
pub mod router;
#[cfg(feature = "test-support")]
pub mod test_domains;
pub mod token;
pub mod watchdog;

pub use agent::{start, AgentHandle, AgentStatus, StartError};
pub use config::AgentConfig;
/// Host names, as the core spells them.
pub use lazarus_core::HostName;
pub use protocol::{AgentCommand, AgentHeartbeat, AgentReply, EventLedger, PeerInfo};
pub use router::{heartbeat_router, HeartbeatSink, SinkError};
pub use token::{AgentToken, AgentTokens, TokenError};
