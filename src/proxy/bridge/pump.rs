//! A turn's frames off a kept socket, shaped as the HTTP path's answer: the
//! events before the first output held back (a failure among them sends the
//! request over HTTP instead), then either the live stream as the SSE bytes
//! an HTTP answer carries (`Delivery::Stream`, fed by a task that puts the
//! socket back when the answer ends) or one collected answer.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::value::RawValue;

use super::super::attempt::Delivery;
use super::super::socket::failure_of;
use super::super::TURN_STATE;
use super::items;
use crate::app::App;
use crate::pool::Account;
use crate::translate::Collector;
use crate::upstream::events::{Event, Kind};
use crate::upstream::sse::{self, EventStream, COLLECT_DEADLINE, HOLD_BACK_BYTES};
use crate::upstream::ws::kept::{Kept, Lease, Out};
use crate::upstream::Failure;

/// Events held back before the first output, at most (as on HTTP).
const HOLD_BACK_LIMIT: usize = 256;

/// SSE chunks queued between the socket and the relay.
const QUEUE: usize = 32;

/// What the conversation's thread is built from once the answer ends.
pub(super) struct Pending {
    pub rest: u64,
    pub input: Vec<u64>,
    pub output: Vec<Out>,
}

/// The events read before the first output.
pub(super) struct Head {
    pub held: Vec<String>,
    pub headers: HeaderMap,
    /// The answer ended among them; its response id when it completed.
    pub ended: Option<Option<String>>,
}

/// Reads until the first output (or the end); a failure before it is the
/// caller's (`Err`), with nothing sent to the client.
pub(super) async fn hold_back(
    app: &App,
    account: &Account,
    lease: &mut Lease,
    wait: Duration,
    pending: &mut Pending,
) -> Result<Head, Failure> {
    let socket = lease.socket.as_mut().ok_or(Failure::StreamTruncated)?;
    let mut head = Head {
        held: Vec::new(),
        headers: HeaderMap::new(),
        ended: None,
    };
    for name in ["openai-model", TURN_STATE] {
        if let Some(v) = socket.headers.get(name) {
            head.headers
                .insert(HeaderName::from_static(name), v.clone());
        }
    }
    let mut bytes = 0;
    loop {
        let text = match tokio::time::timeout(wait, socket.next()).await {
            Err(_) => {
                return Err(Failure::Timeout {
                    phase: "waiting for the turn's first event",
                    after: wait,
                })
            }
            Ok(Err(f)) => return Err(f),
            Ok(Ok(None)) => return Err(Failure::StreamTruncated),
            Ok(Ok(Some(t))) => t,
        };
        app.affinity.observe_frame(&text, &account.name);
        if let Some(state) = metadata(&text) {
            let value = Some(state)
                .filter(|s| !s.is_empty())
                .and_then(|s| HeaderValue::from_str(&s).ok());
            if let Some(v) = value {
                head.headers.insert(HeaderName::from_static(TURN_STATE), v);
            }
            continue;
        }
        let event = Event::parse(&text).ok();
        if let Some(f) = failure_of(&text, event.as_ref()) {
            return Err(f);
        }
        let kind = event.as_ref().map_or(Kind::Other, Event::kind);
        let ended = ending(&text, pending);
        bytes += text.len();
        head.held.push(text);
        if ended.is_some() {
            head.ended = ended;
            return Ok(head);
        }
        if kind.is_output() || head.held.len() >= HOLD_BACK_LIMIT || bytes >= HOLD_BACK_BYTES {
            return Ok(head);
        }
    }
}

