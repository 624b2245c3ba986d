//! `lazarus host confirm-fenced|recover|return NAME [--reason TEXT]`: an operator's
//! action on one host, through the controller's native API
//! (`POST /v1/lazarus/hosts/{name}/confirm-fenced|recover|return`, admin role).
//!
//! The controller answers once its engine has taken the action (202), or says why it
//! did not (409: e.g. a confirmation for a host no recovery waits for; 404: a host in no
//! segment). The command prints what was submitted and what happens next.

use clap::Args;
use reqwest::Method;
use serde_json::{json, Map};

use super::{record, seg, Context};
use crate::error::CliError;
use crate::format::OutputArgs;
use crate::output::Output;

/// What the three actions take.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct HostActionArgs {
    /// The host's name (the `host` of its nova-compute service).
    pub name: String,
    /// Why, for the controller's audit log (one line).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The fields of the answer, in display order.
const FIELDS: &[&str] = &[
    "host",
    "action",
    "operator",
    "reason",
    "recovery",
    "recovery_phase",
    "message",
];

impl HostActionArgs {
    /// Sends the action named `action` (the last segment of its route) for the host.
    pub async fn run(&self, ctx: &Context, action: &str) -> Result<Output, CliError> {
        let path = format!("/v1/lazarus/hosts/{}/{action}", seg(&self.name));
        let mut body = Map::new();
        if let Some(reason) = &self.reason {
            body.insert("reason".into(), json!(reason));
        }
        let submitted = ctx
            .client
            .send_key(Method::POST, &path, &body.into(), "submitted")
            .await?;
        Ok(record(&submitted, FIELDS, &[]))
    }
}
