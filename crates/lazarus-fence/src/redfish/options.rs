//! What a Redfish client is built from.

use std::path::PathBuf;
use std::time::Duration;

use lazarus_openstack::Secret;

/// How to reach and authenticate to one Redfish BMC.
#[derive(Debug, Clone)]
pub struct RedfishOptions {
    /// Base URL of the BMC, `https://host[:port]` (or `http://` for emulators); the
    /// service root is `{address}/redfish/v1`. Must not carry credentials.
    pub address: String,
    /// The BMC user.
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// Which system of the BMC (URI segment, `Id`, `Name` or `UUID`); `None`: the
    /// BMC must have exactly one.
    pub system: Option<String>,
    /// Whom to trust for HTTPS.
    pub tls: TlsOptions,
    /// The longest one HTTP request may take.
    pub request_timeout: Duration,
    /// The longest opening a connection may take.
    pub connect_timeout: Duration,
    /// Retries of one request after a retryable failure (0: a single try).
    pub retries: u32,
    /// Delay before the first retry, doubled for each next one.
    pub retry_delay: Duration,
}

impl RedfishOptions {
    /// Options with the defaults: built-in web roots, 5 s per request, 3 s to
    /// connect, 2 retries from 500 ms.
    pub fn new(address: impl Into<String>, username: impl Into<String>, password: Secret) -> Self {
        Self {
            address: address.into(),
            username: username.into(),
            password,
            system: None,
            tls: TlsOptions::default(),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            retries: 2,
            retry_delay: Duration::from_millis(500),
        }
    }
}

/// Whom a Redfish client trusts for HTTPS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A PEM file of CA certificates: when set, the **only** roots trusted (BMC
    /// certificates are issued by a private CA, never by a public one).
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (self-signed BMCs). Explicit, logged at start, and
    /// refused together with `ca_file`.
    pub insecure: bool,
}
