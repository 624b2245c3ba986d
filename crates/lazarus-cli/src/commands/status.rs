//! `lazarus status`: is the controller ready, and what does it believe about its hosts
//! (`GET /ready`, `GET /v1`, `GET /v1/lazarus/hosts`).

use std::collections::BTreeMap;

use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use super::Context;
use crate::error::{CliError, ClientError};
use crate::format::OutputArgs;
use crate::output::{Output, Record};

/// `status`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Fields of a native host record that carry its health, in order of preference.
const STATE_KEYS: &[&str] = &["health", "state", "status", "detector_state"];

impl StatusArgs {
    /// Runs the command. Unreachable readiness or host endpoints are reported in the
    /// output, not as failures, so that `status` says as much as it can; only an API
    /// that answers nothing at all fails the command.
    pub async fn run(&self, ctx: &Context) -> Result<Output, CliError> {
        let client = &ctx.client;
        let mut fields: Vec<(String, Value)> = vec![("endpoint".into(), json!(client.base()))];

        let version = client.request(Method::GET, "/v1", &[], None).await;
        let version = match version {
            Ok(a) => a
                .body
                .pointer("/version/version")
                .cloned()
                .unwrap_or(Value::Null),
            Err(e @ ClientError::Transport { .. }) => return Err(e.into()),
            Err(e) => json!(format!("unknown ({e})")),
        };
        fields.push(("api_version".into(), version));

        let ready = match client.request(Method::GET, "/ready", &[], None).await {
            Ok(_) => json!("ready"),
            Err(ClientError::Api { status, message }) => {
                json!(format!("not ready (HTTP {status}): {message}"))
            }
            Err(e) => json!(format!("unknown ({e})")),
        };
        fields.push(("ready".into(), ready));

        match client
            .request(Method::GET, "/v1/lazarus/hosts", &[], None)
            .await
        {
            Ok(a) => {
                let hosts = match a.body.get("hosts") {
                    Some(h) => h.clone(),
                    None => a.body,
                };
                let hosts = hosts.as_array().cloned().unwrap_or_default();
                fields.push(("hosts".into(), json!(hosts.len())));
                fields.push(("hosts_by_state".into(), json!(by_state(&hosts))));
            }
            Err(e) => {
                fields.push(("hosts".into(), json!(format!("unknown ({e})"))));
            }
        }
        Ok(Output::Record(Record { fields }))
    }
}

/// `state: count` for each health state among `hosts`, sorted by state.
pub fn by_state(hosts: &[Value]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for h in hosts {
        let state = STATE_KEYS
            .iter()
            .find_map(|k| h.get(*k).and_then(Value::as_str))
            .unwrap_or("unknown");
        *counts.entry(state.to_owned()).or_default() += 1;
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
    fn hosts_are_counted_by_their_health_state() {
        let hosts = vec![
            json!({"name": "c1", "state": "up"}),
            json!({"name": "c2", "state": "down"}),
            json!({"name": "c3", "state": "up"}),
            json!({"name": "c4"}),
        ];
        assert_eq!(by_state(&hosts), "down: 1, unknown: 1, up: 2");
    }
}
