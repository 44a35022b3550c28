//! Assistant turns, tool results and roles.

use super::*;

// ---- assistant -------------------------------------------------------------

#[test]
fn assistant_text_and_parts_become_output_text() {
    let t = ok(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "plain"},
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "output_text", "text": "b"}]},
    ])));
    assert_eq!(
        input(&t)[1],
        json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "plain"}]})
    );
    assert_eq!(
        input(&t)[2],
        json!({"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "a"}, {"type": "output_text", "text": "b"}]})
    );
}

#[test]
fn assistant_refusal_field_and_refusal_parts_become_refusal_content() {
    let t = ok(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": null, "refusal": "I can't help with that."},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        {"role": "assistant", "content": "partial", "refusal": "but no"},
    ])));
    assert_eq!(
        input(&t)[1]["content"],
        json!([{"type": "refusal", "refusal": "I can't help with that."}])
    );
    assert_eq!(
        input(&t)[2]["content"],
        json!([{"type": "refusal", "refusal": "No."}])
    );
    assert_eq!(
        input(&t)[3]["content"],
        json!([{"type": "output_text", "text": "partial"}, {"type": "refusal", "refusal": "but no"}])
    );
}

#[test]
fn assistant_with_nothing_to_say_adds_no_item() {
    let t = ok(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": null, "refusal": ""},
        {"role": "assistant"},
        {"role": "user", "content": "again"},
    ])));
    assert_eq!(input(&t).len(), 2);
    assert_eq!(input(&t)[1]["content"][0]["text"], "again");
}

#[test]
fn assistant_with_a_non_text_part_is_refused() {
    let e = err(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "image_url", "image_url": "https://x/y.png"}]},
    ])));
    assert_invalid(&e, "messages[1].content[0]", "invalid_request_error");
    let e = err(messages(
        json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": 3}]),
    ));
    assert_invalid(&e, "messages[1].content", "invalid_request_error");
}

#[test]
fn assistant_tool_calls_become_function_calls_with_the_same_call_id_and_string_arguments() {
    let t = ok(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
            {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": {"y": [1, 2], "z": "s"}}},
            {"id": "call_c", "function": {"name": "h"}},
            {"id": "call_d", "type": "function", "function": {"name": "k", "arguments": null}},
        ]},
    ])));
    assert_eq!(
        &input(&t)[1..],
        &[
            json!({"type": "function_call", "call_id": "call_a", "name": "f", "arguments": "{\"x\":1}"}),
            json!({"type": "function_call", "call_id": "call_b", "name": "g", "arguments": "{\"y\":[1,2],\"z\":\"s\"}"}),
            json!({"type": "function_call", "call_id": "call_c", "name": "h", "arguments": "{}"}),
            json!({"type": "function_call", "call_id": "call_d", "name": "k", "arguments": "{}"}),
        ]
    );
    for item in &input(&t)[1..] {
        assert!(item["arguments"].is_string(), "{item}");
        let parsed: Value = serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap();
        assert!(parsed.is_object());
    }
}

#[test]
fn assistant_text_comes_before_its_tool_calls() {
    let t = ok(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "calling", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
    ])));
    let kinds: Vec<&str> = input(&t)
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "function_call",
            "function_call_output"
        ]
    );
    assert_eq!(input(&t)[1]["role"], "assistant");
}

#[test]
fn malformed_tool_calls_are_refused_naming_the_field() {
    let cases = [
        (
            json!({"type": "function", "function": {"name": "f"}}),
            "messages[1].tool_calls[0].id",
        ),
        (
            json!({"id": 7, "type": "function", "function": {"name": "f"}}),
            "messages[1].tool_calls[0].id",
        ),
        (
            json!({"id": "c", "type": "function"}),
            "messages[1].tool_calls[0].function",
        ),
        (
            json!({"id": "c", "type": "function", "function": {"arguments": "{}"}}),
            "messages[1].tool_calls[0].function.name",
        ),
        (
            json!({"id": "c", "type": "mystery"}),
            "messages[1].tool_calls[0].type",
        ),
    ];
    for (call, param) in cases {
        let e = err(messages(json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [call.clone()]},
        ])));
        assert_invalid(&e, param, "invalid_request_error");
    }
}

// ---- tool results ------------------------------------------------------------

#[test]
fn tool_messages_become_function_call_output_with_string_or_joined_parts() {
    let t = ok(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "out one"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "out "}, {"type": "text", "text": "two"}]},
        {"role": "tool", "tool_call_id": "c3", "content": null},
    ])));
    assert_eq!(
        &input(&t)[3..],
        &[
            json!({"type": "function_call_output", "call_id": "c1", "output": "out one"}),
            json!({"type": "function_call_output", "call_id": "c2", "output": "out two"}),
            json!({"type": "function_call_output", "call_id": "c3", "output": ""}),
        ]
    );
}

#[test]
fn custom_tool_calls_and_their_outputs_keep_the_custom_kind() {
    let t = ok(messages(json!([
        {"role": "user", "content": "patch it"},
        {"role": "assistant", "tool_calls": [
            {"id": "cp", "type": "custom", "custom": {"name": "apply_patch", "input": "*** Begin Patch"}},
            {"id": "cf", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "cf", "content": "fn out"},
        {"role": "tool", "tool_call_id": "cp", "content": "patched"},
    ])));
    assert_eq!(
        &input(&t)[1..],
        &[
            json!({"type": "custom_tool_call", "call_id": "cp", "name": "apply_patch", "input": "*** Begin Patch"}),
            json!({"type": "function_call", "call_id": "cf", "name": "f", "arguments": "{}"}),
            json!({"type": "function_call_output", "call_id": "cf", "output": "fn out"}),
            json!({"type": "custom_tool_call_output", "call_id": "cp", "output": "patched"}),
        ]
    );
}

#[test]
fn tool_message_without_tool_call_id_names_the_field() {
    for msg in [
        json!({"role": "tool", "content": "x"}),
        json!({"role": "tool", "tool_call_id": "", "content": "x"}),
        json!({"role": "tool", "tool_call_id": null, "content": "x"}),
    ] {
        let e = err(messages(
            json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, msg.clone()]),
        ));
        assert_invalid(&e, "messages[2].tool_call_id", "invalid_request_error");
        assert!(
            e.message.contains("messages[2].tool_call_id"),
            "{}",
            e.message
        );
    }
}

#[test]
fn tool_message_with_non_text_content_is_refused() {
    let e = err(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "tool", "tool_call_id": "c", "content": [{"type": "image_url", "image_url": "https://x/y.png"}]},
    ])));
    assert_invalid(&e, "messages[1].content[0]", "invalid_request_error");
}

// ---- roles -------------------------------------------------------------------

#[test]
fn unknown_and_deprecated_roles_name_the_role_field() {
    let e = err(messages(
        json!([{"role": "user", "content": "q"}, {"role": "robot", "content": "x"}]),
    ));
    assert_invalid(&e, "messages[1].role", "invalid_request_error");
    assert!(e.message.contains("robot"), "{}", e.message);
    let e = err(messages(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "function", "name": "f", "content": "x"},
    ])));
    assert_invalid(&e, "messages[2].role", "invalid_request_error");
}
