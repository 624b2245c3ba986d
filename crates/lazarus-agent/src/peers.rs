//! Peer probing: a tiny UDP echo between the agents of a segment.
//!
//! Every `probe_interval` the agent sends `LZP1 <its host> <round>` to each peer; an
//! agent answers any probe with `LZA1 <its host> <round>` from the same socket. A peer
//! is reachable while its answer to one of the last few rounds arrived within
//! `reachable_window`: a round trip, so reachability is both ways. Unknown hosts and
//! answers to rounds never sent are ignored.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_core::HostName;
use tokio::net::UdpSocket;
use tokio::time::Instant;

const PROBE: &str = "LZP1";
const ANSWER: &str = "LZA1";
/// Answers to rounds older than this many are ignored.
const ROUNDS_ACCEPTED: u64 = 5;

/// One peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Where to probe it (`ip:port` or `name:port`).
    pub address: String,
    /// The last answer.
    pub last_answer: Option<Instant>,
}

/// The peers of this agent's segment and what they answered.
#[derive(Debug, Default)]
pub struct PeerTable {
    peers: BTreeMap<HostName, Peer>,
    round: u64,
}

impl PeerTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a peer or changes its address (keeping its last answer).
    pub fn upsert(&mut self, host: HostName, address: String) {
        match self.peers.get_mut(&host) {
            Some(p) => p.address = address,
            None => {
                self.peers.insert(
                    host,
                    Peer {
                        address,
                        last_answer: None,
                    },
                );
            }
        }
    }

    /// Keeps only these hosts (the controller's current list).
    pub fn retain(&mut self, hosts: &[HostName]) {
        self.peers.retain(|h, _| hosts.contains(h));
    }

    /// The peers that answered within `window` before `now`.
    pub fn reachable(
        &self,
        now: Instant,
        window: Duration,
    ) -> std::collections::BTreeSet<HostName> {
        self.peers
            .iter()
            .filter(|(_, p)| {
                p.last_answer
                    .is_some_and(|t| now.saturating_duration_since(t) <= window)
            })
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// The peers that answered within `window` before `now`, each with how long ago
    /// it last answered (at most `window`): what a heartbeat reports, so that the
    /// controller counts a peer's sighting from its answer, not from the report.
    pub fn reachable_ages(&self, now: Instant, window: Duration) -> BTreeMap<HostName, Duration> {
        self.peers
            .iter()
            .filter_map(|(h, p)| {
                let age = now.saturating_duration_since(p.last_answer?);
                (age <= window).then(|| (h.clone(), age))
            })
            .collect()
    }

    /// The last answer from any peer.
    pub fn last_answer(&self) -> Option<Instant> {
        self.peers.values().filter_map(|p| p.last_answer).max()
    }

    /// The segment's size as the agent knows it: its peers and itself.
    pub fn segment_size(&self) -> usize {
        self.peers.len() + 1
    }

    fn answered(&mut self, host: &HostName, round: u64, now: Instant) {
        let current = self.round;
        if let Some(p) = self.peers.get_mut(host) {
            if round <= current && current - round < ROUNDS_ACCEPTED {
                p.last_answer = Some(now);
            }
        }
    }
}

/// The agent's probe socket.
#[derive(Debug)]
pub struct Prober {
    socket: Arc<UdpSocket>,
    me: HostName,
    table: Arc<Mutex<PeerTable>>,
}

