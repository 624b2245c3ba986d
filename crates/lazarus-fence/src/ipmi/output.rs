//! Reading what `ipmitool` printed.

use lazarus_core::event::PowerState;

use super::Verb;
use crate::BmcError;

/// The error an `ipmitool` failure stands for, from what it printed.
pub(super) fn classify(stderr: &str, stdout: &str) -> BmcError {
    let text = if stderr.is_empty() { stdout } else { stderr };
    let lower = text.to_ascii_lowercase();
    let noise = [
        "Loading IANA PEN Registry",
        "Using best available cipher suite",
        "Running Get VSO Capabilities",
        "Invalid completion code received: Invalid command",
        "Discovered IPMB address",
    ];
    let mut message = text
        .lines()
        .map(|l| l.trim().trim_start_matches('>').trim())
        .filter(|l| !l.is_empty() && !noise.iter().any(|n| l.starts_with(n)))
        .collect::<Vec<_>>()
        .join("; ");
    if message.len() > 400 {
        let cut = (0..=400)
            .rev()
            .find(|i| message.is_char_boundary(*i))
            .unwrap_or(0);
        message.truncate(cut);
    }
    let auth = [
        "hmac is invalid",
        "unauthorized name",
        "invalid user name",
        "insufficient privilege",
        "invalid session",
        "password",
    ];
    let unreachable = [
        "unable to establish",
        "no response",
        "timeout",
        "insufficient resources",
        "get auth capabilities error",
        "connection refused",
        "address lookup",
        "unable to send",
    ];
    if auth.iter().any(|p| lower.contains(p)) {
        BmcError::AuthFailed(message)
    } else if unreachable.iter().any(|p| lower.contains(p)) {
        BmcError::Unreachable(message)
    } else {
        BmcError::Tool(if message.is_empty() {
            "ipmitool failed without a message".to_owned()
        } else {
            message
        })
    }
}

/// `Chassis Power is on|off` → the state.
pub(super) fn parse_status(stdout: &str) -> Result<PowerState, BmcError> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Chassis Power is"))
        .ok_or_else(|| BmcError::Protocol(format!("ipmitool printed {stdout:?}")))?;
    Ok(match line.trim_start_matches("Chassis Power is").trim() {
        "on" => PowerState::On,
        "off" => PowerState::Off,
        _ => PowerState::Unknown,
    })
}

/// `Chassis Power Control: Down/Off` (or `Up/On`) → accepted.
pub(super) fn parse_control(stdout: &str, verb: Verb) -> Result<(), BmcError> {
    let expected = match verb {
        Verb::Off => "Down/Off",
        Verb::On => "Up/On",
        Verb::Status => "",
    };
    if stdout
        .lines()
        .any(|l| l.starts_with("Chassis Power Control:") && l.contains(expected))
    {
        Ok(())
    } else {
        Err(BmcError::Protocol(format!("ipmitool printed {stdout:?}")))
    }
}
