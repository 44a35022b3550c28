//! Tests of `ChatStream::push` and `error_frame`: every `data:` frame is parsed
//! back into JSON and checked, and two recorded-style streams are compared
//! frame by frame against golden fixtures.

use std::collections::BTreeMap;

use super::*;
use crate::translate::convert::feed;
use serde_json::{json, Value};

const TOOLS_EVENTS: &str =
    include_str!("../../../../../tests/fixtures/translate/stream_tools.events.json");
const TOOLS_CHUNKS: &str =
    include_str!("../../../../../tests/fixtures/translate/stream_tools.chunks.json");
const CUSTOM_EVENTS: &str =
    include_str!("../../../../../tests/fixtures/translate/stream_custom_tool.events.json");
const CUSTOM_CHUNKS: &str =
    include_str!("../../../../../tests/fixtures/translate/stream_custom_tool.chunks.json");

const DONE: &str = "[DONE]";

/// Splits the output into its `data:` frames, parsing each (`[DONE]` becomes
/// the JSON string "[DONE]"). Panics on anything that is not a well-formed frame.
fn frames(out: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(out).unwrap();
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated frame in {text:?}"
    );
    text.split_terminator("\n\n")
        .map(|f| {
            let data = f
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("frame without 'data: ': {f:?}"));
            assert!(!data.contains('\n'), "a frame spans lines: {f:?}");
            if data == DONE {
                json!(DONE)
            } else {
                serde_json::from_str(data).unwrap_or_else(|e| panic!("bad JSON {data:?}: {e}"))
            }
        })
        .collect()
}

/// Feeds every event, returning all frames and the step of each event.
fn run(s: &mut ChatStream, events: &[Value]) -> (Vec<Value>, Vec<Step>) {
    let mut out = BytesMut::new();
    let steps = events
        .iter()
        .map(|e| feed(&mut *s, &e.to_string(), &mut out))
        .collect();
    (frames(&out), steps)
}

fn stream(events: &[Value]) -> Vec<Value> {
    run(
        &mut ChatStream::new("asked-model", 1_700_000_000, false),
        events,
    )
    .0
}

fn stream_with_usage(events: &[Value]) -> Vec<Value> {
    run(
        &mut ChatStream::new("asked-model", 1_700_000_000, true),
        events,
    )
    .0
}

fn delta(frame: &Value) -> &Value {
    &frame["choices"][0]["delta"]
}

/// The choice frames' deltas (skipping the usage frame and `[DONE]`).
fn deltas(frames: &[Value]) -> Vec<&Value> {
    frames
        .iter()
        .filter(|f| f["choices"].as_array().is_some_and(|c| !c.is_empty()))
        .map(delta)
        .collect()
}

fn concat(frames: &[Value], field: &str) -> String {
    deltas(frames)
        .iter()
        .filter_map(|d| d[field].as_str())
        .collect()
}

#[derive(Debug, Default, PartialEq)]
struct Call {
    id: String,
    kind: String,
    name: String,
    args: String,
    headers: usize,
}

/// Reassembles tool calls the way a Chat client does: by `index`.
fn calls(frames: &[Value]) -> BTreeMap<u64, Call> {
    let mut calls: BTreeMap<u64, Call> = BTreeMap::new();
    for d in deltas(frames) {
        for tc in d["tool_calls"].as_array().into_iter().flatten() {
            let c = calls.entry(tc["index"].as_u64().unwrap()).or_default();
            if let Some(id) = tc["id"].as_str() {
                c.id = id.to_string();
                c.headers += 1;
            }
            if let Some(k) = tc["type"].as_str() {
                c.kind = k.to_string();
            }
            let body = tc.get("function").or_else(|| tc.get("custom")).unwrap();
            if let Some(n) = body["name"].as_str() {
                c.name.push_str(n);
            }
            c.args.push_str(
                body.get("arguments")
                    .or_else(|| body.get("input"))
                    .unwrap()
                    .as_str()
                    .unwrap(),
            );
        }
    }
    calls
}

fn finish_reason(frames: &[Value]) -> Option<&str> {
    frames
        .iter()
        .find_map(|f| f["choices"][0]["finish_reason"].as_str())
}

fn created(id: &str, model: &str) -> Value {
    json!({"type": "response.created", "response": {"id": id, "model": model, "status": "in_progress", "output": []}})
}

fn text(d: &str) -> Value {
    json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": d})
}

fn completed() -> Value {
    json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "output": []}})
}

fn fc_added(id: &str, call_id: &str, name: &str) -> Value {
    json!({"type": "response.output_item.added", "item": {"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": ""}})
}

fn fc_args(id: &str, d: &str) -> Value {
    json!({"type": "response.function_call_arguments.delta", "item_id": id, "delta": d})
}

fn fc_done(id: &str, call_id: &str, name: &str, args: &str) -> Value {
    json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": args, "status": "completed"}})
}

fn without_created(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        let created = o.remove("created");
        assert_eq!(
            created,
            Some(json!(1_700_000_000)),
            "every chunk carries the stream's created time"
        );
    }
    v
}

fn golden(events: &str, chunks: &str) {
    let events: Vec<Value> = serde_json::from_str(events).unwrap();
    let expected: Vec<Value> = serde_json::from_str(chunks).unwrap();
    let mut s = ChatStream::new("asked-model", 1_700_000_000, true);
    let (got, steps) = run(&mut s, &events);
    let got: Vec<Value> = got.into_iter().map(without_created).collect();
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "frame {i} differs");
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "frame count; got:\n{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
    let (last, rest) = steps.split_last().unwrap();
    assert_eq!(*last, Step::Done);
    assert!(rest.iter().all(|s| *s == Step::Continue), "{steps:?}");
}

mod content;
mod failures;
mod tools_and_lifecycle;
