//! What the store costs on the paths that matter at the target scale (10,000 hosts).
//!
//! - `append_record`: one write-ahead record, committed to a file with `synchronous = FULL`
//!   (the engine waits for this before each side effect).
//! - `create_notification`: the duplicate check and the insert, in one transaction.
//! - `list_hosts_page`: one 1000-host page out of 10,000, resumed after a marker, sorted by
//!   name (the largest page the Masakari API serves).
//!
//! `cargo bench -p lazarus-store --bench store`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use criterion::{criterion_group, criterion_main, Criterion};
use lazarus_store::model::notification::DuplicateWindow;
use lazarus_store::{
    HostFilter, ListQuery, NewHost, NewNotification, NewSegment, NotificationStatus,
    NotificationType, RecoveryMethod, SortDir, SqliteStore, Store, Time,
};
use serde_json::json;

fn t(secs: i64) -> Time {
    chrono::Utc.timestamp_opt(1_767_225_600 + secs, 0).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("bench.sqlite")).unwrap());

    let seg = rt
        .block_on(store.create_segment(
            NewSegment {
                uuid: "5e600000-0000-4000-8000-000000000001".into(),
                name: "rack".into(),
                description: None,
                recovery_method: RecoveryMethod::Auto,
                service_type: "COMPUTE".into(),
                enabled: true,
            },
            t(0),
        ))
        .unwrap();
    rt.block_on(async {
        for i in 0..10_000u32 {
            store
                .create_host(
                    &seg.uuid,
                    NewHost {
                        uuid: format!("40500000-0000-4000-8000-{i:012}"),
                        name: format!("compute-{i:05}"),
                        host_type: "COMPUTE".into(),
                        control_attributes: "SSH".into(),
                        reserved: i % 10 == 0,
                        on_maintenance: false,
                    },
                    t(i64::from(i)),
                )
                .await
                .unwrap();
        }
    });
    let host = rt
        .block_on(store.get_host_by_name("compute-00042"))
        .unwrap();

    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));

    let mut seq = 0u64;
    let body = json!({"v": 1, "phase": "evacuating", "instance": "i-1", "to": "compute-2"});
    group.bench_function("append_record", |b| {
        b.iter(|| {
            seq += 1;
            rt.block_on(store.append_record("bench-recovery", seq, "recovery.evacuating", &body))
                .unwrap();
        })
    });

    let mut n = 0u32;
    group.bench_function("create_notification", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(store.create_notification(
                NewNotification {
                    notification_uuid: format!("a0700000-0000-4000-8000-{n:012}"),
                    notification_type: NotificationType::Process,
                    hostname: host.name.clone(),
                    generated_time: t(i64::from(n) * 1000),
                    payload: json!({"process_name": "nova-compute", "event": "STOPPED", "n": n.to_string()}),
                    status: NotificationStatus::New,
                    source_host_uuid: host.uuid.clone(),
                    failover_segment_uuid: seg.uuid.clone(),
                },
                DuplicateWindow(Duration::from_secs(180)),
                t(i64::from(n)),
            ))
            .unwrap();
        })
    });

    let query = ListQuery {
        limit: Some(1000),
        marker: Some("40500000-0000-4000-8000-000000004000".into()),
        sort: vec![("name".into(), SortDir::Asc)],
    };
    let filter = HostFilter {
        failover_segment_id: Some(seg.uuid.clone()),
        ..HostFilter::default()
    };
    group.bench_function("list_hosts_page_1000_of_10000", |b| {
        b.iter(|| {
            let page = rt.block_on(store.list_hosts(&filter, &query)).unwrap();
            assert_eq!(page.len(), 1000);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
