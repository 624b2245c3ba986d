//! What a `--netns` devcloud leaves in the kernel when its processes die without
//! `bin/devcloud down` (a killed session, a CI job stopped at its limit): the bridge,
//! the hosts' namespaces and veths outlive the state directory. The next cloud of the
//! same offset must reclaim them, and must never touch those of a cloud still running.
//!
//! Uses its own offset (8700: links `dc87…`), so it runs beside the real devclouds.
//! Needs root and iproute2, hence `#[ignore]`: `scripts/test` runs it.

#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const OFFSET: &str = "8700";
const BRIDGE: &str = "dc87br";
const NAMESPACE: &str = "dc87-compute1";
const VETH: &str = "dc87v1";

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn link_exists(name: &str) -> bool {
    ip(&["link", "show", "dev", name])
}

fn namespace_exists(name: &str) -> bool {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .any(|word| word == name)
}

/// A bridge, a namespace and a veth into it, named as the devcloud names them.
fn leave_behind() {
    assert!(
        ip(&["link", "add", BRIDGE, "type", "bridge"]),
        "ip link add (root needed)"
    );
    assert!(ip(&["netns", "add", NAMESPACE]), "ip netns add");
    assert!(ip(&[
        "link", "add", VETH, "type", "veth", "peer", "name", "eth0", "netns", NAMESPACE
    ]));
    assert!(ip(&["link", "set", VETH, "master", BRIDGE]));
}

/// Removes whatever this test created, whatever state it stopped in.
struct Cleanup(Option<Child>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        ip(&["netns", "del", NAMESPACE]);
        ip(&["link", "del", VETH]);
        ip(&["link", "del", BRIDGE]);
    }
}

/// `bin/devcloud down` for an empty state directory of offset 8700; its output.
fn devcloud_down(state: &tempfile::TempDir) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("bin/devcloud"))
        .arg("down")
        .env("DEVCLOUD_DIR", state.path())
        .env("DEVCLOUD_PORT_OFFSET", OFFSET)
        .output()
        .expect("run bin/devcloud");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "bin/devcloud down failed:\n{text}");
    text
}

#[test]
#[ignore = "needs root and iproute2 (network namespaces)"]
fn links_of_a_dead_netns_cloud_are_reclaimed_and_those_of_a_live_one_are_left_alone() {
    let mut cleanup = Cleanup(None);
    let state = tempfile::tempdir().expect("tempdir");

    // Dead: nothing runs in the namespace, nothing answers on the bridge.
    leave_behind();
    let out = devcloud_down(&state);
    assert!(
        !link_exists(BRIDGE) && !namespace_exists(NAMESPACE) && !link_exists(VETH),
        "a dead cloud's links survived `down`:\n{out}"
    );

    // Live: a process in the namespace (another cloud's nova-compute or agent).
    leave_behind();
    let child = Command::new("ip")
        .args(["netns", "exec", NAMESPACE, "sleep", "300"])
        .spawn()
        .expect("a process in the namespace");
    cleanup.0 = Some(child);
    let running = || {
        Command::new("ip")
            .args(["netns", "pids", NAMESPACE])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    };
    for attempt in 0.. {
        if running() {
            break;
        }
        assert!(attempt < 500, "the process never showed in {NAMESPACE}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = devcloud_down(&state);
    assert!(
        link_exists(BRIDGE) && namespace_exists(NAMESPACE) && link_exists(VETH),
        "a live cloud's links were removed:\n{out}"
    );
    assert!(out.contains("left alone"), "no word of it:\n{out}");
}
