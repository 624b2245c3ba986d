//! `/v1/notifications`.

mod common;

use axum::http::{Method, StatusCode};
use common::Api;
use lazarus_store::{NotificationStatus, NotificationUpdate};
use serde_json::json;

async fn cloud() -> (Api, String, String) {
    let api = Api::new();
    let seg = api.segment("rack").await;
    let host = api.host(&seg, "compute-1").await;
    (api, seg, host)
}

#[tokio::test]
async fn a_host_failure_is_accepted_as_new_and_handed_to_the_controller() {
    let (mut api, seg, host) = cloud().await;
    let r = api.host_down("compute-1", "2017-04-24 08:34:46").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.json);
    let n = &r.json["notification"];
    assert_eq!(n["status"], "new");
    assert_eq!(n["type"], "COMPUTE_HOST");
    assert_eq!(n["hostname"], "compute-1");
    assert_eq!(n["generated_time"], "2017-04-24T08:34:46.000000");
    assert_eq!(n["source_host_uuid"], host.as_str());
    assert_eq!(n["failover_segment_uuid"], seg.as_str());
    assert_eq!(n["payload"]["event"], "STOPPED");
    assert!(n.get("recovery_workflow_details").is_none());
    let handed = api.accepted.try_recv().unwrap();
    assert_eq!(
        handed.notification_uuid,
        n["notification_uuid"].as_str().unwrap()
    );
    assert_eq!(handed.status, NotificationStatus::New);
}

#[tokio::test]
async fn a_notification_for_a_host_in_no_segment_is_400() {
    let (mut api, _, _) = cloud().await;
    let r = api.host_down("compute-9", "2017-04-24 08:34:46").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("compute-9"), "{}", r.message());
    assert!(api.accepted.try_recv().is_err());
}

