//! The Responses API over WebSocket (docs/websocket.md): `GET /v1/responses`
//! and `GET /backend-api/codex/responses` with `Upgrade: websocket`.
//!
//! - `mod.rs` (here): the upgrade, admitted like a POST on the same route
//!   (client key, connection cap; the router's browser guard ran before),
//!   and the sockets' owner (`Sockets`: their tasks, shutdown).
//! - `session.rs`: one client socket's life: frames, keepalive, idle close,
//!   shutdown at a turn boundary.
//! - `turn.rs`: one `response.create`: admission, normalization, the pool
//!   walk (`proxy::socket`), the relay and the ledger.
//! - `fallback.rs`: turns served over HTTP upstream when upstream has no
//!   WebSocket (`[upstream] websocket`).
//! - `event.rs`: the gateway's own `error` events.

mod event;
mod fallback;
mod session;
mod turn;

use std::sync::{Arc, Mutex};

use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::body::{self, Body};
use super::error::{ApiError, Code};
use super::request::{self, RequestId};
use super::Shared;
use crate::keys;
use crate::route::Route;

/// The client sockets of one listener: their tasks (owned, joined at
/// shutdown) and the signal that tells them to close.
pub(crate) struct Sockets {
    tasks: Mutex<JoinSet<()>>,
    stop: watch::Sender<bool>,
    /// The listener's connection cap: a socket holds one permit for its life.
    connections: Arc<Semaphore>,
}

impl Sockets {
    pub(crate) fn new(connections: Arc<Semaphore>) -> Sockets {
        Sockets {
            tasks: Mutex::new(JoinSet::new()),
            stop: watch::channel(false).0,
            connections,
        }
    }

    /// Asks every socket to close at its next turn boundary, waits up to
    /// `grace` for them, then ends the rest.
    pub(crate) async fn shutdown(&self, grace: std::time::Duration) {
        let _ = self.stop.send(true);
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        let drained = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drained).await.is_err() {
            tracing::warn!("shutdown grace ran out; closing the WebSockets still in a turn");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the request asks for a WebSocket.
pub(super) fn is_upgrade(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `GET` on a Responses route: `101` and a socket served by `session.rs`, or
/// the refusal an HTTP request on the route would get. `forward`: client
/// headers sent upstream (the native route's identity headers).
pub(super) fn upgrade(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    route: Route,
    forward: Vec<(http::HeaderName, HeaderValue)>,
    ids: &RequestId,
) -> Response<Body> {
    let refuse = |e: ApiError| e.into_response();
    let headers = req.headers();
    let version_ok = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return refuse(ApiError::new(
            Code::InvalidRequest,
            "a WebSocket upgrade needs Sec-WebSocket-Key",
        ));
    };
    if !version_ok {
        let mut r = refuse(ApiError::new(
            Code::InvalidRequest,
            "only WebSocket version 13 is spoken here",
        ));
        r.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return r;
    }
    let snap = shared.app.snapshot();
    if let Err(r) = keys::authenticate(&snap.keys, request::client_key(headers)) {
        return refuse(ApiError::from(&r));
    }
    if *shared.sockets.stop.borrow() {
        return refuse(ApiError::overloaded(
            "WebSockets (the gateway is shutting down)",
        ));
    }
    let Ok(permit) = Arc::clone(&shared.sockets.connections).try_acquire_owned() else {
        return refuse(ApiError::overloaded("connections"));
    };
    let max_message = snap.config.server.websocket_max_message_bytes;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let session = session::Session::new(
        Arc::clone(shared),
        route,
        req.headers().clone(),
        forward,
        permit,
    );
    let stop = shared.sockets.stop.subscribe();
    let request_id = ids.id.clone();
    {
        let mut tasks = lock(&shared.sockets.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(u) => u,
                Err(e) => {
                    tracing::debug!(%request_id, error = %e, "the WebSocket upgrade did not complete");
                    return;
                }
            };
            let config = client_config(max_message);
            let client =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                    .await;
            session.run(client, stop).await;
        });
    }
    switching(&key, max_message)
}

/// The `101` answer: no subprotocol, no extension (permessage-deflate is
/// declined by not naming it), the enforced message limit advertised.
fn switching(key: &HeaderValue, max_message: usize) -> Response<Body> {
    let mut r = Response::new(body::full(bytes::Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    h.insert(
        "x-codex-websocket-max-message-bytes",
        HeaderValue::from(max_message),
    );
    r
}

/// The client side's limits: the advertised message size, small buffers.
fn client_config(max_message: usize) -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    let mut c = crate::upstream::ws::config();
    c.max_message_size = Some(max_message);
    c.max_frame_size = Some(max_message);
    c
}
