//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use lazarus_store::Store;

use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::compute::ComputeHostValidator;
use crate::sink::NotificationSink;

/// Tunables of the Masakari API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Largest page a list returns (Masakari's `osapi_max_limit`, default 1000).
    pub max_limit: u32,
    /// Masakari's `duplicate_notification_detection_interval` (default 180 s).
    pub duplicate_window: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_limit: 1000,
            duplicate_window: Duration::from_secs(180),
        }
    }
}

/// The API's dependencies, each behind a trait so the controller (or a test) chooses them.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Where accepted notifications go.
    pub sink: Arc<dyn NotificationSink>,
    /// Whether a host name is a nova-compute.
    pub compute: Arc<dyn ComputeHostValidator>,
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
    /// Wall-clock time for record timestamps.
    pub clock: Arc<dyn Clock>,
    /// Tunables.
    pub config: ApiConfig,
}
