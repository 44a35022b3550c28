//! The mock upstream's Responses WebSocket, as the backend speaks it
//! (docs/websocket.md): `GET …/responses` upgraded with an account's token;
//! per-socket `previous_response_id` state (a continuation naming a response
//! of another socket gets `previous_response_not_found`); a prewarm
//! (`generate: false`) answered with no output; a `response.metadata` turn
//! state per turn; scripted error events; a switch that refuses upgrades
//! (426); a socket-age limit. Every frame is recorded with its socket, the
//! account and token of that socket's handshake.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{Body, Script, State};

/// One frame a client sent on an upstream socket.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Sockets are numbered from 1 in the order they opened.
    pub socket: usize,
    pub account: String,
    pub token: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Frame {
    pub fn is_continuation(&self) -> bool {
        self.body
            .get("previous_response_id")
            .is_some_and(Value::is_string)
    }
    pub fn turn_state(&self) -> Option<&str> {
        self.body["client_metadata"]["x-codex-turn-state"].as_str()
    }
}

#[derive(Default)]
pub struct WsState {
    pub refuse: bool,
    pub max_age: Option<Duration>,
    pub frames: Vec<Frame>,
    pub opened: usize,
    pub open_now: usize,
    /// Scripted answers per account, taken by turns (before the HTTP ones).
    pub scripts: HashMap<String, VecDeque<Script>>,
    /// Turn-state tokens minted, with the account that minted them.
    pub minted: HashMap<String, String>,
    /// Per-turn delay between events (a slow upstream, for clients that stop reading).
    pub delay: Duration,
    /// Text deltas in the default answer, and their size.
    pub big_deltas: Option<(usize, usize)>,
    /// The whole input each turn stood for (a continuation's previous input
    /// and output, then its new items), in order: what the model saw.
    pub inputs: Vec<Value>,
    /// `Mock::set_tool_loop`: tool calls until this many tool outputs.
    pub tool_loop: Option<usize>,
    /// The next frame on any socket is recorded, then its socket closed
    /// without an answer (an upstream that goes away).
    pub close_next: bool,
    /// A turn-state token in every `101` (as the backend may send one).
    pub handshake_turn_state: Option<String>,
    /// This many upgrades are answered 401 (an access token upstream stopped taking).
    pub unauthorized_upgrades: usize,
}

impl super::Mock {
    /// Answer a request offering a function tool with a call of it until
    /// its input holds `n` tool outputs, over HTTP and WebSocket (a
    /// continuation counts the outputs of the whole conversation).
    pub fn set_tool_loop(&self, n: usize) {
        self.state.lock().expect("mock state").tool_loop = Some(n);
        self.ws.lock().expect("mock ws").tool_loop = Some(n);
    }
}

pub fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// WebSocket upgrades go to `upgrade`, `/mock/ws` lists the frames;
/// everything else to the HTTP mock.
pub(super) async fn route(
    st: Arc<Mutex<State>>,
    wss: Arc<Mutex<WsState>>,
    req: Request<Incoming>,
) -> Response<Body> {
    if req.method() == hyper::Method::GET
        && req.uri().path().ends_with("/responses")
        && is_upgrade(&req)
    {
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let auth_ok = super::token_ok(&st, bearer);
        return upgrade(wss, req, auth_ok);
    }
    if req.uri().path() == "/mock/ws" {
        let frames: Vec<Value> = wss
            .lock()
            .unwrap()
            .frames
            .iter()
            .map(|f| json!({"socket": f.socket, "account": f.account, "headers": f.headers, "body": f.body}))
            .collect();
        return super::full(200, Value::Array(frames).to_string(), "application/json");
    }
    super::handle(st, wss, req).await
}

