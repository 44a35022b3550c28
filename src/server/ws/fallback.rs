//! A WebSocket client served over HTTP upstream: when `[upstream] websocket`
//! is `never`, or (`auto`) upstream refused the upgrade on this socket.
//!
//! The backend keeps no responses over HTTP (`store` is false), so a
//! continuation cannot be sent as one. The socket keeps its transcript
//! instead — the last full input it sent and the output items of the answer
//! — and rebuilds each continuation as a full request: that input, that
//! output, then the new items. The transcript lives as long as the socket and
//! holds one turn's worth (it is replaced at every turn); `auto` remembers
//! the refusal for this socket only, so a new socket tries the upgrade again.

use serde_json::{json, Value};

use tokio_tungstenite::tungstenite::Message;

use super::super::ctx::Ctx;
use super::super::error::{ApiError, Code};
use super::super::Shared;
use super::session::{self, Client, End, Session};
use super::turn::{self, Ending, Prepared};
use crate::config::UpstreamWebSocket;
use crate::proxy::socket::{Started, TurnError};
use crate::proxy::{self, Delivery, Mode};
use crate::upstream::sse::EventStream;
use crate::upstream::Failure;

/// Whether a new socket starts on HTTP upstream, and why (a metric label).
pub(super) fn from_start(shared: &Shared) -> Option<&'static str> {
    let snap = shared.app.snapshot();
    (snap.config.upstream.websocket == UpstreamWebSocket::Never).then_some("never")
}

/// The last turn of this socket, as full input and output.
#[derive(Default)]
pub(super) struct Transcript {
    input: Vec<Value>,
    output: Vec<Value>,
    /// The id of the response `output` belongs to (a continuation names it).
    last_id: Option<String>,
}

impl Transcript {
    /// Learns from a relayed frame: output items, and the response's id.
    pub(super) fn observe(&mut self, text: &str) {
        if !(text.contains("response.output_item.done") || text.contains("response.completed")) {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return;
        };
        match v["type"].as_str() {
            Some("response.output_item.done") => self.output.push(v["item"].clone()),
            Some("response.completed") => {
                self.last_id = v["response"]["id"].as_str().map(str::to_owned);
                if self.output.is_empty() {
                    if let Some(items) = v["response"]["output"].as_array() {
                        self.output.clone_from(items);
                    }
                }
            }
            _ => {}
        }
    }

    /// Serves the turn over HTTP: rebuilt as a full request, through the
    /// same pool walk as an HTTP request.
    pub(super) async fn start(&mut self, ctx: &Ctx, p: &Prepared) -> Result<Started, TurnError> {
        let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&p.call.body) else {
            return Err(TurnError::NoWebSocket);
        };
        body.remove("type");
        body.remove("previous_response_id");
        // A turn-state token is a header on HTTP, and valid on one account only.
        if let Some(meta) = body
            .get_mut("client_metadata")
            .and_then(Value::as_object_mut)
        {
            meta.remove(crate::proxy::TURN_STATE);
        }
        let new_items = match body.remove("input") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let input = match &p.previous {
            Some(prev) if self.last_id.as_deref() == Some(prev.as_str()) => {
                let mut all = std::mem::take(&mut self.input);
                all.append(&mut self.output);
                all.extend(new_items);
                all
            }
            Some(_) => {
                return Err(TurnError::PreviousResponseNotFound {
                    account: String::new(),
                    why: "not the last response of this socket",
                })
            }
            None => new_items,
        };
        self.output.clear();
        self.last_id = None;
        self.input.clone_from(&input);
        body.insert("input".into(), Value::Array(input));
        let call = p
            .call
            .with_body(&Value::Object(body))
            .map_err(|_| TurnError::NoWebSocket)?;
        let app = ctx.app();
        let served = proxy::serve(app, &ctx.snap, &call, Mode::Stream)
            .await
            .map_err(TurnError::Serve)?;
        let Delivery::Stream { buffered, events } = served.delivery else {
            return Err(TurnError::NoWebSocket);
        };
        Ok(Started {
            account: served.account,
            held: buffered
                .iter()
                .map(|h| h.relayed().data.to_owned())
                .collect(),
            ended: false,
            upstream_wait: served.upstream_wait,
            rest: Some(events),
        })
    }

    /// A prewarm (`generate: false`) answered here, as the backend would:
    /// `response.created` and `response.completed` without output, under an
    /// id of our own that the next continuation names.
    pub(super) fn prewarm(&mut self, p: &Prepared) -> Vec<String> {
        let call = &p.call;
        let input = serde_json::from_slice::<Value>(&call.body)
            .ok()
            .and_then(|mut b| b.get_mut("input").map(Value::take))
            .and_then(|i| match i {
                Value::Array(items) => Some(items),
                _ => None,
            })
            .unwrap_or_default();
        if p.previous.is_none() {
            self.input = input;
        } else {
            self.input.append(&mut self.output);
            self.input.extend(input);
        }
        self.output.clear();
        let id = format!("resp_prewarm_{}", call.gateway_request_id);
        self.last_id = Some(id.clone());
        let response = json!({"id": id, "object": "response", "model": call.model, "status": "completed", "output": []});
        vec![
            json!({"type": "response.created", "response": response}).to_string(),
            json!({"type": "response.completed", "response": response}).to_string(),
        ]
    }
}

