//! One `response.create` on a client socket: admitted and accounted like an
//! HTTP request on its route (in-flight cap, key rate and budget, model
//! allow-list, ledger, activity log), normalized as `/v1/responses` bodies
//! are, served by `proxy::socket` (or `fallback.rs`), then relayed frame by
//! frame until the turn's terminal event.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Message;

use super::super::ctx::{Ctx, MAX_MODEL_BYTES};
use super::super::error::{ApiError, Style};
use super::super::ledger::Ledger;
use super::super::request::{self, RequestId};
use super::event;
use super::session::{self, Client, End, Session};
use crate::proxy::socket::{self, Started, TurnError};
use crate::proxy::{self, Call};
use crate::translate::responses::normalize;
use crate::upstream::events::{Event, Kind};
use crate::upstream::Failure;

/// A turn ready for the pool.
pub(super) struct Prepared {
    pub call: Call,
    /// The response it continues, when it sends only new items.
    pub previous: Option<String>,
    /// `generate: false`: no output wanted (the Codex CLI's prewarm).
    pub prewarm: bool,
}

/// How a relayed turn ended.
pub(super) enum Ending {
    Complete(Option<crate::upstream::events::Usage>, Option<String>),
    Failed(Failure),
}

impl Session {
    pub(super) async fn turn(
        &mut self,
        client: &mut Client,
        obj: Map<String, Value>,
    ) -> Result<(), End> {
        let started = std::time::Instant::now();
        let ids = RequestId::of(&self.headers, &self.shared.ids);
        let app = Arc::clone(&self.shared.app);
        let permit = Arc::clone(&self.shared.inflight).try_acquire_owned().ok();
        let busy = permit.is_none();
        let snap = app.snapshot();
        // The key as the current config has it: a reload applies from this turn.
        let key = crate::keys::authenticate(&snap.keys, request::client_key(&self.headers));
        let mut ctx = Ctx {
            request_id: ids.answered().to_string(),
            gateway_request_id: ids.id.clone(),
            snap,
            key: key.as_ref().ok().cloned().flatten(),
            headers: self.headers.clone(),
            ledger: Ledger::open(Arc::clone(&app), self.route, started, permit),
            body_permit: None,
            style: Style::OpenAi,
        };
        if let Err(r) = &key {
            return refuse(client, ctx, &ApiError::from(r), &self.shared).await;
        }
        let prepared = match self.prepare(&mut ctx, obj, busy).await {
            Ok(p) => p,
            Err(e) => return refuse(client, ctx, &e, &self.shared).await,
        };
        let continuation = prepared.previous.is_some();
        app.metrics.socket.turn(self.route, continuation);
        self.refresh_upstream(continuation).await;
        let result = match self.fallback.as_mut() {
            Some(_) => return self.over_http(client, ctx, &prepared).await,
            None => {
                socket::start(
                    &app,
                    &ctx.snap,
                    &prepared.call,
                    continuation,
                    &mut self.upstream,
                )
                .await
            }
        };
        self.finish(client, ctx, &prepared, result).await
    }

    /// The turn's outcome to the client.
    pub(super) async fn finish(
        &mut self,
        client: &mut Client,
        ctx: Ctx,
        prepared: &Prepared,
        result: Result<Started, TurnError>,
    ) -> Result<(), End> {
        let app = Arc::clone(&self.shared.app);
        match result {
            Ok(started) => self.relay(client, ctx, prepared, started).await,
            Err(TurnError::NoWebSocket) => self.fall_back(client, ctx, prepared).await,
            Err(TurnError::PreviousResponseNotFound { account, why }) => {
                tracing::info!(request_id = %ctx.request_id, account = %account, reason = why,
                    "a continuation cannot stay on its account: previous_response_not_found, the client resends the whole input");
                app.metrics.socket.previous_response_not_found();
                let e =
                    event::previous_response_not_found(prepared.previous.as_deref().unwrap_or(""));
                refuse(client, ctx, &e, &self.shared).await
            }
            Err(TurnError::Serve(e)) => {
                refuse(client, ctx, &ApiError::from(&e), &self.shared).await
            }
        }
    }

