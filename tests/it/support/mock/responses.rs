//! The `/responses` endpoint: the backend's request rules, then a scripted,
//! simulated (conversation mode) or default answer, streamed with a guard that
//! counts streams the client abandoned.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::Response;
use serde_json::{json, Value};

use super::answers::{
    bash_answer, default_answer, loop_answer, sse_bytes, usage_total, LEGACY_PROMPT,
};
use super::{conversation, detail, full, images, Body, Script, State};

/// Answers one `POST …/responses` (`auth_ok`: its bearer is one the mock accepts).
pub(super) async fn answer(
    st: &Arc<Mutex<State>>,
    headers: &HashMap<String, String>,
    body: &Value,
    auth_ok: bool,
) -> Response<Body> {
    let body = body.clone();
    let account = headers
        .get("chatgpt-account-id")
        .cloned()
        .unwrap_or_default();
    if !auth_ok {
        return full(
            401,
            json!({"error": {"message": "token expired", "code": "token_expired"}}).to_string(),
            "application/json",
        );
    }
    if let Some(msg) = check_rules(&body) {
        return detail(&msg);
    }
    let plan = {
        let s = st.lock().expect("mock state");
        s.plans
            .get(&account)
            .cloned()
            .unwrap_or_else(|| "plus".into())
    };
    let asked = body.get("model").and_then(Value::as_str).unwrap_or("");
    let version = headers.get("version").map(String::as_str);
    if let Some(msg) = super::catalog::model_refusal(asked, version, &plan) {
        return detail(&msg);
    }
    let image = images::tool(&body).is_some();
    if image && st.lock().expect("mock state").no_images.contains(&account) {
        return full(400, images::refusal().to_string(), "application/json");
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("gpt-5.4")
        .to_string();
    let (script, extra, delay, deltas, cancelled, bash) = {
        let mut s = st.lock().expect("mock state");
        let script = s.scripts.get_mut(&account).and_then(VecDeque::pop_front);
        let extra = s.headers.get(&account).cloned().unwrap_or_default();
        (
            script,
            extra,
            s.default_delay,
            s.default_deltas,
            Arc::clone(&s.cancelled),
            s.bash_command.clone(),
        )
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
        Some(conversation::Verdict::Refuse(v)) => {
            return full(400, v.to_string(), "application/json")
        }
        Some(conversation::Verdict::Answer(events, ts)) => {
            let mut extra = extra;
            extra.push(("x-codex-turn-state".into(), ts));
            return stream_response(sse_bytes(&events), delay, &model, &extra, cancelled);
        }
        None => {}
    }
    match script {
        None if image => {
            let events = images::answer(&body, &model);
            stream_response(sse_bytes(&events), delay, &model, &extra, cancelled)
        }
        None => {
            let tool_loop = st.lock().expect("mock state").tool_loop;
            let events = bash
                .and_then(|cmd| bash_answer(&body, &model, &cmd))
                .or_else(|| tool_loop.and_then(|n| loop_answer(&body, &model, n)))
                .unwrap_or_else(|| default_answer(&body, &model, deltas));
            let served = Arc::clone(&st.lock().expect("mock state").served_tokens);
            let tokens = usage_total(&events);
            let r = stream_response(sse_bytes(&events), delay, &model, &extra, cancelled);
            counted(r, served, tokens)
        }
        Some(Script::Events(ev)) => {
            stream_response(sse_bytes(&ev), Duration::ZERO, &model, &extra, cancelled)
        }
        Some(Script::Slow(ev, d)) => stream_response(sse_bytes(&ev), d, &model, &extra, cancelled),
        Some(Script::Status(code, text, hs)) => {
            let ct = if text.trim_start().starts_with('<') {
                "text/html"
            } else {
                "application/json"
            };
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
            r.headers_mut()
                .insert("content-type", "text/event-stream".parse().expect("ct"));
            r
        }
        Some(Script::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            full(500, "late", "text/plain")
        }
    }
}

/// The backend's request rules (docs/upstream.md §3).
pub(super) fn check_rules(body: &Value) -> Option<String> {
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

/// Adds `tokens` to `served` once the body of `r` has been sent to its end.
fn counted(
    mut r: Response<Body>,
    served: Arc<std::sync::atomic::AtomicU64>,
    tokens: u64,
) -> Response<Body> {
    let body = std::mem::replace(r.body_mut(), Full::new(Bytes::new()).boxed_unsync());
    let tail = futures_util::stream::once(async move {
        served.fetch_add(tokens, std::sync::atomic::Ordering::SeqCst);
        Ok(Bytes::new())
    });
    let frames = body
        .into_data_stream()
        .chain(tail)
        .map(|b| b.map(Frame::data));
    *r.body_mut() = StreamBody::new(frames).boxed_unsync();
    r
}
