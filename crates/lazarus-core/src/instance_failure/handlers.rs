//! The engine's handling of instance failures.

use super::ResetDecision;
use crate::alert::{Alert, AlertKind, Severity};
use crate::command::ResetMethod;
use crate::engine::Engine;
use crate::event::{InstanceFailureKind, NovaError};
use crate::{Command, InstanceId, Timestamp};

impl Engine {
    /// An instance failed on a live host: reset it within the cap. Unprotected
    /// instances, and instances of a host under recovery, are left alone.
    pub(crate) fn on_instance_failed(
        &mut self,
        now: Timestamp,
        instance: InstanceId,
        kind: InstanceFailureKind,
        out: &mut Vec<Command>,
    ) {
        let Some(i) = self.cluster.instance(&instance) else {
            return;
        };
        if !i.is_protected() || self.recoveries.contains_key(&i.host) {
            return;
        }
        let host = i.host.clone();
        match self.instances.decide(now, &instance, kind) {
            ResetDecision::Reset { n } => {
                let max = self.config.vm_monitoring.max_resets;
                out.push(Command::ResetInstance {
                    instance,
                    host,
                    method: ResetMethod::HardReboot,
                    reason: format!("{kind:?}; reset {n} of at most {max} per window"),
                });
            }
            ResetDecision::CapReached { first } => {
                if first {
                    let max = self.config.vm_monitoring.max_resets;
                    let window = self.config.vm_monitoring.reset_window.as_secs();
                    out.push(Command::RaiseAlert(Alert::instance(
                        Severity::Error,
                        AlertKind::ResetCapReached,
                        &instance,
                        Some(&host),
                        format!("instance {instance} failed again ({kind:?}) after {max} resets within {window} s: not reset again"),
                    )));
                }
            }
            ResetDecision::NotYetFailed | ResetDecision::StillBooting => {}
        }
    }

    /// Nova answered a reset.
    pub(crate) fn on_instance_reset_done(
        &mut self,
        _now: Timestamp,
        instance: InstanceId,
        result: Result<(), NovaError>,
        out: &mut Vec<Command>,
    ) {
        if let Err(e) = result {
            let host = self.cluster.instance(&instance).map(|i| i.host.clone());
            out.push(Command::RaiseAlert(Alert::instance(
                Severity::Error,
                AlertKind::InstanceNotRecovered,
                &instance,
                host.as_ref(),
                format!("reset of instance {instance} failed: {e}"),
            )));
        }
    }
}
