//! `/v1/notifications/{notification_id}/vmoves`.

mod common;

use axum::http::StatusCode;
use common::Api;
use lazarus_store::{NewVMove, VMoveStatus, VMoveType, VMoveUpdate};
use serde_json::json;

#[tokio::test]
async fn the_moves_of_a_host_recovery_are_listed_filtered_and_shown() {
    let api = Api::new();
    let seg = api.segment("rack").await;
    api.host(&seg, "c1").await;
    let r = api.host_down("c1", "2026-01-01T00:00:00").await;
    let nid = r.json["notification"]["notification_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..3u32 {
        let m = api
            .store()
            .create_vmove(
                NewVMove {
                    uuid: format!("f0000000-0000-4000-8000-00000000000{i}"),
                    notification_uuid: nid.clone(),
                    instance_uuid: format!("1a500000-0000-4000-8000-00000000000{i}"),
                    instance_name: format!("vm{i}"),
                    source_host: Some("c1".into()),
                    vmove_type: Some(VMoveType::Evacuation),
                    status: Some(VMoveStatus::Pending),
                },
                common::t(i64::from(i)),
            )
            .await
            .unwrap();
        if i == 0 {
            let done = VMoveUpdate {
                dest_host: Some("c2".into()),
                start_time: Some(common::t(10)),
                end_time: Some(common::t(20)),
                status: Some(VMoveStatus::Succeeded),
                message: None,
            };
            api.store()
                .update_vmove(&m.uuid, done, common::t(20))
                .await
                .unwrap();
        }
    }
    let path = format!("/v1/notifications/{nid}/vmoves");
    let r = api.get_v(&path, "1.3").await;
    assert_eq!(r.status, StatusCode::OK);
    let names: Vec<_> = r.json["vmoves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["instance_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["vm2", "vm1", "vm0"]);
    let r = api.get(&format!("{path}?status=succeeded")).await;
    assert_eq!(r.json["vmoves"].as_array().unwrap().len(), 1);
    let m = &r.json["vmoves"][0];
    assert_eq!(m["dest_host"], "c2");
    assert_eq!(m["type"], "evacuation");
    assert_eq!(m["start_time"], "2026-01-01T00:00:10.000000");
    assert_eq!(
        api.get(&format!("{path}?type=live_migration")).await.json["vmoves"],
        json!([])
    );
    assert_eq!(
        api.get(&format!("{path}?limit=1")).await.json["vmoves"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let one = api
        .get(&format!("{path}/f0000000-0000-4000-8000-000000000000"))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json["vmove"]["instance_name"], "vm0");
    let missing = api
        .get(&format!("{path}/f0000000-0000-4000-8000-000000000009"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.message().contains("No vm move"),
        "{}",
        missing.message()
    );
}

#[tokio::test]
async fn only_host_notifications_have_moves() {
    let api = Api::new();
    let seg = api.segment("rack").await;
    api.host(&seg, "c1").await;
    let r = api
        .post(
            "/v1/notifications",
            json!({"notification": {"type": "PROCESS", "hostname": "c1",
                   "generated_time": "2026-01-01T00:00:00",
                   "payload": {"process_name": "nova-compute", "event": "STOPPED"}}}),
        )
        .await;
    let nid = r.json["notification"]["notification_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api.get(&format!("/v1/notifications/{nid}/vmoves")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("without vm moves"), "{}", r.message());
    let r = api
        .get("/v1/notifications/a0700000-0000-4000-8000-000000000000/vmoves")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
