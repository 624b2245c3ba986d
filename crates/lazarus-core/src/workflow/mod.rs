//! The recovery workflow of one failed host: fence, mark down, plan, evacuate in
//! priority waves, verify, retry elsewhere, finish, return to service.
//!
//! Each step is written to the [`RecoveryRecord`] (and persisted) before the command
//! that carries out its effect, and each is idempotent: see `docs/core.md`.

mod evacuation;
mod planning;
mod record;
mod recovery;
mod resume;
mod returning;
mod steps;
mod verification;

pub use record::{
    ExpectedState, FenceConfirmation, FenceRecord, InstanceRecord, InstanceStep, NovaMarks,
    Outcome, Phase, RecoveryId, RecoveryRecord, RecoverySummary, Trigger, RECOVERY_RECORD_VERSION,
};
pub(crate) use recovery::{Recovery, Unknown};
pub(crate) use returning::RestartCheck;
