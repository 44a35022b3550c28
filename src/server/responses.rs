//! `POST /v1/responses`: normalize for the backend, then relay the event stream
//! as is, or answer with one Response object for a client that did not stream.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http::Response;
use serde_json::json;

use super::body::{self, Body};
use super::request;
use super::router::{proxied_headers, sse_response, Ctx};
use crate::proxy::{self, failure_of, Call, Delivery, Finish, Mode};
use crate::translate::responses::normalize;
use crate::upstream::events::{Event, Kind};
use crate::upstream::sse::{self, EventStream};
use crate::upstream::Failure;
use sse_stream::Sse;

pub async fn handle(mut ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let hint = request::session_hint(&ctx.headers).map(str::to_owned);
    let n = match normalize(&bytes, hint.as_deref(), ctx.session_seed()) {
        Ok(n) => n,
        Err(e) => return ctx.fail(e.into()),
    };
    if let Err(e) = ctx.admit(&n.model) {
        return ctx.fail(e);
    }
    let body = match serde_json::to_vec(&n.body) {
        Ok(b) => Bytes::from(b),
        Err(e) => return ctx.fail(crate::error::ApiError::internal(e.to_string())),
    };
    let call = Call {
        route: "responses",
        request_id: ctx.request_id.clone(),
        key: ctx.key.clone(),
        model: n.model.clone(),
        session_id: n.session_id,
        body,
    };
    let mode = if n.stream {
        Mode::Stream
    } else {
        Mode::Collect
    };
    let served = match proxy::serve(ctx.finish.app(), &ctx.snap, &call, mode).await {
        Ok(s) => s,
        Err(e) => return ctx.fail(e),
    };
    let upstream_model = served.upstream_model().map(str::to_owned);
    let model = upstream_model.clone().unwrap_or_else(|| n.model.clone());
    let mut finish = ctx.finish;
    finish.served(served.account.clone(), ctx.key.clone(), &model);
    finish.first_byte(served.upstream_wait);
    match served.delivery {
        Delivery::Collected(collector) => {
            let answer = collector.response_object(&model);
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
                buffered,
                events,
                idle: ctx.snap.config.upstream.idle_timeout,
                finish,
                done: false,
            };
            let mut resp = sse_response(body::stream(stream::unfold(relay, Relay::next)));
            proxied_headers(&mut resp, &served.account.name, upstream_model.as_deref());
            resp
        }
    }
}

struct Relay {
    buffered: VecDeque<Sse>,
    events: EventStream,
    idle: Duration,
    finish: Finish,
    done: bool,
}

impl Relay {
    /// Relays one event as upstream sent it; parses it once, to see whether
    /// the stream ends with it (usage, or a failure).
    async fn next(mut self) -> Option<(Bytes, Relay)> {
        if self.done {
            return None;
        }
        let sse = match self.buffered.pop_front() {
            Some(s) => s,
            None => match self.events.next(self.idle).await {
                Ok(Some(sse)) => sse,
                Ok(None) => return Some(self.fail(Failure::StreamTruncated)),
                Err(f) => return Some(self.fail(f)),
            },
        };
        let data = sse.data.as_deref().unwrap_or("");
        let event = Event::parse(data).ok();
        let name = sse
            .event
            .as_deref()
            .or(event.as_ref().map(|e| e.name.as_ref()));
        let mut out = BytesMut::with_capacity(data.len() + 48);
        sse::encode(name, data, &mut out);
        if let Some(event) = &event {
            if let Some(f) = failure_of(event) {
                self.done = true;
                self.finish.fail(&f);
            } else if matches!(event.kind(), Kind::Completed | Kind::Incomplete) {
                self.done = true;
                let info = event.response().unwrap_or_default();
                if let Some(m) = info.model.as_deref() {
                    self.finish.set_model(m);
                }
                self.finish.complete(info.usage.as_ref());
            }
        }
        Some((out.freeze(), self))
    }

    /// Ends the stream with a Responses-style `error` event.
    fn fail(mut self, f: Failure) -> (Bytes, Relay) {
        self.done = true;
        let data = json!({"type": "error", "code": f.client_code(), "message": f.to_string(), "param": null});
        let mut out = BytesMut::new();
        sse::encode(Some("error"), &data.to_string(), &mut out);
        self.finish.fail(&f);
        (out.freeze(), self)
    }
}
