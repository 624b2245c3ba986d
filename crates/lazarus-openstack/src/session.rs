//! The one place that sends HTTP requests: token, endpoint, microversion header,
//! timeout, one re-authentication on 401, error sorting, pagination.

use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::config::Interface;
use crate::error::{CloudError, RequestInfo};
use crate::keystone::Authenticator;
use crate::microversion::{Microversion, VersionRange};

/// The services this adapter talks to, by catalog service type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// Nova.
    Compute,
    /// Placement.
    Placement,
    /// Glance (only the test helpers look up images).
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    Image,
}

impl Service {
    /// The catalog type, also the name in the `OpenStack-API-Version` header.
    pub(crate) fn service_type(self) -> &'static str {
        match self {
            Self::Compute => "compute",
            Self::Placement => "placement",
            Self::Image => "image",
        }
    }
}

/// One API request, relative to the service's endpoint.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    service: Service,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    microversion: Option<Microversion>,
}

impl ApiRequest {
    pub(crate) fn new(service: Service, method: Method, path: impl Into<String>) -> Self {
        Self {
            service,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            microversion: None,
        }
    }

    pub(crate) fn get(service: Service, path: impl Into<String>) -> Self {
        Self::new(service, Method::GET, path)
    }

    pub(crate) fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    pub(crate) fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub(crate) fn microversion(mut self, version: Microversion) -> Self {
        self.microversion = Some(version);
        self
    }

    fn info(&self, request_id: Option<String>) -> RequestInfo {
        let mut path = self.path.clone();
        for (i, (key, value)) in self.query.iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(key);
            path.push('=');
            path.push_str(value);
        }
        RequestInfo {
            method: self.method.to_string(),
            path,
            request_id,
        }
    }

    fn set_query(&mut self, key: &str, value: String) {
        self.query.retain(|(k, _)| k != key);
        self.query.push((key.to_owned(), value));
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub(crate) request: RequestInfo,
    pub(crate) body: Vec<u8>,
}

impl ApiResponse {
    /// The body as `T`.
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> Result<T, CloudError> {
        serde_json::from_slice(&self.body).map_err(|e| CloudError::InvalidResponse {
            request: self.request.clone(),
            detail: e.to_string(),
        })
    }
}

/// An authenticated connection to one cloud.
#[derive(Debug)]
pub(crate) struct Session {
    http: reqwest::Client,
    auth: Authenticator,
    region: Option<String>,
    interface: Interface,
    timeout: Duration,
    compute_versions: OnceCell<VersionRange>,
    placement_versions: OnceCell<VersionRange>,
}

impl Session {
    pub(crate) fn new(
        http: reqwest::Client,
        auth: Authenticator,
        region: Option<String>,
        interface: Interface,
        timeout: Duration,
    ) -> Self {
        Self {
            http,
            auth,
            region,
            interface,
            timeout,
            compute_versions: OnceCell::new(),
            placement_versions: OnceCell::new(),
        }
    }

    /// The session's authenticator.
    pub(crate) fn auth(&self) -> &Authenticator {
        &self.auth
    }

    /// A valid token and the base URL of `service_type` in its catalog, chosen by the
    /// session's region and interface.
    pub(crate) async fn token_and_endpoint(
        &self,
        service_type: &str,
    ) -> Result<(crate::secret::Secret, String), CloudError> {
        let token = self.auth.token().await?;
        let base = token
            .catalog
            .endpoint(service_type, self.region.as_deref(), self.interface)?;
        Ok((token.value().clone(), base))
    }

    /// Sends `request`; a 2xx answer is returned, anything else becomes a
    /// [`CloudError`]. A 401 makes the session drop its token, issue a new one and
    /// send the request once more (so an expired or revoked token costs one round
    /// trip). A GET that failed in transport (a reset keep-alive connection) is also
    /// sent once more; other methods are not, since they may have taken effect.
    pub(crate) async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, CloudError> {
        let mut reauthenticated = false;
        let mut resent = false;
        loop {
            let token = self.auth.token().await?;
            let base = token.catalog.endpoint(
                request.service.service_type(),
                self.region.as_deref(),
                self.interface,
            )?;
            let mut builder = self
                .http
                .request(request.method.clone(), format!("{base}{}", request.path))
                .header("X-Auth-Token", token.value().expose())
                .header(ACCEPT, "application/json");
            if !request.query.is_empty() {
                builder = builder.query(&request.query);
            }
            if let Some(version) = request.microversion {
                let service = request.service.service_type();
                builder = builder.header("OpenStack-API-Version", format!("{service} {version}"));
                if request.service == Service::Compute {
                    builder = builder.header("X-OpenStack-Nova-API-Version", version.to_string());
                }
            }
            if let Some(body) = &request.body {
                builder = builder.json(body);
            }
            let started = Instant::now();
            let response = match builder.send().await {
                Ok(response) => response,
                Err(error) => {
                    let retry = request.method == Method::GET && !resent && !error.is_timeout();
                    if retry && !error.is_builder() {
                        tracing::debug!(request = %request.info(None), %error, "resending a GET after a transport error");
                        resent = true;
                        continue;
                    }
                    return Err(CloudError::from_transport(
                        request.info(None),
                        error,
                        self.timeout,
                    ));
                }
            };
            let status = response.status();
            let info = request.info(request_id(response.headers()));
            let body = response
                .bytes()
                .await
                .map_err(|e| CloudError::from_transport(info.clone(), e, self.timeout))?;
            tracing::debug!(
                request = %info,
                status = status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "OpenStack call"
            );
            if status == reqwest::StatusCode::UNAUTHORIZED && !reauthenticated {
                tracing::debug!(request = %info, "401: issuing a new token and resending");
                self.auth.invalidate(&token).await;
                reauthenticated = true;
                continue;
            }
            if !status.is_success() {
                return Err(CloudError::from_status(info, status.as_u16(), &body));
            }
            return Ok(ApiResponse {
                request: info,
                body: body.to_vec(),
            });
        }
    }

