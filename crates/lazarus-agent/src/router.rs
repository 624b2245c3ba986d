//! The controller side of the heartbeat protocol: an axum router the controller mounts,
//! and the [`HeartbeatSink`] trait it implements.
//!
//! The router parses and authenticates; the sink decides. It answers:
//! - 200 with the sink's [`AgentReply`];
//! - 400 with `{"error": "..."}` when the host name or the body is malformed;
//! - 401 (with `WWW-Authenticate: Bearer`) when the token is missing or wrong, the
//!   same for an unknown host, so a caller learns nothing about which hosts exist;
//!   logged at warn, at most one line per [`WARN_EVERY`] with the count suppressed;
//! - 404 / 503 from the sink ([`SinkError`]);
//! - 413 for a body over [`crate::protocol::MAX_BODY_BYTES`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use lazarus_core::HostName;
use tokio::time::Instant;

use crate::protocol::{AgentHeartbeat, AgentReply, HEARTBEAT_PATH, MAX_BODY_BYTES};

/// At most one warn line per this period for refused tokens and malformed bodies.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// What the controller does with an authenticated heartbeat.
#[async_trait]
pub trait HeartbeatSink: Send + Sync + 'static {
    /// Whether `token` is `host`'s agent token. Use [`crate::AgentTokens::verify`]
    /// (constant time). Called for every request, so it must be cheap.
    fn authenticate(&self, host: &HostName, token: &str) -> bool;

    /// Takes one heartbeat (hand its [`AgentHeartbeat::core_events`] to the engine,
    /// through an [`crate::protocol::EventLedger`]) and answers with the commands
    /// pending for this host and its segment's peers.
    async fn deliver(
        &self,
        host: HostName,
        heartbeat: AgentHeartbeat,
    ) -> Result<AgentReply, SinkError>;
}

/// Why a sink did not take a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The host is not registered in any segment (404; the agent keeps trying).
    #[error("host {0} is not registered in any segment")]
    UnknownHost(HostName),
    /// This controller does not take heartbeats now (503: not the leader, stopping).
    #[error("not taking heartbeats: {0}")]
    Unavailable(String),
}

/// Builds the router serving `POST /v1/lazarus/agents/{host}/heartbeat`.
///
/// ```ignore
/// let app = api_router.merge(lazarus_agent::heartbeat_router(Arc::new(my_sink)));
/// ```
pub fn heartbeat_router(sink: Arc<dyn HeartbeatSink>) -> Router {
    let state = Arc::new(RouterState {
        sink,
        refused: RateLimitedWarn::new(),
        malformed: RateLimitedWarn::new(),
    });
    Router::new()
        .route(HEARTBEAT_PATH, post(heartbeat))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

struct RouterState {
    sink: Arc<dyn HeartbeatSink>,
    refused: RateLimitedWarn,
    malformed: RateLimitedWarn,
}

async fn heartbeat(
    State(state): State<Arc<RouterState>>,
    Path(host): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(reason) = valid_host_name(&host) {
        state
            .malformed
            .warn(|n| tracing::warn!(suppressed = n, "heartbeat refused: bad host name: {reason}"));
        return bad_request(format!("bad host name: {reason}"));
    }
    let host = HostName::from(host);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let authenticated = match token {
        Some(t) => state.sink.authenticate(&host, t.trim()),
        None => false,
    };
    if !authenticated {
        state.refused.warn(|n| {
            tracing::warn!(%host, suppressed = n, "heartbeat refused: missing or wrong agent token")
        });
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({"error": "missing or wrong agent token"})),
        )
            .into_response();
    }
    let hb: AgentHeartbeat = match serde_json::from_slice(&body) {
        Ok(hb) => hb,
        Err(e) => {
            state.malformed.warn(
                |n| tracing::warn!(%host, suppressed = n, "heartbeat refused: malformed body: {e}"),
            );
            return bad_request(format!("malformed heartbeat: {e}"));
        }
    };
    tracing::trace!(%host, sequence = hb.sequence, "heartbeat");
    match state.sink.deliver(host, hb).await {
        Ok(reply) => Json(reply).into_response(),
        Err(e) => {
            let status = match &e {
                SinkError::UnknownHost(_) => StatusCode::NOT_FOUND,
                SinkError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            (status, Json(serde_json::json!({"error": e.to_string()}))).into_response()
        }
    }
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// A host name as Nova's compute service reports it: 1-255 bytes of letters, digits,
/// `.`, `-`, `_`.
fn valid_host_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() || host.len() > 255 {
        return Err("must be 1 to 255 bytes");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return Err("only letters, digits, '.', '-' and '_' are allowed");
    }
    Ok(())
}

