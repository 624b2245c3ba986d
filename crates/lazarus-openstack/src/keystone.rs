//! Keystone v3 authentication: issue a token, reuse it until shortly before it
//! expires, issue a new one when it has expired or a service said 401.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::catalog::Catalog;
use crate::config::{Credentials, NameOrId};
use crate::error::{CloudError, RequestInfo};
use crate::secret::Secret;
use crate::timestamp::Timestamp;

/// How long a token is assumed to live when Keystone's `issued_at`/`expires_at`
/// cannot be read (Keystone's default lifetime is an hour).
const FALLBACK_LIFETIME: Duration = Duration::from_secs(600);
/// A token is renewed this long before it expires at the latest.
const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(300);

/// A Keystone token with the catalog that came with it.
pub(crate) struct Token {
    value: Secret,
    /// The service catalog of the token's project.
    pub(crate) catalog: Catalog,
    /// When to stop using this token: its lifetime (from Keystone's `issued_at` and
    /// `expires_at`, so local and remote clocks need not agree) minus a margin, counted
    /// from when it was requested.
    renew_at: Instant,
}

impl Token {
    /// The token, for the `X-Auth-Token` header.
    pub(crate) fn value(&self) -> &Secret {
        &self.value
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &self.value)
            .field("renew_at", &self.renew_at)
            .finish_non_exhaustive()
    }
}

/// Issues and caches tokens for one set of credentials. Concurrent callers that find
/// no valid token wait for a single issue request instead of each sending their own.
#[derive(Debug)]
pub(crate) struct Authenticator {
    http: reqwest::Client,
    tokens_url: String,
    credentials: Credentials,
    timeout: Duration,
    current: Mutex<Option<Arc<Token>>>,
    issued: AtomicU64,
}

impl Authenticator {
    /// An authenticator for Keystone at `auth_url` (with or without `/v3`).
    pub(crate) fn new(
        http: reqwest::Client,
        auth_url: &str,
        credentials: Credentials,
        timeout: Duration,
    ) -> Self {
        let base = auth_url.trim_end_matches('/');
        let tokens_url = if base.ends_with("/v3") {
            format!("{base}/auth/tokens")
        } else {
            format!("{base}/v3/auth/tokens")
        };
        Self {
            http,
            tokens_url,
            credentials,
            timeout,
            current: Mutex::new(None),
            issued: AtomicU64::new(0),
        }
    }

    /// A valid token: the cached one, or a newly issued one if it is missing or due
    /// for renewal.
    pub(crate) async fn token(&self) -> Result<Arc<Token>, CloudError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref() {
            if Instant::now() < token.renew_at {
                return Ok(Arc::clone(token));
            }
            tracing::debug!("Keystone token due for renewal");
        }
        let token = Arc::new(self.issue().await?);
        *current = Some(Arc::clone(&token));
        Ok(token)
    }

    /// Forgets `stale` (a service answered 401 to it) so that the next
    /// [`Authenticator::token`] issues a new one. A token that has already been
    /// replaced by another caller is left alone.
    pub(crate) async fn invalidate(&self, stale: &Arc<Token>) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|t| Arc::ptr_eq(t, stale)) {
            *current = None;
        }
    }

    /// How many tokens were issued so far (one per session, plus one per renewal or
    /// re-authentication).
    pub(crate) fn tokens_issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// Revokes the current token in Keystone (`DELETE /v3/auth/tokens`), keeping it in
    /// the cache: the next call then meets a 401 as if the token had been revoked by
    /// someone else. For tests of re-authentication.
    #[cfg(feature = "test-support")]
    pub(crate) async fn revoke_current(&self) -> Result<(), CloudError> {
        let token = self.token().await?;
        let request = RequestInfo {
            method: "DELETE".to_owned(),
            path: "/v3/auth/tokens".to_owned(),
            request_id: None,
        };
        let response = self
            .http
            .delete(&self.tokens_url)
            .header("X-Auth-Token", token.value.expose())
            .header("X-Subject-Token", token.value.expose())
            .send()
            .await
            .map_err(|e| CloudError::from_transport(request.clone(), e, self.timeout))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(CloudError::from_status(request, status.as_u16(), &body))
    }

    async fn issue(&self) -> Result<Token, CloudError> {
        let request = RequestInfo {
            method: "POST".to_owned(),
            path: "/v3/auth/tokens".to_owned(),
            request_id: None,
        };
        let requested_at = Instant::now();
        let response = self
            .http
            .post(&self.tokens_url)
            .json(&request_body(&self.credentials))
            .send()
            .await
            .map_err(|e| CloudError::from_transport(request.clone(), e, self.timeout))?;
        let request = RequestInfo {
            request_id: crate::session::request_id(response.headers()),
            ..request
        };
        let status = response.status();
        let value = response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(Secret::new);
        let body = response
            .bytes()
            .await
            .map_err(|e| CloudError::from_transport(request.clone(), e, self.timeout))?;
        if !status.is_success() {
            return Err(CloudError::from_status(request, status.as_u16(), &body));
        }
        let invalid = |detail: String| CloudError::InvalidResponse {
            request: request.clone(),
            detail,
        };
        let value = value.ok_or_else(|| invalid("no X-Subject-Token header".to_owned()))?;
        let body: TokenBody =
            serde_json::from_slice(&body).map_err(|e| invalid(format!("token body: {e}")))?;
        let lifetime = body.token.lifetime().unwrap_or_else(|| {
            tracing::warn!(
                issued_at = ?body.token.issued_at,
                expires_at = ?body.token.expires_at,
                "cannot read the Keystone token's lifetime; renewing it after {FALLBACK_LIFETIME:?}"
            );
            FALLBACK_LIFETIME
        });
        let margin = (lifetime / 10).min(MAX_RENEWAL_MARGIN);
        self.issued.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(?lifetime, "issued a Keystone token");
        Ok(Token {
            value,
            catalog: body.token.catalog.unwrap_or_default(),
            renew_at: requested_at + lifetime.saturating_sub(margin),
        })
    }
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenFields,
}

