//! Hosts in SQLite.

use rusqlite::{params, Connection, Row};

use super::paging::{self, id_cond, Cond, Table};
use super::{db_err, get_bool, get_opt_time, get_str, get_time, segments};
use crate::time::to_db;
use crate::{Host, HostFilter, HostUpdate, ListQuery, NewHost, StoreError, Time};

pub(crate) const TABLE: Table = Table {
    name: "hosts",
    kind: "host",
    uuid_column: "uuid",
    columns: "id, uuid, name, type, control_attributes, reserved, on_maintenance, \
              failover_segment_id, created_at, updated_at",
    sort_keys: &[
        ("id", "id"),
        ("uuid", "uuid"),
        ("name", "name"),
        ("type", "type"),
        ("control_attributes", "control_attributes"),
        ("reserved", "reserved"),
        ("on_maintenance", "on_maintenance"),
        ("failover_segment_id", "failover_segment_id"),
        ("created_at", "created_at"),
        ("updated_at", "COALESCE(updated_at, '')"),
    ],
};

fn from_row(row: &Row<'_>) -> Result<Host, StoreError> {
    Ok(Host {
        id: row.get(0).map_err(db_err)?,
        uuid: get_str(row, 1)?,
        name: get_str(row, 2)?,
        host_type: get_str(row, 3)?,
        control_attributes: get_str(row, 4)?,
        reserved: get_bool(row, 5)?,
        on_maintenance: get_bool(row, 6)?,
        failover_segment_id: get_str(row, 7)?,
        created_at: get_time(row, 8)?,
        updated_at: get_opt_time(row, 9)?,
    })
}

pub(crate) fn get(conn: &Connection, segment_id: &str, host_id: &str) -> Result<Host, StoreError> {
    let segment = segments::get(conn, segment_id)?;
    paging::get_one(
        conn,
        &TABLE,
        vec![
            Cond::eq("failover_segment_id", segment.uuid),
            id_cond(&TABLE, host_id),
        ],
        host_id,
        from_row,
    )
}

pub(crate) fn get_by_name(conn: &Connection, name: &str) -> Result<Host, StoreError> {
    paging::get_one(
        conn,
        &TABLE,
        vec![Cond::eq("name", name.to_owned())],
        name,
        from_row,
    )
}

pub(crate) fn list(
    conn: &Connection,
    filter: &HostFilter,
    query: &ListQuery,
) -> Result<Vec<Host>, StoreError> {
    let mut conds = Vec::new();
    if let Some(s) = &filter.failover_segment_id {
        conds.push(Cond::eq("failover_segment_id", s.clone()));
    }
    if let Some(v) = &filter.name {
        conds.push(Cond::eq("name", v.clone()));
    }
    if let Some(v) = &filter.host_type {
        conds.push(Cond::eq("type", v.clone()));
    }
    if let Some(v) = &filter.control_attributes {
        conds.push(Cond::eq("control_attributes", v.clone()));
    }
    if let Some(v) = filter.on_maintenance {
        conds.push(Cond::eq("on_maintenance", i64::from(v)));
    }
    if let Some(v) = filter.reserved {
        conds.push(Cond::eq("reserved", i64::from(v)));
    }
    paging::list(conn, &TABLE, conds, query, from_row)
}

fn name_taken(
    conn: &Connection,
    name: &str,
    except_uuid: Option<&str>,
) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM hosts WHERE deleted_at IS NULL AND name = ?1 \
         AND uuid IS NOT ?2)",
        params![name, except_uuid],
        |r| r.get(0),
    )
    .map_err(db_err)
}

pub(crate) fn create(
    conn: &Connection,
    segment_id: &str,
    new: &NewHost,
    now: Time,
) -> Result<Host, StoreError> {
    let segment = segments::get(conn, segment_id)?;
    if name_taken(conn, &new.name, None)? {
        return Err(StoreError::Conflict(format!(
            "Host with name {} already exists.",
            new.name
        )));
    }
    let uuid_taken: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM hosts WHERE uuid = ?1)",
            [&new.uuid],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if uuid_taken {
        return Err(StoreError::Conflict(format!(
            "Host with uuid {} already exists.",
            new.uuid
        )));
    }
    conn.execute(
        "INSERT INTO hosts (uuid, name, type, control_attributes, reserved, on_maintenance, \
         failover_segment_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            new.uuid,
            new.name,
            new.host_type,
            new.control_attributes,
            new.reserved,
            new.on_maintenance,
            segment.uuid,
            to_db(now)
        ],
    )
    .map_err(db_err)?;
    get(conn, &segment.uuid, &new.uuid)
}

pub(crate) fn update(
    conn: &Connection,
    segment_id: &str,
    host_id: &str,
    update: &HostUpdate,
    now: Time,
) -> Result<Host, StoreError> {
    let old = get(conn, segment_id, host_id)?;
    if segments::under_recovery(conn, &old.failover_segment_id)? {
        return Err(StoreError::Conflict(format!(
            "Host {} can't be updated as it is in-use to process notifications.",
            old.uuid
        )));
    }
    if let Some(name) = &update.name {
        if name_taken(conn, name, Some(&old.uuid))? {
            return Err(StoreError::Conflict(format!(
                "Host with name {name} already exists."
            )));
        }
    }
    conn.execute(
        "UPDATE hosts SET name = ?1, type = ?2, control_attributes = ?3, reserved = ?4, \
         on_maintenance = ?5, updated_at = ?6 WHERE id = ?7",
        params![
            update.name.as_ref().unwrap_or(&old.name),
            update.host_type.as_ref().unwrap_or(&old.host_type),
            update
                .control_attributes
                .as_ref()
                .unwrap_or(&old.control_attributes),
            update.reserved.unwrap_or(old.reserved),
            update.on_maintenance.unwrap_or(old.on_maintenance),
            to_db(now),
            old.id
        ],
    )
    .map_err(db_err)?;
    get(conn, &old.failover_segment_id, &old.uuid)
}

pub(crate) fn delete(
    conn: &Connection,
    segment_id: &str,
    host_id: &str,
    now: Time,
) -> Result<(), StoreError> {
    let old = get(conn, segment_id, host_id)?;
    if segments::under_recovery(conn, &old.failover_segment_id)? {
        return Err(StoreError::Conflict(format!(
            "Host {} can't be deleted as it is in-use to process notifications.",
            old.uuid
        )));
    }
    conn.execute(
        "UPDATE hosts SET deleted_at = ?1 WHERE id = ?2",
        params![to_db(now), old.id],
    )
    .map_err(db_err)?;
    Ok(())
}
