//! Refused and unsupported parameters, and parse errors.

use super::*;

// ---- refused and unsupported parameters ------------------------------------

#[test]
fn refused_sampling_and_limit_parameters_are_dropped() {
    let t = ok(with(json!({
        "temperature": 0.7, "top_p": 0.5, "max_tokens": 10, "max_completion_tokens": 20,
        "presence_penalty": 0.5, "frequency_penalty": 0.5, "seed": 42, "user": "alice",
        "metadata": {"a": "b"}, "stop": ["END"], "logit_bias": {"1": 2},
        "max_output_tokens": 5, "truncation": "auto", "previous_response_id": "resp_x",
        "prompt_cache_retention": "24h", "safety_identifier": "s", "background": false,
        "conversation": "c", "service_tier": "flex",
        "n": 1, "logprobs": false, "top_logprobs": 0, "stream_options": {"include_usage": false},
    })));
    let body = t.body.as_object().unwrap();
    for p in REFUSED_PARAMS {
        assert!(!body.contains_key(*p), "{p} was forwarded: {}", t.body);
    }
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "include",
            "input",
            "instructions",
            "model",
            "parallel_tool_calls",
            "prompt_cache_key",
            "reasoning",
            "store",
            "stream",
            "tool_choice",
        ]
    );
}

#[test]
fn several_choices_are_an_unsupported_parameter() {
    let e = err(with(json!({"n": 2})));
    assert_invalid(&e, "n", "unsupported_parameter");
    assert!(translate(with(json!({"n": 1}))).is_ok());
    assert!(translate(with(json!({"n": null}))).is_ok());
}

#[test]
fn logprobs_are_an_unsupported_parameter() {
    let e = err(with(json!({"logprobs": true})));
    assert_invalid(&e, "logprobs", "unsupported_parameter");
    let e = err(with(json!({"logprobs": true, "top_logprobs": 3})));
    assert_invalid(&e, "logprobs", "unsupported_parameter");
    assert!(translate(with(json!({"logprobs": false, "top_logprobs": 0}))).is_ok());
}

#[test]
fn top_logprobs_alone_names_top_logprobs() {
    let e = err(with(json!({"top_logprobs": 3})));
    assert_invalid(&e, "top_logprobs", "unsupported_parameter");
}

#[test]
fn audio_output_is_an_unsupported_parameter() {
    let e = err(with(json!({"audio": {"voice": "alloy", "format": "mp3"}})));
    assert_invalid(&e, "audio", "unsupported_parameter");
    assert!(translate(with(json!({"audio": null}))).is_ok());
    assert!(translate(with(json!({"modalities": ["text"]}))).is_ok());
    let e = err(with(
        json!({"modalities": ["text", "audio"], "audio": {"voice": "alloy"}}),
    ));
    assert_eq!(e.code, "unsupported_parameter");
}

#[test]
fn audio_modality_alone_names_modalities() {
    let e = err(with(json!({"modalities": ["text", "audio"]})));
    assert_invalid(&e, "modalities", "unsupported_parameter");
}

#[test]
fn deprecated_functions_parameter_is_refused() {
    let e = err(with(
        json!({"functions": [{"name": "f", "parameters": {}}], "function_call": "auto"}),
    ));
    assert_invalid(&e, "functions", "invalid_request_error");
    assert!(e.message.contains("tools"), "{}", e.message);
    assert!(translate(with(json!({"functions": null}))).is_ok());
}

// ---- parse errors -------------------------------------------------------------

#[test]
fn malformed_json_is_invalid_json_without_a_param() {
    for body in [
        &b"{\"model\": \"m\", \"messages\": ["[..],
        b"",
        b"not json",
        b"{\"model\": 'm'}",
        b"{,}",
    ] {
        let e = parse_err(body);
        assert_eq!(
            e.code,
            "invalid_json",
            "{e:?} for {}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(e.param, None);
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
    }
}

#[test]
fn trailing_garbage_after_the_json_is_invalid_json() {
    let body = br#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]} trailing"#;
    let e = parse_err(body);
    assert_eq!(e.code, "invalid_json");
}

#[test]
fn wrong_types_name_the_field() {
    let cases = [
        (json!({"model": "m", "messages": "hi"}), "messages"),
        (
            json!({"model": "m", "messages": {"role": "user"}}),
            "messages",
        ),
        (
            json!({"model": 5, "messages": [{"role": "user", "content": "hi"}]}),
            "model",
        ),
        (
            json!({"model": "m", "messages": [{"role": 1, "content": "hi"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}, 7]}),
            "messages[1]",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}),
            "stream",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": {}}),
            "tools",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": -1}),
            "n",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": 1}}),
            "stream_options.include_usage",
        ),
    ];
    for (body, param) in cases {
        let e = parse_err(body.to_string().as_bytes());
        assert_invalid(&e, param, "invalid_request_error");
        assert!(
            e.message.contains(param),
            "{} should name {param}",
            e.message
        );
    }
}

#[test]
fn content_of_the_wrong_type_is_refused_at_translation_naming_the_content() {
    let e = err(messages(
        json!([{"role": "system", "content": 1}, {"role": "user", "content": "x"}]),
    ));
    assert_invalid(&e, "messages[0].content", "invalid_request_error");
    let e = err(messages(
        json!([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c", "content": {}}]),
    ));
    assert_invalid(&e, "messages[1].content", "invalid_request_error");
}

#[test]
fn missing_required_fields_are_named_in_the_message() {
    let e = parse_err(br#"{"messages": []}"#);
    assert_eq!(e.code, "invalid_request_error");
    assert!(e.message.contains("model"), "{}", e.message);
    let e = parse_err(br#"{"model": "m"}"#);
    assert!(e.message.contains("messages"), "{}", e.message);
    let e = parse_err(br#"{"model": "m", "messages": [{"content": "x"}]}"#);
    assert!(e.message.contains("role"), "{}", e.message);
}

#[test]
fn empty_messages_or_model_are_refused() {
    let e = err(json!({"model": "m", "messages": []}));
    assert_invalid(&e, "messages", "invalid_request_error");
    let e = err(json!({"model": "  ", "messages": [{"role": "user", "content": "hi"}]}));
    assert_invalid(&e, "model", "invalid_request_error");
}
