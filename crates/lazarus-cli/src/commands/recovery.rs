//! `lazarus recovery list|show`: lazarus's own record of host recoveries
//! (`GET /v1/lazarus/recoveries[/{id}]`), with each recovery's step timeline and
//! per-instance outcomes.
//!
//! The records are shown as the controller sends them: the listing picks the usual
//! summary columns among the fields present, and `show` prints every field, with the
//! step timeline and the instances one line each (time first) so that a table reads
//! as a timeline. `-f json` gives the controller's record unchanged.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::{record, seg, Context};
use crate::args::ListArgs;
use crate::error::CliError;
use crate::format::OutputArgs;
use crate::output::{Listing, Output};

/// The recovery actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum RecoveryAction {
    /// List recoveries, newest first.
    List(ListRecoveries),
    /// Show one recovery with its step timeline and per-instance outcomes.
    Show(ShowRecovery),
}

/// `recovery list`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ListRecoveries {
    /// Only recoveries of this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Only unfinished (`true`) or finished (`false`) recoveries.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub active: Option<bool>,
    #[command(flatten)]
    pub list: ListArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `recovery show`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ShowRecovery {
    /// The recovery's id.
    pub recovery: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Summary columns, in order, used when the records have them.
const SUMMARY: &[&str] = &[
    "id",
    "recovery_id",
    "host",
    "hostname",
    "segment",
    "segment_id",
    "state",
    "status",
    "phase",
    "reason",
    "notification_uuid",
    "started_at",
    "finished_at",
    "instances_total",
    "instances_recovered",
    "instances_failed",
];
/// Fields shown first by `show`.
const FIELDS: &[&str] = &[
    "id",
    "recovery_id",
    "host",
    "hostname",
    "segment",
    "segment_id",
    "state",
    "status",
    "phase",
    "reason",
    "notification_uuid",
    "started_at",
    "finished_at",
    "duration_ms",
];
/// Array fields that are timelines or per-item outcomes: rendered one line per item.
const LINE_FIELDS: &[&str] = &["steps", "timeline", "instances", "moves", "events"];
/// Keys that lead a timeline line (the first present is printed first).
const TIME_KEYS: &[&str] = &["at", "time", "timestamp", "started_at", "created_at"];
/// Keys that name what a line is about, printed after the time.
const WHAT_KEYS: &[&str] = &["kind", "step", "name", "event", "instance", "instance_id"];

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
                let mut q = a.list.query();
                crate::args::push_opt(&mut q, "host", a.host.as_ref());
                crate::args::push_opt(&mut q, "active", a.active);
                let answer = ctx
                    .client
                    .request(reqwest::Method::GET, "/v1/lazarus/recoveries", &q, None)
                    .await?;
                let items = unwrap_key(answer.body, "recoveries");
                Ok(Output::List(summary_listing(&items)))
            }
            RecoveryAction::Show(a) => {
                let path = format!("/v1/lazarus/recoveries/{}", seg(&a.recovery));
                let answer = ctx
                    .client
                    .request(reqwest::Method::GET, &path, &[], None)
                    .await?;
                let item = unwrap_key(answer.body, "recovery");
                if a.output.format == crate::format::Format::Table
                    || a.output.format == crate::format::Format::Value
                {
                    Ok(record(&with_timelines(item), FIELDS, &[]))
                } else {
                    Ok(record(&item, FIELDS, &[]))
                }
            }
        }
    }
}

/// `body[key]` if the body is wrapped in `{key: ...}`, else the body.
fn unwrap_key(mut body: Value, key: &str) -> Value {
    match body.get_mut(key) {
        Some(v) => v.take(),
        None => body,
    }
}

/// A listing of recovery records: the summary columns the records have (every key of
/// the first record if they have none of them), instance arrays counted.
pub fn summary_listing(items: &Value) -> Listing {
    let items: Vec<Value> = items.as_array().cloned().unwrap_or_default();
    let present = |k: &str| items.iter().any(|i| i.get(k).is_some());
    let mut columns: Vec<&str> = SUMMARY.iter().copied().filter(|c| present(c)).collect();
    let counted = present("instances") && !present("instances_total");
    if counted {
        columns.push("instances");
    }
    if columns.is_empty() {
        if let Some(Value::Object(first)) = items.first() {
            columns = first.keys().map(String::as_str).collect();
        }
    }
    let rows = items
        .iter()
        .map(|i| {
            columns
                .iter()
                .map(|c| match i.get(*c) {
                    Some(Value::Array(a)) => Value::from(a.len()),
                    Some(v) => v.clone(),
                    None => Value::Null,
                })
                .collect()
        })
        .collect();
    Listing {
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows,
    }
}

/// The record with each timeline-like array of objects turned into an array of lines.
pub fn with_timelines(mut item: Value) -> Value {
    if let Some(map) = item.as_object_mut() {
        for key in LINE_FIELDS {
            if let Some(Value::Array(entries)) = map.get_mut(*key) {
                let lines: Vec<Value> = entries.iter().map(|e| Value::String(line(e))).collect();
                *entries = lines;
            }
        }
    }
    item
}

/// One timeline entry on one line: its time, what it is, then the other fields as
/// `key=value`.
fn line(entry: &Value) -> String {
    let Some(map) = entry.as_object() else {
        return crate::output::cell_text(entry);
    };
    let mut parts = Vec::new();
    let mut used = Vec::new();
    for keys in [TIME_KEYS, WHAT_KEYS] {
        if let Some(k) = keys
            .iter()
            .find(|k| map.get(**k).is_some_and(|v| !v.is_null()))
        {
            parts.push(crate::output::cell_text(&map[*k]));
            used.push(*k);
        }
    }
    for (k, v) in map {
        if !used.contains(&k.as_str()) && !v.is_null() {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{k}={text}"));
        }
    }
    parts.join("  ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_timeline_reads_time_first_then_the_step_then_its_details() {
        let r = with_timelines(json!({
            "id": "r1",
            "steps": [
                {"kind": "fence_requested", "at": "2026-11-21T11:00:00Z", "method": "ipmi"},
                {"kind": "host_forced_down", "at": "2026-11-21T11:00:02Z", "detail": null}
            ],
            "instances": [
                {"instance": "vm-1", "outcome": "active", "dest": "compute2", "at": "2026-11-21T11:00:09Z"}
            ]
        }));
        assert_eq!(
            r["steps"],
            json!([
                "2026-11-21T11:00:00Z  fence_requested  method=ipmi",
                "2026-11-21T11:00:02Z  host_forced_down"
            ])
        );
        assert_eq!(
            r["instances"],
            json!(["2026-11-21T11:00:09Z  vm-1  dest=compute2  outcome=active"])
        );
    }

    #[test]
    fn a_listing_counts_instances_and_keeps_only_summary_columns_present() {
        let l = summary_listing(&json!([
            {"id": "r1", "host": "c1", "state": "done", "instances": [1, 2, 3], "steps": []},
            {"id": "r2", "host": "c2", "state": "running", "instances": []}
        ]));
        assert_eq!(l.columns, vec!["id", "host", "state", "instances"]);
        assert_eq!(
            l.rows[0],
            vec![json!("r1"), json!("c1"), json!("done"), json!(3)]
        );
        assert_eq!(l.rows[1][3], json!(0));
    }
}
