//! What can go wrong talking to a BMC, and how the core sees it.

use std::time::Duration;

use lazarus_core::event::{FenceError, FenceErrorKind};

/// Why a power operation (off, on, or a read) failed. Every driver maps its own
/// failures onto this; [`BmcError::to_fence_error`] maps it onto the core's
/// [`FenceError`]. Messages never contain a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BmcError {
    /// The BMC did not answer within the operation's time limit. Retryable; the effect
    /// of a power-off that timed out is unknown, so it is followed by reads.
    #[error("the BMC did not answer within {0:?}")]
    Timeout(Duration),
    /// The BMC could not be reached (connection refused or reset, no route, TLS
    /// handshake failed). Retryable.
    #[error("the BMC could not be reached: {0}")]
    Unreachable(String),
    /// The BMC refused the credentials (HTTP 401/403, IPMI session refused). Not
    /// retryable: the configuration must be fixed.
    #[error("the BMC refused the credentials: {0}")]
    AuthFailed(String),
    /// The BMC answered with an HTTP error status. 500, 502, 503 and 504 are
    /// retryable; anything else is not.
    #[error("the BMC answered HTTP {status}: {message}")]
    Http {
        /// The status code.
        status: u16,
        /// The Redfish error message, if the body had one, else the reason phrase.
        message: String,
    },
    /// The BMC's answer could not be understood (not JSON, missing fields, an
    /// unexpected `ipmitool` output). Not retryable.
    #[error("unexpected answer from the BMC: {0}")]
    Protocol(String),
    /// The BMC does not offer the operation (no `ForceOff` among the allowed reset
    /// types; no such system). Not retryable.
    #[error("the BMC does not support this: {0}")]
    Unsupported(String),
    /// The local tool could not be run (`ipmitool` missing) or failed in a way that
    /// says nothing about the BMC. Not retryable.
    #[error("the BMC tool failed: {0}")]
    Tool(String),
}

impl BmcError {
    /// Whether trying the same operation again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            BmcError::Timeout(_) | BmcError::Unreachable(_) => true,
            BmcError::Http { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            BmcError::AuthFailed(_)
            | BmcError::Protocol(_)
            | BmcError::Unsupported(_)
            | BmcError::Tool(_) => false,
        }
    }

    /// The core's kind for this failure.
    pub fn kind(&self) -> FenceErrorKind {
        match self {
            BmcError::Timeout(_) => FenceErrorKind::Timeout,
            BmcError::Unreachable(_) => FenceErrorKind::Unreachable,
            BmcError::AuthFailed(_) => FenceErrorKind::AuthFailed,
            BmcError::Http { .. }
            | BmcError::Protocol(_)
            | BmcError::Unsupported(_)
            | BmcError::Tool(_) => FenceErrorKind::Other,
        }
    }

    /// The core's [`FenceError`], for [`lazarus_core::Event::FenceAttempted`] and
    /// [`lazarus_core::Event::PowerStateRead`].
    pub fn to_fence_error(&self) -> FenceError {
        FenceError {
            kind: self.kind(),
            retryable: self.is_retryable(),
            message: self.to_string(),
        }
    }
}

impl From<BmcError> for FenceError {
    fn from(e: BmcError) -> Self {
        e.to_fence_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> BmcError {
        BmcError::Http {
            status,
            message: "x".to_owned(),
        }
    }

    #[test]
    fn transient_failures_are_retryable_and_configuration_errors_are_not() {
        assert!(BmcError::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(BmcError::Unreachable("refused".into()).is_retryable());
        for s in [500, 502, 503, 504] {
            assert!(http(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 404, 405, 501] {
            assert!(!http(s).is_retryable(), "{s}");
        }
        assert!(!BmcError::AuthFailed("401".into()).is_retryable());
        assert!(!BmcError::Unsupported("no ForceOff".into()).is_retryable());
        assert!(!BmcError::Protocol("not json".into()).is_retryable());
        assert!(!BmcError::Tool("ipmitool missing".into()).is_retryable());
    }

    #[test]
    fn each_failure_maps_onto_the_cores_fence_error() {
        let cases = [
            (
                BmcError::Timeout(Duration::from_secs(3)),
                FenceErrorKind::Timeout,
                true,
            ),
            (
                BmcError::Unreachable("refused".into()),
                FenceErrorKind::Unreachable,
                true,
            ),
            (
                BmcError::AuthFailed("401".into()),
                FenceErrorKind::AuthFailed,
                false,
            ),
            (http(503), FenceErrorKind::Other, true),
            (http(404), FenceErrorKind::Other, false),
            (
                BmcError::Unsupported("x".into()),
                FenceErrorKind::Other,
                false,
            ),
        ];
        for (err, kind, retryable) in cases {
            let f = FenceError::from(err.clone());
            assert_eq!(f.kind, kind, "{err}");
            assert_eq!(f.retryable, retryable, "{err}");
            assert_eq!(f.message, err.to_string());
        }
    }
}
