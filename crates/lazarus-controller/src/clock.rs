//! Wall-clock time for the engine and the records.
//!
//! The core takes time as a [`Timestamp`] in milliseconds; the controller hands it wall
//! time since the Unix epoch, so timestamps in persisted records survive a restart and
//! mean the same thing to a second controller. This is the one place the controller
//! reads the system clock; timers themselves run on `tokio::time`.

use chrono::{DateTime, TimeZone, Utc};
use lazarus_core::Timestamp;

/// The current wall-clock time.
#[allow(clippy::disallowed_methods)]
pub fn now_utc() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// The current time as the engine sees it.
pub fn now() -> Timestamp {
    to_timestamp(now_utc())
}

/// A wall-clock time as an engine timestamp.
pub fn to_timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp::from_millis(u64::try_from(t.timestamp_millis()).unwrap_or(0))
}

/// An engine timestamp as wall-clock time.
pub fn to_utc(t: Timestamp) -> DateTime<Utc> {
    let ms = i64::try_from(t.as_millis()).unwrap_or(i64::MAX);
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_wall_time_convert_both_ways_at_millisecond_precision() {
        let t = Utc.timestamp_millis_opt(1_700_000_000_123).unwrap();
        assert_eq!(to_timestamp(t).as_millis(), 1_700_000_000_123);
        assert_eq!(to_utc(to_timestamp(t)), t);
    }
}
