//! One line per command and per event in the event log.

use lazarus_core::engine::Record;
use lazarus_core::{Command, Event};

/// One line for a command in the event log.
pub(super) fn brief_command(cmd: &Command) -> String {
    match cmd {
        Command::Persist(Record::Recovery(r)) => {
            format!("persist recovery {} phase {:?}", r.id, r.phase)
        }
        Command::Persist(Record::ProcessDisable(p)) => {
            format!("persist process-disable {} disabled={}", p.host, p.disabled)
        }
        Command::FenceHost {
            host,
            method,
            attempt,
        } => format!("fence {host} by {method:?} (attempt {attempt})"),
        Command::ReadPowerState { host } => format!("read power of {host}"),
        Command::MarkHostDown { host, reason } => format!("mark {host} down ({reason})"),
        Command::EvacuateInstance {
            instance,
            from,
            to,
            attempt,
        } => format!("EVACUATE {instance} {from} -> {to} (attempt {attempt})"),
        Command::CheckInstance { instance } => format!("check {instance}"),
        Command::ResetInstance {
            instance,
            host,
            reason,
            ..
        } => format!("reset {instance} on {host} ({reason})"),
        Command::RestartProcess { host, process } => {
            format!("restart {} on {host}", process.name())
        }
        Command::DisableHost { host, reason } => format!("disable {host} ({reason})"),
        Command::EnableHost { host } => format!("enable {host}"),
        Command::ReturnHostToService { host, enable } => {
            format!("return {host} to service (enable={enable})")
        }
        Command::ScheduleTimer { at, token } => format!("timer {token} at {at}"),
        Command::RaiseAlert(a) => format!("alert {:?}", a.kind),
        Command::RecoveryFinished(s) => format!("recovery finished {}", s.id),
    }
}

/// One line for an event in the event log.
pub(super) fn brief_event(ev: &Event) -> String {
    match ev {
        Event::PowerStateRead { host, result } => format!("power of {host}: {result:?}"),
        Event::FenceAttempted {
            host,
            attempt,
            result,
        } => format!("fence {host} attempt {attempt}: {result:?}"),
        Event::HostMarkedDown { host, result } => format!("{host} marked down: {result:?}"),
        Event::EvacuationAccepted {
            instance, target, ..
        } => format!("evacuation of {instance} to {target} accepted"),
        Event::EvacuationRejected {
            instance,
            target,
            error,
            ..
        } => format!("evacuation of {instance} to {target} rejected: {error}"),
        Event::InstanceObserved(o) => format!(
            "{} observed on {:?} {:?} migration {:?}",
            o.instance,
            o.host.as_ref().map(|h| h.to_string()),
            o.vm_state,
            o.migration
        ),
        other => {
            let s = format!("{other:?}");
            if s.len() > 160 {
                let cut: String = s.chars().take(160).collect();
                format!("{cut}...")
            } else {
                s
            }
        }
    }
}
