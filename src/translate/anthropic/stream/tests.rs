//! Golden tests for the Messages stream converter: upstream events in,
//! Anthropic events out (name and data), frame by frame.

use bytes::BytesMut;
use serde_json::{json, Value};

use super::*;
use crate::translate::convert::feed;
use crate::upstream::Failure;

/// Feeds events; returns every frame as (event name, data) and the last step.
fn run(shape: Shape, events: &[Value]) -> (Vec<(String, Value)>, Step) {
    let mut s = MessagesStream::new("asked", shape);
    let mut out = BytesMut::new();
    let mut step = Step::Continue;
    for e in events {
        step = feed(&mut s, &e.to_string(), &mut out);
        if step == Step::Done {
            // The relay stops reading here.
            break;
        }
    }
    let text = String::from_utf8(out.to_vec()).unwrap();
    let frames = text
        .split("\n\n")
        .filter(|b| !b.is_empty())
        .map(|b| {
            let mut lines = b.lines();
            let name = lines
                .next()
                .and_then(|l| l.strip_prefix("event: "))
                .unwrap()
                .to_string();
            let data = lines.next().and_then(|l| l.strip_prefix("data: ")).unwrap();
            let v: Value = serde_json::from_str(data).unwrap();
            assert_eq!(
                v["type"],
                name.as_str(),
                "the event line names the data's type"
            );
            (name, v)
        })
        .collect();
    (frames, step)
}

fn names(frames: &[(String, Value)]) -> Vec<&str> {
    frames.iter().map(|(n, _)| n.as_str()).collect()
}

fn created() -> Value {
    json!({"type": "response.created", "response": {"id": "resp_7", "model": "gpt-5.4"}})
}

fn completed() -> Value {
    json!({"type": "response.completed", "response": {"id": "resp_7", "model": "gpt-5.4",
        "usage": {"input_tokens": 50, "input_tokens_details": {"cached_tokens": 20}, "output_tokens": 9, "total_tokens": 59}}})
}

#[test]
fn thinking_with_signature_then_text_golden() {
    let (frames, step) = run(
        Shape::default(),
        &[
            created(),
            json!({"type": "response.output_item.added", "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
            json!({"type": "response.reasoning_summary_part.added", "item_id": "rs_1"}),
            json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "Think"}),
            json!({"type": "response.reasoning_summary_part.added", "item_id": "rs_1"}),
            json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "More"}),
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "enc-1"}}),
            json!({"type": "response.output_item.added", "item": {"type": "message", "id": "msg_1"}}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Hel"}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "delta": "lo"}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "Hello"}]}}),
            completed(),
        ],
    );
    assert_eq!(step, Step::Done);
    let golden = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_7", "type": "message", "role": "assistant", "model": "gpt-5.4",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Think"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "\n\n"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "More"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "enc-1"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"input_tokens": 30, "output_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 20}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let got: Vec<(&str, Value)> = frames
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    assert_eq!(got, golden);
}

#[test]
fn tool_use_streams_argument_deltas_or_the_whole_arguments_at_done() {
    let call = |with_deltas: bool| {
        let mut ev = vec![
            created(),
            json!({"type": "response.output_item.added", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "Bash", "arguments": ""}}),
        ];
        if with_deltas {
            ev.push(json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": "{\"command\":"}));
            ev.push(json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": "\"ls\"}"}));
        }
        ev.push(json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "Bash", "arguments": "{\"command\":\"ls\"}"}}));
        ev.push(completed());
        run(Shape::default(), &ev).0
    };
    for with_deltas in [true, false] {
        let frames = call(with_deltas);
        let start = frames
            .iter()
            .find(|(n, _)| n == "content_block_start")
            .unwrap();
        assert_eq!(
            start.1["content_block"],
            json!({"type": "tool_use", "id": "call_9", "name": "Bash", "input": {}})
        );
        let json: String = frames
            .iter()
            .filter_map(|(_, v)| v["delta"]["partial_json"].as_str())
            .collect();
        assert_eq!(json, "{\"command\":\"ls\"}", "with_deltas={with_deltas}");
        let stop = frames.iter().find(|(n, _)| n == "message_delta").unwrap();
        assert_eq!(stop.1["delta"]["stop_reason"], "tool_use");
        assert_eq!(
            names(&frames)[2..],
            ["content_block_start", "content_block_delta"]
                .iter()
                .copied()
                .chain(std::iter::repeat_n(
                    "content_block_delta",
                    usize::from(with_deltas)
                ))
                .chain(["content_block_stop", "message_delta", "message_stop"])
                .collect::<Vec<_>>()[..]
        );
    }
    // A call whose `added` never came is announced at its `done`.
    let (frames, _) = run(
        Shape::default(),
        &[
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "Read", "arguments": "{}"}}),
            completed(),
        ],
    );
    assert_eq!(
        names(&frames),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
}

