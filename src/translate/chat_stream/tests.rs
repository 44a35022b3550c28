//! Tests of `ChatStream::push` and `error_frame`: every `data:` frame is parsed
//! back into JSON and checked, and two recorded-style streams are compared
//! frame by frame against golden fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use super::*;
use serde_json::{json, Value};

const TOOLS_EVENTS: &str =
    include_str!("../../../tests/fixtures/translate/stream_tools.events.json");
const TOOLS_CHUNKS: &str =
    include_str!("../../../tests/fixtures/translate/stream_tools.chunks.json");
const CUSTOM_EVENTS: &str =
    include_str!("../../../tests/fixtures/translate/stream_custom_tool.events.json");
const CUSTOM_CHUNKS: &str =
    include_str!("../../../tests/fixtures/translate/stream_custom_tool.chunks.json");

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
        .map(|e| s.push(&e.to_string(), &mut out))
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

// ---- golden streams -------------------------------------------------------------

#[test]
fn golden_reasoning_text_and_parallel_function_calls() {
    golden(TOOLS_EVENTS, TOOLS_CHUNKS);
}

#[test]
fn golden_text_and_custom_tool_call_with_null_usage_details() {
    golden(CUSTOM_EVENTS, CUSTOM_CHUNKS);
}

#[test]
fn golden_tool_stream_reassembles_to_complete_calls() {
    let events: Vec<Value> = serde_json::from_str(TOOLS_EVENTS).unwrap();
    let f = stream(&events);
    let calls = calls(&f);
    assert_eq!(calls.len(), 3);
    assert_eq!(
        (calls[&0].id.as_str(), calls[&0].name.as_str()),
        ("call_ls", "ls")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&calls[&0].args).unwrap(),
        json!({"path": "."})
    );
    assert_eq!(
        (calls[&1].id.as_str(), calls[&1].name.as_str()),
        ("call_cat", "cat")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&calls[&1].args).unwrap(),
        json!({"path": "a.txt"})
    );
    assert_eq!(
        (calls[&2].id.as_str(), calls[&2].args.as_str()),
        ("call_pwd", "{}")
    );
    assert!(
        calls
            .values()
            .all(|c| c.headers == 1 && c.kind == "function"),
        "{calls:?}"
    );
    assert_eq!(concat(&f, "content"), "I'll look.");
    assert_eq!(
        concat(&f, "reasoning_content"),
        "Checking the files.\n\nThen reading."
    );
}

// ---- role, content, reasoning, refusal -----------------------------------------

