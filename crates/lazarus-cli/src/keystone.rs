//! `--os-cloud`: a Keystone token from `clouds.yaml`, through the OpenStack adapter's
//! own authentication (`lazarus-openstack`: the same search path as openstacksdk,
//! password or application credentials, token caching), and the API's URL from the
//! token's catalog.

use std::time::Duration;

use lazarus_openstack::{ClientOptions, CloudConfig, OpenStackClient};

use crate::client::LazarusClient;
use crate::error::CliError;

/// The catalog's service type of the lazarus API (Masakari's).
pub const SERVICE_TYPE: &str = "instance-ha";

/// The cloud `name` of `clouds.yaml` (openstacksdk's search path).
pub fn load(name: &str) -> Result<CloudConfig, CliError> {
    CloudConfig::load(Some(name)).map_err(|e| CliError::Auth(format!("--os-cloud {name}: {e}")))
}

/// A client that authenticates to `config`'s Keystone and talks to `endpoint`, or to
/// the catalog's `instance-ha` endpoint when none is given.
pub async fn client(
    config: &CloudConfig,
    endpoint: Option<&str>,
    api_version: &str,
    timeout: Duration,
) -> Result<LazarusClient, CliError> {
    let options = ClientOptions {
        request_timeout: timeout,
        connect_timeout: timeout.min(Duration::from_secs(5)),
    };
    let cloud = OpenStackClient::new(config, &options)
        .map_err(|e| CliError::Auth(format!("cloud configuration: {e}")))?;
    let (token, catalog_endpoint) = match cloud.token_and_endpoint(SERVICE_TYPE).await {
        Ok((token, url)) => (token, Some(url)),
        Err(lazarus_openstack::CloudError::NoEndpoint { .. }) if endpoint.is_some() => {
            // The catalog need not list lazarus when the URL is given.
            let (token, _) = cloud
                .token_and_endpoint("identity")
                .await
                .map_err(|e| CliError::Auth(format!("Keystone: {e}")))?;
            (token, None)
        }
        Err(e @ lazarus_openstack::CloudError::NoEndpoint { .. }) => {
            return Err(CliError::Auth(format!(
                "{e}; register lazarus in the catalog or give --endpoint URL"
            )))
        }
        Err(e) => return Err(CliError::Auth(format!("Keystone: {e}"))),
    };
    let url = match (endpoint, catalog_endpoint) {
        (Some(given), _) => given.to_owned(),
        (None, Some(found)) => found,
        (None, None) => {
            return Err(CliError::Auth(
                "no endpoint for the lazarus API; give --endpoint URL".to_owned(),
            ))
        }
    };
    LazarusClient::new(&url, Some(token.expose().to_owned()), api_version, timeout)
        .map_err(CliError::Client)
}
