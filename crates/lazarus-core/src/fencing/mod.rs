//! The fencing policy: a host is evacuated only after a positive confirmation that it
//! is off is recorded; a fence that cannot be confirmed is retried with backoff, then
//! escalated to a critical alert, and never leads to an evacuation.
//!
//! Confirmations, by the host's [`FenceMethod`]:
//! - `Bmc`: a power-off is sent, then the power state is read until "Off" comes back.
//! - `Watchdog`: the agent's watchdog reboots an isolated host within
//!   `watchdog_timeout`; once that plus a margin has passed since its last heartbeat,
//!   it is off (or rebooted without its instances).
//! - `Manual` (and any method): an operator's confirmation, or a monitor's COMPUTE_HOST
//!   STOPPED notification with host_status NORMAL.

use crate::alert::{Alert, AlertKind, Severity};
use crate::engine::{Engine, TimerPurpose};
use crate::event::{FenceError, PowerState};
use crate::model::FenceMethod;
use crate::workflow::{FenceConfirmation, Phase};
use crate::{Command, HostName, Timestamp};

impl Engine {
    fn fencing_unconfirmed(&self, host: &HostName) -> bool {
        self.recoveries.get(host).is_some_and(|r| {
            r.record.phase == Phase::Fencing && r.record.fence.confirmation.is_none()
        })
    }

    /// Starts fencing a host whose recovery just began.
    pub(crate) fn begin_fencing(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get(host) else {
            return;
        };
        match r.record.fence.method {
            FenceMethod::Bmc => self.send_power_off(now, host, out),
            FenceMethod::Watchdog => {
                self.persist(now, host, out);
                self.await_watchdog(now, host, out);
            }
            FenceMethod::Manual => self.await_operator(now, host, out),
        }
    }

    /// Continues fencing after a restart: a power-off whose result is unknown is
    /// followed by a read (reading is harmless), never blindly repeated.
    pub(crate) fn resume_fencing(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        if r.record.fence.gave_up {
            r.bmc_silent = true;
            // The alert may have been lost with the previous controller: raise it again
            // (the runtime deduplicates).
            let id = r.record.id.clone();
            out.push(Command::RaiseAlert(Alert::host(
                Severity::Critical,
                AlertKind::FenceUnconfirmed,
                host,
                format!("recovery {id}: fencing of {host} is still not confirmed after a controller restart; its instances are NOT evacuated until it is"),
            )));
        }
        match r.record.fence.method {
            FenceMethod::Bmc if r.record.fence.attempts == 0 => self.send_power_off(now, host, out),
            FenceMethod::Bmc => {
                r.power_read_pending = true;
                out.push(Command::ReadPowerState { host: host.clone() });
            }
            FenceMethod::Watchdog => self.await_watchdog(now, host, out),
            FenceMethod::Manual => {}
        }
    }

    /// Persists the next attempt, then sends the power-off.
    fn send_power_off(&mut self, now: Timestamp, host: &HostName, out: &mut Vec<Command>) {
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        r.record.fence.attempts = r.record.fence.attempts.saturating_add(1);
        r.power_reads = 0;
        let attempt = r.record.fence.attempts;
        self.persist(now, host, out);
        out.push(Command::FenceHost {
            host: host.clone(),
            method: FenceMethod::Bmc,
            attempt,
        });
    }

    /// When the watchdog promise of a host counts from: the latest of its last
    /// heartbeat when the recovery started, the last peer report that reached it, and
    /// the end of the controller's last blind period (start-up, storm guard). While
    /// the controller could not see, the host may have been feeding its watchdog.
    fn watchdog_base(&self, host: &HostName) -> Option<Timestamp> {
        let r = self.recoveries.get(host)?;
        let last = r.record.fence.last_heartbeat?;
        let peers = self.detector.last_peer_seen(host).unwrap_or(last);
        Some(last.max(peers).max(self.detector.last_blind()))
    }

    /// The last moment the controller could not witness that the host was unable to
    /// feed its watchdog through a peer majority it does not hear (a rack cut off
    /// together): the promise also counts from there.
    fn watchdog_unwitnessed(&self, host: &HostName) -> Timestamp {
        self.detector.last_unwitnessed(host)
    }