#[test]
fn text_delta_becomes_a_content_chunk_after_the_role_chunk() {
    let mut s = ChatStream::new("m", 1, false);
    let mut out = BytesMut::new();
    let step = s.push(
        &json!({"type": "response.output_text.delta", "delta": "hi"}).to_string(),
        &mut out,
    );
    assert_eq!(step, Step::Continue);
    let text = String::from_utf8_lossy(&out).to_string();
    let frames: Vec<&str> = text.split("\n\n").filter(|f| !f.is_empty()).collect();
    assert_eq!(frames.len(), 2);
    assert!(frames[0].contains(r#""role":"assistant""#));
    assert!(frames[1].contains(r#""content":"hi""#));
}

#[test]
fn role_chunk_is_sent_once_and_first() {
    let f = stream(&[text("a"), text("b"), text("c"), completed()]);
    assert_eq!(delta(&f[0]), &json!({"role": "assistant", "content": ""}));
    assert_eq!(f.iter().filter(|x| !delta(x)["role"].is_null()).count(), 1);
    assert_eq!(
        deltas(&f)[1..4],
        [
            &json!({"content": "a"}),
            &json!({"content": "b"}),
            &json!({"content": "c"})
        ]
    );
}

#[test]
fn every_chunk_has_the_chat_chunk_envelope() {
    let f = stream(&[created("resp_e1", "gpt-5.4"), text("x"), completed()]);
    for frame in f.iter().filter(|x| x.is_object()) {
        assert_eq!(frame["object"], "chat.completion.chunk");
        assert_eq!(frame["id"], "chatcmpl-e1");
        assert_eq!(frame["created"], 1_700_000_000);
        assert_eq!(frame["model"], "gpt-5.4");
        assert_eq!(frame["choices"][0]["index"], 0);
        assert!(frame["choices"][0]["logprobs"].is_null());
        assert!(
            frame.get("usage").is_none(),
            "no usage without include_usage: {frame}"
        );
    }
}

#[test]
fn empty_text_deltas_send_nothing() {
    let f = stream(&[text(""), json!({"type": "response.output_text.delta"})]);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn reasoning_summaries_go_to_reasoning_content_with_blank_lines_between_parts() {
    let part = |i: u64| json!({"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "summary_index": i, "part": {"type": "summary_text", "text": ""}});
    let sum = |i: u64, d: &str| json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "summary_index": i, "delta": d});
    let f = stream(&[
        part(0),
        sum(0, "First "),
        sum(0, "thought."),
        part(1),
        sum(1, "Second."),
        part(2),
        sum(2, "Third."),
        text("Answer"),
        completed(),
    ]);
    assert_eq!(
        delta(&f[0]),
        &json!({"role": "assistant", "content": ""}),
        "role first, no leading separator"
    );
    assert_eq!(
        concat(&f, "reasoning_content"),
        "First thought.\n\nSecond.\n\nThird."
    );
    assert_eq!(concat(&f, "content"), "Answer");
    for d in deltas(&f) {
        let c = d["content"].as_str().unwrap_or("");
        assert!(
            !c.contains("thought") && !c.contains('\n'),
            "reasoning leaked into content: {d}"
        );
        assert!(
            d.get("reasoning_content").is_none() || d.get("content").is_none(),
            "mixed delta: {d}"
        );
    }
}

#[test]
fn reasoning_text_deltas_also_go_to_reasoning_content() {
    let f = stream(&[
        json!({"type": "response.reasoning_text.delta", "item_id": "rs_1", "delta": "raw thinking"}),
    ]);
    assert_eq!(deltas(&f)[1], &json!({"reasoning_content": "raw thinking"}));
}

#[test]
fn refusal_deltas_go_to_refusal() {
    let f = stream(&[
        json!({"type": "response.refusal.delta", "item_id": "msg_1", "delta": "I can't "}),
        json!({"type": "response.refusal.delta", "item_id": "msg_1", "delta": "help."}),
        completed(),
    ]);
    assert_eq!(concat(&f, "refusal"), "I can't help.");
    assert_eq!(concat(&f, "content"), "");
    assert_eq!(finish_reason(&f), Some("stop"));
}

// ---- tool calls -------------------------------------------------------------------

#[test]
fn streamed_function_call_has_a_stable_index_and_id_and_full_arguments() {
    let f = stream(&[
        fc_added("fc_1", "call_1", "get_weather"),
        fc_args("fc_1", "{\"city\":"),
        fc_args("fc_1", "\"Paris\","),
        fc_args("fc_1", "\"unit\":\"c\"}"),
        json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": "{\"city\":\"Paris\",\"unit\":\"c\"}"}),
        fc_done(
            "fc_1",
            "call_1",
            "get_weather",
            "{\"city\":\"Paris\",\"unit\":\"c\"}",
        ),
        completed(),
    ]);
    let d = deltas(&f);
    assert_eq!(
        d[1],
        &json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]})
    );
    for later in &d[2..5] {
        let tc = &later["tool_calls"][0];
        assert_eq!(tc["index"], 0);
        assert!(
            tc.get("id").is_none() && tc.get("type").is_none(),
            "only the first delta names the call: {tc}"
        );
        assert!(tc["function"].get("name").is_none(), "{tc}");
    }
    assert_eq!(
        d.len(),
        6,
        "done sends nothing more once arguments streamed: {d:?}"
    );
    let calls = calls(&f);
    assert_eq!(calls[&0].args, "{\"city\":\"Paris\",\"unit\":\"c\"}");
    assert_eq!(
        serde_json::from_str::<Value>(&calls[&0].args).unwrap(),
        json!({"city": "Paris", "unit": "c"})
    );
    assert_eq!(finish_reason(&f), Some("tool_calls"));
}

#[test]
fn two_parallel_calls_get_index_0_and_1() {
    let f = stream(&[
        fc_added("fc_a", "call_a", "f"),
        fc_added("fc_b", "call_b", "g"),
        fc_args("fc_b", "{\"b\":"),
        fc_args("fc_a", "{\"a\":"),
        fc_args("fc_a", "1}"),
        fc_args("fc_b", "2}"),
        fc_done("fc_a", "call_a", "f", "{\"a\":1}"),
        fc_done("fc_b", "call_b", "g", "{\"b\":2}"),
        completed(),
    ]);
    let calls = calls(&f);
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[&0],
        Call {
            id: "call_a".into(),
            kind: "function".into(),
            name: "f".into(),
            args: "{\"a\":1}".into(),
            headers: 1
        }
    );
    assert_eq!(
        calls[&1],
        Call {
            id: "call_b".into(),
            kind: "function".into(),
            name: "g".into(),
            args: "{\"b\":2}".into(),
            headers: 1
        }
    );
    assert_eq!(finish_reason(&f), Some("tool_calls"));
}

