//! A scripted OpenStack for offline tests: a tiny HTTP/1.1 server on 127.0.0.1 that
//! answers each route with a handler and records every request.
//!
//! Hand-written (about 200 lines) instead of `wiremock`/`httpmock`: those would add a
//! hyper server stack and a dozen crates to build on a 2-core machine, for what is a
//! loop over `TcpListener` here. One request per connection (`Connection: close`),
//! like the devcloud's uWSGI servers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_openstack::{CloudConfig, Credentials, Interface, NameOrId, Secret};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The query string (without `?`), possibly empty.
    pub query: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering (to provoke timeouts).
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    /// A recorded answer from `tests/fixtures/<name>.json`.
    pub fn fixture(name: &str) -> Self {
        Self::text(200, &fixture(name))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// The text of `tests/fixtures/<name>.json` (answers recorded from the devcloud).
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A handler gets the request and how many times its route was hit before.
type Handler = Arc<dyn Fn(&Recorded, usize) -> Reply + Send + Sync>;

struct Route {
    method: String,
    path: String,
    handler: Handler,
    hits: usize,
}

#[derive(Default)]
struct State {
    routes: Vec<Route>,
    requests: Vec<Recorded>,
}

/// The fake cloud. Routes match method and exact path; unmatched requests get 404.
#[derive(Clone)]
pub struct FakeCloud {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl FakeCloud {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let accept_state = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&accept_state)));
            }
        });
        Self { base, state }
    }

    /// Answers `method path` with `handler`.
    pub fn on(
        &self,
        method: &str,
        path: &str,
        handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) {
        self.state.lock().unwrap().routes.push(Route {
            method: method.to_owned(),
            path: path.to_owned(),
            handler: Arc::new(handler),
            hits: 0,
        });
    }

    /// Answers `method path` with the same reply every time.
    pub fn always(&self, method: &str, path: &str, reply: Reply) {
        self.on(method, path, move |_, _| reply.clone());
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests to `method path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// Keystone issuing tokens `tok-1`, `tok-2`... that live `lifetime_secs`, with a
    /// catalog that points compute to `/compute/v2.1` and placement to `/placement`
    /// of this server, in RegionOne (public and internal).
    pub fn keystone(&self, lifetime_secs: u64) {
        let catalog = self.catalog(&[("RegionOne", "")]);
        self.keystone_with_catalog(lifetime_secs, catalog);
    }

    /// A catalog with compute, placement and image endpoints per `(region, prefix)`.
    pub fn catalog(&self, regions: &[(&str, &str)]) -> Value {
        let mut services = Vec::new();
        for (service_type, path) in [
            ("compute", "/compute/v2.1"),
            ("placement", "/placement"),
            ("image", "/image"),
        ] {
            let mut endpoints = Vec::new();
            for (region, prefix) in regions {
                for interface in ["public", "internal"] {
                    let url = format!("{}{prefix}{}{path}", self.base, interface_prefix(interface));
                    endpoints.push(json!({"interface": interface, "region_id": region,
                        "region": region, "url": url, "id": "x"}));
                }
            }
            services.push(
                json!({"type": service_type, "name": service_type, "id": "s",
                "endpoints": endpoints}),
            );
        }
        Value::Array(services)
    }

    pub fn keystone_with_catalog(&self, lifetime_secs: u64, catalog: Value) {
        let expires = format!(
            "2026-01-01T10:{:02}:{:02}.000000Z",
            lifetime_secs / 60,
            lifetime_secs % 60
        );
        self.on("POST", "/v3/auth/tokens", move |_, hits| {
            let mut token = serde_json::from_str::<Value>(&fixture("token")).unwrap();
            token["token"]["issued_at"] = json!("2026-01-01T10:00:00.000000Z");
            token["token"]["expires_at"] = json!(expires);
            token["token"]["catalog"] = catalog.clone();
            let mut reply = Reply::json(201, token);
            reply
                .headers
                .push(("X-Subject-Token".into(), format!("tok-{}", hits + 1)));
            reply
        });
    }

    /// Nova's version document with this maximum microversion.
    pub fn nova_versions(&self, max: &str) {
        let mut document: Value = serde_json::from_str(&fixture("compute_version")).unwrap();
        document["version"]["version"] = json!(max);
        self.always("GET", "/compute/v2.1", Reply::json(200, document));
    }

    /// Placement's root document (recorded: 1.0-1.39).
    pub fn placement_versions(&self) {
        self.always("GET", "/placement/", Reply::fixture("placement_root"));
    }

    /// A configuration pointing at this fake (password auth, RegionOne, public).
    pub fn config(&self) -> CloudConfig {
        CloudConfig {
            origin: "fake".into(),
            auth_url: format!("{}/v3", self.base),
            credentials: Credentials::Password {
                user: NameOrId {
                    name: Some("admin".into()),
                    domain_name: Some("Default".into()),
                    ..NameOrId::default()
                },
                password: Secret::new("fake-password-123"),
                project: Some(NameOrId {
                    name: Some("admin".into()),
                    domain_name: Some("Default".into()),
                    ..NameOrId::default()
                }),
            },
            region: Some("RegionOne".into()),
            interface: Interface::Public,
            verify_tls: true,
            ca_cert: None,
        }
    }
}

/// Internal endpoints live under `/int` so tests can tell them apart.
fn interface_prefix(interface: &str) -> &'static str {
    match interface {
        "internal" => "/int",
        _ => "",
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let handler = {
        let mut state = state.lock().unwrap();
        state.requests.push(request.clone());
        let route = state
            .routes
            .iter_mut()
            .rev()
            .find(|r| r.method == request.method && r.path == request.path);
        route.map(|r| {
            r.hits += 1;
            (Arc::clone(&r.handler), r.hits - 1)
        })
    };
    let reply = match handler {
        Some((handler, hits)) => handler(&request, hits),
        None => Reply::json(
            404,
            json!({"itemNotFound": {"code": 404, "message": format!("no fake route for {} {}", request.method, request.path)}}),
        ),
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nx-openstack-request-id: req-fake\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(reply.body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target, String::new()),
    };
    Some(Recorded {
        method,
        path,
        query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
