//! `lazarus notification list|show|create`: failure reports (`/v1/notifications`).

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};

use super::{listing, record, seg, Context};
use crate::args::{push_opt, ListArgs};
use crate::error::CliError;
use crate::format::OutputArgs;
use crate::output::Output;

/// Masakari's notification types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotificationType {
    /// A compute host failed (or came back).
    #[value(name = "COMPUTE_HOST")]
    ComputeHost,
    /// An instance failed.
    #[value(name = "VM")]
    Vm,
    /// A process (nova-compute) stopped or started.
    #[value(name = "PROCESS")]
    Process,
}

impl NotificationType {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationType::ComputeHost => "COMPUTE_HOST",
            NotificationType::Vm => "VM",
            NotificationType::Process => "PROCESS",
        }
    }

    /// The payload sent when `--payload` is not given: what a host monitor posts for a
    /// dead host (the one report lazarus and Masakari act on); VM and PROCESS reports
    /// have no sensible default.
    fn default_payload(self) -> Option<Value> {
        match self {
            NotificationType::ComputeHost => Some(json!({
                "event": "STOPPED",
                "host_status": "NORMAL",
                "cluster_status": "OFFLINE",
            })),
            NotificationType::Vm | NotificationType::Process => None,
        }
    }
}

/// Masakari's notification statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum NotificationStatus {
    /// Accepted, not yet acted on.
    New,
    /// Being acted on.
    Running,
    /// Acting on it failed; will be retried.
    Error,
    /// Acting on it failed for good.
    Failed,
    /// Nothing to do.
    Ignored,
    /// Done.
    Finished,
}

impl NotificationStatus {
    fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::New => "new",
            NotificationStatus::Running => "running",
            NotificationStatus::Error => "error",
            NotificationStatus::Failed => "failed",
            NotificationStatus::Ignored => "ignored",
            NotificationStatus::Finished => "finished",
        }
    }
}

/// The notification actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum NotificationAction {
    /// List notifications.
    List(ListNotifications),
    /// Show one notification (with its recovery workflow details at 1.1+).
    Show(ShowNotification),
    /// Post a notification, as a monitor would.
    Create(CreateNotification),
}

/// `notification list`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ListNotifications {
    /// Only notifications with this status.
    #[arg(long, value_enum)]
    pub status: Option<NotificationStatus>,
    /// Only notifications of this type.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub notification_type: Option<NotificationType>,
    /// Only notifications from the host with this uuid.
    #[arg(long)]
    pub source_host_uuid: Option<String>,
    /// Only notifications generated at or after this time (ISO 8601).
    #[arg(long, value_name = "TIME")]
    pub generated_since: Option<String>,
    /// Also show hostname, failover_segment_uuid, message and created_at.
    #[arg(long)]
    pub long: bool,
    #[command(flatten)]
    pub list: ListArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `notification show`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ShowNotification {
    /// Notification uuid.
    pub notification: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `notification create`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct CreateNotification {
    /// What failed.
    #[arg(
        long = "type",
        value_enum,
        value_name = "TYPE",
        default_value = "COMPUTE_HOST"
    )]
    pub notification_type: NotificationType,
    /// The host the report is about (a host of some segment).
    #[arg(long)]
    pub hostname: String,
    /// When the failure was seen: ISO 8601, or `now`.
    #[arg(long, value_name = "TIME", default_value = "now")]
    pub generated_time: String,
    /// The payload, a JSON object. Defaults for COMPUTE_HOST to
    /// `{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}`.
    #[arg(long, value_name = "JSON", value_parser = parse_payload)]
    pub payload: Option<Value>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A payload must be a JSON object.
fn parse_payload(s: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(s) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(format!("the payload must be a JSON object, not {other}")),
        Err(e) => Err(format!("the payload is not JSON: {e}")),
    }
}

/// `now` as the API reads it, or the text as given.
fn generated_time(text: &str, now: DateTime<Utc>) -> String {
    if text.eq_ignore_ascii_case("now") {
        now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    } else {
        text.to_owned()
    }
}

const COLUMNS: &[&str] = &[
    "notification_uuid",
    "generated_time",
    "status",
    "type",
    "hostname",
    "source_host_uuid",
    "payload",
];
const LONG_COLUMNS: &[&str] = &[
    "notification_uuid",
    "generated_time",
    "status",
    "type",
    "hostname",
    "source_host_uuid",
    "failover_segment_uuid",
    "payload",
    "message",
    "created_at",
    "updated_at",
];
const FIELDS: &[&str] = &[
    "notification_uuid",
    "type",
    "hostname",
    "generated_time",
    "status",
    "payload",
    "source_host_uuid",
    "failover_segment_uuid",
    "message",
    "recovery_workflow_details",
    "id",
    "created_at",
    "updated_at",
];

impl NotificationAction {
    /// The output options.
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            NotificationAction::List(a) => Some(&a.output),
            NotificationAction::Show(a) => Some(&a.output),
            NotificationAction::Create(a) => Some(&a.output),
        }
    }

    /// Runs the action.
    pub async fn run(&self, ctx: &Context) -> Result<Output, CliError> {
        match self {
            NotificationAction::List(a) => {
                let mut q = a.list.query();
                push_opt(&mut q, "status", a.status.map(NotificationStatus::as_str));
                push_opt(
                    &mut q,
                    "type",
                    a.notification_type.map(NotificationType::as_str),
                );
                push_opt(&mut q, "source_host_uuid", a.source_host_uuid.as_ref());
                push_opt(&mut q, "generated-since", a.generated_since.as_ref());
                let items = ctx
                    .client
                    .get_key("/v1/notifications", &q, "notifications")
                    .await?;
                Ok(listing(&items, if a.long { LONG_COLUMNS } else { COLUMNS }))
            }
            NotificationAction::Show(a) => {
                let path = format!("/v1/notifications/{}", seg(&a.notification));
                let n = ctx.client.get_key(&path, &[], "notification").await?;
                Ok(record(&n, FIELDS, &[]))
            }
            NotificationAction::Create(a) => {
                let payload = match (&a.payload, a.notification_type.default_payload()) {
                    (Some(p), _) => p.clone(),
                    (None, Some(p)) => p,
                    (None, None) => {
                        return Err(CliError::Usage(format!(
                            "a {} notification needs --payload",
                            a.notification_type.as_str()
                        )))
                    }
                };
                let body = json!({ "notification": {
                    "type": a.notification_type.as_str(),
                    "hostname": a.hostname,
                    "generated_time": generated_time(&a.generated_time, ctx.now),
                    "payload": payload,
                }});
                let n = ctx
                    .client
                    .send_key(Method::POST, "/v1/notifications", &body, "notification")
                    .await?;
                Ok(record(&n, FIELDS, &[]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_becomes_the_commands_start_time_and_other_times_pass_through() {
        let t = DateTime::parse_from_rfc3339("2026-11-21T11:02:03.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(generated_time("now", t), "2026-11-21T11:02:03.500000");
        assert_eq!(
            generated_time("2017-04-24 08:34:46", t),
            "2017-04-24 08:34:46"
        );
    }

    #[test]
    fn a_payload_must_be_a_json_object() {
        assert!(parse_payload(r#"{"event": "STOPPED"}"#).is_ok());
        assert!(parse_payload(r#"["event"]"#).is_err());
        assert!(parse_payload("{event").is_err());
    }
}
