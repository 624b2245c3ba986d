//! The behaviour every [`Store`] must have, written once as generic checks.
//!
//! A new store (etcd, say) proves itself by running the same suite:
//!
//! ```ignore
//! #[tokio::test]
//! async fn etcd_store_conforms() {
//!     lazarus_store::conformance::run_all(|| Arc::new(EtcdStore::fresh_prefix())).await;
//! }
//! ```
//!
//! Each case gets a fresh, empty store from the factory. A failing case panics with its
//! name (printed to stderr before it runs). Compiled for this crate's tests and, for other
//! crates, behind the `conformance` feature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use serde_json::json;

use crate::model::notification::DuplicateWindow;
use crate::{
    HostFilter, HostUpdate, ListQuery, NewHost, NewNotification, NewSegment, NewVMove,
    NotificationFilter, NotificationStatus, NotificationType, NotificationUpdate, RecoveryMethod,
    SegmentFilter, SegmentUpdate, SortDir, Store, StoreError, Time, VMoveFilter, VMoveStatus,
    VMoveType, VMoveUpdate,
};

type Case = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),+ $(,)?) => {
        /// Every case, by name.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($name), |s| Box::pin($name(s)))),+];
    };
}

cases!(
    a_created_segment_reads_back_by_uuid_and_by_id,
    segment_names_are_unique_among_live_segments,
    a_segment_update_changes_only_the_given_fields,
    renaming_a_segment_to_a_taken_name_conflicts,
    unknown_ids_are_not_found,
    deleting_a_segment_deletes_its_hosts,
    a_segment_under_recovery_cannot_be_changed_or_deleted,
    host_names_are_unique_across_segments,
    a_host_is_found_only_under_its_own_segment,
    host_lists_filter_on_every_field,
    segment_lists_filter_on_every_field,
    lists_default_to_newest_first,
    paging_with_a_marker_visits_every_row_once,
    unknown_sort_keys_and_markers_are_invalid,
    a_zero_limit_returns_nothing,
    a_notification_reads_back_and_updates,
    an_identical_notification_within_the_window_is_a_duplicate,
    notification_lists_filter_on_status_type_host_and_time,
    vmoves_belong_to_their_notification,
    the_recovery_log_replays_unfinished_recoveries_in_order,
    appending_a_record_is_idempotent_but_never_rewrites,
    a_finished_recovery_takes_no_more_records,
    uuids_are_unique,
    records_are_ordered_by_number_not_by_text,
    of_two_identical_notifications_racing_exactly_one_is_accepted,
);

/// Runs every case, each against a fresh store from `make`.
pub async fn run_all<F>(make: F)
where
    F: Fn() -> Arc<dyn Store>,
{
    for (name, case) in CASES {
        eprintln!("store conformance: {name}");
        case(make()).await;
    }
}

/// A time `secs` seconds after 2026-01-01T00:00:00Z.
pub fn t(secs: i64) -> Time {
    chrono::Utc.timestamp_opt(1_767_225_600 + secs, 0).unwrap()
}

fn uuid(prefix: &str, n: u32) -> String {
    format!("{prefix:0>8}-0000-4000-8000-{n:012}")
}

fn new_segment(n: u32, name: &str) -> NewSegment {
    NewSegment {
        uuid: uuid("5e6", n),
        name: name.to_owned(),
        description: None,
        recovery_method: RecoveryMethod::Auto,
        service_type: "COMPUTE".to_owned(),
        enabled: true,
    }
}

fn new_host(n: u32, name: &str) -> NewHost {
    NewHost {
        uuid: uuid("405", n),
        name: name.to_owned(),
        host_type: "COMPUTE".to_owned(),
        control_attributes: "SSH".to_owned(),
        reserved: false,
        on_maintenance: false,
    }
}

