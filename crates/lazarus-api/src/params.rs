//! Query strings: repeated keys, Masakari's paging and sorting parameters, strict booleans.

use lazarus_store::{ListQuery, SortDir, Time};

use crate::error::ApiError;
use crate::validate::parse_isotime;

/// A query string as an ordered multi-map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (`None` for none).
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `key` (as webob's `params[key]` gives it).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `limit`, `marker`, `sort_key` and `sort_dir` as Masakari reads them: limit a
    /// non-negative integer capped at `max_limit` (which is also the default); sort
    /// directions `asc`/`desc`, no more of them than keys, missing ones copied from the
    /// first; `created_at desc` when nothing is given.
    pub fn list_query(&self, max_limit: u32) -> Result<ListQuery, ApiError> {
        let limit = match self.get("limit") {
            None => max_limit,
            Some(text) => {
                let n: i64 = text
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::bad_request("limit must be an integer"))?;
                if n < 0 {
                    return Err(ApiError::bad_request("limit must be >= 0"));
                }
                u32::try_from(n).unwrap_or(u32::MAX).min(max_limit)
            }
        };
        let mut keys: Vec<String> = self
            .all("sort_key")
            .into_iter()
            .map(|k| k.trim().to_owned())
            .collect();
        let mut dirs = Vec::new();
        for d in self.all("sort_dir") {
            dirs.push(SortDir::parse(d.trim()).ok_or_else(|| {
                ApiError::bad_request("Unknown sort direction, must be 'asc' or 'desc'")
            })?);
        }
        if keys.is_empty() {
            keys.push("created_at".into());
        }
        if dirs.len() > keys.len() {
            return Err(ApiError::bad_request(
                "Sort direction size exceeds sort key size",
            ));
        }
        let first = dirs.first().copied().unwrap_or(SortDir::Desc);
        while dirs.len() < keys.len() {
            dirs.push(first);
        }
        Ok(ListQuery {
            limit: Some(limit),
            marker: self.get("marker").map(str::to_owned),
            sort: keys.into_iter().zip(dirs).collect(),
        })
    }

    /// A strict boolean filter (oslo's `bool_from_string(strict=True)`), if present.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| {
                parse_bool_strict(v).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Invalid value for {key}: Unrecognized value '{v}', acceptable values \
                         are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', \
                         'y', 'yes'"
                    ))
                })
            })
            .transpose()
    }

    /// An ISO 8601 time filter, if present under any of `keys`.
    pub fn time(&self, keys: &[&str]) -> Result<Option<Time>, ApiError> {
        let Some((key, v)) = keys.iter().find_map(|k| self.get(k).map(|v| (*k, v))) else {
            return Ok(None);
        };
        parse_isotime(v)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid {key} value")))
    }
}

/// oslo's strict boolean strings.
pub fn parse_bool_strict(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_sort_keys_keep_their_order_and_missing_dirs_copy_the_first() {
        let p = Params::parse(Some(
            "sort_key=name&sort_key=type&sort_dir=asc&limit=5&marker=m",
        ));
        let q = p.list_query(1000).unwrap();
        assert_eq!(
            q.sort,
            vec![("name".into(), SortDir::Asc), ("type".into(), SortDir::Asc)]
        );
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.marker.as_deref(), Some("m"));
    }

    #[test]
    fn defaults_are_created_at_desc_and_the_max_limit() {
        let q = Params::parse(None).list_query(1000).unwrap();
        assert_eq!(q.sort, vec![("created_at".into(), SortDir::Desc)]);
        assert_eq!(q.limit, Some(1000));
        let capped = Params::parse(Some("limit=5000")).list_query(1000).unwrap();
        assert_eq!(capped.limit, Some(1000));
    }

    #[test]
    fn bad_paging_and_sorting_is_a_bad_request() {
        for q in [
            "limit=-1",
            "limit=ten",
            "sort_dir=up",
            "sort_key=name&sort_dir=asc&sort_dir=desc",
        ] {
            assert!(Params::parse(Some(q)).list_query(1000).is_err(), "{q}");
        }
    }

    #[test]
    fn booleans_are_strict() {
        let p = Params::parse(Some("a=True&b=off&c=maybe"));
        assert_eq!(p.bool("a").unwrap(), Some(true));
        assert_eq!(p.bool("b").unwrap(), Some(false));
        assert!(p.bool("c").is_err());
        assert_eq!(p.bool("d").unwrap(), None);
    }
}
