//! VM moves in SQLite.

use rusqlite::{params, Connection, Row};

use super::paging::{self, id_cond, Cond, Table};
use super::{db_err, get_opt_time, get_str, get_time, notifications};
use crate::time::{opt_to_db, to_db};
use crate::{
    ListQuery, NewVMove, StoreError, Time, VMove, VMoveFilter, VMoveStatus, VMoveType, VMoveUpdate,
};

pub(crate) const TABLE: Table = Table {
    name: "vmoves",
    kind: "vmove",
    uuid_column: "uuid",
    columns: "id, uuid, notification_uuid, instance_uuid, instance_name, source_host, dest_host, \
              start_time, end_time, type, status, message, created_at, updated_at",
    sort_keys: &[
        ("id", "id"),
        ("uuid", "uuid"),
        ("instance_uuid", "instance_uuid"),
        ("instance_name", "instance_name"),
        ("source_host", "COALESCE(source_host, '')"),
        ("dest_host", "COALESCE(dest_host, '')"),
        ("start_time", "COALESCE(start_time, '')"),
        ("end_time", "COALESCE(end_time, '')"),
        ("type", "COALESCE(type, '')"),
        ("status", "COALESCE(status, '')"),
        ("created_at", "created_at"),
        ("updated_at", "COALESCE(updated_at, '')"),
    ],
};

fn from_row(row: &Row<'_>) -> Result<VMove, StoreError> {
    let kind: Option<String> = row.get(9).map_err(db_err)?;
    let status: Option<String> = row.get(10).map_err(db_err)?;
    Ok(VMove {
        id: row.get(0).map_err(db_err)?,
        uuid: get_str(row, 1)?,
        notification_uuid: get_str(row, 2)?,
        instance_uuid: get_str(row, 3)?,
        instance_name: get_str(row, 4)?,
        source_host: row.get(5).map_err(db_err)?,
        dest_host: row.get(6).map_err(db_err)?,
        start_time: get_opt_time(row, 7)?,
        end_time: get_opt_time(row, 8)?,
        vmove_type: kind
            .map(|k| {
                VMoveType::parse(&k)
                    .ok_or_else(|| StoreError::Fatal(format!("stored vmove type {k:?} is unknown")))
            })
            .transpose()?,
        status: status
            .map(|s| {
                VMoveStatus::parse(&s).ok_or_else(|| {
                    StoreError::Fatal(format!("stored vmove status {s:?} is unknown"))
                })
            })
            .transpose()?,
        message: row.get(11).map_err(db_err)?,
        created_at: get_time(row, 12)?,
        updated_at: get_opt_time(row, 13)?,
    })
}

fn get_by_id(conn: &Connection, vmove_id: &str) -> Result<VMove, StoreError> {
    paging::get_one(
        conn,
        &TABLE,
        vec![id_cond(&TABLE, vmove_id)],
        vmove_id,
        from_row,
    )
}

pub(crate) fn get(
    conn: &Connection,
    notification_id: &str,
    vmove_id: &str,
) -> Result<VMove, StoreError> {
    let n = notifications::get(conn, notification_id)?;
    paging::get_one(
        conn,
        &TABLE,
        vec![
            Cond::eq("notification_uuid", n.notification_uuid),
            id_cond(&TABLE, vmove_id),
        ],
        vmove_id,
        from_row,
    )
}

pub(crate) fn list(
    conn: &Connection,
    filter: &VMoveFilter,
    query: &ListQuery,
) -> Result<Vec<VMove>, StoreError> {
    let mut conds = Vec::new();
    if let Some(v) = &filter.notification_uuid {
        conds.push(Cond::eq("notification_uuid", v.clone()));
    }
    if let Some(v) = filter.status {
        conds.push(Cond::eq("status", v.as_str().to_owned()));
    }
    if let Some(v) = filter.vmove_type {
        conds.push(Cond::eq("type", v.as_str().to_owned()));
    }
    paging::list(conn, &TABLE, conds, query, from_row)
}

pub(crate) fn create(conn: &Connection, new: &NewVMove, now: Time) -> Result<VMove, StoreError> {
    let n = notifications::get(conn, &new.notification_uuid)?;
    let taken: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM vmoves WHERE uuid = ?1)",
            [&new.uuid],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "VM move with uuid {} already exists.",
            new.uuid
        )));
    }
    conn.execute(
        "INSERT INTO vmoves (uuid, notification_uuid, instance_uuid, instance_name, source_host, \
         type, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            new.uuid,
            n.notification_uuid,
            new.instance_uuid,
            new.instance_name,
            new.source_host,
            new.vmove_type.map(VMoveType::as_str),
            new.status.map(VMoveStatus::as_str),
            to_db(now)
        ],
    )
    .map_err(db_err)?;
    get_by_id(conn, &new.uuid)
}

pub(crate) fn update(
    conn: &Connection,
    vmove_id: &str,
    update: &VMoveUpdate,
    now: Time,
) -> Result<VMove, StoreError> {
    let old = get_by_id(conn, vmove_id)?;
    conn.execute(
        "UPDATE vmoves SET dest_host = ?1, start_time = ?2, end_time = ?3, status = ?4, \
         message = ?5, updated_at = ?6 WHERE id = ?7",
        params![
            update.dest_host.as_ref().or(old.dest_host.as_ref()),
            opt_to_db(update.start_time.or(old.start_time)),
            opt_to_db(update.end_time.or(old.end_time)),
            update.status.or(old.status).map(VMoveStatus::as_str),
            update.message.as_ref().or(old.message.as_ref()),
            to_db(now),
            old.id
        ],
    )
    .map_err(db_err)?;
    get_by_id(conn, &old.uuid)
}
