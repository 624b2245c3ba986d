//! Nova server groups (`/os-server-groups`): affinity rules that recovery must keep.

use serde::{Deserialize, Serialize};

use crate::error::CloudError;
use crate::microversion::Microversion;
use crate::session::{ApiRequest, Service, Session};

/// 2.64 replaces the `policies` list with one `policy` and adds `rules`; older clouds
/// are still read (both forms are parsed).
const GROUPS_PREFERRED: Microversion = Microversion::new(2, 64);
const GROUPS_FLOOR: Microversion = Microversion::new(2, 1);
/// Page size asked for; Nova caps it at its `max_limit`.
const PAGE: usize = 1000;

/// A server group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ServerGroup {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity` (2.64).
    #[serde(default)]
    pub policy: Option<String>,
    /// The same, as a list, before 2.64.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Rules of the policy (2.64).
    #[serde(default)]
    pub rules: ServerGroupRules,
    /// The member servers' UUIDs.
    #[serde(default)]
    pub members: Vec<String>,
    /// The owning project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// The owning user.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// The rules of a server group policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ServerGroupRules {
    /// For `anti-affinity`: how many members may share a host (default 1).
    #[serde(default)]
    pub max_server_per_host: Option<u32>,
}

impl ServerGroup {
    /// The policy, whichever microversion the group was read with.
    pub fn policy_name(&self) -> Option<&str> {
        self.policy
            .as_deref()
            .or_else(|| self.policies.first().map(String::as_str))
    }
}

/// Every server group of every project. Nova pages this list by `offset`, so pages
/// are read until one comes back empty.
pub(crate) async fn list(session: &Session) -> Result<Vec<ServerGroup>, CloudError> {
    let version = session
        .negotiate(
            Service::Compute,
            "listing server groups",
            GROUPS_FLOOR,
            GROUPS_PREFERRED,
        )
        .await?;
    let mut groups = Vec::new();
    loop {
        let request = ApiRequest::get(Service::Compute, "/os-server-groups")
            .query("all_projects", "true")
            .query("limit", PAGE)
            .query("offset", groups.len())
            .microversion(version);
        let page: GroupsBody = session.json(&request).await?;
        if page.server_groups.is_empty() {
            return Ok(groups);
        }
        groups.extend(page.server_groups);
    }
}

#[derive(Deserialize)]
struct GroupsBody {
    server_groups: Vec<ServerGroup>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_policy_forms_are_read() {
        let body: GroupsBody = serde_json::from_str(
            r#"{"server_groups": [
              {"id": "g1", "name": "new", "policy": "anti-affinity",
               "rules": {"max_server_per_host": 2}, "members": ["s1"], "project_id": "p"},
              {"id": "g2", "name": "old", "policies": ["affinity"], "members": [], "metadata": {}}]}"#,
        )
        .unwrap();
        let [new, old] = &body.server_groups[..] else {
            panic!()
        };
        assert_eq!(new.policy_name(), Some("anti-affinity"));
        assert_eq!(new.rules.max_server_per_host, Some(2));
        assert_eq!(old.policy_name(), Some("affinity"));
    }
}
