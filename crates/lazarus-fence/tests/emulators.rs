//! The drivers against real BMC emulators on loopback: sushy-tools' Redfish emulator
//! (`--fake`, whose power changes land 1 to 11 s after the request) and pyghmi's
//! fakebmc through Debian's ipmitool. Each test starts the emulator it needs.
//!
//! Run: `cargo nextest run -p lazarus-fence --run-ignored all` (installs what is
//! missing through tests/bmc/install on first use). Figures print with
//! `--no-capture`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use lazarus_core::event::{FenceErrorKind, PowerState};
use lazarus_fence::fence::wait_for;
use lazarus_fence::{
    fence, BmcError, BmcSection, FencePolicy, Fleet, Ipmitool, PowerControl, Redfish, Secret,
    TlsOptions,
};
use support::{summary, FakeBmc, FakeSystem, Sushy, PASSWORD, USER};
use tokio::time::Instant;

fn policy() -> FencePolicy {
    FencePolicy {
        call_timeout: Duration::from_secs(10),
        max_attempts: 2,
        read_interval: Duration::from_millis(250),
        confirm_within: Duration::from_secs(20),
        retry_delay: Duration::from_secs(1),
    }
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn redfish_fence_is_confirmed_only_once_off_is_read_back_from_sushy_fake() {
    let sushy = Sushy::start(&[FakeSystem::on(1)], false);
    let bmc = sushy.driver(None);
    assert_eq!(
        bmc.power_state(Duration::from_secs(5)).await.unwrap(),
        PowerState::On
    );
    let fenced = fence(&bmc, &policy()).await.unwrap();
    assert_eq!(fenced.attempts, 1);
    assert_eq!(
        bmc.power_state(Duration::from_secs(5)).await.unwrap(),
        PowerState::Off
    );
    // The fake driver applies a change 1..=11 whole seconds later (rounded down to
    // the second it was asked in): "Off" is read back after several reads, not at once.
    assert!(fenced.reads >= 1);
    let requests = sushy.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("POST /redfish/v1/Systems/")
                && r.contains("/Actions/ComputerSystem.Reset -> 204")),
        "{requests:#?}"
    );
    eprintln!("redfish (sushy fake) fence: {fenced:?}");
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn redfish_power_off_to_off_read_back_figures_over_eight_systems() {
    let systems: Vec<FakeSystem> = (1..=8).map(FakeSystem::on).collect();
    let sushy = Sushy::start(&systems, false);
    let fences = systems.iter().map(|s| {
        let bmc = sushy.driver(Some(&s.name));
        async move { fence(&bmc, &policy()).await }
    });
    let results = futures_join_all(fences).await;
    let mut elapsed = Vec::new();
    for r in results {
        // How long it took is a figure, printed below, not a pass condition: the
        // emulator's own delay is 1-11 s, and a loaded machine adds to it.
        let fenced = r.unwrap();
        elapsed.push(fenced.elapsed);
    }
    // Each system was read back Off by the driver that fenced it; one more check of
    // each, by a fresh client.
    for s in &systems {
        assert_eq!(
            sushy
                .driver(Some(&s.uuid))
                .power_state(Duration::from_secs(5))
                .await
                .unwrap(),
            PowerState::Off,
            "{}",
            s.name
        );
    }
    eprintln!(
        "FIGURE redfish sushy-tools --fake, power-off request to Off read back (read every 250 ms): {}",
        summary(&mut elapsed)
    );
}

