//! What lazarus knows about the cloud it protects: failover segments, their hosts and
//! the instances on them, as plain data the detector, planner and workflows read.

mod cluster;
mod host;
mod instance;
mod resources;
mod segment;
mod server_group;

pub use cluster::{Cluster, ClusterError};
pub use host::{FenceMethod, Host};
pub use instance::{Instance, RestartPriority, VmState};
pub use resources::{Capacity, Inventory, Resources};
pub use segment::{RecoveryMethod, RecoveryPolicy, Segment};
pub use server_group::{GroupPolicy, ServerGroup};
