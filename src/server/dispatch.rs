//! One request, phase by phase. Every API route runs the same sequence; each
//! phase names the function that carries it out:
//!
//! 1. **admit** — in-flight cap, client key, the key's budgets and rate (spent
//!    here, before the body), bounded body: `ctx::admit`.
//! 2. **parse + key limits** — the route parses its body, then the key's model
//!    allow-list: `Ctx::admit_model` (`chat::handle`,
//!    `responses::handle`, `messages::handle`), on the model an alias
//!    resolves to (`Ctx::resolve_model`).
//! 3. **translate** — to the body the backend accepts: `translate::chat`,
//!    `translate::responses`, `translate::anthropic`.
//! 4. **serve** — the pool walk: pick an account → send → on a retryable
//!    failure before the first output, pick again: `proxy::serve`, one
//!    account's try in `proxy/attempt.rs`. Its error becomes HTTP in
//!    `server/error.rs`.
//! 5. **relay** — the held-back events, then the live stream through the
//!    route's converter: `relay::Relay` (or one JSON answer from the collected
//!    stream: `dispatch` below).
//! 6. **record** — metrics, tokens against budgets, a mid-stream failure's
//!    effect on the account: `ledger::Ledger`, opened in phase 1 and closed
//!    when the answer ends (or the client goes away).

use http::Response;

use super::body::{self, proxied_headers, sse_response, Body};
use super::ctx::Ctx;
use super::error::ApiError;
use super::relay::Relay;
use crate::proxy::{self, Call, Delivery, Mode};
use crate::translate::{Answer, Collector, Convert, Upstream};

/// Phases 4–6 for a translated request: `collected` renders a whole answer
/// (model shown), `converter` makes the stream converter for the model shown.
/// Not an `async fn`: that would keep a second copy of its arguments in its
/// state beside the future they are moved into.
pub(super) fn dispatch<C: Convert>(
    ctx: Ctx,
    up: Upstream,
    collected: impl FnOnce(&Collector, &str) -> Answer,
    converter: impl FnOnce(&str) -> C,
) -> impl std::future::Future<Output = Response<Body>> {
    dispatch_with(ctx, up, Vec::new(), collected, converter)
}

/// `dispatch`, with client headers `forward`ed upstream as they are
/// (`proxy::Call::forward`; the native Codex route's identity headers).
pub(super) async fn dispatch_with<C: Convert>(
    mut ctx: Ctx,
    up: Upstream,
    forward: Vec<(http::HeaderName, http::HeaderValue)>,
    collected: impl FnOnce(&Collector, &str) -> Answer,
    converter: impl FnOnce(&str) -> C,
) -> Response<Body> {
    let mut up = up;
    if ctx.app().models.load().uses_responses_lite(&up.model) {
        let dropped = crate::translate::lite::keep_lite_tools(&mut up.body);
        if dropped > 0 {
            tracing::debug!(request_id = %ctx.request_id, model = %up.model, dropped,
                "a Responses-Lite model takes only function and custom tools; the others are not sent");
        }
    }
    let (model, stream) = (up.model.clone(), up.stream);
    // The translated request (its body finished into one buffer) is gone
    // before upstream is called.
    let call = match Call::translated(ctx.app(), ctx.caller(), up, forward) {
        Ok(c) => c,
        Err(e) => return ctx.fail(ApiError::internal(e.to_string())),
    };
    let mode = if stream { Mode::Stream } else { Mode::Collect };
    let app = std::sync::Arc::clone(ctx.app());
    let served = proxy::serve(&app, &ctx.snap, &call, mode).await;
    // The body is no longer needed: give its bytes back to the budget.
    // Tells this request from others to outlier detection after the first
    // byte too (the same body resent is the same request).
    let request = call.digest();
    drop(call);
    ctx.body_permit = None;
    let served = match served {
        Ok(s) => s,
        Err(e) => {
            if let proxy::ServeError::AllFailed { failures, .. } = &e {
                let n = u32::try_from(failures.len().saturating_sub(1)).unwrap_or(u32::MAX);
                ctx.ledger.walk(n, None);
            }
            return ctx.fail(ApiError::from(&e));
        }
    };
    let model = served.upstream_model().map_or(model, str::to_owned);
    let ledger = &mut ctx.ledger;
    let pool_cfg = &ctx.snap.config.pool;
    ledger.served(
        served.account.clone(),
        ctx.key.clone(),
        &model,
        pool_cfg,
        request,
    );
    ledger.walk(served.failovers, Some(served.affinity));
    ledger.first_byte(served.upstream_wait);
    let turn_state = served.turn_state();
    // Upstream's model header, passed on as it came.
    let upstream_model = served.upstream_model_header().cloned();
    let mut resp = match served.delivery {
        Delivery::Collected(collector) => {
            let Answer {
                body: answer,
                model: reported,
            } = collected(&collector, &model);
            ledger.set_model(reported.as_deref().unwrap_or(&model));
            ledger.complete(collector.usage().as_ref());
            let mut resp = body::json_bytes(http::StatusCode::OK, answer);
            let shown = upstream_model.or_else(|| reported.as_deref().and_then(body::value));
            proxied_headers(&mut resp, served.account.name_header(), shown);
            resp
        }
        Delivery::Stream { buffered, events } => {
            let idle = ctx.snap.config.upstream.idle_timeout;
            let relay = Relay::new(converter(&model), buffered, events, idle, ctx.ledger);
            let mut resp = sse_response(relay.into_body());
            proxied_headers(&mut resp, served.account.name_header(), upstream_model);
            resp
        }
    };
    // The client replays it for the rest of the turn; it routes back here.
    if let Some((name, value)) = turn_state {
        resp.headers_mut().insert(name, value);
    }
    resp
}