fn host_down(n: u32, host: &crate::Host, generated: Time) -> NewNotification {
    NewNotification {
        notification_uuid: uuid("a07", n),
        notification_type: NotificationType::ComputeHost,
        hostname: host.name.clone(),
        generated_time: generated,
        payload: json!({"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}),
        status: NotificationStatus::New,
        source_host_uuid: host.uuid.clone(),
        failover_segment_uuid: host.failover_segment_id.clone(),
    }
}

const WINDOW: DuplicateWindow = DuplicateWindow(Duration::from_secs(180));

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn a_created_segment_reads_back_by_uuid_and_by_id(s: Arc<dyn Store>) {
    let mut new = new_segment(1, "rack-a");
    new.description = Some("first rack".into());
    new.recovery_method = RecoveryMethod::RhPriority;
    new.enabled = false;
    let created = s.create_segment(new.clone(), t(10)).await.unwrap();
    assert_eq!(created.uuid, new.uuid);
    assert_eq!(created.name, "rack-a");
    assert_eq!(created.description.as_deref(), Some("first rack"));
    assert_eq!(created.recovery_method, RecoveryMethod::RhPriority);
    assert_eq!(created.service_type, "COMPUTE");
    assert!(!created.enabled);
    assert_eq!(created.created_at, t(10));
    assert_eq!(created.updated_at, None);
    assert_eq!(s.get_segment(&new.uuid).await.unwrap(), created);
    assert_eq!(
        s.get_segment(&created.id.to_string()).await.unwrap(),
        created
    );
}

async fn segment_names_are_unique_among_live_segments(s: Arc<dyn Store>) {
    let first = s
        .create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    assert_conflict(s.create_segment(new_segment(2, "rack-a"), t(1)).await);
    s.delete_segment(&first.uuid, t(2)).await.unwrap();
    let again = s
        .create_segment(new_segment(3, "rack-a"), t(3))
        .await
        .unwrap();
    assert_eq!(again.name, "rack-a");
    assert_ne!(again.id, first.id);
}

async fn a_segment_update_changes_only_the_given_fields(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    let updated = s
        .update_segment(
            &seg.uuid,
            SegmentUpdate {
                description: Some(Some("now described".into())),
                enabled: Some(false),
                ..SegmentUpdate::default()
            },
            t(5),
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "rack-a");
    assert_eq!(updated.recovery_method, RecoveryMethod::Auto);
    assert_eq!(updated.description.as_deref(), Some("now described"));
    assert!(!updated.enabled);
    assert_eq!(updated.created_at, t(0));
    assert_eq!(updated.updated_at, Some(t(5)));
    let cleared = s
        .update_segment(
            &seg.uuid,
            SegmentUpdate {
                description: Some(None),
                name: Some("rack-b".into()),
                recovery_method: Some(RecoveryMethod::ReservedHost),
                service_type: Some("BAREMETAL".into()),
                enabled: None,
            },
            t(6),
        )
        .await
        .unwrap();
    assert_eq!(cleared.description, None);
    assert_eq!(cleared.name, "rack-b");
    assert_eq!(cleared.recovery_method, RecoveryMethod::ReservedHost);
    assert_eq!(cleared.service_type, "BAREMETAL");
    assert!(!cleared.enabled);
    assert_eq!(s.get_segment(&seg.uuid).await.unwrap(), cleared);
}

async fn renaming_a_segment_to_a_taken_name_conflicts(s: Arc<dyn Store>) {
    s.create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    let b = s
        .create_segment(new_segment(2, "rack-b"), t(1))
        .await
        .unwrap();
    let rename = SegmentUpdate {
        name: Some("rack-a".into()),
        ..SegmentUpdate::default()
    };
    assert_conflict(s.update_segment(&b.uuid, rename, t(2)).await);
    // Renaming to its own name is not a conflict.
    let same = SegmentUpdate {
        name: Some("rack-b".into()),
        ..SegmentUpdate::default()
    };
    s.update_segment(&b.uuid, same, t(3)).await.unwrap();
    assert_eq!(s.get_segment(&b.uuid).await.unwrap().name, "rack-b");
}

async fn unknown_ids_are_not_found(s: Arc<dyn Store>) {
    let missing = uuid("dead", 1);
    assert_not_found(s.get_segment(&missing).await);
    assert_not_found(s.get_segment("4242").await);
    assert_not_found(
        s.update_segment(&missing, SegmentUpdate::default(), t(0))
            .await,
    );
    assert_not_found(s.delete_segment(&missing, t(0)).await);
    assert_not_found(s.create_host(&missing, new_host(1, "c1"), t(0)).await);
    let seg = s
        .create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    assert_not_found(s.get_host(&seg.uuid, &missing).await);
    assert_not_found(s.get_host_by_name("nowhere").await);
    assert_not_found(
        s.update_host(&seg.uuid, &missing, HostUpdate::default(), t(0))
            .await,
    );
    assert_not_found(s.delete_host(&seg.uuid, &missing, t(0)).await);
    assert_not_found(s.get_notification(&missing).await);
    assert_not_found(
        s.update_notification(&missing, NotificationUpdate::default(), t(0))
            .await,
    );
    assert_not_found(s.get_vmove(&missing, &missing).await);
    assert_not_found(s.update_vmove(&missing, VMoveUpdate::default(), t(0)).await);
    assert_not_found(s.recovery_log("r-none").await);
    assert_not_found(s.mark_finished("r-none").await);
}

async fn deleting_a_segment_deletes_its_hosts(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    let host = s
        .create_host(&seg.uuid, new_host(1, "c1"), t(1))
        .await
        .unwrap();
    s.delete_segment(&seg.uuid, t(2)).await.unwrap();
    assert_not_found(s.get_segment(&seg.uuid).await);
    assert_not_found(s.get_host(&seg.uuid, &host.uuid).await);
    assert_not_found(s.get_host_by_name("c1").await);
    let hosts = s
        .list_hosts(&HostFilter::default(), &ListQuery::all())
        .await
        .unwrap();
    assert!(hosts.is_empty(), "deleted hosts are listed: {hosts:?}");
    // The name is free again, in another segment.
    let other = s
        .create_segment(new_segment(2, "rack-b"), t(3))
        .await
        .unwrap();
    s.create_host(&other.uuid, new_host(2, "c1"), t(4))
        .await
        .unwrap();
}

async fn a_segment_under_recovery_cannot_be_changed_or_deleted(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    let host = s
        .create_host(&seg.uuid, new_host(1, "c1"), t(1))
        .await
        .unwrap();
    let n = s
        .create_notification(host_down(1, &host, t(10)), WINDOW, t(10))
        .await
        .unwrap();
    let rename = || SegmentUpdate {
        name: Some("rack-z".into()),
        ..SegmentUpdate::default()
    };
    let maintenance = || HostUpdate {
        on_maintenance: Some(true),
        ..HostUpdate::default()
    };
    for status in [
        NotificationStatus::New,
        NotificationStatus::Running,
        NotificationStatus::Error,
    ] {
        let update = NotificationUpdate {
            status: Some(status),
            ..NotificationUpdate::default()
        };
        s.update_notification(&n.notification_uuid, update, t(11))
            .await
            .unwrap();
        assert_conflict(s.update_segment(&seg.uuid, rename(), t(12)).await);
        assert_conflict(s.delete_segment(&seg.uuid, t(12)).await);
        assert_conflict(
            s.update_host(&seg.uuid, &host.uuid, maintenance(), t(12))
                .await,
        );
        assert_conflict(s.delete_host(&seg.uuid, &host.uuid, t(12)).await);
    }
    let done = NotificationUpdate {
        status: Some(NotificationStatus::Finished),
        ..NotificationUpdate::default()
    };
    s.update_notification(&n.notification_uuid, done, t(20))
        .await
        .unwrap();
    s.update_host(&seg.uuid, &host.uuid, maintenance(), t(21))
        .await
        .unwrap();
    s.update_segment(&seg.uuid, rename(), t(21)).await.unwrap();
    s.delete_host(&seg.uuid, &host.uuid, t(22)).await.unwrap();
    s.delete_segment(&seg.uuid, t(23)).await.unwrap();
}

async fn host_names_are_unique_across_segments(s: Arc<dyn Store>) {
    let a = s
        .create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    let b = s
        .create_segment(new_segment(2, "rack-b"), t(0))
        .await
        .unwrap();
    let c1 = s
        .create_host(&a.uuid, new_host(1, "c1"), t(1))
        .await
        .unwrap();
    assert_conflict(s.create_host(&b.uuid, new_host(2, "c1"), t(2)).await);
    let c2 = s
        .create_host(&b.uuid, new_host(3, "c2"), t(3))
        .await
        .unwrap();
    let rename = HostUpdate {
        name: Some("c1".into()),
        ..HostUpdate::default()
    };
    assert_conflict(s.update_host(&b.uuid, &c2.uuid, rename, t(4)).await);
    assert_eq!(s.get_host_by_name("c1").await.unwrap(), c1);
}

async fn a_host_is_found_only_under_its_own_segment(s: Arc<dyn Store>) {
    let a = s
        .create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    let b = s
        .create_segment(new_segment(2, "rack-b"), t(0))
        .await
        .unwrap();
    let mut new = new_host(1, "c1");
    new.reserved = true;
    let host = s.create_host(&a.uuid, new, t(1)).await.unwrap();
    assert_eq!(host.failover_segment_id, a.uuid);
    assert!(host.reserved);
    assert!(!host.on_maintenance);
    assert_eq!(host.host_type, "COMPUTE");
    assert_eq!(host.control_attributes, "SSH");
    assert_eq!(s.get_host(&a.uuid, &host.uuid).await.unwrap(), host);
    assert_eq!(
        s.get_host(&a.id.to_string(), &host.id.to_string())
            .await
            .unwrap(),
        host
    );
    assert_not_found(s.get_host(&b.uuid, &host.uuid).await);
    assert_not_found(s.delete_host(&b.uuid, &host.uuid, t(2)).await);
    let updated = s
        .update_host(
            &a.uuid,
            &host.uuid,
            HostUpdate {
                control_attributes: Some("IPMI".into()),
                reserved: Some(false),
                ..HostUpdate::default()
            },
            t(3),
        )
        .await
        .unwrap();
    assert_eq!(updated.control_attributes, "IPMI");
    assert!(!updated.reserved);
    assert_eq!(updated.name, "c1");
    assert_eq!(updated.updated_at, Some(t(3)));
}

async fn host_lists_filter_on_every_field(s: Arc<dyn Store>) {
    let a = s
        .create_segment(new_segment(1, "rack-a"), t(0))
        .await
        .unwrap();
    let b = s
        .create_segment(new_segment(2, "rack-b"), t(0))
        .await
        .unwrap();
    let mut h1 = new_host(1, "c1");
    h1.reserved = true;
    let mut h2 = new_host(2, "c2");
    h2.on_maintenance = true;
    h2.host_type = "BAREMETAL".into();
    let mut h3 = new_host(3, "c3");
    h3.control_attributes = "IPMI".into();
    s.create_host(&a.uuid, h1, t(1)).await.unwrap();
    s.create_host(&a.uuid, h2, t(2)).await.unwrap();
    s.create_host(&b.uuid, h3, t(3)).await.unwrap();
    let names = |hosts: Vec<crate::Host>| {
        let mut n: Vec<String> = hosts.into_iter().map(|h| h.name).collect();
        n.sort();
        n
    };
    let q = ListQuery::all();
    let by = |f: HostFilter| {
        let s = Arc::clone(&s);
        let q = q.clone();
        async move { names(s.list_hosts(&f, &q).await.unwrap()) }
    };
    assert_eq!(by(HostFilter::default()).await, ["c1", "c2", "c3"]);
    let seg_a = HostFilter {
        failover_segment_id: Some(a.uuid.clone()),
        ..HostFilter::default()
    };
    assert_eq!(by(seg_a.clone()).await, ["c1", "c2"]);
    assert_eq!(
        by(HostFilter {
            reserved: Some(true),
            ..seg_a.clone()
        })
        .await,
        ["c1"]
    );
    assert_eq!(
        by(HostFilter {
            reserved: Some(false),
            ..seg_a.clone()
        })
        .await,
        ["c2"]
    );
    assert_eq!(
        by(HostFilter {
            on_maintenance: Some(true),
            ..HostFilter::default()
        })
        .await,
        ["c2"]
    );
    assert_eq!(
        by(HostFilter {
            host_type: Some("COMPUTE".into()),
            ..HostFilter::default()
        })
        .await,
        ["c1", "c3"]
    );
    assert_eq!(
        by(HostFilter {
            control_attributes: Some("IPMI".into()),
            ..HostFilter::default()
        })
        .await,
        ["c3"]
    );
    assert_eq!(
        by(HostFilter {
            name: Some("c2".into()),
            ..HostFilter::default()
        })
        .await,
        ["c2"]
    );
}

async fn segment_lists_filter_on_every_field(s: Arc<dyn Store>) {
    let mut a = new_segment(1, "a");
    a.recovery_method = RecoveryMethod::ReservedHost;
    let mut b = new_segment(2, "b");
    b.enabled = false;
    let mut c = new_segment(3, "c");
    c.service_type = "OTHER".into();
    for (i, seg) in [a, b, c].into_iter().enumerate() {
        s.create_segment(seg, t(i as i64)).await.unwrap();
    }
    let q = ListQuery::all().sorted_by("name", SortDir::Asc);
    let names = |f: SegmentFilter| {
        let s = Arc::clone(&s);
        let q = q.clone();
        async move {
            s.list_segments(&f, &q)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names(SegmentFilter::default()).await, ["a", "b", "c"]);
    assert_eq!(
        names(SegmentFilter {
            recovery_method: Some(RecoveryMethod::Auto),
            ..SegmentFilter::default()
        })
        .await,
        ["b", "c"]
    );
    assert_eq!(
        names(SegmentFilter {
            enabled: Some(false),
            ..SegmentFilter::default()
        })
        .await,
        ["b"]
    );
    assert_eq!(
        names(SegmentFilter {
            service_type: Some("COMPUTE".into()),
            enabled: Some(true),
            ..SegmentFilter::default()
        })
        .await,
        ["a"]
    );
}

async fn lists_default_to_newest_first(s: Arc<dyn Store>) {
    // Two segments share a creation time: the later id comes first.
    for (i, at) in [(1, 5), (2, 9), (3, 9), (4, 1)] {
        s.create_segment(new_segment(i, &format!("s{i}")), t(at))
            .await
            .unwrap();
    }
    let names: Vec<String> = s
        .list_segments(&SegmentFilter::default(), &ListQuery::all())
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.name)
        .collect();
    assert_eq!(names, ["s3", "s2", "s1", "s4"]);
}

async fn paging_with_a_marker_visits_every_row_once(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack"), t(0))
        .await
        .unwrap();
    // Hosts with repeated sort values, so paging must break ties on the default keys.
    for i in 0..7u32 {
        let mut h = new_host(i, &format!("c{i}"));
        h.host_type = if i % 2 == 0 { "EVEN" } else { "ODD" }.into();
        h.reserved = i % 3 == 0;
        s.create_host(&seg.uuid, h, t(i64::from(i % 3)))
            .await
            .unwrap();
    }
    for (key, dir) in [
        ("type", SortDir::Asc),
        ("type", SortDir::Desc),
        ("reserved", SortDir::Asc),
        ("name", SortDir::Desc),
        ("created_at", SortDir::Asc),
        ("updated_at", SortDir::Asc),
    ] {
        let base = ListQuery::all().sorted_by(key, dir);
        let full = s.list_hosts(&HostFilter::default(), &base).await.unwrap();
        assert_eq!(full.len(), 7);
        let mut paged = Vec::new();
        let mut query = ListQuery {
            limit: Some(3),
            ..base.clone()
        };
        loop {
            let page = s.list_hosts(&HostFilter::default(), &query).await.unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            query.marker = Some(last.uuid.clone());
            paged.extend(page);
        }
        assert_eq!(
            paged, full,
            "paging by {key} {dir:?} differs from the full list"
        );
    }
    // A numeric id works as a marker too.
    let full = s
        .list_hosts(&HostFilter::default(), &ListQuery::all())
        .await
        .unwrap();
    let rest = s
        .list_hosts(
            &HostFilter::default(),
            &ListQuery::all().after(full[1].id.to_string()),
        )
        .await
        .unwrap();
    assert_eq!(rest, full[2..].to_vec());
}

async fn unknown_sort_keys_and_markers_are_invalid(s: Arc<dyn Store>) {
    s.create_segment(new_segment(1, "rack"), t(0))
        .await
        .unwrap();
    assert_invalid(
        s.list_segments(
            &SegmentFilter::default(),
            &ListQuery::all().sorted_by("password", SortDir::Asc),
        )
        .await,
    );
    assert_invalid(
        s.list_segments(
            &SegmentFilter::default(),
            &ListQuery::all().after(uuid("dead", 9)),
        )
        .await,
    );
    assert_invalid(
        s.list_notifications(
            &NotificationFilter::default(),
            &ListQuery::all().after("77"),
        )
        .await,
    );
}

async fn a_zero_limit_returns_nothing(s: Arc<dyn Store>) {
    s.create_segment(new_segment(1, "rack"), t(0))
        .await
        .unwrap();
    s.create_segment(new_segment(2, "rack2"), t(0))
        .await
        .unwrap();
    let none = s
        .list_segments(&SegmentFilter::default(), &ListQuery::limit(0))
        .await
        .unwrap();
    assert!(none.is_empty());
    let one = s
        .list_segments(&SegmentFilter::default(), &ListQuery::limit(1))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
}

async fn a_notification_reads_back_and_updates(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack"), t(0))
        .await
        .unwrap();
    let host = s
        .create_host(&seg.uuid, new_host(1, "c1"), t(0))
        .await
        .unwrap();
    let new = host_down(1, &host, t(100));
    let n = s
        .create_notification(new.clone(), WINDOW, t(101))
        .await
        .unwrap();
    assert_eq!(n.notification_uuid, new.notification_uuid);
    assert_eq!(n.notification_type, NotificationType::ComputeHost);
    assert_eq!(n.hostname, "c1");
    assert_eq!(n.generated_time, t(100));
    assert_eq!(n.payload, new.payload);
    assert_eq!(n.status, NotificationStatus::New);
    assert_eq!(n.source_host_uuid, host.uuid);
    assert_eq!(n.failover_segment_uuid, seg.uuid);
    assert_eq!(n.message, None);
    assert_eq!(n.recovery_workflow_details, json!([]));
    assert_eq!(n.created_at, t(101));
    assert_eq!(s.get_notification(&n.notification_uuid).await.unwrap(), n);
    assert_eq!(s.get_notification(&n.id.to_string()).await.unwrap(), n);
    let details = json!([{"name": "Evacuate", "progress": 0.5, "state": "RUNNING",
                          "progress_details": []}]);
    let updated = s
        .update_notification(
            &n.notification_uuid,
            NotificationUpdate {
                status: Some(NotificationStatus::Running),
                message: Some(Some("evacuating 3 instances".into())),
                recovery_workflow_details: Some(details.clone()),
            },
            t(102),
        )
        .await
        .unwrap();
    assert_eq!(updated.status, NotificationStatus::Running);
    assert_eq!(updated.message.as_deref(), Some("evacuating 3 instances"));
    assert_eq!(updated.recovery_workflow_details, details);
    assert_eq!(updated.updated_at, Some(t(102)));
    assert_eq!(updated.payload, n.payload);
}

async fn an_identical_notification_within_the_window_is_a_duplicate(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack"), t(0))
        .await
        .unwrap();
    let host = s
        .create_host(&seg.uuid, new_host(1, "c1"), t(0))
        .await
        .unwrap();
    let first = s
        .create_notification(host_down(1, &host, t(1000)), WINDOW, t(1000))
        .await
        .unwrap();
    // Same payload, generated 60 s later: a duplicate while the first is new.
    assert_conflict(
        s.create_notification(host_down(2, &host, t(1060)), WINDOW, t(1060))
            .await,
    );
    // A different payload is not a duplicate.
    let mut started = host_down(3, &host, t(1061));
    started.payload =
        json!({"event": "STARTED", "host_status": "NORMAL", "cluster_status": "ONLINE"});
    s.create_notification(started, WINDOW, t(1061))
        .await
        .unwrap();
    // Outside the window it is not a duplicate.
    s.create_notification(host_down(4, &host, t(1181)), WINDOW, t(1181))
        .await
        .unwrap();
    // Once every identical one is finished, a new one is accepted inside the window.
    for n in s
        .list_notifications(&NotificationFilter::default(), &ListQuery::all())
        .await
        .unwrap()
    {
        let done = NotificationUpdate {
            status: Some(NotificationStatus::Finished),
            ..NotificationUpdate::default()
        };
        s.update_notification(&n.notification_uuid, done, t(1190))
            .await
            .unwrap();
    }
    s.create_notification(host_down(5, &host, t(1200)), WINDOW, t(1200))
        .await
        .unwrap();
    // And the rejected one left no trace.
    assert_not_found(s.get_notification(&uuid("a07", 2)).await);
    assert_eq!(
        s.get_notification(&first.notification_uuid)
            .await
            .unwrap()
            .status,
        NotificationStatus::Finished
    );
}

async fn notification_lists_filter_on_status_type_host_and_time(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack"), t(0))
        .await
        .unwrap();
    let h1 = s
        .create_host(&seg.uuid, new_host(1, "c1"), t(0))
        .await
        .unwrap();
    let h2 = s
        .create_host(&seg.uuid, new_host(2, "c2"), t(0))
        .await
        .unwrap();
    s.create_notification(host_down(1, &h1, t(100)), WINDOW, t(100))
        .await
        .unwrap();
    let mut process = host_down(2, &h2, t(200));
    process.notification_type = NotificationType::Process;
    process.payload = json!({"process_name": "nova-compute", "event": "STOPPED"});
    s.create_notification(process, WINDOW, t(200))
        .await
        .unwrap();
    let mut ignored = host_down(3, &h2, t(300));
    ignored.status = NotificationStatus::Ignored;
    s.create_notification(ignored, WINDOW, t(300))
        .await
        .unwrap();
    let ids = |f: NotificationFilter| {
        let s = Arc::clone(&s);
        async move {
            s.list_notifications(&f, &ListQuery::all())
                .await
                .unwrap()
                .into_iter()
                .map(|n| n.notification_uuid)
                .collect::<Vec<_>>()
        }
    };
    let u = |n| uuid("a07", n);
    assert_eq!(ids(NotificationFilter::default()).await, [u(3), u(2), u(1)]);
    assert_eq!(
        ids(NotificationFilter {
            statuses: vec![NotificationStatus::Ignored, NotificationStatus::Finished],
            ..NotificationFilter::default()
        })
        .await,
        [u(3)]
    );
    assert_eq!(
        ids(NotificationFilter {
            notification_type: Some(NotificationType::Process),
            ..NotificationFilter::default()
        })
        .await,
        [u(2)]
    );
    assert_eq!(
        ids(NotificationFilter {
            source_host_uuid: Some(h2.uuid.clone()),
            ..NotificationFilter::default()
        })
        .await,
        [u(3), u(2)]
    );
    assert_eq!(
        ids(NotificationFilter {
            generated_since: Some(t(200)),
            ..NotificationFilter::default()
        })
        .await,
        [u(3), u(2)]
    );
    assert_eq!(
        ids(NotificationFilter {
            failover_segment_uuid: Some(uuid("dead", 1)),
            ..NotificationFilter::default()
        })
        .await,
        Vec::<String>::new()
    );
}

async fn vmoves_belong_to_their_notification(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack"), t(0))
        .await
        .unwrap();
    let host = s
        .create_host(&seg.uuid, new_host(1, "c1"), t(0))
        .await
        .unwrap();
    let n1 = s
        .create_notification(host_down(1, &host, t(10)), WINDOW, t(10))
        .await
        .unwrap();
    let mut other = host_down(2, &host, t(20));
    other.payload = json!({"event": "STOPPED"});
    let n2 = s.create_notification(other, WINDOW, t(20)).await.unwrap();
    let new = |i: u32, n: &str| NewVMove {
        uuid: uuid("f00", i),
        notification_uuid: n.to_owned(),
        instance_uuid: uuid("1a5", i),
        instance_name: format!("vm{i}"),
        source_host: Some("c1".into()),
        vmove_type: Some(VMoveType::Evacuation),
        status: Some(VMoveStatus::Pending),
    };
    let m1 = s
        .create_vmove(new(1, &n1.notification_uuid), t(11))
        .await
        .unwrap();
    s.create_vmove(new(2, &n1.notification_uuid), t(12))
        .await
        .unwrap();
    s.create_vmove(new(3, &n2.notification_uuid), t(21))
        .await
        .unwrap();
    assert_not_found(s.create_vmove(new(4, &uuid("dead", 1)), t(22)).await);
    assert_conflict(s.create_vmove(new(1, &n1.notification_uuid), t(22)).await);
    assert_eq!(m1.instance_name, "vm1");
    assert_eq!(m1.dest_host, None);
    assert_eq!(m1.status, Some(VMoveStatus::Pending));
    assert_eq!(
        s.get_vmove(&n1.notification_uuid, &m1.uuid).await.unwrap(),
        m1
    );
    assert_not_found(s.get_vmove(&n2.notification_uuid, &m1.uuid).await);
    let of_n1 = VMoveFilter {
        notification_uuid: Some(n1.notification_uuid.clone()),
        ..VMoveFilter::default()
    };
    let listed = s.list_vmoves(&of_n1, &ListQuery::all()).await.unwrap();
    assert_eq!(listed.len(), 2);
    let done = s
        .update_vmove(
            &m1.uuid,
            VMoveUpdate {
                dest_host: Some("c2".into()),
                start_time: Some(t(11)),
                end_time: Some(t(15)),
                status: Some(VMoveStatus::Succeeded),
                message: None,
            },
            t(15),
        )
        .await
        .unwrap();
    assert_eq!(done.dest_host.as_deref(), Some("c2"));
    assert_eq!(done.start_time, Some(t(11)));
    assert_eq!(done.end_time, Some(t(15)));
    assert_eq!(done.status, Some(VMoveStatus::Succeeded));
    let succeeded = s
        .list_vmoves(
            &VMoveFilter {
                status: Some(VMoveStatus::Succeeded),
                ..of_n1.clone()
            },
            &ListQuery::all(),
        )
        .await
        .unwrap();
    assert_eq!(succeeded, vec![done]);
    let migrations = s
        .list_vmoves(
            &VMoveFilter {
                vmove_type: Some(VMoveType::Migration),
                ..of_n1
            },
            &ListQuery::all(),
        )
        .await
        .unwrap();
    assert!(migrations.is_empty());
}

async fn the_recovery_log_replays_unfinished_recoveries_in_order(s: Arc<dyn Store>) {
    // Written out of order across two recoveries; read back grouped and in order.
    s.append_record("r-b", 1, "planned", &json!({"v": 1, "n": 1}))
        .await
        .unwrap();
    s.append_record("r-a", 2, "fenced", &json!({"v": 1, "host": "c1"}))
        .await
        .unwrap();
    s.append_record("r-a", 1, "started", &json!({"v": 1}))
        .await
        .unwrap();
    s.append_record("r-b", 0, "started", &json!({"v": 1}))
        .await
        .unwrap();
    let logs = s.records_of_unfinished_recoveries().await.unwrap();
    let summary: Vec<(String, Vec<(u64, String)>)> = logs
        .iter()
        .map(|l| {
            (
                l.recovery_id.clone(),
                l.records.iter().map(|r| (r.seq, r.kind.clone())).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "r-a".to_owned(),
                vec![(1, "started".to_owned()), (2, "fenced".to_owned())]
            ),
            (
                "r-b".to_owned(),
                vec![(0, "started".to_owned()), (1, "planned".to_owned())]
            ),
        ]
    );
    assert_eq!(logs[0].records[1].body, json!({"v": 1, "host": "c1"}));
    assert!(logs.iter().all(|l| !l.finished));
    s.mark_finished("r-a").await.unwrap();
    let left = s.records_of_unfinished_recoveries().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].recovery_id, "r-b");
    let finished = s.recovery_log("r-a").await.unwrap();
    assert!(finished.finished);
    assert_eq!(finished.records.len(), 2);
}

