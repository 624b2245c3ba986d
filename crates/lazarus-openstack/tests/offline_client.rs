//! The client against a scripted cloud: token reuse and renewal, re-authentication on
//! 401, microversion negotiation, endpoint selection, paging, error sorting, and
//! parsing of answers recorded from the devcloud. No network beyond 127.0.0.1.

// Test code: a panic is a failed assertion (as clippy.toml allows inside #[test]s;
// the helper modules need it said explicitly).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake_cloud;

use std::time::Duration;

use fake_cloud::{FakeCloud, Reply};
use lazarus_openstack::{
    ArrivalState, ClientOptions, Cloud, CloudError, EvacuateOptions, Interface, Microversion,
    MigrationFilter, MigrationType, OpenStackClient, ServiceState, ServiceUpdate, VersionRange,
};
use serde_json::json;

fn client(fake: &FakeCloud) -> OpenStackClient {
    OpenStackClient::new(&fake.config(), &ClientOptions::default()).unwrap()
}

async fn nova(max: &str) -> FakeCloud {
    let fake = FakeCloud::start().await;
    fake.keystone(3000);
    fake.nova_versions(max);
    fake.placement_versions();
    fake
}

#[tokio::test]
async fn one_token_serves_many_calls_and_carries_the_microversion() {
    let fake = nova("2.104").await;
    fake.always(
        "GET",
        "/compute/v2.1/os-services",
        Reply::fixture("os_services"),
    );
    let client = client(&fake);

    let services = client.list_compute_services().await.unwrap();
    client.list_compute_services().await.unwrap();

    assert_eq!(services.len(), 3);
    assert_eq!(services[0].host, "compute1");
    assert_eq!(services[0].state, ServiceState::Down);
    assert_eq!(fake.requests_to("POST", "/v3/auth/tokens").len(), 1);
    let calls = fake.requests_to("GET", "/compute/v2.1/os-services");
    assert_eq!(calls.len(), 2);
    for call in calls {
        assert_eq!(call.header("x-auth-token"), Some("tok-1"));
        assert_eq!(call.header("openstack-api-version"), Some("compute 2.53"));
        assert_eq!(call.query, "binary=nova-compute");
    }
    assert_eq!(
        fake.requests_to("GET", "/compute/v2.1").len(),
        1,
        "the version document is read once"
    );
}

#[tokio::test]
async fn a_401_issues_a_new_token_and_resends_once() {
    let fake = nova("2.104").await;
    fake.on("GET", "/compute/v2.1/os-services", |request, _| {
        if request.header("x-auth-token") == Some("tok-1") {
            Reply::json(
                401,
                json!({"error": {"code": 401, "message": "token revoked"}}),
            )
        } else {
            Reply::fixture("os_services")
        }
    });
    let client = client(&fake);

    client.list_compute_services().await.unwrap();

    assert_eq!(fake.requests_to("POST", "/v3/auth/tokens").len(), 2);
    let tokens: Vec<_> = fake
        .requests_to("GET", "/compute/v2.1/os-services")
        .iter()
        .map(|r| r.header("x-auth-token").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tokens, ["tok-1", "tok-2"]);
}

