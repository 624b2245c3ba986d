//! Records as Masakari renders them.

use lazarus_store::{Host, Notification, Segment, Time, VMove};
use serde_json::{json, Value};

/// Masakari's datetime rendering: naive UTC with microseconds.
pub fn time(t: Time) -> Value {
    Value::String(t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
}

fn opt_time(t: Option<Time>) -> Value {
    t.map_or(Value::Null, time)
}

/// A segment (with `enabled`, which Masakari returns at every version).
pub fn segment(s: &Segment) -> Value {
    json!({
        "id": s.id,
        "uuid": s.uuid,
        "name": s.name,
        "description": s.description,
        "recovery_method": s.recovery_method.as_str(),
        "service_type": s.service_type,
        "enabled": s.enabled,
        "created_at": time(s.created_at),
        "updated_at": opt_time(s.updated_at),
        "deleted_at": null,
        "deleted": false,
    })
}

/// A host, with its segment embedded as Masakari does.
pub fn host(h: &Host, seg: &Segment) -> Value {
    json!({
        "id": h.id,
        "uuid": h.uuid,
        "name": h.name,
        "failover_segment_id": h.failover_segment_id,
        "failover_segment": segment(seg),
        "type": h.host_type,
        "reserved": h.reserved,
        "control_attributes": h.control_attributes,
        "on_maintenance": h.on_maintenance,
        "created_at": time(h.created_at),
        "updated_at": opt_time(h.updated_at),
        "deleted_at": null,
        "deleted": false,
    })
}

/// A notification; `recovery_workflow_details` only when asked (API 1.1+ detail).
pub fn notification(n: &Notification, with_details: bool) -> Value {
    let mut v = json!({
        "id": n.id,
        "notification_uuid": n.notification_uuid,
        "type": n.notification_type.as_str(),
        "hostname": n.hostname,
        "generated_time": time(n.generated_time),
        "payload": n.payload,
        "status": n.status.as_str(),
        "source_host_uuid": n.source_host_uuid,
        "failover_segment_uuid": n.failover_segment_uuid,
        "message": n.message,
        "created_at": time(n.created_at),
        "updated_at": opt_time(n.updated_at),
        "deleted_at": null,
        "deleted": false,
    });
    if with_details {
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "recovery_workflow_details".into(),
                n.recovery_workflow_details.clone(),
            );
        }
    }
    v
}

/// A VM move.
pub fn vmove(m: &VMove) -> Value {
    json!({
        "id": m.id,
        "uuid": m.uuid,
        "notification_uuid": m.notification_uuid,
        "instance_uuid": m.instance_uuid,
        "instance_name": m.instance_name,
        "source_host": m.source_host,
        "dest_host": m.dest_host,
        "start_time": opt_time(m.start_time),
        "end_time": opt_time(m.end_time),
        "type": m.vmove_type.map(|t| t.as_str()),
        "status": m.status.map(|s| s.as_str()),
        "message": m.message,
        "created_at": time(m.created_at),
        "updated_at": opt_time(m.updated_at),
        "deleted_at": null,
        "deleted": false,
    })
}