async fn appending_a_record_is_idempotent_but_never_rewrites(s: Arc<dyn Store>) {
    let body = json!({"v": 1, "instance": "i-1", "dest": null});
    s.append_record("r-1", 5, "evacuate", &body).await.unwrap();
    // A retried write of the same record is accepted and changes nothing.
    s.append_record("r-1", 5, "evacuate", &body).await.unwrap();
    assert_conflict(
        s.append_record("r-1", 5, "evacuate", &json!({"v": 1, "instance": "i-2"}))
            .await,
    );
    assert_conflict(s.append_record("r-1", 5, "verify", &body).await);
    let log = s.recovery_log("r-1").await.unwrap();
    assert_eq!(log.records.len(), 1);
    assert_eq!(log.records[0].body, body);
}

async fn a_finished_recovery_takes_no_more_records(s: Arc<dyn Store>) {
    s.append_record("r-1", 1, "started", &json!({}))
        .await
        .unwrap();
    s.mark_finished("r-1").await.unwrap();
    s.mark_finished("r-1").await.unwrap();
    assert_conflict(s.append_record("r-1", 2, "late", &json!({})).await);
    assert!(s
        .records_of_unfinished_recoveries()
        .await
        .unwrap()
        .is_empty());
}

async fn uuids_are_unique(s: Arc<dyn Store>) {
    let seg = s.create_segment(new_segment(1, "a"), t(0)).await.unwrap();
    assert_conflict(s.create_segment(new_segment(1, "b"), t(0)).await);
    let host = s
        .create_host(&seg.uuid, new_host(1, "c1"), t(0))
        .await
        .unwrap();
    assert_conflict(s.create_host(&seg.uuid, new_host(1, "c2"), t(0)).await);
    s.create_notification(host_down(1, &host, t(0)), WINDOW, t(0))
        .await
        .unwrap();
    let mut again = host_down(1, &host, t(500));
    again.payload = json!({"event": "STARTED"});
    assert_conflict(s.create_notification(again, WINDOW, t(500)).await);
}

