//! The gateway's own frames on a client WebSocket: an error is one `error`
//! event in the backend's shape (`{"type":"error","status","error":{"type",
//! "code","message","param"},"headers"}`), so the Codex CLI reacts to it as
//! it does to the backend's (docs/websocket.md §Errors). A usage limit is
//! `type: usage_limit_reached` with the reset time, which the CLI shows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::super::error::{ApiError, Code};

/// The `error` event for `e`.
pub(super) fn error(e: &ApiError) -> String {
    let mut error = json!({
        "type": e.error_type,
        "code": e.code.as_str(),
        "message": e.message,
        "param": e.param,
    });
    let mut headers = serde_json::Map::new();
    if let Some(after) = e.retry_after {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        headers.insert("retry-after".into(), json!(secs.max(1).to_string()));
    }
    if e.code == Code::UsageLimitReached || e.code.as_str() == "usage_limit_reached" {
        error["type"] = json!("usage_limit_reached");
        let wait = e.retry_after.unwrap_or(Duration::ZERO);
        let resets = SystemTime::now() + wait;
        let at = resets.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        error["resets_at"] = json!(at);
        error["resets_in_seconds"] = json!(wait.as_secs());
    }
    if let Some(a) = &e.account {
        headers.insert("x-codex-pool-account".into(), json!(a));
    }
    json!({
        "type": "error",
        "status": e.status.as_u16(),
        "error": error,
        "headers": Value::Object(headers),
    })
    .to_string()
}

/// The answer to a continuation that cannot stay on its account: the Codex
/// CLI then resends the whole input on a new socket.
pub(super) fn previous_response_not_found(previous: &str) -> ApiError {
    ApiError::new(
        Code::PreviousResponseNotFound,
        format!(
            "Previous response with id '{}' not found: the account that held it cannot serve this turn; send the full input",
            crate::translate::bounded(previous)
        ),
    )
    .with_param("previous_response_id")
}

/// A frame the protocol does not allow.
pub(super) fn protocol(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::WebSocketProtocol, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_limit_is_the_backends_shape_with_its_reset() {
        let e = ApiError::new(Code::UsageLimitReached, "every account is out")
            .with_retry_after(Duration::from_secs(600));
        let v: Value = serde_json::from_str(&error(&e)).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["status"], 429);
        assert_eq!(v["error"]["type"], "usage_limit_reached");
        assert_eq!(v["error"]["code"], "usage_limit_reached");
        assert_eq!(v["error"]["resets_in_seconds"], 600);
        assert!(v["error"]["resets_at"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(v["headers"]["retry-after"], "600");
    }

    #[test]
    fn a_continuation_that_cannot_move_is_previous_response_not_found() {
        let v: Value =
            serde_json::from_str(&error(&previous_response_not_found("resp_1"))).unwrap();
        assert_eq!(v["status"], 400);
        assert_eq!(v["error"]["code"], "previous_response_not_found");
        assert_eq!(v["error"]["param"], "previous_response_id");
    }
}
