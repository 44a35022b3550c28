//! What the route asks of the pool, built here from what the route has: the
//! request's ids and key, its model, session and body. The pool walk's own
//! input (the conversation, the blobs the body carries, the client's
//! turn-state token) is worked out here, where it is used, not by the route.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::TURN_STATE;
use crate::affinity::Conversation;
use crate::app::App;
use crate::keys::ClientKey;
use crate::pool::pins::digest;
use crate::route::Route;
use crate::translate::Upstream;

/// Who asks: the same for every pool walk one request makes.
pub(crate) struct Caller<'a> {
    pub route: Route,
    pub request_id: &'a str,
    pub gateway_request_id: &'a str,
    pub key: Option<&'a Arc<ClientKey>>,
    /// The client's request headers (the turn-state token on HTTP).
    pub headers: &'a HeaderMap,
}

impl Caller<'_> {
    /// The call this caller makes: its ids and key copied into what the pool
    /// walk owns, beside the rest.
    fn call(
        &self,
        model: String,
        session_id: String,
        body: Bytes,
        conversation: Conversation,
        forward: Vec<(HeaderName, HeaderValue)>,
    ) -> Call {
        Call {
            route: self.route,
            request_id: self.request_id.to_owned(),
            gateway_request_id: self.gateway_request_id.to_owned(),
            key: self.key.cloned(),
            model,
            session_id,
            body,
            conversation,
            forward,
        }
    }
}

/// What the route asks of the pool.
pub(crate) struct Call {
    pub route: Route,
    pub request_id: String,
    pub gateway_request_id: String,
    pub key: Option<Arc<ClientKey>>,
    pub model: String,
    pub session_id: String,
    pub body: Bytes,
    /// Its place in its conversation (`affinity::Conversation`).
    pub conversation: Conversation,
    /// Client headers sent upstream as they are, on top of the gateway's own
    /// (the Codex CLI's identity headers on its native route,
    /// `server/native/forward.rs`). Never credentials: `upstream::Client`
    /// refuses to let these replace the account's.
    pub forward: Vec<(HeaderName, HeaderValue)>,
}

impl Call {
    /// The call for a translated `body`: its conversation (the session
    /// within the key's namespace), the digests of the blobs it carries, the
    /// client's turn-state token (a header on HTTP, an entry of the body's
    /// `client_metadata` on a WebSocket turn), and the body serialized once;
    /// the parsed body is dropped here, before upstream is called.
    pub(crate) fn new(
        app: &App,
        caller: Caller<'_>,
        model: String,
        session_id: String,
        body: Value,
        forward: Vec<(HeaderName, HeaderValue)>,
    ) -> serde_json::Result<Call> {
        let turn_state = turn_state(&caller, &body);
        let key = caller.key.map(|k| k.name());
        let conversation = app
            .affinity
            .conversation(key, &session_id, &body, turn_state);
        let bytes = Bytes::from(serde_json::to_vec(&body)?);
        Ok(caller.call(model, session_id, bytes, conversation, forward))
    }

    /// The call for a translated request whose conversation is already
    /// serialized (`translate::Upstream`, `translate::input`): as `new`, but
    /// the body is finished in the buffer the conversation was written into
    /// and the blob digests are those taken while it was written.
    pub(crate) fn translated(
        app: &App,
        caller: Caller<'_>,
        up: Upstream,
        forward: Vec<(HeaderName, HeaderValue)>,
    ) -> serde_json::Result<Call> {
        let turn_state = turn_state(&caller, &up.body);
        let key = caller.key.map(|k| k.name());
        let mut conversation = app
            .affinity
            .conversation(key, &up.session_id, &up.body, turn_state);
        conversation.blobs = up.blobs(digest);
        let model = up.model.clone();
        let session_id = up.session_id.clone();
        let bytes = crate::buffers::freeze(up.into_bytes()?);
        Ok(caller.call(model, session_id, bytes, conversation, forward))
    }

    /// A call outside any conversation (an image): no affinity, no blobs, no
    /// turn state, nothing forwarded; `body` already serialized.
    pub(crate) fn alone(
        caller: Caller<'_>,
        model: String,
        session_id: String,
        body: Bytes,
    ) -> Call {
        caller.call(model, session_id, body, Conversation::default(), Vec::new())
    }

    /// The same call with another body (a WebSocket turn rebuilt as a full
    /// HTTP request): its blobs worked out again, and no turn-state token
    /// (one is valid on one account's socket only).
    pub(crate) fn with_body(&self, body: &Value) -> serde_json::Result<Call> {
        Ok(Call {
            route: self.route,
            request_id: self.request_id.clone(),
            gateway_request_id: self.gateway_request_id.clone(),
            key: self.key.clone(),
            model: self.model.clone(),
            session_id: self.session_id.clone(),
            body: Bytes::from(serde_json::to_vec(body)?),
            conversation: self.conversation.rebodied(body),
            forward: self.forward.clone(),
        })
    }

    /// The body's digest for outlier detection (`body_digest`).
    pub(crate) fn digest(&self) -> u64 {
        super::body_digest(&self.body)
    }
}

/// The client's turn-state token: an entry of the body's `client_metadata`
/// on a WebSocket turn, a header on HTTP.
fn turn_state(caller: &Caller<'_>, body: &Value) -> Option<String> {
    match caller.route {
        Route::ResponsesWs | Route::CodexWs => body
            .get("client_metadata")
            .and_then(|m| m.get(TURN_STATE))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => caller
            .headers
            .get(TURN_STATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}