async fn records_are_ordered_by_number_not_by_text(s: Arc<dyn Store>) {
    for seq in [10u64, 2, 1, 100] {
        s.append_record("r-1", seq, "step", &json!({"seq": seq}))
            .await
            .unwrap();
    }
    let seqs: Vec<u64> = s
        .recovery_log("r-1")
        .await
        .unwrap()
        .records
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 10, 100]);
}

async fn of_two_identical_notifications_racing_exactly_one_is_accepted(s: Arc<dyn Store>) {
    let seg = s
        .create_segment(new_segment(1, "rack"), t(0))
        .await
        .unwrap();
    let host = s
        .create_host(&seg.uuid, new_host(1, "c1"), t(0))
        .await
        .unwrap();
    for round in 0..10u32 {
        let a = host_down(round * 2 + 1, &host, t(10_000 * i64::from(round + 1)));
        let b = host_down(round * 2 + 2, &host, t(10_000 * i64::from(round + 1)));
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { s1.create_notification(a, WINDOW, t(1)).await }),
            tokio::spawn(async move { s2.create_notification(b, WINDOW, t(1)).await }),
        );
        let results = [ra.unwrap(), rb.unwrap()];
        let accepted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(accepted, 1, "round {round}: {results:?}");
        assert!(results
            .iter()
            .any(|r| matches!(r, Err(StoreError::Conflict(_)))));
    }
}