/// The upgrade: `101` and a socket task, or `426` when refusing.
pub fn upgrade(
    ws: Arc<Mutex<WsState>>,
    mut req: Request<Incoming>,
    auth_ok: bool,
) -> Response<Body> {
    if ws.lock().unwrap().refuse {
        return super::full(426, "{\"detail\":\"Upgrade Required\"}", "application/json");
    }
    let unauthorized = {
        let mut s = ws.lock().unwrap();
        let n = s.unauthorized_upgrades;
        s.unauthorized_upgrades = n.saturating_sub(1);
        n > 0
    };
    if !auth_ok || unauthorized {
        return super::full(
            401,
            json!({"error": {"message": "token expired", "code": "token_expired"}}).to_string(),
            "application/json",
        );
    }
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let key = headers
        .get("sec-websocket-key")
        .cloned()
        .unwrap_or_default();
    let handshake_state = ws.lock().unwrap().handshake_turn_state.clone();
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(up) = on.await else { return };
        let mut cfg = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
        cfg.read_buffer_size = 4096;
        // Events go out one frame at a time: without TCP_NODELAY, Nagle and
        // delayed ACKs add ~40 ms to a turn (the backend does not).
        let io = match up.downcast::<TokioIo<tokio::net::TcpStream>>() {
            Ok(parts) if parts.read_buf.is_empty() => {
                let _ = parts.io.inner().set_nodelay(true);
                Box::new(parts.io.into_inner()) as Box<dyn Io>
            }
            Ok(parts) => {
                let io = parts.io.into_inner();
                Box::new(Prefixed(parts.read_buf, io)) as Box<dyn Io>
            }
            Err(up) => Box::new(TokioIo::new(up)) as Box<dyn Io>,
        };
        let stream = WebSocketStream::from_raw_socket(io, Role::Server, Some(cfg)).await;
        serve(ws, stream, headers).await;
    });
    let mut r = super::full(101, "", "text/plain");
    let h = r.headers_mut();
    h.insert("connection", "upgrade".parse().unwrap());
    h.insert("upgrade", "websocket".parse().unwrap());
    h.insert(
        "sec-websocket-accept",
        derive_accept_key(key.as_bytes()).parse().unwrap(),
    );
    if let Some(t) = &handshake_state {
        h.insert("x-codex-turn-state", t.parse().unwrap());
    }
    r
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// Bytes hyper read past the handshake, then the stream.
struct Prefixed(bytes::Bytes, tokio::net::TcpStream);

impl tokio::io::AsyncRead for Prefixed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.0.is_empty() {
            let n = self.0.len().min(buf.remaining());
            buf.put_slice(&self.0.split_to(n));
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.1).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Prefixed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.1).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.1).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.1).poll_shutdown(cx)
    }
}

async fn serve(
    ws: Arc<Mutex<WsState>>,
    mut stream: WebSocketStream<Box<dyn Io>>,
    headers: HashMap<String, String>,
) {
    let id = {
        let mut s = ws.lock().unwrap();
        s.opened += 1;
        s.open_now += 1;
        s.opened
    };
    let account = headers
        .get("chatgpt-account-id")
        .cloned()
        .unwrap_or_default();
    let token = headers
        .get("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let opened = Instant::now();
    let mut known: HashSet<String> = HashSet::new();
    let mut contexts: HashMap<String, Vec<Value>> = HashMap::new();
    let mut turn = 0;
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else { continue };
        let body: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
        {
            let mut s = ws.lock().unwrap();
            s.frames.push(Frame {
                socket: id,
                account: account.clone(),
                token: token.clone(),
                headers: headers.clone(),
                body: body.clone(),
            });
        }
        if std::mem::take(&mut ws.lock().unwrap().close_next) {
            let _ = stream.close(None).await;
            break;
        }
        if body["type"] == "response.interrupt" {
            let _ = stream
                .send(Message::text(
                    json!({"type": "response.interrupted"}).to_string(),
                ))
                .await;
            continue;
        }
        let max_age = ws.lock().unwrap().max_age;
        if max_age.is_some_and(|m| opened.elapsed() >= m) {
            let e = error_event(
                400,
                "invalid_request_error",
                "websocket_connection_limit_reached",
                "Responses websocket connection limit reached (60 minutes).",
            );
            let _ = stream.send(Message::text(e.to_string())).await;
            break;
        }
        turn += 1;
        let (events, die) = answer(&ws, &account, &body, (&mut known, &mut contexts), id, turn);
        let delay = ws.lock().unwrap().delay;
        let mut broke = false;
        for e in events {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if stream.send(Message::text(e.to_string())).await.is_err() {
                broke = true;
                break;
            }
        }
        if broke || die {
            break;
        }
    }
    ws.lock().unwrap().open_now -= 1;
}

pub fn error_event(status: u16, kind: &str, code: &str, message: &str) -> Value {
    json!({"type": "error", "status": status, "error": {"type": kind, "code": code, "message": message, "param": null}, "headers": {}})
}

