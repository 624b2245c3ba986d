//! `--os-cloud`: the CLI authenticates to Keystone with `clouds.yaml` credentials,
//! finds the lazarus API in the token's catalog and sends the token with each request.
//! A stand-in Keystone issues the token; the real lazarus API refuses requests without
//! it.

// Fixture helpers outside `#[test]` functions fail the test on error, as tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use clap::Parser;
use lazarus_api::{
    AllowAllComputeHosts, ApiConfig, ApiState, AuthError, Authenticator, NoopSink, Principal,
    SystemClock,
};
use lazarus_cli::{execute_to_text, keystone, Cli, Context};
use lazarus_openstack::CloudConfig;
use lazarus_store::SqliteStore;
use serde_json::{json, Value};

const TOKEN: &str = "gAAAA-test-token";

/// Accepts exactly [`TOKEN`], as an admin.
#[derive(Debug)]
struct OneToken;

#[async_trait]
impl Authenticator for OneToken {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        match headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
            Some(TOKEN) => Ok(Principal {
                user: "admin".into(),
                project_id: Some("p1".into()),
                roles: vec!["admin".into()],
            }),
            Some(_) => Err(AuthError::Invalid("unknown token".into())),
            None => Err(AuthError::Missing),
        }
    }
}

async fn serve_api(dir: &Path) -> String {
    let state = ApiState {
        store: Arc::new(SqliteStore::open(dir.join("db.sqlite")).unwrap()),
        sink: Arc::new(NoopSink),
        compute: Arc::new(AllowAllComputeHosts),
        auth: Arc::new(OneToken),
        clock: Arc::new(SystemClock),
        config: ApiConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(lazarus_api::serve(listener, state));
    url
}

/// A Keystone that issues [`TOKEN`] for user admin / password secret, with a catalog
/// listing `instance-ha` at `api` (with Masakari's `/v1/{project}` suffix) unless
/// `api` is `None`.
async fn serve_keystone(api: Option<String>) -> String {
    let app = Router::new().route(
        "/v3/auth/tokens",
        post(move |Json(body): Json<Value>| {
            let api = api.clone();
            async move {
                let pw = body.pointer("/auth/identity/password/user/password");
                if pw != Some(&json!("secret")) {
                    return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
                }
                let mut catalog = vec![json!({"type": "identity", "endpoints": [
                    {"interface": "public", "region_id": "RegionOne", "url": "http://keystone/v3"}]})];
                if let Some(api) = api {
                    catalog.push(json!({"type": "instance-ha", "name": "lazarus", "endpoints": [
                        {"interface": "public", "region_id": "RegionOne", "url": format!("{api}/v1/p1")}]}));
                }
                (
                    [("x-subject-token", TOKEN)],
                    Json(json!({"token": {
                        "issued_at": "2026-11-21T10:00:00.000000Z",
                        "expires_at": "2026-11-21T11:00:00.000000Z",
                        "catalog": catalog}})),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn cloud(keystone: &str) -> CloudConfig {
    let yaml = format!(
        "clouds:\n  test:\n    auth:\n      auth_url: {keystone}/v3\n      username: admin\n      \
         password: secret\n      project_name: admin\n      user_domain_name: Default\n      \
         project_domain_name: Default\n    region_name: RegionOne\n"
    );
    CloudConfig::from_clouds_text(&yaml, None, "test", Path::new("clouds.yaml")).unwrap()
}

async fn run(ctx: &Context, args: &str) -> String {
    let mut argv = vec!["lazarus".to_owned()];
    argv.extend(args.split_whitespace().map(str::to_owned));
    let cli = Cli::try_parse_from(&argv).unwrap();
    execute_to_text(&cli.command, ctx)
        .await
        .unwrap_or_else(|e| panic!("{args}: {e}"))
}

#[tokio::test]
async fn the_catalog_endpoint_is_used_with_the_keystone_token() {
    let dir = tempfile::tempdir().unwrap();
    let api = serve_api(dir.path()).await;
    let keystone = serve_keystone(Some(api.clone())).await;
    let client = keystone::client(&cloud(&keystone), None, "1.3", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(client.base(), api, "the /v1/{{project}} suffix is dropped");
    let ctx = Context {
        client,
        now: DateTime::<Utc>::UNIX_EPOCH,
    };
    run(&ctx, "segment create rack-a").await;
    assert_eq!(run(&ctx, "segment list -f value -c name").await, "rack-a\n");
}

#[tokio::test]
async fn an_explicit_endpoint_needs_no_catalog_entry() {
    let dir = tempfile::tempdir().unwrap();
    let api = serve_api(dir.path()).await;
    let keystone = serve_keystone(None).await;
    let config = cloud(&keystone);
    let missing = keystone::client(&config, None, "1.3", Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("--endpoint"), "{missing}");
    let client = keystone::client(&config, Some(&api), "1.3", Duration::from_secs(10))
        .await
        .unwrap();
    let ctx = Context {
        client,
        now: DateTime::<Utc>::UNIX_EPOCH,
    };
    assert_eq!(run(&ctx, "segment list -f json").await, "[]\n");
}

#[tokio::test]
async fn without_a_token_the_api_refuses_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let api = serve_api(dir.path()).await;
    let client =
        lazarus_cli::LazarusClient::new(&api, None, "1.3", Duration::from_secs(10)).unwrap();
    let ctx = Context {
        client,
        now: DateTime::<Utc>::UNIX_EPOCH,
    };
    let cli = Cli::try_parse_from(["lazarus", "segment", "list"]).unwrap();
    let e = execute_to_text(&cli.command, &ctx).await.unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("Authentication required"), "{e}");
}
