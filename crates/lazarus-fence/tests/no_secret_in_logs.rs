//! Credentials never reach a log: every log line emitted (down to TRACE, reqwest's and
//! hyper's included) while fencing through a Redfish BMC that fails in each way, and
//! through ipmitool, is captured and searched for the password.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lazarus_fence::{BmcSection, Fleet};
use serde_json::json;

const PASSWORD: &str = "pw-that-must-never-be-logged";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn bmc() -> String {
    let app = Router::new()
        .route(
            "/redfish/v1",
            get(|| async { Json(json!({"Systems": {"@odata.id": "/redfish/v1/Systems"}})) }),
        )
        .route(
            "/redfish/v1/Systems",
            get(|| async { Json(json!({"Members": [{"@odata.id": "/redfish/v1/Systems/1"}]})) }),
        )
        .route(
            "/redfish/v1/Systems/1",
            get(|| async {
                Json(
                    json!({"PowerState": "On", "Actions": {"#ComputerSystem.Reset": {
                    "target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"}}}),
                )
            }),
        )
        .route(
            "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
            post(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route(
            "/redfish/v1/Systems/2",
            get(|| async { StatusCode::UNAUTHORIZED }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn no_log_line_carries_the_bmc_password() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let base = bmc().await;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let text = format!(
        r#"
        call_timeout = "5s"
        [hosts.flaky]
        driver = "redfish"
        address = "{base}"
        username = "lazarus"
        password_file = "{pw}"
        retry_delay = "10ms"
        [hosts.refused]
        driver = "redfish"
        address = "{base}"
        username = "lazarus"
        password = "{PASSWORD}"
        system = "2"
        [hosts.ipmi]
        driver = "ipmi"
        address = "127.0.0.1"
        port = 9
        username = "lazarus"
        password_file = "{pw}"
        request_timeout = "1s"
        retries = 0
        "#,
        pw = pw.display()
    );
    let section: BmcSection = toml::from_str(&text).unwrap();
    tracing::info!(?section, "configuration");
    let fleet = Fleet::from_config(&section).unwrap();
    tracing::info!(?fleet, "fleet");
    for host in ["flaky", "refused", "ipmi"] {
        let h = host.into();
        let off = fleet.power_off(&h).await;
        let read = fleet.power_state(&h).await;
        tracing::warn!(?off, ?read, "results");
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The HTTP layer's own trace lines were captured too.
    assert!(logs.contains("hyper_util"), "{logs}");
    assert!(logs.contains("BMC power-off failed"), "{logs}");
    assert!(
        logs.contains("retrying"),
        "the 503s were retried and logged"
    );
    assert!(
        !logs.contains(PASSWORD),
        "the password leaked into the logs:\n{logs}"
    );
    // Nor its Basic-auth encoding.
    let basic = base64_of(&format!("lazarus:{PASSWORD}"));
    assert!(!logs.contains(&basic), "the Authorization header leaked");
}

/// Standard base64, for the one string this test looks for.
fn base64_of(text: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