    /// Admission, normalization and the key's limits, in the HTTP route's order.
    async fn prepare(
        &self,
        ctx: &mut Ctx,
        mut obj: Map<String, Value>,
        busy: bool,
    ) -> Result<Prepared, ApiError> {
        if busy {
            return Err(ApiError::overloaded("in-flight requests"));
        }
        // A prewarm (`generate: false`) makes no output: not a billable turn.
        let prewarm = obj.get("generate") == Some(&Value::Bool(false));
        if let (Some(k), false) = (&ctx.key, prewarm) {
            if let Err(r) = k.admit_request() {
                ctx.app().metrics.client_rate_limited(k.name());
                return Err(ApiError::from(&r));
            }
        }
        obj.remove("type");
        let previous = match obj.remove("previous_response_id") {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let bytes = serde_json::to_vec(&obj).map_err(|e| ApiError::internal(e.to_string()))?;
        drop(obj);
        let hint = request::session_hint(&ctx.headers).map(str::to_owned);
        let mut up = normalize(&bytes, hint.as_deref(), ctx.session_seed())?;
        let resolved = ctx.resolve_model(&up.model);
        match (&ctx.key, prewarm) {
            // A prewarm spends no rate; the allow-list and the length still hold.
            (Some(k), true) if resolved.model.len() <= MAX_MODEL_BYTES => {
                k.admit_listed(&resolved.model)
                    .map_err(|r| ApiError::from(&r))?;
            }
            // A turn spends one request of the key's rate, as an HTTP
            // request does at admission.
            _ => {
                ctx.admit_model(&resolved.model)?;
                ctx.take_more(1).await?;
            }
        }
        resolved.apply(&mut up);
        let Value::Object(mut body) = up.full_body() else {
            return Err(ApiError::internal("normalized body is not an object"));
        };
        body.insert("type".into(), Value::from("response.create"));
        if let Some(p) = &previous {
            body.insert("previous_response_id".into(), Value::from(p.as_str()));
        }
        let call = Call::new(
            ctx.app(),
            ctx.caller(),
            up.model,
            up.session_id,
            Value::Object(body),
            self.forward.clone(),
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(Prepared {
            call,
            previous,
            prewarm,
        })
    }

    /// An upstream socket near the backend's age limit is replaced before a
    /// full request (a continuation needs the socket its response is on).
    async fn refresh_upstream(&mut self, continuation: bool) {
        let app = Arc::clone(&self.shared.app);
        let Some(p) = self.upstream.as_mut() else {
            return;
        };
        let old = p
            .socket
            .as_ref()
            .is_some_and(|s| s.age() >= session::UPSTREAM_MAX_AGE);
        if old && !continuation {
            p.drop_socket(&app).await;
        }
    }

    /// Relays a started turn to its terminal event and records it.
    async fn relay(
        &mut self,
        client: &mut Client,
        mut ctx: Ctx,
        prepared: &Prepared,
        started: Started,
    ) -> Result<(), End> {
        let digest = proxy::body_digest(&prepared.call.body);
        ctx.ledger.served(
            Arc::clone(&started.account),
            ctx.key.clone(),
            &prepared.call.model,
            &ctx.snap.config.pool,
            digest,
        );
        ctx.ledger.first_byte(started.upstream_wait);
        let mut ending = None;
        for text in started.held {
            ending = ending.or_else(|| terminal(&text));
            self.remember(&text);
            session::send(client, Message::text(text), &self.shared).await?;
        }
        if ending.is_none() && !started.ended {
            ending = Some(match started.rest {
                Some(events) => self.live_http(client, events).await?,
                None => self.live(client, &started.account).await?,
            });
        }
        match ending {
            Some(Ending::Complete(usage, model)) => {
                if let Some(m) = model {
                    ctx.ledger.set_model(&m);
                }
                ctx.ledger.complete(usage.as_ref());
            }
            Some(Ending::Failed(f)) => ctx.ledger.fail(&f),
            None => ctx.ledger.end(200, "ok"),
        }
        Ok(())
    }

    /// The rest of a turn, live: upstream frames to the client, the client's
    /// interrupt to upstream. An upstream socket that dies here ends the turn
    /// with a retryable error (the client may resend).
    async fn live(
        &mut self,
        client: &mut Client,
        account: &Arc<crate::pool::Account>,
    ) -> Result<Ending, End> {
        let app = Arc::clone(&self.shared.app);
        let idle = ctx_idle(&self.shared);
        loop {
            let Some(up) = self.upstream.as_mut().and_then(|p| p.socket.as_mut()) else {
                return self.died(client).await;
            };
            tokio::select! {
                got = tokio::time::timeout(idle, up.next()) => {
                    let Ok(Ok(Some(text))) = got else {
                        return self.died(client).await;
                    };
                    app.affinity.observe_frame(&text, &account.name);
                    let end = terminal(&text);
                    self.remember(&text);
                    session::send(client, Message::text(text), &self.shared).await?;
                    if let Some(e) = end {
                        return Ok(e);
                    }
                }
                msg = client.next() => match msg {
                    Some(Ok(Message::Text(t))) => self.during_turn(client, t.as_str().to_owned()).await?,
                    Some(Ok(Message::Binary(_))) => return Err(session::binary(client).await),
                    Some(Ok(Message::Close(_))) | None => return Err(End::Gone),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(session::read_error(client, e).await),
                },
            }
        }
    }

    /// A client frame while a turn runs: an interrupt goes upstream; a second
    /// turn is refused (one turn at a time per socket).
    async fn during_turn(&mut self, client: &mut Client, text: String) -> Result<(), End> {
        let create = serde_json::from_str::<Value>(&text)
            .ok()
            .is_some_and(|v| v["type"] == "response.create");
        if create {
            let e = event::protocol("a turn is already running on this socket; send response.create after its response.completed");
            return session::send_error(client, &e, &self.shared).await;
        }
        if let Some(s) = self.upstream.as_mut().and_then(|p| p.socket.as_mut()) {
            let _ = s.send(text).await;
        }
        Ok(())
    }

    /// The upstream socket died mid-turn: the turn fails, retryably.
    async fn died(&mut self, client: &mut Client) -> Result<Ending, End> {
        let app = Arc::clone(&self.shared.app);
        if let Some(p) = self.upstream.as_mut() {
            p.drop_socket(&app).await;
        }
        let f = Failure::StreamTruncated;
        session::send_error(client, &ApiError::from(&f), &self.shared).await?;
        Ok(Ending::Failed(f))
    }

    /// What the HTTP fallback keeps of a relayed frame.
    fn remember(&mut self, text: &str) {
        if let Some(t) = self.fallback.as_mut() {
            t.observe(text);
        }
    }
}

fn ctx_idle(shared: &super::super::Shared) -> std::time::Duration {
    shared.app.snapshot().config.upstream.idle_timeout
}

/// The ending a frame marks, if it ends the turn.
pub(super) fn terminal(text: &str) -> Option<Ending> {
    let event = Event::parse(text).ok()?;
    match event.kind() {
        Kind::Completed | Kind::Incomplete => {
            let r = event.response();
            let model = r.as_ref().and_then(|r| r.model.clone());
            Some(Ending::Complete(r.and_then(|r| r.usage), model))
        }
        Kind::Failed | Kind::Error => {
            let f = socket::failure_of(text, Some(&event)).unwrap_or(Failure::StreamTruncated);
            Some(Ending::Failed(f))
        }
        _ => None,
    }
}

/// The turn is refused: an `error` event, and the ledger's record of it.
pub(super) async fn refuse(
    client: &mut Client,
    mut ctx: Ctx,
    e: &ApiError,
    shared: &super::super::Shared,
) -> Result<(), End> {
    tracing::debug!(request_id = %ctx.request_id, code = %e.code, "{}", e.message);
    ctx.ledger.refuse(e);
    session::send_error(client, e, shared).await
}
