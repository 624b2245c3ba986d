//! The SQLite store: the conformance suite on both backings, plus what only a file has.

use std::sync::Arc;

use super::*;
use crate::conformance::{self, t};
use crate::{NewSegment, RecoveryMethod};

#[tokio::test]
async fn the_in_memory_store_conforms() {
    conformance::run_all(|| Arc::new(SqliteStore::open_in_memory().unwrap()) as Arc<dyn Store>)
        .await;
}

#[tokio::test]
async fn the_file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicU32::new(0);
    conformance::run_all(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.path().join(format!("store-{n}.sqlite"));
        Arc::new(SqliteStore::open(path).unwrap()) as Arc<dyn Store>
    })
    .await;
}

fn segment() -> NewSegment {
    NewSegment {
        uuid: "5e600000-0000-4000-8000-000000000001".into(),
        name: "rack-a".into(),
        description: None,
        recovery_method: RecoveryMethod::Auto,
        service_type: "COMPUTE".into(),
        enabled: true,
    }
}

#[tokio::test]
async fn what_is_written_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lazarus.sqlite");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.create_segment(segment(), t(1)).await.unwrap();
        store
            .append_record("r-1", 1, "started", &serde_json::json!({"v": 1}))
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.get_segment(&segment().uuid).await.unwrap().name,
        "rack-a"
    );
    assert_eq!(
        store
            .records_of_unfinished_recoveries()
            .await
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_fresh_file_is_migrated_to_the_current_version_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lazarus.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::CURRENT_VERSION);
    let conn = store.lock().unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn reopening_a_current_file_applies_no_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lazarus.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    let mut conn = Connection::open(&path).unwrap();
    assert_eq!(schema::migrate(&mut conn).unwrap(), schema::CURRENT_VERSION);
}

#[test]
fn a_file_from_a_newer_lazarus_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lazarus.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
    }
    match SqliteStore::open(&path) {
        Err(StoreError::Fatal(msg)) => assert!(msg.contains("99"), "{msg}"),
        other => panic!("expected Fatal, got {other:?}"),
    }
}

#[test]
fn only_unavailability_is_retryable() {
    assert!(StoreError::Unavailable("busy".into()).is_retryable());
    assert!(!StoreError::Fatal("corrupt".into()).is_retryable());
    assert!(!StoreError::Conflict("dup".into()).is_retryable());
    assert!(!StoreError::not_found("segment", "x").is_retryable());
}
