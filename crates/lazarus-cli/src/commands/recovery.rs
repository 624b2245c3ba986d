//! `lazarus recovery list|show`: lazarus's own record of host recoveries
//! (`GET /v1/lazarus/recoveries[/{id}]`, served by the controller), with each
//! recovery's step timeline and where each instance stands.
//!
//! `-f json` and `-f yaml` give the controller's records unchanged. Tables and
//! `-f value` make them readable: instance counts as `2/3 recovered, 1 given up`, the
//! timeline one line per step (`time  event  details`), the instances one line each
//! (`instance  step  details`), and the engine's tagged values (`{"recovered": {"host":
//! "c2"}}`) as `recovered host=c2`.

use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use super::{record, seg, Context};
use crate::error::CliError;
use crate::format::{Format, OutputArgs};
use crate::output::{cell_text, Listing, Output};

/// The recovery actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum RecoveryAction {
    /// List the recoveries the controller knows, newest first.
    List(ListRecoveries),
    /// Show one recovery: its step timeline and where each instance stands.
    Show(ShowRecovery),
}

/// `recovery list`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ListRecoveries {
    /// Only recoveries of this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Only recoveries still under way (no outcome yet).
    #[arg(long)]
    pub active: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `recovery show`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ShowRecovery {
    /// The recovery's id (`HOST@MILLIS`, as `recovery list` shows it).
    pub recovery: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The columns of `recovery list`, among the fields the controller sends.
const COLUMNS: &[&str] = &[
    "id",
    "host",
    "segment",
    "phase",
    "outcome",
    "started_at",
    "updated_at",
    "instances",
];
/// Fields shown first by `recovery show`.
const FIELDS: &[&str] = &[
    "id",
    "host",
    "segment",
    "trigger",
    "phase",
    "outcome",
    "started_at",
    "updated_at",
    "log_finished",
    "instances",
    "duplicate_reports",
    "fence",
    "nova",
    "timeline",
    "instance_steps",
];
/// Keys that lead a timeline line, in this order when present.
const LEAD_KEYS: &[&str] = &["at", "event", "instance"];
/// Keys left out of a timeline line (the position in the log says nothing to a reader).
const SKIP_KEYS: &[&str] = &["seq"];

impl RecoveryAction {
    /// The output options.
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            RecoveryAction::List(a) => Some(&a.output),
            RecoveryAction::Show(a) => Some(&a.output),
        }
    }

    /// Runs the action.
    pub async fn run(&self, ctx: &Context) -> Result<Output, CliError> {
        match self {
            RecoveryAction::List(a) => {
                let items = ctx
                    .client
                    .get_key("/v1/lazarus/recoveries", &[], "recoveries")
                    .await?;
                let mut items = items.as_array().cloned().unwrap_or_default();
                if let Some(host) = &a.host {
                    items.retain(|r| r.get("host").and_then(Value::as_str) == Some(host));
                }
                if a.active {
                    items.retain(|r| r.get("outcome").is_none_or(Value::is_null));
                }
                Ok(Output::List(listing(&items, readable(a.output.format))))
            }
            RecoveryAction::Show(a) => {
                let path = format!("/v1/lazarus/recoveries/{}", seg(&a.recovery));
                let item = ctx.client.get_key(&path, &[], "recovery").await?;
                if readable(a.output.format) {
                    Ok(record(&humanize_record(&item), FIELDS, &[]))
                } else {
                    Ok(record(&item, FIELDS, &[]))
                }
            }
        }
    }
}

/// Whether the format is for people (table, value) rather than programs (json, yaml).
fn readable(format: Format) -> bool {
    match format {
        Format::Table | Format::Value => true,
        Format::Json | Format::Yaml => false,
    }
}

/// The listing of recovery summaries; instance counts made readable if asked.
pub fn listing(items: &[Value], readable: bool) -> Listing {
    let mut l = Listing::from_objects(COLUMNS, items);
    if readable {
        for row in &mut l.rows {
            for (col, v) in COLUMNS.iter().zip(row.iter_mut()) {
                *v = match *col {
                    "instances" => Value::String(instance_counts(v)),
                    _ => Value::String(human(v)),
                };
            }
        }
    }
    l
}

/// `{"total": 3, "recovered": 2, "given_up": 1, "in_progress": 0}` as
/// `2/3 recovered, 1 given up`.
pub fn instance_counts(v: &Value) -> String {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    if v.get("total").is_none() {
        return human(v);
    }
    let mut text = format!("{}/{} recovered", n("recovered"), n("total"));
    if n("given_up") > 0 {
        text.push_str(&format!(", {} given up", n("given_up")));
    }
    if n("in_progress") > 0 {
        text.push_str(&format!(", {} in progress", n("in_progress")));
    }
    text
}

/// A recovery record for reading: tagged values flattened, the timeline and the
/// instance steps one line per entry.
pub fn humanize_record(item: &Value) -> Value {
    let Some(map) = item.as_object() else {
        return item.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let readable = match (k.as_str(), v) {
            ("timeline", Value::Array(steps)) => {
                Value::Array(steps.iter().map(|s| Value::String(line(s))).collect())
            }
            ("instance_steps", Value::Object(steps)) => Value::Array(
                steps
                    .iter()
                    .map(|(id, s)| Value::String(format!("{id}  {}", line(s))))
                    .collect(),
            ),
            ("instances", v) => Value::String(instance_counts(v)),
            (_, Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)) => v.clone(),
            (_, v) => Value::String(human(v)),
        };
        out.insert(k.clone(), readable);
    }
    Value::Object(out)
}

