//! `POST /v1/messages` (Anthropic Messages): parse, resolve the model, check
//! the key's limits, translate, then serve; the stream is converted to
//! Messages events, a non-stream answer is one `message` object. Errors are
//! in Anthropic's envelope (`Ctx::style`). `POST /v1/messages/count_tokens`
//! answers a local estimate (`translate::anthropic::estimate_input_tokens`).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::json;

use super::body::{self, Body};
use super::ctx::Ctx;
use super::dispatch::dispatch;
use super::request;
use crate::translate::anthropic::{self, MessagesRequest, MessagesStream};

/// Claude Code's conversation header.
const CLAUDE_SESSION_HEADER: &str = "x-claude-code-session-id";

pub(super) async fn handle(mut ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let req = match MessagesRequest::parse(&bytes) {
        Ok(r) => r,
        Err(e) => return ctx.fail(e.into()),
    };
    let resolved = ctx.resolve_model(&req.model);
    if let Err(e) = ctx.admit_model(&resolved.model) {
        return ctx.fail(e);
    }
    let hint = request::session_hint(&ctx.headers)
        .or_else(|| {
            ctx.headers
                .get(CLAUDE_SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 256)
        })
        .map(str::to_owned);
    let (mut up, shape) = match req.into_responses(hint.as_deref(), ctx.session_seed()) {
        Ok(t) => t,
        Err(e) => return ctx.fail(e.into()),
    };
    resolved.apply(&mut up);
    drop(bytes);
    let collected_shape = shape.clone();
    dispatch(
        ctx,
        up,
        move |collector, model| anthropic::answer(collector, model, &collected_shape),
        move |model| MessagesStream::new(model, shape),
    )
    .await
}

pub(super) fn count_tokens(mut ctx: Ctx, bytes: Bytes) -> Response<Body> {
    match anthropic::estimate_input_tokens(&bytes) {
        Ok(n) => {
            ctx.ledger.end(200, "ok");
            body::json(StatusCode::OK, &json!({"input_tokens": n}))
        }
        Err(e) => ctx.fail(e.into()),
    }
}