#[derive(Deserialize)]
struct TokenFields {
    issued_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    #[serde(default)]
    catalog: Option<Catalog>,
}

impl TokenFields {
    fn lifetime(&self) -> Option<Duration> {
        let issued = self.issued_at.as_ref()?.unix_micros()?;
        let expires = self.expires_at.as_ref()?.unix_micros()?;
        let micros = u64::try_from(expires.checked_sub(issued)?).ok()?;
        Some(Duration::from_micros(micros))
    }
}

/// The body of `POST /v3/auth/tokens` for these credentials.
fn request_body(credentials: &Credentials) -> Value {
    match credentials {
        Credentials::Password {
            user,
            password,
            project,
        } => {
            let mut user_json = name_or_id(user);
            user_json["password"] = json!(password.expose());
            let mut auth = json!({
                "identity": {"methods": ["password"], "password": {"user": user_json}}
            });
            if let Some(project) = project {
                auth["scope"] = json!({ "project": name_or_id(project) });
            }
            json!({ "auth": auth })
        }
        Credentials::ApplicationCredential {
            id,
            name,
            secret,
            user,
        } => {
            let mut credential = json!({ "secret": secret.expose() });
            match (id, name) {
                (Some(id), _) => credential["id"] = json!(id),
                (None, name) => {
                    credential["name"] = json!(name);
                    if let Some(user) = user {
                        credential["user"] = name_or_id(user);
                    }
                }
            }
            json!({"auth": {"identity": {
                "methods": ["application_credential"],
                "application_credential": credential,
            }}})
        }
    }
}

/// `{"id": ..}`, or `{"name": .., "domain": {"id"|"name": ..}}`.
fn name_or_id(who: &NameOrId) -> Value {
    if let Some(id) = &who.id {
        return json!({ "id": id });
    }
    let mut value = json!({ "name": who.name });
    if let Some(id) = &who.domain_id {
        value["domain"] = json!({ "id": id });
    } else if let Some(name) = &who.domain_name {
        value["domain"] = json!({ "name": name });
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_body_scopes_to_the_project_by_name_and_domain() {
        let body = request_body(&Credentials::Password {
            user: NameOrId {
                name: Some("admin".into()),
                domain_name: Some("Default".into()),
                ..NameOrId::default()
            },
            password: Secret::new("pw"),
            project: Some(NameOrId {
                name: Some("admin".into()),
                domain_id: Some("default".into()),
                ..NameOrId::default()
            }),
        });
        assert_eq!(
            body,
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": "admin", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
        );
    }

    #[test]
    fn application_credential_body_by_id_has_no_scope() {
        let body = request_body(&Credentials::ApplicationCredential {
            id: Some("ac1".into()),
            name: None,
            secret: Secret::new("s"),
            user: None,
        });
        assert_eq!(
            body,
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": "ac1", "secret": "s"}}}})
        );
    }

    #[test]
    fn lifetime_comes_from_keystones_own_timestamps() {
        let fields: TokenFields = serde_json::from_value(json!({
            "issued_at": "2026-01-01T10:00:00.000000Z",
            "expires_at": "2026-01-01T11:00:00.000000Z"}))
        .unwrap();
        assert_eq!(fields.lifetime(), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn tokens_url_is_built_with_or_without_v3() {
        let http = reqwest::Client::new();
        let credentials = Credentials::ApplicationCredential {
            id: Some("x".into()),
            name: None,
            secret: Secret::new("s"),
            user: None,
        };
        let timeout = Duration::from_secs(1);
        let with = Authenticator::new(
            http.clone(),
            "http://k:5000/v3/",
            credentials.clone(),
            timeout,
        );
        let without = Authenticator::new(http, "http://k:5000", credentials, timeout);
        assert_eq!(with.tokens_url, "http://k:5000/v3/auth/tokens");
        assert_eq!(without.tokens_url, "http://k:5000/v3/auth/tokens");
    }
}
