//! lazarus's durable state.
//!
//! Everything the controller must not forget across a restart lives behind the [`Store`]
//! trait: the Masakari-shaped records the API serves (failover segments, hosts,
//! notifications, vmoves) and the append-only log of recovery records that the engine
//! writes ahead of every side effect. The default implementation is [`SqliteStore`]: one
//! file, nothing else to run. A replicated store (etcd) can be added later; it proves
//! itself by passing the same conformance suite (`conformance`, behind the feature of
//! that name).
//!
//! The store never reads a clock and never draws random numbers: callers pass `now` and
//! choose the UUIDs, so behaviour is reproducible in tests.

pub mod error;
pub mod model;
pub mod query;
pub mod sqlite;
pub mod store;
pub mod time;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use error::StoreError;
pub use model::host::{Host, HostFilter, HostUpdate, NewHost};
pub use model::notification::{
    DuplicateWindow, NewNotification, Notification, NotificationFilter, NotificationStatus,
    NotificationType, NotificationUpdate,
};
pub use model::recovery::{RecoveryLog, RecoveryRecord};
pub use model::segment::{NewSegment, RecoveryMethod, Segment, SegmentFilter, SegmentUpdate};
pub use model::vmove::{NewVMove, VMove, VMoveFilter, VMoveStatus, VMoveType, VMoveUpdate};
pub use query::{ListQuery, SortDir};
pub use sqlite::SqliteStore;
pub use store::Store;
pub use time::Time;
