//! Tool calls; created, finish, usage and [DONE].

use super::*;

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
    feed(&mut s, &text("hi").to_string(), &mut out);
    feed(&mut s, &completed().to_string(), &mut out);
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