#[test]
fn a_call_without_argument_deltas_gets_its_arguments_from_output_item_done() {
    let f = stream(&[
        fc_added("fc_1", "call_1", "run"),
        fc_done("fc_1", "call_1", "run", "{\"cmd\":[\"ls\",\"-la\"]}"),
        completed(),
    ]);
    let d = deltas(&f);
    assert_eq!(
        d[2],
        &json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\":[\"ls\",\"-la\"]}"}}]})
    );
    let calls = calls(&f);
    assert_eq!(calls[&0].args, "{\"cmd\":[\"ls\",\"-la\"]}");
    assert_eq!(calls[&0].headers, 1);
}

#[test]
fn a_call_seen_only_at_output_item_done_is_announced_and_sent_whole() {
    let f = stream(&[
        text("Running."),
        fc_done("fc_9", "call_9", "pwd", "{\"x\":true}"),
        completed(),
    ]);
    let d = deltas(&f);
    assert_eq!(
        d[2],
        &json!({"tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "pwd", "arguments": ""}}]})
    );
    assert_eq!(
        d[3],
        &json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"x\":true}"}}]})
    );
    assert_eq!(finish_reason(&f), Some("tool_calls"));
}

#[test]
fn a_call_with_empty_arguments_at_done_sends_no_empty_argument_delta() {
    let f = stream(&[fc_done("fc_1", "call_1", "noop", ""), completed()]);
    let c = calls(&f);
    assert_eq!(c[&0].id, "call_1");
    assert_eq!(deltas(&f).len(), 3, "role, header, finish: {f:?}");
}

#[test]
fn a_call_without_call_id_uses_the_item_id() {
    let f = stream(&[
        json!({"type": "response.output_item.added", "item": {"type": "function_call", "id": "fc_7", "name": "f"}}),
        fc_args("fc_7", "{}"),
    ]);
    assert_eq!(calls(&f)[&0].id, "fc_7");
}

