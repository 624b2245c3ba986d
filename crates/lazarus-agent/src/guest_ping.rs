//! Guest-agent pings: `virsh qemu-agent-command <domain> '{"execute":"guest-ping"}'
//! --timeout <s>` for every running domain, and the rule that turns missed pings into
//! `GuestHeartbeatLost` reports.
//!
//! Only a guest whose agent answered before can be reported: a domain without the
//! agent channel (libvirt 9.0: `argument unsupported: QEMU guest agent is not
//! configured`) is never pinged again until it restarts, and one whose agent never
//! answered (`Guest agent is not responding: QEMU guest agent is not connected`: not
//! installed, not started yet) is not a failure. Once a guest answered, each ping
//! it misses counts; from `guest_ping_misses` misses in a row every further miss is
//! reported with the silence since its last answer, and the controller's
//! `failure_interval` decides (the core's `InstanceMonitor`). A ping that could not be
//! made (libvirtd down, the domain busy) counts for nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use lazarus_core::event::InstanceFailureKind;
use lazarus_core::InstanceId;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::InstancesSection;

/// Pings run at once, at most (a host with hundreds of domains does not fork hundreds
/// of virsh at a time).
const CONCURRENT_PINGS: usize = 8;

/// What one ping said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingOutcome {
    /// The guest agent answered (even with an error: it is alive).
    Answered,
    /// The domain has no guest-agent channel: never a failure.
    NoAgent,
    /// The domain is not running (any more), or is unknown.
    DomainGone,
    /// The guest agent did not answer (not connected, not responding, timed out).
    NoAnswer(String),
    /// The ping could not be made (libvirtd unreachable, the domain busy, …).
    CheckFailed(String),
}

/// Classifies `virsh qemu-agent-command`'s exit and output (libvirt 9.0 messages).
pub fn classify_ping(success: bool, stdout: &str, stderr: &str) -> PingOutcome {
    if success && stdout.contains("\"return\"") {
        return PingOutcome::Answered;
    }
    let err = stderr.trim().trim_start_matches("error:").trim();
    let lower = err.to_ascii_lowercase();
    if lower.contains("guest agent is not configured") {
        PingOutcome::NoAgent
    } else if lower.contains("domain is not running")
        || lower.contains("domain not found")
        || lower.contains("failed to get domain")
    {
        PingOutcome::DomainGone
    } else if lower.contains("unable to execute qemu agent command") {
        // The agent answered with an error (a command it refuses): it is alive.
        PingOutcome::Answered
    } else if lower.contains("guest agent is not responding")
        || lower.contains("agent") && lower.contains("timed out")
    {
        PingOutcome::NoAnswer(err.to_owned())
    } else if success {
        PingOutcome::CheckFailed(format!("unexpected answer: {}", stdout.trim()))
    } else {
        PingOutcome::CheckFailed(err.to_owned())
    }
}

/// A guest whose agent answered at least once.
#[derive(Debug, Clone, Copy)]
struct Answering {
    last_answer: Instant,
    misses: u32,
}

/// The miss counts per domain UUID (no I/O: the caller gives the time).
#[derive(Debug)]
pub struct GuestPings {
    misses_to_report: u32,
    guests: HashMap<String, Answering>,
}

impl GuestPings {
    /// Reports from `misses_to_report` misses in a row (at least 1).
    pub fn new(misses_to_report: u32) -> Self {
        Self {
            misses_to_report: misses_to_report.max(1),
            guests: HashMap::new(),
        }
    }

    /// Takes one ping's outcome; returns the failure to report, if any.
    pub fn observe(
        &mut self,
        uuid: &str,
        outcome: &PingOutcome,
        now: Instant,
    ) -> Option<InstanceFailureKind> {
        match outcome {
            PingOutcome::Answered => {
                self.guests.insert(
                    uuid.to_owned(),
                    Answering {
                        last_answer: now,
                        misses: 0,
                    },
                );
                None
            }
            PingOutcome::NoAgent | PingOutcome::DomainGone => {
                self.guests.remove(uuid);
                None
            }
            PingOutcome::CheckFailed(_) => None,
            PingOutcome::NoAnswer(_) => {
                let g = self.guests.get_mut(uuid)?;
                g.misses = g.misses.saturating_add(1);
                (g.misses >= self.misses_to_report).then(|| {
                    InstanceFailureKind::GuestHeartbeatLost {
                        silent_for: now.saturating_duration_since(g.last_answer),
                    }
                })
            }
        }
    }

    /// Forgets the domains not running any more (a stopped domain is no guest failure;
    /// a crash is the event stream's).
    pub fn retain_running(&mut self, running: &HashSet<String>) {
        self.guests.retain(|uuid, _| running.contains(uuid));
    }
}

/// One domain's ping in a round.
#[derive(Debug, Clone)]
pub struct PingReport {
    /// The domain's UUID.
    pub instance: InstanceId,
    /// Its name.
    pub domain: String,
    /// What the ping said.
    pub outcome: PingOutcome,
    /// The failure to report, if any.
    pub failure: Option<InstanceFailureKind>,
}

