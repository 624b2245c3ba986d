//! Operator actions on one host, from the native API to the engine: confirm that it is
//! off, ask for its recovery, ask for its return to service.
//!
//! The HTTP handler ([`crate::http`]) parses the request into an [`OperatorRequest`] and
//! sends it to the engine task, which judges it ([`admit`]), hands the engine its event,
//! judges the result ([`outcome`]) and answers, all in one input: nothing else reaches
//! the engine between the judgement and the event, so a refusal or an acceptance is
//! about the state the event met.
//!
//! What is refused (409), and why:
//! - `confirm-fenced` when no recovery of the host waits for a fence confirmation. A
//!   confirmation alone never starts a recovery (the engine ignores it, with a warning
//!   alert); refusing it tells the operator so at once. An operator who wants that host
//!   recovered asks for it (`recover`) and then confirms it off if its fence method
//!   waits for that.
//! - `recover` while a recovery of the host is under way (the engine would only count a
//!   duplicate report), or when the host's segment is disabled.
//! - `return` when the host has no recovery and nothing lazarus disabled: nothing to do.
//!
//! A request the engine task meets after its deadline is dropped unanswered: an action
//! the caller was told timed out is never taken later.

use lazarus_core::model::FenceMethod;
use lazarus_core::workflow::{FenceConfirmation, Phase, RecoveryRecord};
use lazarus_core::{Command, Engine, HostName};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::journal::phase_name;

/// What an operator can ask about a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperatorAction {
    /// The host is off: its recovery, waiting for a fence confirmation, may go on.
    ConfirmFenced,
    /// Recover the host: fence it (or wait for a confirmation), then evacuate it.
    Recover,
    /// Return the host to service (lift forced_down, re-enable its compute service).
    Return,
}

impl OperatorAction {
    /// The name used in routes, logs and answers.
    pub fn name(self) -> &'static str {
        match self {
            OperatorAction::ConfirmFenced => "confirm-fenced",
            OperatorAction::Recover => "recover",
            OperatorAction::Return => "return",
        }
    }

    /// The engine's event for this action.
    pub fn event(self, host: HostName, operator: String) -> lazarus_core::event::Event {
        use lazarus_core::event::Event;
        match self {
            OperatorAction::ConfirmFenced => Event::OperatorConfirmedFenced { host, operator },
            OperatorAction::Recover => Event::OperatorRequestedRecovery { host, operator },
            OperatorAction::Return => Event::OperatorRequestedReturn { host, operator },
        }
    }
}

/// One operator action, as the engine task judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorAsk {
    /// The host.
    pub host: HostName,
    /// What is asked.
    pub action: OperatorAction,
    /// Who asks, as recorded in the engine's event (`user` or `user (project P)`).
    pub operator: String,
}

/// An operator action sent to the engine task, with where to answer.
#[derive(Debug)]
pub struct OperatorRequest {
    /// The action.
    pub ask: OperatorAsk,
    /// After this instant the engine task drops the request without acting on it (the
    /// caller has given up waiting).
    pub deadline: tokio::time::Instant,
    /// The answer.
    pub reply: oneshot::Sender<Result<Accepted, Refused>>,
}

/// What the engine did with an accepted action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    /// The host's recovery after the action, if it has one.
    pub recovery: Option<String>,
    /// Its phase.
    pub recovery_phase: Option<&'static str>,
    /// What happens next, in words.
    pub message: String,
}

/// Why an action was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The engine does not know the host (not in its inventory).
    #[error("lazarus protects no host named {0}")]
    UnknownHost(HostName),
    /// The action makes no sense in the host's state; nothing was done.
    #[error("{0}")]
    Conflict(String),
}

