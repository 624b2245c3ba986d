//! Starts BMC emulators for the real tests: sushy-tools' Redfish emulator with its
//! fake driver, and pyghmi's fakebmc, each on a free loopback port, in a temporary
//! directory, killed when dropped. Installs them first (tests/bmc/install).

// Test support: a failure here is a failed test, so unwrap and panic are fine.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use lazarus_fence::{IpmiOptions, Ipmitool, Redfish, RedfishOptions, Secret, TlsOptions};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "s3cret-bmc-pw";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn venv() -> PathBuf {
    std::env::var_os("BMC_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-bmc"))
}

/// Runs tests/bmc/install once per test process; panics with its output if it fails.
pub fn ensure_installed() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = Command::new(repo_root().join("tests/bmc/install"))
            .output()
            .expect("run tests/bmc/install");
        assert!(
            out.status.success(),
            "tests/bmc/install failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One fake system of the Redfish emulator.
pub struct FakeSystem {
    pub uuid: String,
    pub name: String,
    pub power: &'static str,
}

impl FakeSystem {
    pub fn on(n: usize) -> Self {
        Self {
            uuid: format!("00000000-0000-4000-8000-{n:012}"),
            name: format!("compute{n}"),
            power: "On",
        }
    }
}

/// sushy-emulator --fake, Basic auth (admin / PASSWORD), optionally HTTPS.
pub struct Sushy {
    _child: Guard,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub base: String,
    pub ca_file: Option<PathBuf>,
}

impl Sushy {
    pub fn start(systems: &[FakeSystem], tls: bool) -> Self {
        Self::start_with_delay(systems, tls, None)
    }

    /// `delay`: power changes land after exactly this many whole seconds (rounded down
    /// to the second they were asked in) instead of 1..=11 at random
    /// (tests/bmc/sushy_fixed_delay.py).
    pub fn start_with_delay(systems: &[FakeSystem], tls: bool, delay: Option<u32>) -> Self {
        ensure_installed();
        let dir = tempfile::tempdir().unwrap();
        let port = free_tcp_port();
        let python = venv().join("bin/python");
        // The emulator checks bcrypt digests only.
        let htpasswd = Command::new(&python)
            .args([
                "-c",
                "import bcrypt,sys; print(sys.argv[1] + ':' + bcrypt.hashpw(sys.argv[2].encode(), bcrypt.gensalt(4)).decode())",
                USER,
                PASSWORD,
            ])
            .output()
            .unwrap();
        assert!(htpasswd.status.success());
        std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).unwrap();
        let systems_py: Vec<String> = systems
            .iter()
            .map(|s| {
                format!(
                    "{{'uuid': '{}', 'name': '{}', 'power_state': '{}', 'nics': []}}",
                    s.uuid, s.name, s.power
                )
            })
            .collect();
        let mut conf = format!(
            "SUSHY_EMULATOR_FAKE_DRIVER = True\n\
             SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n\
             SUSHY_EMULATOR_LISTEN_PORT = {port}\n\
             SUSHY_EMULATOR_STATE_DIR = '{state}'\n\
             SUSHY_EMULATOR_AUTH_FILE = '{auth}'\n\
             SUSHY_EMULATOR_FAKE_SYSTEMS = [{systems}]\n",
            state = dir.path().join("state").display(),
            auth = dir.path().join("htpasswd").display(),
            systems = systems_py.join(", "),
        );
        let mut ca_file = None;
        if tls {
            let certs = dir.path().join("certs");
            let ok = Command::new(repo_root().join("tests/bmc/certs"))
                .arg(&certs)
                .status()
                .unwrap();
            assert!(ok.success(), "tests/bmc/certs failed");
            conf.push_str(&format!(
                "SUSHY_EMULATOR_SSL_CERT = '{}'\nSUSHY_EMULATOR_SSL_KEY = '{}'\n",
                certs.join("server.pem").display(),
                certs.join("server.key").display()
            ));
            ca_file = Some(certs.join("ca.pem"));
        }
        let conf_path = dir.path().join("emulator.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = std::fs::File::create(dir.path().join("emulator.log")).unwrap();
        let mut command = match delay {
            None => Command::new(venv().join("bin/sushy-emulator")),
            Some(d) => {
                let mut c = Command::new(venv().join("bin/python"));
                c.arg(repo_root().join("tests/bmc/sushy_fixed_delay.py"))
                    .env("FAKE_POWER_DELAY", d.to_string());
                c
            }
        };
        let child = command
            .arg("--config")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn sushy-emulator");
        let scheme = if tls { "https" } else { "http" };
        let sushy = Self {
            _child: Guard(child),
            dir,
            port,
            base: format!("{scheme}://127.0.0.1:{port}"),
            ca_file,
        };
        sushy.wait_listening();
        sushy
    }

    fn wait_listening(&self) {
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "sushy-emulator did not listen on {} within 10 s; its log:\n{}",
            self.port,
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("emulator.log")).unwrap_or_default()
    }

    pub fn options(&self, system: Option<&str>) -> RedfishOptions {
        let mut o = RedfishOptions::new(&self.base, USER, Secret::new(PASSWORD));
        o.system = system.map(str::to_owned);
        o.tls = TlsOptions {
            ca_file: self.ca_file.clone(),
            insecure: false,
        };
        o
    }

    pub fn driver(&self, system: Option<&str>) -> Redfish {
        Redfish::new(self.options(system)).unwrap()
    }

    /// The requests the emulator logged, as "METHOD path", from werkzeug's log lines.
    pub fn requests(&self) -> Vec<String> {
        let log = strip_ansi(&self.log());
        log.lines()
            .filter_map(|l| {
                let start = l.find("\"")?;
                let rest = &l[start + 1..];
                let end = rest.find(" HTTP/")?;
                let status = rest[end..].split('"').nth(1)?.trim().split(' ').next()?;
                Some(format!("{} -> {status}", &rest[..end]))
            })
            .collect()
    }
}

