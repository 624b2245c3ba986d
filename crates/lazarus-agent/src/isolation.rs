//! The two decisions that can take a host down: when the agent feeds its watchdog,
//! and when it declares itself isolated. Pure functions of what was heard and when,
//! so they are tested with paused time.
//!
//! **Feed rule** (the one the simulator models and the engine's watchdog promise
//! assumes, docs/sim-findings.md F2): the watchdog is fed while a controller answered a
//! heartbeat within `controller_window`, **or** the agent reaches a strict majority of
//! its segment (itself plus the peers that answered within `reachable_window`:
//! `(reachable + 1) * 2 > segment_size`). A controller outage therefore reboots no
//! host that still sees a quorum of its peers; a host cut off from the controller and
//! from most of its segment stops feeding and resets `watchdog.timeout` later. The
//! engine counts the promise from the latest of the host's last heartbeat, the last
//! peer report that reached it, and the end of its own blind periods, which covers
//! every moment this rule could have fed. Once the isolation response
//! `stop-feeding-watchdog` has been applied the watchdog is never fed again.
//!
//! **Isolation**: nothing heard — no controller answer, no peer answer, no isolation
//! address — for `isolation_time`, counted from the agent's start at the earliest.

use std::time::Duration;

use tokio::time::Instant;

/// What the agent has heard, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hearing {
    /// When the agent started (the silence before it is not counted).
    pub started: Instant,
    /// The last 200 from any controller.
    pub last_controller: Option<Instant>,
    /// The last answer from any peer.
    pub last_peer: Option<Instant>,
    /// The last successful isolation-address check.
    pub last_address: Option<Instant>,
}

impl Hearing {
    /// Nothing heard yet, started at `started`.
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            last_controller: None,
            last_peer: None,
            last_address: None,
        }
    }

    /// The last time anything was heard (or the start).
    pub fn last_heard(&self) -> Instant {
        [self.last_controller, self.last_peer, self.last_address]
            .into_iter()
            .flatten()
            .fold(self.started, Instant::max)
    }

    /// Whether the host is isolated at `now`.
    pub fn isolated(&self, now: Instant, isolation_time: Duration) -> bool {
        now.saturating_duration_since(self.last_heard()) >= isolation_time
    }

    /// Whether a controller answered within `window` before `now`.
    pub fn controller_heard(&self, now: Instant, window: Duration) -> bool {
        self.last_controller
            .is_some_and(|t| now.saturating_duration_since(t) <= window)
    }
}

/// Whether the agent has a strict majority of its segment: itself plus `reachable`
/// peers out of `segment_size` hosts (itself included).
pub fn has_quorum(reachable: usize, segment_size: usize) -> bool {
    (reachable + 1) * 2 > segment_size
}

/// The feed rule: a controller heard within `controller_window`, or a peer quorum —
/// and the isolation response `stop-feeding-watchdog` not applied.
pub fn should_feed(
    hearing: &Hearing,
    now: Instant,
    controller_window: Duration,
    reachable_peers: usize,
    segment_size: usize,
    stopped_for_isolation: bool,
) -> bool {
    !stopped_for_isolation
        && (hearing.controller_heard(now, controller_window)
            || has_quorum(reachable_peers, segment_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// Seconds ago something was last heard; `None`: never.
    type Ago = Option<u64>;

    /// (what was heard, seconds before now; None = never) for controller, peer,
    /// address; seconds since start; isolated after 10 s?
    #[tokio::test(start_paused = true)]
    async fn isolation_is_declared_only_after_hearing_nothing_for_the_isolation_time() {
        #[rustfmt::skip]
        let table: &[(Ago, Ago, Ago, u64, bool)] = &[
            // controller, peer, address, since start, isolated
            (None,     None,     None,     5,  false), // just started: silence counts from the start
            (None,     None,     None,     10, true),
            (Some(9),  None,     None,     30, false), // controller heard 9 s ago
            (Some(10), None,     None,     30, true),
            (Some(20), Some(3),  None,     30, false), // a peer answers
            (Some(20), Some(12), Some(2),  30, false), // only the isolation address answers
            (Some(20), Some(12), Some(11), 30, true),
            (None,     None,     Some(10), 30, true),
        ];
        for &(c, p, a, since_start, expected) in table {
            let start = Instant::now();
            tokio::time::advance(Duration::from_secs(since_start)).await;
            let now = Instant::now();
            let ago = |s: Option<u64>| s.map(|s| now - Duration::from_secs(s));
            let h = Hearing {
                started: start,
                last_controller: ago(c),
                last_peer: ago(p),
                last_address: ago(a),
            };
            assert_eq!(
                h.isolated(now, 10 * S),
                expected,
                "controller {c:?} peer {p:?} address {a:?} started {since_start} s ago"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_is_fed_on_a_controller_answer_or_a_peer_quorum_only() {
        #[rustfmt::skip]
        let table: &[(Option<u64>, usize, usize, bool, bool)] = &[
            // controller heard (s ago), reachable peers, segment size, stopped, fed
            (Some(1), 0, 5, false, true),  // the controller answers
            (Some(3), 0, 5, false, true),  // still within the 3 s window
            (Some(4), 0, 5, false, false), // controller lost, no quorum
            (None,    2, 5, false, true),  // 3 of 5: quorum
            (None,    1, 5, false, false), // 2 of 5: none
            (None,    1, 4, false, false), // 2 of 4 is not a strict majority
            (None,    2, 4, false, true),
            (None,    1, 2, false, true),  // two hosts that see each other
            (None,    0, 1, false, true),  // a segment of one is its own quorum
            (Some(1), 4, 5, true,  false), // isolation response applied: never again
        ];
        for &(c, peers, size, stopped, expected) in table {
            tokio::time::advance(Duration::from_secs(10)).await;
            let now = Instant::now();
            let mut h = Hearing::new(now - Duration::from_secs(60));
            h.last_controller = c.map(|s| now - Duration::from_secs(s));
            assert_eq!(
                should_feed(&h, now, 3 * S, peers, size, stopped),
                expected,
                "controller {c:?} peers {peers}/{size} stopped {stopped}"
            );
        }
    }
}