#[test]
fn a_call_without_item_id_is_matched_by_call_id() {
    let f = stream(&[
        json!({"type": "response.output_item.added", "item": {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": ""}}),
        json!({"type": "response.output_item.done", "item": {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{\"a\":1}"}}),
        completed(),
    ]);
    let c = calls(&f);
    assert_eq!(c.len(), 1, "one call, not two: {c:?}");
    assert_eq!(c[&0].args, "{\"a\":1}");
}

#[test]
fn argument_deltas_for_unknown_items_are_ignored() {
    let f = stream(&[
        fc_added("fc_1", "call_1", "f"),
        fc_args("fc_other", "junk"),
        fc_args("fc_1", "{}"),
    ]);
    let c = calls(&f);
    assert_eq!(c.len(), 1);
    assert_eq!(c[&0].args, "{}");
}

#[test]
fn a_repeated_added_event_does_not_announce_the_call_twice() {
    let f = stream(&[
        fc_added("fc_1", "call_1", "f"),
        fc_added("fc_1", "call_1", "f"),
        fc_args("fc_1", "{}"),
    ]);
    let c = calls(&f);
    assert_eq!(c.len(), 1);
    assert_eq!(c[&0].headers, 1);
}

#[test]
fn custom_tool_call_input_deltas_go_to_custom_input() {
    let f = stream(&[
        json!({"type": "response.output_item.added", "item": {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_p", "name": "apply_patch", "input": ""}}),
        json!({"type": "response.custom_tool_call_input.delta", "item_id": "ctc_1", "delta": "*** Begin"}),
        json!({"type": "response.custom_tool_call_input.delta", "item_id": "ctc_1", "delta": " Patch"}),
        json!({"type": "response.output_item.done", "item": {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch"}}),
        completed(),
    ]);
    let d = deltas(&f);
    assert_eq!(
        d[1],
        &json!({"tool_calls": [{"index": 0, "id": "call_p", "type": "custom", "custom": {"name": "apply_patch", "input": ""}}]})
    );
    assert_eq!(
        d[2],
        &json!({"tool_calls": [{"index": 0, "custom": {"input": "*** Begin"}}]})
    );
    let c = calls(&f);
    assert_eq!(c[&0].args, "*** Begin Patch");
    assert_eq!(c[&0].kind, "custom");
    assert_eq!(finish_reason(&f), Some("tool_calls"));
}

#[test]
fn a_custom_call_seen_only_at_done_sends_its_input() {
    let f = stream(&[
        json!({"type": "response.output_item.done", "item": {"type": "custom_tool_call", "id": "ctc_2", "call_id": "call_q", "name": "shell", "input": "echo hi"}}),
    ]);
    let c = calls(&f);
    assert_eq!(
        (c[&0].id.as_str(), c[&0].kind.as_str(), c[&0].args.as_str()),
        ("call_q", "custom", "echo hi")
    );
}

#[test]
fn non_tool_output_items_send_nothing() {
    let f = stream(&[
        json!({"type": "response.output_item.added", "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        json!({"type": "response.output_item.added", "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.output_item.done", "item": {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "late"}]}}),
        json!({"type": "response.output_item.done", "item": {"type": "web_search_call", "id": "ws_1"}}),
    ]);
    assert!(f.is_empty(), "{f:?}");
}

// ---- lifecycle: created, finish, usage, DONE ------------------------------------

#[test]
fn created_sets_the_model_and_the_id() {
    let mut s = ChatStream::new("asked-model", 5, false);
    let (f, _) = run(&mut s, &[created("resp_0a1b2c", "gpt-5.4-2026"), text("x")]);
    assert_eq!(s.model(), "gpt-5.4-2026");
    assert!(
        f.iter()
            .all(|x| x["id"] == "chatcmpl-0a1b2c" && x["model"] == "gpt-5.4-2026"),
        "{f:?}"
    );

    let f = stream(&[created("weird-id", "m2"), text("x")]);
    assert_eq!(f[0]["id"], "chatcmpl-weird-id");
}

#[test]
fn without_created_the_requested_model_and_a_random_id_are_used() {
    let mut s = ChatStream::new("asked-model", 5, false);
    let (f, _) = run(&mut s, &[text("x")]);
    assert_eq!(f[0]["model"], "asked-model");
    let id = f[0]["id"].as_str().unwrap();
    assert!(
        id.starts_with("chatcmpl-") && id.len() > "chatcmpl-".len() + 8,
        "{id}"
    );
    assert_eq!(f[1]["id"], f[0]["id"]);
    let other = stream(&[text("x")]);
    assert_ne!(other[0]["id"], f[0]["id"]);
}

#[test]
fn in_progress_and_completed_can_also_set_the_model() {
    let mut s = ChatStream::new("asked", 5, false);
    let (f, _) = run(
        &mut s,
        &[
            json!({"type": "response.in_progress", "response": {"id": "resp_p", "model": "m-progress"}}),
            text("x"),
            json!({"type": "response.completed", "response": {"id": "resp_p", "model": "m-final"}}),
        ],
    );
    assert_eq!(f[1]["model"], "m-progress");
    assert_eq!(f[1]["id"], "chatcmpl-p");
    assert_eq!(s.model(), "m-final");
    assert_eq!(f[2]["model"], "m-final");
}

#[test]
fn completed_finishes_with_stop_then_done() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(&mut s, &[text("hi"), completed()]);
    assert_eq!(steps, [Step::Continue, Step::Done]);
    assert_eq!(f.len(), 4);
    assert_eq!(
        f[2]["choices"][0],
        json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"})
    );
    assert_eq!(f[3], json!(DONE));
    assert_eq!(f.iter().filter(|x| **x == json!(DONE)).count(), 1);
}

#[test]
fn the_raw_output_ends_with_the_done_frame() {
    let mut s = ChatStream::new("m", 1, true);
    let mut out = BytesMut::new();
    s.push(&text("hi").to_string(), &mut out);
    s.push(&completed().to_string(), &mut out);
    assert!(
        out.ends_with(b"\n\ndata: [DONE]\n\n"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert!(out.starts_with(b"data: {"));
}

#[test]
fn completed_without_any_output_still_sends_role_finish_and_done() {
    let f = stream(&[completed()]);
    assert_eq!(f.len(), 3);
    assert_eq!(delta(&f[0])["role"], "assistant");
    assert_eq!(finish_reason(&f), Some("stop"));
    assert_eq!(f[2], json!(DONE));
}

#[test]
fn incomplete_maps_to_length_or_content_filter() {
    let incomplete = |reason: Value| json!({"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": reason}}});
    for (reason, finish) in [
        (json!("max_output_tokens"), "length"),
        (json!("content_filter"), "content_filter"),
        (json!(null), "length"),
    ] {
        let mut s = ChatStream::new("m", 1, false);
        let (f, steps) = run(&mut s, &[text("par"), incomplete(reason.clone())]);
        assert_eq!(finish_reason(&f), Some(finish), "{reason}");
        assert_eq!(steps.last(), Some(&Step::Done));
        assert_eq!(f.last(), Some(&json!(DONE)));
    }
    let f = stream(&[
        text("x"),
        json!({"type": "response.incomplete", "response": {}}),
    ]);
    assert_eq!(finish_reason(&f), Some("length"));
    assert_eq!(
        incomplete_finish_reason(Some("content_filter")),
        "content_filter"
    );
    assert_eq!(
        incomplete_finish_reason(Some("max_output_tokens")),
        "length"
    );
}

#[test]
fn incomplete_after_a_tool_call_is_still_length() {
    let f = stream(&[
        fc_added("fc_1", "call_1", "f"),
        fc_args("fc_1", "{\"a\""),
        json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}),
    ]);
    assert_eq!(finish_reason(&f), Some("length"));
}

#[test]
fn include_usage_adds_a_usage_chunk_with_no_choices_before_done() {
    let mut s = ChatStream::new("m", 1, true);
    let (f, _) = run(
        &mut s,
        &[
            text("hi"),
            json!({"type": "response.completed", "response": {"id": "resp_u", "usage": {
                "input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
                "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 130}}}),
        ],
    );
    assert_eq!(f.len(), 5);
    assert_eq!(finish_reason(&f[..3]), Some("stop"));
    let usage_frame = &f[3];
    assert_eq!(usage_frame["choices"], json!([]));
    assert_eq!(usage_frame["object"], "chat.completion.chunk");
    assert_eq!(
        usage_frame["usage"],
        json!({"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130,
            "prompt_tokens_details": {"cached_tokens": 40},
            "completion_tokens_details": {"reasoning_tokens": 12}})
    );
    assert_eq!(f[4], json!(DONE));
    assert_eq!(s.usage().map(|u| u.input_tokens), Some(100));
    assert!(f[..3].iter().all(|x| x.get("usage").is_none()));
}

#[test]
fn usage_with_null_details_or_no_total_maps_to_zeros_and_a_sum() {
    let f = stream_with_usage(
        &[json!({"type": "response.completed", "response": {"usage": {
        "input_tokens": 7, "input_tokens_details": null, "output_tokens": 3, "output_tokens_details": null}}})],
    );
    let u = &f[f.len() - 2]["usage"];
    assert_eq!(
        u,
        &json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}})
    );
    let f = stream_with_usage(
        &[json!({"type": "response.completed", "response": {"usage": {
        "input_tokens": 7, "input_tokens_details": {}, "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": null}, "total_tokens": 10}}})],
    );
    assert_eq!(
        f[f.len() - 2]["usage"]["prompt_tokens_details"]["cached_tokens"],
        0
    );
    assert_eq!(
        f[f.len() - 2]["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
}

#[test]
fn include_usage_without_upstream_usage_sends_zeros() {
    let f = stream_with_usage(&[text("x"), completed()]);
    assert_eq!(f[f.len() - 2]["usage"]["total_tokens"], 0);
    assert_eq!(f[f.len() - 2]["choices"], json!([]));
    assert_eq!(f.last(), Some(&json!(DONE)));
}

#[test]
fn incomplete_also_reports_usage() {
    let f = stream_with_usage(&[
        text("x"),
        json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"},
            "usage": {"input_tokens": 5, "output_tokens": 64, "total_tokens": 69}}}),
    ]);
    assert_eq!(f[f.len() - 2]["usage"]["completion_tokens"], 64);
    assert_eq!(finish_reason(&f), Some("length"));
}

// ---- failures --------------------------------------------------------------------

#[test]
fn response_failed_is_a_failed_step_with_an_error_frame_carrying_the_upstream_code() {
    let mut s = ChatStream::new("m", 1, true);
    let (f, steps) = run(
        &mut s,
        &[
            text("par"),
            json!({"type": "response.failed", "response": {"id": "resp_f", "status": "failed",
                "error": {"code": "server_is_overloaded", "message": "Our servers are busy."}}}),
        ],
    );
    let expected = Failure::StreamFailed {
        code: Some("server_is_overloaded".into()),
        message: "Our servers are busy.".into(),
    };
    assert_eq!(steps, [Step::Continue, Step::Failed(expected.clone())]);
    assert_eq!(
        f.len(),
        3,
        "role, text, error — no finish, no usage, no [DONE]: {f:?}"
    );
    let err = &f[2];
    assert_eq!(
        err.as_object().unwrap().len(),
        1,
        "only an error key: {err}"
    );
    assert_eq!(err["error"]["code"], "server_is_overloaded");
    assert_eq!(err["error"]["type"], "upstream_error");
    assert!(err["error"]["param"].is_null());
    assert_eq!(err["error"]["message"], expected.to_string());
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Our servers are busy."));
    assert!(!f.contains(&json!(DONE)));
}

#[test]
fn response_failed_with_a_client_fault_code_keeps_that_code() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(
        &mut s,
        &[
            json!({"type": "response.failed", "response": {"error": {"code": "context_length_exceeded", "message": "too long"}}}),
        ],
    );
    assert!(
        matches!(&steps[0], Step::Failed(Failure::StreamFailed { code: Some(c), .. }) if c == "context_length_exceeded")
    );
    assert_eq!(
        f,
        [
            json!({"error": {"message": "upstream stream failed (context_length_exceeded): too long",
        "type": "upstream_error", "param": null, "code": "context_length_exceeded"}})
        ]
    );
}

#[test]
fn top_level_error_events_fail_the_stream_too() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(
        &mut s,
        &[json!({"type": "error", "code": "invalid_prompt", "message": "bad prompt"})],
    );
    assert_eq!(
        steps[0],
        Step::Failed(Failure::StreamFailed {
            code: Some("invalid_prompt".into()),
            message: "bad prompt".into()
        })
    );
    assert_eq!(f[0]["error"]["code"], "invalid_prompt");
}

#[test]
fn failed_without_details_still_writes_an_error_frame() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(
        &mut s,
        &[json!({"type": "response.failed", "response": {"status": "failed"}})],
    );
    assert!(matches!(
        &steps[0],
        Step::Failed(Failure::StreamFailed { code: None, .. })
    ));
    assert_eq!(f[0]["error"]["code"], "upstream_stream_failed");
    assert!(!f[0]["error"]["message"].as_str().unwrap().is_empty());
}

#[test]
fn rate_limit_failure_frame_uses_the_classified_client_code() {
    let mut s = ChatStream::new("m", 1, false);
    let (f, steps) = run(
        &mut s,
        &[
            json!({"type": "response.failed", "response": {"error": {"code": "rate_limit_exceeded", "message": "Rate limit reached. Please try again in 12s."}}}),
        ],
    );
    let Step::Failed(failure) = &steps[0] else {
        panic!("{steps:?}")
    };
    assert!(
        matches!(failure, Failure::RateLimited { .. }),
        "{failure:?}"
    );
    assert_eq!(f[0]["error"]["code"], json!(failure.client_code()));
}

#[test]
fn error_frame_writes_one_openai_error_envelope() {
    let mut out = BytesMut::new();
    error_frame(&Failure::StreamTruncated, &mut out);
    let text = std::str::from_utf8(&out).unwrap();
    assert!(
        text.starts_with("data: {") && text.ends_with("}\n\n"),
        "{text:?}"
    );
    assert_eq!(
        frames(&out),
        [
            json!({"error": {"message": "upstream stream ended before response.completed",
            "type": "upstream_error", "param": null, "code": "upstream_stream_truncated"}})
        ]
    );

    let mut out = BytesMut::new();
    let f = Failure::StreamFailed {
        code: Some("server_is_overloaded".into()),
        message: "busy \"now\"\nplease".into(),
    };
    error_frame(&f, &mut out);
    let v = frames(&out);
    assert_eq!(v[0]["error"]["code"], "server_is_overloaded");
    assert!(v[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("busy \"now\"\nplease"));
}

// ---- ignored input --------------------------------------------------------------------

#[test]
fn unknown_and_lifecycle_only_events_write_nothing() {
    let mut s = ChatStream::new("m", 1, true);
    let (f, steps) = run(
        &mut s,
        &[
            json!({"type": "response.web_search_call.searching", "item_id": "ws_1"}),
            json!({"type": "response.content_part.added", "item_id": "msg_1", "part": {"type": "output_text", "text": ""}}),
            json!({"type": "response.output_text.done", "item_id": "msg_1", "text": "full"}),
            json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": "{}"}),
            json!({"type": "response.something_new", "delta": "should not appear"}),
            json!({"type": "codex.rate_limits", "primary": {"used_percent": 10}}),
            created("resp_q", "gpt-5.4"),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert!(steps.iter().all(|s| *s == Step::Continue));
}

#[test]
fn malformed_event_json_is_ignored() {
    let mut s = ChatStream::new("m", 1, false);
    let mut out = BytesMut::new();
    for bad in [
        "",
        "not json",
        "{\"delta\":\"no type\"}",
        "[1,2]",
        "{\"type\":",
    ] {
        assert_eq!(s.push(bad, &mut out), Step::Continue, "{bad:?}");
    }
    assert!(out.is_empty());
    assert_eq!(s.push(&text("ok").to_string(), &mut out), Step::Continue);
    assert_eq!(concat(&frames(&out), "content"), "ok");
}

#[test]
fn the_cached_prefix_frames_byte_for_byte_like_serde() {
    let mut s = ChatStream::new("gpt-5.4 \"quoted\"", 1_700_000_000, false);
    s.id = "chatcmpl-é\u{1}".into();
    s.build_prefix();
    let deltas = [
        (
            Delta {
                content: Some("a \"b\"\n\u{2028}"),
                ..Delta::default()
            },
            None,
        ),
        (
            Delta {
                reasoning_content: Some("think"),
                ..Delta::default()
            },
            None,
        ),
        (Delta::default(), Some("tool_calls")),
    ];
    for (delta, finish) in deltas {
        let mut fast = BytesMut::new();
        s.choice(
            &mut fast,
            Delta {
                ..delta_clone(&delta)
            },
            finish,
        );
        let mut slow = BytesMut::new();
        let choice = Choice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason: finish,
        };
        s.frame(&mut slow, Some(choice), None);
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow)
        );
    }
}

fn delta_clone<'a>(d: &Delta<'a>) -> Delta<'a> {
    Delta {
        role: d.role,
        content: d.content,
        reasoning_content: d.reasoning_content,
        refusal: d.refusal,
        tool_calls: None,
    }
}
