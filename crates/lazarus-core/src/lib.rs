//! The decision core of lazarus.
//!
//! Everything lazarus decides lives here, and nothing here does I/O: no clock, no
//! network, no randomness. The runtime feeds events stamped with the current time and
//! executes the commands that come back, so every decision can be unit-tested in
//! microseconds and replayed exactly by the simulator from a seed.

pub mod alert;
pub mod command;
pub mod detector;
pub mod engine;
pub mod event;
pub mod fencing;
pub mod ids;
pub mod instance_failure;
pub mod model;
pub mod planner;
pub mod policy;
pub mod process_failure;
pub mod time;
pub mod workflow;

pub use ids::{HostName, InstanceId, SegmentId, ServerGroupId};
pub use time::Timestamp;

pub use alert::{Alert, AlertKind, Severity};
pub use command::{Command, ResetMethod, DISABLED_REASON_PREFIX};
pub use detector::HostHealth;
pub use engine::{Engine, Record, RecordKey, TimerToken};
pub use event::Event;
pub use policy::EngineConfig;
