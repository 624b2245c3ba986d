//! Where to find the cloud and how to log in: `clouds.yaml` or `OS_*` variables, read
//! the way openstacksdk reads them so operators can reuse what they already have.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use crate::secret::Secret;

/// Everything needed to reach one cloud: Keystone, credentials, and how to pick
/// endpoints from the catalog. Its `Debug` output never shows a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// Where the configuration came from: `clouds.yaml cloud "x" (<path>)` or
    /// `OS_* environment variables`. Only for messages.
    pub origin: String,
    /// Keystone's URL, with or without the `/v3` suffix.
    pub auth_url: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// The region whose endpoints to use; `None` accepts any region.
    pub region: Option<String>,
    /// Which endpoint interface to use from the catalog.
    pub interface: Interface,
    /// Whether to verify TLS certificates (`verify: false` / `OS_INSECURE=true` turn
    /// it off).
    pub verify_tls: bool,
    /// An extra CA bundle (PEM) to trust (`cacert` / `OS_CACERT`).
    pub ca_cert: Option<PathBuf>,
}

/// A Keystone user or project: by id, or by name within a domain (by domain id or
/// name). Keystone rejects a name without a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameOrId {
    /// The id; when set, the name and domain are not sent.
    pub id: Option<String>,
    /// The name, unique within its domain.
    pub name: Option<String>,
    /// The domain's id.
    pub domain_id: Option<String>,
    /// The domain's name.
    pub domain_name: Option<String>,
}

impl NameOrId {
    fn is_empty(&self) -> bool {
        self.id.is_none() && self.name.is_none()
    }
}

/// How to authenticate to Keystone v3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `password` method, scoped to a project (unscoped if no project is given, which
    /// gives a token without a catalog: useless to lazarus, but Keystone's choice).
    Password {
        /// The user.
        user: NameOrId,
        /// The password.
        password: Secret,
        /// The project to scope the token to.
        project: Option<NameOrId>,
    },
    /// `application_credential` method: the credential is already scoped to its
    /// project. Given by id, or by name together with its owner.
    ApplicationCredential {
        /// The credential's id.
        id: Option<String>,
        /// The credential's name (needs `user`).
        name: Option<String>,
        /// The credential's secret.
        secret: Secret,
        /// The owner, when the credential is given by name.
        user: Option<NameOrId>,
    },
}

/// The endpoint interface to pick from the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    /// `public` (openstacksdk's default).
    #[default]
    Public,
    /// `internal`.
    Internal,
    /// `admin`.
    Admin,
}

impl Interface {
    /// The name the catalog uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interface {
    type Err = ConfigError;

    /// Accepts `public`, `internal`, `admin`, and the v2-era `publicURL` forms.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().trim_end_matches("url") {
            "public" => Ok(Self::Public),
            "internal" => Ok(Self::Internal),
            "admin" => Ok(Self::Admin),
            _ => Err(ConfigError::InvalidValue {
                field: "interface",
                value: text.to_owned(),
            }),
        }
    }
}

/// Why no usable configuration was found. None of these is retryable: a person has to
/// fix the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No cloud was named (argument or `OS_CLOUD`) and `OS_AUTH_URL` is not set.
    #[error("no cloud selected: set OS_CLOUD (with a clouds.yaml) or the OS_AUTH_URL family of variables")]
    NoCloudSelected,
    /// No `clouds.yaml` in the search path.
    #[error("cloud {cloud:?} selected but no clouds.yaml found (searched: {searched})")]
    NoCloudsFile {
        /// The cloud asked for.
        cloud: String,
        /// The paths looked at.
        searched: String,
    },
    /// A configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not valid YAML.
    #[error("cannot parse {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// The file has no such cloud.
    #[error("{path} has no cloud {cloud:?} (it has: {available})")]
    UnknownCloud {
        /// The cloud asked for.
        cloud: String,
        /// The file searched.
        path: PathBuf,
        /// The clouds it has.
        available: String,
    },
    /// A required setting is missing.
    #[error("{origin}: {field} is required")]
    Missing {
        /// Which configuration.
        origin: String,
        /// The missing setting.
        field: &'static str,
    },
    /// `auth_type` names a method this adapter does not implement.
    #[error("{origin}: auth_type {auth_type:?} is not supported (use password or v3applicationcredential)")]
    UnsupportedAuthType {
        /// Which configuration.
        origin: String,
        /// The value found.
        auth_type: String,
    },
    /// A setting has a value that makes no sense.
    #[error("invalid {field}: {value:?}")]
    InvalidValue {
        /// The setting.
        field: &'static str,
        /// The value found.
        value: String,
    },
}

