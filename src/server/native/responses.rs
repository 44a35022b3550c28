//! `POST /backend-api/codex/responses`: the Codex CLI's model requests,
//! served exactly as `/v1/responses` requests are (`server/responses.rs`:
//! the same normalization, pool walk, relay and accounting), under the route
//! label `codex`. The CLI's zstd bodies are decoded by `request::read_body`;
//! its missing `instructions` become `""` in normalization.
//!
//! `GET` with `Upgrade: websocket` is the CLI's Responses WebSocket: `426`,
//! so it uses HTTP for the rest of the session at once.

use std::sync::Arc;

use http::{header, HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::super::body::Body;
use super::super::ctx::admit;
use super::super::error::{ApiError, Code};
use super::super::request::RequestId;
use super::super::{responses, Shared};
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

/// The WebSocket upgrade: not spoken yet, so `426 Upgrade Required`.
pub(super) fn upgrade(headers: &HeaderMap) -> Response<Body> {
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("websocket"));
    if !websocket {
        return ApiError::method_not_allowed(&http::Method::GET, "/backend-api/codex/responses")
            .into_response();
    }
    ApiError::with_status(
        StatusCode::UPGRADE_REQUIRED,
        Code::MethodNotAllowed,
        "this gateway serves the Responses API over HTTP only, not over WebSocket; send the request as an HTTP POST",
    )
    .into_response()
}
