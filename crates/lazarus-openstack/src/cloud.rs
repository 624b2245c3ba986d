//! The `Cloud` trait: everything lazarus asks of OpenStack.

use std::future::Future;
use std::sync::Arc;

use crate::compute_services::{ComputeService, ServiceUpdate};
use crate::error::CloudError;
use crate::hypervisors::Hypervisor;
use crate::migrations::{Migration, MigrationFilter};
use crate::placement::{
    Allocations, ProviderAggregates, ProviderInventories, ProviderTraits, ProviderUsages,
    ResourceProvider,
};
use crate::server_groups::ServerGroup;
use crate::servers::{EvacuateOptions, Server, ServerAction};

/// What lazarus needs from OpenStack. [`crate::OpenStackClient`] implements it against
/// a real cloud; the simulator and tests can implement it in memory.
///
/// The methods return `impl Future + Send` (not `async-trait`): no allocation per call,
/// no extra dependency, and futures that a multi-threaded runtime can spawn. The price
/// is that the trait is not object-safe, so the runtime is generic over `C: Cloud`;
/// it may hold the client in an `Arc`, since `Arc<C>` and `&C` are `Cloud` too.
///
/// Every call is bounded by the client's timeout and fails with a [`CloudError`] that
/// says whether a retry can help. The writes are not idempotent by themselves (an
/// evacuation sent twice is refused the second time with a conflict); the caller
/// records what it sent before sending it.
pub trait Cloud: Send + Sync {
    /// The `nova-compute` services, with Nova's view of their liveness.
    fn list_compute_services(
        &self,
    ) -> impl Future<Output = Result<Vec<ComputeService>, CloudError>> + Send;

    /// Changes a compute service (by its UUID): force down and disable after fencing,
    /// lift forced_down and enable when the host is back; see [`ServiceUpdate`].
    fn update_compute_service(
        &self,
        service_id: &str,
        update: &ServiceUpdate,
    ) -> impl Future<Output = Result<ComputeService, CloudError>> + Send;

    /// Every server on `host`, of every project, with flavor, AZ, metadata and
    /// server groups.
    fn list_servers_on_host(
        &self,
        host: &str,
    ) -> impl Future<Output = Result<Vec<Server>, CloudError>> + Send;

    /// One server, with its server groups.
    fn get_server(
        &self,
        server_id: &str,
    ) -> impl Future<Output = Result<Server, CloudError>> + Send;

