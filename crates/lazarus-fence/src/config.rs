//! The BMC of each host, as the controller's configuration describes it, and the
//! drivers built from it.
//!
//! ```toml
//! [bmc]
//! call_timeout = "20s"          # time limit of one power-off, power-on or read
//!
//! [bmc.hosts.compute1]
//! driver = "redfish"
//! address = "https://10.0.0.11"  # scheme://host[:port]; the service root is /redfish/v1
//! username = "lazarus"
//! password_file = "/etc/lazarus/bmc/compute1"   # or password = "..." (discouraged)
//! system = "System.Embedded.1"   # optional when the BMC has one system
//! ca_file = "/etc/lazarus/bmc-ca.pem"           # or insecure = true
//!
//! [bmc.hosts.compute2]
//! driver = "ipmi"
//! address = "10.0.0.12"
//! port = 623
//! username = "lazarus"
//! password_file = "/etc/lazarus/bmc/compute2"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lazarus_core::HostName;
use lazarus_openstack::Secret;
use serde::{Deserialize, Serialize, Serializer};

use crate::ipmi::{IpmiOptions, Ipmitool};
use crate::redfish::{Redfish, RedfishOptions, TlsOptions};
use crate::PowerControl;

/// Why a BMC configuration was refused. Checked at start-up, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value is wrong; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// A file named in the configuration (password, CA) could not be read.
    #[error("cannot read {path}: {error}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// `[bmc]`: the BMC of every host fenced by [`lazarus_core::model::FenceMethod::Bmc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BmcSection {
    /// Time limit of one BMC call (power-off, power-on or read), retries included.
    /// The default, 20 s, leaves room for a driver's own retries (Redfish: 5 s per
    /// request, 2 retries after 0.5 s and 1 s).
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// Each host's BMC, by the host's Nova name.
    pub hosts: BTreeMap<HostName, HostBmc>,
}

impl Default for BmcSection {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(20),
            hosts: BTreeMap::new(),
        }
    }
}

/// One host's BMC, by driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "driver", rename_all = "snake_case")]
pub enum HostBmc {
    /// Redfish over HTTPS (or HTTP, for emulators).
    Redfish(RedfishConfig),
    /// IPMI 2.0 through `ipmitool`.
    Ipmi(IpmiConfig),
}

/// Where the password is: in the configuration (discouraged), or in a file of its own
/// (its first line; readable by the controller's user only).
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    /// The BMC user.
    pub username: String,
    /// The password itself.
    pub password: Option<Secret>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
}

impl Credentials {
    /// The password, from the configuration or its file (exactly one must be given).
    pub fn password(&self) -> Result<Secret, ConfigError> {
        match (&self.password, &self.password_file) {
            (Some(p), None) => Ok(p.clone()),
            (None, Some(path)) => read_password_file(path),
            (Some(_), Some(_)) => Err(ConfigError::Invalid(
                "give password or password_file, not both".to_owned(),
            )),
            (None, None) => Err(ConfigError::Invalid(
                "no password: set password_file (or password)".to_owned(),
            )),
        }
    }
}

/// Prints a password as `"***"` (the effective configuration goes to the log).
fn redacted<S: Serializer>(p: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(_) => s.serialize_some("***"),
        None => s.serialize_none(),
    }
}

/// Reads a password file: its first line, without the line ending. Warns when others
/// than its owner may read it.
pub fn read_password_file(path: &Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        error: e.to_string(),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %path.display(), "BMC password file is readable by group or others; chmod 600 it");
            }
        }
    }
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "{}: the password file is empty",
            path.display()
        )));
    }
    Ok(Secret::new(line))
}

fn default_redfish_request_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(3)
}
fn default_retries() -> u32 {
    2
}
fn default_retry_delay() -> Duration {
    Duration::from_millis(500)
}
fn default_ipmi_port() -> u16 {
    623
}
fn default_interface() -> String {
    "lanplus".to_owned()
}
fn default_ipmi_request_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_program() -> PathBuf {
    PathBuf::from("ipmitool")
}

/// `driver = "redfish"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedfishConfig {
    /// `https://host[:port]`.
    pub address: String,
    /// The BMC user.
    pub username: String,
    /// The password itself (discouraged: prefer `password_file`). Written back as
    /// `"***"` when the configuration is printed.
    #[serde(default, serialize_with = "redacted")]
    pub password: Option<Secret>,
    /// A file whose first line is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Which system (URI segment, `Id`, `Name` or `UUID`); unset: the only one.
    #[serde(default)]
    pub system: Option<String>,
    /// PEM CA certificates to trust (only these).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate.
    #[serde(default)]
    pub insecure: bool,
    /// Time limit of one HTTP request.
    #[serde(default = "default_redfish_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Time limit to open a connection.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Retries of one request on a connection error, timeout or 500/502/503/504.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First retry delay, doubled each time.
    #[serde(default = "default_retry_delay", with = "humantime_serde")]
    pub retry_delay: Duration,
}

