//! The embedded default store: SQLite in one file.
//!
//! Why SQLite: one controller needs durable, transactional state and nothing else to run;
//! SQLite gives atomic multi-row writes (a duplicate check and an insert in one step), SQL
//! filters and ordering for Masakari's list queries, and a single file an operator can
//! back up. `rusqlite` is built with the `bundled` feature, which compiles SQLite into the
//! binary, so a fresh machine needs no system library and every install runs the same
//! SQLite version.
//!
//! Settings: WAL journal (readers do not block the writer, and a crash never corrupts the
//! file), `synchronous = FULL` (a committed write-ahead record survives power loss before
//! the engine acts on it; the write rate is a few per recovery step, so the fsync cost is
//! irrelevant), foreign keys on, a 5 s busy timeout. One connection behind a mutex, used
//! from tokio's blocking pool: writes are serialized by SQLite anyway, and one connection
//! makes in-memory databases (tests) behave exactly like files.

mod hosts;
mod notifications;
mod paging;
mod recovery;
pub mod schema;
mod segments;
mod vmoves;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, Row, TransactionBehavior};

use crate::model::notification::DuplicateWindow;
use crate::time::{from_db, opt_from_db};
use crate::{
    Host, HostFilter, HostUpdate, ListQuery, NewHost, NewNotification, NewSegment, NewVMove,
    Notification, NotificationFilter, NotificationUpdate, RecoveryLog, Segment, SegmentFilter,
    SegmentUpdate, Store, StoreError, Time, VMove, VMoveFilter, VMoveUpdate,
};

/// The SQLite store. Cheap to clone (the connection is shared).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and migrates it to the
    /// current schema. Blocking: call it before serving, or from a blocking task.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path.as_ref()).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot open store {}: {e}",
                path.as_ref().display()
            ))
        })?;
        Self::init(conn)
    }

    /// A private in-memory database, gone when the store is dropped (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(db_err)?;
        Self::init(conn)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err)?;
        // journal_mode answers with the mode in effect ("memory" for in-memory databases).
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db_err)?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(db_err)?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let conn = self.lock()?;
        schema::version(&conn)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Fatal("store connection poisoned by an earlier panic".into()))
    }

    /// Runs `f` on the connection in tokio's blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let guard = conn.lock().map_err(|_| {
                StoreError::Fatal("store connection poisoned by an earlier panic".into())
            })?;
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Fatal(format!("store task failed: {e}")))?
    }

    /// Runs `f` in one immediate (write-locked) transaction, committed if `f` succeeds and
    /// rolled back otherwise.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| {
                StoreError::Fatal("store connection poisoned by an earlier panic".into())
            })?;
            let tx = guard
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let out = f(&tx)?;
            tx.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Fatal(format!("store task failed: {e}")))?
    }
}

/// Maps a SQLite error to what the caller should do about it.
pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory => StoreError::Unavailable(e.to_string()),
            ErrorCode::ConstraintViolation => StoreError::Conflict(e.to_string()),
            _ => StoreError::Fatal(e.to_string()),
        },
        _ => StoreError::Fatal(e.to_string()),
    }
}

pub(crate) fn get_str(row: &Row<'_>, i: usize) -> Result<String, StoreError> {
    row.get(i).map_err(db_err)
}

pub(crate) fn get_bool(row: &Row<'_>, i: usize) -> Result<bool, StoreError> {
    row.get(i).map_err(db_err)
}

pub(crate) fn get_time(row: &Row<'_>, i: usize) -> Result<Time, StoreError> {
    from_db(&get_str(row, i)?)
}

pub(crate) fn get_opt_time(row: &Row<'_>, i: usize) -> Result<Option<Time>, StoreError> {
    opt_from_db(row.get(i).map_err(db_err)?)
}

