//! Version discovery, microversions, routing and the OpenAPI document.

mod common;

use axum::http::{Method, StatusCode};
use common::Api;
use serde_json::Value;

#[tokio::test]
async fn the_root_lists_v1_with_microversions_1_0_to_1_3() {
    let api = Api::new();
    let r = api.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = &r.json["versions"][0];
    assert_eq!(v["id"], "v1.0");
    assert_eq!(v["status"], "CURRENT");
    assert_eq!(v["min_version"], "1.0");
    assert_eq!(v["version"], "1.3");
}

#[tokio::test]
async fn the_v1_document_is_served_at_every_spelling_of_its_path() {
    let api = Api::new();
    for path in ["/v1", "/v1/", "/v1/0123abcd"] {
        let r = api.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.json["version"]["version"], "1.3", "{path}");
        assert_eq!(r.json["version"]["min_version"], "1.0", "{path}");
    }
}

#[tokio::test]
async fn responses_carry_the_microversion_they_were_served_at() {
    let api = Api::new();
    let header = |r: &common::Resp| {
        r.headers
            .get("openstack-api-version")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header(&api.get("/v1/segments").await), "instance-ha 1.0");
    assert_eq!(
        header(&api.get_v("/v1/segments", "1.2").await),
        "instance-ha 1.2"
    );
    assert_eq!(
        header(&api.get_v("/v1/segments", "latest").await),
        "instance-ha 1.3"
    );
    let r = api.get_v("/v1/segments/nope", "1.1").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(header(&r), "instance-ha 1.1");
    assert!(r
        .headers
        .get_all("vary")
        .iter()
        .any(|v| v == "OpenStack-API-Version"));
}

#[tokio::test]
async fn an_unsupported_microversion_is_406_and_a_malformed_one_400() {
    let api = Api::new();
    let r = api.get_v("/v1/segments", "1.4").await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert!(
        r.message().contains("Minimum is 1.0 and maximum is 1.3"),
        "{}",
        r.message()
    );
    let r = api.get_v("/v1/segments", "one.two").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.fault(), "badRequest");
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_fault_bodies() {
    let api = Api::new();
    let r = api.get("/v2/segments").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.fault(), "itemNotFound");
    let r = api.raw(Method::PATCH, "/v1/segments", "{}", &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.fault(), "badMethod");
    let r = api.raw(Method::DELETE, "/v1/notifications", "", &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let api = Api::new();
    let r = api.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["openapi"], "3.1.0");
    let paths = r.json["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.push((method.to_owned(), path.clone()));
            }
        }
    }
    let mut served: Vec<(String, String)> = lazarus_api::routes::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    // Every operation documents its success answer.
    for (method, path) in &served {
        let responses = &paths[path][method]["responses"];
        assert!(
            responses
                .as_object()
                .is_some_and(|o| o.keys().any(|k| k.starts_with('2'))),
            "{method} {path} has no 2xx response"
        );
    }
    // And every served route answers something other than 404/405 (the table is real).
    for (method, path) in &served {
        let concrete = path
            .replace("{segment_id}", "x")
            .replace("{host_id}", "x")
            .replace("{notification_id}", "x")
            .replace("{vmove_id}", "x");
        let m: Method = method.to_uppercase().parse().unwrap();
        let r = api.raw(m, &concrete, "{}", &[]).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if r.status == StatusCode::NOT_FOUND {
            assert_ne!(
                r.message(),
                "The resource could not be found.",
                "{method} {path}"
            );
        }
        let _: &Value = &r.json;
    }
}

#[tokio::test]
async fn an_oversized_body_is_413_with_a_fault_body() {
    let api = Api::new();
    let big = format!(
        r#"{{"segment": {{"name": "a", "recovery_method": "auto", "service_type": "C", "description": "{}"}}}}"#,
        "x".repeat(lazarus_api::routes::MAX_BODY_BYTES)
    );
    let r = api.raw(Method::POST, "/v1/segments", &big, &[]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.fault(), "overLimit");
    assert!(!r.message().is_empty());
    assert!(api.get("/v1/segments").await.json["segments"]
        .as_array()
        .unwrap()
        .is_empty());
}
