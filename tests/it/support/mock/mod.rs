//! A mock codex-responses upstream and OAuth issuer on `127.0.0.1:0`.
//!
//! It enforces the backend's 400 rules (store, stream, instructions, refused
//! parameters), records every request, and answers per account
//! (`ChatGPT-Account-ID`) from a script queue; an account with no script gets
//! a default text stream. Used by the integration tests (in process) and by
//! `examples/mock_upstream.rs` (as a standalone server for the SDK tests, the
//! client checks, the Prometheus checks and the benchmarks), which includes
//! this folder: nothing here may reach outside it.

#![allow(
    dead_code,
    unused_imports,
    reason = "two crates include the mock, and each uses a part of it"
)]

mod answers;
mod catalog;
pub mod conversation;
pub mod date;
pub mod images;
mod issuer;
pub mod login;
mod responses;
pub mod ws;

pub use answers::*;
pub use catalog::*;
pub use login::jwt;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// The body's bytes as they arrived.
    pub raw: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn account(&self) -> &str {
        self.header("chatgpt-account-id").unwrap_or("")
    }
}

/// What the mock does with one `/responses` request.
#[derive(Debug, Clone)]
pub enum Script {
    /// 200 with these events (each a JSON object), then EOF.
    Events(Vec<Value>),
    /// 200 with these events, `delay` between them.
    Slow(Vec<Value>, Duration),
    /// A plain answer with this status, body and headers.
    Status(u16, String, Vec<(String, String)>),
    /// Never answers (for timeouts).
    Hang,
    /// 200 with these events, then silence without EOF (idle timeouts).
    Stall(Vec<Value>),
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    scripts: HashMap<String, VecDeque<Script>>,
    /// Extra headers on every 200 answer, per account.
    headers: HashMap<String, Vec<(String, String)>>,
    /// Issuer: scripted answers to `POST /oauth/token` (status, body); default success.
    token_answers: VecDeque<(u16, Value)>,
    token_calls: Vec<Value>,
    token_delay: Duration,
    refresh_counter: u64,
    /// Strict rotation (`issuer.rs`): the refresh tokens already spent.
    spent: Option<std::collections::HashSet<String>>,
    reused: u64,
    /// Lifetime of the access tokens the issuer mints (default an hour).
    token_lifetime: Option<Duration>,
    /// Total tokens (usage) of the default answers streamed to their end.
    served_tokens: Arc<std::sync::atomic::AtomicU64>,
    /// Device flow: how many polls answer "pending" before success.
    device_pending: u32,
    /// Access tokens the mock accepts; empty = accept any.
    valid_tokens: Vec<String>,
    /// Stream delay between events for the default answer.
    default_delay: Duration,
    default_deltas: usize,
    /// Keep every request in `seen` (tests read it; the standalone server does not).
    record: bool,
    /// Scripted agent turn: with a `Bash` tool offered and no tool output
    /// yet, call it with this command (`bash_answer`).
    bash_command: Option<String>,
    /// `set_tool_loop`: tool calls until this many tool outputs (`loop_answer`).
    tool_loop: Option<usize>,
    /// Streams whose body was dropped before its last event was sent.
    cancelled: Arc<std::sync::atomic::AtomicUsize>,
    /// Conversation mode: account-bound blobs and turn-states, a prompt cache.
    conversations: Option<conversation::Sim>,
    /// Each account's plan, for the catalog's `available_in_plans` (default `plus`).
    plans: HashMap<String, String>,
    /// Accounts on a plan without image generation (`images::refusal`).
    no_images: Vec<String>,
    /// Every answer's `Date` this many seconds off (`date.rs`).
    date_skew: Option<i64>,
}

#[derive(Clone)]
pub struct Mock {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// The Responses WebSocket's state (`ws.rs`).
    pub ws: Arc<Mutex<ws::WsState>>,
}

impl Mock {
    pub async fn start() -> Mock {
        Mock::start_on(0).await
    }