    /// Confirms the watchdog fence if its promise is kept, or waits for it.
    ///
    /// Guarantees: never confirmed while the storm guard is engaged, nor before
    /// `watchdog_timeout + margin` after the latest moment the host may have fed its
    /// watchdog — which includes every moment the controller heard fewer than half of
    /// the host's segment (the host could have held a majority with unheard peers).
    /// When only that keeps the promise from being kept, a critical alert is raised
    /// once (fencing cannot be confirmed) and the wait goes on.
    fn await_watchdog(&mut self, now: Timestamp, host: &HostName, out: &mut Vec<Command>) {
        let safe_after = self.config.fencing.watchdog_safe_after();
        match self.watchdog_base(host) {
            Some(seen) => {
                let base = seen.max(self.watchdog_unwitnessed(host));
                // Kept but for the segment peers the controller does not hear: it may
                // never be (the host may be running with its rack); say so once.
                if base > seen
                    && seen.saturating_add(safe_after) <= now
                    && !self.detector.storm_engaged()
                    && self
                        .recoveries
                        .get(host)
                        .is_some_and(|r| !r.record.fence.gave_up)
                {
                    self.give_up_fencing(
                        now,
                        host,
                        "its watchdog promise cannot be checked: the controller hears fewer than half of its segment, so it may still be feeding its watchdog through peers cut off with it (a rack partition); it is confirmed once the controller hears enough of its segment again for the watchdog timeout plus margin, or confirm it is off yourself (or give it a BMC)".to_owned(),
                        out,
                    );
                }
                let at = base.saturating_add(safe_after);
                if at <= now && !self.detector.storm_engaged() {
                    self.confirm_fence(
                        now,
                        host,
                        FenceConfirmation::Watchdog {
                            last_heartbeat: base,
                            at: now,
                        },
                        out,
                    );
                } else {
                    let at = if at <= now {
                        now.saturating_add(safe_after)
                    } else {
                        at
                    };
                    let already = self
                        .timers
                        .any(|p| matches!(p, TimerPurpose::WatchdogPromise(h) if h == host));
                    if !already {
                        self.schedule(at, TimerPurpose::WatchdogPromise(host.clone()), out);
                    }
                }
            }
            None => {
                self.give_up_fencing(
                    now,
                    host,
                    "fence method is watchdog but no heartbeat was ever heard from it, so the watchdog promise cannot be counted; confirm the host is off".to_owned(),
                    out,
                );
            }
        }
    }

    fn await_operator(&mut self, now: Timestamp, host: &HostName, out: &mut Vec<Command>) {
        self.give_up_fencing(
            now,
            host,
            "fence method is manual; confirm the host is off to start its evacuation".to_owned(),
            out,
        );
    }

    /// No more automatic attempts: raise the critical alert and keep waiting for a BMC
    /// answer or a confirmation. Nothing is evacuated.
    fn give_up_fencing(
        &mut self,
        now: Timestamp,
        host: &HostName,
        why: String,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        r.record.fence.gave_up = true;
        let id = r.record.id.clone();
        let method = r.record.fence.method;
        self.persist(now, host, out);
        out.push(Command::RaiseAlert(Alert::host(
            Severity::Critical,
            AlertKind::FenceUnconfirmed,
            host,
            format!("recovery {id}: fencing of {host} is not confirmed ({why}); its instances are NOT evacuated until it is"),
        )));
        if method == FenceMethod::Bmc {
            let at = now.saturating_add(self.config.fencing.unconfirmed_poll_interval);
            self.schedule(at, TimerPurpose::PowerRead(host.clone()), out);
        }
    }

    /// An attempt failed (the BMC refused or did not answer: `silent`; or it never
    /// read back "Off").
    fn fence_attempt_failed(
        &mut self,
        now: Timestamp,
        host: &HostName,
        why: String,
        silent: bool,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get_mut(host) else {
            return;
        };
        r.bmc_silent = silent;
        let attempts = r.record.fence.attempts;
        if attempts >= self.config.fencing.max_fence_attempts {
            self.give_up_fencing(
                now,
                host,
                format!("{attempts} attempts failed; last: {why}"),
                out,
            );
        } else {
            let delay = self.config.fencing.backoff(attempts);
            out.push(Command::RaiseAlert(Alert::host(
                Severity::Warning,
                AlertKind::FenceRetry,
                host,
                format!(
                    "fence attempt {attempts} of {host} failed ({why}); retrying in {} s",
                    delay.as_secs()
                ),
            )));
            self.schedule(
                now.saturating_add(delay),
                TimerPurpose::FenceRetry(host.clone()),
                out,
            );
        }
    }

