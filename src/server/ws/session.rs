//! One client WebSocket from its `101` to its close: frames in, keepalive
//! pings both ways, the idle close, shutdown at a turn boundary, and the
//! upstream socket it keeps between turns (replaced when it dies or ages).
//! A turn itself is `turn.rs`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::super::error::{ApiError, Code};
use super::super::Shared;
use super::{event, fallback};
use crate::proxy::socket::{self, Pinned};
use crate::route::Route;

pub(super) type Client = WebSocketStream<TokioIo<Upgraded>>;

/// Keepalive pings on both sides, inside the 20–30 s that proxies and the
/// backend tolerate.
const PING_EVERY: Duration = Duration::from_secs(25);

/// An upstream socket older than this is replaced before a full request
/// (the backend closes sockets at 60 minutes).
pub(super) const UPSTREAM_MAX_AGE: Duration = Duration::from_secs(55 * 60);

/// How a socket ends.
pub(super) enum End {
    /// Gone already (closed by the client, or not writable).
    Gone,
    /// Close it with this code and reason.
    Close(CloseCode, &'static str),
}

pub(super) struct Session {
    pub(super) shared: Arc<Shared>,
    pub(super) route: Route,
    /// The upgrade request's headers (the client key, checked again at each
    /// turn against the current config; the session hint; request ids).
    pub(super) headers: HeaderMap,
    /// Client headers sent upstream (the native route's identity headers).
    pub(super) forward: Vec<(HeaderName, HeaderValue)>,
    pub(super) upstream: Option<Pinned>,
    /// Set once this socket is served over HTTP upstream.
    pub(super) fallback: Option<fallback::Transcript>,
    _permit: OwnedSemaphorePermit,
}

impl Session {
    pub(super) fn new(
        shared: Arc<Shared>,
        route: Route,
        headers: HeaderMap,
        forward: Vec<(HeaderName, HeaderValue)>,
        permit: OwnedSemaphorePermit,
    ) -> Session {
        Session {
            shared,
            route,
            headers,
            forward,
            upstream: None,
            fallback: None,
            _permit: permit,
        }
    }

