//! The few Redfish resources fencing reads, and the pure decisions over them.
//!
//! Only the fields used are declared; everything else a BMC sends is ignored, so
//! vendor extensions (`Oem`) never break parsing.

use lazarus_core::event::PowerState;
use serde::Deserialize;

use crate::BmcError;

/// A link: `{"@odata.id": "/redfish/v1/Systems"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Link {
    #[serde(rename = "@odata.id")]
    pub(crate) id: String,
}

/// `/redfish/v1`: only the link to the systems collection matters.
#[derive(Debug, Deserialize)]
pub(crate) struct ServiceRoot {
    #[serde(rename = "Systems")]
    pub(crate) systems: Option<Link>,
}

/// A resource collection (`/redfish/v1/Systems`).
#[derive(Debug, Deserialize)]
pub(crate) struct Collection {
    #[serde(rename = "Members", default)]
    pub(crate) members: Vec<Link>,
}

/// A `ComputerSystem`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ComputerSystem {
    #[serde(rename = "Id")]
    pub(crate) id: Option<String>,
    #[serde(rename = "Name")]
    pub(crate) name: Option<String>,
    #[serde(rename = "UUID")]
    pub(crate) uuid: Option<String>,
    #[serde(rename = "PowerState")]
    pub(crate) power_state: Option<String>,
    #[serde(rename = "Actions")]
    pub(crate) actions: Option<Actions>,
}

/// `Actions` of a `ComputerSystem`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Actions {
    #[serde(rename = "#ComputerSystem.Reset")]
    pub(crate) reset: Option<ResetAction>,
}

/// `#ComputerSystem.Reset`: where to POST, and which reset types the BMC allows,
/// either inline or in a separate `ActionInfo` resource.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ResetAction {
    pub(crate) target: String,
    #[serde(rename = "ResetType@Redfish.AllowableValues")]
    pub(crate) allowable: Option<Vec<String>>,
    #[serde(rename = "@Redfish.ActionInfo")]
    pub(crate) action_info: Option<String>,
}

/// An `ActionInfo` resource: the parameters of an action and their allowed values.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionInfo {
    #[serde(rename = "Parameters", default)]
    pub(crate) parameters: Vec<ActionParameter>,
}

/// One parameter of an `ActionInfo`.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionParameter {
    #[serde(rename = "Name")]
    pub(crate) name: String,
    #[serde(rename = "AllowableValues")]
    pub(crate) allowable: Option<Vec<String>>,
}

impl ActionInfo {
    /// The allowed values of `ResetType`, if the BMC lists them.
    pub(crate) fn reset_types(self) -> Option<Vec<String>> {
        self.parameters
            .into_iter()
            .find(|p| p.name == "ResetType")
            .and_then(|p| p.allowable)
    }
}

/// A Redfish error body: `{"error": {"code": ..., "message": ..., "@Message.ExtendedInfo": [...]}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorDetail {
    pub(crate) message: Option<String>,
    #[serde(rename = "@Message.ExtendedInfo", default)]
    pub(crate) extended: Vec<ExtendedInfo>,
}

/// One message of `@Message.ExtendedInfo`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExtendedInfo {
    #[serde(rename = "Message")]
    pub(crate) message: Option<String>,
}

/// The most specific message of a Redfish error body, or `None` if the body is not
/// one (then the caller uses the HTTP reason phrase).
pub(crate) fn error_message(body: &str) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_str(body).ok()?;
    let extended: Vec<String> = parsed
        .error
        .extended
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    match (parsed.error.message, extended.is_empty()) {
        (Some(m), true) => Some(m),
        (Some(m), false) => Some(format!("{m} ({})", extended.join("; "))),
        (None, false) => Some(extended.join("; ")),
        (None, true) => None,
    }
}

