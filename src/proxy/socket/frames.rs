//! What a turn's frames mean to the pool walk (`proxy/socket.rs`): what an
//! upstream frame teaches the gateway, the failure it reports, and the frame
//! one account may be sent.

use bytes::Bytes;
use serde_json::Value;

use super::super::{attempt, Call, TURN_STATE};
use crate::app::App;
use crate::pool::Account;
use crate::upstream::events::{Event, Kind};
use crate::upstream::Failure;

/// The failure an upstream frame reports: a WebSocket `error` event (an HTTP
/// answer's status and body in one frame) or a `response.failed`.
pub(crate) fn failure_of(text: &str, event: Option<&Event<'_>>) -> Option<Failure> {
    let event = event?;
    if event.kind() == Kind::Error {
        let v: Value = serde_json::from_str(text).ok()?;
        if let Some(status) = v["status"].as_u64().and_then(|s| u16::try_from(s).ok()) {
            let status = http::StatusCode::from_u16(status).ok()?;
            let body = serde_json::json!({"error": v["error"]}).to_string();
            let mut headers = http::HeaderMap::new();
            if let Some(h) = v["headers"].as_object() {
                for (k, val) in h {
                    let (Ok(k), Some(Ok(val))) = (
                        http::HeaderName::from_bytes(k.as_bytes()),
                        val.as_str().map(http::HeaderValue::from_str),
                    ) else {
                        continue;
                    };
                    headers.insert(k, val);
                }
            }
            return Some(Failure::from_response(status, &headers, body.as_bytes()));
        }
    }
    event.failure()
}

/// The frame `account` may be sent: without blobs another account produced,
/// and without a turn-state token another account minted.
pub(super) fn frame_for(app: &App, call: &Call, account: &Account) -> Bytes {
    let body = attempt::body_for(app, call, account, false).unwrap_or_else(|| call.body.clone());
    if !app
        .affinity
        .foreign_turn_state(&call.conversation, &account.name)
    {
        return body;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    if let Some(meta) = v.get_mut("client_metadata").and_then(Value::as_object_mut) {
        meta.remove(TURN_STATE);
    }
    serde_json::to_vec(&v).map(Bytes::from).unwrap_or(body)
}

/// The backend closes a socket after 60 minutes with this error event.
pub(super) fn is_age_limit(held: &[String]) -> bool {
    held.last()
        .is_some_and(|t| t.contains("\"websocket_connection_limit_reached\""))
}
