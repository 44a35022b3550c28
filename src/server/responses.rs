//! `POST /v1/responses`: normalize for the backend, check the key's limits,
//! then serve; the event stream is relayed as is, a non-stream answer is one
//! Response object.

use bytes::Bytes;
use http::Response;

use super::body::Body;
use super::ctx::Ctx;
use super::dispatch::dispatch;
use super::relay::Passthrough;
use super::request;
use crate::translate::responses::normalize;

pub async fn handle(mut ctx: Ctx, bytes: Bytes) -> Response<Body> {
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
    dispatch(
        ctx,
        up,
        |collector, model| collector.response_object(model),
        |_| Passthrough::default(),
    )
    .await
}
