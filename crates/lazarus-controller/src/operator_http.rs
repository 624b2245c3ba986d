//! The native API's write routes: an operator confirms a host is off, asks for its
//! recovery, or for its return to service.
//!
//! - `POST /v1/lazarus/hosts/{name}/confirm-fenced`
//! - `POST /v1/lazarus/hosts/{name}/recover`
//! - `POST /v1/lazarus/hosts/{name}/return`
//!
//! The body is optional: `{"reason": "..."}`, any other field refused. The `writer`
//! middleware of [`crate::http`] has already checked the admin role and left the
//! [`Principal`]; the operator recorded in the engine's event (and so in the recovery's
//! trigger or fence confirmation) is its user, with its project if the token has one.
//!
//! Answers: 202 with what was submitted and what the engine did; 400 for a malformed
//! name or body; 404 for a host in no segment; 409 when the action makes no sense in the
//! host's state (nothing was done; see [`crate::operator`]); 503 when the engine is not
//! running or did not answer in time (then nothing was done either: a request the engine
//! meets after its deadline is dropped). Each answer is logged at info with the operator
//! and the reason: the audit trail.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lazarus_api::Principal;
use lazarus_core::HostName;
use lazarus_store::StoreError;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;

use crate::http::AppState;
use crate::operator::{OperatorAction, OperatorAsk, OperatorRequest, Refused};

/// How long the engine task has to take a request up; after it, the request is dropped.
const ENGINE_DEADLINE: Duration = Duration::from_secs(5);
/// How long past the deadline the answer of a request taken up in time may take (its
/// step is persisted first).
const ANSWER_GRACE: Duration = Duration::from_secs(5);
/// The longest reason kept.
const MAX_REASON_CHARS: usize = 1024;