    /// Sends `request` and parses the answer as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
    ) -> Result<T, CloudError> {
        self.send(request).await?.parse()
    }

    /// Every item of a paginated Nova list: the `key` array of each page, following
    /// the `marker` of the `links_key` "next" link until there is none.
    pub(crate) async fn collect_pages<T: DeserializeOwned>(
        &self,
        request: ApiRequest,
        key: &str,
        links_key: &str,
    ) -> Result<Vec<T>, CloudError> {
        let mut request = request;
        let mut items = Vec::new();
        let mut seen_markers = Vec::new();
        loop {
            let response = self.send(&request).await?;
            let mut page: Value = response.parse()?;
            let Some(Value::Array(entries)) = page.get_mut(key).map(Value::take) else {
                return Err(CloudError::InvalidResponse {
                    request: response.request,
                    detail: format!("no {key:?} list in the answer"),
                });
            };
            for entry in entries {
                items.push(serde_json::from_value(entry).map_err(|e| {
                    CloudError::InvalidResponse {
                        request: response.request.clone(),
                        detail: format!("{key}: {e}"),
                    }
                })?);
            }
            let next = page
                .get(links_key)
                .and_then(Value::as_array)
                .and_then(|links| {
                    links
                        .iter()
                        .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
                })
                .and_then(|l| l.get("href").and_then(Value::as_str))
                .and_then(marker_of);
            match next {
                Some(marker) if !seen_markers.contains(&marker) => {
                    seen_markers.push(marker.clone());
                    request.set_query("marker", marker);
                }
                _ => return Ok(items),
            }
        }
    }

    /// The microversion for a call on `service` that needs at least `floor` and
    /// understands answers up to `preferred`, from the service's version document
    /// (read once per session).
    pub(crate) async fn negotiate(
        &self,
        service: Service,
        what: &'static str,
        floor: Microversion,
        preferred: Microversion,
    ) -> Result<Microversion, CloudError> {
        let range = self.version_range(service).await?;
        range
            .negotiate(floor, preferred)
            .ok_or_else(|| CloudError::UnsupportedMicroversion {
                service: service.service_type(),
                what,
                needed: floor,
                available: format!("{}-{}", range.min, range.max),
            })
    }

    /// The microversions `service` offers. Nova's catalog endpoint (`.../v2.1`) is its
    /// version document; Placement's is its root (`/`).
    pub(crate) async fn version_range(&self, service: Service) -> Result<VersionRange, CloudError> {
        let (cell, path) = match service {
            Service::Compute => (&self.compute_versions, ""),
            Service::Placement => (&self.placement_versions, "/"),
            Service::Image => {
                return Err(CloudError::UnsupportedMicroversion {
                    service: "image",
                    what: "microversion negotiation",
                    needed: Microversion::new(0, 0),
                    available: "none".to_owned(),
                })
            }
        };
        let range = cell
            .get_or_try_init(|| async {
                let response = self.send(&ApiRequest::get(service, path)).await?;
                let document: Value = response.parse()?;
                let range = VersionRange::from_version_document(&document).ok_or_else(|| {
                    CloudError::InvalidResponse {
                        request: response.request.clone(),
                        detail: "no microversion range in the version document".to_owned(),
                    }
                })?;
                tracing::debug!(service = service.service_type(), min = %range.min, max = %range.max, "microversions negotiated");
                Ok::<_, CloudError>(range)
            })
            .await?;
        Ok(*range)
    }
}

/// The `x-openstack-request-id` (or Nova's older `x-compute-request-id`) of an answer.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-openstack-request-id", "x-compute-request-id"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok().map(str::to_owned))
}

/// The `marker` query parameter of a "next" link.
fn marker_of(href: &str) -> Option<String> {
    let query = href.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "marker").then(|| percent_decode(value))
    })
}

/// Decodes `%XX` escapes (markers are UUIDs or ids, so this is all that is needed).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_read_from_a_next_link() {
        let href =
            "http://nova/v2.1/servers/detail?all_tenants=True&host=c1&limit=1000&marker=8a5b%2Dx";
        assert_eq!(marker_of(href).as_deref(), Some("8a5b-x"));
        assert_eq!(marker_of("http://nova/v2.1/servers/detail?limit=2"), None);
    }

    #[test]
    fn request_info_shows_the_query() {
        let request = ApiRequest::get(Service::Compute, "/servers/detail")
            .query("all_tenants", "true")
            .query("host", "compute1");
        assert_eq!(
            request.info(None).to_string(),
            "GET /servers/detail?all_tenants=true&host=compute1"
        );
    }
}
