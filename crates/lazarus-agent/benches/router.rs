//! The controller-side cost of one heartbeat, without the network: the router
//! (path, bearer token among 10,000, JSON with 19 peers) and a sink that feeds the
//! `EventLedger` and answers with the 19 peers of the segment.
//!
//! `cargo bench -p lazarus-agent --bench router`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, Criterion};
use lazarus_agent::protocol::{
    AgentHeartbeat, AgentReply, EventLedger, PeerAgeMs, PeerInfo, ProcessStatus,
};
use lazarus_agent::{AgentToken, AgentTokens, HeartbeatSink, HostName, SinkError};
use tower::ServiceExt;

const HOSTS: usize = 10_000;
const SEGMENT: usize = 20;

fn host(i: usize) -> HostName {
    HostName::new(format!("compute-{i:05}"))
}

fn token(i: usize) -> String {
    format!("token-of-compute-{i:05}-0123456789abcdef")
}

struct Sink {
    tokens: AgentTokens,
    ledger: Mutex<EventLedger>,
    peers: Vec<PeerInfo>,
}

#[async_trait]
impl HeartbeatSink for Sink {
    fn authenticate(&self, host: &HostName, token: &str) -> bool {
        self.tokens.verify(host, token)
    }
    async fn deliver(&self, host: HostName, hb: AgentHeartbeat) -> Result<AgentReply, SinkError> {
        let (events, acked_event) = self.ledger.lock().unwrap().take(&host, &hb);
        std::hint::black_box(events);
        Ok(AgentReply {
            acked_event,
            peers: self.peers.clone(),
            commands: vec![],
        })
    }
}

fn bench(c: &mut Criterion) {
    let mut tokens = AgentTokens::new();
    for i in 0..HOSTS {
        tokens.insert(host(i), AgentToken::new(&token(i)).unwrap());
    }
    let peers = (0..SEGMENT)
        .map(|i| PeerInfo {
            host: host(i),
            probe: Some(format!("10.0.0.{i}:7411")),
        })
        .collect();
    let router = lazarus_agent::heartbeat_router(Arc::new(Sink {
        tokens,
        ledger: Mutex::new(EventLedger::new()),
        peers,
    }));
    let me = 5;
    let hb = AgentHeartbeat {
        agent_run: "bench".into(),
        sequence: 1,
        sent_at_ms: 1_763_727_000_123,
        interval_ms: 1000,
        reachable_peers: (0..SEGMENT).filter(|&p| p != me).map(host).collect(),
        // As a real agent sends them: every peer with the age of its last answer.
        reachable_peer_ages_ms: (0..SEGMENT)
            .filter(|&p| p != me)
            .map(|p| (host(p), PeerAgeMs(420)))
            .collect(),
        nova_compute: ProcessStatus::Running,
        libvirtd: ProcessStatus::Running,
        events: vec![],
        watchdog: None,
        boot_id: None,
    };
    let body = serde_json::to_vec(&hb).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    c.bench_function("router_one_heartbeat_19_peers_10k_tokens", |b| {
        b.iter(|| {
            let req = Request::post(format!("/v1/lazarus/agents/{}/heartbeat", host(me)))
                .header("authorization", format!("Bearer {}", token(me)))
                .header("content-type", "application/json")
                .body(Body::from(body.clone()))
                .unwrap();
            let router = router.clone();
            rt.block_on(async move {
                let resp = router.oneshot(req).await.unwrap();
                assert!(resp.status().is_success());
                axum::body::to_bytes(resp.into_body(), 1 << 20)
                    .await
                    .unwrap()
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
