//! Each limit: a body at the limit passes, one entry more is refused naming
//! the field.

use super::*;

/// `n` copies of `item`, comma-separated.
fn many(item: &str, n: usize) -> String {
    vec![item; n].join(",")
}

fn refused(body: &str, shape: &Shape) -> Invalid {
    match check(body.as_bytes(), shape) {
        Ok(()) => panic!("expected a refusal of a {}-byte body", body.len()),
        Err(e) => e,
    }
}

fn passes(body: &str, shape: &Shape) {
    if let Err(e) = check(body.as_bytes(), shape) {
        panic!("expected the body to pass, got {e:?}");
    }
}

fn assert_names(e: &Invalid, param: &str, says: &str) {
    assert_eq!(e.param.as_deref(), Some(param), "{e:?}");
    assert_eq!(e.code, "invalid_request_error");
    assert!(e.message.contains(says), "{:?} lacks {says:?}", e.message);
}

fn chat_messages(messages: &str) -> String {
    format!(r#"{{"model":"m","messages":[{messages}]}}"#)
}

const USER: &str = r#"{"role":"user","content":"hi"}"#;
const PART: &str = r#"{"type":"text","text":""}"#;

#[test]
fn messages_and_input_items_are_counted() {
    passes(&chat_messages(&many(USER, MAX_ITEMS)), &CHAT);
    let e = refused(&chat_messages(&many(USER, MAX_ITEMS + 1)), &CHAT);
    assert_names(&e, "messages", "more than 10000 messages");

    let input = |n| format!(r#"{{"model":"m","input":[{}]}}"#, many("{}", n));
    passes(&input(MAX_ITEMS), &RESPONSES);
    let e = refused(&input(MAX_ITEMS + 1), &RESPONSES);
    assert_names(&e, "input", "more than 10000 items");
}

#[test]
fn parts_of_one_message_are_counted_per_array() {
    let with_parts = |n| {
        let m = format!(r#"{{"role":"user","content":[{}]}}"#, many(PART, n));
        chat_messages(&format!("{USER},{USER},{USER},{m}"))
    };
    passes(&with_parts(MAX_PARTS_PER_ITEM), &CHAT);
    let e = refused(&with_parts(MAX_PARTS_PER_ITEM + 1), &CHAT);
    assert_names(
        &e,
        "messages[3].content",
        "one message may hold at most 10000",
    );

    let call = r#"{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}"#;
    let with_calls = |n| {
        chat_messages(&format!(
            r#"{{"role":"assistant","content":"x","tool_calls":[{}]}}"#,
            many(call, n)
        ))
    };
    passes(&with_calls(MAX_PARTS_PER_ITEM), &CHAT);
    let e = refused(&with_calls(MAX_PARTS_PER_ITEM + 1), &CHAT);
    assert_names(&e, "messages[0].tool_calls", "more than 10000 entries");

    let input = |n| {
        format!(
            r#"{{"input":[{{}},{{}},{{"type":"message","content":[{}]}}]}}"#,
            many(PART, n)
        )
    };
    passes(&input(MAX_PARTS_PER_ITEM), &RESPONSES);
    let e = refused(&input(MAX_PARTS_PER_ITEM + 1), &RESPONSES);
    assert_names(&e, "input[2].content", "one item may hold at most 10000");
}

#[test]
fn parts_of_all_messages_are_counted_together() {
    let full = format!(r#"{{"role":"user","content":[{}]}}"#, many(PART, 10_000));
    let ten = many(&full, MAX_PARTS / 10_000);
    passes(&chat_messages(&ten), &CHAT);
    let e = refused(&chat_messages(&format!("{ten},{USER},{full}")), &CHAT);
    assert_names(
        &e,
        "messages[11].content",
        "content and tool_calls hold more than 100000 entries in all",
    );
    // A content string is one value, not parts.
    passes(&chat_messages(&many(USER, 100)), &CHAT);
}

#[test]
fn tools_are_counted() {
    let tool = r#"{"type":"function","function":{"name":"f"}}"#;
    let body = |n| {
        format!(
            r#"{{"model":"m","messages":[],"tools":[{}]}}"#,
            many(tool, n)
        )
    };
    passes(&body(MAX_TOOLS), &CHAT);
    assert_names(
        &refused(&body(MAX_TOOLS + 1), &CHAT),
        "tools",
        "more than 1024 tools",
    );
    let body = |n| format!(r#"{{"input":"hi","tools":[{}]}}"#, many(tool, n));
    passes(&body(MAX_TOOLS), &RESPONSES);
    assert_names(
        &refused(&body(MAX_TOOLS + 1), &RESPONSES),
        "tools",
        "more than 1024",
    );
}

#[test]
fn objects_and_values_anywhere_are_counted_naming_the_top_level_key() {
    // The root is one object: MAX_OBJECTS - 1 more fit.
    let objects = |n| format!(r#"{{"model":"m","metadata":[{}]}}"#, many(r#"{"a":1}"#, n));
    passes(&objects(MAX_OBJECTS - 1), &CHAT);
    let e = refused(&objects(MAX_OBJECTS), &RESPONSES);
    assert_names(&e, "metadata", "more than 150000 JSON objects");

    // The root and the array are two values: MAX_VALUES - 2 more fit.
    let values = |n| format!(r#"{{"x":[{}]}}"#, many("0", n));
    passes(&values(MAX_VALUES - 2), &CHAT);
    let e = refused(&values(MAX_VALUES - 1), &CHAT);
    assert_names(&e, "x", "more than 1000000 JSON values");

    // Nested junk inside a part counts too, and a long key is named cut.
    let key = "k".repeat(1000);
    let e = refused(
        &format!(r#"{{"{key}":[{}]}}"#, many("[]", MAX_VALUES)),
        &CHAT,
    );
    assert_eq!(e.param.as_deref().map(str::len), Some(100));
    assert!(e.message.len() < 400, "{}", e.message);

    // A top-level array has no key to name.
    let e = refused(&format!("[{}]", many("{}", MAX_OBJECTS + 1)), &CHAT);
    assert_eq!(e.param, None);
}

#[test]
fn syntax_errors_are_left_to_the_parser() {
    for body in ["", "not json", "{\"model\": ", "{,}", "[1,2"] {
        passes(body, &CHAT);
    }
    // …unless a limit was passed before the error.
    let body = chat_messages(&many(USER, MAX_ITEMS + 1));
    let truncated = &body[..body.len() - 2];
    assert_names(&refused(truncated, &CHAT), "messages", "10000");
}

#[test]
fn values_that_are_not_arrays_are_not_counted_as_entries() {
    passes(r#"{"messages":"hi","tools":{},"input":7}"#, &CHAT);
    passes(r#"{"input":{"content":[1,2]}}"#, &RESPONSES);
}

#[test]
fn anthropic_messages_and_count_tokens_are_bounded_before_the_parse() {
    let blocks = many(PART, MAX_PARTS_PER_ITEM + 1);
    let body = format!(
        r#"{{"model":"m","max_tokens":1,"messages":[{{"role":"user","content":[{blocks}]}}]}}"#
    );
    let e = refused(&body, &MESSAGES);
    assert_names(&e, "messages[0].content", "");
    let e = crate::translate::anthropic::MessagesRequest::parse(body.as_bytes()).err();
    assert_eq!(
        e.and_then(|e| e.param).as_deref(),
        Some("messages[0].content")
    );
    let e = crate::translate::anthropic::estimate_input_tokens(body.as_bytes()).err();
    assert_eq!(
        e.and_then(|e| e.param).as_deref(),
        Some("messages[0].content")
    );
}