    pub(super) async fn run(mut self, mut client: Client, mut stop: watch::Receiver<bool>) {
        let app = Arc::clone(&self.shared.app);
        app.metrics.socket.open("client", 1);
        if let Some(mode) = fallback::from_start(&self.shared) {
            self.fallback = Some(fallback::Transcript::default());
            app.metrics.socket.http_fallback(mode);
        }
        let end = self.serve(&mut client, &mut stop).await;
        if let End::Close(code, reason) = end {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), client.close(Some(frame))).await;
        }
        socket::close(&app, self.upstream.take()).await;
        app.metrics.socket.open("client", -1);
    }

    async fn serve(&mut self, client: &mut Client, stop: &mut watch::Receiver<bool>) -> End {
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Instant::now();
        loop {
            let idle = self
                .shared
                .app
                .snapshot()
                .config
                .server
                .websocket_idle_timeout;
            let upstream = self.upstream.as_mut().and_then(|p| p.socket.as_mut());
            tokio::select! {
                msg = client.next() => {
                    let Some(msg) = msg else { return End::Gone };
                    let step = match msg {
                        Ok(Message::Text(t)) => self.frame(client, t.as_str().to_owned()).await,
                        Ok(Message::Binary(_)) => Err(binary(client).await),
                        Ok(Message::Close(_)) => Err(End::Gone),
                        Ok(_) => Ok(()),
                        Err(e) => Err(read_error(client, e).await),
                    };
                    if let Err(end) = step {
                        return end;
                    }
                    last = Instant::now();
                }
                () = tokio::time::sleep_until(last + idle) => {
                    return End::Close(CloseCode::Normal, "idle");
                }
                _ = ping.tick() => {
                    if send(client, Message::Ping(Vec::new().into()), &self.shared).await.is_err() {
                        return End::Gone;
                    }
                    self.ping_upstream().await;
                }
                _ = stop.changed() => {
                    return End::Close(CloseCode::Restart, "the gateway is restarting; reconnect");
                }
                got = next_or_pending(upstream) => {
                    if let Err(end) = self.between_turns(client, got).await {
                        return end;
                    }
                }
            }
        }
    }

    /// An upstream frame outside a turn (an interrupt's acknowledgement) is
    /// relayed; a closed or failed upstream socket is dropped, to be opened
    /// again at the next turn.
    async fn between_turns(
        &mut self,
        client: &mut Client,
        got: Result<Option<String>, crate::upstream::Failure>,
    ) -> Result<(), End> {
        let app = Arc::clone(&self.shared.app);
        match got {
            Ok(Some(text)) => {
                if let Some(p) = &self.upstream {
                    app.affinity.observe_frame(&text, &p.account.name);
                }
                send(client, Message::text(text), &self.shared).await
            }
            Ok(None) | Err(_) => {
                if let Some(p) = self.upstream.as_mut() {
                    tracing::debug!(account = %p.account.name, "the upstream socket closed between turns; a new one opens at the next turn");
                    p.drop_socket(&app).await;
                }
                Ok(())
            }
        }
    }

    async fn ping_upstream(&mut self) {
        let app = Arc::clone(&self.shared.app);
        let Some(p) = self.upstream.as_mut() else {
            return;
        };
        let failed = match p.socket.as_mut() {
            Some(s) => s.ping().await.is_err(),
            None => false,
        };
        if failed {
            p.drop_socket(&app).await;
        }
    }

    /// One text frame from the client.
    async fn frame(&mut self, client: &mut Client, text: String) -> Result<(), End> {
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&text) else {
            let e = event::protocol("a frame must be a JSON object");
            return send_error(client, &e, &self.shared).await;
        };
        match obj.get("type").and_then(Value::as_str) {
            Some("response.create") => self.turn(client, obj).await,
            // Anything else goes to the upstream socket as it came (an
            // interrupt between turns; upstream answers what it does not know).
            Some(_) if self.upstream.as_ref().is_some_and(|p| p.socket.is_some()) => {
                let forwarded = match self.upstream.as_mut().and_then(|p| p.socket.as_mut()) {
                    Some(s) => s.send(text).await.is_ok(),
                    None => false,
                };
                if !forwarded {
                    let app = Arc::clone(&self.shared.app);
                    if let Some(p) = self.upstream.as_mut() {
                        p.drop_socket(&app).await;
                    }
                }
                Ok(())
            }
            Some("response.interrupt") => Ok(()),
            other => {
                let e = event::protocol(format!(
                    "unknown frame type {}; this socket takes response.create",
                    crate::translate::quoted(other.unwrap_or("(none)"))
                ));
                send_error(client, &e, &self.shared).await
            }
        }
    }
}

/// The next frame of `socket`, or never when there is none.
async fn next_or_pending(
    socket: Option<&mut crate::upstream::ws::Socket>,
) -> Result<Option<String>, crate::upstream::Failure> {
    match socket {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Sends one frame; a client that does not take it within the upstream idle
/// timeout has stopped reading, and the socket ends.
pub(super) async fn send(client: &mut Client, msg: Message, shared: &Shared) -> Result<(), End> {
    let wait = shared.app.snapshot().config.upstream.idle_timeout;
    match tokio::time::timeout(wait, client.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(End::Gone),
    }
}

pub(super) async fn send_error(
    client: &mut Client,
    e: &ApiError,
    shared: &Shared,
) -> Result<(), End> {
    send(client, Message::text(event::error(e)), shared).await
}

/// A binary frame: not part of the protocol.
pub(super) async fn binary(client: &mut Client) -> End {
    let e = event::protocol(
        "binary frames are not part of the Responses WebSocket; send JSON text frames",
    );
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        client.send(Message::text(event::error(&e))),
    )
    .await;
    End::Close(CloseCode::Unsupported, "binary frames are not accepted")
}

/// A frame past the advertised limit gets an error and a close (1009);
/// other read errors end the socket.
pub(super) async fn read_error(client: &mut Client, e: WsError) -> End {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            let e = ApiError::new(
                Code::RequestTooLarge,
                format!("the frame is {size} bytes; this gateway takes at most {max_size} (x-codex-websocket-max-message-bytes)"),
            );
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                client.send(Message::text(event::error(&e))),
            )
            .await;
            End::Close(CloseCode::Size, "message too big")
        }
        other => {
            tracing::debug!(error = %other, "client WebSocket read failed");
            End::Gone
        }
    }
}