/// The optional body of an action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    /// Why, for the audit trail.
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/lazarus/hosts/{name}/confirm-fenced`.
pub(crate) async fn confirm_fenced(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    act(&s, &p, name, &body, OperatorAction::ConfirmFenced).await
}

/// `POST /v1/lazarus/hosts/{name}/recover`.
pub(crate) async fn recover(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    act(&s, &p, name, &body, OperatorAction::Recover).await
}

/// `POST /v1/lazarus/hosts/{name}/return`.
pub(crate) async fn return_to_service(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    act(&s, &p, name, &body, OperatorAction::Return).await
}

fn error(status: StatusCode, message: impl Into<String>) -> (StatusCode, String) {
    (status, message.into())
}

async fn act(
    s: &AppState,
    principal: &Principal,
    name: String,
    body: &[u8],
    action: OperatorAction,
) -> Response {
    let operator = operator_of(principal);
    let reason = match parse_body(body) {
        Ok(b) => b.reason,
        Err(message) => {
            return answer_error(
                &name,
                action,
                &operator,
                None,
                (StatusCode::BAD_REQUEST, message),
            )
        }
    };
    if let Err(message) = check_name(&name) {
        return answer_error(
            &name,
            action,
            &operator,
            reason.as_deref(),
            (StatusCode::BAD_REQUEST, message),
        );
    }
    let ask = OperatorAsk {
        host: HostName::from(name.as_str()),
        action,
        operator: operator.clone(),
    };
    match submit(s, ask).await {
        Ok(accepted) => {
            tracing::info!(
                host = %name,
                action = action.name(),
                operator = %operator,
                reason = ?reason,
                recovery = ?accepted.recovery,
                "operator action taken: {}",
                accepted.message
            );
            (
                StatusCode::ACCEPTED,
                Json(json!({"submitted": {
                    "host": name,
                    "action": action.name(),
                    "operator": operator,
                    "reason": reason,
                    "recovery": accepted.recovery,
                    "recovery_phase": accepted.recovery_phase,
                    "message": accepted.message,
                }})),
            )
                .into_response()
        }
        Err(e) => answer_error(&name, action, &operator, reason.as_deref(), e),
    }
}

/// Sends `ask` to the engine task and waits for its answer; an error is the status and
/// message to answer with.
async fn submit(
    s: &AppState,
    ask: OperatorAsk,
) -> Result<crate::operator::Accepted, (StatusCode, String)> {
    if !s.health.is_engine_started() {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is starting: nothing was done; try again shortly",
        ));
    }
    let host = ask.host.clone();
    let deadline = tokio::time::Instant::now() + ENGINE_DEADLINE;
    let (reply, answer) = oneshot::channel();
    let request = OperatorRequest {
        ask,
        deadline,
        reply,
    };
    let not_running = || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is not running (the controller is stopping?): nothing was done",
        )
    };
    match tokio::time::timeout_at(
        deadline,
        s.engine.send(crate::runtime::Input::Operator(request)),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(not_running()),
        Err(_) => {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the engine is busy and did not take the request in time: nothing was done",
            ))
        }
    }
    match tokio::time::timeout_at(deadline + ANSWER_GRACE, answer).await {
        Ok(Ok(Ok(accepted))) => Ok(accepted),
        Ok(Ok(Err(Refused::Conflict(message)))) => Err((StatusCode::CONFLICT, message)),
        Ok(Ok(Err(Refused::UnknownHost(_)))) => Err(unknown_host(s, &host).await),
        // The reply was dropped: the request met the engine after its deadline, or the
        // engine stopped (shutdown, or a journal failure) before answering.
        Ok(Err(_)) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine did not take the request (busy past the deadline, or stopping): nothing was done",
        )),
        Err(_) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the engine did not answer within {} s; whether it acted shows in GET /v1/lazarus/hosts",
                (ENGINE_DEADLINE + ANSWER_GRACE).as_secs()
            ),
        )),
    }
}

/// A host the engine does not know: in no segment (404), or registered so recently
/// that the controller has not read it yet (409).
async fn unknown_host(s: &AppState, host: &HostName) -> (StatusCode, String) {
    match s.store.get_host_by_name(host.as_str()).await {
        Err(StoreError::NotFound { .. }) => error(
            StatusCode::NOT_FOUND,
            format!("no host named {host} in any segment"),
        ),
        Ok(h) => error(
            StatusCode::CONFLICT,
            format!(
                "{host} is registered in segment {} but the controller has not read it yet (it does at its next poll): nothing was done; try again shortly",
                h.failover_segment_id
            ),
        ),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store could not be read: {e}"),
        ),
    }
}

fn answer_error(
    name: &str,
    action: OperatorAction,
    operator: &str,
    reason: Option<&str>,
    (status, message): (StatusCode, String),
) -> Response {
    tracing::info!(
        host = %name,
        action = action.name(),
        operator = %operator,
        reason = ?reason,
        status = status.as_u16(),
        "operator action not taken: {message}"
    );
    (status, Json(json!({ "error": message }))).into_response()
}

/// Who the principal is, as the engine records it: `user`, or `user (project P)`.
pub fn operator_of(p: &Principal) -> String {
    let user = if p.user.is_empty() {
        "unnamed user"
    } else {
        p.user.as_str()
    };
    match &p.project_id {
        Some(project) => format!("{user} (project {project})"),
        None => user.to_owned(),
    }
}

/// The body: empty, or `{"reason": "..."}` with a printable reason.
fn parse_body(bytes: &[u8]) -> Result<ActionBody, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionBody::default());
    }
    let body: ActionBody = serde_json::from_slice(bytes).map_err(|e| {
        format!("the body must be a JSON object with at most a \"reason\" string: {e}")
    })?;
    if let Some(r) = &body.reason {
        if r.chars().count() > MAX_REASON_CHARS {
            return Err(format!(
                "the reason is longer than {MAX_REASON_CHARS} characters"
            ));
        }
        if r.chars().any(char::is_control) {
            return Err("the reason must be printable characters on one line".to_owned());
        }
    }
    Ok(body)
}

/// A host name as hosts are registered (Masakari's `name`): 1 to 255 printable
/// characters, not starting or ending with whitespace.
fn check_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    let edge = |c: Option<char>| c.is_some_and(char::is_whitespace);
    if n == 0 || n > 255 {
        return Err(format!("a host name has 1 to 255 characters, not {n}"));
    }
    if name.chars().any(char::is_control) || edge(name.chars().next()) || edge(name.chars().last())
    {
        return Err(format!(
            "{name:?} is not a host name: printable characters, not starting or ending with whitespace"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_optional_and_takes_only_a_printable_reason() {
        assert_eq!(parse_body(b"").unwrap().reason, None);
        assert_eq!(parse_body(b" \n").unwrap().reason, None);
        assert_eq!(parse_body(b"{}").unwrap().reason, None);
        assert_eq!(
            parse_body(br#"{"reason": "BMC dead, host unplugged"}"#)
                .unwrap()
                .reason
                .as_deref(),
            Some("BMC dead, host unplugged")
        );
        let unknown = parse_body(br#"{"reason": "x", "force": true}"#).unwrap_err();
        assert!(unknown.contains("unknown field `force`"), "{unknown}");
        assert!(parse_body(b"[1]").is_err());
        assert!(parse_body(br#"{"reason": 3}"#).is_err());
        assert!(parse_body(br#"{"reason": "a\nb"}"#).is_err());
        let long = format!(r#"{{"reason": "{}"}}"#, "x".repeat(MAX_REASON_CHARS + 1));
        assert!(parse_body(long.as_bytes()).is_err());
    }

    #[test]
    fn host_names_are_printable_and_trimmed() {
        assert!(check_name("compute-1.example").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(" c1").is_err());
        assert!(check_name("c\u{7}1").is_err());
        assert!(check_name(&"c".repeat(256)).is_err());
    }

    #[test]
    fn the_operator_is_the_user_with_its_project() {
        let p = Principal {
            user: "alice".into(),
            project_id: Some("p1".into()),
            roles: vec!["admin".into()],
        };
        assert_eq!(operator_of(&p), "alice (project p1)");
        let anonymous = Principal {
            user: "anonymous".into(),
            project_id: None,
            roles: vec!["admin".into()],
        };
        assert_eq!(operator_of(&anonymous), "anonymous");
    }
}
