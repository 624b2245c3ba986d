//! The engine's handling of process failures.

use super::ProcessWatch;
use crate::alert::{Alert, AlertKind, Severity};
use crate::command::{disabled_by_lazarus, DISABLED_REASON_PREFIX};
use crate::engine::{Engine, ProcessDisableRecord, Record, TimerPurpose};
use crate::event::{NovaError, Process};
use crate::{Command, HostName, Timestamp};

impl Engine {
    /// A process is down on a live host: restart it, once.
    pub(crate) fn on_process_down(
        &mut self,
        now: Timestamp,
        host: HostName,
        process: Process,
        out: &mut Vec<Command>,
    ) {
        if self.recoveries.contains_key(&host) || self.cluster.host(&host).is_none() {
            return;
        }
        if self.processes.hosts.contains_key(&host) {
            return;
        }
        self.processes
            .hosts
            .insert(host.clone(), ProcessWatch::Restarting(process));
        out.push(Command::RestartProcess {
            host: host.clone(),
            process,
        });
        let at = now.saturating_add(self.processes.policy.restart_grace);
        self.schedule(at, TimerPurpose::ProcessGrace(host, process), out);
    }

    /// A process is running: forget a restart under way, or re-enable the host if
    /// lazarus disabled it for that process.
    pub(crate) fn on_process_up(
        &mut self,
        now: Timestamp,
        host: HostName,
        process: Process,
        out: &mut Vec<Command>,
    ) {
        match self.processes.hosts.get(&host).copied() {
            Some(ProcessWatch::Restarting(p)) if p == process => {
                self.processes.hosts.remove(&host);
            }
            Some(ProcessWatch::Disabled {
                process: p,
                enabling: false,
            }) if p == process => {
                self.processes.hosts.insert(
                    host.clone(),
                    ProcessWatch::Disabled {
                        process: p,
                        enabling: true,
                    },
                );
                // Written ahead: the log stays open (still disabled, enable pending)
                // until Nova confirms, so a controller stopped before the answer
                // sends the enable again on resume.
                out.push(Command::Persist(Record::ProcessDisable(
                    ProcessDisableRecord {
                        host: host.clone(),
                        process,
                        disabled: true,
                        enabling: true,
                        at: now,
                    },
                )));
                out.push(Command::EnableHost { host });
            }
            Some(ProcessWatch::Restarting(_)) | Some(ProcessWatch::Disabled { .. }) | None => {}
        }
    }

    /// The agent could not restart the process: disable the host now.
    pub(crate) fn on_process_restart_failed(
        &mut self,
        now: Timestamp,
        host: HostName,
        process: Process,
        error: String,
        out: &mut Vec<Command>,
    ) {
        if self.processes.hosts.get(&host) == Some(&ProcessWatch::Restarting(process)) {
            self.disable_for_process(now, host, process, format!("restart failed: {error}"), out);
        }
    }

    /// Timer: the restarted process should be running by now.
    pub(crate) fn on_process_grace(
        &mut self,
        now: Timestamp,
        host: HostName,
        process: Process,
        out: &mut Vec<Command>,
    ) {
        if self.processes.hosts.get(&host) == Some(&ProcessWatch::Restarting(process)) {
            let grace = self.processes.policy.restart_grace.as_secs();
            self.disable_for_process(
                now,
                host,
                process,
                format!("still down {grace} s after a restart"),
                out,
            );
        }
    }

