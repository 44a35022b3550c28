//! `POST /v1/responses`: normalize for the backend, then relay the event stream
//! as is, or answer with one Response object for a client that did not stream.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http::Response;
use serde_json::json;

use super::body::{self, Body};
use super::dispatch::{dispatch, Prepared};
use super::request;
use super::router::Ctx;
use crate::proxy::Finish;
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
    let prepared = Prepared {
        route: "responses",
        model: n.model,
        session_id: n.session_id,
        body: n.body,
        stream: n.stream,
    };
    dispatch(
        ctx,
        prepared,
        |collector, model| collector.response_object(model),
        |live| {
            let relay = Relay {
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
            if let Some(f) = event.failure() {
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
