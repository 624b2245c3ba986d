//! A test harness: the API over an in-memory store, driven with `oneshot`.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::TimeZone;
use lazarus_api::compute::KnownComputeHosts;
use lazarus_api::{
    AllowAllComputeHosts, ApiConfig, ApiState, Authenticator, ChannelSink, ComputeHostValidator,
    ManualClock, NoAuth,
};
use lazarus_store::{Notification, SqliteStore, Store, Time};
use serde_json::Value;
use tokio::sync::mpsc;
use tower::ServiceExt;

/// A time `secs` seconds after 2026-01-01T00:00:00Z.
pub fn t(secs: i64) -> Time {
    chrono::Utc.timestamp_opt(1_767_225_600 + secs, 0).unwrap()
}

pub struct Api {
    pub app: lazarus_api::App,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<ManualClock>,
    pub accepted: mpsc::Receiver<Notification>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Resp {
    /// The fault message of an error body, whatever its key.
    pub fn message(&self) -> String {
        self.json
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|f| f["message"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// The fault key of an error body.
    pub fn fault(&self) -> String {
        self.json
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default()
    }
}

pub struct Builder {
    compute: Arc<dyn ComputeHostValidator>,
    auth: Arc<dyn Authenticator>,
    config: ApiConfig,
}

impl Builder {
    pub fn computes(mut self, names: &[&str]) -> Self {
        self.compute = Arc::new(KnownComputeHosts(
            names.iter().map(|s| s.to_string()).collect(),
        ));
        self
    }

    pub fn auth(mut self, auth: impl Authenticator + 'static) -> Self {
        self.auth = Arc::new(auth);
        self
    }

    pub fn max_limit(mut self, n: u32) -> Self {
        self.config.max_limit = n;
        self
    }

    pub fn build(self) -> Api {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let clock = Arc::new(ManualClock::new(t(0)));
        let (sink, accepted) = ChannelSink::new(16);
        let state = ApiState {
            store: store.clone(),
            sink: Arc::new(sink),
            compute: self.compute,
            auth: self.auth,
            clock: clock.clone(),
            config: self.config,
        };
        Api {
            app: lazarus_api::app(state),
            store,
            clock,
            accepted,
        }
    }
}

impl Api {
    pub fn builder() -> Builder {
        Builder {
            compute: Arc::new(AllowAllComputeHosts),
            auth: Arc::new(NoAuth),
            config: ApiConfig::default(),
        }
    }

    pub fn new() -> Api {
        Self::builder().build()
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{status}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Resp {
            status,
            headers,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.raw(Method::GET, path, "", &[]).await
    }

    pub async fn get_v(&self, path: &str, version: &str) -> Resp {
        let h = format!("instance-ha {version}");
        self.raw(Method::GET, path, "", &[("OpenStack-API-Version", &h)])
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.raw(Method::POST, path, &body.to_string(), &[]).await
    }

    pub async fn post_v(&self, path: &str, body: Value, version: &str) -> Resp {
        let h = format!("instance-ha {version}");
        self.raw(
            Method::POST,
            path,
            &body.to_string(),
            &[("OpenStack-API-Version", &h)],
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.raw(Method::PUT, path, &body.to_string(), &[]).await
    }

    pub async fn put_v(&self, path: &str, body: Value, version: &str) -> Resp {
        let h = format!("instance-ha {version}");
        self.raw(
            Method::PUT,
            path,
            &body.to_string(),
            &[("OpenStack-API-Version", &h)],
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.raw(Method::DELETE, path, "", &[]).await
    }

    /// Creates a segment and returns its uuid.
    pub async fn segment(&self, name: &str) -> String {
        let r = self
            .post(
                "/v1/segments",
                serde_json::json!({"segment": {"name": name, "recovery_method": "auto", "service_type": "COMPUTE"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
        r.json["segment"]["uuid"].as_str().unwrap().to_owned()
    }

    /// Adds a host to a segment and returns its uuid.
    pub async fn host(&self, segment: &str, name: &str) -> String {
        let r = self
            .post(
                &format!("/v1/segments/{segment}/hosts"),
                serde_json::json!({"host": {"name": name, "type": "COMPUTE", "control_attributes": "SSH"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
        r.json["host"]["uuid"].as_str().unwrap().to_owned()
    }

    /// Posts a COMPUTE_HOST STOPPED notification and returns the response.
    pub async fn host_down(&self, hostname: &str, generated: &str) -> Resp {
        self.post(
            "/v1/notifications",
            serde_json::json!({"notification": {
                "type": "COMPUTE_HOST", "hostname": hostname, "generated_time": generated,
                "payload": {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}}}),
        )
        .await
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}
