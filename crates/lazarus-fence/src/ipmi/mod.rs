//! IPMI through `ipmitool` (Debian package `ipmitool`), over the `lanplus`
//! (IPMI 2.0 RMCP+) interface by default.
//!
//! Runs `ipmitool -v -I lanplus -H HOST -p PORT -U USER -E -N SECS -R RETRIES chassis
//! power off|on|status`. The password goes through the `IPMI_PASSWORD` environment
//! variable of the child (`-E`): never on its command line, which any local user can
//! read in `ps`. The child is killed when the call's time limit passes.

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use lazarus_core::event::PowerState;
use tokio::process::Command;
use tracing::debug;

mod options;
mod output;

pub use options::IpmiOptions;
use output::{classify, parse_control, parse_status};

use crate::power::bounded;
use crate::{BmcError, PowerControl};

/// An IPMI BMC driven through `ipmitool`.
#[derive(Debug)]
pub struct Ipmitool {
    options: IpmiOptions,
}

/// What `chassis power` is asked.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Off,
    On,
    Status,
}

impl Verb {
    fn arg(self) -> &'static str {
        match self {
            Verb::Off => "off",
            Verb::On => "on",
            Verb::Status => "status",
        }
    }
}

impl Ipmitool {
    /// A driver for one BMC. Nothing is run yet.
    pub fn new(options: IpmiOptions) -> Self {
        Self { options }
    }

    /// The arguments of one call: no secret among them.
    fn args(&self, verb: Verb) -> Vec<String> {
        let o = &self.options;
        // -v: without it ipmitool says only "Unable to establish IPMI v2 / RMCP+
        // session" for a wrong password; with it, "RAKP 2 HMAC is invalid" (on
        // stderr; stdout stays the one answer line).
        let mut args = vec![
            "-v".to_owned(),
            "-I".to_owned(),
            o.interface.clone(),
            "-H".to_owned(),
            o.host.clone(),
            "-p".to_owned(),
            o.port.to_string(),
            "-U".to_owned(),
            o.username.clone(),
            "-E".to_owned(),
            "-N".to_owned(),
            o.request_timeout.as_secs().max(1).to_string(),
            "-R".to_owned(),
            o.retries.to_string(),
        ];
        if let Some(cs) = o.cipher_suite {
            args.push("-C".to_owned());
            args.push(cs.to_string());
        }
        args.extend(["chassis", "power", verb.arg()].map(str::to_owned));
        args
    }

    async fn run(&self, verb: Verb) -> Result<String, BmcError> {
        let args = self.args(verb);
        debug!(bmc = %self.options.host, port = self.options.port, ?args, "ipmitool");
        let output = Command::new(&self.options.program)
            .args(&args)
            .env("IPMI_PASSWORD", self.options.password.expose())
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| {
                BmcError::Tool(format!(
                    "cannot run {}: {e} (install Debian's ipmitool)",
                    self.options.program.display()
                ))
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(classify(&stderr, &stdout))
        }
    }
}

#[async_trait]
impl PowerControl for Ipmitool {
    async fn power_off(&self, timeout: Duration) -> Result<(), BmcError> {
        let out = bounded(timeout, self.run(Verb::Off)).await?;
        parse_control(&out, Verb::Off)
    }

    async fn power_on(&self, timeout: Duration) -> Result<(), BmcError> {
        let out = bounded(timeout, self.run(Verb::On)).await?;
        parse_control(&out, Verb::On)
    }

    async fn power_state(&self, timeout: Duration) -> Result<PowerState, BmcError> {
        let out = bounded(timeout, self.run(Verb::Status)).await?;
        parse_status(&out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use lazarus_openstack::Secret;

    use super::*;

    fn driver() -> Ipmitool {
        Ipmitool::new(IpmiOptions::new(
            "127.0.0.1",
            9623,
            "admin",
            Secret::new("s3cr3t-pw"),
        ))
    }

    #[test]
    fn the_password_is_never_an_argument_nor_in_debug_output() {
        let d = driver();
        for verb in [Verb::Off, Verb::On, Verb::Status] {
            let args = d.args(verb);
            assert!(args.iter().all(|a| !a.contains("s3cr3t-pw")), "{args:?}");
            assert!(args.contains(&"-E".to_owned()));
        }
        assert!(!format!("{d:?}").contains("s3cr3t-pw"));
    }

    #[test]
    fn the_arguments_name_interface_address_port_user_and_verb() {
        let mut o = IpmiOptions::new("bmc7", 623, "root", Secret::new("x"));
        o.cipher_suite = Some(17);
        let args = Ipmitool::new(o).args(Verb::Off).join(" ");
        assert_eq!(
            args,
            "-v -I lanplus -H bmc7 -p 623 -U root -E -N 2 -R 2 -C 17 chassis power off"
        );
    }

    #[test]
    fn status_output_parses_to_a_power_state() {
        assert_eq!(parse_status("Chassis Power is on").unwrap(), PowerState::On);
        assert_eq!(
            parse_status("Chassis Power is off\n").unwrap(),
            PowerState::Off
        );
        assert_eq!(
            parse_status("Chassis Power is unknown").unwrap(),
            PowerState::Unknown
        );
        assert!(matches!(parse_status(""), Err(BmcError::Protocol(_))));
    }

    #[test]
    fn a_control_answer_must_name_the_requested_direction() {
        assert!(parse_control("Chassis Power Control: Down/Off", Verb::Off).is_ok());
        assert!(parse_control("Chassis Power Control: Up/On", Verb::On).is_ok());
        assert!(parse_control("Chassis Power Control: Up/On", Verb::Off).is_err());
    }

    #[test]
    fn ipmitool_errors_are_classified_by_what_it_printed() {
        let auth = classify(
            "Error in open session response message : insufficient resources for session\n\nError: Unable to establish IPMI v2 / RMCP+ session",
            "",
        );
        // Resource exhaustion is transient even though the session failed.
        assert!(matches!(auth, BmcError::Unreachable(_)), "{auth:?}");
        let hmac = classify(
            "> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session",
            "",
        );
        assert!(matches!(hmac, BmcError::AuthFailed(_)), "{hmac:?}");
        let name = classify("RAKP 2 message indicates an error : unauthorized name\nError: Unable to establish IPMI v2 / RMCP+ session", "");
        assert!(matches!(name, BmcError::AuthFailed(_)), "{name:?}");
        let gone = classify("Error: Unable to establish IPMI v2 / RMCP+ session", "");
        assert!(matches!(gone, BmcError::Unreachable(_)) && gone.is_retryable());
        let other = classify("Invalid chassis power command: frobnicate", "");
        assert!(matches!(other, BmcError::Tool(_)) && !other.is_retryable());
    }

    #[tokio::test]
    async fn a_missing_ipmitool_is_a_tool_error_not_a_bmc_failure() {
        let mut o = IpmiOptions::new("127.0.0.1", 623, "admin", Secret::new("x"));
        o.program = PathBuf::from("/nonexistent/ipmitool");
        let err = Ipmitool::new(o)
            .power_state(Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, BmcError::Tool(_)), "{err:?}");
        assert!(!err.is_retryable());
    }
}