/// The settings of one cloud, as `clouds.yaml` spells them (and as the `OS_*`
/// variables are mapped onto them).
#[derive(Debug, Default, Deserialize)]
struct RawCloud {
    #[serde(default)]
    auth: RawAuth,
    auth_type: Option<String>,
    region_name: Option<String>,
    interface: Option<String>,
    endpoint_type: Option<String>,
    verify: Option<bool>,
    insecure: Option<bool>,
    cacert: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawAuth {
    auth_url: Option<String>,
    username: Option<String>,
    user_id: Option<String>,
    password: Option<Secret>,
    project_name: Option<String>,
    project_id: Option<String>,
    tenant_name: Option<String>,
    tenant_id: Option<String>,
    user_domain_name: Option<String>,
    user_domain_id: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    application_credential_id: Option<String>,
    application_credential_name: Option<String>,
    application_credential_secret: Option<Secret>,
}

impl CloudConfig {
    /// The configuration as openstacksdk would choose it: the cloud named by `cloud`,
    /// else by `OS_CLOUD`, from the first `clouds.yaml` in the search path; with no
    /// cloud named, the `OS_*` variables.
    pub fn load(cloud: Option<&str>) -> Result<Self, ConfigError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match cloud.map(str::to_owned).or_else(|| env("OS_CLOUD")) {
            Some(name) => Self::from_clouds_yaml(&name),
            None if env("OS_AUTH_URL").is_some() => Self::from_env(),
            None => Err(ConfigError::NoCloudSelected),
        }
    }

