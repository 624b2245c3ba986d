//! Instance monitoring where libvirt is present: `virsh event --all --loop` lines
//! turned into instance failures, reported by the domain's UUID (the Nova server id).
//!
//! Tested against libvirt 9.0 and QEMU 7.2 (`tests/libvirt_monitor.rs`), which print,
//! for a QEMU process killed by SIGKILL, `event 'lifecycle' for domain
//! 'instance-0000002a': Stopped Failed`, and for `virsh destroy`, `… Shutdown Finished
//! after host request` then `… Stopped Destroyed` (not a failure). A transient domain
//! is gone once it died, so `virsh domuuid` no longer knows its name: the UUIDs are
//! learnt when the stream starts (`virsh list --all --uuid --name`) and from any event
//! of a domain not known yet (its start), and `virsh domuuid` is only the fallback.
//! virsh runs with `LC_ALL=C`: its event lines are translated messages.

use std::collections::HashMap;

use lazarus_core::event::InstanceFailureKind;
use lazarus_core::InstanceId;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::config::{InstanceMonitorKind, InstancesSection};

/// One `virsh event` line: the event kind, the domain name and the detail (after the
/// colon, trimmed). A `--timestamp` prefix is skipped.
fn split_virsh_event(line: &str) -> Option<(&str, &str, &str)> {
    let start = line.find("event '")?;
    let rest = &line[start + "event '".len()..];
    let (kind, rest) = rest.split_once('\'')?;
    let rest = rest.trim_start().strip_prefix("for domain '")?;
    let (domain, detail) = rest.split_once('\'')?;
    Some((kind, domain, detail.trim_start_matches(':').trim()))
}

/// Parses one `virsh event` line into (domain name, failure), if it is a failure.
pub fn parse_virsh_event(line: &str) -> Option<(String, InstanceFailureKind)> {
    let (kind, domain, detail) = split_virsh_event(line)?;
    let detail = detail.to_ascii_lowercase();
    let failure = match kind {
        "lifecycle" if detail.starts_with("stopped failed") || detail.starts_with("crashed") => {
            InstanceFailureKind::Crashed
        }
        "watchdog" => InstanceFailureKind::Watchdog,
        "io-error" | "io-error-reason" => InstanceFailureKind::IoError,
        _ => return None,
    };
    Some((domain.to_owned(), failure))
}

/// Domain names → UUIDs, as learnt from `virsh list --all --uuid --name` and
/// `virsh domuuid`.
#[derive(Debug, Default)]
struct DomainUuids {
    by_name: HashMap<String, String>,
}

impl DomainUuids {
    /// Takes `<uuid> <name>` lines (blank ones are skipped).
    fn learn_list(&mut self, listing: &str) {
        for (uuid, name) in parse_listing(listing) {
            self.by_name.insert(name, uuid);
        }
    }
}

/// `virsh list --uuid --name` output: (UUID, name) per non-blank line.
pub(crate) fn parse_listing(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|line| line.trim().split_once(char::is_whitespace))
        .map(|(uuid, name)| (uuid.to_owned(), name.trim().to_owned()))
        .collect()
}

/// Starts the configured monitor (and the guest pings, if configured); failures arrive
/// on `tx` with the domain's UUID.
pub fn spawn(c: &InstancesSection, tx: mpsc::Sender<(InstanceId, InstanceFailureKind)>) {
    match c.monitor {
        InstanceMonitorKind::None => {}
        InstanceMonitorKind::Virsh => {
            if c.guest_ping {
                let pinger = crate::guest_ping::GuestPinger::new(c);
                tokio::spawn(pinger.run(c.guest_ping_interval, tx.clone()));
            }
            let c = c.clone();
            tokio::spawn(async move { virsh_loop(c, tx).await });
        }
    }
}

