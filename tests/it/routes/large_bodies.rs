//! Large conversations on every route: what the gateway only forwards (tool
//! outputs, message text, arguments, encrypted content, images, items it
//! does not know) reaches upstream as the exact bytes the client sent, its
//! own spelling of escapes and spaces included; and bytes that are not JSON
//! deep inside such a part are refused as before, with the message a parse
//! of the whole body gives, before anything goes upstream.

use serde_json::{json, Value};

use crate::support::*;

/// A tool output with code, in a spelling `serde_json` would not write
/// (`\/`, `\u00e9`, a tab escaped as `\u0009`): copied, it stays so.
fn output(i: usize) -> String {
    let line = r#"pub fn run() -> Result<(), Error> { let s = \"caf\u00e9\/\"; Ok(()) }\u0009// \ud83d\ude00\n"#;
    format!("\"{i}: {}\"", line.repeat(80))
}

const BLOB: &str = "\"gAAAAB-encrypted-reasoning\"";
const IMAGE: &str =
    "\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\"";

/// `n` turns of a Responses conversation, each item as the client's text.
fn responses_items(n: usize) -> Vec<String> {
    let mut items = Vec::new();
    for i in 0..n {
        items.push(format!(r#"{{"type":"message","role":"user","content":[{{"type":"input_text","text":"turn {i} \/ go"}}, {{"type":"input_image","image_url":{IMAGE},"detail":"auto"}}]}}"#));
        items.push(format!(
            r#"{{ "type": "reasoning", "summary": [], "encrypted_content": {BLOB} }}"#
        ));
        items.push(format!(r#"{{"type":"function_call","call_id":"c{i}","name":"shell","arguments":"{{\"cmd\": \"ls\"}}"}}"#));
        items.push(format!(
            r#"{{"type":"function_call_output","call_id":"c{i}","output":{}}}"#,
            output(i)
        ));
        items.push(r#"{"type":"future_item","payload":{"z":1,"a":[true,null]}}"#.to_string());
    }
    items
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    std::str::from_utf8(haystack).is_ok_and(|h| h.contains(needle))
}

async fn post_raw(gw: &Gateway, path: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = gw
        .client()
        .post(gw.url(path))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_large_responses_conversation_reaches_upstream_byte_for_byte() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let items = responses_items(150);
    let body = format!(
        r#"{{"model":"gpt-5.4","stream":false,"input":[{}],"temperature":0.2}}"#,
        items.join(", ")
    );
    assert!(body.len() > 1 << 20, "{}", body.len());
    let (status, answer) = post_raw(&gw, "/v1/responses", body.into_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let seen = &mock.responses()[0];
    for item in &items {
        assert!(contains(&seen.raw, item), "not forwarded as sent: {item}");
    }
    assert_eq!(
        seen.body["input"].as_array().map(Vec::len),
        Some(items.len())
    );
    assert_eq!(seen.body["store"], false);
    assert!(seen.body.get("temperature").is_none());
}

#[tokio::test]
async fn a_large_chat_conversation_keeps_the_clients_strings() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let mut messages = vec![r#"{"role":"system","content":"be brief"}"#.to_string()];
    for i in 0..150 {
        messages.push(format!(r#"{{"role":"user","content":[{{"type":"text","text":"turn {i} \/ go"}},{{"type":"image_url","image_url":{{"url":{IMAGE}}}}}]}}"#));
        messages.push(format!(r#"{{"role":"assistant","content":null,"tool_calls":[{{"id":"c{i}","type":"function","function":{{"name":"shell","arguments":"{{\"cmd\": \"ls\"}}"}}}}]}}"#));
        messages.push(format!(
            r#"{{"role":"tool","tool_call_id":"c{i}","content":{}}}"#,
            output(i)
        ));
    }
    let body = format!(
        r#"{{"model":"gpt-5.4","messages":[{}]}}"#,
        messages.join(",")
    );
    assert!(body.len() > 1 << 20);
    let (status, answer) = post_raw(&gw, "/v1/chat/completions", body.into_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let seen = &mock.responses()[0];
    for i in 0..150 {
        let text = format!(r#""text":"turn {i} \/ go""#);
        assert!(contains(&seen.raw, &text), "{text}");
        let out = format!(r#""call_id":"c{i}","output":{}"#, output(i));
        assert!(contains(&seen.raw, &out), "tool output {i} not as sent");
    }
    assert!(contains(&seen.raw, &format!(r#""image_url":{IMAGE}"#)));
    assert!(contains(&seen.raw, r#""arguments":"{\"cmd\": \"ls\"}""#));
    assert_eq!(seen.body["instructions"], "be brief");
    assert_eq!(seen.body["input"].as_array().map(Vec::len), Some(450));
}

#[tokio::test]
async fn a_large_messages_conversation_keeps_the_clients_strings() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let mut messages = Vec::new();
    for i in 0..150 {
        messages.push(format!(r#"{{"role":"user","content":[{{"type":"text","text":"turn {i} \/ go"}},{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"iVBOR{i}"}}}}]}}"#));
        messages.push(format!(r#"{{"role":"assistant","content":[{{"type":"thinking","thinking":"hm","signature":{BLOB}}},{{"type":"tool_use","id":"t{i}","name":"shell","input":{{"cmd": "ls"}}}}]}}"#));
        messages.push(format!(r#"{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"t{i}","content":{}}}]}}"#, output(i)));
    }
    messages.push(r#"{"role":"user","content":"go on"}"#.to_string());
    let body = format!(
        r#"{{"model":"gpt-5.4","max_tokens":100,"messages":[{}]}}"#,
        messages.join(",")
    );
    assert!(body.len() > 1 << 20);
    let (status, answer) = post_raw(&gw, "/v1/messages", body.into_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let seen = &mock.responses()[0];
    for i in 0..150 {
        let out = format!(r#""call_id":"t{i}","output":{}"#, output(i));
        assert!(contains(&seen.raw, &out), "tool result {i} not as sent");
        let image = format!(r#""image_url":"data:image/png;base64,iVBOR{i}""#);
        assert!(contains(&seen.raw, &image), "{image}");
    }
    assert!(contains(
        &seen.raw,
        &format!(r#""encrypted_content":{BLOB}"#)
    ));
    let args = &seen.body["input"][2]["arguments"];
    assert_eq!(
        serde_json::from_str::<Value>(args.as_str().unwrap_or("")).ok(),
        Some(json!({"cmd": "ls"})),
        "{args}"
    );
}

/// A large body with `bad` inside the last tool output.
fn broken(path: &str, bad: &str) -> Vec<u8> {
    let out = format!("\"ok {bad} end\"");
    let body = match path {
        "/v1/responses" => format!(
            r#"{{"model":"gpt-5.4","input":[{},{{"type":"function_call_output","call_id":"c","output":{out}}}]}}"#,
            responses_items(20).join(",")
        ),
        "/v1/chat/completions" => format!(
            r#"{{"model":"gpt-5.4","messages":[{{"role":"user","content":{}}},{{"role":"tool","tool_call_id":"c","content":{out}}}]}}"#,
            output(0)
        ),
        _ => format!(
            r#"{{"model":"gpt-5.4","max_tokens":9,"messages":[{{"role":"user","content":{}}},{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"c","content":{out}}}]}}]}}"#,
            output(0)
        ),
    };
    body.into_bytes()
}

#[tokio::test]
async fn bytes_that_are_not_json_deep_inside_a_forwarded_part_are_refused_as_before() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    // A lone surrogate, invalid UTF-8, a raw control character, a bad escape.
    let bads: [&[u8]; 4] = [br"\ud800", b"\xff\xfe", b"\x01", br"\q"];
    for path in ["/v1/responses", "/v1/chat/completions", "/v1/messages"] {
        for bad in bads {
            let mut body = broken(path, "@@");
            let at = body.windows(2).position(|w| w == b"@@").unwrap();
            body.splice(at..at + 2, bad.iter().copied());
            let expected = format!(
                "the request body is not valid JSON: {}",
                serde_json::from_slice::<Value>(&body).unwrap_err()
            );
            let (status, v) = post_raw(&gw, path, body).await;
            assert_eq!(status, 400, "{path} {bad:?}: {v}");
            let error = &v["error"];
            assert_eq!(error["message"], expected, "{path} {bad:?}");
            if path != "/v1/messages" {
                assert_eq!(error["code"], "invalid_json", "{path}: {v}");
            }
        }
    }
    assert!(mock.responses().is_empty(), "nothing reaches upstream");
}

#[tokio::test]
async fn a_lone_surrogate_in_a_field_the_gateway_drops_is_still_taken() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    // A message's unknown field was skipped unread, never decoded: still so.
    let body =
        br#"{"model":"gpt-5.4","messages":[{"role":"user","content":"hi","name":"\ud800"}]}"#;
    let (status, v) = post_raw(&gw, "/v1/chat/completions", body.to_vec()).await;
    assert_eq!(status, 200, "{v}");
}
