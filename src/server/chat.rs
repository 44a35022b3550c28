//! `POST /v1/chat/completions`: translate, serve through the pool, and either
//! relay the stream as chat chunks or answer with one `chat.completion`.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http::Response;

use super::body::{self, Body};
use super::request;
use super::router::{proxied_headers, sse_response, Ctx};
use crate::proxy::{self, Call, Delivery, Finish, Mode};
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
    let body = match serde_json::to_vec(&t.body) {
        Ok(b) => Bytes::from(b),
        Err(e) => return ctx.fail(crate::error::ApiError::internal(e.to_string())),
    };
    let call = Call {
        route: "chat",
        request_id: ctx.request_id.clone(),
        key: ctx.key.clone(),
        model: t.model.clone(),
        session_id: t.session_id,
        body,
    };
    let mode = if t.stream {
        Mode::Stream
    } else {
        Mode::Collect
    };
    let app = ctx.finish.app();
    let served = match proxy::serve(app, &ctx.snap, &call, mode).await {
        Ok(s) => s,
        Err(e) => return ctx.fail(e),
    };
    let upstream_model = served.upstream_model().map(str::to_owned);
    let model = upstream_model.clone().unwrap_or_else(|| t.model.clone());
    let mut finish = ctx.finish;
    finish.served(served.account.clone(), ctx.key.clone(), &model);
    finish.first_byte(served.upstream_wait);
    let created = crate::pool::quota::unix_now() as u64;
    let idle = ctx.snap.config.upstream.idle_timeout;
    match served.delivery {
        Delivery::Collected(collector) => {
            let answer = collector.chat_completion(&model, created);
            let reported = answer["model"].as_str().map(str::to_owned);
            finish.set_model(reported.as_deref().unwrap_or(&model));
            finish.complete(collector.usage().as_ref());
            let mut resp = body::json(http::StatusCode::OK, &answer);
            proxied_headers(
                &mut resp,
                &served.account.name,
                upstream_model.as_deref().or(reported.as_deref()),
            );
            resp
        }
        Delivery::Stream { buffered, events } => {
            let relay = Relay {
                conv: ChatStream::new(&model, created, t.include_usage),
                buffered,
                events,
                idle,
                finish,
                done: false,
            };
            let mut resp = sse_response(body::stream(stream::unfold(relay, Relay::next)));
            proxied_headers(&mut resp, &served.account.name, upstream_model.as_deref());
            resp
        }
    }
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
