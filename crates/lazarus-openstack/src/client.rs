//! `OpenStackClient`: the real [`Cloud`], over HTTP.

use std::sync::Arc;
use std::time::Duration;

use crate::cloud::Cloud;
use crate::compute_services::{self, ComputeService, ServiceUpdate};
use crate::config::{CloudConfig, ConfigError};
use crate::error::CloudError;
use crate::hypervisors::{self, Hypervisor};
use crate::keystone::Authenticator;
use crate::microversion::VersionRange;
use crate::migrations::{self, Migration, MigrationFilter};
use crate::placement::{
    self, Allocations, ProviderAggregates, ProviderInventories, ProviderTraits, ProviderUsages,
    ResourceProvider,
};
use crate::server_groups::{self, ServerGroup};
use crate::servers::{self, EvacuateOptions, Server, ServerAction};
use crate::session::{Service, Session};

/// Transport settings of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The longest any one HTTP request may take, connection included. A call that
    /// pages through a list makes several requests.
    pub request_timeout: Duration,
    /// The longest a TCP (and TLS) connection may take to open.
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    /// 30 s per request (Nova's slowest calls that lazarus makes answer well under
    /// that; the pathological 60 s disable is avoided by design), 5 s to connect.
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A client of one OpenStack cloud: Keystone for tokens, Nova and Placement for the
/// rest. Cheap to clone (clones share the token and the negotiated microversions).
#[derive(Debug, Clone)]
pub struct OpenStackClient {
    pub(crate) session: Arc<Session>,
}

impl OpenStackClient {
    /// A client for the cloud `config` describes. Nothing is sent until the first call
    /// (which issues the token).
    pub fn new(config: &CloudConfig, options: &ClientOptions) -> Result<Self, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("lazarus-openstack/", env!("CARGO_PKG_VERSION")));
        if !config.verify_tls {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Some(path) = &config.ca_cert {
            let pem = std::fs::read(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ConfigError::InvalidValue {
                    field: "cacert",
                    value: format!("{}: {e}", path.display()),
                }
            })?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|e| ConfigError::InvalidValue {
            field: "HTTP client settings",
            value: e.to_string(),
        })?;
        let auth = Authenticator::new(
            http.clone(),
            &config.auth_url,
            config.credentials.clone(),
            options.request_timeout,
        );
        let session = Session::new(
            http,
            auth,
            config.region.clone(),
            config.interface,
            options.request_timeout,
        );
        Ok(Self {
            session: Arc::new(session),
        })
    }

    /// The microversions Nova offers (read once, then cached).
    pub async fn compute_versions(&self) -> Result<VersionRange, CloudError> {
        self.session.version_range(Service::Compute).await
    }

    /// How many Keystone tokens this client (and its clones) issued: one, plus one per
    /// renewal before expiry and per re-authentication after a 401.
    pub fn tokens_issued(&self) -> u64 {
        self.session.auth().tokens_issued()
    }

    /// A valid Keystone token (cached, renewed before it expires) and the base URL of
    /// `service_type` in the token's catalog, for clients of services this adapter does
    /// not wrap (the lazarus CLI uses it for `instance-ha`, lazarus's own API).
    pub async fn token_and_endpoint(
        &self,
        service_type: &str,
    ) -> Result<(crate::secret::Secret, String), CloudError> {
        self.session.token_and_endpoint(service_type).await
    }

    /// The microversions Placement offers (read once, then cached).
    pub async fn placement_versions(&self) -> Result<VersionRange, CloudError> {
        self.session.version_range(Service::Placement).await
    }
}

impl Cloud for OpenStackClient {
    async fn list_compute_services(&self) -> Result<Vec<ComputeService>, CloudError> {
        compute_services::list(&self.session).await
    }

    async fn update_compute_service(
        &self,
        service_id: &str,
        update: &ServiceUpdate,
    ) -> Result<ComputeService, CloudError> {
        compute_services::update(&self.session, service_id, update).await
    }

    async fn list_servers_on_host(&self, host: &str) -> Result<Vec<Server>, CloudError> {
        servers::list_on_host(&self.session, host).await
    }

    async fn get_server(&self, server_id: &str) -> Result<Server, CloudError> {
        servers::get(&self.session, server_id).await
    }

    async fn evacuate(&self, server_id: &str, options: &EvacuateOptions) -> Result<(), CloudError> {
        servers::evacuate(&self.session, server_id, options).await
    }

    async fn live_migrate(
        &self,
        server_id: &str,
        target_host: Option<&str>,
    ) -> Result<(), CloudError> {
        servers::live_migrate(&self.session, server_id, target_host).await
    }

    async fn server_action(
        &self,
        server_id: &str,
        action: &ServerAction,
    ) -> Result<(), CloudError> {
        servers::run_action(&self.session, server_id, action).await
    }

    async fn list_migrations(
        &self,
        filter: &MigrationFilter,
    ) -> Result<Vec<Migration>, CloudError> {
        migrations::list(&self.session, filter).await
    }

    async fn list_hypervisors(&self) -> Result<Vec<Hypervisor>, CloudError> {
        hypervisors::list(&self.session).await
    }

    async fn list_server_groups(&self) -> Result<Vec<ServerGroup>, CloudError> {
        server_groups::list(&self.session).await
    }

    async fn list_resource_providers(&self) -> Result<Vec<ResourceProvider>, CloudError> {
        placement::list_providers(&self.session).await
    }

    async fn provider_inventories(
        &self,
        provider: &str,
    ) -> Result<ProviderInventories, CloudError> {
        placement::inventories(&self.session, provider).await
    }

    async fn provider_usages(&self, provider: &str) -> Result<ProviderUsages, CloudError> {
        placement::usages(&self.session, provider).await
    }

    async fn provider_aggregates(&self, provider: &str) -> Result<ProviderAggregates, CloudError> {
        placement::aggregates(&self.session, provider).await
    }

    async fn provider_traits(&self, provider: &str) -> Result<ProviderTraits, CloudError> {
        placement::traits(&self.session, provider).await
    }

    async fn consumer_allocations(&self, consumer: &str) -> Result<Allocations, CloudError> {
        placement::allocations(&self.session, consumer).await
    }
}
