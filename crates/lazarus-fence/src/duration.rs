//! Durations in the configuration, written as the controller's are: `"500ms"`,
//! `"5s"`, `"2m"`, `"1h"` (the same grammar as `lazarus_controller::duration`, which
//! this crate cannot depend on, since the controller depends on it).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `"<integer><unit>"` with unit `ms`, `s`, `m` or `h`.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (write e.g. \"5s\", \"500ms\")"))?;
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        other => Err(format!(
            "{text:?} has an unknown unit {other:?} (use ms, s, m or h)"
        )),
    }
}

/// Formats a duration the way [`parse`] reads it, in the largest exact unit.
pub(crate) fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        format!("{ms}ms")
    } else if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// `serde(serialize_with = "crate::duration::serialize")`.
pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

/// `serde(deserialize_with = "crate::duration::deserialize")`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert!(parse("10").is_err());
        assert!(parse("10 parsecs").is_err());
        for d in ["500ms", "10s", "2m", "1h"] {
            assert_eq!(format(parse(d).unwrap()), d);
        }
    }
}
