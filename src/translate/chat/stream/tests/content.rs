//! Golden streams; role, content, reasoning and refusal deltas.

use super::*;

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
    let step = feed(
        &mut s,
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