impl Session {
    /// A turn on a socket served over HTTP upstream.
    pub(super) async fn over_http(
        &mut self,
        client: &mut Client,
        mut ctx: Ctx,
        p: &Prepared,
    ) -> Result<(), End> {
        let Some(t) = self.fallback.as_mut() else {
            return Ok(());
        };
        if p.prewarm {
            let frames = t.prewarm(p);
            for f in frames {
                session::send(client, Message::text(f), &self.shared).await?;
            }
            ctx.ledger.end(200, "ok");
            return Ok(());
        }
        let result = t.start(&ctx, p).await;
        self.finish(client, ctx, p, result).await
    }

    /// Upstream refused the upgrade: with `auto`, this socket's turns go
    /// over HTTP from now on, this one first; with `always`, the turn fails.
    pub(super) async fn fall_back(
        &mut self,
        client: &mut Client,
        ctx: Ctx,
        p: &Prepared,
    ) -> Result<(), End> {
        if ctx.snap.config.upstream.websocket == UpstreamWebSocket::Always {
            let e = ApiError::new(
                Code::UpstreamUnavailable,
                "upstream refused the WebSocket upgrade, and upstream.websocket is \"always\"",
            );
            return turn::refuse(client, ctx, &e, &self.shared).await;
        }
        tracing::info!(
            "upstream refused the WebSocket upgrade; this socket is served over HTTP upstream"
        );
        self.shared.app.metrics.socket.http_fallback("refused");
        self.fallback = Some(Transcript::default());
        Box::pin(self.over_http(client, ctx, p)).await
    }

    /// The rest of a turn served over HTTP: its events as text frames.
    pub(super) async fn live_http(
        &mut self,
        client: &mut Client,
        mut events: EventStream,
    ) -> Result<Ending, End> {
        let idle = self.shared.app.snapshot().config.upstream.idle_timeout;
        loop {
            let next = events.next(idle).await;
            let sse = match next {
                Ok(Some(sse)) => sse,
                Ok(None) | Err(_) => {
                    let f = Failure::StreamTruncated;
                    session::send_error(client, &ApiError::from(&f), &self.shared).await?;
                    return Ok(Ending::Failed(f));
                }
            };
            let Some(text) = sse.data else { continue };
            let end = turn::terminal(text);
            if let Some(t) = self.fallback.as_mut() {
                t.observe(text);
            }
            session::send(client, Message::text(text), &self.shared).await?;
            if let Some(e) = end {
                return Ok(e);
            }
        }
    }
}
