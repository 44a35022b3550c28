//! The count limits through `ChatRequest::parse`, and error messages that
//! quote at most 100 bytes of what the client sent.

use super::*;
use crate::translate::limits::{MAX_ITEMS, MAX_PARTS_PER_ITEM, MAX_TOOLS};

fn body(messages: &str, extra: &str) -> String {
    format!(r#"{{"model":"gpt-5.4","messages":[{messages}]{extra}}}"#)
}

fn many(item: &str, n: usize) -> String {
    vec![item; n].join(",")
}

const USER: &str = r#"{"role":"user","content":"hi"}"#;

#[test]
fn messages_parts_and_tools_at_the_limit_translate_and_one_more_is_refused() {
    let t = ChatRequest::parse(body(&many(USER, MAX_ITEMS), "").as_bytes())
        .and_then(|c| c.into_responses(None, "seed"))
        .map(flat)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(input(&t).len(), MAX_ITEMS);
    let e = parse_err(body(&many(USER, MAX_ITEMS + 1), "").as_bytes());
    assert_invalid(&e, "messages", "invalid_request_error");

    let parts = |n| {
        let part = r#"{"type":"text","text":"x"}"#;
        body(
            &format!(r#"{USER},{{"role":"user","content":[{}]}}"#, many(part, n)),
            "",
        )
    };
    let t = ChatRequest::parse(parts(MAX_PARTS_PER_ITEM).as_bytes())
        .and_then(|c| c.into_responses(None, "seed"))
        .map(flat)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        t.body["input"][1]["content"].as_array().map(Vec::len),
        Some(MAX_PARTS_PER_ITEM)
    );
    let e = parse_err(parts(MAX_PARTS_PER_ITEM + 1).as_bytes());
    assert_invalid(&e, "messages[1].content", "invalid_request_error");

    let tools = |n| {
        let tool = r#"{"type":"function","function":{"name":"f"}}"#;
        body(USER, &format!(r#","tools":[{}]"#, many(tool, n)))
    };
    assert!(ChatRequest::parse(tools(MAX_TOOLS).as_bytes()).is_ok());
    let e = parse_err(tools(MAX_TOOLS + 1).as_bytes());
    assert_invalid(&e, "tools", "invalid_request_error");
}

#[test]
fn errors_quote_at_most_100_bytes_of_a_client_value() {
    let long = "z".repeat(10_000);
    let cases = [
        with(json!({"verbosity": long})),
        with(json!({"reasoning_effort": long})),
        with(json!({"reasoning": {"summary": long}})),
        with(json!({"tool_choice": long})),
        messages(json!([{"role": long, "content": "x"}])),
        messages(json!([{"role": "user", "content": [{"type": long}]}])),
        messages(json!([{"role": "assistant", "tool_calls": [{"id": "c", "type": long}]}])),
    ];
    for case in cases {
        let e = err(case);
        assert!(
            e.message.len() < 300,
            "{} bytes: {}",
            e.message.len(),
            e.message
        );
        assert!(
            e.message.contains(&format!("\"{}\"…", "z".repeat(100))),
            "{}",
            e.message
        );
    }
    // A short value is quoted whole, as before.
    let e = err(messages(json!([{"role": "wizard", "content": "x"}])));
    assert!(
        e.message.contains("unknown role \"wizard\";"),
        "{}",
        e.message
    );
}

#[test]
fn a_type_error_quoting_a_long_string_is_elided_keeping_what_was_expected() {
    let long = "z".repeat(10_000);
    let e = parse_err(with(json!({"stream": long})).to_string().as_bytes());
    assert_invalid(&e, "stream", "invalid_request_error");
    assert!(e.message.len() < 300, "{}", e.message);
    assert!(e.message.contains("expected a boolean"), "{}", e.message);
    assert!(e.message.contains("bytes elided"), "{}", e.message);
    assert!(e.message.contains(" at line 1 column "), "{}", e.message);
    // A short one is untouched.
    let e = parse_err(with(json!({"stream": "yes"})).to_string().as_bytes());
    assert!(e.message.starts_with("invalid value for 'stream': invalid type: string \"yes\", expected a boolean at line 1 column"), "{}", e.message);
}

#[test]
fn dropped_parameters_are_named_without_being_kept() {
    let body = with(json!({"temperature": 0.2, "metadata": {"a": [1, 2]}})).to_string();
    let c = ChatRequest::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        c.dropped.keys().collect::<Vec<_>>(),
        ["metadata", "temperature"]
    );
}
