//! Where accepted notifications go: the controller's door, kept out of the API crate.

use async_trait::async_trait;
use lazarus_store::Notification;
use thiserror::Error;
use tokio::sync::mpsc;

/// Receives each notification the API accepted, after it was stored with status `new`.
///
/// The controller runtime implements this to start recoveries. The notification is
/// already durable when `accepted` is called, so a sink that fails (or a controller that
/// crashes before acting) loses nothing: the controller must also pick up `new`
/// notifications from the store when it starts.
#[async_trait]
pub trait NotificationSink: Send + Sync + std::fmt::Debug {
    /// Hands over one accepted notification. Must not block for long: the API waits.
    async fn accepted(&self, notification: &Notification) -> Result<(), SinkError>;
}

/// Why a sink did not take a notification. The API still answers 202 (the notification
/// is stored) and logs the error.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SinkError {
    /// The receiver is gone (the controller stopped).
    #[error("the notification receiver is closed")]
    Closed,
    /// The receiver is not keeping up.
    #[error("the notification queue is full")]
    Full,
}

/// A sink that drops everything (an API without a controller, e.g. compatibility tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopSink;

#[async_trait]
impl NotificationSink for NoopSink {
    async fn accepted(&self, _notification: &Notification) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A sink that forwards into a bounded channel the controller reads.
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: mpsc::Sender<Notification>,
}

impl ChannelSink {
    /// A sink and the receiver of its channel, which holds up to `capacity` notifications.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Notification>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx }, rx)
    }
}

#[async_trait]
impl NotificationSink for ChannelSink {
    async fn accepted(&self, notification: &Notification) -> Result<(), SinkError> {
        self.tx.try_send(notification.clone()).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SinkError::Full,
            mpsc::error::TrySendError::Closed(_) => SinkError::Closed,
        })
    }
}
