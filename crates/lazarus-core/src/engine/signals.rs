//! Signals in: heartbeats, Nova's view, notifications, operator requests, timers and
//! the detector's tick with its storm guard and fence cap.

use crate::alert::{Alert, AlertKind, Severity};
use crate::detector::{HostHealth, StormStatus};
use crate::event::{
    Heartbeat, HostEvent, HostStatus, Notification, NotificationPayload, NovaService, Process,
    ProcessState,
};
use crate::model::FenceMethod;
use crate::workflow::{FenceConfirmation, Phase, Trigger};
use crate::{Command, HostName, Timestamp};

use super::{Engine, TimerPurpose, TimerToken};

impl Engine {
    pub(crate) fn on_heartbeat(&mut self, now: Timestamp, hb: Heartbeat, out: &mut Vec<Command>) {
        if !self.detector.heartbeat(now, &hb) {
            return;
        }
        if self.recoveries.contains_key(&hb.host) {
            self.heard_during_recovery(now, &hb.host, out);
            return;
        }
        for (process, state) in [
            (Process::NovaCompute, hb.nova_compute),
            (Process::Libvirtd, hb.libvirtd),
        ] {
            match state {
                ProcessState::Stopped => self.on_process_down(now, hb.host.clone(), process, out),
                ProcessState::Running => self.on_process_up(now, hb.host.clone(), process, out),
                ProcessState::Unknown => {}
            }
        }
        for f in hb.instance_failures {
            self.on_instance_failed(now, f.instance, f.kind, out);
        }
    }

    pub(crate) fn on_nova_service(
        &mut self,
        now: Timestamp,
        s: NovaService,
        out: &mut Vec<Command>,
    ) {
        self.detector.nova(&s);
        let host = s.host.clone();
        let reporting = s.reporting;
        self.nova.insert(host.clone(), s);
        if reporting && self.reporting_means_returned(now, &host) {
            self.on_host_returned(now, host, out);
        }
    }

    /// Whether Nova showing the compute of a host under recovery as reporting means it
    /// came back: only once the recovery finished, and long enough after the fence
    /// that the report cannot be one from before the failure.
    fn reporting_means_returned(&self, now: Timestamp, host: &HostName) -> bool {
        let Some(r) = self.recoveries.get(host) else {
            return false;
        };
        let Some(fenced_at) = r.record.fence.confirmation.as_ref().map(|c| c.at()) else {
            return false;
        };
        let settled = match r.record.phase {
            Phase::Finished | Phase::Returning => true,
            Phase::Fencing | Phase::MarkingDown | Phase::Evacuating | Phase::Closed => false,
        };
        settled && now.saturating_since(fenced_at) >= self.config.workflow.return_grace
    }

    pub(crate) fn on_notification(
        &mut self,
        now: Timestamp,
        n: Notification,
        out: &mut Vec<Command>,
    ) {
        match n.payload {
            NotificationPayload::ComputeHost { event, host_status } => match (event, host_status) {
                (HostEvent::Stopped, HostStatus::Normal) => {
                    let confirmation = FenceConfirmation::Monitor {
                        notification: n.id.clone(),
                        at: now,
                    };
                    self.report_failure(
                        now,
                        &n.host,
                        Trigger::Monitor { notification: n.id },
                        Some(confirmation),
                        out,
                    );
                }
                // Masakari acts only on STOPPED with NORMAL: an UNKNOWN status means
                // the monitor could not fence, and STARTED needs nothing.
                (HostEvent::Stopped, HostStatus::Unknown)
                | (HostEvent::Started, HostStatus::Normal)
                | (HostEvent::Started, HostStatus::Unknown) => {}
            },
            NotificationPayload::Process {
                process_name,
                event,
            } => {
                if let Some(p) = Process::from_name(&process_name) {
                    match event {
                        HostEvent::Stopped => self.on_process_down(now, n.host, p, out),
                        HostEvent::Started => self.on_process_up(now, n.host, p, out),
                    }
                }
            }
            NotificationPayload::Vm { instance, failure } => {
                if let Some(kind) = failure {
                    self.on_instance_failed(now, instance, kind, out);
                }
            }
        }
    }

    pub(crate) fn on_operator_requested_recovery(
        &mut self,
        now: Timestamp,
        host: HostName,
        operator: String,
        out: &mut Vec<Command>,
    ) {
        self.report_failure(now, &host, Trigger::Operator { operator }, None, out);
    }

    pub(crate) fn on_timer(&mut self, now: Timestamp, token: TimerToken, out: &mut Vec<Command>) {
        let Some(purpose) = self.timers.take(token) else {
            return;
        };
        match purpose {
            TimerPurpose::DetectorTick => self.on_tick(now, out),
            TimerPurpose::PowerRead(h) => self.on_power_read_timer(&h, out),
            TimerPurpose::FenceRetry(h) => self.on_fence_retry(now, &h, out),
            TimerPurpose::WatchdogPromise(h) => self.on_watchdog_promise(now, &h, out),
            TimerPurpose::MarkDownRetry(h) => self.on_mark_down_retry(&h, out),
            TimerPurpose::CheckInstance(h, i) => self.on_check_timer(now, &h, &i, out),
            TimerPurpose::ReturnRetry(h) => self.on_return_retry(&h, out),
            TimerPurpose::ProcessGrace(h, p) => self.on_process_grace(now, h, p, out),
        }
    }

