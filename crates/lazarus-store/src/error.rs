//! What can go wrong when reading or writing the store.

use thiserror::Error;

/// The error of every [`Store`](crate::Store) operation.
///
/// Each variant says what the caller should do about it: `NotFound`, `Conflict` and
/// `Invalid` are answers about the request (the store is unchanged; retrying the same
/// request gives the same answer), `Unavailable` is worth retrying later, and `Fatal`
/// means the store can no longer be trusted and the controller must stop acting.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No live record of this kind has this id (uuid or numeric id). The store is unchanged.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// What was looked for: "segment", "host", "notification", "vmove", "recovery".
        kind: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// The write contradicts what is stored (a unique name taken, a segment still
    /// processing notifications, a duplicate notification, a record sequence number
    /// reused with a different body). The store is unchanged.
    #[error("{0}")]
    Conflict(String),
    /// The request itself is malformed for the store (unknown sort key, marker not
    /// found). The store is unchanged.
    #[error("{0}")]
    Invalid(String),
    /// The store could not be reached or was busy; retrying later may succeed. The
    /// write did not happen.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store is broken or newer than this program (corrupt file, unknown schema
    /// version, a bug in a query). Stop acting and call for a person.
    #[error("store failed: {0}")]
    Fatal(String),
}

impl StoreError {
    /// Whether the same call may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::NotFound { .. }
            | StoreError::Conflict(_)
            | StoreError::Invalid(_)
            | StoreError::Fatal(_) => false,
        }
    }

    /// Shorthand for [`StoreError::NotFound`].
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            kind,
            id: id.into(),
        }
    }
}
