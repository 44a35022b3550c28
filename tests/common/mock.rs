//! A mock codex-responses upstream and OAuth issuer on `127.0.0.1:0`.
//!
//! It enforces the backend's 400 rules (store, stream, instructions, refused
//! parameters), records every request, and answers per account
//! (`ChatGPT-Account-ID`) from a script queue; an account with no script gets
//! a default text stream. Used by the integration tests (in process) and by
//! `examples/mock_upstream.rs` (as a standalone server for the SDK test, the
//! Prometheus checks and the benchmarks).

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "conversation.rs"]
pub mod conversation;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
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
    /// Streams whose body was dropped before its last event was sent.
    cancelled: Arc<std::sync::atomic::AtomicUsize>,
    /// Conversation mode: account-bound blobs and turn-states, a prompt cache.
    conversations: Option<conversation::Sim>,
    /// Strict rotation: refresh tokens already spent (each works once, as
    /// the real issuer's); a spent one is answered `refresh_token_reused`.
    spent: Option<std::collections::HashSet<String>>,
    reused: u64,
    /// Lifetime of the access tokens the issuer mints (default an hour).
    token_lifetime: Option<Duration>,
    /// Total tokens (usage) of the answer streams sent to their end.
    served_tokens: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone)]
pub struct Mock {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
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
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = Arc::clone(&st);
                        async move { Ok::<_, Infallible>(handle(st, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Mock { addr, state }
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

    /// Each refresh token works once; a spent one is answered
    /// `refresh_token_reused` (and counted: `reused_refreshes`).
    pub fn strict_rotation(&self) {
        self.state.lock().expect("mock state").spent = Some(Default::default());
    }

    pub fn reused_refreshes(&self) -> u64 {
        self.state.lock().expect("mock state").reused
    }

    /// How long the access tokens the issuer mints live.
    pub fn token_lifetime(&self, d: Duration) {
        self.state.lock().expect("mock state").token_lifetime = Some(d);
    }

    /// Total tokens (usage) of the default answers streamed to their end.
    pub fn served_tokens(&self) -> u64 {
        let s = self.state.lock().expect("mock state");
        s.served_tokens.load(std::sync::atomic::Ordering::SeqCst)
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
    /// conversation state to accounts (`tests/common/conversation.rs`).
    pub fn conversation_mode(&self) {
        self.state.lock().expect("mock state").conversations = Some(Default::default());
    }

    pub fn clear(&self) {
        self.state.lock().expect("mock state").seen.clear();
    }
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

/// The only instructions `legacy-prompt-model` accepts (as in 2025-08..12).
pub const LEGACY_PROMPT: &str = "You are Codex, based on GPT-5.";

/// At least this many bytes in the mock's `/models` answer: the real list
/// carries each model's prompts and is about 300 KB, far past the gateway's
/// 64 KiB error-body cap.
pub const MODELS_LIST_MIN_BYTES: usize = 300 * 1024;

/// A model's own system prompt, about 110 KB (three of them make the list
/// `MODELS_LIST_MIN_BYTES`), with the quotes and newlines a real one has.
fn model_prompt(slug: &str) -> String {
    let para = format!("You are Codex ({slug}), a coding agent. Follow the user's \"instructions\"; keep edits small.\n\n");
    para.repeat(110 * 1024 / para.len() + 1)
}

/// The backend's request rules (docs/upstream.md §3).
fn check_rules(body: &Value) -> Option<String> {
    if body.get("store") != Some(&Value::Bool(false)) {
        return Some("Store must be set to false".into());
    }
    if body.get("stream") != Some(&Value::Bool(true)) {
        return Some("Stream must be set to true".into());
    }
    if !body.get("instructions").is_some_and(Value::is_string) {
        return Some("Instructions are required".into());
    }
    for p in [
        "max_output_tokens",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "truncation",
        "previous_response_id",
        "prompt_cache_retention",
        "safety_identifier",
        "stream_options",
        "metadata",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "logprobs",
        "seed",
        "user",
    ] {
        if body.get(p).is_some() {
            return Some(format!("Unsupported parameter: {p}"));
        }
    }
    if body.get("model").and_then(Value::as_str) == Some("legacy-prompt-model")
        && body.get("instructions").and_then(Value::as_str) != Some(LEGACY_PROMPT)
    {
        return Some("Instructions are not valid".into());
    }
    if body.get("model").and_then(Value::as_str) == Some("no-such-model") {
        return Some(
            "The 'no-such-model' model is not supported when using Codex with a ChatGPT account."
                .into(),
        );
    }
    None
}

/// The answer when nothing is scripted: with tools and no tool output yet, a
/// call of the first function tool; after a tool output, text quoting it;
/// otherwise `deltas` text deltas ("Hello", " part1", …).
pub fn default_answer(body: &Value, model: &str, deltas: usize) -> Vec<Value> {
    let last = body
        .get("input")
        .and_then(Value::as_array)
        .and_then(|a| a.last());
    if let Some(out) = last.filter(|i| i["type"] == "function_call_output") {
        let text = format!("The tool said: {}", out["output"].as_str().unwrap_or(""));
        return text_events(model, &[&text]);
    }
    let tool = body.get("tools").and_then(Value::as_array).and_then(|t| {
        t.iter()
            .find(|t| t["type"] == "function")
            .and_then(|t| t["name"].as_str())
    });
    if let Some(name) = tool {
        // The Codex CLI's shell tools get a command it can run.
        let args = match name {
            "exec_command" => r#"{"cmd":"echo codex-pool-tool-ran"}"#,
            "shell_command" => r#"{"command":"echo codex-pool-tool-ran"}"#,
            "shell" => r#"{"command":["echo","codex-pool-tool-ran"]}"#,
            _ => r#"{"path":"README.md"}"#,
        };
        return tool_call_events(model, name, args, true);
    }
    let parts: Vec<String> = (0..deltas.max(1))
        .map(|i| {
            if i == 0 {
                "Hello".to_string()
            } else {
                format!(" part{i}")
            }
        })
        .collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    text_events(model, &refs)
}

/// The scripted agent turn (`Mock::set_bash_command`): a request offering a
/// `Bash` tool gets a call running `command` until a tool output comes back,
/// then text quoting that output. `None` for requests without the tool.
pub fn bash_answer(body: &Value, model: &str, command: &str) -> Option<Vec<Value>> {
    let offers_bash = body
        .get("tools")
        .and_then(Value::as_array)?
        .iter()
        .any(|t| t["type"] == "function" && t["name"] == "Bash");
    if !offers_bash {
        return None;
    }
    let input = body.get("input").and_then(Value::as_array)?;
    if let Some(out) = input
        .iter()
        .rev()
        .find(|i| i["type"] == "function_call_output")
    {
        let output = match &out["output"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Some(text_events(model, &[&format!("The tool said: {output}")]));
    }
    let args = json!({"command": command, "description": "Create the requested file"}).to_string();
    Some(tool_call_events(model, "Bash", &args, true))
}

/// A realistic successful stream for `model`.
pub fn text_events(model: &str, text_parts: &[&str]) -> Vec<Value> {
    let text: String = text_parts.concat();
    let mut ev = vec![
        json!({"type": "response.created", "response": {"id": "resp_mock1", "model": model, "status": "in_progress", "output": []}}),
        json!({"type": "response.in_progress", "response": {"id": "resp_mock1", "model": model}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "summary_index": 0}),
        json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "Thinking briefly."}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking briefly."}], "encrypted_content": "enc"}}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
    ];
    for p in text_parts {
        ev.push(json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": p}));
    }
    ev.push(json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}}));
    ev.push(completed(model, vec![]));
    ev
}

pub fn completed(model: &str, output: Vec<Value>) -> Value {
    json!({"type": "response.completed", "response": {"id": "resp_mock1", "object": "response", "model": model, "status": "completed", "output": output,
        "usage": {"input_tokens": 21, "input_tokens_details": {"cached_tokens": 5}, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 30}}})
}

/// A stream that ends in a function call.
pub fn tool_call_events(model: &str, name: &str, arguments: &str, with_deltas: bool) -> Vec<Value> {
    let mut ev = vec![
        json!({"type": "response.created", "response": {"id": "resp_tool", "model": model}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": name, "arguments": ""}}),
    ];
    if with_deltas {
        let mid = arguments.len() / 2;
        for part in [&arguments[..mid], &arguments[mid..]] {
            ev.push(json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": part}));
        }
    }
    ev.push(json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": name, "arguments": arguments, "status": "completed"}}));
    ev.push(completed(model, vec![]));
    ev
}

pub fn sse_bytes(events: &[Value]) -> Vec<Bytes> {
    events
        .iter()
        .map(|e| {
            let name = e.get("type").and_then(Value::as_str).unwrap_or("message");
            Bytes::from(format!("event: {name}\ndata: {e}\n\n"))
        })
        .collect()
}

/// Counts a stream as cancelled when dropped before its last chunk.
struct CancelGuard {
    done: bool,
    counter: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.done {
            self.counter
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

fn stream_response(
    chunks: Vec<Bytes>,
    delay: Duration,
    model: &str,
    extra: &[(String, String)],
    cancelled: Arc<std::sync::atomic::AtomicUsize>,
) -> Response<Body> {
    let total = chunks.len();
    let guard = Arc::new(Mutex::new(CancelGuard {
        done: total == 0,
        counter: cancelled,
    }));
    let s = futures_util::stream::iter(chunks.into_iter().enumerate()).then(move |(i, b)| {
        let guard = Arc::clone(&guard);
        async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if i + 1 == total {
                guard.lock().expect("guard").done = true;
            }
            Ok::<_, Infallible>(Frame::data(b))
        }
    });
    let mut r = Response::new(StreamBody::new(s).boxed_unsync());
    r.headers_mut()
        .insert("content-type", "text/event-stream".parse().expect("ct"));
    if let Ok(v) = model.parse() {
        r.headers_mut().insert("openai-model", v);
    }
    for (k, v) in extra {
        if let (Ok(k), Ok(v)) = (k.parse::<hyper::header::HeaderName>(), v.parse()) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

async fn handle(st: Arc<Mutex<State>>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
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
    let account = headers
        .get("chatgpt-account-id")
        .cloned()
        .unwrap_or_default();
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
            full(200, "{}", "application/json")
        }
        ("POST", p) if p.ends_with("/responses") => {
            if !auth_ok {
                return full(401, json!({"error": {"message": "token expired", "code": "token_expired"}}).to_string(), "application/json");
            }
            if let Some(msg) = check_rules(&body) {
                return detail(&msg);
            }
            let model = body.get("model").and_then(Value::as_str).unwrap_or("gpt-5.4").to_string();
            let (script, extra, delay, deltas, cancelled, bash) = {
                let mut s = st.lock().expect("mock state");
                let script = s.scripts.get_mut(&account).and_then(VecDeque::pop_front);
                let extra = s.headers.get(&account).cloned().unwrap_or_default();
                (script, extra, s.default_delay, s.default_deltas, Arc::clone(&s.cancelled), s.bash_command.clone())
            };
            let simulated = {
                let mut s = st.lock().expect("mock state");
                let ts = headers.get("x-codex-turn-state").map(String::as_str);
                match (&script, s.conversations.as_mut()) {
                    (None, Some(sim)) => Some(sim.answer(&account, ts, &body, &model)),
                    _ => None,
                }
            };
            match simulated {
                Some(conversation::Verdict::Refuse(v)) => return full(400, v.to_string(), "application/json"),
                Some(conversation::Verdict::Answer(events, ts)) => {
                    let mut extra = extra;
                    extra.push(("x-codex-turn-state".into(), ts));
                    return stream_response(sse_bytes(&events), delay, &model, &extra, cancelled);
                }
                None => {}
            }
            match script {
                None => {
                    let events = bash
                        .and_then(|cmd| bash_answer(&body, &model, &cmd))
                        .unwrap_or_else(|| default_answer(&body, &model, deltas));
                    let served = Arc::clone(&st.lock().expect("mock state").served_tokens);
                    let tokens = usage_total(&events);
                    let mut r = stream_response(sse_bytes(&events), delay, &model, &extra, cancelled);
                    let body = std::mem::replace(r.body_mut(), Full::new(Bytes::new()).boxed_unsync());
                    let counted = body.into_data_stream().chain(futures_util::stream::once(async move {
                        served.fetch_add(tokens, std::sync::atomic::Ordering::SeqCst);
                        Ok(Bytes::new())
                    }));
                    *r.body_mut() = StreamBody::new(counted.map(|b| b.map(Frame::data))).boxed_unsync();
                    r
                }
                Some(Script::Events(ev)) => {
                    stream_response(sse_bytes(&ev), Duration::ZERO, &model, &extra, cancelled)
                }
                Some(Script::Slow(ev, d)) => stream_response(sse_bytes(&ev), d, &model, &extra, cancelled),
                Some(Script::Status(code, text, hs)) => {
                    let ct = if text.trim_start().starts_with('<') { "text/html" } else { "application/json" };
                    let mut r = full(code, text, ct);
                    for (k, v) in hs {
                        if let (Ok(k), Ok(v)) = (k.parse::<hyper::header::HeaderName>(), v.parse()) {
                            r.headers_mut().insert(k, v);
                        }
                    }
                    r
                }
                Some(Script::Stall(ev)) => {
                    let chunks = sse_bytes(&ev);
                    let s = futures_util::stream::iter(chunks)
                        .map(|b| Ok::<_, Infallible>(Frame::data(b)))
                        .chain(futures_util::stream::pending());
                    let mut r = Response::new(StreamBody::new(s).boxed_unsync());
                    r.headers_mut().insert("content-type", "text/event-stream".parse().expect("ct"));
                    r
                }
                Some(Script::Hang) => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    full(500, "late", "text/plain")
                }
            }
        }
        ("GET", p) if p.ends_with("/codex/models") => {
            if !auth_ok {
                return full(401, "{}", "application/json");
            }
            full(200, models_answer().to_string(), "application/json")
        }
        ("GET", p) if p.ends_with("/wham/usage") => full(200, json!({"plan_type": "pro", "rate_limit": {"allowed": true, "limit_reached": false,
            "primary_window": {"used_percent": 17.0, "limit_window_seconds": 18000, "reset_after_seconds": 1000, "reset_at": 1900000000},
            "secondary_window": {"used_percent": 4.0, "limit_window_seconds": 604800, "reset_at": 1900500000}}}).to_string(), "application/json"),
        ("POST", "/oauth/token") => {
            let (answer, delay, n, lifetime) = {
                let mut s = st.lock().expect("mock state");
                s.token_calls.push(body.clone());
                s.refresh_counter += 1;
                let rt = body.get("refresh_token").and_then(Value::as_str).unwrap_or("").to_string();
                let reused = match s.spent.as_mut() {
                    Some(spent) if !rt.is_empty() => !spent.insert(rt),
                    _ => false,
                };
                if reused {
                    s.reused += 1;
                    return full(401, json!({"error": {"code": "refresh_token_reused",
                        "message": "Your refresh token has already been used to generate a new access token."}}).to_string(), "application/json");
                }
                let lifetime = s.token_lifetime.unwrap_or(Duration::from_secs(3600)).as_secs();
                (s.token_answers.pop_front(), s.token_delay, s.refresh_counter, lifetime)
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match answer {
                Some((code, v)) => full(code, v.to_string(), "application/json"),
                None => {
                    let iat = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                    let exp = iat + lifetime;
                    let acct = "acct-refreshed";
                    full(200, json!({
                        "access_token": jwt(&json!({"exp": exp, "iat": iat, "n": n})),
                        "id_token": jwt(&json!({"email": "refreshed@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": acct, "chatgpt_plan_type": "pro"}})),
                        "refresh_token": format!("rt-rotated-{n}"),
                    }).to_string(), "application/json")
                }
            }
        }
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
        _ => full(404, json!({"detail": "Not Found"}).to_string(), "application/json"),
    }
}

/// A model object in the backend's ModelInfo shape: every field the Codex
/// CLI requires (it refuses the whole list when one is missing), and the
/// model's own prompt.
fn model_info(slug: &str, display: &str, visibility: &str, instructions: &str) -> Value {
    json!({"slug": slug, "display_name": display, "description": format!("{display} (mock)"),
        "context_window": 272000, "visibility": visibility, "supported_in_api": true, "priority": 1,
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": [{"effort": "low", "description": "low"}, {"effort": "medium", "description": "medium"}, {"effort": "high", "description": "high"}],
        "shell_type": "shell_command", "support_verbosity": false,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [], "input_modalities": ["text", "image"],
        "base_instructions": instructions})
}

/// The mock's `GET /codex/models` answer (more than `MODELS_LIST_MIN_BYTES`).
pub fn models_answer() -> Value {
    json!({"models": [
        model_info("gpt-5.4", "GPT-5.4", "list", &model_prompt("gpt-5.4")),
        model_info("gpt-5.4-mini", "GPT-5.4 mini", "list", &model_prompt("gpt-5.4-mini")),
        // The Codex CLI's helper threads (titles) ask for this one; hidden
        // from pickers, as upstream hides its helpers.
        model_info("gpt-5.6-luna", "GPT-5.6 Luna", "hide", "You are a small helper model."),
        model_info("internal-hidden", "internal", "hide", &model_prompt("internal-hidden")),
        model_info("legacy-prompt-model", "legacy", "list", LEGACY_PROMPT),
    ]})
}

/// The `total_tokens` of the `response.completed` among `events`.
pub fn usage_total(events: &[Value]) -> u64 {
    events
        .iter()
        .filter_map(|e| e.pointer("/response/usage/total_tokens"))
        .filter_map(Value::as_u64)
        .sum()
}

/// An unsigned JWT with this payload.
pub fn jwt(payload: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        b64.encode(br#"{"alg":"none"}"#),
        b64.encode(payload.to_string())
    )
}