    /// The detector's tick: judge every host, apply the storm guard and the fence cap,
    /// start recoveries for hosts judged failed.
    fn on_tick(&mut self, now: Timestamp, out: &mut Vec<Command>) {
        let tick = self.detector.tick(now);
        match tick.storm {
            Some(StormStatus::Engaged { unheard, monitored }) => {
                out.push(Command::RaiseAlert(Alert::cluster(
                    Severity::Critical,
                    AlertKind::StormGuardEngaged,
                    format!("the controller cannot hear {unheard} of {monitored} monitored hosts at once: it is probably the one cut off; no host is judged failed until this clears"),
                )));
            }
            Some(StormStatus::Released) => {
                out.push(Command::RaiseAlert(Alert::cluster(
                    Severity::Warning,
                    AlertKind::StormGuardReleased,
                    "the storm guard released: hosts are heard again, normal judgement resumes",
                )));
            }
            None => {}
        }
        for t in &tick.transitions {
            match t.to {
                HostHealth::Partitioned => out.push(Command::RaiseAlert(Alert::host(
                    Severity::Warning,
                    AlertKind::HostPartitioned,
                    &t.host,
                    format!("{} is unheard by the controller but reached by its peers: partitioned, not fenced ({})", t.host, t.signals),
                ))),
                HostHealth::Suspect if t.from == HostHealth::Up && !self.detector.storm_engaged() => {
                    let bmc = self
                        .cluster
                        .host(&t.host)
                        .is_some_and(|h| h.fence_method == FenceMethod::Bmc);
                    if bmc {
                        out.push(Command::ReadPowerState {
                            host: t.host.clone(),
                        });
                    }
                }
                HostHealth::Suspect
                | HostHealth::Unmonitored
                | HostHealth::Up
                | HostHealth::Isolated
                | HostHealth::Failed => {}
            }
        }
        // Hosts of a disabled segment are not recovered: said once, not every tick.
        let mut failing = Vec::with_capacity(tick.failing.len());
        for t in tick.failing {
            let segment_enabled = self
                .cluster
                .host(&t.host)
                .and_then(|h| self.cluster.segment(&h.segment))
                .is_none_or(|s| s.enabled);
            if segment_enabled {
                self.not_recovered.remove(&t.host);
                failing.push(t);
            } else if self.not_recovered.insert(t.host.clone()) {
                out.push(Command::RaiseAlert(Alert::host(
                    Severity::Error,
                    AlertKind::InstanceNotRecovered,
                    &t.host,
                    format!(
                        "{} judged {:?} ({}) but its segment is disabled: not recovered",
                        t.host, t.to, t.signals
                    ),
                )));
            }
        }
        for t in &tick.transitions {
            if t.to == HostHealth::Up {
                self.not_recovered.remove(&t.host);
            }
        }
        let tick = crate::detector::TickOutcome {
            failing,
            ..crate::detector::TickOutcome::default()
        };
        if !tick.failing.is_empty() {
            let window = self.config.storm.fence_window;
            self.fence_starts
                .retain(|t| now.saturating_since(*t) < window);
            let cap = self.config.storm.max_fences_per_window;
            if self.fence_starts.len() + tick.failing.len() > cap {
                if !self.fence_cap_alerted {
                    self.fence_cap_alerted = true;
                    let names: Vec<&str> = tick.failing.iter().map(|t| t.host.as_str()).collect();
                    out.push(Command::RaiseAlert(Alert::cluster(
                        Severity::Critical,
                        AlertKind::FenceCapReached,
                        format!(
                            "{} hosts judged failed ({}) with {} already fenced in the last {} s; the cap is {}: none is fenced; the controller is probably the one cut off, or a person must confirm",
                            names.len(),
                            names.join(", "),
                            self.fence_starts.len(),
                            window.as_secs(),
                            cap
                        ),
                    )));
                }
            } else {
                self.fence_cap_alerted = false;
                for t in tick.failing {
                    self.fence_starts.push(now);
                    out.push(Command::RaiseAlert(Alert::host(
                        Severity::Error,
                        AlertKind::HostFailed,
                        &t.host,
                        format!(
                            "{} judged {:?}: {}; recovery starts",
                            t.host, t.to, t.signals
                        ),
                    )));
                    self.report_failure(
                        now,
                        &t.host,
                        Trigger::Detector { signals: t.signals },
                        None,
                        out,
                    );
                }
            }
        } else {
            self.fence_cap_alerted = false;
        }
        let at = now.saturating_add(self.config.detector.tick_interval);
        self.schedule(at, TimerPurpose::DetectorTick, out);
    }
}
