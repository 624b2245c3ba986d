//! Everything the engine persists, as one enum the store keeps by key.

use serde::{Deserialize, Serialize};

use crate::event::Process;
use crate::workflow::RecoveryRecord;
use crate::{HostName, Timestamp};

/// A persisted record. The store keeps the latest record per [`Record::key`] and hands
/// them all to [`crate::Engine::resume`] after a restart or a change of leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// A host's recovery.
    Recovery(RecoveryRecord),
    /// A host lazarus disabled for scheduling because a process stayed down.
    ProcessDisable(ProcessDisableRecord),
}

/// The key a record replaces its predecessor under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKey {
    /// The recovery of a host.
    Recovery(HostName),
    /// The process-failure disable of a host.
    ProcessDisable(HostName),
}

impl Record {
    /// The key under which the store keeps this record.
    pub fn key(&self) -> RecordKey {
        match self {
            Record::Recovery(r) => RecordKey::Recovery(r.id.host.clone()),
            Record::ProcessDisable(p) => RecordKey::ProcessDisable(p.host.clone()),
        }
    }
}

/// A host disabled for scheduling because a process stayed down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessDisableRecord {
    /// The host.
    pub host: HostName,
    /// The process that stayed down.
    pub process: Process,
    /// True from just before `DisableHost` until Nova has confirmed the enable; the
    /// record with `false` closes the log.
    pub disabled: bool,
    /// True from just before `EnableHost` until Nova answers it: an enable is pending
    /// and is sent again on resume (enabling is idempotent in Nova), so a controller
    /// stopped between the two does not leave the host disabled for good. Absent in
    /// records written before this field existed (read as false).
    #[serde(default)]
    pub enabling: bool,
    /// When this record was written.
    pub at: Timestamp,
}