#[tokio::test]
async fn a_notification_from_a_host_on_maintenance_is_409() {
    let (mut api, seg, host) = cloud().await;
    let r = api
        .put(
            &format!("/v1/segments/{seg}/hosts/{host}"),
            json!({"host": {"on_maintenance": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api.host_down("compute-1", "2017-04-24 08:34:46").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.message().contains("maintenance"), "{}", r.message());
    assert!(api.accepted.try_recv().is_err());
}

#[tokio::test]
async fn the_same_failure_reported_again_while_new_or_running_is_409() {
    let (api, _, _) = cloud().await;
    let first = api.host_down("compute-1", "2026-01-01T00:00:00").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let id = first.json["notification"]["notification_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = api.host_down("compute-1", "2026-01-01T00:01:00").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.message().contains("duplicate"), "{}", again.message());
    api.store()
        .update_notification(
            &id,
            NotificationUpdate {
                status: Some(NotificationStatus::Running),
                ..NotificationUpdate::default()
            },
            common::t(1),
        )
        .await
        .unwrap();
    assert_eq!(
        api.host_down("compute-1", "2026-01-01T00:02:00")
            .await
            .status,
        StatusCode::CONFLICT
    );
    // Past the 180 s window it is a new failure.
    assert_eq!(
        api.host_down("compute-1", "2026-01-01T00:03:01")
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn malformed_notifications_are_400() {
    let (mut api, _, _) = cloud().await;
    let n = |kind: &str, payload: serde_json::Value| {
        json!({"notification": {"type": kind, "hostname": "compute-1",
                                "generated_time": "2026-01-01T00:00:00", "payload": payload}})
    };
    let cases = vec![
        ("unknown type", n("DISK", json!({"event": "STOPPED"}))),
        (
            "host: no event",
            n("COMPUTE_HOST", json!({"host_status": "NORMAL"})),
        ),
        (
            "host: bad event",
            n("COMPUTE_HOST", json!({"event": "EXPLODED"})),
        ),
        (
            "host: bad status",
            n(
                "COMPUTE_HOST",
                json!({"event": "STOPPED", "host_status": "FINE"}),
            ),
        ),
        (
            "host: extra key",
            n("COMPUTE_HOST", json!({"event": "STOPPED", "why": "x"})),
        ),
        (
            "process: no name",
            n("PROCESS", json!({"event": "STOPPED"})),
        ),
        (
            "process: bad event",
            n(
                "PROCESS",
                json!({"process_name": "nova-compute", "event": "stopped"}),
            ),
        ),
        (
            "vm: bad uuid",
            n(
                "VM",
                json!({"instance_uuid": "nope", "vir_domain_event": "STOPPED_FAILED", "event": "LIFECYCLE"}),
            ),
        ),
        (
            "vm: missing event",
            n(
                "VM",
                json!({"instance_uuid": "96ab1c42-668c-4f2d-8689-afa3301d4ee9", "vir_domain_event": "STOPPED_FAILED"}),
            ),
        ),
        (
            "payload value not a string",
            n("COMPUTE_HOST", json!({"event": 1})),
        ),
        ("payload not an object", n("COMPUTE_HOST", json!("STOPPED"))),
        (
            "bad time",
            json!({"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "yesterday", "payload": {"event": "STOPPED"}}}),
        ),
        (
            "bad hostname",
            json!({"notification": {"type": "COMPUTE_HOST", "hostname": "compute 1", "generated_time": "2026-01-01T00:00:00", "payload": {"event": "STOPPED"}}}),
        ),
        (
            "missing payload",
            json!({"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "2026-01-01T00:00:00"}}),
        ),
        (
            "extra field",
            json!({"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "2026-01-01T00:00:00", "payload": {"event": "STOPPED"}, "status": "finished"}}),
        ),
    ];
    for (what, body) in cases {
        let r = api.post("/v1/notifications", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {:?}", r.json);
        assert!(!r.message().is_empty());
    }
    let r = api
        .raw(Method::POST, "/v1/notifications", "{notification", &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        api.accepted.try_recv().is_err(),
        "nothing malformed reached the controller"
    );
}

#[tokio::test]
async fn process_and_vm_notifications_as_monitors_send_them_are_accepted() {
    let (api, _, _) = cloud().await;
    let r = api
        .post(
            "/v1/notifications",
            json!({"notification": {"type": "PROCESS", "hostname": "compute-1",
                   "generated_time": "2017-04-21 17:29:55",
                   "payload": {"process_name": "nova-compute", "event": "STOPPED"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.json);
    let r = api
        .post(
            "/v1/notifications",
            json!({"notification": {"type": "VM", "hostname": "compute-1",
                   "generated_time": "2017-04-23T07:18:51.523726",
                   "payload": {"instance_uuid": "96ab1c42-668c-4f2d-8689-afa3301d4ee9",
                               "vir_domain_event": "STOPPED_DESTROYED", "event": "LIFECYCLE"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.json);
    assert_eq!(
        r.json["notification"]["generated_time"],
        "2017-04-23T07:18:51.523726"
    );
}

#[tokio::test]
async fn the_detail_shows_workflow_details_from_microversion_1_1() {
    let (api, _, _) = cloud().await;
    let r = api.host_down("compute-1", "2026-01-01T00:00:00").await;
    let id = r.json["notification"]["notification_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let details = json!([{"name": "EvacuateInstancesTask", "progress": 1.0, "state": "SUCCESS",
                          "progress_details": []}]);
    api.store()
        .update_notification(
            &id,
            NotificationUpdate {
                status: Some(NotificationStatus::Finished),
                recovery_workflow_details: Some(details.clone()),
                message: Some(Some("recovered".into())),
            },
            common::t(5),
        )
        .await
        .unwrap();
    let path = format!("/v1/notifications/{id}");
    let old = api.get(&path).await;
    assert_eq!(old.status, StatusCode::OK);
    assert!(old.json["notification"]
        .get("recovery_workflow_details")
        .is_none());
    assert_eq!(old.json["notification"]["status"], "finished");
    let new = api.get_v(&path, "1.1").await;
    assert_eq!(
        new.json["notification"]["recovery_workflow_details"],
        details
    );
    assert_eq!(new.json["notification"]["message"], "recovered");
    let by_id = api
        .get(&format!(
            "/v1/notifications/{}",
            old.json["notification"]["id"]
        ))
        .await;
    assert_eq!(by_id.json["notification"]["notification_uuid"], id.as_str());
    assert_eq!(
        api.get("/v1/notifications/a0700000-0000-4000-8000-000000000000")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn notification_lists_filter_on_status_type_host_and_time() {
    let api = Api::new();
    let seg = api.segment("rack").await;
    let h1 = api.host(&seg, "c1").await;
    api.host(&seg, "c2").await;
    api.clock.set(common::t(1));
    api.host_down("c1", "2026-01-01T00:00:00").await;
    api.clock.set(common::t(2));
    let r = api
        .post(
            "/v1/notifications",
            json!({"notification": {"type": "PROCESS", "hostname": "c2",
                   "generated_time": "2026-01-01T01:00:00",
                   "payload": {"process_name": "nova-compute", "event": "STOPPED"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let hosts = |r: common::Resp| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        r.json["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["hostname"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(hosts(api.get("/v1/notifications").await), ["c2", "c1"]);
    assert_eq!(
        hosts(api.get("/v1/notifications?type=PROCESS").await),
        ["c2"]
    );
    assert_eq!(
        hosts(
            api.get(&format!("/v1/notifications?source_host_uuid={h1}"))
                .await
        ),
        ["c1"]
    );
    assert_eq!(
        hosts(api.get("/v1/notifications?status=new").await),
        ["c2", "c1"]
    );
    assert_eq!(
        hosts(api.get("/v1/notifications?status=finished").await),
        Vec::<String>::new()
    );
    assert_eq!(
        hosts(api.get("/v1/notifications?status=bogus").await),
        Vec::<String>::new()
    );
    assert_eq!(
        hosts(
            api.get("/v1/notifications?generated-since=2026-01-01T00:30:00Z")
                .await
        ),
        ["c2"]
    );
    assert_eq!(
        hosts(
            api.get("/v1/notifications?sort_key=generated_time&sort_dir=asc")
                .await
        ),
        ["c1", "c2"]
    );
    assert_eq!(
        api.get("/v1/notifications?generated-since=noon")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}
