//! The recovery log in SQLite.

use rusqlite::{params, Connection, OptionalExtension};

use super::db_err;
use crate::{RecoveryLog, RecoveryRecord, StoreError};

fn is_finished(conn: &Connection, recovery_id: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM recoveries_finished WHERE recovery_id = ?1)",
        [recovery_id],
        |r| r.get(0),
    )
    .map_err(db_err)
}

fn seq_to_db(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq)
        .map_err(|_| StoreError::Invalid(format!("record sequence number {seq} is too large")))
}

pub(crate) fn append(
    conn: &Connection,
    recovery_id: &str,
    seq: u64,
    kind: &str,
    body: &serde_json::Value,
) -> Result<(), StoreError> {
    let seq_db = seq_to_db(seq)?;
    let existing: Option<(String, String)> = conn
        .query_row(
            "SELECT kind, body FROM recovery_records WHERE recovery_id = ?1 AND seq = ?2",
            params![recovery_id, seq_db],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    if let Some((old_kind, old_body)) = existing {
        let old_body: serde_json::Value = serde_json::from_str(&old_body)
            .map_err(|e| StoreError::Fatal(format!("stored record is not JSON: {e}")))?;
        if old_kind == kind && &old_body == body {
            return Ok(());
        }
        return Err(StoreError::Conflict(format!(
            "recovery {recovery_id} already has a different record {seq} ({old_kind})"
        )));
    }
    if is_finished(conn, recovery_id)? {
        return Err(StoreError::Conflict(format!(
            "recovery {recovery_id} is finished; record {seq} ({kind}) refused"
        )));
    }
    conn.execute(
        "INSERT INTO recovery_records (recovery_id, seq, kind, body) VALUES (?1, ?2, ?3, ?4)",
        params![recovery_id, seq_db, kind, body.to_string()],
    )
    .map_err(db_err)?;
    Ok(())
}

fn read_logs(conn: &Connection, only: Option<&str>) -> Result<Vec<RecoveryLog>, StoreError> {
    let sql = "SELECT r.recovery_id, r.seq, r.kind, r.body, \
               EXISTS(SELECT 1 FROM recoveries_finished f WHERE f.recovery_id = r.recovery_id) \
               FROM recovery_records r \
               WHERE (?1 IS NULL AND r.recovery_id NOT IN \
                        (SELECT recovery_id FROM recoveries_finished)) \
                  OR r.recovery_id = ?1 \
               ORDER BY r.recovery_id, r.seq";
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let rows = stmt
        .query_map([only], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })
        .map_err(db_err)?;
    let mut logs: Vec<RecoveryLog> = Vec::new();
    for row in rows {
        let (id, seq, kind, body, finished) = row.map_err(db_err)?;
        let body = serde_json::from_str(&body)
            .map_err(|e| StoreError::Fatal(format!("stored record is not JSON: {e}")))?;
        let seq = u64::try_from(seq)
            .map_err(|_| StoreError::Fatal(format!("stored sequence number {seq} is negative")))?;
        let record = RecoveryRecord { seq, kind, body };
        match logs.last_mut() {
            Some(log) if log.recovery_id == id => log.records.push(record),
            Some(_) | None => logs.push(RecoveryLog {
                recovery_id: id,
                finished,
                records: vec![record],
            }),
        }
    }
    Ok(logs)
}

pub(crate) fn unfinished(conn: &Connection) -> Result<Vec<RecoveryLog>, StoreError> {
    read_logs(conn, None)
}

pub(crate) fn log(conn: &Connection, recovery_id: &str) -> Result<RecoveryLog, StoreError> {
    read_logs(conn, Some(recovery_id))?
        .pop()
        .ok_or_else(|| StoreError::not_found("recovery", recovery_id))
}

pub(crate) fn mark_finished(conn: &Connection, recovery_id: &str) -> Result<(), StoreError> {
    let known: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM recovery_records WHERE recovery_id = ?1)",
            [recovery_id],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if !known {
        return Err(StoreError::not_found("recovery", recovery_id));
    }
    conn.execute(
        "INSERT OR IGNORE INTO recoveries_finished (recovery_id) VALUES (?1)",
        [recovery_id],
    )
    .map_err(db_err)?;
    Ok(())
}