async fn virsh_loop(c: InstancesSection, tx: mpsc::Sender<(InstanceId, InstanceFailureKind)>) {
    let Some((program, args)) = c.virsh_event_command.split_first() else {
        return;
    };
    let mut uuids = DomainUuids::default();
    loop {
        let child = tokio::process::Command::new(program)
            .args(args)
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(mut child) => {
                // Listed after the stream started, so that no domain starts unseen.
                if let Some(listing) = run(&c.virsh_list_command, None).await {
                    uuids.learn_list(&listing);
                }
                if let Some(out) = child.stdout.take() {
                    let mut lines = tokio::io::BufReader::new(out).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if !handle_line(&c, &mut uuids, &line, &tx).await {
                            return;
                        }
                    }
                }
                tracing::warn!("virsh event stream ended; restarting it in 5 s");
            }
            Err(e) => tracing::warn!("cannot start {program}: {e}; retrying in 5 s"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}

/// Learns the UUID of a domain seen starting, reports a failure. False when nobody
/// listens any more.
async fn handle_line(
    c: &InstancesSection,
    uuids: &mut DomainUuids,
    line: &str,
    tx: &mpsc::Sender<(InstanceId, InstanceFailureKind)>,
) -> bool {
    let Some((kind, domain, detail)) = split_virsh_event(line) else {
        return true;
    };
    // A name can come back with another UUID (a transient domain created again).
    let (re_learn, forget) = match kind {
        "lifecycle" => (
            detail.starts_with("Started") || detail.starts_with("Defined"),
            detail.starts_with("Undefined"),
        ),
        _ => (false, false),
    };
    if forget {
        uuids.by_name.remove(domain);
    } else if re_learn || !uuids.by_name.contains_key(domain) {
        if let Some(uuid) = run(&c.virsh_domuuid_command, Some(domain)).await {
            uuids.by_name.insert(domain.to_owned(), uuid);
        }
    }
    let Some((domain, failure)) = parse_virsh_event(line) else {
        return true;
    };
    let uuid = match uuids.by_name.get(&domain) {
        Some(uuid) => uuid.clone(),
        None => {
            tracing::warn!(%domain, "no UUID known for the domain: reporting it by name");
            domain
        }
    };
    tracing::warn!(instance = %uuid, ?failure, "instance failure seen by libvirt");
    tx.send((InstanceId::from(uuid), failure)).await.is_ok()
}

/// Runs a command (with one more argument), returning its trimmed standard output if
/// it succeeded and printed something.
pub(crate) async fn run(argv: &[String], arg: Option<&str>) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let out = tokio::process::Command::new(program)
        .args(args)
        .args(arg)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virsh_failure_lines_are_recognised_and_others_ignored() {
        let table = [
            // Printed by libvirt 9.0 for a QEMU killed by SIGKILL (tests/libvirt_monitor.rs).
            ("event 'lifecycle' for domain 'instance-0000002a': Stopped Failed", Some(InstanceFailureKind::Crashed)),
            ("2026-11-21 16:17:30.346+0000: event 'lifecycle' for domain 'instance-0000002a': Stopped Failed", Some(InstanceFailureKind::Crashed)),
            ("event 'lifecycle' for domain 'instance-0000002a': Crashed Panicked", Some(InstanceFailureKind::Crashed)),
            ("event 'lifecycle' for domain 'instance-0000002a': Stopped Shutdown", None),
            // Printed by libvirt 9.0 for `virsh destroy`, and for a start.
            ("event 'lifecycle' for domain 'instance-0000002a': Shutdown Finished after host request", None),
            ("event 'lifecycle' for domain 'instance-0000002a': Stopped Destroyed", None),
            ("event 'lifecycle' for domain 'instance-0000002a': Resumed Unpaused", None),
            ("event 'lifecycle' for domain 'instance-0000002a': Started Booted", None),
            ("event 'watchdog' for domain 'instance-0000002a': reset", Some(InstanceFailureKind::Watchdog)),
            ("event 'io-error' for domain 'instance-0000002a': /var/lib/nova/disk (virtio-disk0) pause", Some(InstanceFailureKind::IoError)),
            ("event 'reboot' for domain 'instance-0000002a'", None),
            ("events received: 3", None),
        ];
        for (line, expected) in table {
            let got = parse_virsh_event(line);
            assert_eq!(got.as_ref().map(|g| g.1), expected, "{line}");
            if let Some((domain, _)) = got {
                assert_eq!(domain, "instance-0000002a");
            }
        }
    }

    #[test]
    fn the_domain_listing_maps_names_to_uuids() {
        let mut u = DomainUuids::default();
        // As `virsh list --all --uuid --name` prints it (libvirt 9.0), trailing blank line included.
        u.learn_list("4c7a1b2e-0000-4000-8000-000000000001 instance-0000002a\n\n");
        assert_eq!(
            u.by_name.get("instance-0000002a").map(String::as_str),
            Some("4c7a1b2e-0000-4000-8000-000000000001")
        );
        assert_eq!(u.by_name.len(), 1);
    }

    fn section(domuuid: &str) -> InstancesSection {
        InstancesSection {
            monitor: InstanceMonitorKind::Virsh,
            virsh_event_command: vec![],
            virsh_domuuid_command: vec!["sh".into(), "-c".into(), domuuid.into(), "domuuid".into()],
            virsh_list_command: vec![],
            ..InstancesSection::default()
        }
    }

    #[tokio::test]
    async fn a_domain_seen_starting_is_reported_by_its_uuid_after_it_is_gone() {
        // domuuid answers while the domain runs, then fails (a transient domain died).
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let script = format!(
            "[ -e {} ] && exit 1; echo 4c7a1b2e-0000-4000-8000-00000000002a",
            gone.display()
        );
        let c = section(&script);
        let mut u = DomainUuids::default();
        let (tx, mut rx) = mpsc::channel(4);
        let started = "event 'lifecycle' for domain 'instance-0000002a': Started Booted";
        assert!(handle_line(&c, &mut u, started, &tx).await);
        std::fs::write(&gone, "").unwrap();
        let failed = "event 'lifecycle' for domain 'instance-0000002a': Stopped Failed";
        assert!(handle_line(&c, &mut u, failed, &tx).await);
        let (instance, kind) = rx.try_recv().unwrap();
        assert_eq!(
            instance,
            InstanceId::from("4c7a1b2e-0000-4000-8000-00000000002a")
        );
        assert_eq!(kind, InstanceFailureKind::Crashed);
        assert!(rx.try_recv().is_err(), "the start is no failure");
    }

    #[tokio::test]
    async fn a_domain_never_resolved_is_reported_by_name() {
        let c = section("exit 1");
        let mut u = DomainUuids::default();
        let (tx, mut rx) = mpsc::channel(4);
        let failed = "event 'lifecycle' for domain 'instance-0000002a': Stopped Failed";
        assert!(handle_line(&c, &mut u, failed, &tx).await);
        assert_eq!(
            rx.try_recv().unwrap().0,
            InstanceId::from("instance-0000002a")
        );
    }
}
