//! Turning `--endpoint` / `--os-cloud` into a [`LazarusClient`].

use std::time::Duration;

use crate::args::{ConnectionArgs, DEFAULT_ENDPOINT};
use crate::client::LazarusClient;
use crate::error::CliError;

/// A client as the connection options say: with `--os-cloud`, a Keystone token from
/// `clouds.yaml` and the catalog's `instance-ha` endpoint (unless `--endpoint` is
/// given); without it (or with `--no-auth`), no token and `--endpoint` (default
/// `http://127.0.0.1:15868`).
pub async fn connect(args: &ConnectionArgs) -> Result<LazarusClient, CliError> {
    let timeout = Duration::from_secs(args.timeout.max(1));
    let cloud = if args.no_auth {
        None
    } else {
        args.os_cloud.as_ref()
    };
    match cloud {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cloud: Option<&str>, no_auth: bool) -> ConnectionArgs {
        ConnectionArgs {
            endpoint: Some("http://127.0.0.1:1/v1".into()),
            os_cloud: cloud.map(str::to_owned),
            no_auth,
            ..ConnectionArgs::default()
        }
    }

    #[tokio::test]
    async fn no_auth_ignores_the_cloud_and_uses_the_endpoint() {
        let client = connect(&args(Some("no-such-cloud-anywhere"), true))
            .await
            .unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:1");
    }

    #[tokio::test]
    async fn a_cloud_that_cannot_be_loaded_is_an_auth_error_naming_it() {
        let e = connect(&args(Some("no-such-cloud-anywhere"), false))
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().contains("no-such-cloud-anywhere"), "{e}");
    }
}