/// Whether the engine should be handed `ask`, judged on the state before it.
pub fn admit(engine: &Engine, ask: &OperatorAsk) -> Result<(), Refused> {
    let host = &ask.host;
    let Some(h) = engine.cluster().host(host) else {
        return Err(Refused::UnknownHost(host.clone()));
    };
    let recovery = engine.recovery(host);
    match ask.action {
        OperatorAction::ConfirmFenced => match recovery {
            Some(r) if r.phase == Phase::Fencing && r.fence.confirmation.is_none() => Ok(()),
            Some(r) => Err(Refused::Conflict(match &r.fence.confirmation {
                Some(c) => format!(
                    "the fence of {host} is already confirmed ({}); its recovery {} is at {}",
                    confirmed_by(c),
                    r.id,
                    phase_name(r.phase)
                ),
                None => format!(
                    "the recovery {} of {host} is at {}: it waits for no fence confirmation",
                    r.id,
                    phase_name(r.phase)
                ),
            })),
            None => Err(Refused::Conflict(format!(
                "no recovery of {host} waits for a fence confirmation, and a confirmation alone \
                 does not start one: to have {host} recovered, ask for it (recover), then \
                 confirm it off if its fence method waits for that"
            ))),
        },
        OperatorAction::Recover => {
            if let Some(r) = recovery {
                return Err(Refused::Conflict(format!(
                    "{host} is already under recovery {} ({})",
                    r.id,
                    phase_name(r.phase)
                )));
            }
            if engine
                .cluster()
                .segment(&h.segment)
                .is_some_and(|s| !s.enabled)
            {
                return Err(Refused::Conflict(format!(
                    "the segment {} of {host} is disabled: its hosts are not recovered",
                    h.segment
                )));
            }
            Ok(())
        }
        OperatorAction::Return => Ok(()),
    }
}

/// What the engine did with an admitted `ask`, from the state after it and the
/// commands it produced.
pub fn outcome(
    engine: &Engine,
    ask: &OperatorAsk,
    commands: &[Command],
) -> Result<Accepted, Refused> {
    let host = &ask.host;
    let recovery = engine.recovery(host);
    let accepted = |message: String| Accepted {
        recovery: recovery.map(|r| r.id.to_string()),
        recovery_phase: recovery.map(|r| phase_name(r.phase)),
        message,
    };
    match (ask.action, recovery) {
        (OperatorAction::ConfirmFenced, Some(r)) if r.phase != Phase::Fencing => Ok(accepted(
            format!(
                "the fence of {host} is confirmed: recovery {} marks it down in Nova, then evacuates it",
                r.id
            ),
        )),
        (OperatorAction::ConfirmFenced, _) => Err(Refused::Conflict(format!(
            "the engine did not take the confirmation for {host}; see the controller's log"
        ))),
        (OperatorAction::Recover, Some(r)) => Ok(accepted(format!(
            "recovery {} of {host} started; {}",
            r.id,
            next_fence_step(r)
        ))),
        (OperatorAction::Recover, None) => Err(Refused::Conflict(format!(
            "the engine started no recovery of {host}; see the alerts in the controller's log"
        ))),
        (OperatorAction::Return, Some(r)) => Ok(accepted(match r.phase {
            Phase::Fencing | Phase::MarkingDown | Phase::Evacuating => format!(
                "{host} returns to service when its recovery {} finishes (it is at {})",
                r.id,
                phase_name(r.phase)
            ),
            Phase::Finished | Phase::Returning | Phase::Closed => {
                format!("returning {host} to service")
            }
        })),
        (OperatorAction::Return, None) if commands.iter().any(is_effect) => {
            Ok(accepted(format!("re-enabling {host}, which lazarus had disabled")))
        }
        (OperatorAction::Return, None) => Err(Refused::Conflict(format!(
            "{host} has no recovery and nothing lazarus disabled: nothing to return to service"
        ))),
    }
}

/// Whether a command acts on the world (rather than recording or alerting).
fn is_effect(c: &Command) -> bool {
    match c {
        Command::FenceHost { .. }
        | Command::ReadPowerState { .. }
        | Command::MarkHostDown { .. }
        | Command::EvacuateInstance { .. }
        | Command::CheckInstance { .. }
        | Command::ResetInstance { .. }
        | Command::RestartProcess { .. }
        | Command::DisableHost { .. }
        | Command::EnableHost { .. }
        | Command::ReturnHostToService { .. } => true,
        Command::Persist(_)
        | Command::ScheduleTimer { .. }
        | Command::RaiseAlert(_)
        | Command::RecoveryFinished(_) => false,
    }
}

