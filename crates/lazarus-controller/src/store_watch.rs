//! The store as the API sees it: every segment or host write that succeeds is told to
//! the engine task before the API answers, so that what an operator just registered is
//! protected by the time the answer arrives, not at the next poll.
//!
//! [`WatchedStore`] wraps the store handed to the API. After a successful
//! `create`/`update`/`delete` of a segment or a host (which covers a segment's `enabled`
//! and a host's `on_maintenance` and `reserved`) it bumps the [`StoreGeneration`] and
//! queues [`Input::StoreChanged`] in the engine task's inbox, waiting for room if the
//! inbox is full. Because the inbox is one FIFO channel, anything the caller sends
//! after the answer (a notification, an operator's action, a heartbeat's events) is
//! handled after the engine re-read the store.
//!
//! The engine re-reads only when the generation moved past the last store reading it
//! applied, so a burst of writes costs one reading (see `runtime.rs`). The generation
//! also lets the engine tell a poll's store reading that is older than the last one it
//! applied (a slow poll that read the store before a write) and keep the newer one
//! ([`crate::inventory::StoreView`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use lazarus_store::{
    DuplicateWindow, Host, HostFilter, HostUpdate, ListQuery, NewHost, NewNotification, NewSegment,
    NewVMove, Notification, NotificationFilter, NotificationUpdate, RecoveryLog, Segment,
    SegmentFilter, SegmentUpdate, Store, StoreError, Time, VMove, VMoveFilter, VMoveUpdate,
};
use tokio::sync::mpsc;

use crate::runtime::Input;

/// How many segment or host writes went through the API's store: a reading of the
/// store taken after seeing generation `g` reflects at least the first `g` writes.
#[derive(Debug, Clone, Default)]
pub struct StoreGeneration(Arc<AtomicU64>);

impl StoreGeneration {
    /// The generation now; read it *before* reading the store.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Counts one write that has completed.
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The API's store: delegates every call, and tells the engine task about each segment
/// or host write that succeeded (see the module documentation).
#[derive(Debug)]
pub struct WatchedStore {
    inner: Arc<dyn Store>,
    generation: StoreGeneration,
    engine: mpsc::Sender<Input>,
}

impl WatchedStore {
    /// Wraps `inner`, counting writes in `generation` and telling `engine`.
    pub fn new(
        inner: Arc<dyn Store>,
        generation: StoreGeneration,
        engine: mpsc::Sender<Input>,
    ) -> Self {
        Self {
            inner,
            generation,
            engine,
        }
    }

    /// After a successful write: count it, then queue the re-read ahead of whatever the
    /// caller does next. A stopped engine needs no telling.
    async fn changed<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_ok() {
            self.generation.bump();
            let _ = self.engine.send(Input::StoreChanged).await;
        }
        result
    }
}

#[async_trait]
impl Store for WatchedStore {
    async fn create_segment(&self, new: NewSegment, now: Time) -> Result<Segment, StoreError> {
        self.changed(self.inner.create_segment(new, now).await)
            .await
    }

    async fn get_segment(&self, id: &str) -> Result<Segment, StoreError> {
        self.inner.get_segment(id).await
    }

    async fn list_segments(
        &self,
        filter: &SegmentFilter,
        query: &ListQuery,
    ) -> Result<Vec<Segment>, StoreError> {
        self.inner.list_segments(filter, query).await
    }

    async fn update_segment(
        &self,
        id: &str,
        update: SegmentUpdate,
        now: Time,
    ) -> Result<Segment, StoreError> {
        self.changed(self.inner.update_segment(id, update, now).await)
            .await
    }

    async fn delete_segment(&self, id: &str, now: Time) -> Result<(), StoreError> {
        self.changed(self.inner.delete_segment(id, now).await).await
    }

    async fn create_host(
        &self,
        segment_id: &str,
        new: NewHost,
        now: Time,
    ) -> Result<Host, StoreError> {
        self.changed(self.inner.create_host(segment_id, new, now).await)
            .await
    }

    async fn get_host(&self, segment_id: &str, host_id: &str) -> Result<Host, StoreError> {
        self.inner.get_host(segment_id, host_id).await
    }

    async fn get_host_by_name(&self, name: &str) -> Result<Host, StoreError> {
        self.inner.get_host_by_name(name).await
    }

