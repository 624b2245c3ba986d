//! [`LazarusClient`]: the HTTP client of the lazarus API (the Masakari v1 routes and the
//! native `/v1/lazarus/...` ones).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::Method;
use serde_json::Value;

use crate::error::ClientError;

/// The microversion header name (`OpenStack-API-Version: instance-ha X.Y`).
const VERSION_HEADER: &str = "OpenStack-API-Version";

/// A client of one lazarus controller. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LazarusClient {
    http: reqwest::Client,
    /// Base URL without a trailing slash and without `/v1` (e.g. `http://127.0.0.1:15868`).
    base: String,
    /// Keystone token for `X-Auth-Token`, if the controller authenticates.
    token: Option<String>,
    /// The `instance-ha` microversion asked for.
    api_version: String,
}

/// One answer: its status and its JSON body (null when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Parsed body; `Value::Null` for an empty one.
    pub body: Value,
}

impl LazarusClient {
    /// A client for the API at `endpoint` (a trailing `/v1` or `/v1/{project}` is
    /// dropped: paths are added per call), sending `token` if given and asking for the
    /// `api_version` microversion.
    pub fn new(
        endpoint: &str,
        token: Option<String>,
        api_version: &str,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("lazarus-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Transport {
                url: endpoint.to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            base: base_url(endpoint),
            token,
            api_version: api_version.to_owned(),
        })
    }

    /// The base URL requests go to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request to `path` (starting with `/`) and returns the answer if its
    /// status is a success; an error status becomes [`ClientError::Api`] with the
    /// message of the fault body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Answer, ClientError> {
        let (status, bytes) = self.exchange(method, path, query, body).await?;
        if !(200..300).contains(&status) {
            let mut message = fault_message(&bytes);
            if bytes.iter().all(u8::is_ascii_whitespace) {
                if let Some(reason) = reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                {
                    message = format!("{reason}, with no message");
                }
            }
            return Err(ClientError::Api { status, message });
        }
        Ok(Answer {
            status,
            body: self.parse(path, &bytes)?,
        })
    }

    /// Sends one request and returns the answer whatever its status (for `/ready`,
    /// whose 503 body says what is not ready). A body that is not JSON is returned as a
    /// JSON string.
    pub async fn request_any(&self, method: Method, path: &str) -> Result<Answer, ClientError> {
        let (status, bytes) = self.exchange(method, path, &[], None).await?;
        let body = self
            .parse(path, &bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).trim().to_owned()));
        Ok(Answer { status, body })
    }

    /// The body as JSON (null when empty).
    fn parse(&self, path: &str, bytes: &[u8]) -> Result<Value, ClientError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(bytes).map_err(|e| ClientError::InvalidResponse {
            url: format!("{}{}", self.base, path),
            detail: format!("body is not JSON: {e}"),
        })
    }

    /// One HTTP exchange: the status and the body's bytes.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let url = format!("{}{}", self.base, path);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&format!("instance-ha {}", self.api_version)) {
            headers.insert(VERSION_HEADER, v);
        }
        if let Some(token) = &self.token {
            if let Ok(mut v) = HeaderValue::from_str(token) {
                v.set_sensitive(true);
                headers.insert("X-Auth-Token", v);
            }
        }
        let mut req = self.http.request(method, &url).headers(headers);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let transport = |e: reqwest::Error| ClientError::Transport {
            url: url.clone(),
            detail: describe(&e),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport)?;
        Ok((status, bytes.to_vec()))
    }

    /// `GET path` and the value under `key` of the answer's body.
    pub async fn get_key(
        &self,
        path: &str,
        query: &[(String, String)],
        key: &str,
    ) -> Result<Value, ClientError> {
        let answer = self.request(Method::GET, path, query, None).await?;
        take_key(answer.body, key, &format!("{}{}", self.base, path))
    }

    /// `method path` with `body`, and the value under `key` of the answer's body.
    pub async fn send_key(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        key: &str,
    ) -> Result<Value, ClientError> {
        let answer = self.request(method, path, &[], Some(body)).await?;
        take_key(answer.body, key, &format!("{}{}", self.base, path))
    }
}

/// `value[key]`, or an error naming what was missing.
fn take_key(mut value: Value, key: &str, url: &str) -> Result<Value, ClientError> {
    match value.get_mut(key) {
        Some(v) => Ok(v.take()),
        None => Err(ClientError::InvalidResponse {
            url: url.to_owned(),
            detail: format!("no {key:?} in the answer"),
        }),
    }
}

/// The base URL: no trailing slash, no `/v1[/{project_id}]` suffix.
pub(crate) fn base_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim().trim_end_matches('/');
    if let Some(pos) = trimmed.rfind("/v1") {
        let after = &trimmed[pos + 3..];
        // `/v1` or `/v1/{project_id}` at the end.
        if after.is_empty() || (after.starts_with('/') && !after[1..].contains('/')) {
            return trimmed[..pos].to_owned();
        }
    }
    trimmed.to_owned()
}

/// A transport error in words: its causes (reqwest's own message only repeats the URL,
/// which the error already names), or that it timed out.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out (see --timeout)".to_owned();
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    if causes.is_empty() {
        e.to_string()
    } else {
        causes.join(": ")
    }
}

/// The message of a Masakari fault body (`{"badRequest": {"message": "..."}}`), or the
/// body itself (trimmed) if it has no such shape.
pub(crate) fn fault_message(body: &[u8]) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        for v in map.values() {
            if let Some(m) = v.get("message").and_then(Value::as_str) {
                return m.to_owned();
            }
        }
        // The native API's `{"error": "..."}`.
        for key in ["message", "error"] {
            if let Some(m) = map.get(key).and_then(Value::as_str) {
                return m.to_owned();
            }
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_owned();
    if text.is_empty() {
        "no message".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_loses_its_version_and_project_suffix() {
        assert_eq!(base_url("http://h:15868"), "http://h:15868");
        assert_eq!(base_url("http://h:15868/"), "http://h:15868");
        assert_eq!(base_url("http://h:15868/v1"), "http://h:15868");
        assert_eq!(base_url("http://h:15868/v1/abc123/"), "http://h:15868");
        assert_eq!(base_url("http://h/instance-ha/v1"), "http://h/instance-ha");
        assert_eq!(base_url("http://h/instance-ha"), "http://h/instance-ha");
    }

    #[test]
    fn a_fault_body_gives_its_message_and_anything_else_its_text() {
        let fault = br#"{"conflictingRequest": {"code": 409, "message": "name exists"}}"#;
        assert_eq!(fault_message(fault), "name exists");
        assert_eq!(
            fault_message(br#"{"error": "no recovery x"}"#),
            "no recovery x"
        );
        assert_eq!(fault_message(b"  gateway timeout \n"), "gateway timeout");
        assert_eq!(fault_message(b""), "no message");
    }
}