    /// The BMC answered a power-off.
    pub(crate) fn on_fence_attempted(
        &mut self,
        now: Timestamp,
        host: HostName,
        attempt: u32,
        result: Result<(), FenceError>,
        out: &mut Vec<Command>,
    ) {
        if !self.fencing_unconfirmed(&host) {
            return;
        }
        let Some(r) = self.recoveries.get(&host) else {
            return;
        };
        if r.record.fence.attempts != attempt || r.record.fence.gave_up {
            return;
        }
        match result {
            Ok(()) => {
                // The first read comes sooner than the following ones: most BMCs have
                // switched the host off well within it. Only an "Off" read confirms.
                let at = now.saturating_add(self.config.fencing.first_power_read);
                self.schedule(at, TimerPurpose::PowerRead(host), out);
            }
            Err(e) => {
                self.fence_attempt_failed(now, &host, format!("power-off failed: {e}"), true, out)
            }
        }
    }

    /// The BMC answered a power read: evidence for the detector, and, after a
    /// power-off, the confirmation (or not) of the fence.
    pub(crate) fn on_power_read(
        &mut self,
        now: Timestamp,
        host: HostName,
        result: Result<PowerState, FenceError>,
        out: &mut Vec<Command>,
    ) {
        if let Ok(state) = result {
            self.detector.power(now, &host, state);
        }
        if !self.fencing_unconfirmed(&host) {
            return;
        }
        let Some(r) = self.recoveries.get_mut(&host) else {
            return;
        };
        if r.record.fence.method != FenceMethod::Bmc || r.record.fence.attempts == 0 {
            return;
        }
        let ours = std::mem::replace(&mut r.power_read_pending, false);
        if result == Ok(PowerState::Off) {
            self.confirm_fence(now, &host, FenceConfirmation::PowerOff { at: now }, out);
            return;
        }
        if !ours {
            return;
        }
        let gave_up = r.record.fence.gave_up;
        if gave_up {
            match result {
                Err(_) => r.bmc_silent = true,
                Ok(_) if !r.bmc_silent => {}
                Ok(state) => {
                    // The BMC answers again and the host is still judged failed (a
                    // host heard again would have called the recovery off): power it
                    // off now, a new attempt whose read-back decides as before. A BMC
                    // that answered all along without turning the host off is not
                    // asked again and again.
                    r.bmc_silent = false;
                    r.record.fence.gave_up = false;
                    out.push(Command::RaiseAlert(Alert::host(
                    Severity::Warning,
                    AlertKind::FenceRetry,
                    &host,
                        format!("the BMC of {host} answers again (power reads {state:?}): fencing it again"),
                    )));
                    self.send_power_off(now, &host, out);
                    return;
                }
            }
            let at = now.saturating_add(self.config.fencing.unconfirmed_poll_interval);
            self.schedule(at, TimerPurpose::PowerRead(host), out);
            return;
        }
        r.power_reads = r.power_reads.saturating_add(1);
        if r.power_reads < self.config.fencing.max_power_reads {
            let at = now.saturating_add(self.config.fencing.power_read_interval);
            self.schedule(at, TimerPurpose::PowerRead(host), out);
        } else {
            let silent = result.is_err();
            let what = match result {
                Ok(s) => format!("power still reads {s:?}"),
                Err(e) => format!("power read failed: {e}"),
            };
            let reads = r.power_reads;
            self.fence_attempt_failed(
                now,
                &host,
                format!("{what} after {reads} reads"),
                silent,
                out,
            );
        }
    }

    /// Timer: read the power state of a host being fenced.
    pub(crate) fn on_power_read_timer(&mut self, host: &HostName, out: &mut Vec<Command>) {
        if !self.fencing_unconfirmed(host) {
            return;
        }
        if let Some(r) = self.recoveries.get_mut(host) {
            r.power_read_pending = true;
            out.push(Command::ReadPowerState { host: host.clone() });
        }
    }

