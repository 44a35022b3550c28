//! Golden tests for the Messages request translation and the token estimate.

use serde_json::{json, Value};

use super::*;
use crate::translate::anthropic::estimate_input_tokens;

fn translate(body: Value) -> Result<(Upstream, Shape), Invalid> {
    MessagesRequest::parse(body.to_string().as_bytes())?
        .into_responses(None, "seed")
        .map(|(up, shape)| (flat(up), shape))
}

/// The translation with its conversation parsed back into `body` (and the
/// bytes checked to be that same JSON).
fn flat(mut up: Upstream) -> Upstream {
    let bytes = up.to_bytes().unwrap();
    up.body = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(up.body, up.full_body());
    up.input = crate::translate::Input::default();
    up
}

fn ok(body: Value) -> (Upstream, Shape) {
    translate(body).unwrap_or_else(|e| panic!("{e:?}"))
}

fn err(body: Value) -> Invalid {
    match translate(body) {
        Ok((up, _)) => panic!("translated: {}", up.body),
        Err(e) => e,
    }
}

#[test]
fn a_full_request_translates_to_the_golden_body() {
    let (up, shape) = ok(json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "temperature": 0.5, "top_k": 5, "top_p": 0.9,
        "stream": true, "stop_sequences": ["STOP", ""],
        "metadata": {"user_id": "{\"device_id\":\"d\",\"session_id\":\"sess-1\"}"},
        "context_management": {"edits": []},
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "Use tools."}],
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "tools": [
            {"name": "Bash", "description": "Run a command", "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3, "allowed_domains": ["example.com"]}
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Look at these"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Let me check.", "signature": "enc-blob-1"},
                {"type": "thinking", "thinking": "unsigned", "signature": ""},
                {"type": "text", "text": "Running ls."},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt\nb.txt"},
                {"type": "text", "text": "Go on"}
            ]},
            {"role": "system", "content": "Mid-conversation note."},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {"command": "false"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                "content": [{"type": "text", "text": "exit 1"}]}]}
        ]
    }));
    assert_eq!(up.model, "claude-sonnet-4-5");
    assert!(up.stream);
    assert_eq!(up.session_id, "sess-1");
    assert_eq!(
        shape,
        Shape {
            stop_sequences: crate::translate::anthropic::stops::Stops::new(vec!["STOP".into()])
                .unwrap(),
            omit_thinking: false
        }
    );
    let golden = json!({
        "model": "claude-sonnet-4-5",
        "instructions": "Be brief.\n\nUse tools.",
        "input": [
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Look at these"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto"},
                {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "auto"}
            ]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Let me check."}], "encrypted_content": "enc-blob-1"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Running ls."}]},
            {"type": "function_call", "call_id": "toolu_1", "name": "Bash", "arguments": "{\"command\":\"ls\"}"},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "a.txt\nb.txt"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Go on"}]},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Mid-conversation note."}]},
            {"type": "function_call", "call_id": "toolu_2", "name": "Bash", "arguments": "{\"command\":\"false\"}"},
            {"type": "function_call_output", "call_id": "toolu_2", "output": "Error: exit 1"}
        ],
        "tools": [
            {"type": "function", "name": "Bash", "description": "Run a command", "strict": false,
             "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
            {"type": "web_search", "filters": {"allowed_domains": ["example.com"]}}
        ],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "sess-1"
    });
    assert_eq!(up.body, golden);
}