    /// The cloud `name` from the first `clouds.yaml` found in openstacksdk's search
    /// path (`OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/`,
    /// `/etc/openstack/`), merged with the same cloud in `secure.yaml` if there is
    /// one (`OS_CLIENT_SECURE_FILE` or the same directories).
    pub fn from_clouds_yaml(name: &str) -> Result<Self, ConfigError> {
        let candidates = search_path("OS_CLIENT_CONFIG_FILE", "clouds");
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            return Err(ConfigError::NoCloudsFile {
                cloud: name.to_owned(),
                searched: display_paths(&candidates),
            });
        };
        let clouds = read_file(path)?;
        let secure_path = search_path("OS_CLIENT_SECURE_FILE", "secure")
            .into_iter()
            .find(|p| p.is_file());
        let secure = match &secure_path {
            Some(p) => Some(read_file(p)?),
            None => None,
        };
        Self::from_clouds_text(&clouds, secure.as_deref(), name, path)
    }

    /// The cloud `name` from the text of a `clouds.yaml` (and optionally of a
    /// `secure.yaml`, whose values win); `path` is only used in messages.
    pub fn from_clouds_text(
        clouds: &str,
        secure: Option<&str>,
        name: &str,
        path: &Path,
    ) -> Result<Self, ConfigError> {
        let parse = |text: &str| {
            serde_yaml_ng::from_str::<Yaml>(text).map_err(|source| ConfigError::Parse {
                path: path.to_owned(),
                source,
            })
        };
        let document = parse(clouds)?;
        let Some(mut cloud) = document.get("clouds").and_then(|c| c.get(name)).cloned() else {
            let available = document
                .get("clouds")
                .and_then(Yaml::as_mapping)
                .map(|m| {
                    m.keys()
                        .filter_map(Yaml::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            return Err(ConfigError::UnknownCloud {
                cloud: name.to_owned(),
                path: path.to_owned(),
                available,
            });
        };
        if let Some(secure) = secure {
            if let Some(extra) = parse(secure)?.get("clouds").and_then(|c| c.get(name)) {
                merge(&mut cloud, extra.clone());
            }
        }
        let raw: RawCloud =
            serde_yaml_ng::from_value(cloud).map_err(|source| ConfigError::Parse {
                path: path.to_owned(),
                source,
            })?;
        Self::from_raw(
            raw,
            format!("clouds.yaml cloud {name:?} ({})", path.display()),
        )
    }

    /// The configuration from the `OS_*` environment variables (`OS_AUTH_URL`,
    /// `OS_USERNAME`, `OS_PASSWORD`, `OS_PROJECT_NAME`, `OS_USER_DOMAIN_NAME`,
    /// `OS_PROJECT_DOMAIN_NAME`, `OS_APPLICATION_CREDENTIAL_ID`/`_SECRET`,
    /// `OS_REGION_NAME`, `OS_INTERFACE`, ...).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_vars(|name| std::env::var(name).ok())
    }

    /// Like [`CloudConfig::from_env`], reading variables through `lookup` (tests pass
    /// a map instead of mutating the process environment).
    pub fn from_env_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let raw = RawCloud {
            auth: RawAuth {
                auth_url: var("OS_AUTH_URL"),
                username: var("OS_USERNAME"),
                user_id: var("OS_USER_ID"),
                password: var("OS_PASSWORD").map(Secret::new),
                project_name: var("OS_PROJECT_NAME"),
                project_id: var("OS_PROJECT_ID"),
                tenant_name: var("OS_TENANT_NAME"),
                tenant_id: var("OS_TENANT_ID"),
                user_domain_name: var("OS_USER_DOMAIN_NAME"),
                user_domain_id: var("OS_USER_DOMAIN_ID"),
                project_domain_name: var("OS_PROJECT_DOMAIN_NAME"),
                project_domain_id: var("OS_PROJECT_DOMAIN_ID"),
                application_credential_id: var("OS_APPLICATION_CREDENTIAL_ID"),
                application_credential_name: var("OS_APPLICATION_CREDENTIAL_NAME"),
                application_credential_secret: var("OS_APPLICATION_CREDENTIAL_SECRET")
                    .map(Secret::new),
            },
            auth_type: var("OS_AUTH_TYPE"),
            region_name: var("OS_REGION_NAME"),
            interface: var("OS_INTERFACE"),
            endpoint_type: var("OS_ENDPOINT_TYPE"),
            verify: None,
            insecure: var("OS_INSECURE").map(|v| matches!(v.as_str(), "1" | "true" | "True")),
            cacert: var("OS_CACERT"),
        };
        Self::from_raw(raw, "OS_* environment variables".to_owned())
    }

    fn from_raw(raw: RawCloud, origin: String) -> Result<Self, ConfigError> {
        let missing = |field| ConfigError::Missing {
            origin: origin.clone(),
            field,
        };
        let auth = raw.auth;
        let auth_url = auth.auth_url.ok_or_else(|| missing("auth_url"))?;
        let user = NameOrId {
            id: auth.user_id,
            name: auth.username,
            domain_id: auth.user_domain_id,
            domain_name: auth.user_domain_name,
        };
        let auth_type = raw.auth_type.unwrap_or_else(|| {
            if auth.application_credential_secret.is_some() {
                "v3applicationcredential".to_owned()
            } else {
                "password".to_owned()
            }
        });
        let credentials = match auth_type.as_str() {
            "password" | "v3password" => {
                let project = NameOrId {
                    id: auth.project_id.or(auth.tenant_id),
                    name: auth.project_name.or(auth.tenant_name),
                    domain_id: auth.project_domain_id,
                    domain_name: auth.project_domain_name,
                };
                if user.is_empty() {
                    return Err(missing("username or user_id"));
                }
                Credentials::Password {
                    user,
                    password: auth.password.ok_or_else(|| missing("password"))?,
                    project: (!project.is_empty()).then_some(project),
                }
            }
            "v3applicationcredential" | "applicationcredential" => {
                let secret = auth
                    .application_credential_secret
                    .ok_or_else(|| missing("application_credential_secret"))?;
                let id = auth.application_credential_id;
                let name = auth.application_credential_name;
                if id.is_none() && (name.is_none() || user.is_empty()) {
                    return Err(missing(
                        "application_credential_id (or _name with username or user_id)",
                    ));
                }
                Credentials::ApplicationCredential {
                    id,
                    name,
                    secret,
                    user: (!user.is_empty()).then_some(user),
                }
            }
            other => {
                return Err(ConfigError::UnsupportedAuthType {
                    origin,
                    auth_type: other.to_owned(),
                })
            }
        };
        let interface = match raw.interface.or(raw.endpoint_type) {
            Some(text) => text.parse()?,
            None => Interface::default(),
        };
        Ok(Self {
            origin,
            auth_url,
            credentials,
            region: raw.region_name,
            interface,
            verify_tls: raw.verify.unwrap_or(true) && !raw.insecure.unwrap_or(false),
            ca_cert: raw.cacert.map(PathBuf::from),
        })
    }
}

