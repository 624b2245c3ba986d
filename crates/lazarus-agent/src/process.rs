//! Process monitoring of nova-compute and libvirtd: the check, and the small state
//! machine that turns checks into reports and restarts.
//!
//! Seen stopped (after running, or at the first check) → `process_down` reported and,
//! with `auto_restart`, the restart command run. Still stopped `restart_grace` after a
//! restart, or a restart command that failed → `process_restart_failed` (the
//! controller then disables the host; its instances keep running). Seen running again
//! → `process_up`. The controller's `restart_process` command runs the restart unless
//! one ran within the grace. A process whose check says "absent" (a host without
//! libvirtd) is never a failure.

use std::path::Path;

use lazarus_core::event::Process;
use tokio::time::Instant;

use crate::config::{CheckMethod, ProcessConfig};
use crate::protocol::{AgentEventKind, ProcessStatus};

/// Checks a process once.
pub async fn check(c: &ProcessConfig) -> ProcessStatus {
    match c.check {
        CheckMethod::None => ProcessStatus::Absent,
        CheckMethod::Systemd => {
            let status = tokio::process::Command::new("systemctl")
                .args(["is-active", "--quiet", &c.unit])
                .kill_on_drop(true)
                .status()
                .await;
            match status.map(|s| s.code()) {
                Ok(Some(0)) => ProcessStatus::Running,
                // systemctl's "no such unit".
                Ok(Some(4)) => ProcessStatus::Absent,
                Ok(Some(_)) => ProcessStatus::Stopped,
                Ok(None) | Err(_) => ProcessStatus::Unknown,
            }
        }
        CheckMethod::Pgrep => {
            let argv = ["pgrep".to_owned(), "-f".to_owned()];
            match crate::command::succeeds(&argv, &[&c.pattern]).await {
                Some(true) => ProcessStatus::Running,
                Some(false) => ProcessStatus::Stopped,
                None => ProcessStatus::Unknown,
            }
        }
        CheckMethod::Pidfile => pid_file_status(&c.pid_file),
        CheckMethod::Command => match crate::command::succeeds(&c.check_command, &[]).await {
            Some(true) => ProcessStatus::Running,
            Some(false) => ProcessStatus::Stopped,
            None => ProcessStatus::Unknown,
        },
    }
}

fn pid_file_status(path: &Path) -> ProcessStatus {
    let Ok(text) = std::fs::read_to_string(path) else {
        return ProcessStatus::Stopped;
    };
    match text.trim().parse::<u32>() {
        Ok(pid) if Path::new(&format!("/proc/{pid}")).exists() => ProcessStatus::Running,
        Ok(_) | Err(_) => ProcessStatus::Stopped,
    }
}

/// What the watch asks the agent to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Report this (as an event in the next heartbeats).
    Report(AgentEventKind),
    /// Run the restart command.
    Restart,
}

/// One process's state between checks.
#[derive(Debug)]
pub struct ProcessWatch {
    process: Process,
    auto_restart: bool,
    can_restart: bool,
    grace: std::time::Duration,
    status: Option<ProcessStatus>,
    /// The last definite answer (running, stopped, absent): a failed check between two
    /// "stopped" is not a new failure.
    definite: Option<ProcessStatus>,
    restarted_at: Option<Instant>,
    failure_reported: bool,
}

impl ProcessWatch {
    /// A watch that has not checked yet.
    pub fn new(process: Process, c: &ProcessConfig) -> Self {
        Self {
            process,
            auto_restart: c.auto_restart,
            can_restart: !c.restart_command.is_empty(),
            grace: c.restart_grace,
            status: None,
            definite: None,
            restarted_at: None,
            failure_reported: false,
        }
    }

    /// The last status seen (`unknown` before the first check).
    pub fn status(&self) -> ProcessStatus {
        self.status.unwrap_or(ProcessStatus::Unknown)
    }

    /// Takes a check's result.
    pub fn observe(&mut self, now: Instant, status: ProcessStatus) -> Vec<Step> {
        self.status = Some(status);
        if status == ProcessStatus::Unknown {
            return Vec::new();
        }
        let before = self.definite.replace(status);
        let process = self.process;
        let mut steps = Vec::new();
        match status {
            ProcessStatus::Stopped => {
                if before != Some(ProcessStatus::Stopped) {
                    steps.push(Step::Report(AgentEventKind::ProcessDown { process }));
                    if self.auto_restart && self.restart_due(now) {
                        steps.extend(self.start_restart(now));
                    }
                } else if let Some(t) = self.restarted_at {
                    if !self.failure_reported && now.saturating_duration_since(t) >= self.grace {
                        self.failure_reported = true;
                        steps.push(Step::Report(AgentEventKind::ProcessRestartFailed {
                            process,
                            error: format!("still stopped {:?} after the restart", self.grace),
                        }));
                    }
                }
            }
            ProcessStatus::Running => {
                if before == Some(ProcessStatus::Stopped) {
                    steps.push(Step::Report(AgentEventKind::ProcessUp { process }));
                }
                self.restarted_at = None;
                self.failure_reported = false;
            }
            ProcessStatus::Absent | ProcessStatus::Unknown => {}
        }
        steps
    }

