//! End to end: the controller is SIGKILLed in the middle of a host recovery (right after
//! Nova accepted the first evacuation) and restarted on the same SQLite file; the
//! recovery completes from its journal and no server is evacuated twice.
//!
//! ```text
//! bin/devcloud up && eval "$(bin/devcloud env)"
//! cargo nextest run -p lazarus --run-ignored all -E 'test(/^e2e_/)' --no-capture
//! ```

mod e2e;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the devcloud"]
async fn e2e_a_controller_killed_mid_recovery_resumes_without_evacuating_twice() {
    e2e::host_recovery("controller-crash", true).await;
}