/// openstacksdk's search path for `clouds.yaml` (`stem` = `clouds`) or `secure.yaml`:
/// the file named by `override_var`, then the current directory, the user's config
/// directory and `/etc/openstack`, each with `.yaml` then `.yml`.
fn search_path(override_var: &str, stem: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(file) = std::env::var_os(override_var).filter(|v| !v.is_empty()) {
        paths.push(PathBuf::from(file));
    }
    let mut dirs = vec![PathBuf::from(".")];
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        dirs.push(Path::new(&home).join(".config/openstack"));
    }
    dirs.push(PathBuf::from("/etc/openstack"));
    for dir in dirs {
        for ext in ["yaml", "yml"] {
            paths.push(dir.join(format!("{stem}.{ext}")));
        }
    }
    paths
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Deep-merges `extra` into `base` (mappings key by key; anything else replaced), the
/// way openstacksdk merges `secure.yaml` into `clouds.yaml`.
fn merge(base: &mut Yaml, extra: Yaml) {
    match (base, extra) {
        (Yaml::Mapping(base), Yaml::Mapping(extra)) => {
            for (key, value) in extra {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, extra) => *base = extra,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const CLOUDS: &str = r#"
clouds:
  devcloud-admin:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      password: s3cret
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example:5000
      application_credential_id: 0123abcd
    verify: false
"#;

    fn cloud(name: &str, secure: Option<&str>) -> Result<CloudConfig, ConfigError> {
        CloudConfig::from_clouds_text(CLOUDS, secure, name, Path::new("clouds.yaml"))
    }

    #[test]
    fn a_password_cloud_is_read_from_clouds_yaml() {
        let config = cloud("devcloud-admin", None).unwrap();
        assert_eq!(config.auth_url, "http://127.0.0.1:5000/v3");
        assert_eq!(config.region.as_deref(), Some("RegionOne"));
        assert_eq!(config.interface, Interface::Internal);
        assert!(config.verify_tls);
        let Credentials::Password {
            user,
            password,
            project,
        } = &config.credentials
        else {
            panic!("{config:?}");
        };
        assert_eq!(user.name.as_deref(), Some("admin"));
        assert_eq!(user.domain_name.as_deref(), Some("Default"));
        assert_eq!(password.expose(), "s3cret");
        assert_eq!(
            project.as_ref().and_then(|p| p.name.as_deref()),
            Some("admin")
        );
    }

    #[test]
    fn the_debug_output_of_a_config_has_no_secret() {
        let config = cloud("devcloud-admin", None).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("Secret(***)"), "{debug}");
    }

    #[test]
    fn secure_yaml_supplies_the_secret() {
        let secure = "clouds:\n  appcred:\n    auth:\n      application_credential_secret: xyz\n";
        let config = cloud("appcred", Some(secure)).unwrap();
        assert!(!config.verify_tls);
        let Credentials::ApplicationCredential { id, secret, .. } = &config.credentials else {
            panic!("{config:?}");
        };
        assert_eq!(id.as_deref(), Some("0123abcd"));
        assert_eq!(secret.expose(), "xyz");
    }

    #[test]
    fn missing_pieces_are_named() {
        let error = cloud("appcred", None).unwrap_err();
        assert!(
            error.to_string().contains("application_credential_secret"),
            "{error}"
        );
        let error = cloud("nope", None).unwrap_err();
        assert!(
            error.to_string().contains("devcloud-admin, appcred"),
            "{error}"
        );
    }

    fn env(vars: &[(&str, &str)]) -> Result<CloudConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CloudConfig::from_env_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn os_variables_give_a_password_config() {
        let config = env(&[
            ("OS_AUTH_URL", "http://k:5000"),
            ("OS_USERNAME", "lazarus"),
            ("OS_PASSWORD", "pw"),
            ("OS_PROJECT_NAME", "service"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_NAME", "Default"),
            ("OS_REGION_NAME", "RegionTwo"),
            ("OS_INTERFACE", "publicURL"),
        ])
        .unwrap();
        assert_eq!(config.region.as_deref(), Some("RegionTwo"));
        assert_eq!(config.interface, Interface::Public);
        assert!(matches!(config.credentials, Credentials::Password { .. }));
    }

    #[test]
    fn os_application_credential_variables_select_that_method() {
        let config = env(&[
            ("OS_AUTH_URL", "http://k:5000"),
            ("OS_APPLICATION_CREDENTIAL_ID", "id1"),
            ("OS_APPLICATION_CREDENTIAL_SECRET", "sec"),
        ])
        .unwrap();
        assert!(matches!(
            config.credentials,
            Credentials::ApplicationCredential { id: Some(_), .. }
        ));
    }

    #[test]
    fn a_bad_interface_or_auth_type_is_refused() {
        let base = [
            ("OS_AUTH_URL", "x"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p"),
        ];
        let mut vars = base.to_vec();
        vars.push(("OS_INTERFACE", "sideways"));
        assert!(matches!(env(&vars), Err(ConfigError::InvalidValue { .. })));
        let mut vars = base.to_vec();
        vars.push(("OS_AUTH_TYPE", "v3oidcpassword"));
        assert!(matches!(
            env(&vars),
            Err(ConfigError::UnsupportedAuthType { .. })
        ));
    }
}
