//! Instance monitoring where libvirt is present: `virsh event --all --loop` lines
//! turned into instance failures.
//!
//! Untested against a real libvirt (this machine has none): the parser is tested on
//! the line formats virsh prints (`event 'lifecycle' for domain 'instance-0000002a':
//! Stopped Failed`, `event 'watchdog' …`, `event 'io-error' …`). Guest-agent pings are
//! not implemented yet.

use lazarus_core::event::InstanceFailureKind;
use lazarus_core::InstanceId;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::config::{InstanceMonitorKind, InstancesSection};

/// Parses one `virsh event` line into (domain name, failure), if it is a failure.
pub fn parse_virsh_event(line: &str) -> Option<(String, InstanceFailureKind)> {
    let rest = line.trim().strip_prefix("event '")?;
    let (kind, rest) = rest.split_once('\'')?;
    let rest = rest.trim_start().strip_prefix("for domain '")?;
    let (domain, detail) = rest.split_once('\'')?;
    let detail = detail.trim_start_matches(':').trim().to_ascii_lowercase();
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

/// Starts the configured monitor; failures arrive on `tx` with the domain's UUID.
pub fn spawn(c: &InstancesSection, tx: mpsc::Sender<(InstanceId, InstanceFailureKind)>) {
    match c.monitor {
        InstanceMonitorKind::None => {}
        InstanceMonitorKind::Virsh => {
            let c = c.clone();
            tokio::spawn(async move { virsh_loop(c, tx).await });
        }
    }
}

async fn virsh_loop(c: InstancesSection, tx: mpsc::Sender<(InstanceId, InstanceFailureKind)>) {
    let Some((program, args)) = c.virsh_event_command.split_first() else {
        return;
    };
    loop {
        let child = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(mut child) => {
                if let Some(out) = child.stdout.take() {
                    let mut lines = tokio::io::BufReader::new(out).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let Some((domain, kind)) = parse_virsh_event(&line) else {
                            continue;
                        };
                        let uuid = domain_uuid(&c, &domain).await.unwrap_or(domain);
                        tracing::warn!(instance = %uuid, ?kind, "instance failure seen by libvirt");
                        if tx.send((InstanceId::from(uuid), kind)).await.is_err() {
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

async fn domain_uuid(c: &InstancesSection, domain: &str) -> Option<String> {
    let (program, args) = c.virsh_domuuid_command.split_first()?;
    let out = tokio::process::Command::new(program)
        .args(args)
        .arg(domain)
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    let uuid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !uuid.is_empty()).then_some(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virsh_failure_lines_are_recognised_and_others_ignored() {
        let table = [
            ("event 'lifecycle' for domain 'instance-0000002a': Stopped Failed", Some(InstanceFailureKind::Crashed)),
            ("event 'lifecycle' for domain 'instance-0000002a': Crashed Panicked", Some(InstanceFailureKind::Crashed)),
            ("event 'lifecycle' for domain 'instance-0000002a': Stopped Shutdown", None),
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
}