/// What a new recovery waits for, by its host's fence method.
fn next_fence_step(r: &RecoveryRecord) -> String {
    if r.phase != Phase::Fencing {
        return format!("its fence is confirmed, it is at {}", phase_name(r.phase));
    }
    match r.fence.method {
        FenceMethod::Bmc => {
            "the BMC powers it off; nothing is evacuated before it reads back off".to_owned()
        }
        FenceMethod::Watchdog => {
            "nothing is evacuated before its watchdog is sure to have reset it".to_owned()
        }
        FenceMethod::Manual => format!(
            "its fence method is manual: nothing is evacuated until it is confirmed off \
             (confirm-fenced {})",
            r.id.host
        ),
    }
}

/// Who or what confirmed a fence, in words.
fn confirmed_by(c: &FenceConfirmation) -> String {
    match c {
        FenceConfirmation::PowerOff { .. } => "its BMC read back off".to_owned(),
        FenceConfirmation::Watchdog { .. } => "its watchdog promise was kept".to_owned(),
        FenceConfirmation::Operator { operator, .. } => format!("by {operator}"),
        FenceConfirmation::Monitor { notification, .. } => {
            format!("by the monitor notification {notification}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use lazarus_core::model::{Capacity, Cluster, Host, Segment};
    use lazarus_core::EngineConfig;
    use lazarus_core::Timestamp;

    fn engine(method: FenceMethod) -> Engine {
        let mut cluster = Cluster::new();
        cluster.upsert_segment(Segment::new("s1", "s1"));
        for name in ["c1", "c2"] {
            let mut h = Host::new(name, "s1", Capacity::with_default_ratios(8, 8192, 100));
            h.fence_method = method;
            cluster.upsert_host(h).unwrap();
        }
        Engine::new(EngineConfig::default(), cluster)
    }

    fn ask(action: OperatorAction) -> OperatorAsk {
        OperatorAsk {
            host: HostName::from("c1"),
            action,
            operator: "alice".into(),
        }
    }

    fn take(e: &mut Engine, a: &OperatorAsk) -> Result<Accepted, Refused> {
        admit(e, a)?;
        let cmds = e.handle(
            Timestamp::from_millis(1_000),
            a.action.event(a.host.clone(), a.operator.clone()),
        );
        outcome(e, a, &cmds)
    }

    #[test]
    fn a_confirmation_alone_never_starts_a_recovery() {
        let mut e = engine(FenceMethod::Manual);
        let refused = take(&mut e, &ask(OperatorAction::ConfirmFenced)).unwrap_err();
        assert!(
            matches!(refused, Refused::Conflict(ref m) if m.contains("recover")),
            "{refused}"
        );
        assert!(e.recovery(&HostName::from("c1")).is_none());
    }

    #[test]
    fn recover_then_confirm_moves_a_manual_host_past_fencing() {
        let mut e = engine(FenceMethod::Manual);
        let started = take(&mut e, &ask(OperatorAction::Recover)).unwrap();
        assert_eq!(started.recovery_phase, Some("fencing"));
        assert!(
            started.message.contains("confirm-fenced c1"),
            "{}",
            started.message
        );
        let again = take(&mut e, &ask(OperatorAction::Recover)).unwrap_err();
        assert!(
            again.to_string().contains("already under recovery"),
            "{again}"
        );
        let confirmed = take(&mut e, &ask(OperatorAction::ConfirmFenced)).unwrap();
        assert_eq!(confirmed.recovery_phase, Some("marking_down"));
        let twice = take(&mut e, &ask(OperatorAction::ConfirmFenced)).unwrap_err();
        assert!(
            twice.to_string().contains("already confirmed (by alice)"),
            "{twice}"
        );
    }

    #[test]
    fn unknown_hosts_and_empty_returns_are_refused() {
        let mut e = engine(FenceMethod::Bmc);
        let mut unknown = ask(OperatorAction::Recover);
        unknown.host = HostName::from("c9");
        assert_eq!(
            take(&mut e, &unknown).unwrap_err(),
            Refused::UnknownHost(HostName::from("c9"))
        );
        let nothing = take(&mut e, &ask(OperatorAction::Return)).unwrap_err();
        assert!(
            nothing.to_string().contains("nothing to return"),
            "{nothing}"
        );
    }
}
