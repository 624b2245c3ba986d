//! Contract test: the lazarus Redfish driver against the devcloud's own BMC
//! (`devcloud/bmc/redfish_bmc.py`), whose "power" is a network namespace.
//!
//! Self-contained but privileged: it creates a throwaway network namespace whose
//! boot command starts a `sleep` inside it, runs the BMC on a free loopback port,
//! and drives it through a `[bmc]` section shaped exactly like
//! `bin/devcloud bmc-config` prints it (parsed into `BmcSection`, built into a
//! `Fleet`). Checks: power-on starts the host's process, `fence()` reads Off back
//! only once no process of the namespace is left, power-on brings it back, a wrong
//! password is `AuthFailed`. Needs root, iproute2 and python3, hence `#[ignore]`:
//!
//! ```sh
//! cargo test -p lazarus-fence --test devcloud_bmc -- --ignored
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lazarus_core::event::{FenceErrorKind, PowerState};
use lazarus_core::HostName;
use lazarus_fence::{fence, BmcSection, FencePolicy, Fleet};

/// The BMC process and its namespace, removed on drop (even when a check fails).
struct Host {
    netns: String,
    bmc: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.bmc.kill();
        let _ = self.bmc.wait();
        for pid in netns_pids(&self.netns) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn netns_pids(netns: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "pids", netns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_host(name: &str) -> Host {
    let netns = format!("lzbmc{}-{name}", std::process::id());
    let status = Command::new("ip")
        .args(["netns", "add", &netns])
        .status()
        .unwrap();
    assert!(status.success(), "ip netns add (root needed)");
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    let mut f = std::fs::File::create(&password).unwrap();
    writeln!(f, "s3cret-{}", std::process::id()).unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let boot = serde_json::json!([
        "sh",
        "-c",
        format!("ip netns exec {netns} sleep 600 >/dev/null 2>&1 &")
    ]);
    let port = free_port();
    let bmc = Command::new("python3")
        .arg(repo().join("devcloud/bmc/redfish_bmc.py"))
        .args(["--name", name, "--netns", &netns, "--port"])
        .arg(port.to_string())
        .args(["--username", "admin", "--password-file"])
        .arg(&password)
        .arg("--power-file")
        .arg(dir.path().join("power"))
        .arg("--boot-cmd")
        .arg(boot.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let host = Host {
        netns,
        bmc,
        port,
        dir,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return host;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the BMC did not listen on {port}");
}

/// The section `bin/devcloud bmc-config` prints, for one host.
fn section(host: &Host, name: &str, password_file: &Path) -> BmcSection {
    let text = format!(
        "call_timeout = \"20s\"\n\n[hosts.{name}]\ndriver = \"redfish\"\n\
         address = \"http://127.0.0.1:{port}\"\nusername = \"admin\"\n\
         password_file = \"{pw}\"\nsystem = \"{name}\"\nrequest_timeout = \"5s\"\n\
         connect_timeout = \"2s\"\nretries = 2\nretry_delay = \"500ms\"\n",
        port = host.port,
        pw = password_file.display()
    );
    toml::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs root, iproute2 and python3 (network namespaces)"]
async fn the_devcloud_bmc_powers_a_namespace_off_and_on_as_the_redfish_driver_expects() {
    let name = "compute1";
    let host = start_host(name);
    let fleet =
        Fleet::from_config(&section(&host, name, &host.dir.path().join("password"))).unwrap();
    let h = HostName::new(name);

    // On: the boot command runs, a process lives in the namespace.
    fleet.power_on(&h).await.unwrap();
    assert_eq!(fleet.power_state(&h).await.unwrap(), PowerState::On);
    assert!(
        !netns_pids(&host.netns).is_empty(),
        "power-on started nothing"
    );

    // Fenced: Off is read back, and only once nothing is left in the namespace.
    let bmc = lazarus_fence::Redfish::new({
        let mut o = lazarus_fence::RedfishOptions::new(
            format!("http://127.0.0.1:{}", host.port),
            "admin",
            lazarus_fence::read_password_file(&host.dir.path().join("password")).unwrap(),
        );
        o.system = Some(name.to_owned());
        o
    })
    .unwrap();
    let policy = FencePolicy {
        read_interval: Duration::from_millis(50),
        ..FencePolicy::default()
    };
    let fenced = fence(&bmc, &policy).await.unwrap();
    assert_eq!(fenced.attempts, 1);
    assert!(
        netns_pids(&host.netns).is_empty(),
        "Off was read back while processes remain"
    );
    assert_eq!(fleet.power_state(&h).await.unwrap(), PowerState::Off);

    // Idempotent off, then on again: a new process in the namespace.
    fleet.power_off(&h).await.unwrap();
    fleet.power_on(&h).await.unwrap();
    assert_eq!(fleet.power_state(&h).await.unwrap(), PowerState::On);
    assert!(
        !netns_pids(&host.netns).is_empty(),
        "power-on started nothing"
    );

    // A wrong password is refused, not retried.
    let wrong = host.dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let bad = Fleet::from_config(&section(&host, name, &wrong)).unwrap();
    let err = bad.power_state(&h).await.unwrap_err();
    assert_eq!(err.kind, FenceErrorKind::AuthFailed);
}
