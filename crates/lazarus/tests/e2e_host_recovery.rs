//! End to end: a compute of the devcloud dies; `lazarus controller`, told by a monitor's
//! notification, forces it down, evacuates its servers and returns it to service once
//! its compute restarts.
//!
//! ```text
//! bin/devcloud up && eval "$(bin/devcloud env)"
//! cargo nextest run -p lazarus --run-ignored all -E 'test(/^e2e_/)' --no-capture
//! ```
//!
//! Figures are printed as `MEASURED ...` and appended to `target/test-logs/e2e.txt`.

mod e2e;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the devcloud"]
async fn e2e_a_dead_hosts_servers_come_back_elsewhere_and_the_host_returns_to_service() {
    e2e::host_recovery("host-recovery", false).await;
}
