//! The SQLite schema and its forward migrations.
//!
//! `schema_version` holds one row: the number of migrations applied. Migration `n` (1-based)
//! is `MIGRATIONS[n - 1]`; each runs in its own transaction together with the version bump,
//! so a crash mid-upgrade leaves the previous version intact. Migrations are only ever
//! appended, never edited: a released migration is history. A file whose version is newer
//! than this program knows is refused (`Fatal`) rather than misread.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::db_err;
use crate::StoreError;

/// Migration 1: everything the first release stores.
const MIGRATION_1: &str = "
CREATE TABLE segments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    description     TEXT,
    recovery_method TEXT NOT NULL,
    service_type    TEXT NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT,
    deleted_at      TEXT
);
CREATE UNIQUE INDEX segments_live_name ON segments(name) WHERE deleted_at IS NULL;
CREATE INDEX segments_service_type ON segments(service_type);

CREATE TABLE hosts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    type                TEXT NOT NULL,
    control_attributes  TEXT NOT NULL,
    reserved            INTEGER NOT NULL DEFAULT 0,
    on_maintenance      INTEGER NOT NULL DEFAULT 0,
    failover_segment_id TEXT NOT NULL REFERENCES segments(uuid),
    created_at          TEXT NOT NULL,
    updated_at          TEXT,
    deleted_at          TEXT
);
CREATE UNIQUE INDEX hosts_live_name ON hosts(name) WHERE deleted_at IS NULL;
CREATE INDEX hosts_segment ON hosts(failover_segment_id);

CREATE TABLE notifications (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_uuid         TEXT NOT NULL UNIQUE,
    type                      TEXT NOT NULL,
    hostname                  TEXT NOT NULL,
    generated_time            TEXT NOT NULL,
    payload                   TEXT NOT NULL,
    status                    TEXT NOT NULL,
    source_host_uuid          TEXT NOT NULL,
    failover_segment_uuid     TEXT NOT NULL,
    message                   TEXT,
    recovery_workflow_details TEXT NOT NULL DEFAULT '[]',
    created_at                TEXT NOT NULL,
    updated_at                TEXT,
    deleted_at                TEXT
);
CREATE INDEX notifications_source ON notifications(source_host_uuid, type, generated_time);
CREATE INDEX notifications_status ON notifications(status);

CREATE TABLE vmoves (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid              TEXT NOT NULL UNIQUE,
    notification_uuid TEXT NOT NULL REFERENCES notifications(notification_uuid),
    instance_uuid     TEXT NOT NULL,
    instance_name     TEXT NOT NULL,
    source_host       TEXT,
    dest_host         TEXT,
    start_time        TEXT,
    end_time          TEXT,
    type              TEXT,
    status            TEXT,
    message           TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT,
    deleted_at        TEXT
);
CREATE INDEX vmoves_notification ON vmoves(notification_uuid);

CREATE TABLE recovery_records (
    recovery_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (recovery_id, seq)
) WITHOUT ROWID;

CREATE TABLE recoveries_finished (
    recovery_id TEXT PRIMARY KEY
) WITHOUT ROWID;
";

/// Every migration, in order. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[MIGRATION_1];

/// The schema version this program writes.
pub const CURRENT_VERSION: u32 = 1;

/// Brings the database up to [`CURRENT_VERSION`], applying each missing migration in its
/// own transaction. Returns the version found before migrating.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
        .map_err(db_err)?;
    let found = version(conn)?;
    let known = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
    if found > known {
        return Err(StoreError::Fatal(format!(
            "the database has schema version {found}, newer than this lazarus knows ({known}); \
             run a newer lazarus or restore a backup"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let target = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        tx.execute_batch(sql).map_err(db_err)?;
        tx.execute("DELETE FROM schema_version", [])
            .map_err(db_err)?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [target])
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        tracing::info!(version = target, "store schema migrated");
    }
    Ok(found)
}

/// The schema version recorded in the database (0 for a fresh file).
pub(crate) fn version(conn: &Connection) -> Result<u32, StoreError> {
    let v: Option<i64> = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    match v {
        None => Ok(0),
        Some(v) => u32::try_from(v)
            .map_err(|_| StoreError::Fatal(format!("schema version {v} is not a version"))),
    }
}
