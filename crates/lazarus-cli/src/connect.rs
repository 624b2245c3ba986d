//! Turning `--endpoint` / `--os-cloud` into a [`LazarusClient`].

use std::time::Duration;

use crate::args::{ConnectionArgs, DEFAULT_ENDPOINT};
use crate::client::LazarusClient;
use crate::error::CliError;

/// A client as the connection options say: with `--os-cloud`, a Keystone token from
/// `clouds.yaml` and the catalog's `instance-ha` endpoint (unless `--endpoint` is
/// given); without it, no token and `--endpoint` (default `http://127.0.0.1:15868`).
pub async fn connect(args: &ConnectionArgs) -> Result<LazarusClient, CliError> {
    let timeout = Duration::from_secs(args.timeout.max(1));
    match &args.os_cloud {
        None => {
            let endpoint = args.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
            LazarusClient::new(endpoint, None, &args.api_version, timeout).map_err(CliError::Client)
        }
        Some(cloud) => {
            let config = crate::keystone::load(cloud)?;
            crate::keystone::client(
                &config,
                args.endpoint.as_deref(),
                &args.api_version,
                timeout,
            )
            .await
        }
    }
}