/// Runs futures concurrently (no extra dependency for join_all).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("a fence task panicked"));
    }
    out
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn redfish_power_on_is_read_back_on() {
    let mut off = FakeSystem::on(1);
    off.power = "Off";
    let sushy = Sushy::start(&[off], false);
    let bmc = sushy.driver(Some("compute1"));
    bmc.power_on(Duration::from_secs(5)).await.unwrap();
    let took = wait_for(&bmc, PowerState::On, Duration::from_secs(15), &policy())
        .await
        .unwrap();
    eprintln!("redfish (sushy fake) power-on read back On after {took:?}");
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn redfish_wrong_password_is_an_auth_failure_that_is_not_retried() {
    let sushy = Sushy::start(&[FakeSystem::on(1)], false);
    let mut o = sushy.options(None);
    o.password = Secret::new("wrong");
    let bmc = Redfish::new(o).unwrap();
    let start = Instant::now();
    let err = bmc.power_off(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, BmcError::AuthFailed(_)), "{err:?}");
    assert!(!err.is_retryable());
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "no retry delay"
    );
    assert!(!err.to_string().contains("wrong"));
    // The service root is public (Redfish spec); the first protected resource answers
    // 401, once: no retry, and nothing was POSTed.
    assert_eq!(
        sushy.requests(),
        vec![
            "GET /redfish/v1 -> 200".to_owned(),
            "GET /redfish/v1/Systems -> 401".to_owned()
        ]
    );
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn redfish_several_systems_need_the_system_option() {
    let sushy = Sushy::start(&[FakeSystem::on(1), FakeSystem::on(2)], false);
    let err = sushy
        .driver(None)
        .power_state(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, BmcError::Unsupported(_)), "{err:?}");
    // By name: the URIs hold UUIDs, so the members are read and their Name matched.
    let by_name = sushy.driver(Some("compute2"));
    assert_eq!(
        by_name.power_state(Duration::from_secs(5)).await.unwrap(),
        PowerState::On
    );
    let missing = sushy
        .driver(Some("compute9"))
        .power_state(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(missing, BmcError::Unsupported(_)), "{missing:?}");
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn redfish_over_https_trusts_the_ca_file_and_only_it() {
    let sushy = Sushy::start(&[FakeSystem::on(1)], true);
    let trusted = sushy.driver(None);
    assert_eq!(
        trusted.power_state(Duration::from_secs(5)).await.unwrap(),
        PowerState::On
    );

    // Without the CA (the built-in public roots), the private certificate is refused.
    let mut o = sushy.options(None);
    o.tls = TlsOptions::default();
    o.retries = 0;
    let err = Redfish::new(o)
        .unwrap()
        .power_state(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, BmcError::Unreachable(_)), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // With another CA, refused too.
    let other = tempfile::tempdir().unwrap();
    let ok = Command::new(support::repo_root().join("tests/bmc/certs"))
        .arg(other.path())
        .status()
        .unwrap();
    assert!(ok.success());
    let mut o = sushy.options(None);
    o.tls.ca_file = Some(other.path().join("ca.pem"));
    o.retries = 0;
    assert!(Redfish::new(o)
        .unwrap()
        .power_state(Duration::from_secs(5))
        .await
        .is_err());

    // insecure accepts it.
    let mut o = sushy.options(None);
    o.tls = TlsOptions {
        ca_file: None,
        insecure: true,
    };
    assert_eq!(
        Redfish::new(o)
            .unwrap()
            .power_state(Duration::from_secs(5))
            .await
            .unwrap(),
        PowerState::On
    );
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn a_fleet_built_from_configuration_fences_through_redfish_and_ipmi() {
    let sushy = Sushy::start(&[FakeSystem::on(1)], true);
    let fakebmc = FakeBmc::start();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("bmc-password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let text = format!(
        r#"
        call_timeout = "20s"
        [hosts.compute1]
        driver = "redfish"
        address = "{base}"
        username = "{USER}"
        password_file = "{pw}"
        ca_file = "{ca}"
        [hosts.compute2]
        driver = "ipmi"
        address = "127.0.0.1"
        port = {port}
        username = "{USER}"
        password_file = "{pw}"
        "#,
        base = sushy.base,
        pw = pw.display(),
        ca = sushy.ca_file.as_ref().unwrap().display(),
        port = fakebmc.port,
    );
    let section: BmcSection = toml::from_str(&text).unwrap();
    let fleet = Fleet::from_config(&section).unwrap();
    for host in ["compute1", "compute2"] {
        let h = host.into();
        assert_eq!(fleet.power_state(&h).await, Ok(PowerState::On), "{host}");
        fleet.power_off(&h).await.unwrap();
        let start = Instant::now();
        loop {
            if fleet.power_state(&h).await == Ok(PowerState::Off) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{host} never read Off"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let none = fleet.power_off(&"compute3".into()).await.unwrap_err();
    assert_eq!(none.kind, FenceErrorKind::NotConfigured);
    assert!(!format!("{fleet:?}").contains(PASSWORD));
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn ipmi_fence_against_fakebmc_is_confirmed_by_reading_off_back() {
    let fakebmc = FakeBmc::start();
    let bmc = fakebmc.driver();
    let mut elapsed = Vec::new();
    for _ in 0..5 {
        bmc.power_on(Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            bmc.power_state(Duration::from_secs(5)).await.unwrap(),
            PowerState::On
        );
        let fenced = fence(&bmc, &policy()).await.unwrap();
        assert_eq!((fenced.attempts, fenced.reads), (1, 1));
        elapsed.push(fenced.elapsed);
    }
    eprintln!(
        "FIGURE ipmi fakebmc via ipmitool lanplus, power-off request to Off read back: {}",
        summary(&mut elapsed)
    );
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn ipmi_wrong_password_is_an_auth_failure() {
    let fakebmc = FakeBmc::start();
    let bmc = Ipmitool::new(fakebmc.options("not-the-password"));
    let err = bmc.power_off(Duration::from_secs(10)).await.unwrap_err();
    assert!(matches!(err, BmcError::AuthFailed(_)), "{err:?}");
    assert!(!err.is_retryable());
    // And the host was not touched.
    assert_eq!(
        fakebmc
            .driver()
            .power_state(Duration::from_secs(5))
            .await
            .unwrap(),
        PowerState::On
    );
}

#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn ipmi_silent_bmc_fails_retryably_within_the_time_limit() {
    support::ensure_installed();
    // Nothing listens on this port.
    let port = support::free_udp_port();
    let bmc = Ipmitool::new(lazarus_fence::IpmiOptions {
        retries: 0,
        request_timeout: Duration::from_secs(1),
        ..lazarus_fence::IpmiOptions::new("127.0.0.1", port, USER, Secret::new(PASSWORD))
    });
    let start = Instant::now();
    let err = bmc.power_state(Duration::from_secs(3)).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    // Within the 3 s limit, with a margin wide enough for a loaded machine.
    assert!(start.elapsed() <= Duration::from_secs(10));
}

/// Debian's fence_redfish against the same emulator over HTTPS, for comparison: what
/// it sends and how long it takes to report the host off.
#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn fence_redfish_powers_off_the_same_emulator_and_we_read_it_off() {
    let sushy = Sushy::start(&[FakeSystem::on(1)], true);
    let took = run_fence_redfish(&sushy, "off", None);
    assert_eq!(
        sushy
            .driver(None)
            .power_state(Duration::from_secs(5))
            .await
            .unwrap(),
        PowerState::Off
    );
    let requests = sushy.requests();
    assert!(requests
        .iter()
        .any(|r| r.contains("/Actions/ComputerSystem.Reset -> 204")));
    eprintln!(
        "FIGURE fence_redfish off (polls every 1 s): {:.2} s; its requests:\n  {}",
        took.as_secs_f64(),
        requests.join("\n  ")
    );
}

/// Runs Debian's fence_redfish with options on stdin (as fencing agents take them: no
/// password in `ps`); returns how long it took.
fn run_fence_redfish(sushy: &Sushy, action: &str, systems_uri: Option<&str>) -> Duration {
    use std::io::Write;
    let mut stdin = format!(
        "action={action}\nip=127.0.0.1\nipport={port}\nusername={USER}\npassword={PASSWORD}\nssl=1\npower_timeout=20\n",
        port = sushy.port
    );
    if let Some(uri) = systems_uri {
        stdin.push_str(&format!("systems_uri={uri}\n"));
    }
    let start = Instant::now();
    let mut child = Command::new("fence_redfish")
        // fence_redfish has no CA option: requests takes its bundle from the environment.
        .env("REQUESTS_CA_BUNDLE", sushy.ca_file.as_ref().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fence_redfish (Debian fence-agents)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "fence_redfish {action} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// With the emulator's power delay pinned to 3 s, ours and fence_redfish side by side:
/// both must report Off only once the emulator applied it (after 2 to 3 s), and the
/// figures show each tool's overhead over that delay.
#[tokio::test]
#[ignore = "needs BMC emulators (tests/bmc/install)"]
async fn with_a_fixed_three_second_bmc_delay_ours_and_fence_redfish_compare() {
    let systems: Vec<FakeSystem> = (1..=12).map(FakeSystem::on).collect();
    let sushy = Sushy::start_with_delay(&systems, true, Some(3));
    let (mut ours_1s, mut ours_250ms, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for (i, s) in systems.iter().enumerate() {
        let bmc = sushy.driver(Some(&s.name));
        match i % 3 {
            0 => {
                let uri = format!("/redfish/v1/Systems/{}", s.uuid);
                let took = run_fence_redfish(&sushy, "off", Some(&uri));
                assert!(took >= Duration::from_secs(2), "{took:?}");
                theirs.push(took);
            }
            1 => {
                let p = FencePolicy {
                    read_interval: Duration::from_secs(1),
                    ..policy()
                };
                let f = fence(&bmc, &p).await.unwrap();
                assert!(f.elapsed >= Duration::from_secs(2), "{f:?}");
                ours_1s.push(f.elapsed);
            }
            _ => {
                let f = fence(&bmc, &policy()).await.unwrap();
                assert!(f.elapsed >= Duration::from_secs(2), "{f:?}");
                ours_250ms.push(f.elapsed);
            }
        }
        assert_eq!(
            bmc.power_state(Duration::from_secs(5)).await.unwrap(),
            PowerState::Off
        );
    }
    eprintln!(
        "FIGURE fixed 3 s BMC delay, request to Off reported: lazarus reads every 1 s: {}; every 250 ms: {}; fence_redfish (process start included): {}",
        summary(&mut ours_1s),
        summary(&mut ours_250ms),
        summary(&mut theirs)
    );
}
