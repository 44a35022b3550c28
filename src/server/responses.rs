//! `POST /v1/responses`: normalize for the backend, check the key's limits,
//! then serve; the event stream is relayed as is, a non-stream answer is one
//! Response object.

use bytes::Bytes;
use http::Response;

use super::body::Body;
use super::ctx::Ctx;
use super::dispatch::dispatch_with;
use super::request;
use crate::translate::responses::{self, normalize, Passthrough};

pub(super) async fn handle(ctx: Ctx, bytes: Bytes) -> Response<Body> {
    serve(ctx, bytes, Vec::new()).await
}

/// `handle`, with client headers `forward`ed upstream (the native Codex
/// route, `server/native/responses.rs`, serves its requests through here).
pub(super) async fn serve(
    mut ctx: Ctx,
    bytes: Bytes,
    forward: Vec<(http::HeaderName, http::HeaderValue)>,
) -> Response<Body> {
    let hint = request::session_hint(&ctx.headers).map(str::to_owned);
    let mut up = match normalize(&bytes, hint.as_deref(), ctx.session_seed()) {
        Ok(up) => up,
        Err(e) => return ctx.fail(e.into()),
    };
    drop(bytes);
    let resolved = ctx.resolve_model(&up.model);
    if let Err(e) = ctx.admit_model(&resolved.model) {
        return ctx.fail(e);
    }
    resolved.apply(&mut up);
    dispatch_with(ctx, up, forward, responses::answer, |_| {
        Passthrough::default()
    })
    .await
}