/// Pings every running domain each round.
#[derive(Debug)]
pub struct GuestPinger {
    running_command: Vec<String>,
    ping_command: Vec<String>,
    timeout: Duration,
    pings: GuestPings,
    /// Domains without the agent channel, skipped until they are not running any more.
    no_agent: HashSet<String>,
}

impl GuestPinger {
    /// From `[instances]`.
    pub fn new(c: &InstancesSection) -> Self {
        Self {
            running_command: c.virsh_running_command.clone(),
            ping_command: c.virsh_guest_ping_command.clone(),
            timeout: c.guest_ping_timeout.max(Duration::from_secs(1)),
            pings: GuestPings::new(c.guest_ping_misses),
            no_agent: HashSet::new(),
        }
    }

    /// Lists the running domains and pings each (a few at a time). Nothing when the
    /// listing fails.
    pub async fn round(&mut self) -> Vec<PingReport> {
        let Some(listing) = crate::instances::run(&self.running_command, None).await else {
            tracing::debug!("guest pings: cannot list the running domains");
            return vec![];
        };
        let domains = crate::instances::parse_listing(&listing);
        let running: HashSet<String> = domains.iter().map(|(uuid, _)| uuid.clone()).collect();
        self.pings.retain_running(&running);
        self.no_agent.retain(|uuid| running.contains(uuid));

        let limit = Arc::new(Semaphore::new(CONCURRENT_PINGS));
        let mut pings = JoinSet::new();
        for (uuid, name) in domains {
            if self.no_agent.contains(&uuid) {
                continue;
            }
            let (argv, timeout, limit) = (self.ping_command.clone(), self.timeout, limit.clone());
            pings.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let outcome = ping(&argv, &name, timeout).await;
                (uuid, name, outcome)
            });
        }
        let mut reports = vec![];
        while let Some(joined) = pings.join_next().await {
            let Ok((uuid, domain, outcome)) = joined else {
                continue;
            };
            let failure = self.pings.observe(&uuid, &outcome, Instant::now());
            if outcome == PingOutcome::NoAgent {
                self.no_agent.insert(uuid.clone());
            }
            reports.push(PingReport {
                instance: InstanceId::from(uuid),
                domain,
                outcome,
                failure,
            });
        }
        reports
    }

    /// A round every `every`, failures sent on `tx`, until nobody listens.
    pub async fn run(
        mut self,
        every: Duration,
        tx: mpsc::Sender<(InstanceId, InstanceFailureKind)>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for r in self.round().await {
                if let PingOutcome::CheckFailed(why) = &r.outcome {
                    tracing::debug!(domain = %r.domain, %why, "guest ping not made");
                }
                let Some(failure) = r.failure else { continue };
                tracing::warn!(instance = %r.instance, domain = %r.domain, ?failure, "guest agent silent");
                if tx.send((r.instance, failure)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One ping, bounded by `timeout` (virsh's `--timeout`) plus 5 s for virsh itself.
async fn ping(argv: &[String], domain: &str, timeout: Duration) -> PingOutcome {
    let Some((program, args)) = argv.split_first() else {
        return PingOutcome::CheckFailed("no ping command".into());
    };
    let secs = timeout.as_secs().max(1).to_string();
    let run = tokio::process::Command::new(program)
        .args(args)
        .args([domain, r#"{"execute":"guest-ping"}"#, "--timeout", &secs])
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(timeout + Duration::from_secs(5), run).await {
        Err(_) => PingOutcome::NoAnswer(format!("virsh did not return within {secs} s + 5 s")),
        Ok(Err(e)) => PingOutcome::CheckFailed(format!("cannot run {program}: {e}")),
        Ok(Ok(out)) => classify_ping(
            out.status.success(),
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn virsh_answers_are_classified() {
        let no_answer = |s: &str| PingOutcome::NoAnswer(s.to_owned());
        let table = [
            // Printed by libvirt 9.0 (tests/libvirt_monitor.rs).
            (true, "{\"return\":{}}\n\n", "", PingOutcome::Answered),
            (false, "", "error: argument unsupported: QEMU guest agent is not configured\n", PingOutcome::NoAgent),
            (
                false,
                "",
                "error: Guest agent is not responding: QEMU guest agent is not connected\n",
                no_answer("Guest agent is not responding: QEMU guest agent is not connected"),
            ),
            (false, "", "error: Requested operation is not valid: domain is not running\n", PingOutcome::DomainGone),
            (false, "", "error: failed to get domain 'instance-0000002a'\n", PingOutcome::DomainGone),
            // libvirt's other agent errors (qemu_agent.c).
            (
                false,
                "",
                "error: Guest agent is not responding: Guest agent not available for now\n",
                no_answer("Guest agent is not responding: Guest agent not available for now"),
            ),
            (
                false,
                "",
                "error: internal error: unable to execute QEMU agent command 'guest-ping': Command guest-ping has been disabled\n",
                PingOutcome::Answered,
            ),
            (
                false,
                "",
                "error: failed to connect to the hypervisor\n",
                PingOutcome::CheckFailed("failed to connect to the hypervisor".into()),
            ),
            (
                false,
                "",
                "error: Timed out during operation: cannot acquire state change lock\n",
                PingOutcome::CheckFailed("Timed out during operation: cannot acquire state change lock".into()),
            ),
        ];
        for (success, stdout, stderr, expected) in table {
            assert_eq!(classify_ping(success, stdout, stderr), expected, "{stderr}");
        }
    }

    fn no_answer() -> PingOutcome {
        PingOutcome::NoAnswer("QEMU guest agent is not connected".into())
    }

    #[test]
    fn a_guest_that_never_answered_is_never_reported() {
        let mut p = GuestPings::new(1);
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(p.observe("u", &no_answer(), t0 + S * i), None);
            assert_eq!(p.observe("v", &PingOutcome::NoAgent, t0 + S * i), None);
        }
    }

    #[test]
    fn an_answering_guest_is_reported_from_the_nth_miss_in_a_row_with_its_silence() {
        let mut p = GuestPings::new(3);
        let t0 = Instant::now();
        assert_eq!(p.observe("u", &PingOutcome::Answered, t0), None);
        assert_eq!(p.observe("u", &no_answer(), t0 + S * 10), None);
        assert_eq!(p.observe("u", &no_answer(), t0 + S * 20), None);
        // A ping not made is no miss.
        assert_eq!(
            p.observe(
                "u",
                &PingOutcome::CheckFailed("libvirtd".into()),
                t0 + S * 25
            ),
            None
        );
        let lost = |secs| {
            Some(InstanceFailureKind::GuestHeartbeatLost {
                silent_for: S * secs,
            })
        };
        assert_eq!(p.observe("u", &no_answer(), t0 + S * 30), lost(30));
        assert_eq!(
            p.observe("u", &no_answer(), t0 + S * 40),
            lost(40),
            "each further miss"
        );
        // It answers again: the count starts afresh.
        assert_eq!(p.observe("u", &PingOutcome::Answered, t0 + S * 50), None);
        assert_eq!(p.observe("u", &no_answer(), t0 + S * 60), None);
        assert_eq!(p.observe("u", &no_answer(), t0 + S * 70), None);
        assert_eq!(p.observe("u", &no_answer(), t0 + S * 80), lost(30));
    }

    #[test]
    fn a_stopped_domain_is_forgotten() {
        let mut p = GuestPings::new(1);
        let t0 = Instant::now();
        p.observe("u", &PingOutcome::Answered, t0);
        p.retain_running(&HashSet::new());
        assert_eq!(
            p.observe("u", &no_answer(), t0 + S),
            None,
            "started again: not answered yet"
        );
        p.observe("u", &PingOutcome::Answered, t0 + S * 2);
        p.observe("u", &PingOutcome::DomainGone, t0 + S * 3);
        assert_eq!(p.observe("u", &no_answer(), t0 + S * 4), None);
    }

    fn script(dir: &std::path::Path, name: &str, body: &str) -> Vec<String> {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        vec!["sh".into(), path.display().to_string()]
    }

    #[tokio::test]
    async fn a_round_pings_each_running_domain_and_skips_those_without_an_agent() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("pinged");
        // `a` answers; `b` has no agent channel. Arguments: domain, JSON, --timeout, s.
        let ping = script(
            dir.path(),
            "ping",
            &format!(
                "echo \"$*\" >> {log}\n[ \"$1\" = a ] && {{ echo '{{\"return\":{{}}}}'; exit 0; }}\necho 'error: argument unsupported: QEMU guest agent is not configured' >&2; exit 1",
                log = log.display()
            ),
        );
        let c = InstancesSection {
            virsh_running_command: script(dir.path(), "list", "echo 'u-a a'; echo 'u-b b'; echo"),
            virsh_guest_ping_command: ping,
            guest_ping_timeout: S * 2,
            ..InstancesSection::default()
        };
        let mut pinger = GuestPinger::new(&c);
        let mut first = pinger.round().await;
        first.sort_by(|x, y| x.domain.cmp(&y.domain));
        let outcomes: Vec<_> = first
            .iter()
            .map(|r| (r.domain.as_str(), r.outcome.clone()))
            .collect();
        assert_eq!(
            outcomes,
            [("a", PingOutcome::Answered), ("b", PingOutcome::NoAgent)]
        );
        assert_eq!(first[0].instance, InstanceId::from("u-a"));
        let second = pinger.round().await;
        assert_eq!(second.len(), 1, "b is not pinged again: {second:?}");
        let pinged = std::fs::read_to_string(&log).unwrap();
        assert_eq!(pinged.lines().filter(|l| l.starts_with("a ")).count(), 2);
        assert_eq!(pinged.lines().filter(|l| l.starts_with("b ")).count(), 1);
        assert!(
            pinged.contains(r#"a {"execute":"guest-ping"} --timeout 2"#),
            "{pinged}"
        );
    }
}
