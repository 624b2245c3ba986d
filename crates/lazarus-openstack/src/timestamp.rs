//! Timestamps as OpenStack writes them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A point in time as an OpenStack service wrote it, kept verbatim (ISO 8601, UTC:
/// Nova writes `2026-01-02T03:04:05.000000` with no zone, Keystone appends `Z`).
///
/// The text is kept so nothing is lost or reformatted; [`Timestamp::unix_micros`] reads
/// it as microseconds since the Unix epoch for comparisons. This adapter does not read
/// the local wall clock: callers compare two timestamps that came from the same cloud.
#[derive(Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Timestamp {
    /// Wraps a timestamp text (for example one to send as `changes-since`).
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text exactly as the service wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Microseconds since the Unix epoch, or `None` if the text is not an ISO 8601
    /// date-time. A missing zone means UTC, as everywhere in OpenStack.
    pub fn unix_micros(&self) -> Option<i64> {
        parse_iso8601_micros(&self.0)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]` to microseconds since
/// the epoch. Small on purpose: the adapter needs no calendar beyond this.
fn parse_iso8601_micros(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 {
        return None;
    }
    let number = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    if bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut micros: i64 = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut scale = 100_000;
        for digit in fraction[..digits].bytes().take(6) {
            micros += i64::from(digit - b'0') * scale;
            scale /= 10;
        }
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        "" | "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hours: i64 = digits[..2].parse().ok()?;
            let minutes: i64 = digits[2..].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * 1_000_000 + micros)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(text: &str) -> Option<i64> {
        Timestamp::new(text).unix_micros()
    }

    #[test]
    fn nova_timestamps_without_a_zone_are_utc() {
        assert_eq!(micros("1970-01-01T00:00:00.000000"), Some(0));
        assert_eq!(
            micros("2024-02-29T12:00:01.500000"),
            Some(1_709_208_001_500_000)
        );
    }

    #[test]
    fn keystone_and_offset_forms_are_read() {
        assert_eq!(
            micros("2024-02-29T12:00:01.500000Z"),
            Some(1_709_208_001_500_000)
        );
        assert_eq!(
            micros("2024-02-29T13:00:01.5+01:00"),
            Some(1_709_208_001_500_000)
        );
        assert_eq!(micros("2024-02-29 12:00:01"), Some(1_709_208_001_000_000));
        assert_eq!(
            micros("2024-02-29T10:00:01-0200"),
            Some(1_709_208_001_000_000)
        );
    }

    #[test]
    fn garbage_is_not_a_time() {
        assert_eq!(micros(""), None);
        assert_eq!(micros("2024-13-01T00:00:00"), None);
        assert_eq!(micros("2024-01-01T00:00:00.Z"), None);
        assert_eq!(micros("2024-01-01T00:00:00 UTC"), None);
        assert_eq!(micros("yesterday at noon, roughly"), None);
    }
}