/// Logs at most once per [`WARN_EVERY`], passing how many lines were suppressed since.
struct RateLimitedWarn {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl RateLimitedWarn {
    fn new() -> Self {
        Self {
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    fn warn(&self, log: impl FnOnce(u64)) {
        let now = Instant::now();
        let due = match self.last.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|t| now.duration_since(t) >= WARN_EVERY);
                if due {
                    *last = Some(now);
                }
                due
            }
            Err(_) => true,
        };
        if due {
            log(self.suppressed.swap(0, Ordering::Relaxed));
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AgentCommand, ProcessStatus};
    use axum::body::Body;
    use axum::http::Request;
    use lazarus_core::event::Process;
    use tower::ServiceExt;

    const TOKEN: &str = "token-of-cmp-01-xxxxxxxx";

    struct Recording {
        tokens: crate::AgentTokens,
        got: Mutex<Vec<(HostName, AgentHeartbeat)>>,
    }

    #[async_trait]
    impl HeartbeatSink for Recording {
        fn authenticate(&self, host: &HostName, token: &str) -> bool {
            self.tokens.verify(host, token)
        }
        async fn deliver(
            &self,
            host: HostName,
            heartbeat: AgentHeartbeat,
        ) -> Result<AgentReply, SinkError> {
            let acked = heartbeat.last_event();
            self.got.lock().unwrap().push((host, heartbeat));
            Ok(AgentReply {
                acked_event: acked,
                peers: vec![],
                commands: vec![AgentCommand::RestartProcess {
                    process: Process::NovaCompute,
                }],
            })
        }
    }

    fn sink() -> Arc<Recording> {
        let mut tokens = crate::AgentTokens::new();
        tokens.insert("cmp-01".into(), crate::AgentToken::new(TOKEN).unwrap());
        Arc::new(Recording {
            tokens,
            got: Mutex::new(vec![]),
        })
    }

    fn body() -> String {
        serde_json::to_string(&AgentHeartbeat {
            agent_run: "r".into(),
            sequence: 1,
            sent_at_ms: 0,
            interval_ms: 1000,
            reachable_peers: Default::default(),
            reachable_peer_ages_ms: Default::default(),
            nova_compute: ProcessStatus::Running,
            libvirtd: ProcessStatus::Absent,
            events: vec![],
            watchdog: None,
            boot_id: None,
        })
        .unwrap()
    }

    fn request(host: &str, token: Option<&str>, body: String) -> Request<Body> {
        let mut b = Request::post(format!("/v1/lazarus/agents/{host}/heartbeat"))
            .header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(Body::from(body)).unwrap()
    }

    async fn send(sink: Arc<Recording>, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let resp = heartbeat_router(sink).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_heartbeat_with_the_hosts_token_is_delivered_and_answered() {
        let s = sink();
        let (status, reply) = send(s.clone(), request("cmp-01", Some(TOKEN), body())).await;
        assert_eq!(status, StatusCode::OK);
        let reply: AgentReply = serde_json::from_value(reply).unwrap();
        assert_eq!(reply.commands.len(), 1);
        assert_eq!(s.got.lock().unwrap()[0].0, HostName::from("cmp-01"));
    }

    #[tokio::test]
    async fn a_wrong_missing_or_other_hosts_token_is_refused_with_401() {
        let s = sink();
        for (host, token) in [
            ("cmp-01", Some("token-of-cmp-01-xxxxxxxy")),
            ("cmp-01", None),
            ("cmp-02", Some(TOKEN)),
        ] {
            let (status, _) = send(s.clone(), request(host, token, body())).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{host} {token:?}");
        }
        assert!(s.got.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_malformed_body_is_refused_with_400_and_a_message() {
        let s = sink();
        let (status, v) = send(
            s.clone(),
            request("cmp-01", Some(TOKEN), "{\"sequence\":".into()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            v["error"].as_str().unwrap().contains("malformed heartbeat"),
            "{v}"
        );
        let (status, _) = send(s.clone(), request("cmp-01", Some(TOKEN), "{}".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(s.got.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_bad_host_name_is_refused_with_400() {
        let (status, v) = send(sink(), request("cmp%2001", Some(TOKEN), body())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(v["error"].as_str().unwrap().contains("host name"), "{v}");
    }

    #[tokio::test(start_paused = true)]
    async fn refusal_warnings_are_rate_limited() {
        let w = RateLimitedWarn::new();
        let mut logged = vec![];
        for _ in 0..5 {
            w.warn(|n| logged.push(n));
        }
        tokio::time::advance(WARN_EVERY).await;
        w.warn(|n| logged.push(n));
        assert_eq!(logged, vec![0, 4]);
    }
}
