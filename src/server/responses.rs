//! `POST /v1/responses`: normalize for the backend, check the key's limits,
//! then serve; the event stream is relayed as is, a non-stream answer is one
//! Response object.

use bytes::Bytes;
use http::Response;

use super::body::Body;
use super::ctx::Ctx;
use super::dispatch::{dispatch, Prepared};
use super::relay::Passthrough;
use super::request;
use crate::translate::responses::normalize;

pub async fn handle(mut ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let hint = request::session_hint(&ctx.headers).map(str::to_owned);
    let n = match normalize(&bytes, hint.as_deref(), ctx.session_seed()) {
        Ok(n) => n,
        Err(e) => return ctx.fail(e.into()),
    };
    if let Err(e) = ctx.admit_model(&n.model) {
        return ctx.fail(e);
    }
    let prepared = Prepared {
        model: n.model,
        session_id: n.session_id,
        body: n.body,
        stream: n.stream,
    };
    dispatch(
        ctx,
        prepared,
        |collector, model| collector.response_object(model),
        |_| Passthrough::default(),
    )
    .await
}
