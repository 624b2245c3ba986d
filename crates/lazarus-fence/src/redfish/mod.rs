//! Redfish: a thin client over reqwest for the four things fencing needs.
//!
//! 1. `GET /redfish/v1` (service root) → the `Systems` link;
//! 2. `GET` the systems collection → the configured system (by URI segment, `Id`,
//!    `Name` or `UUID`), or the only one;
//! 3. `POST {"ResetType": "ForceOff"|"On"}` to its `#ComputerSystem.Reset` target,
//!    after checking `ResetType@Redfish.AllowableValues` (inline, or in the
//!    `@Redfish.ActionInfo` resource) when the BMC lists them;
//! 4. `GET` the system → `PowerState`.
//!
//! Session-less HTTP Basic authentication on every request (no session to leak or
//! expire mid-fence), `OData-Version: 4.0`, a timeout per request, and bounded
//! retries with doubling delays on connection errors, timeouts and 500/502/503/504.
//! The resolved system is cached and forgotten when its URI answers 404.

mod model;
mod options;

pub use options::{RedfishOptions, TlsOptions};

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use lazarus_core::event::PowerState;
use lazarus_openstack::Secret;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::power::bounded;
use crate::{BmcError, ConfigError, PowerControl};
use model::{ActionInfo, Collection, ComputerSystem, ServiceRoot, Switch};

/// The path to a system and what its reset action allows, found once.
#[derive(Debug, Clone)]
struct SystemRef {
    uri: String,
    reset_target: Option<String>,
    allowable: Option<Vec<String>>,
}

/// A Redfish BMC.
#[derive(Debug)]
pub struct Redfish {
    http: reqwest::Client,
    base: String,
    username: String,
    password: Secret,
    system: Option<String>,
    retries: u32,
    retry_delay: Duration,
    request_timeout: Duration,
    resolved: Mutex<Option<SystemRef>>,
}

