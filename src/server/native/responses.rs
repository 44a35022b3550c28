//! `POST /backend-api/codex/responses`: the Codex CLI's model requests,
//! served exactly as `/v1/responses` requests are (`server/responses.rs`:
//! the same normalization, pool walk, relay and accounting), under the route
//! label `codex`. The CLI's zstd bodies are decoded by `request::read_body`;
//! its missing `instructions` become `""` in normalization.
//!
//! `GET` with `Upgrade: websocket` is the CLI's Responses WebSocket, served
//! by `server/ws/` under the route label `codex_ws`.

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;

use super::super::body::Body;
use super::super::ctx::admit;
use super::super::error::ApiError;
use super::super::request::RequestId;
use super::super::{responses, ws, Shared};
use super::forward;
use crate::route::Route;

pub(super) async fn handle(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    started: std::time::Instant,
    ids: &RequestId,
) -> Response<Body> {
    forward::strip_caller_login(req.headers_mut());
    let forward = forward::identity(req.headers());
    let version = forward
        .iter()
        .find(|(k, _)| k.as_str() == "version")
        .and_then(|(_, v)| v.to_str().ok())
        .map(str::to_owned);
    match admit(shared, req, Route::Codex, started, ids).await {
        Ok((ctx, bytes)) => {
            // An admitted Codex CLI newer than the gateway shows which version
            // the backend serves now (`upstream::identity`).
            if let Some(v) = version {
                shared
                    .app
                    .identity
                    .learn(&v, "a Codex CLI on the native route");
            }
            responses::serve(ctx, bytes, forward).await
        }
        Err(resp) => resp,
    }
}

/// The CLI's Responses WebSocket (`server/ws/`), admitted as `handle`
/// admits a POST: the caller's login taken off, its identity forwarded.
pub(super) fn upgrade(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    ids: &RequestId,
) -> Response<Body> {
    if !ws::is_upgrade(req.headers()) {
        return ApiError::method_not_allowed(&http::Method::GET, "/backend-api/codex/responses")
            .into_response();
    }
    forward::strip_caller_login(req.headers_mut());
    let forward = forward::identity(req.headers());
    ws::upgrade(shared, req, Route::CodexWs, forward, ids)
}
