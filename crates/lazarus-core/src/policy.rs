//! The engine's knobs, with safe, fast defaults.
//!
//! Every duration the core waits for comes from here, so the simulator can shrink or
//! stretch them and the runtime can load them from its configuration file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a configuration was refused. Nothing was started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A duration that must be positive is zero.
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// A count that must be positive is zero.
    #[error("{0} must be greater than zero")]
    ZeroCount(&'static str),
    /// Failure must need more missed heartbeats than suspicion.
    #[error(
        "failed_after_missed ({failed}) must be greater than suspect_after_missed ({suspect})"
    )]
    FailedNotAfterSuspect {
        /// Missed heartbeats before suspicion.
        suspect: u32,
        /// Missed heartbeats before failure.
        failed: u32,
    },
    /// A fraction outside (0, 1].
    #[error("storm fraction {0} must be within (0, 1]")]
    BadFraction(String),
}

/// Everything the engine is configured with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// How hosts are judged from heartbeats.
    pub detector: DetectorPolicy,
    /// When the controller distrusts its own view.
    pub storm: StormPolicy,
    /// How fencing is confirmed and retried.
    pub fencing: FencingPolicy,
    /// Timings of the recovery workflow.
    pub workflow: WorkflowPolicy,
    /// Resets of failed instances.
    pub vm_monitoring: VmMonitoring,
    /// Restarts of failed processes.
    pub process: ProcessPolicy,
}

impl EngineConfig {
    /// Checks the values make sense together, before anything runs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.detector;
        if d.heartbeat_interval.is_zero() {
            return Err(ConfigError::ZeroDuration("detector.heartbeat_interval"));
        }
        if d.tick_interval.is_zero() {
            return Err(ConfigError::ZeroDuration("detector.tick_interval"));
        }
        if d.suspect_after_missed == 0 {
            return Err(ConfigError::ZeroCount("detector.suspect_after_missed"));
        }
        if d.failed_after_missed <= d.suspect_after_missed {
            return Err(ConfigError::FailedNotAfterSuspect {
                suspect: d.suspect_after_missed,
                failed: d.failed_after_missed,
            });
        }
        let f = self.storm.max_unheard_fraction;
        if !(f > 0.0 && f <= 1.0) {
            return Err(ConfigError::BadFraction(f.to_string()));
        }
        if self.fencing.max_fence_attempts == 0 {
            return Err(ConfigError::ZeroCount("fencing.max_fence_attempts"));
        }
        if self.fencing.power_read_interval.is_zero() {
            return Err(ConfigError::ZeroDuration("fencing.power_read_interval"));
        }
        if self.workflow.verify_poll_interval.is_zero() {
            return Err(ConfigError::ZeroDuration("workflow.verify_poll_interval"));
        }
        Ok(())
    }
}

/// How a host is judged from its agent's heartbeats and its peers' reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorPolicy {
    /// How often agents send heartbeats.
    pub heartbeat_interval: Duration,
    /// How often the detector evaluates every host (one timer, O(hosts)).
    pub tick_interval: Duration,
    /// Missed heartbeats before a host is Suspect.
    pub suspect_after_missed: u32,
    /// Missed heartbeats before a host may be judged Failed (with peer confirmation).
    pub failed_after_missed: u32,
    /// A peer's report of reaching a host counts for this long: a host some peer
    /// reached within it is Partitioned, not Failed.
    pub peer_window: Duration,
}

impl Default for DetectorPolicy {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(1),
            tick_interval: Duration::from_millis(500),
            suspect_after_missed: 2,
            failed_after_missed: 3,
            peer_window: Duration::from_secs(4),
        }
    }
}

impl DetectorPolicy {
    /// Silence after which a host is Suspect.
    pub fn suspect_after(&self) -> Duration {
        self.heartbeat_interval
            .saturating_mul(self.suspect_after_missed)
    }

    /// Silence after which a host may be judged Failed.
    pub fn failed_after(&self) -> Duration {
        self.heartbeat_interval
            .saturating_mul(self.failed_after_missed)
    }
}

/// The storm guard: when the controller itself is probably the one cut off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StormPolicy {
    /// Engage when more than this share of monitored hosts is unheard at once...
    pub max_unheard_fraction: f64,
    /// ...or when more than this many are unheard at once...
    pub max_unheard_hosts: usize,
    /// ...but never for fewer unheard hosts than this (one dead host in a three-host
    /// lab is a failure, not a storm).
    pub min_unheard_for_storm: usize,
    /// At most this many hosts fenced (recoveries started by the detector) per window.
    pub max_fences_per_window: usize,
    /// The window of the fence cap.
    pub fence_window: Duration,
}

impl Default for StormPolicy {
    fn default() -> Self {
        Self {
            max_unheard_fraction: 0.3,
            max_unheard_hosts: 50,
            min_unheard_for_storm: 3,
            max_fences_per_window: 5,
            fence_window: Duration::from_secs(600),
        }
    }
}

/// How fencing is confirmed and retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FencingPolicy {
    /// Wait between an accepted power-off and the first power read. Shorter than
    /// `power_read_interval` because most BMCs have switched the host off by then (the
    /// devcloud's in 0.1 s), and a host confirmed sooner is evacuated sooner; a read that
    /// comes too early only finds "On" and costs one of `max_power_reads`.
    pub first_power_read: Duration,
    /// Wait between a power read that did not find "Off" and the next one.
    pub power_read_interval: Duration,
    /// Power reads per fence attempt before the attempt counts as failed.
    pub max_power_reads: u32,
    /// Fence attempts before lazarus gives up retrying and raises a critical alert.
    pub max_fence_attempts: u32,
    /// First retry delay; doubled at each attempt.
    pub retry_backoff: Duration,
    /// Ceiling of the retry delay.
    pub max_retry_backoff: Duration,
    /// After giving up, keep reading the BMC this often, waiting for an "Off".
    pub unconfirmed_poll_interval: Duration,
    /// The agent's watchdog reboots an isolated host within this time.
    pub watchdog_timeout: Duration,
    /// Margin added to the watchdog timeout before the promise counts as kept.
    pub watchdog_margin: Duration,
}

