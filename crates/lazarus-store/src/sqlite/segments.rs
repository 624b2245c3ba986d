//! Failover segments in SQLite.

use rusqlite::{params, Connection, Row};

use super::paging::{self, id_cond, Cond, Table};
use super::{db_err, get_bool, get_opt_time, get_str, get_time};
use crate::time::to_db;
use crate::{
    ListQuery, NewSegment, RecoveryMethod, Segment, SegmentFilter, SegmentUpdate, StoreError, Time,
};

pub(crate) const TABLE: Table = Table {
    name: "segments",
    kind: "segment",
    uuid_column: "uuid",
    columns: "id, uuid, name, description, recovery_method, service_type, enabled, created_at, \
              updated_at",
    sort_keys: &[
        ("id", "id"),
        ("uuid", "uuid"),
        ("name", "name"),
        ("description", "COALESCE(description, '')"),
        ("recovery_method", "recovery_method"),
        ("service_type", "service_type"),
        ("enabled", "enabled"),
        ("created_at", "created_at"),
        ("updated_at", "COALESCE(updated_at, '')"),
    ],
};

fn from_row(row: &Row<'_>) -> Result<Segment, StoreError> {
    let method: String = get_str(row, 4)?;
    Ok(Segment {
        id: row.get(0).map_err(db_err)?,
        uuid: get_str(row, 1)?,
        name: get_str(row, 2)?,
        description: row.get(3).map_err(db_err)?,
        recovery_method: RecoveryMethod::parse(&method).ok_or_else(|| {
            StoreError::Fatal(format!("stored recovery_method {method:?} is unknown"))
        })?,
        service_type: get_str(row, 5)?,
        enabled: get_bool(row, 6)?,
        created_at: get_time(row, 7)?,
        updated_at: get_opt_time(row, 8)?,
    })
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Segment, StoreError> {
    paging::get_one(conn, &TABLE, vec![id_cond(&TABLE, id)], id, from_row)
}

pub(crate) fn list(
    conn: &Connection,
    filter: &SegmentFilter,
    query: &ListQuery,
) -> Result<Vec<Segment>, StoreError> {
    let mut conds = Vec::new();
    if let Some(m) = filter.recovery_method {
        conds.push(Cond::eq("recovery_method", m.as_str().to_owned()));
    }
    if let Some(s) = &filter.service_type {
        conds.push(Cond::eq("service_type", s.clone()));
    }
    if let Some(e) = filter.enabled {
        conds.push(Cond::eq("enabled", i64::from(e)));
    }
    paging::list(conn, &TABLE, conds, query, from_row)
}

fn name_taken(
    conn: &Connection,
    name: &str,
    except_uuid: Option<&str>,
) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM segments WHERE deleted_at IS NULL AND name = ?1 \
         AND uuid IS NOT ?2)",
        params![name, except_uuid],
        |r| r.get(0),
    )
    .map_err(db_err)
}

fn exists_uuid(conn: &Connection, uuid: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM segments WHERE uuid = ?1)",
        [uuid],
        |r| r.get(0),
    )
    .map_err(db_err)
}

/// Whether a notification from one of the segment's live hosts is new, running or error.
pub(crate) fn under_recovery(conn: &Connection, segment_uuid: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM notifications WHERE deleted_at IS NULL \
         AND status IN ('new', 'running', 'error') \
         AND source_host_uuid IN \
           (SELECT uuid FROM hosts WHERE failover_segment_id = ?1 AND deleted_at IS NULL))",
        [segment_uuid],
        |r| r.get(0),
    )
    .map_err(db_err)
}

pub(crate) fn create(
    conn: &Connection,
    new: &NewSegment,
    now: Time,
) -> Result<Segment, StoreError> {
    if name_taken(conn, &new.name, None)? {
        return Err(StoreError::Conflict(format!(
            "Failover segment with name {} already exists.",
            new.name
        )));
    }
    if exists_uuid(conn, &new.uuid)? {
        return Err(StoreError::Conflict(format!(
            "Failover segment with uuid {} already exists.",
            new.uuid
        )));
    }
    conn.execute(
        "INSERT INTO segments (uuid, name, description, recovery_method, service_type, enabled, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            new.uuid,
            new.name,
            new.description,
            new.recovery_method.as_str(),
            new.service_type,
            new.enabled,
            to_db(now)
        ],
    )
    .map_err(db_err)?;
    get(conn, &new.uuid)
}

pub(crate) fn update(
    conn: &Connection,
    id: &str,
    update: &SegmentUpdate,
    now: Time,
) -> Result<Segment, StoreError> {
    let old = get(conn, id)?;
    if under_recovery(conn, &old.uuid)? {
        return Err(StoreError::Conflict(format!(
            "Failover segment {} can't be updated as it is in-use to process notifications.",
            old.uuid
        )));
    }
    if let Some(name) = &update.name {
        if name_taken(conn, name, Some(&old.uuid))? {
            return Err(StoreError::Conflict(format!(
                "Failover segment with name {name} already exists."
            )));
        }
    }
    let description = match &update.description {
        Some(d) => d.clone(),
        None => old.description.clone(),
    };
    conn.execute(
        "UPDATE segments SET name = ?1, description = ?2, recovery_method = ?3, \
         service_type = ?4, enabled = ?5, updated_at = ?6 WHERE id = ?7",
        params![
            update.name.as_ref().unwrap_or(&old.name),
            description,
            update
                .recovery_method
                .unwrap_or(old.recovery_method)
                .as_str(),
            update.service_type.as_ref().unwrap_or(&old.service_type),
            update.enabled.unwrap_or(old.enabled),
            to_db(now),
            old.id
        ],
    )
    .map_err(db_err)?;
    get(conn, &old.uuid)
}

pub(crate) fn delete(conn: &Connection, id: &str, now: Time) -> Result<(), StoreError> {
    let old = get(conn, id)?;
    if under_recovery(conn, &old.uuid)? {
        return Err(StoreError::Conflict(format!(
            "Failover segment ({}) can't be deleted as it is in-use to process notifications.",
            old.uuid
        )));
    }
    let at = to_db(now);
    conn.execute(
        "UPDATE segments SET deleted_at = ?1 WHERE id = ?2",
        params![at, old.id],
    )
    .map_err(db_err)?;
    conn.execute(
        "UPDATE hosts SET deleted_at = ?1 WHERE failover_segment_id = ?2 AND deleted_at IS NULL",
        params![at, old.uuid],
    )
    .map_err(db_err)?;
    Ok(())
}