#[test]
fn effort_comes_from_output_config_then_the_thinking_budget() {
    let base = |extra: Value| {
        let mut b = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        if let (Some(o), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        ok(b).0.body["reasoning"].clone()
    };
    assert_eq!(base(json!({})), json!({"summary": "auto"}));
    for (budget, effort) in [
        (1024, "low"),
        (4000, "low"),
        (4096, "medium"),
        (10000, "medium"),
        (16384, "high"),
        (31999, "high"),
    ] {
        let r = base(json!({"thinking": {"type": "enabled", "budget_tokens": budget}}));
        assert_eq!(r["effort"], effort, "{budget}");
    }
    let r = base(
        json!({"thinking": {"type": "enabled", "budget_tokens": 2000}, "output_config": {"effort": "high"}}),
    );
    assert_eq!(r["effort"], "high");
    assert_eq!(
        base(json!({"thinking": {"type": "adaptive", "display": "omitted"}})),
        json!({"summary": "auto"})
    );
    assert_eq!(
        base(json!({"thinking": {"type": "disabled"}})),
        json!({"summary": "auto"})
    );
    let (_, shape) = ok(
        json!({"model": "m", "thinking": {"type": "adaptive", "display": "omitted"}, "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert!(shape.omit_thinking);
    let e = err(
        json!({"model": "m", "output_config": {"effort": "extreme"}, "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(e.param.as_deref(), Some("output_config.effort"));
}

#[test]
fn documents_redacted_thinking_and_tool_result_images() {
    let (up, _) = ok(json!({"model": "m", "messages": [
        {"role": "user", "content": [
            {"type": "document", "title": "spec.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}},
            {"type": "document", "title": "notes", "source": {"type": "text", "media_type": "text/plain", "data": "line"}}
        ]},
        {"role": "assistant", "content": [
            {"type": "redacted_thinking", "data": "enc-2"},
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {}}
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "text", "text": "the image:"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j"}}
        ]}]}
    ]}));
    let input = &up.body["input"];
    assert_eq!(
        input[0]["content"][0],
        json!({"type": "input_file", "filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBER"})
    );
    assert_eq!(
        input[0]["content"][1],
        json!({"type": "input_text", "text": "notes\n\nline"})
    );
    assert_eq!(
        input[1],
        json!({"type": "reasoning", "summary": [], "encrypted_content": "enc-2"})
    );
    assert_eq!(input[2]["arguments"], "{}");
    assert_eq!(
        input[3]["output"],
        json!([
            {"type": "input_text", "text": "the image:"},
            {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j", "detail": "auto"}
        ])
    );
    assert_eq!(up.body["instructions"], "");
    assert_eq!(up.body["tool_choice"], "auto");
    assert_eq!(up.body["parallel_tool_calls"], true);
}

#[test]
fn tool_choice_forms() {
    let choice = |c: Value| {
        let b =
            json!({"model": "m", "tool_choice": c, "messages": [{"role": "user", "content": "x"}]});
        ok(b).0.body["tool_choice"].clone()
    };
    assert_eq!(choice(json!({"type": "auto"})), "auto");
    assert_eq!(choice(json!({"type": "none"})), "none");
    assert_eq!(
        choice(json!({"type": "tool", "name": "Bash"})),
        json!({"type": "function", "name": "Bash"})
    );
    let e = err(
        json!({"model": "m", "tool_choice": {"type": "sometimes"}, "messages": [{"role": "user", "content": "x"}]}),
    );
    assert_eq!(e.param.as_deref(), Some("tool_choice.type"));
}

#[test]
fn what_the_backend_cannot_do_is_a_clear_400() {
    let msgs = json!([{"role": "user", "content": "x"}]);
    let e = err(
        json!({"model": "m", "messages": msgs, "tools": [{"type": "bash_20250124", "name": "bash"}]}),
    );
    assert_eq!(e.code, "unsupported_parameter");
    assert_eq!(e.param.as_deref(), Some("tools[0].type"));
    assert!(
        e.message.contains("\"bash\"") && e.message.contains("bash_20250124"),
        "{}",
        e.message
    );
    let e = err(json!({"model": "m", "messages": msgs, "mcp_servers": [{"type": "url"}]}));
    assert_eq!(e.param.as_deref(), Some("mcp_servers"));
    let e = err(
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}),
    );
    assert_eq!(
        e.param.as_deref(),
        Some("messages[0].content[0].source.type")
    );
    let e = err(
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "container_upload"}]}]}),
    );
    assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
    let e = err(json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}));
    assert_eq!(e.param.as_deref(), Some("messages[0].role"));
    assert_eq!(
        err(json!({"model": "m", "messages": []})).param.as_deref(),
        Some("messages")
    );
    assert_eq!(
        err(json!({"model": " ", "messages": msgs}))
            .param
            .as_deref(),
        Some("model")
    );
    let e = MessagesRequest::parse(b"{\"model\": 1}")
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("model"));
    assert_eq!(
        MessagesRequest::parse(b"{nope")
            .map(|_| ())
            .unwrap_err()
            .code,
        "invalid_json"
    );
}