impl Prober {
    /// Binds the socket.
    pub async fn bind(
        listen: SocketAddr,
        me: HostName,
        table: Arc<Mutex<PeerTable>>,
    ) -> std::io::Result<Self> {
        Ok(Self {
            socket: Arc::new(UdpSocket::bind(listen).await?),
            me,
            table,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Answers probes and records answers, forever.
    pub async fn serve(&self) {
        let mut buf = [0u8; 512];
        loop {
            let (n, from) = match self.socket.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("peer socket: {e}");
                    continue;
                }
            };
            let Some(text) = buf.get(..n).and_then(|b| std::str::from_utf8(b).ok()) else {
                continue;
            };
            let mut parts = text.split(' ');
            let (Some(kind), Some(host), Some(round)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(round) = round.parse::<u64>() else {
                continue;
            };
            match kind {
                PROBE => {
                    let answer = format!("{ANSWER} {} {round}", self.me);
                    if let Err(e) = self.socket.send_to(answer.as_bytes(), from).await {
                        tracing::debug!(%from, "peer answer: {e}");
                    }
                }
                ANSWER => {
                    if let Ok(mut t) = self.table.lock() {
                        t.answered(&HostName::from(host), round, Instant::now());
                    }
                }
                _ => {}
            }
        }
    }

    /// Sends one round of probes.
    pub async fn probe_round(&self) {
        let (round, targets) = match self.table.lock() {
            Ok(mut t) => {
                t.round += 1;
                let targets: Vec<(HostName, String)> = t
                    .peers
                    .iter()
                    .map(|(h, p)| (h.clone(), p.address.clone()))
                    .collect();
                (t.round, targets)
            }
            Err(_) => return,
        };
        let probe = format!("{PROBE} {} {round}", self.me);
        for (host, address) in targets {
            let addr = match address.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => tokio::net::lookup_host(address.as_str())
                    .await
                    .ok()
                    .and_then(|mut it| it.next()),
            };
            let Some(addr) = addr else {
                tracing::debug!(peer = %host, %address, "cannot resolve the peer's address");
                continue;
            };
            if let Err(e) = self.socket.send_to(probe.as_bytes(), addr).await {
                tracing::debug!(peer = %host, %addr, "probe: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_probers_see_each_other_and_a_stranger_is_ignored() {
        let ta = Arc::new(Mutex::new(PeerTable::new()));
        let tb = Arc::new(Mutex::new(PeerTable::new()));
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let a = Arc::new(Prober::bind(any, "a".into(), ta.clone()).await.unwrap());
        let b = Arc::new(Prober::bind(any, "b".into(), tb.clone()).await.unwrap());
        ta.lock()
            .unwrap()
            .upsert("b".into(), b.local_addr().unwrap().to_string());
        // b does not know a: it answers a's probes but records nothing from them.
        let (a2, b2) = (a.clone(), b.clone());
        tokio::spawn(async move { a2.serve().await });
        tokio::spawn(async move { b2.serve().await });
        for _ in 0..50 {
            a.probe_round().await;
            b.probe_round().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            if !ta
                .lock()
                .unwrap()
                .reachable(Instant::now(), Duration::from_secs(1))
                .is_empty()
            {
                break;
            }
        }
        let now = Instant::now();
        let seen = ta.lock().unwrap().reachable(now, Duration::from_secs(1));
        assert!(seen.contains(&HostName::from("b")), "{seen:?}");
        assert!(tb
            .lock()
            .unwrap()
            .reachable(now, Duration::from_secs(1))
            .is_empty());
    }

    #[test]
    fn reachable_peers_are_reported_with_the_age_of_their_last_answer() {
        let mut t = PeerTable::new();
        for p in ["b", "c", "d"] {
            t.upsert(p.into(), "127.0.0.1:1".into());
        }
        t.round = 1;
        let start = Instant::now();
        t.answered(&"b".into(), 1, start);
        t.answered(&"c".into(), 1, start + Duration::from_millis(2_600));
        let now = start + Duration::from_millis(3_000);
        let window = Duration::from_secs(3);
        let ages = t.reachable_ages(now, window);
        assert_eq!(ages.get(&HostName::from("b")), Some(&window));
        assert_eq!(
            ages.get(&HostName::from("c")),
            Some(&Duration::from_millis(400))
        );
        assert!(!ages.contains_key(&HostName::from("d")), "never answered");
        // The same peers as `reachable`, which the watchdog's quorum counts.
        assert!(ages.keys().eq(t.reachable(now, window).iter()));
        // Past the window, b is no longer reachable at all.
        let later = t.reachable_ages(now + Duration::from_millis(1), window);
        assert!(!later.contains_key(&HostName::from("b")));
    }

    #[test]
    fn answers_to_rounds_never_sent_or_too_old_are_ignored() {
        let mut t = PeerTable::new();
        t.upsert("b".into(), "127.0.0.1:1".into());
        t.round = 10;
        let now = Instant::now();
        t.answered(&"b".into(), 11, now);
        t.answered(&"b".into(), 5, now);
        assert!(t.last_answer().is_none());
        t.answered(&"b".into(), 6, now);
        assert_eq!(t.last_answer(), Some(now));
    }
}