/// The power state a `ComputerSystem` reports. Only `On` and `Off` are definite;
/// `PoweringOn`, `PoweringOff`, `Paused` or a missing field read as unknown, so a
/// host is never taken for off before the BMC says exactly "Off".
pub(crate) fn power_state(system: &ComputerSystem) -> PowerState {
    match system.power_state.as_deref() {
        Some("On") => PowerState::On,
        Some("Off") => PowerState::Off,
        Some(_) | None => PowerState::Unknown,
    }
}

/// Which way to switch the power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// Off, at once, without asking the operating system.
    Off,
    /// On.
    On,
}

impl Switch {
    /// The reset types that do this, best first. Off is only ever `ForceOff`: a
    /// graceful shutdown or a power-button press may be ignored by a hung host, and a
    /// fence must not depend on the host's cooperation.
    fn candidates(self) -> &'static [&'static str] {
        match self {
            Switch::Off => &["ForceOff"],
            Switch::On => &["On", "ForceOn"],
        }
    }
}

/// The `ResetType` to send for `switch`, given the values the BMC allows (`None` when
/// it lists none: then the standard value is sent and the BMC decides).
pub(crate) fn reset_type(
    switch: Switch,
    allowable: Option<&[String]>,
) -> Result<&'static str, BmcError> {
    let candidates = switch.candidates();
    let Some(allowed) = allowable else {
        return Ok(candidates[0]);
    };
    candidates
        .iter()
        .copied()
        .find(|c| allowed.iter().any(|a| a == c))
        .ok_or_else(|| {
            BmcError::Unsupported(format!(
                "ComputerSystem.Reset allows {allowed:?}, none of {candidates:?}"
            ))
        })
}

