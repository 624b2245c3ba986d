//! Fencing drivers: the hands lazarus puts on BMCs.
//!
//! The core decides *when* to fence and *whether* a fence is confirmed; this crate
//! only carries out its [`lazarus_core::Command::FenceHost`] (a power-off) and
//! [`lazarus_core::Command::ReadPowerState`], and answers in the core's terms
//! ([`lazarus_core::event::PowerState`], [`lazarus_core::event::FenceError`]).
//!
//! - [`PowerControl`]: one trait, power off / on / read, each with a time limit.
//! - [`Redfish`]: a thin reqwest client (service root, Systems, `ComputerSystem.Reset`,
//!   `PowerState`), Basic auth, a private CA or an explicit `insecure`, retries.
//! - [`Ipmitool`]: IPMI 2.0 through Debian's `ipmitool`, the password in its
//!   environment, never on its command line.
//! - [`Fleet`]: each host's driver, built from the `[bmc]` configuration section
//!   ([`BmcSection`]); what the controller's `Fencer` calls.
//! - [`fence()`]: power off, then read back until "Off", bounded; for tools and tests.
//!
//! The watchdog promise (a host with no BMC whose agent's watchdog reboots it when
//! isolated) needs no driver: the core counts it
//! ([`lazarus_core::policy::FencingPolicy::watchdog_safe_after`]); docs/fencing.md
//! explains both.
//!
//! Credentials are [`Secret`]s: no `Debug` output, log line or error message carries
//! one.

mod config;
mod error;
pub mod fence;
mod fleet;
pub mod ipmi;
mod power;
pub mod redfish;

pub use config::{
    read_password_file, BmcSection, ConfigError, Credentials, HostBmc, IpmiConfig, RedfishConfig,
};
pub use error::BmcError;
pub use fence::{fence, FenceFailure, FencePolicy, Fenced};
pub use fleet::Fleet;
pub use ipmi::{IpmiOptions, Ipmitool};
pub use lazarus_openstack::Secret;
pub use power::PowerControl;
pub use redfish::{Redfish, RedfishOptions, TlsOptions};
