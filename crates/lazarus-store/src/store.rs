//! The `Store` trait: the one door between the controller and its durable state.

use async_trait::async_trait;

use crate::model::notification::DuplicateWindow;
use crate::{
    Host, HostFilter, HostUpdate, ListQuery, NewHost, NewNotification, NewSegment, NewVMove,
    Notification, NotificationFilter, NotificationUpdate, RecoveryLog, Segment, SegmentFilter,
    SegmentUpdate, StoreError, Time, VMove, VMoveFilter, VMoveUpdate,
};

/// Durable state of lazarus.
///
/// The trait is `async` (through `async_trait`, so it can live in an `Arc<dyn Store>`):
/// the embedded SQLite store runs its blocking calls on tokio's blocking pool, and a
/// replicated store (etcd) is network I/O by nature. Every write is atomic: it happens
/// whole or not at all, and an error means the store is unchanged.
///
/// Ids passed as `&str` accept the record's UUID or its numeric id. Deleted records are
/// invisible (segments and hosts are soft-deleted, as in Masakari, so that notifications
/// keep resolving their history). Callers choose UUIDs and pass `now`; the store reads
/// no clock and draws no random numbers.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    // ---- segments ----

    /// Creates a segment. `Conflict` if a live segment has the same name or the uuid is
    /// taken.
    async fn create_segment(&self, new: NewSegment, now: Time) -> Result<Segment, StoreError>;

    /// The live segment with this id.
    async fn get_segment(&self, id: &str) -> Result<Segment, StoreError>;

    /// Live segments matching `filter`, paged and sorted by `query`.
    async fn list_segments(
        &self,
        filter: &SegmentFilter,
        query: &ListQuery,
    ) -> Result<Vec<Segment>, StoreError>;

    /// Updates a segment. `Conflict` if the new name is taken, or if a notification of one
    /// of its hosts is still new, running or in error (the segment is under recovery).
    async fn update_segment(
        &self,
        id: &str,
        update: SegmentUpdate,
        now: Time,
    ) -> Result<Segment, StoreError>;

    /// Deletes a segment and its hosts. `Conflict` while it is under recovery.
    async fn delete_segment(&self, id: &str, now: Time) -> Result<(), StoreError>;

    // ---- hosts ----

    /// Adds a host to a segment. `NotFound` if the segment is not live; `Conflict` if a
    /// live host anywhere has the same name.
    async fn create_host(
        &self,
        segment_id: &str,
        new: NewHost,
        now: Time,
    ) -> Result<Host, StoreError>;

    /// The live host `host_id` of segment `segment_id`.
    async fn get_host(&self, segment_id: &str, host_id: &str) -> Result<Host, StoreError>;

    /// The live host of this name, in whichever segment.
    async fn get_host_by_name(&self, name: &str) -> Result<Host, StoreError>;

    /// Live hosts matching `filter`, paged and sorted by `query`.
    async fn list_hosts(
        &self,
        filter: &HostFilter,
        query: &ListQuery,
    ) -> Result<Vec<Host>, StoreError>;

    /// Updates a host. `Conflict` if the new name is taken or its segment is under
    /// recovery.
    async fn update_host(
        &self,
        segment_id: &str,
        host_id: &str,
        update: HostUpdate,
        now: Time,
    ) -> Result<Host, StoreError>;

    /// Deletes a host. `Conflict` while its segment is under recovery.
    async fn delete_host(
        &self,
        segment_id: &str,
        host_id: &str,
        now: Time,
    ) -> Result<(), StoreError>;

    // ---- notifications ----

    /// Records a notification, unless it duplicates a stored one under `window` (then
    /// `Conflict`; see [`DuplicateWindow`]). The check and the insert are one atomic step,
    /// so two identical notifications racing each other cannot both be accepted.
    async fn create_notification(
        &self,
        new: NewNotification,
        window: DuplicateWindow,
        now: Time,
    ) -> Result<Notification, StoreError>;

    /// The notification with this id.
    async fn get_notification(&self, id: &str) -> Result<Notification, StoreError>;

    /// Notifications matching `filter`, paged and sorted by `query`.
    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
        query: &ListQuery,
    ) -> Result<Vec<Notification>, StoreError>;

    /// Updates a notification's processing state.
    async fn update_notification(
        &self,
        id: &str,
        update: NotificationUpdate,
        now: Time,
    ) -> Result<Notification, StoreError>;

    // ---- vmoves ----

    /// Records a VM move. `NotFound` if the notification does not exist; `Conflict` if
    /// the uuid is taken.
    async fn create_vmove(&self, new: NewVMove, now: Time) -> Result<VMove, StoreError>;

    /// The move `vmove_id` of notification `notification_id`.
    async fn get_vmove(&self, notification_id: &str, vmove_id: &str) -> Result<VMove, StoreError>;

    /// Moves matching `filter`, paged and sorted by `query`.
    async fn list_vmoves(
        &self,
        filter: &VMoveFilter,
        query: &ListQuery,
    ) -> Result<Vec<VMove>, StoreError>;

    /// Updates a move.
    async fn update_vmove(
        &self,
        vmove_id: &str,
        update: VMoveUpdate,
        now: Time,
    ) -> Result<VMove, StoreError>;

    // ---- recovery log (write-ahead) ----

    /// Appends record `seq` to recovery `recovery_id`, durably, before the engine acts on
    /// it. Idempotent: writing the same `(seq, kind, body)` again succeeds and changes
    /// nothing (a retried write after a lost reply). `Conflict` if `seq` already holds a
    /// different record, or the recovery was marked finished.
    async fn append_record(
        &self,
        recovery_id: &str,
        seq: u64,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Every recovery with at least one record and not marked finished, each with its
    /// records in sequence order; recoveries in order of their id. This is what the
    /// controller replays on start-up.
    async fn records_of_unfinished_recoveries(&self) -> Result<Vec<RecoveryLog>, StoreError>;

    /// One recovery's log, finished or not. `NotFound` if it has no record.
    async fn recovery_log(&self, recovery_id: &str) -> Result<RecoveryLog, StoreError>;

    /// Marks a recovery finished; its records stay readable. Idempotent. `NotFound` if it
    /// has no record.
    async fn mark_finished(&self, recovery_id: &str) -> Result<(), StoreError>;
}
