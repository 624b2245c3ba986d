//! API microversions (Nova's `2.95`, Placement's `1.39`) and their negotiation.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// One microversion, `major.minor`. Ordered numerically (`2.9 < 2.10`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    /// The major version (2 for Nova, 1 for Placement).
    pub major: u16,
    /// The minor version.
    pub minor: u16,
}

impl Microversion {
    /// `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }
}

impl fmt::Debug for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A text that is not `major.minor`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a microversion (expected major.minor, such as 2.95)")]
pub struct InvalidMicroversion(pub String);

impl FromStr for Microversion {
    type Err = InvalidMicroversion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidMicroversion(text.to_owned());
        let trimmed = text.trim().trim_start_matches(['v', 'V']);
        let (major, minor) = trimmed.split_once('.').ok_or_else(invalid)?;
        Ok(Self {
            major: major.parse().map_err(|_| invalid())?,
            minor: minor.parse().map_err(|_| invalid())?,
        })
    }
}

/// The microversions a service endpoint accepts, from its version document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// The oldest microversion the endpoint accepts.
    pub min: Microversion,
    /// The newest microversion the endpoint accepts.
    pub max: Microversion,
}

impl VersionRange {
    /// The microversion to send for a call that needs at least `floor` and understands
    /// responses up to `preferred`: the newest version in both ranges, or `None` if the
    /// endpoint is older than `floor` (or newer than `preferred` allows, which only a
    /// service that dropped old versions could be).
    pub fn negotiate(&self, floor: Microversion, preferred: Microversion) -> Option<Microversion> {
        let chosen = self.max.min(preferred);
        (chosen >= floor && chosen >= self.min).then_some(chosen)
    }

    /// Reads the range from a version document: either `{"version": {...}}` (what
    /// Nova's versioned endpoint `/v2.1` answers) or `{"versions": [...]}` (a root
    /// document, as Placement answers at `/`; the entry with the newest `max_version`
    /// or `version` wins). Nova names the newest microversion `version`, Placement
    /// `max_version`.
    pub fn from_version_document(body: &serde_json::Value) -> Option<Self> {
        if let Some(single) = body.get("version") {
            return Self::from_entry(single);
        }
        body.get("versions")?
            .as_array()?
            .iter()
            .filter_map(Self::from_entry)
            .max_by_key(|range| range.max)
    }

    fn from_entry(entry: &serde_json::Value) -> Option<Self> {
        let entry = VersionEntry::deserialize(entry).ok()?;
        let max = entry
            .max_version
            .or(entry.version)
            .filter(|v| !v.is_empty())?;
        let max: Microversion = max.parse().ok()?;
        let min = match entry.min_version.filter(|v| !v.is_empty()) {
            Some(min) => min.parse().ok()?,
            None => Microversion::new(max.major, 0),
        };
        Some(Self { min, max })
    }
}

/// One entry of a version document; unknown fields are ignored.
#[derive(Deserialize)]
struct VersionEntry {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    min_version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn v(major: u16, minor: u16) -> Microversion {
        Microversion::new(major, minor)
    }

    #[test]
    fn microversions_order_numerically() {
        assert!(v(2, 9) < v(2, 10));
        assert!(v(2, 95) > v(2, 94));
        assert_eq!("2.104".parse::<Microversion>(), Ok(v(2, 104)));
        assert_eq!("v1.0".parse::<Microversion>(), Ok(v(1, 0)));
        assert!("2".parse::<Microversion>().is_err());
        assert!("2.x".parse::<Microversion>().is_err());
    }

    #[test]
    fn negotiation_takes_the_newest_version_both_sides_know() {
        let nova = VersionRange {
            min: v(2, 1),
            max: v(2, 104),
        };
        assert_eq!(nova.negotiate(v(2, 29), v(2, 94)), Some(v(2, 94)));
        let old_nova = VersionRange {
            min: v(2, 1),
            max: v(2, 60),
        };
        assert_eq!(old_nova.negotiate(v(2, 29), v(2, 94)), Some(v(2, 60)));
        assert_eq!(old_nova.negotiate(v(2, 95), v(2, 95)), None);
    }

    #[test]
    fn nova_version_document_is_read() {
        let doc = serde_json::json!({"version": {"id": "v2.1", "status": "CURRENT",
            "version": "2.104", "min_version": "2.1", "updated": "2013-07-23T11:33:21Z"}});
        assert_eq!(
            VersionRange::from_version_document(&doc),
            Some(VersionRange {
                min: v(2, 1),
                max: v(2, 104)
            })
        );
    }

    #[test]
    fn placement_root_document_is_read() {
        let doc = serde_json::json!({"versions": [{"id": "v1.0", "max_version": "1.39",
            "min_version": "1.0", "status": "CURRENT", "links": []}]});
        assert_eq!(
            VersionRange::from_version_document(&doc),
            Some(VersionRange {
                min: v(1, 0),
                max: v(1, 39)
            })
        );
    }

    #[test]
    fn a_root_document_with_the_legacy_v2_prefers_the_microversioned_entry() {
        let doc = serde_json::json!({"versions": [
            {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": ""},
            {"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1"}]});
        assert_eq!(
            VersionRange::from_version_document(&doc),
            Some(VersionRange {
                min: v(2, 1),
                max: v(2, 96)
            })
        );
    }
}
