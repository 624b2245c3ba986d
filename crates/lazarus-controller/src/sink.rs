//! The API's doors into the controller: accepted notifications go to the engine task,
//! and host names are checked against Nova's compute services.

use std::sync::Arc;

use async_trait::async_trait;
use lazarus_api::{ComputeCheckError, ComputeHostValidator, NotificationSink, SinkError};
use lazarus_openstack::Cloud;
use lazarus_store::Notification;
use tokio::sync::mpsc;

use crate::runtime::Input;

/// Hands each accepted notification to the engine task without waiting: a full inbox
/// answers `Full` (the notification is stored as `new` all the same, and picked up at
/// the next start).
#[derive(Debug, Clone)]
pub struct EngineSink {
    tx: mpsc::Sender<Input>,
}

impl EngineSink {
    /// A sink into the engine task's inbox.
    pub fn new(tx: mpsc::Sender<Input>) -> Self {
        Self { tx }
    }
}

#[async_trait]
impl NotificationSink for EngineSink {
    async fn accepted(&self, notification: &Notification) -> Result<(), SinkError> {
        tracing::info!(
            notification = %notification.notification_uuid,
            host = %notification.hostname,
            kind = notification.notification_type.as_str(),
            payload = %notification.payload,
            "notification accepted"
        );
        self.tx
            .try_send(Input::Notification(Box::new(notification.clone())))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SinkError::Full,
                mpsc::error::TrySendError::Closed(_) => SinkError::Closed,
            })
    }
}

/// Accepts a host name only if Nova has a nova-compute service of that name.
#[derive(Debug)]
pub struct NovaComputeHosts<C> {
    cloud: Arc<C>,
}

impl<C> NovaComputeHosts<C> {
    /// A validator asking `cloud`.
    pub fn new(cloud: Arc<C>) -> Self {
        Self { cloud }
    }
}

#[async_trait]
impl<C: Cloud + std::fmt::Debug + 'static> ComputeHostValidator for NovaComputeHosts<C> {
    async fn validate(&self, name: &str) -> Result<(), ComputeCheckError> {
        let services = self
            .cloud
            .list_compute_services()
            .await
            .map_err(|e| ComputeCheckError::Unavailable(e.to_string()))?;
        if services.iter().any(|s| s.host == name) {
            Ok(())
        } else {
            Err(ComputeCheckError::NotFound(name.to_owned()))
        }
    }
}
