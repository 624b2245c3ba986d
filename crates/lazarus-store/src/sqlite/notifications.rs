//! Notifications in SQLite.

use rusqlite::types::Value;
use rusqlite::{params, Connection, Row};

use super::paging::{self, id_cond, Cond, Table};
use super::{db_err, get_json, get_opt_time, get_str, get_time};
use crate::model::notification::DuplicateWindow;
use crate::time::to_db;
use crate::{
    ListQuery, NewNotification, Notification, NotificationFilter, NotificationStatus,
    NotificationType, NotificationUpdate, StoreError, Time,
};

pub(crate) const TABLE: Table = Table {
    name: "notifications",
    kind: "notification",
    uuid_column: "notification_uuid",
    columns: "id, notification_uuid, type, hostname, generated_time, payload, status, \
              source_host_uuid, failover_segment_uuid, message, recovery_workflow_details, \
              created_at, updated_at",
    sort_keys: &[
        ("id", "id"),
        ("notification_uuid", "notification_uuid"),
        ("type", "type"),
        ("generated_time", "generated_time"),
        ("status", "status"),
        ("source_host_uuid", "source_host_uuid"),
        ("failover_segment_uuid", "failover_segment_uuid"),
        ("created_at", "created_at"),
        ("updated_at", "COALESCE(updated_at, '')"),
    ],
};

fn from_row(row: &Row<'_>) -> Result<Notification, StoreError> {
    let kind = get_str(row, 2)?;
    let status = get_str(row, 6)?;
    Ok(Notification {
        id: row.get(0).map_err(db_err)?,
        notification_uuid: get_str(row, 1)?,
        notification_type: NotificationType::parse(&kind).ok_or_else(|| {
            StoreError::Fatal(format!("stored notification type {kind:?} is unknown"))
        })?,
        hostname: get_str(row, 3)?,
        generated_time: get_time(row, 4)?,
        payload: get_json(row, 5)?,
        status: NotificationStatus::parse(&status).ok_or_else(|| {
            StoreError::Fatal(format!("stored notification status {status:?} is unknown"))
        })?,
        source_host_uuid: get_str(row, 7)?,
        failover_segment_uuid: get_str(row, 8)?,
        message: row.get(9).map_err(db_err)?,
        recovery_workflow_details: get_json(row, 10)?,
        created_at: get_time(row, 11)?,
        updated_at: get_opt_time(row, 12)?,
    })
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Notification, StoreError> {
    paging::get_one(conn, &TABLE, vec![id_cond(&TABLE, id)], id, from_row)
}

pub(crate) fn list(
    conn: &Connection,
    filter: &NotificationFilter,
    query: &ListQuery,
) -> Result<Vec<Notification>, StoreError> {
    let mut conds = Vec::new();
    if !filter.statuses.is_empty() {
        let marks = vec!["?"; filter.statuses.len()].join(", ");
        conds.push(Cond::new(
            format!("status IN ({marks})"),
            filter
                .statuses
                .iter()
                .map(|s| Value::Text(s.as_str().to_owned()))
                .collect(),
        ));
    }
    if let Some(v) = &filter.source_host_uuid {
        conds.push(Cond::eq("source_host_uuid", v.clone()));
    }
    if let Some(v) = &filter.failover_segment_uuid {
        conds.push(Cond::eq("failover_segment_uuid", v.clone()));
    }
    if let Some(v) = filter.notification_type {
        conds.push(Cond::eq("type", v.as_str().to_owned()));
    }
    if let Some(t) = filter.generated_since {
        conds.push(Cond::new(
            "generated_time >= ?",
            vec![Value::Text(to_db(t))],
        ));
    }
    paging::list(conn, &TABLE, conds, query, from_row)
}

fn is_duplicate(
    conn: &Connection,
    new: &NewNotification,
    window: DuplicateWindow,
) -> Result<bool, StoreError> {
    let since = chrono::Duration::from_std(window.0)
        .ok()
        .and_then(|w| new.generated_time.checked_sub_signed(w))
        .map_or_else(String::new, to_db);
    let mut stmt = conn
        .prepare_cached(
            "SELECT payload FROM notifications WHERE deleted_at IS NULL AND type = ?1 \
             AND source_host_uuid = ?2 AND status IN ('new', 'running') \
             AND generated_time >= ?3",
        )
        .map_err(db_err)?;
    let payloads = stmt
        .query_map(
            params![new.notification_type.as_str(), new.source_host_uuid, since],
            |r| r.get::<_, String>(0),
        )
        .map_err(db_err)?;
    for p in payloads {
        let p = p.map_err(db_err)?;
        let stored: serde_json::Value = serde_json::from_str(&p)
            .map_err(|e| StoreError::Fatal(format!("stored payload is not JSON: {e}")))?;
        if stored == new.payload {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn create(
    conn: &Connection,
    new: &NewNotification,
    window: DuplicateWindow,
    now: Time,
) -> Result<Notification, StoreError> {
    if is_duplicate(conn, new, window)? {
        return Err(StoreError::Conflict(format!(
            "Notification received from host {} of type {} is duplicate.",
            new.hostname, new.notification_type
        )));
    }
    let taken: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM notifications WHERE notification_uuid = ?1)",
            [&new.notification_uuid],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "Notification with uuid {} already exists.",
            new.notification_uuid
        )));
    }
    conn.execute(
        "INSERT INTO notifications (notification_uuid, type, hostname, generated_time, payload, \
         status, source_host_uuid, failover_segment_uuid, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            new.notification_uuid,
            new.notification_type.as_str(),
            new.hostname,
            to_db(new.generated_time),
            new.payload.to_string(),
            new.status.as_str(),
            new.source_host_uuid,
            new.failover_segment_uuid,
            to_db(now)
        ],
    )
    .map_err(db_err)?;
    get(conn, &new.notification_uuid)
}

pub(crate) fn update(
    conn: &Connection,
    id: &str,
    update: &NotificationUpdate,
    now: Time,
) -> Result<Notification, StoreError> {
    let old = get(conn, id)?;
    let message = match &update.message {
        Some(m) => m.clone(),
        None => old.message.clone(),
    };
    let details = update
        .recovery_workflow_details
        .as_ref()
        .unwrap_or(&old.recovery_workflow_details);
    conn.execute(
        "UPDATE notifications SET status = ?1, message = ?2, recovery_workflow_details = ?3, \
         updated_at = ?4 WHERE id = ?5",
        params![
            update.status.unwrap_or(old.status).as_str(),
            message,
            details.to_string(),
            to_db(now),
            old.id
        ],
    )
    .map_err(db_err)?;
    get(conn, &old.notification_uuid)
}