    /// Disables the host for scheduling (persisted first), unless someone else already
    /// disabled it: then it is theirs to re-enable, and only the alert is raised.
    fn disable_for_process(
        &mut self,
        now: Timestamp,
        host: HostName,
        process: Process,
        why: String,
        out: &mut Vec<Command>,
    ) {
        let others = self
            .nova
            .get(&host)
            .is_some_and(|s| s.disabled && !disabled_by_lazarus(s.disabled_reason.as_deref()));
        let name = process.name();
        out.push(Command::RaiseAlert(Alert::host(
            Severity::Error,
            AlertKind::ProcessDown,
            &host,
            format!("{name} on {host} is down ({why}); the host is disabled for scheduling, its instances keep running"),
        )));
        if others {
            self.processes.hosts.remove(&host);
            return;
        }
        self.processes.hosts.insert(
            host.clone(),
            ProcessWatch::Disabled {
                process,
                enabling: false,
            },
        );
        out.push(Command::Persist(Record::ProcessDisable(
            ProcessDisableRecord {
                host: host.clone(),
                process,
                disabled: true,
                enabling: false,
                at: now,
            },
        )));
        out.push(Command::DisableHost {
            host,
            reason: format!("{DISABLED_REASON_PREFIX}{name} down"),
        });
    }

    /// Nova answered a disable.
    pub(crate) fn on_host_disabled(
        &mut self,
        _now: Timestamp,
        host: HostName,
        result: Result<(), NovaError>,
        out: &mut Vec<Command>,
    ) {
        if let Err(e) = result {
            out.push(Command::RaiseAlert(Alert::host(
                Severity::Error,
                AlertKind::ProcessDown,
                &host,
                format!("disabling {host} for scheduling failed: {e}"),
            )));
        }
    }

    /// Nova answered an enable. Only a confirmed enable closes the process-disable
    /// log; after a failed one the persisted record still says "enable pending", so
    /// a resume retries it, as the next "running" report would.
    pub(crate) fn on_host_enabled(
        &mut self,
        now: Timestamp,
        host: HostName,
        result: Result<(), NovaError>,
        out: &mut Vec<Command>,
    ) {
        match (result, self.processes.hosts.get(&host).copied()) {
            (Ok(()), Some(ProcessWatch::Disabled { process, .. })) => {
                self.processes.hosts.remove(&host);
                out.push(Command::Persist(Record::ProcessDisable(
                    ProcessDisableRecord {
                        host,
                        process,
                        disabled: false,
                        enabling: false,
                        at: now,
                    },
                )));
            }
            (Err(e), Some(ProcessWatch::Disabled { process, .. })) => {
                // Still ours and still disabled: the next "running" report retries.
                self.processes.hosts.insert(
                    host.clone(),
                    ProcessWatch::Disabled {
                        process,
                        enabling: false,
                    },
                );
                out.push(Command::RaiseAlert(Alert::host(
                    Severity::Warning,
                    AlertKind::ReturnToServiceFailed,
                    &host,
                    format!("re-enabling {host} failed ({e}); retried when its process is next seen running"),
                )));
            }
            (Ok(()) | Err(_), Some(ProcessWatch::Restarting(_)) | None) => {}
        }
    }

    /// An operator asked for the return of a host not under recovery: re-enable it
    /// if lazarus disabled it for a process.
    pub(crate) fn enable_if_process_disabled(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        if let Some(ProcessWatch::Disabled { process, .. }) =
            self.processes.hosts.get(host).copied()
        {
            self.processes.hosts.insert(
                host.clone(),
                ProcessWatch::Disabled {
                    process,
                    enabling: false,
                },
            );
            self.on_process_up(now, host.clone(), process, out);
        }
    }

    /// Continues after a restart: a host lazarus disabled stays ours to re-enable,
    /// and an enable sent but never confirmed is sent again (Nova's enable is
    /// idempotent; the runtime still waits for the compute to report up first).
    pub(crate) fn resume_process_disable(
        &mut self,
        _now: Timestamp,
        record: ProcessDisableRecord,
        out: &mut Vec<Command>,
    ) {
        if !record.disabled {
            return;
        }
        self.processes.hosts.insert(
            record.host.clone(),
            ProcessWatch::Disabled {
                process: record.process,
                enabling: record.enabling,
            },
        );
        if record.enabling {
            out.push(Command::EnableHost { host: record.host });
        }
    }
}