    async fn list_hosts(
        &self,
        filter: &HostFilter,
        query: &ListQuery,
    ) -> Result<Vec<Host>, StoreError> {
        self.inner.list_hosts(filter, query).await
    }

    async fn update_host(
        &self,
        segment_id: &str,
        host_id: &str,
        update: HostUpdate,
        now: Time,
    ) -> Result<Host, StoreError> {
        self.changed(
            self.inner
                .update_host(segment_id, host_id, update, now)
                .await,
        )
        .await
    }

    async fn delete_host(
        &self,
        segment_id: &str,
        host_id: &str,
        now: Time,
    ) -> Result<(), StoreError> {
        self.changed(self.inner.delete_host(segment_id, host_id, now).await)
            .await
    }

    async fn create_notification(
        &self,
        new: NewNotification,
        window: DuplicateWindow,
        now: Time,
    ) -> Result<Notification, StoreError> {
        self.inner.create_notification(new, window, now).await
    }

    async fn get_notification(&self, id: &str) -> Result<Notification, StoreError> {
        self.inner.get_notification(id).await
    }

    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
        query: &ListQuery,
    ) -> Result<Vec<Notification>, StoreError> {
        self.inner.list_notifications(filter, query).await
    }

    async fn update_notification(
        &self,
        id: &str,
        update: NotificationUpdate,
        now: Time,
    ) -> Result<Notification, StoreError> {
        self.inner.update_notification(id, update, now).await
    }

    async fn create_vmove(&self, new: NewVMove, now: Time) -> Result<VMove, StoreError> {
        self.inner.create_vmove(new, now).await
    }

    async fn get_vmove(&self, notification_id: &str, vmove_id: &str) -> Result<VMove, StoreError> {
        self.inner.get_vmove(notification_id, vmove_id).await
    }

    async fn list_vmoves(
        &self,
        filter: &VMoveFilter,
        query: &ListQuery,
    ) -> Result<Vec<VMove>, StoreError> {
        self.inner.list_vmoves(filter, query).await
    }

    async fn update_vmove(
        &self,
        vmove_id: &str,
        update: VMoveUpdate,
        now: Time,
    ) -> Result<VMove, StoreError> {
        self.inner.update_vmove(vmove_id, update, now).await
    }

    async fn append_record(
        &self,
        recovery_id: &str,
        seq: u64,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.inner.append_record(recovery_id, seq, kind, body).await
    }

    async fn records_of_unfinished_recoveries(&self) -> Result<Vec<RecoveryLog>, StoreError> {
        self.inner.records_of_unfinished_recoveries().await
    }

    async fn recovery_log(&self, recovery_id: &str) -> Result<RecoveryLog, StoreError> {
        self.inner.recovery_log(recovery_id).await
    }

    async fn mark_finished(&self, recovery_id: &str) -> Result<(), StoreError> {
        self.inner.mark_finished(recovery_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Time {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    fn segment(name: &str) -> NewSegment {
        NewSegment {
            uuid: format!("{name}-uuid"),
            name: name.into(),
            description: None,
            recovery_method: lazarus_store::RecoveryMethod::Auto,
            service_type: "COMPUTE".into(),
            enabled: true,
        }
    }

    #[tokio::test]
    async fn a_write_that_succeeds_is_counted_and_told_and_a_refused_one_is_not() {
        let inner: Arc<dyn Store> = Arc::new(lazarus_store::SqliteStore::open_in_memory().unwrap());
        let (tx, mut rx) = mpsc::channel(8);
        let generation = StoreGeneration::default();
        let store = WatchedStore::new(inner, generation.clone(), tx);
        store.create_segment(segment("s"), now()).await.unwrap();
        assert_eq!(generation.current(), 1);
        assert!(matches!(rx.try_recv(), Ok(Input::StoreChanged)));
        // Same name: refused, the store is unchanged, nothing to tell.
        assert!(store.create_segment(segment("s"), now()).await.is_err());
        assert_eq!(generation.current(), 1);
        assert!(rx.try_recv().is_err());
        // Reads are not writes.
        store
            .list_segments(&SegmentFilter::default(), &ListQuery::all())
            .await
            .unwrap();
        assert!(rx.try_recv().is_err());
    }
}