/// pyghmi's fakebmc on a loopback UDP port (tests/bmc/fakebmc.py), admin / PASSWORD,
/// powered on.
pub struct FakeBmc {
    _child: Guard,
    pub port: u16,
}

impl FakeBmc {
    pub fn start() -> Self {
        ensure_installed();
        let port = free_udp_port();
        let child = Command::new(venv().join("bin/python"))
            .arg(repo_root().join("tests/bmc/fakebmc.py"))
            .args(["--port", &port.to_string(), "--power", "on"])
            .env("FAKEBMC_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn fakebmc");
        let bmc = Self {
            _child: Guard(child),
            port,
        };
        // Ready when ipmitool gets an answer.
        for _ in 0..50 {
            let ok = Command::new("ipmitool")
                .args(["-I", "lanplus", "-H", "127.0.0.1", "-p", &port.to_string()])
                .args([
                    "-U", USER, "-E", "-N", "1", "-R", "0", "chassis", "power", "status",
                ])
                .env("IPMI_PASSWORD", PASSWORD)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return bmc;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("fakebmc did not answer on udp/{port} within 10 s");
    }

    pub fn options(&self, password: &str) -> IpmiOptions {
        let mut o = IpmiOptions::new("127.0.0.1", self.port, USER, Secret::new(password));
        o.request_timeout = Duration::from_secs(1);
        o.retries = 1;
        o
    }

    pub fn driver(&self) -> Ipmitool {
        Ipmitool::new(self.options(PASSWORD))
    }
}

/// min / median / max of some durations, in seconds, for the figures.
pub fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    let s = |d: Duration| format!("{:.2}", d.as_secs_f64());
    format!(
        "n={} min={} s median={} s max={} s",
        samples.len(),
        s(samples[0]),
        s(samples[samples.len() / 2]),
        s(samples[samples.len() - 1])
    )
}

/// Removes terminal colour sequences (werkzeug colours some log lines).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