pub(crate) fn get_json(row: &Row<'_>, i: usize) -> Result<serde_json::Value, StoreError> {
    let s = get_str(row, i)?;
    serde_json::from_str(&s)
        .map_err(|e| StoreError::Fatal(format!("stored JSON is malformed: {e}")))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_segment(&self, new: NewSegment, now: Time) -> Result<Segment, StoreError> {
        self.write(move |c| segments::create(c, &new, now)).await
    }

    async fn get_segment(&self, id: &str) -> Result<Segment, StoreError> {
        let id = id.to_owned();
        self.read(move |c| segments::get(c, &id)).await
    }

    async fn list_segments(
        &self,
        filter: &SegmentFilter,
        query: &ListQuery,
    ) -> Result<Vec<Segment>, StoreError> {
        let (filter, query) = (filter.clone(), query.clone());
        self.read(move |c| segments::list(c, &filter, &query)).await
    }

    async fn update_segment(
        &self,
        id: &str,
        update: SegmentUpdate,
        now: Time,
    ) -> Result<Segment, StoreError> {
        let id = id.to_owned();
        self.write(move |c| segments::update(c, &id, &update, now))
            .await
    }

    async fn delete_segment(&self, id: &str, now: Time) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |c| segments::delete(c, &id, now)).await
    }

    async fn create_host(
        &self,
        segment_id: &str,
        new: NewHost,
        now: Time,
    ) -> Result<Host, StoreError> {
        let segment_id = segment_id.to_owned();
        self.write(move |c| hosts::create(c, &segment_id, &new, now))
            .await
    }

    async fn get_host(&self, segment_id: &str, host_id: &str) -> Result<Host, StoreError> {
        let (s, h) = (segment_id.to_owned(), host_id.to_owned());
        self.read(move |c| hosts::get(c, &s, &h)).await
    }

    async fn get_host_by_name(&self, name: &str) -> Result<Host, StoreError> {
        let name = name.to_owned();
        self.read(move |c| hosts::get_by_name(c, &name)).await
    }

    async fn list_hosts(
        &self,
        filter: &HostFilter,
        query: &ListQuery,
    ) -> Result<Vec<Host>, StoreError> {
        let (filter, query) = (filter.clone(), query.clone());
        self.read(move |c| hosts::list(c, &filter, &query)).await
    }

    async fn update_host(
        &self,
        segment_id: &str,
        host_id: &str,
        update: HostUpdate,
        now: Time,
    ) -> Result<Host, StoreError> {
        let (s, h) = (segment_id.to_owned(), host_id.to_owned());
        self.write(move |c| hosts::update(c, &s, &h, &update, now))
            .await
    }

    async fn delete_host(
        &self,
        segment_id: &str,
        host_id: &str,
        now: Time,
    ) -> Result<(), StoreError> {
        let (s, h) = (segment_id.to_owned(), host_id.to_owned());
        self.write(move |c| hosts::delete(c, &s, &h, now)).await
    }

    async fn create_notification(
        &self,
        new: NewNotification,
        window: DuplicateWindow,
        now: Time,
    ) -> Result<Notification, StoreError> {
        self.write(move |c| notifications::create(c, &new, window, now))
            .await
    }

    async fn get_notification(&self, id: &str) -> Result<Notification, StoreError> {
        let id = id.to_owned();
        self.read(move |c| notifications::get(c, &id)).await
    }

    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
        query: &ListQuery,
    ) -> Result<Vec<Notification>, StoreError> {
        let (filter, query) = (filter.clone(), query.clone());
        self.read(move |c| notifications::list(c, &filter, &query))
            .await
    }

    async fn update_notification(
        &self,
        id: &str,
        update: NotificationUpdate,
        now: Time,
    ) -> Result<Notification, StoreError> {
        let id = id.to_owned();
        self.write(move |c| notifications::update(c, &id, &update, now))
            .await
    }

    async fn create_vmove(&self, new: NewVMove, now: Time) -> Result<VMove, StoreError> {
        self.write(move |c| vmoves::create(c, &new, now)).await
    }

    async fn get_vmove(&self, notification_id: &str, vmove_id: &str) -> Result<VMove, StoreError> {
        let (n, v) = (notification_id.to_owned(), vmove_id.to_owned());
        self.read(move |c| vmoves::get(c, &n, &v)).await
    }

    async fn list_vmoves(
        &self,
        filter: &VMoveFilter,
        query: &ListQuery,
    ) -> Result<Vec<VMove>, StoreError> {
        let (filter, query) = (filter.clone(), query.clone());
        self.read(move |c| vmoves::list(c, &filter, &query)).await
    }

    async fn update_vmove(
        &self,
        vmove_id: &str,
        update: VMoveUpdate,
        now: Time,
    ) -> Result<VMove, StoreError> {
        let id = vmove_id.to_owned();
        self.write(move |c| vmoves::update(c, &id, &update, now))
            .await
    }

    async fn append_record(
        &self,
        recovery_id: &str,
        seq: u64,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let (id, kind, body) = (recovery_id.to_owned(), kind.to_owned(), body.clone());
        self.write(move |c| recovery::append(c, &id, seq, &kind, &body))
            .await
    }

    async fn records_of_unfinished_recoveries(&self) -> Result<Vec<RecoveryLog>, StoreError> {
        self.read(recovery::unfinished).await
    }

    async fn recovery_log(&self, recovery_id: &str) -> Result<RecoveryLog, StoreError> {
        let id = recovery_id.to_owned();
        self.read(move |c| recovery::log(c, &id)).await
    }

    async fn mark_finished(&self, recovery_id: &str) -> Result<(), StoreError> {
        let id = recovery_id.to_owned();
        self.write(move |c| recovery::mark_finished(c, &id)).await
    }
}

#[cfg(test)]
mod tests;
