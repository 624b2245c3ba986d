//! Transient QEMU domains on the machine's real libvirtd (`tests/libvirt/up`), for the
//! tests of the instance monitor (this crate's `tests/libvirt_monitor.rs`) and the chaos
//! scenario of a crashed guest (`crates/lazarus/tests/e2e_chaos.rs`). Behind the
//! `test-support` feature: lazarus itself never creates domains.
//!
//! A domain is the smallest that boots under TCG (no KVM needed): 32 MiB, no disk, no
//! graphics, serial to null. Every domain created is destroyed when the set is dropped,
//! whatever the test's outcome.

use std::process::{Command, Output};

/// The libvirt connection the agent's default `virsh` commands use.
pub const LIBVIRT_URI: &str = "qemu:///system";

/// `virsh -c qemu:///system ARGS`, in the C locale as the agent runs it.
pub fn virsh(args: &[&str]) -> Result<Output, String> {
    Command::new("virsh")
        .arg("-c")
        .arg(LIBVIRT_URI)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("cannot run virsh: {e}"))
}

/// `virsh ARGS`, an error with its stderr unless it succeeded.
fn virsh_ok(args: &[&str]) -> Result<(), String> {
    let out = virsh(args)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "virsh {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The domains a test created.
#[derive(Debug, Default)]
pub struct TestDomains {
    names: Vec<String>,
}

impl TestDomains {
    /// None yet; fails unless libvirtd answers.
    pub fn connect() -> Result<Self, String> {
        virsh_ok(&["list", "--name"]).map_err(|e| {
            format!("libvirtd does not answer on {LIBVIRT_URI} (run tests/libvirt/up as root): {e}")
        })?;
        Ok(Self::default())
    }

    /// Starts a domain named `name` with UUID `uuid`; `devices` is more device XML
    /// (a guest-agent channel, say), or "".
    pub fn create(&mut self, name: &str, uuid: &str, devices: &str) -> Result<(), String> {
        let xml = format!(
            "<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <serial type='null'/>
    <memballoon model='none'/>
    {devices}
  </devices>
</domain>
"
        );
        let path = std::env::temp_dir().join(format!("lazarus-{name}.xml"));
        std::fs::write(&path, xml).map_err(|e| format!("{}: {e}", path.display()))?;
        self.names.push(name.to_owned());
        let created = virsh_ok(&["create", &path.to_string_lossy()]);
        let _ = std::fs::remove_file(&path);
        created
    }

    /// `virsh destroy`: an operator's stop.
    pub fn destroy(&self, name: &str) -> Result<(), String> {
        virsh_ok(&["destroy", name])
    }

    /// SIGKILL to the domain's QEMU (its pid from `/run/libvirt/qemu/<name>.pid`): a
    /// guest that crashes.
    pub fn kill_qemu(&self, name: &str) -> Result<(), String> {
        let file = format!("/run/libvirt/qemu/{name}.pid");
        let pid = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
        let killed = Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .is_ok_and(|s| s.success());
        if killed {
            Ok(())
        } else {
            Err(format!("kill -KILL {} ({name}'s QEMU) failed", pid.trim()))
        }
    }
}

impl Drop for TestDomains {
    fn drop(&mut self) {
        for name in &self.names {
            // The crashed and the destroyed ones are gone already: errors are expected.
            let _ = virsh(&["destroy", name]);
        }
    }
}
