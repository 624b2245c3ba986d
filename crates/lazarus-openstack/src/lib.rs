//! The OpenStack adapter of lazarus.
//!
//! Everything lazarus needs from OpenStack sits behind the [`Cloud`] trait: the
//! controller runtime is generic over it (or holds an `Arc` of an implementation),
//! and the simulator can implement it without any HTTP. [`OpenStackClient`] is the
//! real implementation: a thin `reqwest` client for Keystone v3, Nova and Placement.
//!
//! - Configuration comes from `clouds.yaml` or `OS_*` variables ([`CloudConfig`]),
//!   with the same search path and precedence as openstacksdk.
//! - A Keystone token is reused until shortly before it expires, and re-issued when
//!   it expires or a service answers 401.
//! - Endpoints are picked from the token's catalog by service type, region and
//!   interface ([`catalog`]).
//! - Nova and Placement microversions are negotiated from the services' version
//!   documents: each call asks for the newest version it understands that the
//!   service offers, and refuses to run below the version it needs ([`microversion`]).
//! - Every failure is a [`CloudError`] that says whether retrying can help.
//!
//! `docs/openstack-adapter.md` explains why this is a thin client and not the
//! `openstack_sdk` crate.

pub mod catalog;
pub mod client;
pub mod cloud;
pub mod compute_services;
pub mod config;
pub mod error;
pub mod hypervisors;
mod keystone;
pub mod microversion;
pub mod migrations;
pub mod placement;
pub mod secret;
pub mod server_groups;
pub mod servers;
mod session;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod timestamp;

pub use client::{ClientOptions, OpenStackClient};
pub use cloud::Cloud;
pub use compute_services::{ComputeService, ServiceState, ServiceStatus, ServiceUpdate};
pub use config::{CloudConfig, ConfigError, Credentials, Interface, NameOrId};
pub use error::{CloudError, RequestInfo};
pub use hypervisors::{Hypervisor, HypervisorService};
pub use microversion::{Microversion, VersionRange};
pub use migrations::{Migration, MigrationFilter, MigrationType};
pub use placement::{
    Allocations, InventoryRecord, ProviderAggregates, ProviderInventories, ProviderTraits,
    ProviderUsages, ResourceProvider,
};
pub use secret::Secret;
pub use server_groups::{ServerGroup, ServerGroupRules};
pub use servers::{
    ArrivalState, EvacuateOptions, Flavor, ResetState, Server, ServerAction, VmState,
};
pub use timestamp::Timestamp;