    /// Timer: retry the power-off.
    pub(crate) fn on_fence_retry(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        if self.fencing_unconfirmed(host)
            && self
                .recoveries
                .get(host)
                .is_some_and(|r| !r.record.fence.gave_up)
        {
            self.send_power_off(now, host, out);
        }
    }

    /// Timer: the watchdog promise may be kept; checked again against everything
    /// heard since it was scheduled.
    pub(crate) fn on_watchdog_promise(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        if self.fencing_unconfirmed(host) {
            self.await_watchdog(now, host, out);
        }
    }

    /// A heartbeat from a host under recovery. Before a confirmation, a host that
    /// fences itself (watchdog, manual) is evidently alive: the recovery is called
    /// off. A BMC fence already under way goes on (the read-back decides). After the
    /// confirmation (`MarkingDown`, `Evacuating`), a heartbeat heard more than
    /// `suspect_after` later is the host's return: nothing more is evacuated from it.
    pub(crate) fn heard_during_recovery(
        &mut self,
        now: Timestamp,
        host: &HostName,
        out: &mut Vec<Command>,
    ) {
        let Some(r) = self.recoveries.get(host) else {
            return;
        };
        match (r.record.phase, &r.record.fence.confirmation) {
            (Phase::Fencing, None) => {}
            (Phase::MarkingDown | Phase::Evacuating, Some(confirmation)) => {
                // The host was off (or reset) at the confirmation; a heartbeat sent
                // before it may still be in flight for up to `suspect_after`. One
                // heard later comes from a host that is up again: its fence no longer
                // holds, so nothing more is evacuated from it (docs/sim-findings.md
                // F15, cause 2). Only ever less evacuation: what was requested is
                // verified as usual, the rest is checked in place.
                let margin = self.detector.policy().suspect_after();
                let back = now.saturating_since(confirmation.at()) > margin;
                if back && !r.evacuation_stopped {
                    self.stop_evacuating(now, host, out);
                }
                return;
            }
            _ => return,
        }
        // A BMC power-off may still be landing: the read-back decides. Once the BMC
        // fence gave up, nothing is in flight and the host is evidently back.
        let in_flight = match r.record.fence.method {
            FenceMethod::Bmc => !r.record.fence.gave_up,
            FenceMethod::Watchdog | FenceMethod::Manual => false,
        };
        if !in_flight {
            self.abort(now, host, "its agent's heartbeat was heard again", out);
        }
    }

    /// An operator confirmed the host is off. It answers a recovery waiting for a fence
    /// confirmation and never starts one: a confirmation alone is no failure report
    /// (the host may be heartbeating and judged up), so it would evacuate a host nobody
    /// reported failed. An operator who wants a host recovered asks for it
    /// (`OperatorRequestedRecovery`), then confirms it off. A confirmation nothing waits
    /// for changes nothing and is alerted as a warning, so the operator learns it was
    /// ignored.
    pub(crate) fn on_operator_confirmed_fenced(
        &mut self,
        now: Timestamp,
        host: HostName,
        operator: String,
        out: &mut Vec<Command>,
    ) {
        if self.fencing_unconfirmed(&host) {
            let confirmation = FenceConfirmation::Operator { operator, at: now };
            self.confirm_fence(now, &host, confirmation, out);
            return;
        }
        let (kind, why) = match self.recoveries.get(&host) {
            Some(r) => (
                AlertKind::FenceConfirmationIgnored,
                format!(
                    "its recovery {} is at {:?} and waits for no fence confirmation",
                    r.record.id, r.record.phase
                ),
            ),
            None if self.cluster.host(&host).is_none() => (
                AlertKind::UnknownSubject,
                "lazarus protects no host of that name".to_owned(),
            ),
            None => (
                AlertKind::FenceConfirmationIgnored,
                "no recovery of it is under way, and a confirmation alone does not start one"
                    .to_owned(),
            ),
        };
        out.push(Command::RaiseAlert(Alert::host(
            Severity::Warning,
            kind,
            &host,
            format!("fence confirmation of {host} by {operator} ignored: {why}"),
        )));
    }
}