/// The events for one `response.create`, and whether the socket dies after
/// them (`Script::Stall`: an upstream that goes away mid-turn).
fn answer(
    ws: &Arc<Mutex<WsState>>,
    account: &str,
    body: &Value,
    known: (&mut HashSet<String>, &mut HashMap<String, Vec<Value>>),
    socket: usize,
    turn: usize,
) -> (Vec<Value>, bool) {
    let die = ws
        .lock()
        .unwrap()
        .scripts
        .get(account)
        .and_then(|q| q.front())
        .is_some_and(|s| matches!(s, Script::Stall(_)));
    (events_for(ws, account, body, known, socket, turn), die)
}

fn events_for(
    ws: &Arc<Mutex<WsState>>,
    account: &str,
    body: &Value,
    (known, contexts): (&mut HashSet<String>, &mut HashMap<String, Vec<Value>>),
    socket: usize,
    turn: usize,
) -> Vec<Value> {
    if body["type"] != "response.create" {
        return vec![error_event(
            400,
            "invalid_request_error",
            "unknown_type",
            "unknown message type",
        )];
    }
    if let Some(prev) = body["previous_response_id"].as_str() {
        if !known.contains(prev) {
            return vec![error_event(
                400,
                "invalid_request_error",
                "previous_response_not_found",
                &format!("Previous response with id '{prev}' not found."),
            )];
        }
    }
    let mut http_body = body.clone();
    if let Some(o) = http_body.as_object_mut() {
        o.remove("type");
        o.remove("previous_response_id");
        o.remove("generate");
    }
    if let Some(msg) = super::responses::check_rules(&http_body) {
        return vec![error_event(
            400,
            "invalid_request_error",
            "bad_request",
            &msg,
        )];
    }
    // What the model sees: a continuation's previous input and output first.
    let mut whole = body.clone();
    if let Some(prev) = body["previous_response_id"].as_str() {
        let mut input = contexts.get(prev).cloned().unwrap_or_default();
        input.extend(body["input"].as_array().cloned().unwrap_or_default());
        whole["input"] = Value::Array(input);
    }
    let body = &whole;
    let model = body["model"].as_str().unwrap_or("gpt-5.4").to_string();
    let rid = format!("resp_ws{socket}_{turn}");
    let ts = format!("ts-{account}-{socket}-{turn}");
    let script = {
        let mut s = ws.lock().unwrap();
        s.minted.insert(ts.clone(), account.to_string());
        s.scripts.get_mut(account).and_then(VecDeque::pop_front)
    };
    let metadata = json!({"type": "response.metadata", "headers": {"x-codex-turn-state": ts}});
    let mut events = match script {
        Some(Script::Status(code, text, _)) => {
            let v: Value = serde_json::from_str(&text).unwrap_or(json!({}));
            return vec![
                json!({"type": "error", "status": code, "error": v["error"].clone(), "headers": {}}),
            ];
        }
        Some(Script::Events(ev)) | Some(Script::Slow(ev, _)) | Some(Script::Stall(ev)) => ev,
        Some(Script::Hang) => return Vec::new(),
        None if body["generate"] == false => vec![
            json!({"type": "response.created", "response": {"id": "x", "model": model, "status": "in_progress", "output": []}}),
            super::completed(&model, vec![]),
        ],
        None => {
            let big = ws.lock().unwrap().big_deltas;
            match big {
                Some((n, size)) => {
                    let part = "x".repeat(size);
                    let parts: Vec<&str> = (0..n).map(|_| part.as_str()).collect();
                    super::text_events(&model, &parts)
                }
                None => {
                    let tool_loop = ws.lock().unwrap().tool_loop;
                    tool_loop
                        .and_then(|n| super::loop_answer(body, &model, n))
                        .unwrap_or_else(|| super::default_answer(body, &model, 2))
                }
            }
        }
    };
    for e in &mut events {
        if e.get("response").is_some_and(Value::is_object) {
            e["response"]["id"] = json!(rid);
        }
    }
    let mut context = body["input"].as_array().cloned().unwrap_or_default();
    context.extend(
        events
            .iter()
            .filter(|e| e["type"] == "response.output_item.done")
            .map(|e| e["item"].clone()),
    );
    ws.lock().unwrap().inputs.push(body["input"].clone());
    contexts.insert(rid.clone(), context);
    known.insert(rid);
    events.insert(0, metadata);
    events
}
