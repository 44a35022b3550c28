//! `POST /v1/chat/completions`: parse, check the key's limits, translate, then
//! serve; the stream is converted to chat chunks, a non-stream answer is one
//! `chat.completion`.

use bytes::Bytes;
use http::Response;

use super::body::Body;
use super::ctx::Ctx;
use super::dispatch::dispatch;
use super::request;
use crate::translate::chat::{self, ChatRequest, ChatStream};

pub(super) async fn handle(mut ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let chat = match ChatRequest::parse(&bytes) {
        Ok(c) => c,
        Err(e) => return ctx.fail(e.into()),
    };
    let resolved = ctx.resolve_model(&chat.model);
    if let Err(e) = ctx.admit_model(&resolved.model) {
        return ctx.fail(e);
    }
    let hint = request::session_hint(&ctx.headers).map(str::to_owned);
    let include_usage = chat.include_usage();
    let mut up = match chat.into_responses(hint.as_deref(), ctx.session_seed()) {
        Ok(up) => up,
        Err(e) => return ctx.fail(e.into()),
    };
    // The translation borrowed from the bytes and copied what it kept into
    // the upstream body's buffer: the bytes are not held past it.
    drop(bytes);
    resolved.apply(&mut up);
    let created = crate::clock::unix_now() as u64;
    dispatch(
        ctx,
        up,
        |collector, model| chat::answer(collector, model, created),
        |model| ChatStream::new(model, created, include_usage),
    )
    .await
}
