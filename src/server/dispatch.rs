//! The tail both API routes share once their request is translated: serve it
//! through the pool, then answer with one JSON object or a relayed stream.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use serde_json::Value;
use sse_stream::Sse;

use super::body::{self, Body};
use super::router::{proxied_headers, sse_response, Ctx};
use crate::error::ApiError;
use crate::proxy::{self, Call, Delivery, Finish, Mode};
use crate::translate::aggregate::Collector;
use crate::upstream::sse::EventStream;

/// A translated request, ready for upstream.
pub struct Prepared {
    pub route: &'static str,
    pub model: String,
    pub session_id: String,
    pub body: Value,
    /// Whether the client asked for a stream.
    pub stream: bool,
}

/// A served stream, handed to the route's relay.
pub struct Live {
    /// Events read before the first output (failover was still possible).
    pub buffered: VecDeque<Sse>,
    pub events: EventStream,
    pub finish: Finish,
    /// The model upstream reported in `openai-model`, else the one asked for.
    pub model: String,
    pub idle: Duration,
}

/// Serves `p`; `collected` renders a whole answer, `streamed` turns the live
/// stream into the response body.
pub async fn dispatch(
    mut ctx: Ctx,
    p: Prepared,
    collected: impl FnOnce(&Collector, &str) -> Value,
    streamed: impl FnOnce(Live) -> Body,
) -> Response<Body> {
    let body = match serde_json::to_vec(&p.body) {
        Ok(b) => Bytes::from(b),
        Err(e) => return ctx.fail(ApiError::internal(e.to_string())),
    };
    let call = Call {
        route: p.route,
        request_id: ctx.request_id.clone(),
        key: ctx.key.clone(),
        model: p.model.clone(),
        session_id: p.session_id,
        body,
    };
    let mode = if p.stream {
        Mode::Stream
    } else {
        Mode::Collect
    };
    let served = match proxy::serve(ctx.finish.app(), &ctx.snap, &call, mode).await {
        Ok(s) => s,
        Err(e) => return ctx.fail(e),
    };
    let upstream_model = served.upstream_model().map(str::to_owned);
    let model = upstream_model.clone().unwrap_or(p.model);
    let finish = &mut ctx.finish;
    finish.served(served.account.clone(), ctx.key.clone(), &model);
    finish.first_byte(served.upstream_wait);
    match served.delivery {
        Delivery::Collected(collector) => {
            let answer = collected(&collector, &model);
            let reported = answer["model"].as_str().map(str::to_owned);
            finish.set_model(reported.as_deref().unwrap_or(&model));
            finish.complete(collector.usage().as_ref());
            let mut resp = body::json(http::StatusCode::OK, &answer);
            let shown = upstream_model.as_deref().or(reported.as_deref());
            proxied_headers(&mut resp, &served.account.name, shown);
            resp
        }
        Delivery::Stream { buffered, events } => {
            let live = Live {
                buffered,
                events,
                finish: ctx.finish,
                model,
                idle: ctx.snap.config.upstream.idle_timeout,
            };
            let mut resp = sse_response(streamed(live));
            proxied_headers(&mut resp, &served.account.name, upstream_model.as_deref());
            resp
        }
    }
}