/// One timeline entry or instance step on one line: the lead fields bare, then the
/// step (if any) as a tagged value, then the rest as `key=value`.
fn line(entry: &Value) -> String {
    let Some(map) = entry.as_object() else {
        return human(entry);
    };
    let mut parts: Vec<String> = Vec::new();
    for k in LEAD_KEYS {
        if let Some(v) = map.get(*k).filter(|v| !v.is_null()) {
            parts.push(human(v));
        }
    }
    if let Some(step) = map.get("step").filter(|v| !v.is_null()) {
        parts.push(human(step));
    }
    for (k, v) in map {
        let skip = LEAD_KEYS.contains(&k.as_str())
            || SKIP_KEYS.contains(&k.as_str())
            || k == "step"
            || v.is_null();
        if !skip {
            parts.push(format!("{k}={}", human(v)));
        }
    }
    parts.join("  ")
}

/// A value in words: a tagged enum (`{"tag": {fields}}`) as `tag k=v ...`, an object as
/// `k=v ...`, anything else as in a table cell.
pub fn human(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some((tag, inner)) = map.iter().next() {
                    match inner {
                        Value::Object(fields) => {
                            return std::iter::once(tag.clone())
                                .chain(fields.iter().map(|(k, v)| format!("{k}={}", human(v))))
                                .collect::<Vec<_>>()
                                .join(" ")
                        }
                        Value::Null => return tag.clone(),
                        Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Array(_) => {}
                    }
                }
            }
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{k}={}", human(v)))
                .collect::<Vec<_>>()
                .join(" ")
        }
        Value::Array(items) => items.iter().map(human).collect::<Vec<_>>().join(","),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => cell_text(v),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A recovery as the controller's `GET /v1/lazarus/recoveries/{id}` renders it.
    fn shown() -> Value {
        json!({
            "id": "compute1@1763722800000",
            "host": "compute1",
            "segment": "8c4e",
            "trigger": {"notification": {"uuid": "n-1"}},
            "phase": "done",
            "outcome": "partial",
            "started_at": "2026-11-21T11:00:00.000Z",
            "updated_at": "2026-11-21T11:00:41.250Z",
            "log_finished": true,
            "instances": {"total": 3, "recovered": 2, "given_up": 1, "in_progress": 0},
            "duplicate_reports": 0,
            "timeline": [
                {"seq": 1, "at": "2026-11-21T11:00:00.000Z", "event": "started", "trigger": {"notification": {"uuid": "n-1"}}, "phase": "fencing"},
                {"seq": 2, "at": "2026-11-21T11:00:03.100Z", "event": "fence_confirmed", "how": "power_off"},
                {"seq": 5, "at": "2026-11-21T11:00:09.000Z", "event": "instance", "instance": "vm-1", "step": {"recovered": {"host": "compute2"}}, "attempts": 1}
            ],
            "instance_steps": {
                "vm-1": {"priority": 1, "attempts": 1, "step": {"recovered": {"host": "compute2"}}, "last_error": null},
                "vm-9": {"priority": 0, "attempts": 3, "step": {"given_up": {"reason": "no capacity"}}, "last_error": "no valid host"}
            },
            "fence": {"method": "ipmi", "attempts": 1, "gave_up": false, "confirmation": "power_off"},
            "nova": {"marked_down": true}
        })
    }

    #[test]
    fn a_timeline_reads_time_then_event_then_details() {
        let r = humanize_record(&shown());
        assert_eq!(
            r["timeline"],
            json!([
                "2026-11-21T11:00:00.000Z  started  phase=fencing  trigger=notification uuid=n-1",
                "2026-11-21T11:00:03.100Z  fence_confirmed  how=power_off",
                "2026-11-21T11:00:09.000Z  instance  vm-1  recovered host=compute2  attempts=1"
            ])
        );
    }

    #[test]
    fn each_instance_shows_its_step_and_why_it_was_given_up() {
        let r = humanize_record(&shown());
        assert_eq!(
            r["instance_steps"],
            json!([
                "vm-1  recovered host=compute2  attempts=1  priority=1",
                "vm-9  given_up reason=no capacity  attempts=3  last_error=no valid host  priority=0"
            ])
        );
        assert_eq!(r["instances"], "2/3 recovered, 1 given up");
        assert_eq!(r["trigger"], "notification uuid=n-1");
        assert_eq!(r["log_finished"], true, "scalars stay as they are");
    }

    #[test]
    fn the_listing_is_readable_for_people_and_raw_for_programs() {
        let mut item = shown();
        item["instances"] = json!({"total": 4, "recovered": 1, "given_up": 0, "in_progress": 3});
        let people = listing(std::slice::from_ref(&item), true);
        assert_eq!(people.columns, COLUMNS);
        assert_eq!(people.rows[0][0], "compute1@1763722800000");
        assert_eq!(people.rows[0][7], "1/4 recovered, 3 in progress");
        let programs = listing(&[item], false);
        assert_eq!(programs.rows[0][7]["in_progress"], 3);
    }
}