/// Whether `system` (as read from `uri`) is the one configured as `wanted`: its URI's
/// last segment, `Id`, `Name` or `UUID` equals it.
pub(crate) fn is_system(uri: &str, system: Option<&ComputerSystem>, wanted: &str) -> bool {
    if uri.trim_end_matches('/').rsplit('/').next() == Some(wanted) {
        return true;
    }
    system.is_some_and(|s| {
        [&s.id, &s.name, &s.uuid]
            .into_iter()
            .any(|f| f.as_deref() == Some(wanted))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUSHY_ROOT: &str = include_str!("../../tests/fixtures/sushy/service_root.json");
    const SUSHY_SYSTEMS: &str = include_str!("../../tests/fixtures/sushy/systems.json");
    const SUSHY_SYSTEM: &str = include_str!("../../tests/fixtures/sushy/system_off.json");
    const SUSHY_501: &str = include_str!("../../tests/fixtures/sushy/error_501.json");
    const IDRAC_SYSTEM: &str = include_str!("../../tests/fixtures/idrac/system.json");
    const OPENBMC_SYSTEM: &str = include_str!("../../tests/fixtures/openbmc/system.json");
    const OPENBMC_ACTION_INFO: &str =
        include_str!("../../tests/fixtures/openbmc/reset_action_info.json");

    #[test]
    fn sushy_tools_resources_parse_to_the_links_and_the_reset_action() {
        let root: ServiceRoot = serde_json::from_str(SUSHY_ROOT).unwrap();
        assert_eq!(root.systems.unwrap().id, "/redfish/v1/Systems");
        let systems: Collection = serde_json::from_str(SUSHY_SYSTEMS).unwrap();
        assert_eq!(systems.members.len(), 1);
        let s: ComputerSystem = serde_json::from_str(SUSHY_SYSTEM).unwrap();
        assert_eq!(power_state(&s), PowerState::Off);
        let reset = s.actions.unwrap().reset.unwrap();
        assert!(reset.target.ends_with("/Actions/ComputerSystem.Reset"));
        assert_eq!(
            reset_type(Switch::Off, reset.allowable.as_deref()).unwrap(),
            "ForceOff"
        );
    }

    #[test]
    fn an_idrac_system_reads_on_and_offers_force_off() {
        let s: ComputerSystem = serde_json::from_str(IDRAC_SYSTEM).unwrap();
        assert_eq!(power_state(&s), PowerState::On);
        assert_eq!(s.id.as_deref(), Some("System.Embedded.1"));
        let reset = s.actions.unwrap().reset.unwrap();
        assert_eq!(
            reset.target,
            "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset"
        );
        assert_eq!(
            reset_type(Switch::On, reset.allowable.as_deref()).unwrap(),
            "On"
        );
    }

    #[test]
    fn openbmc_lists_its_reset_types_in_an_action_info_resource() {
        let s: ComputerSystem = serde_json::from_str(OPENBMC_SYSTEM).unwrap();
        assert_eq!(power_state(&s), PowerState::Unknown, "PoweringOff");
        let reset = s.actions.unwrap().reset.unwrap();
        assert!(reset.allowable.is_none());
        assert_eq!(
            reset.action_info.as_deref(),
            Some("/redfish/v1/Systems/system/ResetActionInfo")
        );
        let info: ActionInfo = serde_json::from_str(OPENBMC_ACTION_INFO).unwrap();
        let allowed = info.reset_types().unwrap();
        assert!(allowed.contains(&"ForceOff".to_owned()));
    }

    #[test]
    fn only_exactly_off_reads_as_off() {
        for (text, state) in [
            (Some("Off"), PowerState::Off),
            (Some("On"), PowerState::On),
            (Some("PoweringOff"), PowerState::Unknown),
            (Some("PoweringOn"), PowerState::Unknown),
            (Some("Paused"), PowerState::Unknown),
            (Some("off"), PowerState::Unknown),
            (None, PowerState::Unknown),
        ] {
            let s = ComputerSystem {
                id: None,
                name: None,
                uuid: None,
                power_state: text.map(str::to_owned),
                actions: None,
            };
            assert_eq!(power_state(&s), state, "{text:?}");
        }
    }

    #[test]
    fn a_bmc_that_allows_no_force_off_is_refused_rather_than_shut_down_gracefully() {
        let allowed = vec!["GracefulShutdown".to_owned(), "PushPowerButton".to_owned()];
        let err = reset_type(Switch::Off, Some(&allowed)).unwrap_err();
        assert!(matches!(err, BmcError::Unsupported(_)));
        assert!(!err.is_retryable());
    }

    #[test]
    fn power_on_falls_back_to_force_on_when_on_is_not_allowed() {
        let allowed = vec!["ForceOn".to_owned(), "ForceOff".to_owned()];
        assert_eq!(reset_type(Switch::On, Some(&allowed)).unwrap(), "ForceOn");
        assert_eq!(reset_type(Switch::On, None).unwrap(), "On");
    }

    #[test]
    fn the_error_message_of_a_redfish_error_body_is_extracted() {
        assert_eq!(
            error_message(SUSHY_501).as_deref(),
            Some("Power state Bogus is not supported")
        );
        let idrac = r#"{"error":{"code":"Base.1.2.GeneralError","message":"A general error has occurred.","@Message.ExtendedInfo":[{"Message":"Server is already powered OFF.","MessageId":"IDRAC.2.1.PSU501"}]}}"#;
        assert_eq!(
            error_message(idrac).as_deref(),
            Some("A general error has occurred. (Server is already powered OFF.)")
        );
        assert_eq!(error_message("<html>Bad Gateway</html>"), None);
    }

    #[test]
    fn a_system_is_found_by_uri_segment_id_name_or_uuid() {
        let s: ComputerSystem = serde_json::from_str(SUSHY_SYSTEM).unwrap();
        let uri = "/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1ef094";
        assert!(is_system(uri, None, "27946b59-9e44-4fa7-8e91-f3527a1ef094"));
        assert!(is_system("/redfish/v1/Systems/x/", Some(&s), "compute1"));
        assert!(!is_system("/redfish/v1/Systems/x", Some(&s), "compute2"));
        assert!(!is_system("/redfish/v1/Systems/x", None, "compute1"));
    }
}
