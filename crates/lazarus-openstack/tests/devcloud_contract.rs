//! Contract tests: every adapter call, for real, against the devcloud.
//!
//! ```text
//! bin/devcloud up && eval "$(bin/devcloud env)"
//! cargo nextest run -p lazarus-openstack --run-ignored all
//! ```
//!
//! They are `#[ignore]`d so that a plain `cargo test` stays offline; run, they fail
//! loudly if the devcloud is missing. The scenarios that change the cloud take a lock
//! (one at a time, across processes) and leave the cloud as they found it. Figures
//! (boot, evacuation, return to service) are printed as `MEASURED ...` and appended
//! to `target/test-logs/openstack-contract.txt`.

// Test code: a panic is a failed assertion (as clippy.toml allows inside #[test]s;
// the helper modules need it said explicitly).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod devcloud;

use std::collections::HashMap;
use std::time::Duration;

use devcloud::{
    admin, boot_active, compute, config, devcloud, healthy_hosts, lift_forced_down, measured,
    wait_for, wait_server, Scenario, PREFIX, REASON,
};
use lazarus_openstack::{
    ArrivalState, ClientOptions, Cloud, CloudConfig, CloudError, Credentials, EvacuateOptions,
    Microversion, MigrationFilter, MigrationType, OpenStackClient, ResetState, Secret,
    ServerAction, ServiceState, ServiceStatus, ServiceUpdate, Timestamp, VmState,
};
use serde_json::{json, Value};
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the devcloud (bin/devcloud up)"]
async fn reads_services_hypervisors_groups_migrations_and_placement() {
    let client = admin().await;

    let nova = client.compute_versions().await.unwrap();
    let placement = client.placement_versions().await.unwrap();
    measured(&format!(
        "nova microversions {}-{}, placement {}-{}",
        nova.min, nova.max, placement.min, placement.max
    ));
    assert!(
        nova.max >= Microversion::new(2, 95),
        "the devcloud's Nova offers 2.95"
    );
    assert!(placement.max >= Microversion::new(1, 19));

    let services = client.list_compute_services().await.unwrap();
    assert!(services.len() >= 3, "{services:?}");
    assert!(services.iter().all(|s| s.binary == "nova-compute"));
    assert!(
        services.iter().all(|s| s.id.len() == 36),
        "2.53 ids are UUIDs"
    );

    let hypervisors = client.list_hypervisors().await.unwrap();
    let providers = client.list_resource_providers().await.unwrap();
    for service in &services {
        let hypervisor = hypervisors
            .iter()
            .find(|h| h.hypervisor_hostname == service.host)
            .unwrap_or_else(|| panic!("no hypervisor for {}", service.host));
        assert_eq!(
            hypervisor.service.as_ref().map(|s| s.id.as_str()),
            Some(service.id.as_str())
        );
        let provider = providers
            .iter()
            .find(|p| p.uuid == hypervisor.id)
            .expect("hypervisor id = resource provider uuid");
        assert_eq!(provider.name, service.host);

        let inventories = client.provider_inventories(&provider.uuid).await.unwrap();
        let usages = client.provider_usages(&provider.uuid).await.unwrap();
        let aggregates = client.provider_aggregates(&provider.uuid).await.unwrap();
        let traits = client.provider_traits(&provider.uuid).await.unwrap();
        for class in ["VCPU", "MEMORY_MB", "DISK_GB"] {
            assert!(
                inventories.inventories.contains_key(class),
                "{class} inventory"
            );
        }
        assert!(traits.traits.iter().any(|t| t == "COMPUTE_NODE"));
        measured(&format!(
            "placement {}: VCPU {}/{} x{}, MEMORY_MB used {:?}, {} aggregates, {} traits",
            service.host,
            usages.usages.get("VCPU").copied().unwrap_or(0),
            inventories.inventories["VCPU"].total,
            inventories.inventories["VCPU"].allocation_ratio,
            usages.usages.get("MEMORY_MB"),
            aggregates.aggregates.len(),
            traits.traits.len()
        ));
    }

    client.list_server_groups().await.unwrap();
    client
        .list_migrations(&MigrationFilter::default())
        .await
        .unwrap();
    let missing = client
        .get_server("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, CloudError::NotFound { .. }),
        "{missing:?}"
    );
    let bad = client
        .update_compute_service("not-a-uuid", &ServiceUpdate::enable())
        .await
        .unwrap_err();
    assert!(matches!(bad, CloudError::BadRequest { .. }), "{bad:?}");
    assert_eq!(client.tokens_issued(), 1, "one token served every call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the devcloud (bin/devcloud up)"]
async fn authenticates_by_password_application_credential_and_os_variables() {
    let admin_config = config(None);
    let client = admin().await;

    // A revoked token: the next call is answered 401 (once Nova's token cache lets
    // go of it) and the client logs in again; either way the call succeeds.
    client.revoke_token().await.unwrap();
    client.list_compute_services().await.unwrap();
    client.list_resource_providers().await.unwrap();
    measured(&format!(
        "after revoking the token: {} tokens issued (2 = re-authenticated on 401, 1 = services still trusted their cache)",
        client.tokens_issued()
    ));

    // Wrong password.
    let mut wrong = admin_config.clone();
    if let Credentials::Password { password, .. } = &mut wrong.credentials {
        *password = Secret::new("not-the-password");
    }
    let error = OpenStackClient::new(&wrong, &ClientOptions::default())
        .unwrap()
        .list_compute_services()
        .await
        .unwrap_err();
    assert!(
        matches!(error, CloudError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    // A non-admin user may not list compute services.
    let user =
        OpenStackClient::new(&config(Some("devcloud-user")), &ClientOptions::default()).unwrap();
    let error = user.list_compute_services().await.unwrap_err();
    assert!(matches!(error, CloudError::Forbidden { .. }), "{error:?}");

    // The same admin through OS_* variables.
    let vars = os_variables(&admin_config);
    let from_env = CloudConfig::from_env_vars(|name| vars.get(name).cloned()).unwrap();
    OpenStackClient::new(&from_env, &ClientOptions::default())
        .unwrap()
        .list_compute_services()
        .await
        .unwrap();

    // An application credential of the admin, created for this test.
    let keystone = Keystone::login(&admin_config).await;
    let (credential_id, secret) = keystone.create_application_credential().await;
    let mut by_credential = admin_config.clone();
    by_credential.credentials = Credentials::ApplicationCredential {
        id: Some(credential_id.clone()),
        name: None,
        secret: Secret::new(secret),
        user: None,
    };
    let result = OpenStackClient::new(&by_credential, &ClientOptions::default())
        .unwrap()
        .list_compute_services()
        .await;
    keystone.delete_application_credential(&credential_id).await;
    assert!(result.is_ok(), "application credential login: {result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the devcloud (bin/devcloud up)"]
async fn server_actions_lock_reboot_stop_start_and_reset_state() {
    let scenario = Scenario::begin("server actions").await;
    let client = &scenario.client;
    let host = healthy_hosts(client, 1).await.remove(0);
    let group = client
        .create_server_group(&format!("{PREFIX}group"), "anti-affinity")
        .await
        .unwrap();
    let id = boot_active(
        client,
        "actions",
        &host,
        Some(&group),
        &[("lazarus:ha", "high")],
    )
    .await;

    let server = client.get_server(&id).await.unwrap();
    assert_eq!(server.host.as_deref(), Some(host.as_str()));
    assert_eq!(server.vm_state, Some(VmState::Active));
    assert_eq!(server.availability_zone.as_deref(), Some("nova"));
    assert_eq!(
        server.metadata.get("lazarus:ha").map(String::as_str),
        Some("high")
    );
    assert_eq!(server.server_groups, std::slice::from_ref(&group));
    let flavor = server.flavor.as_ref().expect("2.47+ embeds the flavor");
    assert_eq!(flavor.original_name.as_deref(), Some("m1.tiny"));
    assert!(flavor.vcpus >= 1 && flavor.ram >= 64);
    assert!(server.launched_at.is_some());

    let on_host = client.list_servers_on_host(&host).await.unwrap();
    let listed = on_host
        .iter()
        .find(|s| s.id == id)
        .expect("listed on its host");
    assert_eq!(listed.server_groups, std::slice::from_ref(&group));
    assert_eq!(listed.flavor, server.flavor);
    let groups = client.list_server_groups().await.unwrap();
    let listed_group = groups.iter().find(|g| g.id == group).unwrap();
    assert_eq!(listed_group.policy_name(), Some("anti-affinity"));
    assert_eq!(listed_group.members, std::slice::from_ref(&id));

    // Evacuating from a host that is up is ComputeServiceInUse.
    let error = client
        .evacuate(&id, &EvacuateOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, CloudError::ComputeServiceInUse { .. }),
        "{error:?}"
    );

    let reason = "lazarus: contract test";
    let lock = ServerAction::Lock {
        reason: Some(reason.into()),
    };
    client.server_action(&id, &lock).await.unwrap();
    let locked = client.get_server(&id).await.unwrap();
    assert_eq!(locked.locked, Some(true));
    assert_eq!(locked.locked_reason.as_deref(), Some(reason));
    client
        .server_action(&id, &ServerAction::Unlock)
        .await
        .unwrap();
    assert_eq!(client.get_server(&id).await.unwrap().locked, Some(false));

    let steps: [(ServerAction, &str); 5] = [
        (ServerAction::HardReboot, "ACTIVE"),
        (ServerAction::Stop, "SHUTOFF"),
        (ServerAction::Start, "ACTIVE"),
        (ServerAction::ResetState(ResetState::Error), "ERROR"),
        (ServerAction::ResetState(ResetState::Active), "ACTIVE"),
    ];
    for (action, status) in steps {
        let started = Instant::now();
        client.server_action(&id, &action).await.unwrap();
        // Let the action take hold before polling for its end state.
        tokio::time::sleep(Duration::from_millis(200)).await;
        wait_server(client, &id, status, Duration::from_secs(60), |s| {
            s.status == status
        })
        .await;
        measured(&format!(
            "{action:?} -> {status} in {:.2} s",
            started.elapsed().as_secs_f64()
        ));
    }
    drop(scenario);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the devcloud (bin/devcloud up)"]
async fn live_migration_moves_a_server_and_its_allocations() {
    let scenario = Scenario::begin("live migration").await;
    let client = &scenario.client;
    let hosts = healthy_hosts(client, 2).await;
    let (source, target) = (&hosts[0], &hosts[1]);
    let id = boot_active(client, "live", source, None, &[]).await;
    let providers = client.list_resource_providers().await.unwrap();
    let provider_of = |host: &str| {
        providers
            .iter()
            .find(|p| p.name == host)
            .map(|p| p.uuid.clone())
            .unwrap()
    };

    let started = Instant::now();
    client.live_migrate(&id, Some(target)).await.unwrap();
    let (_, _) = wait_server(
        client,
        &id,
        "ACTIVE on the target",
        Duration::from_secs(60),
        |s| s.status == "ACTIVE" && s.host.as_deref() == Some(target.as_str()),
    )
    .await;
    measured(&format!(
        "live migration {source} -> {target}: ACTIVE there {:.2} s after the call",
        started.elapsed().as_secs_f64()
    ));
    let filter = MigrationFilter {
        instance_uuid: Some(id.clone()),
        migration_type: Some(MigrationType::LiveMigration),
        ..MigrationFilter::default()
    };
    let record = wait_for(
        "the live-migration record to complete",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let records = client.list_migrations(&filter).await.unwrap();
            records.into_iter().find(|m| m.status == "completed")
        },
    )
    .await;
    assert_eq!(record.source_compute.as_deref(), Some(source.as_str()));
    assert_eq!(record.dest_compute.as_deref(), Some(target.as_str()));
    let allocations = client.consumer_allocations(&id).await.unwrap();
    assert_eq!(
        allocations.allocations.keys().collect::<Vec<_>>(),
        [&provider_of(target)],
        "after a live migration the server holds resources on the target only"
    );

    // And back, letting the scheduler choose.
    let started = Instant::now();
    client.live_migrate(&id, None).await.unwrap();
    let (server, _) = wait_server(
        client,
        &id,
        "ACTIVE elsewhere",
        Duration::from_secs(60),
        |s| s.status == "ACTIVE" && s.host.as_deref() != Some(target.as_str()),
    )
    .await;
    measured(&format!(
        "live migration {target} -> {:?} (scheduler's choice): {:.2} s",
        server.host,
        started.elapsed().as_secs_f64()
    ));
    drop(scenario);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the devcloud (bin/devcloud up)"]
async fn a_dead_hosts_servers_are_evacuated_and_the_host_returns() {
    let scenario = Scenario::begin("host failure").await;
    let client = &scenario.client;
    let hosts = healthy_hosts(client, 2).await;
    let (source, target) = (hosts[0].clone(), hosts[1].clone());
    let scheduled = boot_active(client, "evac-scheduled", &source, None, &[]).await;
    let targeted = boot_active(client, "evac-targeted", &source, None, &[]).await;
    let stopped = boot_active(client, "evac-stopped", &source, None, &[]).await;
    let since = client
        .get_server(&scheduled)
        .await
        .unwrap()
        .updated
        .unwrap_or_else(|| Timestamp::new("2000-01-01T00:00:00Z"));
    let service = compute(client, &source).await;

    // The host dies.
    devcloud(&["kill-compute", &source]);
    let killed = Instant::now();

    // Nova still thinks it is up: evacuation is refused, and the adapter says why.
    let error = client
        .evacuate(&scheduled, &EvacuateOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, CloudError::ComputeServiceInUse { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());

    // Fenced (here: the process is gone): force down and disable, in one call.
    let started = Instant::now();
    let updated = client
        .update_compute_service(&service.id, &ServiceUpdate::force_down_and_disable(REASON))
        .await
        .unwrap();
    let force_down_took = started.elapsed();
    measured(&format!(
        "force down + disable of the dead {source}: {:.3} s",
        force_down_took.as_secs_f64()
    ));
    assert!(
        force_down_took < Duration::from_secs(5),
        "one call, no RPC wait"
    );
    assert!(updated.forced_down);
    assert_eq!(updated.status, ServiceStatus::Disabled);
    assert_eq!(updated.disabled_reason.as_deref(), Some(REASON));
    assert_eq!(compute(client, &source).await.state, ServiceState::Down);

    // Evacuate: one to the scheduler's choice, one to a named host, one stopped (2.95).
    let plans = [
        (scheduled.clone(), None, ArrivalState::KeepState, "ACTIVE"),
        (
            targeted.clone(),
            Some(target.clone()),
            ArrivalState::KeepState,
            "ACTIVE",
        ),
        (stopped.clone(), None, ArrivalState::Stopped, "SHUTOFF"),
    ];
    for (id, target_host, arrival, status) in plans {
        let options = EvacuateOptions {
            target_host: target_host.clone(),
            arrival,
        };
        let started = Instant::now();
        client.evacuate(&id, &options).await.unwrap();
        let accepted = started.elapsed();
        // Watch the server and its evacuation record together, noting every change.
        let record_filter = MigrationFilter {
            instance_uuid: Some(id.clone()),
            migration_type: Some(MigrationType::Evacuation),
            ..MigrationFilter::default()
        };
        // (changes seen, seconds after the call when the server had arrived)
        let watch = std::sync::Mutex::new((Vec::<String>::new(), None::<f64>));
        let server = wait_for(
            "the evacuated server and its record",
            Duration::from_secs(120),
            Duration::from_millis(100),
            || async {
                let server = client.get_server_quick(&id).await.ok()?;
                let record = client.list_migrations(&record_filter).await.ok()?;
                let record = record.first().map(|m| m.status.clone()).unwrap_or_default();
                let state = format!(
                    "{}/{}/{} record {record}",
                    server.status,
                    server.task_state.as_deref().unwrap_or("-"),
                    server.host.as_deref().unwrap_or("-")
                );
                let elapsed = started.elapsed().as_secs_f64();
                let mut watch = watch.lock().unwrap();
                if watch.0.last().map(|t| !t.ends_with(&state)).unwrap_or(true) {
                    watch.0.push(format!("{elapsed:.2}s {state}"));
                }
                let arrived = server.status == status
                    && server.task_state.is_none()
                    && server.host.as_deref() != Some(source.as_str());
                if arrived && watch.1.is_none() {
                    watch.1 = Some(elapsed);
                }
                (arrived && record == "done").then_some(server)
            },
        )
        .await;
        if let Some(host) = &target_host {
            assert_eq!(server.host.as_ref(), Some(host));
        }
        let (timeline, arrived) = watch.into_inner().unwrap();
        measured(&format!(
            "evacuate ({arrival:?}, target {target_host:?}) from {source}: call answered in {:.3} s, \
             {status} on {} {:.2} s after the call ({:.2} s after the kill); seen: {}",
            accepted.as_secs_f64(),
            server.host.as_deref().unwrap_or("?"),
            arrived.unwrap_or_default(),
            started.duration_since(killed).as_secs_f64() + arrived.unwrap_or_default(),
            timeline.join(", ")
        ));
    }

    // The migration records: done, until the source comes back.
    let filter = MigrationFilter {
        host: Some(source.clone()),
        migration_type: Some(MigrationType::Evacuation),
        changes_since: Some(since),
        ..MigrationFilter::default()
    };
    let ours = [scheduled.clone(), targeted.clone(), stopped.clone()];
    let records = client.list_migrations(&filter).await.unwrap();
    let mine: Vec<_> = records
        .iter()
        .filter(|m| ours.contains(&m.instance_uuid))
        .collect();
    assert_eq!(
        mine.len(),
        3,
        "one evacuation record per server: {records:?}"
    );
    assert!(mine.iter().all(|m| m.status == "done"), "{mine:?}");
    assert!(mine
        .iter()
        .all(|m| m.source_compute.as_deref() == Some(source.as_str())));

    // Placement: the evacuated server holds resources on both hosts until the source
    // restarts.
    let before = client.consumer_allocations(&scheduled).await.unwrap();
    measured(&format!(
        "allocations of an evacuated server before the source restarts: {} providers",
        before.allocations.len()
    ));
    assert_eq!(before.allocations.len(), 2, "{before:?}");

    // Lifting forced_down is refused while the records are `done`.
    let error = client
        .update_compute_service(&service.id, &ServiceUpdate::lift_forced_down_and_enable())
        .await
        .unwrap_err();
    assert!(
        matches!(error, CloudError::EvacuationsStillDone { .. }),
        "{error:?}"
    );

    // The host comes back; its compute completes the records; the host returns.
    let started = Instant::now();
    devcloud(&["start-compute", &source]);
    let restart_took = started.elapsed();
    let lift_took = lift_forced_down(client, &service.id, Duration::from_secs(120)).await;
    measured(&format!(
        "{source} back: start-compute {:.1} s, then forced_down lifted after {:.1} s of retries",
        restart_took.as_secs_f64(),
        lift_took.as_secs_f64()
    ));
    let returned = compute(client, &source).await;
    assert!(!returned.forced_down);
    assert_eq!(returned.status, ServiceStatus::Enabled);
    let records = client.list_migrations(&filter).await.unwrap();
    assert!(
        records
            .iter()
            .filter(|m| ours.contains(&m.instance_uuid))
            .all(|m| m.status == "completed"),
        "{records:?}"
    );
    let after = wait_for(
        "the source's allocations to be dropped",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            let allocations = client.consumer_allocations(&scheduled).await.unwrap();
            (allocations.allocations.len() == 1).then_some(allocations)
        },
    )
    .await;
    assert_eq!(after.allocations.len(), 1);
    drop(scenario);
}

/// The `OS_*` variables equivalent to a password configuration.
fn os_variables(config: &CloudConfig) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    vars.insert("OS_AUTH_URL".into(), config.auth_url.clone());
    if let Some(region) = &config.region {
        vars.insert("OS_REGION_NAME".into(), region.clone());
    }
    vars.insert("OS_INTERFACE".into(), config.interface.as_str().into());
    let Credentials::Password {
        user,
        password,
        project,
    } = &config.credentials
    else {
        panic!("the devcloud admin logs in with a password");
    };
    let pairs = [
        ("OS_USERNAME", user.name.clone()),
        ("OS_USER_DOMAIN_NAME", user.domain_name.clone()),
        ("OS_PASSWORD", Some(password.expose().to_owned())),
        (
            "OS_PROJECT_NAME",
            project.as_ref().and_then(|p| p.name.clone()),
        ),
        (
            "OS_PROJECT_DOMAIN_NAME",
            project.as_ref().and_then(|p| p.domain_name.clone()),
        ),
    ];
    for (name, value) in pairs {
        if let Some(value) = value {
            vars.insert(name.into(), value);
        }
    }
    vars
}

/// Just enough Keystone to create and delete an application credential.
struct Keystone {
    http: reqwest::Client,
    base: String,
    token: String,
    user_id: String,
}

impl Keystone {
    async fn login(config: &CloudConfig) -> Self {
        let Credentials::Password {
            user,
            password,
            project,
        } = &config.credentials
        else {
            panic!("the devcloud admin logs in with a password");
        };
        let project = project.as_ref().unwrap();
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user.name, "domain": {"name": user.domain_name},
                "password": password.expose()}}},
            "scope": {"project": {"name": project.name,
                "domain": {"name": project.domain_name}}}}});
        let base = config.auth_url.trim_end_matches('/').to_owned();
        let base = if base.ends_with("/v3") {
            base
        } else {
            format!("{base}/v3")
        };
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{base}/auth/tokens"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let token = response.headers()["x-subject-token"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        let user_id = body["token"]["user"]["id"].as_str().unwrap().to_owned();
        Self {
            http,
            base,
            token,
            user_id,
        }
    }

    async fn create_application_credential(&self) -> (String, String) {
        let name = format!("{PREFIX}{}", std::process::id());
        let response = self
            .http
            .post(format!(
                "{}/users/{}/application_credentials",
                self.base, self.user_id
            ))
            .header("X-Auth-Token", &self.token)
            .json(&json!({"application_credential": {"name": name}}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(status, 201, "creating an application credential: {body}");
        let credential = &body["application_credential"];
        (
            credential["id"].as_str().unwrap().to_owned(),
            credential["secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn delete_application_credential(&self, id: &str) {
        let response = self
            .http
            .delete(format!(
                "{}/users/{}/application_credentials/{id}",
                self.base, self.user_id
            ))
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
}
