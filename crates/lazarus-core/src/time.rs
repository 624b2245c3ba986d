//! Time as the core sees it: a value handed in by the runtime, never read from a clock.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since an epoch chosen by the runtime.
///
/// The controller passes wall-clock milliseconds since the Unix epoch; the simulator
/// passes its virtual clock. The core only ever compares and subtracts timestamps.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This time plus `d`, saturating at the far future rather than wrapping.
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(d)))
    }

    /// How long after `earlier` this is; zero if `earlier` is in fact later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// A duration in whole milliseconds, saturating for durations beyond `u64::MAX` ms.
pub fn duration_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_an_earlier_time_is_the_difference() {
        let a = Timestamp::from_millis(1_500);
        let b = a.saturating_add(Duration::from_millis(2_250));
        assert_eq!(b.as_millis(), 3_750);
        assert_eq!(b.saturating_since(a), Duration::from_millis(2_250));
    }

    #[test]
    fn since_a_later_time_is_zero_not_a_wrap() {
        let a = Timestamp::from_millis(10);
        assert_eq!(
            a.saturating_since(Timestamp::from_millis(20)),
            Duration::ZERO
        );
        assert_eq!(
            Timestamp::from_millis(u64::MAX)
                .saturating_add(Duration::from_secs(1))
                .as_millis(),
            u64::MAX
        );
    }
}
