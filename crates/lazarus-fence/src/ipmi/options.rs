//! What an `ipmitool` driver is built from.

use std::path::PathBuf;
use std::time::Duration;

use lazarus_openstack::Secret;

/// How to reach one IPMI BMC.
#[derive(Debug, Clone)]
pub struct IpmiOptions {
    /// The BMC's address (name, IPv4 or IPv6).
    pub host: String,
    /// Its UDP port (623 by default).
    pub port: u16,
    /// The BMC user.
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// `ipmitool -I`: `lanplus` (IPMI 2.0, the default) or `lan` (IPMI 1.5).
    pub interface: String,
    /// `ipmitool -C`: the cipher suite, if the BMC needs a particular one.
    pub cipher_suite: Option<u8>,
    /// `ipmitool -N`: seconds ipmitool waits for each answer.
    pub request_timeout: Duration,
    /// `ipmitool -R`: how often ipmitool resends an unanswered request.
    pub retries: u32,
    /// The `ipmitool` program (found in `PATH` by default).
    pub program: PathBuf,
}

impl IpmiOptions {
    /// Options with the defaults: `lanplus`, 2 s per answer, 2 resends.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        password: Secret,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            username: username.into(),
            password,
            interface: "lanplus".to_owned(),
            cipher_suite: None,
            request_timeout: Duration::from_secs(2),
            retries: 2,
            program: PathBuf::from("ipmitool"),
        }
    }
}
