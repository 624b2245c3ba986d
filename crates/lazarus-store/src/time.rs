//! Wall-clock time as the store records it.
//!
//! Masakari records naive UTC datetimes with microseconds; the store does the same. In
//! the database a time is the fixed-width text `YYYY-MM-DDTHH:MM:SS.ffffff`, which sorts
//! lexically in time order, so SQL can compare and order it without conversion.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

use crate::StoreError;

/// A point in wall-clock time, UTC. The caller supplies it; the store never reads a clock.
pub type Time = DateTime<Utc>;

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// `t` truncated to the microsecond precision the store keeps.
pub fn truncate(t: Time) -> Time {
    t.trunc_subsecs(6)
}

/// The stored form of `t`.
pub fn to_db(t: Time) -> String {
    t.format(FORMAT).to_string()
}

/// Parses the stored form back; anything else means the file was not written by us.
pub fn from_db(s: &str) -> Result<Time, StoreError> {
    NaiveDateTime::parse_from_str(s, FORMAT)
        .map(|n| n.and_utc())
        .map_err(|e| StoreError::Fatal(format!("stored time {s:?} is malformed: {e}")))
}

/// Stored form of an optional time.
pub fn opt_to_db(t: Option<Time>) -> Option<String> {
    t.map(to_db)
}

/// Parses an optional stored time.
pub fn opt_from_db(s: Option<String>) -> Result<Option<Time>, StoreError> {
    s.as_deref().map(from_db).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stored_times_round_trip_at_microsecond_precision() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        let back = from_db(&to_db(t)).unwrap();
        assert_eq!(back, truncate(t));
        assert_eq!(to_db(t), "2023-11-14T22:13:20.123456");
    }

    #[test]
    fn stored_form_sorts_in_time_order() {
        let a = Utc.timestamp_opt(999_999_999, 0).unwrap();
        let b = Utc.timestamp_opt(1_000_000_000, 5_000).unwrap();
        assert!(to_db(a) < to_db(b));
    }
}
