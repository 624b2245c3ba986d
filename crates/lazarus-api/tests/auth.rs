//! The read/write policy over the Authenticator.

mod common;

use async_trait::async_trait;
use axum::http::{HeaderMap, StatusCode};
use common::Api;
use lazarus_api::{AuthError, Authenticator, Principal};
use serde_json::json;

/// Grants the roles named in the `x-roles` header; no header is no credentials.
#[derive(Debug)]
struct HeaderRoles;

#[async_trait]
impl Authenticator for HeaderRoles {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let roles = headers
            .get("x-roles")
            .ok_or(AuthError::Missing)?
            .to_str()
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        Ok(Principal {
            user: "u".into(),
            project_id: None,
            roles: roles.split(',').map(str::to_owned).collect(),
        })
    }
}

#[tokio::test]
async fn readers_read_admins_write_and_strangers_do_neither() {
    let api = Api::builder().auth(HeaderRoles).build();
    let body = json!({"segment": {"name": "a", "recovery_method": "auto", "service_type": "C"}})
        .to_string();
    let post = |roles: Option<&'static str>| {
        let body = body.clone();
        let api = &api;
        async move {
            let headers: Vec<(&str, &str)> = roles.map(|r| ("x-roles", r)).into_iter().collect();
            api.raw(axum::http::Method::POST, "/v1/segments", &body, &headers)
                .await
        }
    };
    let r = post(None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.fault(), "unauthorized");
    let r = post(Some("reader")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.fault(), "forbidden");
    assert_eq!(post(Some("member,admin")).await.status, StatusCode::CREATED);
    let list = api
        .raw(
            axum::http::Method::GET,
            "/v1/segments",
            "",
            &[("x-roles", "reader")],
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["segments"].as_array().unwrap().len(), 1);
    let list = api
        .raw(
            axum::http::Method::GET,
            "/v1/segments",
            "",
            &[("x-roles", "observer")],
        )
        .await;
    assert_eq!(list.status, StatusCode::FORBIDDEN);
    // Version discovery needs no credentials.
    assert_eq!(api.get("/").await.status, StatusCode::OK);
    assert_eq!(api.get("/v1").await.status, StatusCode::OK);
    assert_eq!(
        api.get("/v1/segments").await.status,
        StatusCode::UNAUTHORIZED
    );
}