impl Redfish {
    /// A client for one BMC. Reads the CA file; nothing is sent yet.
    pub fn new(options: RedfishOptions) -> Result<Self, ConfigError> {
        let base = options.address.trim_end_matches('/').to_owned();
        let Some((scheme, rest)) = base.split_once("://") else {
            return Err(ConfigError::Invalid(format!(
                "Redfish address {base:?} has no scheme (write https://host[:port])"
            )));
        };
        if scheme != "https" && scheme != "http" {
            return Err(ConfigError::Invalid(format!(
                "Redfish address {base:?}: scheme must be https or http"
            )));
        }
        if rest.contains('@') {
            return Err(ConfigError::Invalid(
                "Redfish address must not carry credentials (use username and password_file)"
                    .to_owned(),
            ));
        }
        if rest.contains('/') {
            return Err(ConfigError::Invalid(format!(
                "Redfish address {base:?} must be scheme://host[:port] only (the service root is /redfish/v1)"
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert("OData-Version", HeaderValue::from_static("4.0"));
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("lazarus-fence/", env!("CARGO_PKG_VERSION")));
        match (&options.tls.ca_file, options.tls.insecure) {
            (Some(_), true) => {
                return Err(ConfigError::Invalid(
                    "ca_file and insecure are exclusive: trust a CA or nothing".to_owned(),
                ))
            }
            (Some(path), false) => {
                let pem = std::fs::read(path).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    error: e.to_string(),
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    ConfigError::Invalid(format!("{}: not a PEM certificate: {e}", path.display()))
                })?;
                if certs.is_empty() {
                    return Err(ConfigError::Invalid(format!(
                        "{}: no certificate in it",
                        path.display()
                    )));
                }
                builder = builder.tls_built_in_root_certs(false);
                for cert in certs {
                    builder = builder.add_root_certificate(cert);
                }
            }
            (None, true) => {
                warn!(bmc = %base, "TLS certificate verification is off for this BMC (insecure = true)");
                builder = builder.danger_accept_invalid_certs(true);
            }
            (None, false) => {}
        }
        let http = builder
            .build()
            .map_err(|e| ConfigError::Invalid(format!("HTTP client for {base}: {e}")))?;
        Ok(Self {
            http,
            base,
            username: options.username,
            password: options.password,
            system: options.system,
            retries: options.retries,
            retry_delay: options.retry_delay,
            request_timeout: options.request_timeout,
            resolved: Mutex::new(None),
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// One request, no retry: the body on 2xx, the mapped error otherwise.
    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<String, BmcError> {
        let mut request = self
            .http
            .request(method, self.url(path))
            .basic_auth(&self.username, Some(self.password.expose()));
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport(e))?;
        if status.is_success() {
            return Ok(text);
        }
        let message = model::error_message(&text)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(BmcError::AuthFailed(format!(
                "HTTP {} on {path}",
                status.as_u16()
            ))),
            _ => Err(BmcError::Http {
                status: status.as_u16(),
                message,
            }),
        }
    }

    fn transport(&self, e: reqwest::Error) -> BmcError {
        if e.is_timeout() {
            BmcError::Timeout(self.request_timeout)
        } else if e.is_decode() || e.is_body() {
            BmcError::Protocol(e.to_string())
        } else {
            // Connection refused or reset, TLS failures, DNS: the error chain says which.
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            BmcError::Unreachable(message)
        }
    }

    /// A request with bounded retries on retryable failures.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<String, BmcError> {
        let mut delay = self.retry_delay;
        let mut tries = 0u32;
        loop {
            tries = tries.saturating_add(1);
            match self.send_once(method.clone(), path, body).await {
                Ok(text) => return Ok(text),
                Err(e) if e.is_retryable() && tries <= self.retries => {
                    warn!(bmc = %self.base, %path, error = %e, try_ = tries, "Redfish request failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, BmcError> {
        let text = self.send(Method::GET, path, None).await?;
        serde_json::from_str(&text).map_err(|e| BmcError::Protocol(format!("GET {path}: {e}")))
    }

    /// Finds the system (once) and what its reset action allows.
    async fn system(&self) -> Result<SystemRef, BmcError> {
        if let Some(s) = self.cached() {
            return Ok(s);
        }
        let root: ServiceRoot = self.get("/redfish/v1").await?;
        let systems = root.systems.ok_or_else(|| {
            BmcError::Unsupported("the service root has no Systems collection".to_owned())
        })?;
        let collection: Collection = self.get(&systems.id).await?;
        let (uri, system) = self.pick(collection).await?;
        let system = match system {
            Some(s) => s,
            None => self.get(&uri).await?,
        };
        let reset = system.actions.and_then(|a| a.reset);
        let (reset_target, allowable) = match reset {
            None => (None, None),
            Some(r) => {
                let allowable = match (r.allowable, r.action_info) {
                    (Some(a), _) => Some(a),
                    (None, Some(info)) => match self.get::<ActionInfo>(&info).await {
                        Ok(i) => i.reset_types(),
                        Err(e) => {
                            debug!(bmc = %self.base, error = %e, "ActionInfo unreadable; sending the standard reset type");
                            None
                        }
                    },
                    (None, None) => None,
                };
                (Some(r.target), allowable)
            }
        };
        let found = SystemRef {
            uri,
            reset_target,
            allowable,
        };
        debug!(bmc = %self.base, system = %found.uri, "Redfish system found");
        if let Ok(mut cache) = self.resolved.lock() {
            *cache = Some(found.clone());
        }
        Ok(found)
    }

    fn cached(&self) -> Option<SystemRef> {
        self.resolved.lock().ok().and_then(|c| c.clone())
    }

    fn forget(&self) {
        if let Ok(mut cache) = self.resolved.lock() {
            *cache = None;
        }
    }

    /// The configured system among the collection's members (read only when the URI
    /// alone does not tell), or the only member.
    async fn pick(
        &self,
        collection: Collection,
    ) -> Result<(String, Option<ComputerSystem>), BmcError> {
        let members = collection.members;
        let Some(wanted) = &self.system else {
            return match members.as_slice() {
                [only] => Ok((only.id.clone(), None)),
                [] => Err(BmcError::Unsupported("the BMC lists no system".to_owned())),
                many => Err(BmcError::Unsupported(format!(
                    "the BMC lists {} systems ({}); configure which one with `system`",
                    many.len(),
                    many.iter()
                        .map(|m| m.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            };
        };
        if let Some(m) = members
            .iter()
            .find(|m| model::is_system(&m.id, None, wanted))
        {
            return Ok((m.id.clone(), None));
        }
        for m in &members {
            let s: ComputerSystem = self.get(&m.id).await?;
            if model::is_system(&m.id, Some(&s), wanted) {
                return Ok((m.id.clone(), Some(s)));
            }
        }
        Err(BmcError::Unsupported(format!(
            "no system {wanted:?} among {}",
            members
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    async fn read(&self) -> Result<PowerState, BmcError> {
        let system = self.system().await?;
        match self.get::<ComputerSystem>(&system.uri).await {
            Ok(s) => Ok(model::power_state(&s)),
            Err(e) => {
                if matches!(e, BmcError::Http { status: 404, .. }) {
                    self.forget();
                }
                Err(e)
            }
        }
    }

    async fn switch(&self, switch: Switch) -> Result<(), BmcError> {
        let system = self.system().await?;
        let target = system.reset_target.clone().ok_or_else(|| {
            BmcError::Unsupported(format!(
                "{} has no #ComputerSystem.Reset action",
                system.uri
            ))
        })?;
        let reset = model::reset_type(switch, system.allowable.as_deref())?;
        let body = serde_json::json!({ "ResetType": reset });
        debug!(bmc = %self.base, %target, reset, "Redfish reset");
        match self.send(Method::POST, &target, Some(&body)).await {
            Ok(_) => Ok(()),
            // Some BMCs refuse ForceOff on a host that is already off (iDRAC: 409
            // "Server is already powered OFF"; others 400). Off is what was asked:
            // read it back rather than fail.
            Err(BmcError::Http { status, message }) if status == 400 || status == 409 => {
                let wanted = match switch {
                    Switch::Off => PowerState::Off,
                    Switch::On => PowerState::On,
                };
                match self.read().await {
                    Ok(state) if state == wanted => Ok(()),
                    Ok(_) | Err(_) => Err(BmcError::Http { status, message }),
                }
            }
            Err(e) => {
                if matches!(e, BmcError::Http { status: 404, .. }) {
                    self.forget();
                }
                Err(e)
            }
        }
    }
}

#[async_trait]
impl PowerControl for Redfish {
    async fn power_off(&self, timeout: Duration) -> Result<(), BmcError> {
        bounded(timeout, self.switch(Switch::Off)).await
    }

    async fn power_on(&self, timeout: Duration) -> Result<(), BmcError> {
        bounded(timeout, self.switch(Switch::On)).await
    }

    async fn power_state(&self, timeout: Duration) -> Result<PowerState, BmcError> {
        bounded(timeout, self.read()).await
    }
}
