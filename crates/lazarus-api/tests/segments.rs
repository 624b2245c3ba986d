//! `/v1/segments`.

mod common;

use axum::http::{Method, StatusCode};
use common::Api;
use serde_json::json;

fn body(name: &str) -> serde_json::Value {
    json!({"segment": {"name": name, "recovery_method": "auto", "service_type": "COMPUTE"}})
}

#[tokio::test]
async fn creating_a_segment_answers_201_with_the_segment() {
    let api = Api::new();
    let r = api
        .post(
            "/v1/segments",
            json!({"segment": {"name": "rack-a", "recovery_method": "rh_priority",
                               "service_type": "COMPUTE", "description": "first"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let s = &r.json["segment"];
    assert_eq!(s["name"], "rack-a");
    assert_eq!(s["recovery_method"], "rh_priority");
    assert_eq!(s["service_type"], "COMPUTE");
    assert_eq!(s["description"], "first");
    assert_eq!(s["enabled"], true);
    assert_eq!(s["deleted"], false);
    assert_eq!(s["created_at"], "2026-01-01T00:00:00.000000");
    assert_eq!(s["updated_at"], serde_json::Value::Null);
    assert!(uuid::Uuid::parse_str(s["uuid"].as_str().unwrap()).is_ok());
    assert_eq!(s["id"], 1);
}

#[tokio::test]
async fn a_taken_segment_name_is_409() {
    let api = Api::new();
    api.segment("rack-a").await;
    let r = api.post("/v1/segments", body("rack-a")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.fault(), "conflictingRequest");
    assert!(r.message().contains("rack-a"));
}

#[tokio::test]
async fn malformed_segment_bodies_are_400_with_a_message() {
    let api = Api::new();
    let cases = [
        ("not json", "{\"segment\":"),
        ("empty", ""),
        ("array", "[]"),
        ("wrong envelope", r#"{"segments": {}}"#),
        (
            "extra envelope key",
            r#"{"segment": {"name": "a", "recovery_method": "auto", "service_type": "C"}, "x": 1}"#,
        ),
        (
            "missing name",
            r#"{"segment": {"recovery_method": "auto", "service_type": "C"}}"#,
        ),
        (
            "missing service_type",
            r#"{"segment": {"name": "a", "recovery_method": "auto"}}"#,
        ),
        (
            "unknown field",
            r#"{"segment": {"name": "a", "recovery_method": "auto", "service_type": "C", "color": "red"}}"#,
        ),
        (
            "bad method",
            r#"{"segment": {"name": "a", "recovery_method": "sideways", "service_type": "C"}}"#,
        ),
        (
            "name too long",
            &format!(
                r#"{{"segment": {{"name": "{}", "recovery_method": "auto", "service_type": "C"}}}}"#,
                "x".repeat(256)
            ),
        ),
        (
            "empty name",
            r#"{"segment": {"name": "", "recovery_method": "auto", "service_type": "C"}}"#,
        ),
        (
            "leading space",
            r#"{"segment": {"name": " a", "recovery_method": "auto", "service_type": "C"}}"#,
        ),
        (
            "name not a string",
            r#"{"segment": {"name": 7, "recovery_method": "auto", "service_type": "C"}}"#,
        ),
        (
            "enabled before 1.2",
            r#"{"segment": {"name": "a", "recovery_method": "auto", "service_type": "C", "enabled": false}}"#,
        ),
    ];
    for (what, text) in cases {
        let r = api.raw(Method::POST, "/v1/segments", text, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {:?}", r.json);
        assert_eq!(r.fault(), "badRequest", "{what}");
        assert!(!r.message().is_empty(), "{what}");
    }
    let none = api.get("/v1/segments").await;
    assert_eq!(none.json["segments"], json!([]));
}

#[tokio::test]
async fn enabled_is_accepted_from_microversion_1_2() {
    let api = Api::new();
    let mut b = body("rack-a");
    b["segment"]["enabled"] = json!("False");
    let r = api.post_v("/v1/segments", b.clone(), "1.2").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(r.json["segment"]["enabled"], false);
    b["segment"]["name"] = json!("rack-b");
    b["segment"]["enabled"] = json!("sometimes");
    let r = api.post_v("/v1/segments", b, "1.2").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let uuid = api.segment("rack-c").await;
    let path = format!("/v1/segments/{uuid}");
    let r = api.put(&path, json!({"segment": {"enabled": false}})).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "enabled is unknown at 1.0"
    );
    let r = api
        .put_v(&path, json!({"segment": {"enabled": false}}), "1.3")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["segment"]["enabled"], false);
}

#[tokio::test]
async fn a_segment_is_shown_updated_and_deleted() {
    let api = Api::new();
    let uuid = api.segment("rack-a").await;
    let path = format!("/v1/segments/{uuid}");
    let r = api.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["segment"]["uuid"], uuid.as_str());
    api.clock.set(common::t(60));
    let r = api
        .put(
            &path,
            json!({"segment": {"name": "rack-b", "description": "renamed"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["segment"]["name"], "rack-b");
    assert_eq!(r.json["segment"]["description"], "renamed");
    assert_eq!(r.json["segment"]["recovery_method"], "auto");
    assert_eq!(
        r.json["segment"]["updated_at"],
        "2026-01-01T00:01:00.000000"
    );
    let r = api.put(&path, json!({"segment": {}})).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "an update must change something"
    );
    let r = api.delete(&path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.json, serde_json::Value::Null);
    assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_segments_are_404() {
    let api = Api::new();
    let path = "/v1/segments/5e600000-0000-4000-8000-000000000000";
    for r in [
        api.get(path).await,
        api.put(path, json!({"segment": {"name": "x"}})).await,
        api.delete(path).await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.fault(), "itemNotFound");
        assert!(
            r.message().contains("No failover segment"),
            "{}",
            r.message()
        );
    }
}

#[tokio::test]
async fn renaming_onto_a_taken_name_is_409() {
    let api = Api::new();
    api.segment("rack-a").await;
    let b = api.segment("rack-b").await;
    let r = api
        .put(
            &format!("/v1/segments/{b}"),
            json!({"segment": {"name": "rack-a"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_segment_under_recovery_cannot_be_updated_or_deleted() {
    let api = Api::new();
    let seg = api.segment("rack-a").await;
    api.host(&seg, "c1").await;
    assert_eq!(
        api.host_down("c1", "2026-01-01T00:00:00").await.status,
        StatusCode::ACCEPTED
    );
    let path = format!("/v1/segments/{seg}");
    let r = api.put(&path, json!({"segment": {"name": "rack-z"}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.message().contains("in-use"), "{}", r.message());
    assert_eq!(api.delete(&path).await.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn lists_filter_sort_and_page() {
    let api = Api::builder().max_limit(3).build();
    for (i, (name, method, service, enabled)) in [
        ("a", "auto", "COMPUTE", true),
        ("b", "reserved_host", "COMPUTE", true),
        ("c", "auto", "OTHER", false),
        ("d", "auto", "COMPUTE", true),
    ]
    .into_iter()
    .enumerate()
    {
        api.clock.set(common::t(i as i64));
        let r = api
            .post_v(
                "/v1/segments",
                json!({"segment": {"name": name, "recovery_method": method,
                                   "service_type": service, "enabled": enabled}}),
                "1.2",
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let names = |r: common::Resp| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        r.json["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Newest first by default, capped at max_limit.
    assert_eq!(names(api.get("/v1/segments").await), ["d", "c", "b"]);
    assert_eq!(
        names(api.get("/v1/segments?limit=50").await),
        ["d", "c", "b"]
    );
    assert_eq!(
        names(api.get("/v1/segments?limit=0").await),
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            api.get("/v1/segments?recovery_method=auto&sort_key=name&sort_dir=asc")
                .await
        ),
        ["a", "c", "d"]
    );
    assert_eq!(
        names(api.get("/v1/segments?service_type=OTHER").await),
        ["c"]
    );
    assert_eq!(names(api.get("/v1/segments?enabled=false").await), ["c"]);
    assert_eq!(
        names(api.get("/v1/segments?recovery_method=sideways").await),
        Vec::<String>::new()
    );
    // Two sort keys: service_type desc, then name desc.
    assert_eq!(
        names(
            api.get("/v1/segments?sort_key=service_type&sort_key=name&sort_dir=desc")
                .await
        ),
        ["c", "d", "b"]
    );
    // Paging with a marker resumes after it.
    let first = api
        .get("/v1/segments?sort_key=name&sort_dir=asc&limit=2")
        .await;
    let marker = first.json["segments"][1]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(names(first), ["a", "b"]);
    assert_eq!(
        names(
            api.get(&format!(
                "/v1/segments?sort_key=name&sort_dir=asc&limit=2&marker={marker}"
            ))
            .await
        ),
        ["c", "d"]
    );
    for bad in [
        "limit=-1",
        "limit=lots",
        "sort_key=secret",
        "sort_dir=sideways",
        "sort_key=name&sort_dir=asc&sort_dir=asc",
        "marker=5e600000-0000-4000-8000-000000000000",
        "enabled=perhaps",
    ] {
        let r = api.get(&format!("/v1/segments?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn every_route_is_also_served_under_a_project_id() {
    let api = Api::new();
    let r = api
        .post("/v1/0123456789abcdef/segments", body("rack-a"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let uuid = r.json["segment"]["uuid"].as_str().unwrap().to_owned();
    let r = api
        .get(&format!("/v1/0123456789abcdef/segments/{uuid}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api.get("/v1/0123456789abcdef/segments?limit=1").await;
    assert_eq!(r.json["segments"][0]["uuid"], uuid.as_str());
}