#[test]
fn a_mid_stream_failure_is_an_error_event() {
    let (frames, step) = run(
        Shape::default(),
        &[
            created(),
            json!({"type": "response.output_text.delta", "delta": "par"}),
            json!({"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}),
        ],
    );
    assert!(matches!(step, Step::Failed(_)));
    let (name, data) = frames.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "overloaded_error");
    assert!(data["error"]["message"].as_str().unwrap().contains("busy"));
    let mut out = BytesMut::new();
    error_frame(&Failure::StreamTruncated, &mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.starts_with("event: error\ndata: {"), "{text}");
    assert!(text.contains("\"type\":\"error\""), "{text}");
    assert!(text.contains("api_error"), "{text}");
}

#[test]
fn a_stop_sequence_across_deltas_cuts_the_text_and_drops_the_rest() {
    let shape = Shape {
        stop_sequences: crate::translate::anthropic::stops::Stops::new(vec!["STOP".into()])
            .unwrap(),
        omit_thinking: false,
    };
    let (frames, step) = run(
        shape,
        &[
            created(),
            json!({"type": "response.output_text.delta", "delta": "ab S"}),
            json!({"type": "response.output_text.delta", "delta": "T"}),
            json!({"type": "response.output_text.delta", "delta": "x ST"}),
            json!({"type": "response.output_text.delta", "delta": "OP after"}),
            json!({"type": "response.output_text.delta", "delta": "more"}),
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc", "call_id": "c", "name": "Bash", "arguments": "{}"}}),
            completed(),
        ],
    );
    assert_eq!(step, Step::Done);
    let text: String = frames
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "ab STx ");
    assert!(!frames
        .iter()
        .any(|(_, v)| v["content_block"]["type"] == "tool_use"));
    let delta = frames.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(
        delta.1["delta"],
        json!({"stop_reason": "stop_sequence", "stop_sequence": "STOP"})
    );
    assert_eq!(
        frames.last().map(|f| f.0.as_str()),
        Some("message_stop"),
        "the message ends at the match, without waiting for upstream"
    );
    // Held-back text that never became a stop sequence is sent when the block ends.
    let shape = Shape {
        stop_sequences: crate::translate::anthropic::stops::Stops::new(vec!["STOP".into()])
            .unwrap(),
        omit_thinking: false,
    };
    let (frames, _) = run(
        shape,
        &[
            json!({"type": "response.output_text.delta", "delta": "end ST"}),
            completed(),
        ],
    );
    let text: String = frames
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "end ST");
}

#[test]
fn omitted_thinking_keeps_the_signature_and_incomplete_is_max_tokens() {
    let shape = Shape {
        stop_sequences: Default::default(),
        omit_thinking: true,
    };
    let (frames, _) = run(
        shape,
        &[
            json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs", "delta": "secret"}),
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "secret"}], "encrypted_content": "sig"}}),
            json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}),
        ],
    );
    assert!(!frames
        .iter()
        .any(|(_, v)| v["delta"]["thinking"].is_string()));
    assert!(frames.iter().any(|(_, v)| v["delta"]["signature"] == "sig"));
    let delta = frames.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "max_tokens");
    // A reasoning item with neither summary nor signature makes no block;
    // message text that came only in `done` is sent whole.
    let (frames, _) = run(
        Shape::default(),
        &[
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "id": "rs", "summary": []}}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "whole"}]}}),
            completed(),
        ],
    );
    assert_eq!(
        names(&frames),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(frames[3].1["delta"]["text"], "whole");
}