    /// Rebuilds the server on another host (the source must be down, see
    /// [`CloudError::ComputeServiceInUse`]). Returns when Nova has accepted it; the
    /// server's state and its evacuation record show the rest.
    fn evacuate(
        &self,
        server_id: &str,
        options: &EvacuateOptions,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Live-migrates the server (block migration decided by Nova); the scheduler picks
    /// the host if none is given. Returns when Nova has accepted it.
    fn live_migrate(
        &self,
        server_id: &str,
        target_host: Option<&str>,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Hard reboot, stop, start, reset state, lock or unlock; accepted at once, done in
    /// the background.
    fn server_action(
        &self,
        server_id: &str,
        action: &ServerAction,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Migration records matching the filter.
    fn list_migrations(
        &self,
        filter: &MigrationFilter,
    ) -> impl Future<Output = Result<Vec<Migration>, CloudError>> + Send;

    /// The compute nodes.
    fn list_hypervisors(&self) -> impl Future<Output = Result<Vec<Hypervisor>, CloudError>> + Send;

    /// Every server group of every project.
    fn list_server_groups(
        &self,
    ) -> impl Future<Output = Result<Vec<ServerGroup>, CloudError>> + Send;

    /// Every Placement resource provider.
    fn list_resource_providers(
        &self,
    ) -> impl Future<Output = Result<Vec<ResourceProvider>, CloudError>> + Send;

    /// The inventories of a provider.
    fn provider_inventories(
        &self,
        provider: &str,
    ) -> impl Future<Output = Result<ProviderInventories, CloudError>> + Send;

    /// What is used on a provider.
    fn provider_usages(
        &self,
        provider: &str,
    ) -> impl Future<Output = Result<ProviderUsages, CloudError>> + Send;

    /// The aggregates of a provider.
    fn provider_aggregates(
        &self,
        provider: &str,
    ) -> impl Future<Output = Result<ProviderAggregates, CloudError>> + Send;

    /// The traits of a provider.
    fn provider_traits(
        &self,
        provider: &str,
    ) -> impl Future<Output = Result<ProviderTraits, CloudError>> + Send;

    /// The allocations of a consumer (a server's UUID).
    fn consumer_allocations(
        &self,
        consumer: &str,
    ) -> impl Future<Output = Result<Allocations, CloudError>> + Send;
}

/// Forwards every method to the pointee, so `Arc<C>` and `&C` can be passed where a
/// `Cloud` is expected.
macro_rules! forward_cloud {
    ($($ty:ty),*) => {$(
        impl<C: Cloud> Cloud for $ty {
            fn list_compute_services(
                &self,
            ) -> impl Future<Output = Result<Vec<ComputeService>, CloudError>> + Send {
                (**self).list_compute_services()
            }
            fn update_compute_service(
                &self,
                service_id: &str,
                update: &ServiceUpdate,
            ) -> impl Future<Output = Result<ComputeService, CloudError>> + Send {
                (**self).update_compute_service(service_id, update)
            }
            fn list_servers_on_host(
                &self,
                host: &str,
            ) -> impl Future<Output = Result<Vec<Server>, CloudError>> + Send {
                (**self).list_servers_on_host(host)
            }
            fn get_server(
                &self,
                server_id: &str,
            ) -> impl Future<Output = Result<Server, CloudError>> + Send {
                (**self).get_server(server_id)
            }
            fn evacuate(
                &self,
                server_id: &str,
                options: &EvacuateOptions,
            ) -> impl Future<Output = Result<(), CloudError>> + Send {
                (**self).evacuate(server_id, options)
            }
            fn live_migrate(
                &self,
                server_id: &str,
                target_host: Option<&str>,
            ) -> impl Future<Output = Result<(), CloudError>> + Send {
                (**self).live_migrate(server_id, target_host)
            }
            fn server_action(
                &self,
                server_id: &str,
                action: &ServerAction,
            ) -> impl Future<Output = Result<(), CloudError>> + Send {
                (**self).server_action(server_id, action)
            }
            fn list_migrations(
                &self,
                filter: &MigrationFilter,
            ) -> impl Future<Output = Result<Vec<Migration>, CloudError>> + Send {
                (**self).list_migrations(filter)
            }
            fn list_hypervisors(
                &self,
            ) -> impl Future<Output = Result<Vec<Hypervisor>, CloudError>> + Send {
                (**self).list_hypervisors()
            }
            fn list_server_groups(
                &self,
            ) -> impl Future<Output = Result<Vec<ServerGroup>, CloudError>> + Send {
                (**self).list_server_groups()
            }
            fn list_resource_providers(
                &self,
            ) -> impl Future<Output = Result<Vec<ResourceProvider>, CloudError>> + Send {
                (**self).list_resource_providers()
            }
            fn provider_inventories(
                &self,
                provider: &str,
            ) -> impl Future<Output = Result<ProviderInventories, CloudError>> + Send {
                (**self).provider_inventories(provider)
            }
            fn provider_usages(
                &self,
                provider: &str,
            ) -> impl Future<Output = Result<ProviderUsages, CloudError>> + Send {
                (**self).provider_usages(provider)
            }
            fn provider_aggregates(
                &self,
                provider: &str,
            ) -> impl Future<Output = Result<ProviderAggregates, CloudError>> + Send {
                (**self).provider_aggregates(provider)
            }
            fn provider_traits(
                &self,
                provider: &str,
            ) -> impl Future<Output = Result<ProviderTraits, CloudError>> + Send {
                (**self).provider_traits(provider)
            }
            fn consumer_allocations(
                &self,
                consumer: &str,
            ) -> impl Future<Output = Result<Allocations, CloudError>> + Send {
                (**self).consumer_allocations(consumer)
            }
        }
    )*};
}

forward_cloud!(Arc<C>, &C);
