//! `POST /v1/chat/completions`: translate, serve through the pool, and either
//! relay the stream as chat chunks or answer with one `chat.completion`.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http::Response;

use super::body::{self, Body};
use super::dispatch::{dispatch, Prepared};
use super::request;
use super::router::Ctx;
use crate::proxy::Finish;
use crate::translate::chat::ChatRequest;
use crate::translate::chat_stream::{error_frame, ChatStream, Step};
use crate::upstream::sse::EventStream;
use crate::upstream::Failure;
use sse_stream::Sse;

pub async fn handle(mut ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let chat = match ChatRequest::parse(&bytes) {
        Ok(c) => c,
        Err(e) => return ctx.fail(e.into()),
    };
    if let Err(e) = ctx.admit(&chat.model) {
        return ctx.fail(e);
    }
    let hint = request::session_hint(&ctx.headers).map(str::to_owned);
    let t = match chat.into_responses(hint.as_deref(), ctx.session_seed()) {
        Ok(t) => t,
        Err(e) => return ctx.fail(e.into()),
    };
    let created = crate::clock::unix_now() as u64;
    let include_usage = t.include_usage;
    let prepared = Prepared {
        route: "chat",
        model: t.model,
        session_id: t.session_id,
        body: t.body,
        stream: t.stream,
    };
    dispatch(
        ctx,
        prepared,
        |collector, model| collector.chat_completion(model, created),
        |live| {
            let relay = Relay {
                conv: ChatStream::new(&live.model, created, include_usage),
                buffered: live.buffered,
                events: live.events,
                idle: live.idle,
                finish: live.finish,
                done: false,
            };
            body::stream(stream::unfold(relay, Relay::next))
        },
    )
    .await
}

/// The state of one relayed chat stream. Dropping it (client gone) drops the
/// upstream response, which cancels the upstream request.
struct Relay {
    conv: ChatStream,
    buffered: VecDeque<Sse>,
    events: EventStream,
    idle: Duration,
    finish: Finish,
    done: bool,
}

impl Relay {
    async fn next(mut self) -> Option<(Bytes, Relay)> {
        if self.done {
            return None;
        }
        loop {
            let data = match self.buffered.pop_front() {
                Some(d) => d.data.unwrap_or_default(),
                None => match self.events.next(self.idle).await {
                    Ok(Some(sse)) => sse.data.unwrap_or_default(),
                    Ok(None) => return Some(self.fail(Failure::StreamTruncated)),
                    Err(f) => return Some(self.fail(f)),
                },
            };
            let mut out = BytesMut::new();
            match self.conv.push(&data, &mut out) {
                Step::Continue if out.is_empty() => continue,
                Step::Continue => return Some((out.freeze(), self)),
                Step::Done => {
                    self.done = true;
                    let model = self.conv.model().to_string();
                    self.finish.set_model(&model);
                    let usage = self.conv.usage().cloned();
                    self.finish.complete(usage.as_ref());
                    return Some((out.freeze(), self));
                }
                Step::Failed(f) => {
                    self.done = true;
                    self.finish.fail(&f);
                    return Some((out.freeze(), self));
                }
            }
        }
    }

    fn fail(mut self, f: Failure) -> (Bytes, Relay) {
        self.done = true;
        let mut out = BytesMut::new();
        error_frame(&f, &mut out);
        self.finish.fail(&f);
        (out.freeze(), self)
    }
}