    /// On `127.0.0.1:port` (0 = any free port).
    pub async fn start_on(port: u16) -> Mock {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind mock");
        let addr = listener.local_addr().expect("mock addr");
        let state = Arc::new(Mutex::new(State {
            default_deltas: 2,
            record: true,
            ..State::default()
        }));
        let st = Arc::clone(&state);
        let wss: Arc<Mutex<ws::WsState>> = Arc::default();
        let ws_state = Arc::clone(&wss);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = Arc::clone(&st);
                let wss = Arc::clone(&wss);
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = Arc::clone(&st);
                        let wss = Arc::clone(&wss);
                        async move {
                            let mut resp = ws::route(Arc::clone(&st), wss, req).await;
                            date::stamp(&st, &mut resp);
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Mock {
            addr,
            state,
            ws: ws_state,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `[upstream].base_url` for the gateway.
    pub fn base_url(&self) -> String {
        format!("http://{}/backend-api/codex", self.addr)
    }

    pub fn script(&self, account: &str, script: Script) {
        let mut s = self.state.lock().expect("mock state");
        s.scripts
            .entry(account.to_string())
            .or_default()
            .push_back(script);
    }

    pub fn answer_headers(&self, account: &str, headers: &[(&str, &str)]) {
        let mut s = self.state.lock().expect("mock state");
        s.headers.insert(
            account.to_string(),
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }

    /// Stop keeping requests (a long-running server would grow without bound).
    pub fn set_record(&self, record: bool) {
        self.state.lock().expect("mock state").record = record;
    }

    /// Answer requests that offer a `Bash` tool with a call running `command`.
    pub fn set_bash_command(&self, command: &str) {
        self.state.lock().expect("mock state").bash_command = Some(command.to_string());
    }

    pub fn set_default_stream(&self, deltas: usize, delay: Duration) {
        let mut s = self.state.lock().expect("mock state");
        s.default_deltas = deltas;
        s.default_delay = delay;
    }

    pub fn token_answer(&self, status: u16, body: Value) {
        self.state
            .lock()
            .expect("mock state")
            .token_answers
            .push_back((status, body));
    }

    pub fn token_delay(&self, d: Duration) {
        self.state.lock().expect("mock state").token_delay = d;
    }

    pub fn device_pending(&self, polls: u32) {
        self.state.lock().expect("mock state").device_pending = polls;
    }

    pub fn accept_only(&self, tokens: &[&str]) {
        self.state.lock().expect("mock state").valid_tokens =
            tokens.iter().map(|t| t.to_string()).collect();
    }

    pub fn token_calls(&self) -> Vec<Value> {
        self.state.lock().expect("mock state").token_calls.clone()
    }

    /// Every request seen, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("mock state").seen.clone()
    }

    /// The `/responses` requests seen.
    pub fn responses(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.ends_with("/responses"))
            .collect()
    }

    /// Which accounts the `/responses` requests went to, in order.
    pub fn accounts_hit(&self) -> Vec<String> {
        self.responses()
            .iter()
            .map(|s| s.account().to_string())
            .collect()
    }

    /// How many answer streams the client (the gateway) abandoned midway.
    pub fn cancelled_streams(&self) -> usize {
        let s = self.state.lock().expect("mock state");
        s.cancelled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Answers unscripted `/responses` requests as a backend that binds
    /// conversation state to accounts (`conversation.rs`).
    pub fn conversation_mode(&self) {
        self.state.lock().expect("mock state").conversations = Some(Default::default());
    }

    /// The plan the backend holds `account` to (default `plus`).
    pub fn set_plan(&self, account: &str, plan: &str) {
        let mut s = self.state.lock().expect("mock state");
        s.plans.insert(account.to_string(), plan.to_string());
    }

    /// `account`'s plan has no image generation: a request forcing the tool
    /// gets the backend's 400.
    pub fn refuse_images(&self, account: &str) {
        self.state
            .lock()
            .expect("mock state")
            .no_images
            .push(account.to_string());
    }

    pub fn clear(&self) {
        self.state.lock().expect("mock state").seen.clear();
    }

    /// Every frame clients sent on upstream WebSockets, oldest first.
    pub fn ws_frames(&self) -> Vec<ws::Frame> {
        self.ws.lock().expect("mock ws").frames.clone()
    }

    /// Answer WebSocket upgrades with 426 (an upstream without WebSocket).
    pub fn ws_refuse(&self, refuse: bool) {
        self.ws.lock().expect("mock ws").refuse = refuse;
    }

    /// The next WebSocket turn of `account` gets this answer.
    pub fn ws_script(&self, account: &str, script: Script) {
        let mut s = self.ws.lock().expect("mock ws");
        s.scripts
            .entry(account.to_string())
            .or_default()
            .push_back(script);
    }

    /// Upstream WebSockets open now, and opened in all.
    pub fn ws_sockets(&self) -> (usize, usize) {
        let s = self.ws.lock().expect("mock ws");
        (s.open_now, s.opened)
    }
}

/// Whether the mock accepts `bearer` (`accept_only`).
fn token_ok(st: &Mutex<State>, bearer: &str) -> bool {
    let s = st.lock().expect("mock state");
    s.valid_tokens.is_empty() || s.valid_tokens.iter().any(|t| t == bearer)
}

fn full(status: u16, body: impl Into<Bytes>, ct: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut()
        .insert("content-type", ct.parse().expect("ct"));
    r
}

fn detail(msg: &str) -> Response<Body> {
    full(400, json!({"detail": msg}).to_string(), "application/json")
}

async fn handle(
    st: Arc<Mutex<State>>,
    wss: Arc<Mutex<ws::WsState>>,
    req: Request<Incoming>,
) -> Response<Body> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        // Form-encoded (code exchange): keep it as an object of strings.
        let pairs: serde_json::Map<String, Value> = url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Value::Object(pairs)
    });
    let seen = Seen {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
        body: body.clone(),
        raw: bytes.clone(),
    };
    {
        let mut s = st.lock().expect("mock state");
        if s.record {
            s.seen.push(seen);
        }
    }
    let auth_ok = {
        let s = st.lock().expect("mock state");
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        s.valid_tokens.is_empty() || s.valid_tokens.iter().any(|t| t == bearer)
    };
    match (method.as_str(), path.as_str()) {
        // For scripts driving the standalone mock: what it has seen so far.
        ("GET", "/mock/seen") => {
            let seen: Vec<Value> = st
                .lock()
                .expect("mock state")
                .seen
                .iter()
                .filter(|s| !s.path.starts_with("/mock/"))
                .map(|s| json!({"method": s.method, "path": s.path, "headers": s.headers, "body": s.body}))
                .collect();
            full(200, Value::Array(seen).to_string(), "application/json")
        }
        ("POST", "/mock/clear") => {
            st.lock().expect("mock state").seen.clear();
            wss.lock().expect("mock ws").frames.clear();
            full(200, "{}", "application/json")
        }
        ("POST", p) if p.ends_with("/responses") => responses::answer(&st, &headers, &body, auth_ok).await,
        ("GET", p) if p.ends_with("/codex/models") => {
            if !auth_ok {
                return full(401, "{}", "application/json");
            }
            let version = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "client_version")
                .map(|(_, v)| v.into_owned());
            match version {
                Some(v) => full(200, models_for(&v).to_string(), "application/json"),
                None => full(400, json!({"detail": [{"type": "missing", "loc": ["query", "client_version"], "msg": "Field required"}]}).to_string(), "application/json"),
            }
        }
        // A token the mock does not take (`accept_only`) is refused here too.
        ("GET", p) if p.ends_with("/wham/usage") && !auth_ok => full(401, "{}", "application/json"),
        ("GET", p) if p.ends_with("/wham/usage") => full(200, json!({"plan_type": "pro", "rate_limit": {"allowed": true, "limit_reached": false,
            "primary_window": {"used_percent": 17.0, "limit_window_seconds": 18000, "reset_after_seconds": 1000, "reset_at": 1900000000},
            "secondary_window": {"used_percent": 4.0, "limit_window_seconds": 604800, "reset_at": 1900500000}}}).to_string(), "application/json"),
        ("POST", "/oauth/token") => issuer::token(&st, &body).await,
        ("POST", "/api/accounts/deviceauth/usercode") => full(200, json!({"device_auth_id": "dev-123", "user_code": "ABCD-EFGH", "interval": "1"}).to_string(), "application/json"),
        ("POST", "/api/accounts/deviceauth/token") => {
            let pending = {
                let mut s = st.lock().expect("mock state");
                if s.device_pending > 0 {
                    s.device_pending -= 1;
                    true
                } else {
                    false
                }
            };
            if pending {
                full(403, json!({"error": "authorization_pending"}).to_string(), "application/json")
            } else {
                full(200, json!({"authorization_code": "dev-auth-code", "code_verifier": "dev-verifier", "code_challenge": "x"}).to_string(), "application/json")
            }
        }
        // Server-side history and notes, kept per account.
        (m, p) if p.contains("/codex/alpha/history/v2/") || p.contains("/codex/alpha/notes/v2/") => {
            let account = headers.get("chatgpt-account-id").cloned().unwrap_or_default();
            full(200, json!({"account": account, "method": m, "path": p, "query": query}).to_string(), "application/json")
        }
        _ => full(404, json!({"detail": "Not Found"}).to_string(), "application/json"),
    }
}
