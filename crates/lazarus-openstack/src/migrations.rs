//! Nova migration records (`/os-migrations`): the proof that an evacuation or a live
//! migration happened, and how far it got.

use serde::{Deserialize, Serialize};

use crate::error::CloudError;
use crate::microversion::Microversion;
use crate::session::{ApiRequest, Service, Session};
use crate::timestamp::Timestamp;

/// 2.59 adds `uuid`, paging and `changes-since`.
const MIGRATIONS_FLOOR: Microversion = Microversion::new(2, 59);
/// 2.80 adds the project and user of each record.
const MIGRATIONS_PREFERRED: Microversion = Microversion::new(2, 80);

/// A migration record.
///
/// Evacuations go `accepted` → `pre-migrating` → `done`, then `completed` once the
/// source compute has restarted and cleaned up; or `failed`/`error`. Live migrations
/// go `queued` → `preparing` → `running` → `post-migrating` → `completed`; or
/// `failed`/`cancelled`/`error`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Migration {
    /// Numeric id.
    pub id: u64,
    /// UUID (2.59).
    #[serde(default)]
    pub uuid: Option<String>,
    /// The server that moved.
    pub instance_uuid: String,
    /// What kind of move.
    pub migration_type: MigrationType,
    /// Where it is in its life (see the type's doc).
    pub status: String,
    /// The host it left.
    #[serde(default)]
    pub source_compute: Option<String>,
    /// The host it went to.
    #[serde(default)]
    pub dest_compute: Option<String>,
    /// The hypervisor node it left.
    #[serde(default)]
    pub source_node: Option<String>,
    /// The hypervisor node it went to.
    #[serde(default)]
    pub dest_node: Option<String>,
    /// When the record was created.
    pub created_at: Timestamp,
    /// When it last changed.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// The server's project (2.80).
    #[serde(default)]
    pub project_id: Option<String>,
}

/// The kind of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationType {
    /// `evacuation`.
    Evacuation,
    /// `live-migration`.
    LiveMigration,
    /// `migration` (cold).
    Migration,
    /// `resize`.
    Resize,
}

impl MigrationType {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evacuation => "evacuation",
            Self::LiveMigration => "live-migration",
            Self::Migration => "migration",
            Self::Resize => "resize",
        }
    }
}

/// Which records to list; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationFilter {
    /// Records whose source or destination is this host.
    pub host: Option<String>,
    /// Records leaving this host.
    pub source_compute: Option<String>,
    /// Records of this kind.
    pub migration_type: Option<MigrationType>,
    /// Records in this status.
    pub status: Option<String>,
    /// Records of this server.
    pub instance_uuid: Option<String>,
    /// Records changed at or after this time (Nova's clock).
    pub changes_since: Option<Timestamp>,
}

/// `GET /os-migrations` with the filter, every page.
pub(crate) async fn list(
    session: &Session,
    filter: &MigrationFilter,
) -> Result<Vec<Migration>, CloudError> {
    let version = session
        .negotiate(
            Service::Compute,
            "listing migrations",
            MIGRATIONS_FLOOR,
            MIGRATIONS_PREFERRED,
        )
        .await?;
    let mut request = ApiRequest::get(Service::Compute, "/os-migrations").microversion(version);
    let text_filters = [
        ("host", filter.host.as_deref()),
        ("source_compute", filter.source_compute.as_deref()),
        (
            "migration_type",
            filter.migration_type.map(MigrationType::as_str),
        ),
        ("status", filter.status.as_deref()),
        ("instance_uuid", filter.instance_uuid.as_deref()),
        (
            "changes-since",
            filter.changes_since.as_ref().map(Timestamp::as_str),
        ),
    ];
    for (key, value) in text_filters {
        if let Some(value) = value {
            request = request.query(key, value);
        }
    }
    session
        .collect_pages(request, "migrations", "migrations_links")
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evacuation_record_parses() {
        let migration: Migration = serde_json::from_str(
            r#"{"id": 7, "uuid": "m1", "instance_uuid": "s1", "migration_type": "evacuation",
            "status": "done", "source_compute": "compute1", "dest_compute": "compute2",
            "source_node": "compute1", "dest_node": "compute2", "dest_host": "127.0.0.1",
            "created_at": "2026-01-01T10:00:00.000000", "updated_at": null,
            "old_instance_type_id": 1, "new_instance_type_id": 1,
            "project_id": "p", "user_id": "u"}"#,
        )
        .unwrap();
        assert_eq!(migration.migration_type, MigrationType::Evacuation);
        assert_eq!(migration.dest_compute.as_deref(), Some("compute2"));
        let live: MigrationType = serde_json::from_str(r#""live-migration""#).unwrap();
        assert_eq!(live.as_str(), "live-migration");
    }
}
