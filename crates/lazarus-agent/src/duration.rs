//! Durations in the agent configuration, written as `"500ms"`, `"5s"`, `"2m"` or `"1h"`
//! (the same tiny parser as the controller's, so both files read alike).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `"<integer><unit>"` with unit `ms`, `s`, `m` or `h`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (write e.g. \"5s\", \"500ms\", \"2m\")"))?;
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
pub fn format(d: Duration) -> String {
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

/// `serde(with = "crate::duration")`.
/// `serde(with = "crate::duration")`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// `serde(with = "crate::duration")`.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_parses() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn a_number_without_unit_is_refused_with_a_hint() {
        let e = parse("5").unwrap_err();
        assert!(e.contains("no unit"), "{e}");
        assert!(parse("5 days").is_err());
        assert!(parse("s").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for d in [
            Duration::from_millis(500),
            Duration::from_secs(5),
            Duration::from_secs(120),
            Duration::from_secs(7200),
            Duration::ZERO,
        ] {
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
