//! The Masakari-facing record of what the engine does: notification statuses
//! (new → running → finished/error, or ignored) and one vmove per evacuated instance
//! (pending → ongoing → succeeded/failed).
//!
//! The reporter runs as its own task, fed by the engine task after each step is
//! durable, so the engine never waits for these writes. They are derived data: after a
//! crash the next persisted step brings them up to date again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lazarus_core::workflow::{InstanceStep, Outcome, RecoveryRecord, RecoverySummary, Trigger};
use lazarus_core::InstanceId;
use lazarus_store::{
    ListQuery, NewVMove, NotificationStatus, NotificationUpdate, Store, VMoveFilter, VMoveStatus,
    VMoveType, VMoveUpdate,
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::clock;
use crate::journal::phase_name;

/// What the reporter is told.
#[derive(Debug)]
pub enum Report {
    /// A notification was handled: set its status.
    Notification {
        /// Its UUID.
        uuid: String,
        /// The new status.
        status: NotificationStatus,
        /// Why, for the operator.
        message: String,
        /// The recovery it belongs to, if any.
        recovery: Option<String>,
    },
    /// A recovery record was persisted.
    Step {
        /// The record.
        record: Box<RecoveryRecord>,
        /// Display names of its instances.
        names: BTreeMap<InstanceId, String>,
    },
    /// A recovery finished.
    Finished {
        /// The summary.
        summary: RecoverySummary,
        /// What started it.
        trigger: Trigger,
    },
}

/// A vmove as last written.
#[derive(Debug, Clone)]
struct Known {
    uuid: String,
    status: Option<VMoveStatus>,
}

/// Runs the reporter until its channel closes.
pub async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Report>) {
    let mut vmoves: HashMap<(String, String), Known> = HashMap::new();
    let mut loaded: std::collections::HashSet<String> = std::collections::HashSet::new();
    while let Some(report) = rx.recv().await {
        match report {
            Report::Notification {
                uuid,
                status,
                message,
                recovery,
            } => {
                let details = recovery
                    .map(|r| json!({"lazarus_recovery_id": r}))
                    .unwrap_or_else(|| json!({}));
                let update = NotificationUpdate {
                    status: Some(status),
                    message: Some(Some(message)),
                    recovery_workflow_details: Some(details),
                };
                if let Err(e) = store
                    .update_notification(&uuid, update, clock::now_utc())
                    .await
                {
                    tracing::warn!(notification = %uuid, error = %e, "could not update a notification's status");
                }
            }
            Report::Step { record, names } => {
                let Trigger::Monitor { notification } = &record.trigger else {
                    continue;
                };
                if loaded.insert(notification.clone()) {
                    load_vmoves(&*store, notification, &mut vmoves).await;
                }
                sync_vmoves(&*store, notification, &record, &names, &mut vmoves).await;
            }
            Report::Finished { summary, trigger } => {
                let Trigger::Monitor { notification } = trigger else {
                    continue;
                };
                let (status, text) = match summary.outcome {
                    Outcome::Done => (
                        NotificationStatus::Finished,
                        format!(
                            "recovered {} instance(s) of {}",
                            summary.recovered.len(),
                            summary.id.host
                        ),
                    ),
                    Outcome::Partial => (
                        NotificationStatus::Error,
                        format!(
                            "recovered {} instance(s) of {}, gave up on {}: {}",
                            summary.recovered.len(),
                            summary.id.host,
                            summary.given_up.len(),
                            summary
                                .given_up
                                .iter()
                                .map(|(i, why)| format!("{i}: {why}"))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    ),
                    Outcome::Aborted => (
                        NotificationStatus::Ignored,
                        format!("recovery of {} called off", summary.id.host),
                    ),
                };
                let update = NotificationUpdate {
                    status: Some(status),
                    message: Some(Some(text)),
                    recovery_workflow_details: Some(json!({
                        "lazarus_recovery_id": summary.id.to_string(),
                        "outcome": summary.outcome,
                        "recovered": summary.recovered,
                        "given_up": summary.given_up,
                        "finished_at": clock::to_utc(summary.finished_at).to_rfc3339(),
                    })),
                };
                if let Err(e) = store
                    .update_notification(&notification, update, clock::now_utc())
                    .await
                {
                    tracing::warn!(notification = %notification, error = %e, "could not finish a notification");
                }
            }
        }
    }
}

async fn load_vmoves(
    store: &dyn Store,
    notification: &str,
    vmoves: &mut HashMap<(String, String), Known>,
) {
    let filter = VMoveFilter {
        notification_uuid: Some(notification.to_owned()),
        ..VMoveFilter::default()
    };
    match store.list_vmoves(&filter, &ListQuery::all()).await {
        Ok(list) => {
            for v in list {
                vmoves.insert(
                    (notification.to_owned(), v.instance_uuid.clone()),
                    Known {
                        uuid: v.uuid,
                        status: v.status,
                    },
                );
            }
        }
        Err(e) => tracing::warn!(notification, error = %e, "could not read vmoves"),
    }
}

/// The vmove status of an instance step, with its destination and message.
fn vmove_of(step: &InstanceStep) -> (VMoveStatus, Option<String>, Option<String>) {
    match step {
        InstanceStep::Planned { target } => (VMoveStatus::Pending, Some(target.to_string()), None),
        InstanceStep::Requested { target, attempt }
        | InstanceStep::Accepted { target, attempt } => (
            VMoveStatus::Ongoing,
            Some(target.to_string()),
            Some(format!("attempt {attempt}")),
        ),
        InstanceStep::Recovered { host } => (VMoveStatus::Succeeded, Some(host.to_string()), None),
        InstanceStep::GivenUp { reason } => (VMoveStatus::Failed, None, Some(reason.clone())),
    }
}

async fn sync_vmoves(
    store: &dyn Store,
    notification: &str,
    record: &RecoveryRecord,
    names: &BTreeMap<InstanceId, String>,
    vmoves: &mut HashMap<(String, String), Known>,
) {
    let now = clock::now_utc();
    for (id, inst) in &record.instances {
        let key = (notification.to_owned(), id.to_string());
        let (status, dest, message) = vmove_of(&inst.step);
        let known = match vmoves.get(&key) {
            Some(k) => k.clone(),
            None => {
                let new = NewVMove {
                    uuid: uuid::Uuid::new_v4().to_string(),
                    notification_uuid: notification.to_owned(),
                    instance_uuid: id.to_string(),
                    instance_name: names.get(id).cloned().unwrap_or_else(|| id.to_string()),
                    source_host: Some(record.id.host.to_string()),
                    vmove_type: Some(VMoveType::Evacuation),
                    status: Some(VMoveStatus::Pending),
                };
                match store.create_vmove(new, now).await {
                    Ok(v) => {
                        let k = Known {
                            uuid: v.uuid,
                            status: v.status,
                        };
                        vmoves.insert(key.clone(), k.clone());
                        k
                    }
                    Err(e) => {
                        tracing::warn!(notification, instance = %id, error = %e, "could not record a vmove");
                        continue;
                    }
                }
            }
        };
        if known.status == Some(status) {
            continue;
        }
        let mut update = VMoveUpdate {
            dest_host: dest,
            status: Some(status),
            message: message.or_else(|| inst.last_error.clone()),
            ..VMoveUpdate::default()
        };
        match status {
            VMoveStatus::Ongoing => update.start_time = Some(now),
            VMoveStatus::Succeeded | VMoveStatus::Failed => {
                update.end_time = Some(now);
                if known.status == Some(VMoveStatus::Pending) {
                    update.start_time = Some(now);
                }
            }
            VMoveStatus::Pending | VMoveStatus::Ignored => {}
        }
        match store.update_vmove(&known.uuid, update, now).await {
            Ok(v) => {
                vmoves.insert(
                    key,
                    Known {
                        uuid: v.uuid,
                        status: v.status,
                    },
                );
            }
            Err(e) => {
                tracing::warn!(notification, instance = %id, error = %e, "could not update a vmove")
            }
        }
    }
    tracing::debug!(recovery = %record.id, phase = phase_name(record.phase), "vmoves in step");
}
