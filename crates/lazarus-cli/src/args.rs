//! Options shared by many commands: how to reach the API and how to page a list.

use clap::Args;

/// Where the API is and how to authenticate. Global: accepted before or after the
/// subcommand (`lazarus segment --endpoint URL list` or `lazarus segment list --endpoint
/// URL`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ConnectionArgs {
    /// URL of the lazarus API, e.g. `http://127.0.0.1:15868`. Without `--os-cloud`
    /// requests carry no token (for controllers configured with `auth = "none"`); with
    /// it, this overrides the `instance-ha` endpoint of the Keystone catalog.
    #[arg(long, env = "LAZARUS_ENDPOINT", global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The cloud of `clouds.yaml` to authenticate with (Keystone token; the API's URL
    /// is the catalog's `instance-ha` endpoint unless `--endpoint` is given).
    #[arg(
        long = "os-cloud",
        env = "OS_CLOUD",
        global = true,
        value_name = "NAME"
    )]
    pub os_cloud: Option<String>,
    /// Send no token even if `--os-cloud` or `OS_CLOUD` names a cloud (for a controller
    /// with `auth = "none"` in a shell where `OS_CLOUD` is set).
    #[arg(long, global = true)]
    pub no_auth: bool,
    /// The `instance-ha` microversion to ask for (`1.0` to `1.3`, or `latest`).
    #[arg(
        long = "os-api-version",
        env = "OS_INSTANCE_HA_API_VERSION",
        global = true,
        default_value = "1.3",
        value_name = "X.Y",
        value_parser = parse_api_version
    )]
    pub api_version: String,
    /// Seconds to wait for each HTTP request.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
}

impl Default for ConnectionArgs {
    fn default() -> Self {
        Self {
            endpoint: None,
            os_cloud: None,
            no_auth: false,
            api_version: "1.3".to_owned(),
            timeout: 30,
        }
    }
}

/// The endpoint used when neither `--endpoint` nor `--os-cloud` says otherwise: the
/// controller's default listen address (Masakari's port).
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:15868";

/// Accepts `latest` or `MAJOR.MINOR` with major 1 (the only one).
fn parse_api_version(s: &str) -> Result<String, String> {
    if s.eq_ignore_ascii_case("latest") {
        return Ok("latest".to_owned());
    }
    let ok = s.split_once('.').is_some_and(|(major, minor)| {
        major == "1" && !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
    });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not an instance-ha version like 1.3 or `latest`"
        ))
    }
}

/// A sort key with an optional direction, as `--sort name:asc` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The field to sort by.
    pub key: String,
    /// `asc` or `desc`; the API's default when absent.
    pub dir: Option<String>,
}

fn parse_sort_key(s: &str) -> Result<SortKey, String> {
    let (key, dir) = match s.split_once(':') {
        Some((k, d)) => (k.trim(), Some(d.trim().to_ascii_lowercase())),
        None => (s.trim(), None),
    };
    if key.is_empty() {
        return Err("a sort key is empty".to_owned());
    }
    if let Some(d) = &dir {
        if d != "asc" && d != "desc" {
            return Err(format!("sort direction {d:?} is neither asc nor desc"));
        }
    }
    Ok(SortKey {
        key: key.to_owned(),
        dir,
    })
}

/// Paging and sorting of a list, passed to the API as Masakari's `limit`, `marker`,
/// `sort_key` and `sort_dir`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ListArgs {
    /// The largest number of items to return (the API caps it at 1000).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Start after the item with this id (the last one of the previous page).
    #[arg(long, value_name = "ID")]
    pub marker: Option<String>,
    /// Sort by these keys: `key[:asc|desc][,key[:asc|desc]...]`; newest first
    /// (`created_at:desc`) by default.
    #[arg(long, value_name = "KEY[:DIR],...", value_delimiter = ',', value_parser = parse_sort_key)]
    pub sort: Vec<SortKey>,
}

impl ListArgs {
    /// The query parameters: a direction for every key as soon as one is given
    /// (missing ones `asc`), since the API pairs keys and directions by position.
    pub fn query(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        if let Some(limit) = self.limit {
            q.push(("limit".to_owned(), limit.to_string()));
        }
        if let Some(marker) = &self.marker {
            q.push(("marker".to_owned(), marker.clone()));
        }
        let any_dir = self.sort.iter().any(|s| s.dir.is_some());
        for s in &self.sort {
            q.push(("sort_key".to_owned(), s.key.clone()));
        }
        if any_dir {
            for s in &self.sort {
                q.push((
                    "sort_dir".to_owned(),
                    s.dir.clone().unwrap_or_else(|| "asc".to_owned()),
                ));
            }
        }
        q
    }
}

/// Pushes `key=value` onto a query if the value is set.
pub(crate) fn push_opt(q: &mut Vec<(String, String)>, key: &str, value: Option<impl ToString>) {
    if let Some(v) = value {
        q.push((key.to_owned(), v.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_get_directions_only_when_one_is_given() {
        let bare = ListArgs {
            sort: vec![parse_sort_key("name").unwrap()],
            ..ListArgs::default()
        };
        assert_eq!(bare.query(), vec![("sort_key".into(), "name".into())]);
        let mixed = ListArgs {
            limit: Some(5),
            marker: None,
            sort: vec![
                parse_sort_key("name").unwrap(),
                parse_sort_key("created_at:DESC").unwrap(),
            ],
        };
        assert_eq!(
            mixed.query(),
            vec![
                ("limit".into(), "5".into()),
                ("sort_key".into(), "name".into()),
                ("sort_key".into(), "created_at".into()),
                ("sort_dir".into(), "asc".into()),
                ("sort_dir".into(), "desc".into()),
            ]
        );
    }

    #[test]
    fn bad_sort_directions_and_versions_are_refused() {
        assert!(parse_sort_key("name:up").is_err());
        assert!(parse_sort_key(":asc").is_err());
        assert!(parse_api_version("2.0").is_err());
        assert!(parse_api_version("1").is_err());
        assert_eq!(parse_api_version("1.2").unwrap(), "1.2");
        assert_eq!(parse_api_version("LATEST").unwrap(), "latest");
    }
}
