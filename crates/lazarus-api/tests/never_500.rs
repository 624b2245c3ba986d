//! Whatever a client sends, the answer is a 2xx or a 4xx with a fault body: never a 500,
//! never a panic.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::Api;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON, biased towards the field names and values the API knows.
fn json_value() -> impl Strategy<Value = Value> {
    let known = prop::sample::select(vec![
        "name",
        "type",
        "hostname",
        "payload",
        "event",
        "recovery_method",
        "service_type",
        "enabled",
        "reserved",
        "on_maintenance",
        "control_attributes",
        "generated_time",
        "description",
        "host_status",
        "process_name",
        "instance_uuid",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(vec![
            "auto",
            "COMPUTE",
            "COMPUTE_HOST",
            "PROCESS",
            "VM",
            "STOPPED",
            "NORMAL",
            "True",
            "2026-01-01T00:00:00",
            "c1",
            " ",
            "",
            "nova-compute",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(known.clone().prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn is_fault_or_success(r: &common::Resp) -> bool {
    r.status.is_success() || (r.status.is_client_error() && !r.message().is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_get_a_success_or_a_4xx_fault(
        inner in json_value(),
        route in 0usize..5,
        raw in prop::option::of(".{0,30}"),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let api = Api::new();
            let seg = api.segment("rack").await;
            let host = api.host(&seg, "c1").await;
            let (method, path, key) = match route {
                0 => (Method::POST, "/v1/segments".to_owned(), "segment"),
                1 => (Method::PUT, format!("/v1/segments/{seg}"), "segment"),
                2 => (Method::POST, format!("/v1/segments/{seg}/hosts"), "host"),
                3 => (Method::PUT, format!("/v1/segments/{seg}/hosts/{host}"), "host"),
                _ => (Method::POST, "/v1/notifications".to_owned(), "notification"),
            };
            let body = match &raw {
                Some(text) => text.clone(),
                None => json!({ key: inner }).to_string(),
            };
            for version in ["1.0", "1.3"] {
                let h = format!("instance-ha {version}");
                let r = api
                    .raw(method.clone(), &path, &body, &[("OpenStack-API-Version", &h)])
                    .await;
                assert!(is_fault_or_success(&r), "{method} {path} {body} -> {r:?}");
                assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
            }
        });
    }

    #[test]
    fn arbitrary_query_strings_get_a_success_or_a_4xx_fault(
        query in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "limit", "marker", "sort_key", "sort_dir", "status", "type", "enabled",
                    "reserved", "on_maintenance", "generated-since", "name", "recovery_method",
                ]),
                ".{0,12}",
            ),
            0..5,
        ),
        route in 0usize..3,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let api = Api::new();
            let seg = api.segment("rack").await;
            api.host(&seg, "c1").await;
            let path = match route {
                0 => "/v1/segments".to_owned(),
                1 => format!("/v1/segments/{seg}/hosts"),
                _ => "/v1/notifications".to_owned(),
            };
            let qs: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            let r = api.get(&format!("{path}?{qs}")).await;
            assert!(is_fault_or_success(&r), "{path}?{qs} -> {r:?}");
        });
    }
}