#[tokio::test]
async fn a_401_with_a_fresh_token_is_unauthorized_and_not_retried_again() {
    let fake = nova("2.104").await;
    fake.always(
        "GET",
        "/compute/v2.1/os-services",
        Reply::json(401, json!({"error": {"code": 401, "message": "no"}})),
    );
    let client = client(&fake);

    let error = client.list_compute_services().await.unwrap_err();

    assert!(
        matches!(error, CloudError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(
        fake.requests_to("GET", "/compute/v2.1/os-services").len(),
        2
    );
}

#[tokio::test]
async fn keystone_refusing_the_credentials_is_unauthorized() {
    let fake = FakeCloud::start().await;
    fake.always(
        "POST",
        "/v3/auth/tokens",
        Reply::json(
            401,
            json!({"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}}),
        ),
    );
    let error = client(&fake).list_compute_services().await.unwrap_err();
    assert!(
        matches!(error, CloudError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "POST /v3/auth/tokens (req-fake): unauthorized: The request you have made requires authentication."
    );
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let fake = FakeCloud::start().await;
    // Lives 1 s by Keystone's own timestamps: renewed after 0.9 s.
    fake.keystone(1);
    fake.nova_versions("2.104");
    fake.always(
        "GET",
        "/compute/v2.1/os-services",
        Reply::fixture("os_services"),
    );
    let client = client(&fake);

    client.list_compute_services().await.unwrap();
    client.list_compute_services().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    client.list_compute_services().await.unwrap();

    let tokens: Vec<_> = fake
        .requests_to("GET", "/compute/v2.1/os-services")
        .iter()
        .map(|r| r.header("x-auth-token").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tokens, ["tok-1", "tok-1", "tok-2"]);
}

#[tokio::test]
async fn evacuation_asks_for_the_newest_microversion_that_keeps_the_state() {
    let fake = nova("2.104").await;
    fake.always(
        "POST",
        "/compute/v2.1/servers/s1/action",
        Reply::text(200, "null"),
    );
    let client = client(&fake);

    client
        .evacuate("s1", &EvacuateOptions::default())
        .await
        .unwrap();
    client
        .evacuate(
            "s1",
            &EvacuateOptions {
                target_host: Some("compute2".into()),
                arrival: ArrivalState::Stopped,
            },
        )
        .await
        .unwrap();

    let calls = fake.requests_to("POST", "/compute/v2.1/servers/s1/action");
    assert_eq!(
        calls[0].header("openstack-api-version"),
        Some("compute 2.94")
    );
    assert_eq!(
        calls[0].header("x-openstack-nova-api-version"),
        Some("2.94")
    );
    assert_eq!(calls[0].json(), json!({"evacuate": {}}));
    assert_eq!(
        calls[1].header("openstack-api-version"),
        Some("compute 2.95")
    );
    assert_eq!(calls[1].json(), json!({"evacuate": {"host": "compute2"}}));
}

#[tokio::test]
async fn an_older_nova_gets_its_newest_version_and_refuses_stop_at_destination() {
    let fake = nova("2.60").await;
    fake.always(
        "POST",
        "/compute/v2.1/servers/s1/action",
        Reply::text(200, ""),
    );
    let client = client(&fake);

    assert_eq!(
        client.compute_versions().await.unwrap(),
        VersionRange {
            min: Microversion::new(2, 1),
            max: Microversion::new(2, 60)
        }
    );
    client
        .evacuate("s1", &EvacuateOptions::default())
        .await
        .unwrap();
    let stopped = EvacuateOptions {
        target_host: None,
        arrival: ArrivalState::Stopped,
    };
    let error = client.evacuate("s1", &stopped).await.unwrap_err();

    assert!(
        matches!(error, CloudError::UnsupportedMicroversion { needed, .. } if needed == Microversion::new(2, 95)),
        "{error:?}"
    );
    let calls = fake.requests_to("POST", "/compute/v2.1/servers/s1/action");
    assert_eq!(calls.len(), 1, "the refused evacuation was never sent");
    assert_eq!(
        calls[0].header("openstack-api-version"),
        Some("compute 2.60")
    );
}

#[tokio::test]
async fn force_down_and_disable_is_a_single_put() {
    let fake = nova("2.104").await;
    fake.always(
        "PUT",
        "/compute/v2.1/os-services/svc-1",
        Reply::json(
            200,
            json!({"service": {"id": "svc-1", "binary": "nova-compute", "host": "compute1",
            "zone": "nova", "status": "disabled", "state": "down", "forced_down": true,
            "disabled_reason": "lazarus: fenced", "updated_at": "2026-01-01T10:00:00.000000"}}),
        ),
    );
    let client = client(&fake);

    let service = client
        .update_compute_service(
            "svc-1",
            &ServiceUpdate::force_down_and_disable("lazarus: fenced"),
        )
        .await
        .unwrap();

    assert!(service.forced_down);
    let calls = fake.requests_to("PUT", "/compute/v2.1/os-services/svc-1");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].json(),
        json!({"status": "disabled", "disabled_reason": "lazarus: fenced", "forced_down": true})
    );
    assert_eq!(
        calls[0].header("openstack-api-version"),
        Some("compute 2.53")
    );
}

#[tokio::test]
async fn nova_refusals_are_sorted_into_what_the_core_can_act_on() {
    let fake = nova("2.104").await;
    fake.always(
        "POST",
        "/compute/v2.1/servers/live/action",
        Reply::json(
            400,
            json!({"badRequest": {"code": 400,
            "message": "Compute service of compute1 is still in use."}}),
        ),
    );
    fake.always(
        "PUT",
        "/compute/v2.1/os-services/svc-1",
        Reply::json(400, json!({"badRequest": {"code": 400, "message":
            "Unable to force up host compute1 as `done` evacuation migration records remain associated with the host. Ensure the compute service has been restarted, allowing these records to move to `completed` before retrying this request."}})),
    );
    fake.always(
        "POST",
        "/compute/v2.1/servers/busy/action",
        Reply::json(
            409,
            json!({"conflictingRequest": {"code": 409,
            "message": "Cannot 'evacuate' instance busy while it is in task_state rebuilding"}}),
        ),
    );
    fake.always(
        "POST",
        "/compute/v2.1/servers/broken/action",
        Reply::text(503, "<html>Service Unavailable</html>"),
    );
    let client = client(&fake);
    let evacuate = EvacuateOptions::default();

    let in_use = client.evacuate("live", &evacuate).await.unwrap_err();
    let still_done = client
        .update_compute_service("svc-1", &ServiceUpdate::lift_forced_down_and_enable())
        .await
        .unwrap_err();
    let conflict = client.evacuate("busy", &evacuate).await.unwrap_err();
    let unavailable = client.evacuate("broken", &evacuate).await.unwrap_err();
    let missing = client.get_server("nope").await.unwrap_err();

    assert!(
        matches!(in_use, CloudError::ComputeServiceInUse { .. }),
        "{in_use:?}"
    );
    assert!(
        matches!(still_done, CloudError::EvacuationsStillDone { .. }),
        "{still_done:?}"
    );
    assert!(
        matches!(conflict, CloudError::Conflict { .. }),
        "{conflict:?}"
    );
    assert!(
        matches!(unavailable, CloudError::ServerError { status: 503, .. }),
        "{unavailable:?}"
    );
    assert!(
        matches!(missing, CloudError::NotFound { .. }),
        "{missing:?}"
    );
    assert!(in_use.is_retryable() && still_done.is_retryable() && conflict.is_retryable());
    assert!(unavailable.is_retryable() && !missing.is_retryable());
    assert_eq!(
        in_use.request().and_then(|r| r.request_id.as_deref()),
        Some("req-fake")
    );
    assert_eq!(
        fake.requests_to("POST", "/compute/v2.1/servers/broken/action")
            .len(),
        1,
        "a POST is never resent"
    );
}

#[tokio::test]
async fn a_slow_service_times_out_and_an_absent_one_is_unreachable() {
    let fake = nova("2.104").await;
    fake.always(
        "GET",
        "/compute/v2.1/os-services",
        Reply::fixture("os_services").delayed(Duration::from_secs(2)),
    );
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
    };
    let client = OpenStackClient::new(&fake.config(), &options).unwrap();
    let error = client.list_compute_services().await.unwrap_err();
    assert!(
        matches!(error, CloudError::Timeout { after, .. } if after == Duration::from_millis(300)),
        "{error:?}"
    );
    assert!(error.is_retryable());

    // A port nobody listens on: bind one, note it, close it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = fake.config();
    config.auth_url = format!("http://127.0.0.1:{port}/v3");
    let error = OpenStackClient::new(&config, &options)
        .unwrap()
        .list_compute_services()
        .await
        .unwrap_err();
    assert!(matches!(error, CloudError::Unreachable { .. }), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn endpoints_come_from_the_configured_region_and_interface() {
    let fake = FakeCloud::start().await;
    let catalog = fake.catalog(&[("RegionOne", "/r1"), ("RegionTwo", "/r2")]);
    fake.keystone_with_catalog(3000, catalog);
    for prefix in ["/r1", "/r2", "/r2/int"] {
        let mut document: serde_json::Value =
            serde_json::from_str(&fake_cloud::fixture("compute_version")).unwrap();
        document["version"]["version"] = json!("2.104");
        fake.always(
            "GET",
            &format!("{prefix}/compute/v2.1"),
            Reply::json(200, document),
        );
        fake.always(
            "GET",
            &format!("{prefix}/compute/v2.1/os-services"),
            Reply::fixture("os_services"),
        );
    }
    let mut config = fake.config();
    config.region = Some("RegionTwo".into());
    OpenStackClient::new(&config, &ClientOptions::default())
        .unwrap()
        .list_compute_services()
        .await
        .unwrap();
    config.interface = Interface::Internal;
    OpenStackClient::new(&config, &ClientOptions::default())
        .unwrap()
        .list_compute_services()
        .await
        .unwrap();

    assert_eq!(
        fake.requests_to("GET", "/r2/compute/v2.1/os-services")
            .len(),
        1
    );
    assert_eq!(
        fake.requests_to("GET", "/r2/int/compute/v2.1/os-services")
            .len(),
        1
    );
    assert!(fake
        .requests_to("GET", "/r1/compute/v2.1/os-services")
        .is_empty());

    config.region = Some("RegionThree".into());
    let error = OpenStackClient::new(&config, &ClientOptions::default())
        .unwrap()
        .list_compute_services()
        .await
        .unwrap_err();
    assert!(matches!(error, CloudError::NoEndpoint { .. }), "{error:?}");
}

#[tokio::test]
async fn servers_on_a_host_follow_pages_and_carry_their_server_group() {
    let fake = nova("2.104").await;
    let recorded: serde_json::Value =
        serde_json::from_str(&fake_cloud::fixture("servers_detail")).unwrap();
    let first = recorded["servers"][0].clone();
    let second = recorded["servers"][1].clone();
    let second_id = second["id"].as_str().unwrap().to_owned();
    let base = fake.base.clone();
    fake.on("GET", "/compute/v2.1/servers/detail", move |request, _| {
        if request.query.contains("marker=") {
            Reply::json(200, json!({"servers": [second.clone()]}))
        } else {
            let next = format!(
                "{base}/compute/v2.1/servers/detail?all_tenants=true&host=compute1&marker={}",
                first["id"].as_str().unwrap()
            );
            Reply::json(
                200,
                json!({"servers": [first.clone()],
                "servers_links": [{"rel": "next", "href": next}]}),
            )
        }
    });
    let groups_id = second_id.clone();
    fake.on(
        "GET",
        "/compute/v2.1/os-server-groups",
        move |request, _| {
            if request.query.contains("offset=0") {
                Reply::json(
                    200,
                    json!({"server_groups": [{"id": "g1", "name": "db",
                "policy": "anti-affinity", "rules": {}, "members": [groups_id.clone()],
                "project_id": "p", "user_id": "u"}]}),
                )
            } else {
                Reply::json(200, json!({"server_groups": []}))
            }
        },
    );
    let client = client(&fake);

    let servers = client.list_servers_on_host("compute1").await.unwrap();

    assert_eq!(servers.len(), 2);
    let calls = fake.requests_to("GET", "/compute/v2.1/servers/detail");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].query, "all_tenants=true&host=compute1");
    assert_eq!(
        calls[0].header("openstack-api-version"),
        Some("compute 2.96")
    );
    assert!(calls[1]
        .query
        .ends_with(&format!("marker={}", servers[0].id)));
    let grouped = servers.iter().find(|s| s.id == second_id).unwrap();
    assert_eq!(grouped.server_groups, ["g1"]);
    let flavor = servers[0].flavor.as_ref().unwrap();
    assert_eq!((flavor.vcpus, flavor.ram, flavor.disk), (1, 512, 1));
    assert_eq!(servers[0].availability_zone.as_deref(), Some("nova"));
    assert!(servers[0].image_id.is_some());
    assert!(servers[0].launched_at.is_some());
}

#[tokio::test]
async fn recorded_nova_and_placement_answers_parse() {
    let fake = nova("2.104").await;
    fake.always(
        "GET",
        "/compute/v2.1/os-migrations",
        Reply::fixture("os_migrations"),
    );
    fake.always(
        "GET",
        "/compute/v2.1/os-hypervisors/detail",
        Reply::fixture("hypervisors"),
    );
    fake.always(
        "GET",
        "/placement/resource_providers",
        Reply::fixture("resource_providers"),
    );
    let rp = "e36f3671-8fdd-55d3-be00-b3f0ca230e8f";
    for (part, name) in [
        ("inventories", "rp_inventories"),
        ("usages", "rp_usages"),
        ("aggregates", "rp_aggregates"),
        ("traits", "rp_traits"),
    ] {
        fake.always(
            "GET",
            &format!("/placement/resource_providers/{rp}/{part}"),
            Reply::fixture(name),
        );
    }
    let client = client(&fake);

    let filter = MigrationFilter {
        host: Some("compute1".into()),
        migration_type: Some(MigrationType::Evacuation),
        changes_since: Some(lazarus_openstack::Timestamp::new("2026-11-21T11:00:00Z")),
        ..MigrationFilter::default()
    };
    let migrations = client.list_migrations(&filter).await.unwrap();
    let hypervisors = client.list_hypervisors().await.unwrap();
    let providers = client.list_resource_providers().await.unwrap();
    let inventories = client.provider_inventories(rp).await.unwrap();
    let usages = client.provider_usages(rp).await.unwrap();
    let aggregates = client.provider_aggregates(rp).await.unwrap();
    let traits = client.provider_traits(rp).await.unwrap();

    assert_eq!(migrations[0].migration_type, MigrationType::Evacuation);
    assert_eq!(migrations[0].status, "done");
    let query = &fake.requests_to("GET", "/compute/v2.1/os-migrations")[0];
    assert_eq!(
        query.query,
        "host=compute1&migration_type=evacuation&changes-since=2026-11-21T11%3A00%3A00Z"
    );
    assert_eq!(query.header("openstack-api-version"), Some("compute 2.80"));
    assert_eq!(hypervisors.len(), 3);
    assert!(
        hypervisors
            .iter()
            .all(|h| providers.iter().any(|p| p.uuid == h.id)),
        "hypervisor ids are resource provider uuids"
    );
    assert_eq!(inventories.inventories["VCPU"].total, 16);
    assert_eq!(usages.usages["MEMORY_MB"], 512);
    assert!(aggregates.aggregates.is_empty());
    assert!(traits.traits.iter().any(|t| t == "COMPUTE_NODE"));
    let placement_call = &fake.requests_to("GET", "/placement/resource_providers")[0];
    assert_eq!(
        placement_call.header("openstack-api-version"),
        Some("placement 1.39")
    );
}

#[tokio::test]
async fn debug_output_never_shows_a_secret() {
    let fake = nova("2.104").await;
    fake.always(
        "GET",
        "/compute/v2.1/os-services",
        Reply::fixture("os_services"),
    );
    let config = fake.config();
    let client = client(&fake);
    client.list_compute_services().await.unwrap();

    let debug = format!("{config:?} {client:?}");
    assert!(!debug.contains("fake-password-123"), "{debug}");
    assert!(!debug.contains("tok-1"), "{debug}");
    let login = &fake.requests_to("POST", "/v3/auth/tokens")[0];
    assert!(
        login.body.contains("fake-password-123"),
        "the password is sent to Keystone only"
    );
}
