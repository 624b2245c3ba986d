//! Timers as events, as in foca: the engine asks for a timer with a token, the runtime
//! hands the token back when it fires, and tokens the engine no longer waits for are
//! dropped. The runtime never cancels anything.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{HostName, InstanceId, Timestamp};

/// The token of a scheduled timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimerToken(pub u64);

impl fmt::Display for TimerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timer#{}", self.0)
    }
}

/// What a timer is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TimerPurpose {
    /// Evaluate every host.
    DetectorTick,
    /// Read a host's power state again (after a power-off, or while waiting).
    PowerRead(HostName),
    /// Retry a power-off.
    FenceRetry(HostName),
    /// The watchdog promise of a host is kept.
    WatchdogPromise(HostName),
    /// Mark a host down again.
    MarkDownRetry(HostName),
    /// Check an instance under recovery (verification poll, or after an ambiguous
    /// answer).
    CheckInstance(HostName, InstanceId),
    /// Try returning a host to service again.
    ReturnRetry(HostName),
    /// A restarted process should be running by now.
    ProcessGrace(HostName, crate::event::Process),
}

/// The timers the engine waits for.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    next: u64,
    pending: BTreeMap<TimerToken, TimerPurpose>,
}

impl Timers {
    /// Starts numbering tokens from a value derived from the start time, so tokens of
    /// a previous engine (whose timers may still fire) are unlikely to be reused.
    pub(crate) fn start_at(&mut self, now: Timestamp) {
        self.next = self.next.max(now.as_millis().saturating_mul(1024));
    }

    /// Registers a timer and returns its token.
    pub(crate) fn add(&mut self, purpose: TimerPurpose) -> TimerToken {
        self.next = self.next.wrapping_add(1);
        let token = TimerToken(self.next);
        self.pending.insert(token, purpose);
        token
    }

    /// The purpose of a fired timer, if the engine still waits for it.
    pub(crate) fn take(&mut self, token: TimerToken) -> Option<TimerPurpose> {
        self.pending.remove(&token)
    }

    /// Forgets every timer matching `f` (their tokens will be dropped when they fire).
    pub(crate) fn forget(&mut self, f: impl Fn(&TimerPurpose) -> bool) {
        self.pending.retain(|_, p| !f(p));
    }

    /// Whether a timer matching `f` is pending.
    pub(crate) fn any(&self, f: impl Fn(&TimerPurpose) -> bool) -> bool {
        self.pending.values().any(f)
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }
}