impl Default for FencingPolicy {
    fn default() -> Self {
        Self {
            first_power_read: Duration::from_millis(500),
            power_read_interval: Duration::from_secs(2),
            max_power_reads: 8,
            max_fence_attempts: 3,
            retry_backoff: Duration::from_secs(5),
            max_retry_backoff: Duration::from_secs(60),
            unconfirmed_poll_interval: Duration::from_secs(30),
            watchdog_timeout: Duration::from_secs(30),
            watchdog_margin: Duration::from_secs(10),
        }
    }
}

impl FencingPolicy {
    /// Delay before retry number `attempt` (1-based), doubling and capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.retry_backoff
            .saturating_mul(factor)
            .min(self.max_retry_backoff)
    }

    /// Time after the last heartbeat at which the watchdog promise is kept.
    pub fn watchdog_safe_after(&self) -> Duration {
        self.watchdog_timeout.saturating_add(self.watchdog_margin)
    }
}

/// Timings of the recovery workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowPolicy {
    /// Retry delay after Nova failed to mark a host down.
    pub mark_down_retry: Duration,
    /// How often an evacuated instance is checked until verified.
    pub verify_poll_interval: Duration,
    /// Retry delay for returning a host to service (Nova answers 400 until the
    /// compute restarted and its evacuation records are completed).
    pub return_retry: Duration,
    /// Retry delay before re-checking an instance after an ambiguous answer (5xx,
    /// timeout) to an evacuation.
    pub ambiguous_check_delay: Duration,
    /// Nova's view of a fenced host's compute as "reporting" counts as its return only
    /// this long after the fence was confirmed: longer than Nova's `service_down_time`
    /// (60 s), so a report from before the failure is not taken for a return.
    pub return_grace: Duration,
}

impl Default for WorkflowPolicy {
    fn default() -> Self {
        Self {
            mark_down_retry: Duration::from_secs(5),
            verify_poll_interval: Duration::from_secs(5),
            return_retry: Duration::from_secs(60),
            ambiguous_check_delay: Duration::from_secs(5),
            return_grace: Duration::from_secs(90),
        }
    }
}

/// vSphere-style VM monitoring sensitivity (domain facts §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// 120 s without a guest heartbeat; 480 s minimum uptime; 3 resets per 7 days.
    Low,
    /// 60 s; 240 s; 3 resets per 24 hours.
    Medium,
    /// 30 s; 120 s; 3 resets per hour.
    High,
}

/// Resets of failed instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMonitoring {
    /// A lost guest heartbeat counts as a failure after this much silence.
    pub failure_interval: Duration,
    /// After a reset, failures are ignored for this long (the guest is booting).
    pub min_uptime: Duration,
    /// Resets allowed per instance within `reset_window`.
    pub max_resets: u32,
    /// The window of the reset cap.
    pub reset_window: Duration,
}

impl VmMonitoring {
    /// The values of a vSphere sensitivity preset.
    pub fn preset(sensitivity: Sensitivity) -> Self {
        let (failure, uptime, window) = match sensitivity {
            Sensitivity::Low => (120, 480, 7 * 24 * 3600),
            Sensitivity::Medium => (60, 240, 24 * 3600),
            Sensitivity::High => (30, 120, 3600),
        };
        Self {
            failure_interval: Duration::from_secs(failure),
            min_uptime: Duration::from_secs(uptime),
            max_resets: 3,
            reset_window: Duration::from_secs(window),
        }
    }
}

impl Default for VmMonitoring {
    fn default() -> Self {
        Self::preset(Sensitivity::Medium)
    }
}

/// Restarts of failed processes (nova-compute, libvirtd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessPolicy {
    /// How long a restarted process may take to be seen running again before the
    /// host is disabled for scheduling.
    pub restart_grace: Duration,
}

impl Default for ProcessPolicy {
    fn default() -> Self {
        Self {
            restart_grace: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(EngineConfig::default().validate(), Ok(()));
    }

    #[test]
    fn failure_must_come_after_suspicion() {
        let mut c = EngineConfig::default();
        c.detector.failed_after_missed = 2;
        assert_eq!(
            c.validate(),
            Err(ConfigError::FailedNotAfterSuspect {
                suspect: 2,
                failed: 2
            })
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let f = FencingPolicy::default();
        assert_eq!(f.backoff(1), Duration::from_secs(5));
        assert_eq!(f.backoff(2), Duration::from_secs(10));
        assert_eq!(f.backoff(3), Duration::from_secs(20));
        assert_eq!(f.backoff(30), Duration::from_secs(60));
    }

    #[test]
    fn presets_follow_vsphere() {
        let high = VmMonitoring::preset(Sensitivity::High);
        assert_eq!(high.failure_interval, Duration::from_secs(30));
        assert_eq!(high.reset_window, Duration::from_secs(3600));
        let low = VmMonitoring::preset(Sensitivity::Low);
        assert_eq!(low.min_uptime, Duration::from_secs(480));
    }
}
