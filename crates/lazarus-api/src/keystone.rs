//! Keystone token validation: the `Authenticator` for `auth = "keystone"`.
//!
//! A request's `X-Auth-Token` is validated with Keystone's
//! `GET /v3/auth/tokens` (`X-Subject-Token` = the token). The token validates itself
//! (Keystone's default policy lets a token's owner validate it), so lazarus needs no
//! service credentials of its own for this. The answer's roles, project and user become
//! the [`Principal`]; the read/write policy is then applied by the auth middleware.
//!
//! Valid tokens are cached for `cache_ttl` (keystonemiddleware caches for 300 s by
//! default; a revoked token keeps working at most that long). Rejections are not cached,
//! so a client that fixes its token is not locked out. The cache is bounded: past
//! `MAX_CACHED` entries the expired ones are dropped, and if that is not enough, all.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;

use crate::auth::{AuthError, Authenticator, Principal};

/// Most tokens kept in the cache.
const MAX_CACHED: usize = 10_000;

/// Validates tokens against Keystone, with a cache.
#[derive(Debug)]
pub struct KeystoneAuth {
    client: reqwest::Client,
    tokens_url: String,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl KeystoneAuth {
    /// Validates against the Keystone v3 API at `auth_url` (e.g.
    /// `http://keystone:5000/v3`; a URL without the `/v3` suffix gets it), waiting at most
    /// `timeout` per validation and caching valid tokens for `cache_ttl`.
    pub fn new(auth_url: &str, timeout: Duration, cache_ttl: Duration) -> Result<Self, String> {
        let base = auth_url.trim_end_matches('/');
        let base = if base.ends_with("/v3") {
            base.to_owned()
        } else {
            format!("{base}/v3")
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the Keystone client: {e}"))?;
        Ok(Self {
            client,
            tokens_url: format!("{base}/auth/tokens"),
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, token: &str) -> Option<Principal> {
        let cache = self.cache.lock().ok()?;
        let (principal, until) = cache.get(token)?;
        (Instant::now() < *until).then(|| principal.clone())
    }

    fn remember(&self, token: &str, principal: &Principal) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let now = Instant::now();
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(token.to_owned(), (principal.clone(), now + self.cache_ttl));
    }
}

/// The principal described by a Keystone token validation answer.
fn principal_of(body: &Value) -> Result<Principal, AuthError> {
    let token = body
        .get("token")
        .ok_or_else(|| AuthError::Invalid("Keystone answered without a token".into()))?;
    let user = token["user"]["name"]
        .as_str()
        .or_else(|| token["user"]["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let roles = token["roles"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Principal {
        user,
        project_id: token["project"]["id"].as_str().map(str::to_owned),
        roles,
    })
}

#[async_trait]
impl Authenticator for KeystoneAuth {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let token = headers
            .get("x-auth-token")
            .ok_or(AuthError::Missing)?
            .to_str()
            .map_err(|_| AuthError::Invalid("X-Auth-Token is not ASCII".into()))?
            .trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if let Some(p) = self.cached(token) {
            return Ok(p);
        }
        let resp = self
            .client
            .get(&self.tokens_url)
            .header("X-Auth-Token", token)
            .header("X-Subject-Token", token)
            .send()
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            let body: Value = resp
                .json()
                .await
                .map_err(|e| AuthError::Unavailable(format!("unreadable answer: {e}")))?;
            let principal = principal_of(&body)?;
            self.remember(token, &principal);
            Ok(principal)
        } else if matches!(status.as_u16(), 401 | 403 | 404) {
            Err(AuthError::Invalid(
                "the token was rejected by Keystone".into(),
            ))
        } else {
            Err(AuthError::Unavailable(format!(
                "Keystone answered {status}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_principal_carries_roles_project_and_user() {
        let body = json!({"token": {"user": {"id": "u1", "name": "alice"},
            "project": {"id": "p1"}, "roles": [{"id": "r1", "name": "admin"}, {"name": "reader"}],
            "expires_at": "2030-01-01T00:00:00Z"}});
        let p = principal_of(&body).unwrap();
        assert_eq!(p.user, "alice");
        assert_eq!(p.project_id.as_deref(), Some("p1"));
        assert_eq!(p.roles, ["admin", "reader"]);
        assert!(p.may_write());
        assert!(principal_of(&json!({"error": {}})).is_err());
    }

    #[test]
    fn the_v3_suffix_is_added_once() {
        let d = Duration::from_secs(1);
        for url in [
            "http://k:5000",
            "http://k:5000/",
            "http://k:5000/v3",
            "http://k:5000/v3/",
        ] {
            let k = KeystoneAuth::new(url, d, d).unwrap();
            assert_eq!(k.tokens_url, "http://k:5000/v3/auth/tokens", "{url}");
        }
    }
}