/// The rest of the answer as an SSE stream; a task reads the socket, and
/// puts it back in `kept` (with the conversation's thread when the answer
/// completed) once the answer ends. A client that goes away, an upstream
/// that stops or closes: the socket is closed instead.
pub(super) fn stream(
    kept: Kept,
    mut lease: Lease,
    head: Head,
    mut pending: Pending,
    idle: Duration,
) -> Delivery {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(QUEUE);
    tokio::spawn(async move {
        for text in &head.held {
            if tx.send(Ok(encode(text))).await.is_err() {
                return;
            }
        }
        let mut ended = head.ended;
        while ended.is_none() {
            let Some(socket) = lease.socket.as_mut() else {
                return;
            };
            let text = match tokio::time::timeout(idle, socket.next()).await {
                Ok(Ok(Some(t))) => t,
                // The relay sees the stream end early, as over HTTP.
                _ => return,
            };
            if metadata(&text).is_some() {
                continue;
            }
            ended = ending(&text, &mut pending);
            if tx.send(Ok(encode(&text))).await.is_err() {
                return;
            }
        }
        put_back(&kept, lease, ended.flatten(), pending);
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Delivery::Stream {
        buffered: Default::default(),
        events: EventStream::new(body),
    }
}

/// The whole answer, collected (a client that did not stream); the socket
/// goes back once it is in.
pub(super) async fn collect(
    kept: &Kept,
    mut lease: Lease,
    head: Head,
    mut pending: Pending,
    idle: Duration,
) -> Result<Delivery, Failure> {
    let mut collector = Collector::default();
    let deadline = tokio::time::Instant::now() + COLLECT_DEADLINE;
    for text in &head.held {
        if let Ok(e) = Event::parse(text) {
            if collector.push(&e)? {
                put_back(kept, lease, head.ended.flatten(), pending);
                return Ok(Delivery::Collected(collector));
            }
        }
    }
    loop {
        let socket = lease.socket.as_mut().ok_or(Failure::StreamTruncated)?;
        let wait = idle.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        let text = match tokio::time::timeout(wait, socket.next()).await {
            Err(_) => {
                return Err(Failure::Timeout {
                    phase: "between stream events",
                    after: wait,
                })
            }
            Ok(Err(f)) => return Err(f),
            Ok(Ok(None)) => return Err(Failure::StreamTruncated),
            Ok(Ok(Some(t))) => t,
        };
        if metadata(&text).is_some() {
            continue;
        }
        let Ok(event) = Event::parse(&text) else {
            continue;
        };
        if let Some(f) = failure_of(&text, Some(&event)) {
            return Err(f);
        }
        let ended = ending(&text, &mut pending);
        if collector.push(&event)? {
            put_back(kept, lease, ended.flatten(), pending);
            return Ok(Delivery::Collected(collector));
        }
    }
}

/// The socket back in the table; the thread only after a completed answer.
fn put_back(kept: &Kept, lease: Lease, completed: Option<String>, pending: Pending) {
    let thread = completed.map(|id| items::thread(id, pending.rest, pending.input, pending.output));
    kept.put(lease, thread);
}

/// Notes an output item; `Some` when the frame ends the answer (with the
/// response's id when it completed).
fn ending(text: &str, pending: &mut Pending) -> Option<Option<String>> {
    match type_of(text).as_deref() {
        Some("response.completed") => Some(completed_id(text)),
        Some("response.incomplete" | "response.failed" | "error") => Some(None),
        Some("response.output_item.done") => {
            if let Some(o) = output_item(text).and_then(|i| items::out(i.get())) {
                pending.output.push(o);
            }
            None
        }
        _ => None,
    }
}

/// A frame's `type`: read off its start when it leads (as upstream writes
/// frames), parsed otherwise.
fn type_of(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    if let Some(rest) = text.strip_prefix("{\"type\":\"") {
        if let Some(end) = rest.find('"') {
            if !rest[..end].contains('\\') {
                return Some(std::borrow::Cow::Borrowed(&rest[..end]));
            }
        }
    }
    #[derive(serde::Deserialize)]
    struct Typed<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Typed<'_>>(text)
        .ok()
        .and_then(|t| t.kind)
}

fn output_item(text: &str) -> Option<Box<RawValue>> {
    #[derive(serde::Deserialize)]
    struct Done {
        #[serde(rename = "type")]
        kind: String,
        item: Box<RawValue>,
    }
    let d: Done = serde_json::from_str(text).ok()?;
    (d.kind == "response.output_item.done").then_some(d.item)
}

fn completed_id(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Completed {
        response: Resp,
    }
    #[derive(serde::Deserialize)]
    struct Resp {
        id: Option<String>,
    }
    let c: Completed = serde_json::from_str(text).ok()?;
    c.response.id.filter(|id| !id.is_empty())
}

/// A `response.metadata` frame's turn-state (the frame itself is the
/// socket's own: HTTP clients get the token as a header).
fn metadata(text: &str) -> Option<String> {
    if !text.contains("\"response.metadata\"") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    if v["type"] != "response.metadata" {
        return None;
    }
    Some(v["headers"][TURN_STATE].as_str().unwrap_or("").to_owned())
}

/// One frame as the SSE event an HTTP answer carries.
fn encode(text: &str) -> Bytes {
    let name = type_of(text);
    let mut out = BytesMut::with_capacity(text.len() + 48);
    sse::encode(name.as_deref(), text, &mut out);
    out.freeze()
}