    /// The controller asked for a restart.
    pub fn restart_requested(&mut self, now: Instant) -> Vec<Step> {
        match self.definite {
            Some(ProcessStatus::Running) | Some(ProcessStatus::Absent) => Vec::new(),
            Some(ProcessStatus::Stopped) | Some(ProcessStatus::Unknown) | None => {
                if self.restart_due(now) {
                    self.start_restart(now)
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// The restart command failed.
    pub fn restart_failed(&mut self, error: String) -> Vec<Step> {
        if self.failure_reported {
            return Vec::new();
        }
        self.failure_reported = true;
        vec![Step::Report(AgentEventKind::ProcessRestartFailed {
            process: self.process,
            error,
        })]
    }

    fn restart_due(&self, now: Instant) -> bool {
        self.restarted_at
            .is_none_or(|t| now.saturating_duration_since(t) >= self.grace)
    }

    fn start_restart(&mut self, now: Instant) -> Vec<Step> {
        if !self.can_restart {
            self.failure_reported = true;
            return vec![Step::Report(AgentEventKind::ProcessRestartFailed {
                process: self.process,
                error: "no restart_command configured".into(),
            })];
        }
        self.restarted_at = Some(now);
        self.failure_reported = false;
        vec![Step::Restart]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn watch() -> ProcessWatch {
        let c = ProcessConfig {
            restart_grace: Duration::from_secs(20),
            ..ProcessConfig::default()
        };
        ProcessWatch::new(Process::NovaCompute, &c)
    }

    const P: Process = Process::NovaCompute;

    #[tokio::test(start_paused = true)]
    async fn a_process_seen_stopped_is_reported_and_restarted_once() {
        let mut w = watch();
        assert!(w.observe(Instant::now(), ProcessStatus::Running).is_empty());
        let steps = w.observe(Instant::now(), ProcessStatus::Stopped);
        assert_eq!(
            steps,
            vec![
                Step::Report(AgentEventKind::ProcessDown { process: P }),
                Step::Restart
            ]
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(w.observe(Instant::now(), ProcessStatus::Stopped).is_empty());
        // The controller's command within the grace does not restart it again.
        assert!(w.restart_requested(Instant::now()).is_empty());
        assert_eq!(
            w.observe(Instant::now(), ProcessStatus::Running),
            vec![Step::Report(AgentEventKind::ProcessUp { process: P })]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_still_stopped_after_the_grace_is_a_restart_failure_reported_once() {
        let mut w = watch();
        w.observe(Instant::now(), ProcessStatus::Stopped);
        tokio::time::advance(Duration::from_secs(19)).await;
        assert!(w.observe(Instant::now(), ProcessStatus::Stopped).is_empty());
        tokio::time::advance(Duration::from_secs(1)).await;
        let steps = w.observe(Instant::now(), ProcessStatus::Stopped);
        assert!(matches!(
            steps.as_slice(),
            [Step::Report(AgentEventKind::ProcessRestartFailed { .. })]
        ));
        assert!(w.observe(Instant::now(), ProcessStatus::Stopped).is_empty());
        // After the grace the controller may ask again.
        assert_eq!(w.restart_requested(Instant::now()), vec![Step::Restart]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_check_between_two_stopped_is_not_a_new_failure() {
        let mut w = watch();
        assert_eq!(w.observe(Instant::now(), ProcessStatus::Stopped).len(), 2);
        assert!(w.observe(Instant::now(), ProcessStatus::Unknown).is_empty());
        assert_eq!(w.status(), ProcessStatus::Unknown);
        assert!(w.observe(Instant::now(), ProcessStatus::Stopped).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_absent_process_is_never_a_failure() {
        let mut w = watch();
        for _ in 0..3 {
            assert!(w.observe(Instant::now(), ProcessStatus::Absent).is_empty());
        }
        assert!(w.restart_requested(Instant::now()).is_empty());
    }

    #[test]
    fn a_pid_file_reads_running_only_for_a_live_pid() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pid");
        assert_eq!(pid_file_status(&f), ProcessStatus::Stopped);
        std::fs::write(&f, format!("{}\n", std::process::id())).unwrap();
        assert_eq!(pid_file_status(&f), ProcessStatus::Running);
        std::fs::write(&f, "999999999").unwrap();
        assert_eq!(pid_file_status(&f), ProcessStatus::Stopped);
    }
}
