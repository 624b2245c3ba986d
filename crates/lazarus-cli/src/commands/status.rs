//! `lazarus status`: is the controller ready, and what does it believe about its hosts
//! (`GET /ready`, `GET /v1`, `GET /v1/lazarus/hosts`). `status --hosts` lists the hosts
//! with the detector's verdict and why.

use std::collections::BTreeMap;

use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use super::recovery::human;
use super::Context;
use crate::error::{CliError, ClientError};
use crate::format::{Format, OutputArgs};
use crate::output::{Listing, Output, Record};

/// `status`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StatusArgs {
    /// List every protected host with the detector's verdict, why, and the recovery
    /// under way, instead of the summary.
    #[arg(long)]
    pub hosts: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The columns of `status --hosts`, among the fields of the controller's host views.
const HOST_COLUMNS: &[&str] = &[
    "name",
    "segment",
    "health",
    "why",
    "recovery",
    "recovery_phase",
    "instances",
    "protected_instances",
    "reserved",
    "on_maintenance",
];

impl StatusArgs {
    /// Runs the command. A controller that is not ready, or a native API that does not
    /// answer, is reported in the output rather than failing the command, so that
    /// `status` says as much as it can; only an API that cannot be reached at all fails.
    pub async fn run(&self, ctx: &Context) -> Result<Output, CliError> {
        if self.hosts {
            let hosts = ctx
                .client
                .get_key("/v1/lazarus/hosts", &[], "hosts")
                .await?;
            let items = hosts.as_array().cloned().unwrap_or_default();
            let mut l = Listing::from_objects(HOST_COLUMNS, &items);
            if matches!(self.output.format, Format::Table | Format::Value) {
                for row in &mut l.rows {
                    for v in row.iter_mut().filter(|v| v.is_object()) {
                        *v = Value::String(human(v));
                    }
                }
            }
            return Ok(Output::List(l));
        }
        let client = &ctx.client;
        let mut fields: Vec<(String, Value)> = vec![("endpoint".into(), json!(client.base()))];

        let version = match client.request(Method::GET, "/v1", &[], None).await {
            Ok(a) => a
                .body
                .pointer("/version/version")
                .cloned()
                .unwrap_or(Value::Null),
            Err(e @ ClientError::Transport { .. }) => return Err(e.into()),
            Err(e) => json!(format!("unknown ({e})")),
        };
        fields.push(("api_version".into(), version));

        match client.request_any(Method::GET, "/ready").await {
            Ok(a) => {
                let ready = (200..300).contains(&a.status);
                fields.push(("ready".into(), json!(ready)));
                if let Value::Object(parts) = &a.body {
                    for (k, v) in parts.iter().filter(|(k, _)| k.as_str() != "ready") {
                        fields.push((k.clone(), v.clone()));
                    }
                } else if !ready {
                    fields.push(("ready_detail".into(), a.body));
                }
            }
            Err(e) => fields.push(("ready".into(), json!(format!("unknown ({e})")))),
        }

        match client.get_key("/v1/lazarus/hosts", &[], "hosts").await {
            Ok(hosts) => {
                let hosts = hosts.as_array().cloned().unwrap_or_default();
                fields.push(("hosts".into(), json!(hosts.len())));
                fields.push(("hosts_by_health".into(), json!(by_health(&hosts))));
                let recovering: Vec<Value> = hosts
                    .iter()
                    .filter_map(|h| h.get("recovery").filter(|r| !r.is_null()).cloned())
                    .collect();
                fields.push(("recoveries_under_way".into(), Value::Array(recovering)));
            }
            Err(e) => fields.push(("hosts".into(), json!(format!("unknown ({e})")))),
        }
        Ok(Output::Record(Record { fields }))
    }
}

/// `health: count` for each detector verdict among `hosts`, sorted by verdict; hosts
/// without a verdict yet count as `unknown`.
pub fn by_health(hosts: &[Value]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for h in hosts {
        let state = h.get("health").and_then(Value::as_str).unwrap_or("unknown");
        *counts.entry(state.to_owned()).or_default() += 1;
    }
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_counted_by_the_detectors_verdict() {
        let hosts = vec![
            json!({"name": "c1", "health": "up"}),
            json!({"name": "c2", "health": "failed"}),
            json!({"name": "c3", "health": "up"}),
            json!({"name": "c4", "health": null}),
        ];
        assert_eq!(by_health(&hosts), "failed: 1, unknown: 1, up: 2");
        assert_eq!(by_health(&[]), "none");
    }
}
