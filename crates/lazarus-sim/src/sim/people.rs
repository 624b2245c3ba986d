//! The people and tools around the cloud: the operator paged by alerts, and
//! Pacemaker-style host monitors posting Masakari notifications.

use lazarus_core::alert::{Alert, AlertKind};
use lazarus_core::event::{HostEvent, HostStatus, Notification, NotificationPayload};
use lazarus_core::model::FenceMethod;
use lazarus_core::Event;

use super::happening::Happening;
use super::Sim;

/// How often a host monitor looks (masakari-monitors' hostmonitor default).
pub(super) const MONITOR_INTERVAL_MS: u64 = 60_000;

impl Sim<'_> {
    /// An alert that needs a person to confirm a fence pages the operator.
    pub(super) fn page_operator(&mut self, alert: &Alert) {
        if !self.config.operator {
            return;
        }
        let Some(h) = alert.host.as_ref().and_then(|n| self.world.host_index(n)) else {
            return;
        };
        let manual = self
            .initial
            .host(&self.name(h))
            .is_some_and(|x| x.fence_method == FenceMethod::Manual);
        let needs_person = match alert.kind {
            AlertKind::FenceUnconfirmed => true,
            AlertKind::HostFailed => manual,
            _ => false,
        };
        if needs_person && !self.operator_pending.get(h).copied().unwrap_or(true) {
            if let Some(p) = self.operator_pending.get_mut(h) {
                *p = true;
            }
            let d = self.rng.range(60_000, 300_000);
            self.queue.after(d, Happening::OperatorChecks(h));
        }
    }

    /// The operator looks at host `h` and confirms it fenced only if it really is off
    /// or its OS really is down; if the controller is down they try again later.
    pub(super) fn operator_checks(&mut self, h: usize) {
        let now = self.queue.now_ms();
        let name = self.name(h);
        let off = self.world.hosts.get(h).is_some_and(|x| !x.is_up());
        if !off {
            if let Some(p) = self.operator_pending.get_mut(h) {
                *p = false;
            }
            self.log.push(
                now,
                format!("operator: {name} is running; not confirming a fence"),
            );
            return;
        }
        if self.controller.engine.is_none() {
            self.queue.after(60_000, Happening::OperatorChecks(h));
            return;
        }
        if let Some(p) = self.operator_pending.get_mut(h) {
            *p = false;
        }
        self.log.push(
            now,
            format!("operator: {name} is off; confirming it fenced"),
        );
        let epoch = self.controller.epoch;
        self.queue.after(
            100,
            Happening::Deliver(
                epoch,
                Event::OperatorConfirmedFenced {
                    host: name,
                    operator: "sim-operator".to_owned(),
                },
            ),
        );
    }

    /// A Pacemaker-style host monitor looks at host `h`: a host that is really down is
    /// fenced by the monitor's own stack (powered off) and reported to the controller
    /// as COMPUTE_HOST STOPPED / NORMAL (Masakari's fence confirmation), at every look.
    pub(super) fn monitor_looks(&mut self, h: usize) {
        let now = self.queue.now_ms();
        let down = self.world.hosts.get(h).is_some_and(|x| !x.is_up());
        if !down || self.healing {
            return;
        }
        if let Some(x) = self.world.hosts.get_mut(h) {
            if x.powered {
                x.power_off(now);
            }
        }
        self.notifications += 1;
        let host = self.name(h);
        let id = format!("notif-{}-{}", self.seed, self.notifications);
        self.log.push(
            now,
            format!("monitor: {host} is down; fenced it, posts COMPUTE_HOST STOPPED ({id})"),
        );
        let epoch = self.controller.epoch;
        let d = self.rng.range(100, 1_000);
        self.queue.after(
            d,
            Happening::Deliver(
                epoch,
                Event::MonitorNotified(Notification {
                    id,
                    host,
                    payload: NotificationPayload::ComputeHost {
                        event: HostEvent::Stopped,
                        host_status: HostStatus::Normal,
                    },
                }),
            ),
        );
    }
}