#[test]
fn a_type_error_quotes_at_most_100_bytes_of_the_value_as_chat_does() {
    let long = "z".repeat(10_000);
    let body = json!({"model": "m", "stream": long, "messages": []});
    let e = MessagesRequest::parse(body.to_string().as_bytes())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("stream"));
    assert!(e.message.len() < 300, "{}", e.message);
    assert!(e.message.contains("expected a boolean"), "{}", e.message);
}

#[test]
fn a_plain_user_id_is_the_session_and_the_claude_header_is_the_fallback() {
    let b = json!({"model": "m", "metadata": {"user_id": "user-42"}, "messages": [{"role": "user", "content": "x"}]});
    let (up, _) = MessagesRequest::parse(b.to_string().as_bytes())
        .unwrap()
        .into_responses(Some("hdr"), "s")
        .unwrap();
    assert_eq!(up.session_id, "user-42");
    let b = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    let (up, _) = MessagesRequest::parse(b.to_string().as_bytes())
        .unwrap()
        .into_responses(Some("hdr"), "s")
        .unwrap();
    assert_eq!(up.session_id, "hdr");
}

#[test]
fn count_tokens_is_four_bytes_a_token_plus_media() {
    let body = json!({"model": "m", "system": "abcd", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "12345678"}, {"type": "image", "source": {}}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {"a": 1}}]}
    ]});
    // 4 + 8 + len({"a":1}) = 7 → 19 bytes → 5 tokens, + 1600 for the image.
    assert_eq!(estimate_input_tokens(body.to_string().as_bytes()), Ok(1605));
    assert!(estimate_input_tokens(b"{}").is_err());
}

#[test]
fn contents_as_strings_go_upstream_as_the_client_wrote_them_and_other_types_are_named() {
    // Strings with and without escapes among block arrays: each string's
    // literal is copied as written (`\/`, `\u00e9` kept), in its message.
    let body = r#"{"model":"m","messages":[
        {"role":"user","content":"plain café / x"},
        {"role":"assistant","content":[{"type":"text","text":"a\/b"}]},
        {"role":"user","content":"a\nb \u00e9 \/ \"q\""},
        {"role":"system","content":"s\t"},
        {"role":"user","content":[{"type":"text","text":"x"},{"type":"tool_result","tool_use_id":"t","content":"o\u0041"}]},
        {"role":"assistant","content":"done"}]}"#;
    let (up, _) = MessagesRequest::parse(body.as_bytes())
        .unwrap()
        .into_responses(None, "seed")
        .unwrap();
    let items: Vec<&str> = up
        .input
        .items()
        .map(|i| std::str::from_utf8(i).unwrap())
        .collect();
    assert_eq!(
        items,
        [
            r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"plain café / x"}]}"#,
            r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"a\/b"}]}"#,
            r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"a\nb \u00e9 \/ \"q\""}]}"#,
            r#"{"type":"message","role":"developer","content":[{"type":"input_text","text":"s\t"}]}"#,
            r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"x"}]}"#,
            r#"{"type":"function_call_output","call_id":"t","output":"o\u0041"}"#,
            r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"done"}]}"#,
        ]
    );
    // Only strings without escapes: read once.
    let plain = r#"{"model":"m","messages":[{"role":"user","content":"café"},{"role":"assistant","content":""},{"role":"user","content":"ok"}]}"#;
    let (up, _) = MessagesRequest::parse(plain.as_bytes())
        .unwrap()
        .into_responses(None, "seed")
        .unwrap();
    assert!(String::from_utf8(up.to_bytes().unwrap())
        .unwrap()
        .contains(r#""input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"café"}]},{"type":"message","role":"user","content":[{"type":"input_text","text":"ok"}]}]"#));
    for (content, kind) in [
        (json!(1), "a number"),
        (json!(-1.5), "a number"),
        (json!({"type": "text", "text": "x"}), "an object"),
        (json!(null), "null"),
        (json!(true), "a boolean"),
    ] {
        let e = err(json!({"model": "m", "messages": [
            {"role": "user", "content": "a\nb"},
            {"role": "user", "content": content}
        ]}));
        assert_eq!(e.param.as_deref(), Some("messages[1].content"));
        assert_eq!(
            e.message,
            format!("'messages[1].content' must be a string or an array of blocks, not {kind}")
        );
    }
}
