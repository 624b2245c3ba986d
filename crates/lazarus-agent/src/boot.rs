//! Reboots the controller did not see: the host's boot id, and the guests the agent
//! last saw running, kept in a small state file across the reboot.
//!
//! A host that resets while it has no recovery (nobody judged it: the controller was
//! blind, or the reset was quicker than the detector) comes back with its guests shut
//! off, and the controller cannot tell them from guests a user stopped
//! (docs/sim-findings.md F13). The agent can: it saved which guests were running,
//! with the boot id of the boot they ran in. At its next start, a different boot id
//! means the host rebooted since, and the saved list is what ran before; the agent
//! reports it once (`host_rebooted`, resent until acknowledged). A guest a user
//! stopped before the reboot is not in the list, because the agent no longer saw it
//! running.

use std::io::Write;
use std::path::Path;

use lazarus_core::InstanceId;
use serde::{Deserialize, Serialize};

use crate::protocol::AgentEventKind;

/// What the state file holds: the guests seen running, and in which boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunningGuests {
    /// The boot id of the boot the list was taken in.
    pub boot_id: String,
    /// The UUIDs (Nova server ids) of the guests running at the last refresh, sorted.
    pub guests: Vec<InstanceId>,
}

impl RunningGuests {
    /// Reads the state file; `None` when it is missing or unreadable (a first start,
    /// or a file from elsewhere: nothing is reported rather than a wrong list).
    pub fn load(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str(&text) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring an unreadable guest list: {e}");
                None
            }
        }
    }

    /// Writes the state file atomically (a temporary file beside it, synced, then
    /// renamed over it), so a reset in the middle leaves the old list or the new one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }

    /// The report due at a start in boot `current`: `host_rebooted` with the saved
    /// list if it was taken in another boot, nothing otherwise.
    pub fn reboot_report(&self, current: &str) -> Option<AgentEventKind> {
        (self.boot_id != current).then(|| AgentEventKind::HostRebooted {
            previous_boot_id: self.boot_id.clone(),
            guests_running_before: self.guests.clone(),
        })
    }
}

/// The host's boot id (Linux: `/proc/sys/kernel/random/boot_id`), trimmed; `None`
/// if the file cannot be read or is empty.
pub fn read_boot_id(path: &Path) -> Option<String> {
    let id = std::fs::read_to_string(path).ok()?.trim().to_owned();
    (!id.is_empty()).then_some(id)
}

/// The guest UUIDs of a `virsh list --uuid [--name]` listing: the first word of each
/// non-blank line, sorted and without duplicates.
pub fn parse_running(listing: &str) -> Vec<InstanceId> {
    let mut ids: Vec<InstanceId> = listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(InstanceId::from)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Runs the listing command; the guests it lists, or `None` if it could not run or
/// failed (an empty listing is an empty list, not a failure).
pub async fn list_running(argv: &[String]) -> Option<Vec<InstanceId>> {
    let (program, args) = argv.split_first()?;
    let out = tokio::process::Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| parse_running(&String::from_utf8_lossy(&out.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<InstanceId> {
        v.iter().map(|s| InstanceId::from(*s)).collect()
    }

    #[test]
    fn a_list_saved_in_another_boot_is_reported_as_running_before_the_reboot() {
        let saved = RunningGuests {
            boot_id: "boot-a".into(),
            guests: ids(&["u-1", "u-2"]),
        };
        assert_eq!(
            saved.reboot_report("boot-b"),
            Some(AgentEventKind::HostRebooted {
                previous_boot_id: "boot-a".into(),
                guests_running_before: ids(&["u-1", "u-2"]),
            })
        );
        assert_eq!(
            saved.reboot_report("boot-a"),
            None,
            "same boot: an agent restart"
        );
    }

    #[test]
    fn the_state_file_reads_back_what_was_saved_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib/lazarus/running-guests.json");
        assert_eq!(RunningGuests::load(&path), None, "no file yet");
        let r = RunningGuests {
            boot_id: "b1".into(),
            guests: ids(&["u-1"]),
        };
        r.save(&path).unwrap();
        let r2 = RunningGuests {
            boot_id: "b1".into(),
            guests: ids(&["u-1", "u-3"]),
        };
        r2.save(&path).unwrap();
        assert_eq!(RunningGuests::load(&path), Some(r2));
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("running-guests.json")]);
    }

    #[test]
    fn a_damaged_state_file_reports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.json");
        std::fs::write(&path, "{\"boot_id\": ").unwrap();
        assert_eq!(RunningGuests::load(&path), None);
    }

    #[test]
    fn the_boot_id_is_read_trimmed_and_an_empty_or_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boot_id");
        assert_eq!(read_boot_id(&path), None);
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(read_boot_id(&path), None);
        std::fs::write(&path, "6f1c2b8e-0d7a-4c55-9a43-1f0e5b7c9d21\n").unwrap();
        assert_eq!(
            read_boot_id(&path).as_deref(),
            Some("6f1c2b8e-0d7a-4c55-9a43-1f0e5b7c9d21")
        );
    }

    #[test]
    fn listings_with_or_without_names_give_the_uuids() {
        // `virsh list --uuid --name` (libvirt 9.0), trailing blank line included.
        assert_eq!(
            parse_running("u-2 instance-00000002\nu-1 instance-00000001\n\n"),
            ids(&["u-1", "u-2"])
        );
        // `virsh list --uuid`.
        assert_eq!(parse_running("u-1\nu-1\n"), ids(&["u-1"]));
        assert_eq!(parse_running(""), Vec::<InstanceId>::new());
    }

    #[tokio::test]
    async fn an_empty_listing_is_an_empty_list_and_a_failed_one_is_none() {
        let sh = |s: &str| vec!["sh".to_owned(), "-c".to_owned(), s.to_owned()];
        assert_eq!(list_running(&sh("true")).await, Some(vec![]));
        assert_eq!(
            list_running(&sh("echo 'u-1 instance-1'")).await,
            Some(ids(&["u-1"]))
        );
        assert_eq!(list_running(&sh("echo 'u-1 x'; exit 1")).await, None);
    }
}