/// `driver = "ipmi"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpmiConfig {
    /// The BMC's address.
    pub address: String,
    /// Its UDP port.
    #[serde(default = "default_ipmi_port")]
    pub port: u16,
    /// The BMC user.
    pub username: String,
    /// The password itself (discouraged: prefer `password_file`). Written back as
    /// `"***"` when the configuration is printed.
    #[serde(default, serialize_with = "redacted")]
    pub password: Option<Secret>,
    /// A file whose first line is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `lanplus` or `lan`.
    #[serde(default = "default_interface")]
    pub interface: String,
    /// `ipmitool -C`.
    #[serde(default)]
    pub cipher_suite: Option<u8>,
    /// `ipmitool -N`, whole seconds.
    #[serde(default = "default_ipmi_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// `ipmitool -R`.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The `ipmitool` program.
    #[serde(default = "default_program")]
    pub program: PathBuf,
}

impl RedfishConfig {
    /// Its user and password sources.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            username: self.username.clone(),
            password: self.password.clone(),
            password_file: self.password_file.clone(),
        }
    }
}

impl IpmiConfig {
    /// Its user and password sources.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            username: self.username.clone(),
            password: self.password.clone(),
            password_file: self.password_file.clone(),
        }
    }
}

impl HostBmc {
    /// The driver for this BMC: reads the password and CA files now, so that a wrong
    /// path fails at start-up rather than during a fence.
    pub fn driver(&self) -> Result<Arc<dyn PowerControl>, ConfigError> {
        match self {
            HostBmc::Redfish(c) => {
                let options = RedfishOptions {
                    address: c.address.clone(),
                    username: c.username.clone(),
                    password: c.credentials().password()?,
                    system: c.system.clone(),
                    tls: TlsOptions {
                        ca_file: c.ca_file.clone(),
                        insecure: c.insecure,
                    },
                    request_timeout: c.request_timeout,
                    connect_timeout: c.connect_timeout,
                    retries: c.retries,
                    retry_delay: c.retry_delay,
                };
                Ok(Arc::new(Redfish::new(options)?))
            }
            HostBmc::Ipmi(c) => {
                if !matches!(c.interface.as_str(), "lanplus" | "lan") {
                    return Err(ConfigError::Invalid(format!(
                        "IPMI interface {:?}: use lanplus or lan",
                        c.interface
                    )));
                }
                let options = IpmiOptions {
                    host: c.address.clone(),
                    port: c.port,
                    username: c.username.clone(),
                    password: c.credentials().password()?,
                    interface: c.interface.clone(),
                    cipher_suite: c.cipher_suite,
                    request_timeout: c.request_timeout,
                    retries: c.retries,
                    program: c.program.clone(),
                };
                Ok(Arc::new(Ipmitool::new(options)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn parse(text: &str) -> Result<BmcSection, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn a_section_names_each_hosts_driver_and_address() {
        let s = parse(
            r#"
            call_timeout = "5s"
            [hosts.compute1]
            driver = "redfish"
            address = "https://10.0.0.11"
            username = "lazarus"
            password_file = "/etc/lazarus/bmc/compute1"
            system = "System.Embedded.1"
            ca_file = "/etc/lazarus/bmc-ca.pem"
            [hosts.compute2]
            driver = "ipmi"
            address = "10.0.0.12"
            username = "lazarus"
            password = "pw"
            "#,
        )
        .unwrap();
        assert_eq!(s.call_timeout, Duration::from_secs(5));
        let HostBmc::Redfish(r) = &s.hosts[&HostName::from("compute1")] else {
            panic!("compute1 is redfish");
        };
        assert_eq!(r.system.as_deref(), Some("System.Embedded.1"));
        assert_eq!(r.retries, 2);
        assert_eq!(r.request_timeout, Duration::from_secs(5));
        let HostBmc::Ipmi(i) = &s.hosts[&HostName::from("compute2")] else {
            panic!("compute2 is ipmi");
        };
        assert_eq!(i.port, 623);
        assert_eq!(i.interface, "lanplus");
    }

    #[test]
    fn unknown_keys_and_drivers_are_refused() {
        let typo = parse(
            r#"
            [hosts.compute1]
            driver = "redfish"
            address = "https://10.0.0.11"
            username = "u"
            password = "p"
            insecur = true
            "#,
        );
        assert!(typo.is_err());
        let driver = parse(
            r#"
            [hosts.compute1]
            driver = "ilo"
            address = "x"
            username = "u"
            password = "p"
            "#,
        );
        assert!(driver.is_err());
    }

    #[test]
    fn a_password_in_the_configuration_never_shows_in_debug_output() {
        let s = parse(
            r#"
            [hosts.compute2]
            driver = "ipmi"
            address = "10.0.0.12"
            username = "lazarus"
            password = "hunter2-bmc"
            "#,
        )
        .unwrap();
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2-bmc"), "{text}");
        let driver = s.hosts[&HostName::from("compute2")].driver().unwrap();
        assert!(!format!("{driver:?}").contains("hunter2-bmc"));
    }

    #[test]
    fn the_printed_configuration_parses_back_without_the_password() {
        let s = parse(
            r#"
            call_timeout = "5s"
            [hosts.compute1]
            driver = "redfish"
            address = "https://10.0.0.11"
            username = "u"
            password = "hunter2-bmc"
            request_timeout = "1500ms"
            [hosts.compute2]
            driver = "ipmi"
            address = "10.0.0.12"
            username = "u"
            password_file = "/etc/lazarus/bmc/compute2"
            "#,
        )
        .unwrap();
        let text = toml::to_string(&s).unwrap();
        assert!(!text.contains("hunter2-bmc"), "{text}");
        assert!(text.contains("driver = \"ipmi\""), "{text}");
        let back = parse(&text).unwrap();
        assert_eq!(back.hosts.len(), 2);
        assert_eq!(back.call_timeout, s.call_timeout);
        assert_eq!(
            back.hosts[&HostName::from("compute2")],
            s.hosts[&HostName::from("compute2")]
        );
    }

    #[test]
    fn the_password_file_gives_its_first_line() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "from-a-file").unwrap();
        writeln!(f, "ignored").unwrap();
        let c = Credentials {
            username: "u".to_owned(),
            password: None,
            password_file: Some(f.path().to_owned()),
        };
        assert_eq!(c.password().unwrap().expose(), "from-a-file");
    }

    #[test]
    fn exactly_one_password_source_is_required() {
        let both = Credentials {
            username: "u".to_owned(),
            password: Some(Secret::new("p")),
            password_file: Some(PathBuf::from("/x")),
        };
        assert!(matches!(both.password(), Err(ConfigError::Invalid(_))));
        let none = Credentials {
            username: "u".to_owned(),
            password: None,
            password_file: None,
        };
        assert!(matches!(none.password(), Err(ConfigError::Invalid(_))));
        let missing = Credentials {
            username: "u".to_owned(),
            password: None,
            password_file: Some(PathBuf::from("/nonexistent/bmc-password")),
        };
        assert!(matches!(missing.password(), Err(ConfigError::File { .. })));
    }

    fn redfish(address: &str) -> RedfishConfig {
        RedfishConfig {
            address: address.to_owned(),
            username: "u".to_owned(),
            password: Some(Secret::new("p")),
            password_file: None,
            system: None,
            ca_file: None,
            insecure: false,
            request_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            retries: 0,
            retry_delay: Duration::from_millis(1),
        }
    }

    #[test]
    fn a_redfish_address_is_a_bare_base_url_without_credentials() {
        for bad in [
            "10.0.0.11",
            "ftp://10.0.0.11",
            "https://admin:pw@10.0.0.11",
            "https://10.0.0.11/redfish/v1",
        ] {
            let err = HostBmc::Redfish(redfish(bad)).driver().unwrap_err();
            assert!(matches!(err, ConfigError::Invalid(_)), "{bad}: {err:?}");
            assert!(!err.to_string().contains("pw@"), "{err}");
        }
        assert!(HostBmc::Redfish(redfish("https://10.0.0.11:8443/"))
            .driver()
            .is_ok());
    }

    #[test]
    fn a_ca_file_and_insecure_together_are_refused() {
        let mut c = redfish("https://10.0.0.11");
        c.insecure = true;
        c.ca_file = Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
        assert!(matches!(
            HostBmc::Redfish(c).driver(),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn a_ca_file_that_holds_no_certificate_is_refused() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "not a certificate").unwrap();
        let mut c = redfish("https://10.0.0.11");
        c.ca_file = Some(f.path().to_owned());
        assert!(matches!(
            HostBmc::Redfish(c).driver(),
            Err(ConfigError::Invalid(_))
        ));
    }
}
