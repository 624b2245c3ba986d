//! `OpenStack-API-Version: instance-ha X.Y` microversions and the version documents.

use axum::extract::Request;
use axum::http::header::{HeaderValue, VARY};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;

/// The header carrying microversions.
pub const HEADER: &str = "openstack-api-version";
/// The service type microversions are requested for.
pub const SERVICE_TYPE: &str = "instance-ha";

/// A microversion `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major (always 1).
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl ApiVersion {
    /// 1.0, the default.
    pub const MIN: ApiVersion = ApiVersion::new(1, 0);
    /// 1.3, the newest.
    pub const MAX: ApiVersion = ApiVersion::new(1, 3);

    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Whether this is at least `major.minor`.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        self >= ApiVersion::new(major, minor)
    }

    /// Parses `X.Y` as Masakari does (`^([1-9]\d*)\.([1-9]\d*|0)$`).
    pub fn parse(s: &str) -> Option<Self> {
        let (major, minor) = s.split_once('.')?;
        let well_formed = |p: &str, zero_ok: bool| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" && zero_ok || !p.starts_with('0'))
        };
        if !well_formed(major, false) || !well_formed(minor, true) {
            return None;
        }
        Some(Self::new(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The version a request asks for: the `instance-ha` entry of its `OpenStack-API-Version`
/// headers (comma-separated lists allowed), 1.0 if none, the newest for `latest`.
pub fn requested(headers: &HeaderMap) -> Result<ApiVersion, ApiError> {
    let mut found = None;
    for value in headers.get_all(HEADER) {
        let Ok(text) = value.to_str() else {
            return Err(ApiError::bad_request("OpenStack-API-Version is not ASCII."));
        };
        for item in text.split(',') {
            let mut words = item.split_whitespace();
            if let (Some(service), Some(version)) = (words.next(), words.next()) {
                if service.eq_ignore_ascii_case(SERVICE_TYPE) {
                    found = Some(version.to_owned());
                }
            }
        }
    }
    let Some(text) = found else {
        return Ok(ApiVersion::MIN);
    };
    if text.eq_ignore_ascii_case("latest") {
        return Ok(ApiVersion::MAX);
    }
    let Some(v) = ApiVersion::parse(&text) else {
        return Err(ApiError::bad_request(format!(
            "API Version String {text} is of invalid format. Must be of format \
             MajorNum.MinorNum."
        )));
    };
    if v < ApiVersion::MIN || v > ApiVersion::MAX {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "Version {v} is not supported by the API. Minimum is {} and maximum is {}.",
                ApiVersion::MIN,
                ApiVersion::MAX
            ),
        ));
    }
    Ok(v)
}

/// Middleware: resolves the requested microversion into the request's extensions and
/// answers with `OpenStack-API-Version: instance-ha X.Y` and `Vary`. A malformed version
/// is 400 and an unsupported one 406, as in Masakari.
pub(crate) async fn negotiate(mut req: Request, next: Next) -> Response {
    let version = match requested(req.headers()) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(version);
    let mut resp = as_fault(next.run(req).await).await;
    if let Ok(value) = HeaderValue::from_str(&format!("{SERVICE_TYPE} {version}")) {
        resp.headers_mut().insert(HEADER, value);
    }
    resp.headers_mut()
        .append(VARY, HeaderValue::from_static("OpenStack-API-Version"));
    resp
}

/// Rewrites an error answer that is not already a JSON fault (axum's own rejections, such
/// as 413 for a body over the size limit) into a Masakari fault body, so every error a
/// client sees has the same shape.
async fn as_fault(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text
    };
    ApiError::new(status, message).into_response()
}

/// The one major version, as the version documents describe it.
fn v1(self_href: &str) -> Value {
    json!({
        "id": "v1.0",
        "status": "CURRENT",
        "version": ApiVersion::MAX.to_string(),
        "min_version": ApiVersion::MIN.to_string(),
        "updated": "2016-07-01T11:33:21Z",
        "links": [
            {"rel": "self", "href": self_href},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.masakari+json;version=1"}
        ]
    })
}

/// The base URL a client used, from its `Host` header (relative links if absent).
fn base_url(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_default()
}

/// `GET /`: every version.
pub(crate) async fn versions(headers: HeaderMap) -> Json<Value> {
    let mut doc = v1(&format!("{}/v1/", base_url(&headers)));
    if let Some(o) = doc.as_object_mut() {
        o.remove("media-types");
        if let Some(links) = o.get_mut("links").and_then(Value::as_array_mut) {
            links.truncate(1);
        }
    }
    Json(json!({ "versions": [doc] }))
}

/// `GET /v1`: the v1 document (what keystoneauth reads to discover microversions).
pub(crate) async fn version_v1(headers: HeaderMap) -> Json<Value> {
    Json(json!({ "version": v1(&format!("{}/v1/", base_url(&headers))) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HEADER, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn no_header_means_the_minimum() {
        assert_eq!(requested(&HeaderMap::new()), Ok(ApiVersion::MIN));
        assert_eq!(requested(&headers(&["compute 2.90"])), Ok(ApiVersion::MIN));
    }

    #[test]
    fn the_instance_ha_entry_is_picked_from_a_list() {
        assert_eq!(
            requested(&headers(&["compute 2.1, instance-ha 1.2"])),
            Ok(ApiVersion::new(1, 2))
        );
        assert_eq!(
            requested(&headers(&["compute 2.1", "INSTANCE-HA 1.1"])),
            Ok(ApiVersion::new(1, 1))
        );
        assert_eq!(
            requested(&headers(&["instance-ha latest"])),
            Ok(ApiVersion::MAX)
        );
    }

    #[test]
    fn malformed_versions_are_bad_requests_and_unknown_ones_not_acceptable() {
        for bad in ["1", "1.", "01.1", "1.01", "a.b", "1.2.3"] {
            let e = requested(&headers(&[&format!("instance-ha {bad}")])).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        for far in ["1.4", "2.0", "1.10"] {
            let e = requested(&headers(&[&format!("instance-ha {far}")])).unwrap_err();
            assert_eq!(e.status, StatusCode::NOT_ACCEPTABLE, "{far}");
        }
    }
}
