//! `/v1/segments/{segment_id}/hosts`.

mod common;

use axum::http::{Method, StatusCode};
use common::Api;
use serde_json::json;

#[tokio::test]
async fn adding_a_host_answers_201_with_its_segment_embedded() {
    let api = Api::new();
    let seg = api.segment("rack").await;
    let r = api
        .post(
            &format!("/v1/segments/{seg}/hosts"),
            json!({"host": {"name": "compute-1", "type": "COMPUTE", "control_attributes": "SSH",
                            "reserved": "True"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let h = &r.json["host"];
    assert_eq!(h["name"], "compute-1");
    assert_eq!(h["type"], "COMPUTE");
    assert_eq!(h["control_attributes"], "SSH");
    assert_eq!(h["reserved"], true);
    assert_eq!(h["on_maintenance"], false);
    assert_eq!(h["failover_segment_id"], seg.as_str());
    assert_eq!(h["failover_segment"]["uuid"], seg.as_str());
    assert_eq!(h["failover_segment"]["name"], "rack");
}

#[tokio::test]
async fn a_name_nova_does_not_know_as_a_compute_is_400() {
    let api = Api::builder().computes(&["compute-1"]).build();
    let seg = api.segment("rack").await;
    let r = api
        .post(
            &format!("/v1/segments/{seg}/hosts"),
            json!({"host": {"name": "toaster", "type": "COMPUTE", "control_attributes": "SSH"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.message().contains("Compute service with name toaster"),
        "{}",
        r.message()
    );
    let host = api.host(&seg, "compute-1").await;
    let r = api
        .put(
            &format!("/v1/segments/{seg}/hosts/{host}"),
            json!({"host": {"name": "toaster"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "renames are checked too");
}

#[tokio::test]
async fn a_host_of_an_unknown_segment_is_404() {
    let api = Api::new();
    let r = api
        .post(
            "/v1/segments/5e600000-0000-4000-8000-000000000000/hosts",
            json!({"host": {"name": "c1", "type": "COMPUTE", "control_attributes": "SSH"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api
        .get("/v1/segments/5e600000-0000-4000-8000-000000000000/hosts")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_host_name_is_unique_across_segments() {
    let api = Api::new();
    let a = api.segment("a").await;
    let b = api.segment("b").await;
    api.host(&a, "compute-1").await;
    let r = api
        .post(
            &format!("/v1/segments/{b}/hosts"),
            json!({"host": {"name": "compute-1", "type": "COMPUTE", "control_attributes": "SSH"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.message().contains("compute-1"));
}

#[tokio::test]
async fn malformed_host_bodies_are_400() {
    let api = Api::new();
    let seg = api.segment("rack").await;
    let path = format!("/v1/segments/{seg}/hosts");
    let cases = [
        r#"{"host": {"type": "COMPUTE", "control_attributes": "SSH"}}"#,
        r#"{"host": {"name": "c1", "control_attributes": "SSH"}}"#,
        r#"{"host": {"name": "c1", "type": "COMPUTE"}}"#,
        r#"{"host": {"name": "c1", "type": "COMPUTE_HOST", "control_attributes": "SSH"}}"#,
        r#"{"host": {"name": "c1", "type": "COMPUTE", "control_attributes": null}}"#,
        r#"{"host": {"name": "c1", "type": "COMPUTE", "control_attributes": "SSH", "reserved": "maybe"}}"#,
        r#"{"host": {"name": "c1", "type": "COMPUTE", "control_attributes": "SSH", "on_maintenance": 1}}"#,
        r#"{"host": {"name": "c1", "type": "COMPUTE", "control_attributes": "SSH", "segment": "x"}}"#,
        r#"{"host": "c1"}"#,
    ];
    for text in cases {
        let r = api.raw(Method::POST, &path, text, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{text}: {:?}", r.json);
    }
    assert_eq!(api.get(&path).await.json["hosts"], json!([]));
}

#[tokio::test]
async fn a_host_is_shown_updated_and_deleted_only_under_its_segment() {
    let api = Api::new();
    let seg = api.segment("rack").await;
    let other = api.segment("other").await;
    let host = api.host(&seg, "compute-1").await;
    let path = format!("/v1/segments/{seg}/hosts/{host}");
    assert_eq!(api.get(&path).await.json["host"]["uuid"], host.as_str());
    let wrong = format!("/v1/segments/{other}/hosts/{host}");
    assert_eq!(api.get(&wrong).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.put(&wrong, json!({"host": {"reserved": true}}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.delete(&wrong).await.status, StatusCode::NOT_FOUND);
    let r = api
        .put(
            &path,
            json!({"host": {"on_maintenance": "True", "control_attributes": "IPMI"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["host"]["on_maintenance"], true);
    assert_eq!(r.json["host"]["control_attributes"], "IPMI");
    assert_eq!(r.json["host"]["name"], "compute-1");
    assert_eq!(
        api.put(&path, json!({"host": {}})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn host_lists_filter_on_every_masakari_filter() {
    let api = Api::new();
    let seg = api.segment("rack").await;
    let other = api.segment("other").await;
    let path = format!("/v1/segments/{seg}/hosts");
    for (name, kind, ctl, reserved, maint) in [
        ("c1", "COMPUTE", "SSH", true, false),
        ("c2", "COMPUTE", "IPMI", false, true),
        ("c3", "BAREMETAL", "SSH", false, false),
    ] {
        let r = api
            .post(
                &path,
                json!({"host": {"name": name, "type": kind, "control_attributes": ctl,
                                "reserved": reserved, "on_maintenance": maint}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    api.host(&other, "elsewhere").await;
    let names = |r: common::Resp| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        let mut n: Vec<String> = r.json["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(api.get(&path).await), ["c1", "c2", "c3"]);
    assert_eq!(
        names(api.get(&format!("{path}?reserved=true")).await),
        ["c1"]
    );
    assert_eq!(
        names(api.get(&format!("{path}?on_maintenance=1")).await),
        ["c2"]
    );
    assert_eq!(
        names(api.get(&format!("{path}?type=COMPUTE")).await),
        ["c1", "c2"]
    );
    assert_eq!(
        names(api.get(&format!("{path}?control_attributes=SSH")).await),
        ["c1", "c3"]
    );
    assert_eq!(names(api.get(&format!("{path}?name=c3")).await), ["c3"]);
    assert_eq!(
        api.get(&format!("{path}?reserved=perhaps")).await.status,
        StatusCode::BAD_REQUEST
    );
    let first = api
        .get(&format!("{path}?sort_key=name&sort_dir=asc&limit=2"))
        .await;
    let marker = first.json["hosts"][1]["id"].as_i64().unwrap();
    assert_eq!(names(first), ["c1", "c2"]);
    assert_eq!(
        names(
            api.get(&format!(
                "{path}?sort_key=name&sort_dir=asc&marker={marker}"
            ))
            .await
        ),
        ["c3"]
    );
}

#[tokio::test]
async fn a_host_under_recovery_cannot_be_updated_or_deleted() {
    let api = Api::new();
    let seg = api.segment("rack").await;
    let host = api.host(&seg, "compute-1").await;
    assert_eq!(
        api.host_down("compute-1", "2026-01-01 00:00:00")
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let path = format!("/v1/segments/{seg}/hosts/{host}");
    let r = api.put(&path, json!({"host": {"reserved": true}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(api.delete(&path).await.status, StatusCode::CONFLICT);
}
