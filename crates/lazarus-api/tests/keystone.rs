//! KeystoneAuth against a fake Keystone on loopback.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use common::Api;
use lazarus_api::KeystoneAuth;
use serde_json::json;

/// A Keystone that knows two tokens, and counts validations.
async fn fake_keystone() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/identity/v3/auth/tokens",
        get(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let auth = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
                let subject = headers.get("x-subject-token").and_then(|v| v.to_str().ok());
                if auth != subject {
                    return (StatusCode::FORBIDDEN, Json(json!({})));
                }
                let roles = match subject {
                    Some("admin-token") => vec!["admin", "reader"],
                    Some("reader-token") => vec!["reader"],
                    Some("broken-keystone") => {
                        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({})))
                    }
                    _ => return (StatusCode::NOT_FOUND, Json(json!({"error": {"code": 404}}))),
                };
                let roles: Vec<_> = roles.into_iter().map(|r| json!({"name": r})).collect();
                (
                    StatusCode::OK,
                    Json(
                        json!({"token": {"user": {"name": "alice"}, "project": {"id": "p1"},
                                          "roles": roles}}),
                    ),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/identity", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

fn keystone(url: &str) -> KeystoneAuth {
    KeystoneAuth::new(url, Duration::from_secs(2), Duration::from_secs(60)).unwrap()
}

async fn call(api: &Api, method: Method, token: Option<&str>) -> common::Resp {
    let body = json!({"segment": {"name": "rack", "recovery_method": "auto", "service_type": "C"}})
        .to_string();
    let headers: Vec<(&str, &str)> = token.map(|t| ("X-Auth-Token", t)).into_iter().collect();
    let body = if method == Method::POST {
        body
    } else {
        String::new()
    };
    api.raw(method, "/v1/segments", &body, &headers).await
}

#[tokio::test]
async fn keystone_roles_decide_who_reads_and_who_writes() {
    let (url, _) = fake_keystone().await;
    let api = Api::builder().auth(keystone(&url)).build();
    assert_eq!(
        call(&api, Method::GET, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&api, Method::GET, Some("stolen")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&api, Method::POST, Some("reader-token")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&api, Method::POST, Some("admin-token")).await.status,
        StatusCode::CREATED
    );
    let list = call(&api, Method::GET, Some("reader-token")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["segments"][0]["name"], "rack");
}

#[tokio::test]
async fn a_valid_token_is_validated_once_and_then_served_from_the_cache() {
    let (url, hits) = fake_keystone().await;
    let api = Api::builder().auth(keystone(&url)).build();
    for _ in 0..5 {
        assert_eq!(
            call(&api, Method::GET, Some("reader-token")).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Rejections are not cached: each bad token is asked about.
    for _ in 0..2 {
        call(&api, Method::GET, Some("stolen")).await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_unreachable_or_failing_keystone_is_503_not_401() {
    let (url, _) = fake_keystone().await;
    let api = Api::builder().auth(keystone(&url)).build();
    let r = call(&api, Method::GET, Some("broken-keystone")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.fault(), "serviceUnavailable");
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let api = Api::builder()
        .auth(keystone(&format!("http://{closed}/v3")))
        .build();
    let r = call(&api, Method::GET, Some("admin-token")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}
