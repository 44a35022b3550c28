//! Tools, tool choice, parameters, parse errors and sessions.

use super::*;

#[test]
fn nested_function_tools_are_flattened_with_strict_and_parameters_defaults() {
    let t = ok(with(json!({"tools": [
        {"type": "function", "function": {"name": "a"}},
        {"type": "function", "function": {"name": "b", "description": "d", "strict": null,
            "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
        {"type": "function", "function": {"name": "c", "strict": true, "parameters": {"type": "object"}}},
    ]})));
    assert_eq!(
        t.body["tools"],
        json!([
            {"type": "function", "name": "a", "strict": false, "parameters": {"type": "object", "properties": {}}},
            {"type": "function", "name": "b", "description": "d", "strict": false,
                "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}},
            {"type": "function", "name": "c", "strict": true, "parameters": {"type": "object"}},
        ])
    );
    assert!(t.body["tools"][0].get("function").is_none());
}

#[test]
fn non_function_and_already_flat_tools_pass_through_and_custom_is_flattened() {
    let tools = json!([
        {"type": "web_search", "search_context_size": "low"},
        {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "x"}]},
        {"type": "function", "name": "flat", "parameters": {"type": "object"}},
        {"type": "custom", "custom": {"name": "apply_patch", "description": "patch",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}},
        {"type": "custom", "name": "already_flat"},
    ]);
    let t = ok(with(json!({ "tools": tools })));
    assert_eq!(t.body["tools"][0], tools[0]);
    assert_eq!(t.body["tools"][1], tools[1]);
    assert_eq!(t.body["tools"][2], tools[2]);
    assert_eq!(
        t.body["tools"][3],
        json!({"type": "custom", "name": "apply_patch", "description": "patch",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}})
    );
    assert_eq!(t.body["tools"][4], tools[4]);
}

#[test]
fn no_or_empty_tools_send_no_tools_key() {
    assert!(ok(with(json!({}))).body.get("tools").is_none());
    assert!(ok(with(json!({"tools": []}))).body.get("tools").is_none());
    assert!(ok(with(json!({"tools": null}))).body.get("tools").is_none());
}

#[test]
fn malformed_tools_are_refused_naming_the_tool() {
    let cases = [
        (json!([{"type": "web_search"}, "ls"]), "tools[1]"),
        (json!([{"function": {"name": "f"}}]), "tools[0].type"),
        (json!([{"type": "function"}]), "tools[0].function"),
        (
            json!([{"type": "function", "function": {"description": "no name"}}]),
            "tools[0].function.name",
        ),
    ];
    for (tools, param) in cases {
        let e = err(with(json!({ "tools": tools })));
        assert_invalid(&e, param, "invalid_request_error");
    }
}

#[test]
fn tool_choice_strings_pass_and_objects_are_flattened() {
    assert_eq!(ok(with(json!({}))).body["tool_choice"], "auto");
    for s in ["auto", "none", "required"] {
        assert_eq!(ok(with(json!({"tool_choice": s}))).body["tool_choice"], s);
    }
    let t = ok(with(
        json!({"tool_choice": {"type": "function", "function": {"name": "ls"}}}),
    ));
    assert_eq!(
        t.body["tool_choice"],
        json!({"type": "function", "name": "ls"})
    );
    let t = ok(with(
        json!({"tool_choice": {"type": "custom", "custom": {"name": "apply_patch"}}}),
    ));
    assert_eq!(
        t.body["tool_choice"],
        json!({"type": "custom", "name": "apply_patch"})
    );
    let flat = json!({"type": "function", "name": "ls"});
    assert_eq!(
        ok(with(json!({"tool_choice": flat.clone()}))).body["tool_choice"],
        flat
    );
}

#[test]
fn allowed_tools_choice_lists_tools_in_the_flat_form() {
    let t = ok(with(
        json!({"tool_choice": {"type": "allowed_tools", "allowed_tools": {
        "mode": "required", "tools": [{"type": "function", "function": {"name": "ls"}}]}}}),
    ));
    assert_eq!(
        t.body["tool_choice"],
        json!({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "ls"}]})
    );
}

#[test]
fn invalid_tool_choice_is_refused() {
    for bad in [json!("always"), json!(1), json!(true), json!(["auto"])] {
        let e = err(with(json!({"tool_choice": bad.clone()})));
        assert_invalid(&e, "tool_choice", "invalid_request_error");
    }
}

#[test]
fn parallel_tool_calls_defaults_to_true_and_false_is_kept() {
    assert_eq!(ok(with(json!({}))).body["parallel_tool_calls"], json!(true));
    assert_eq!(
        ok(with(json!({"parallel_tool_calls": true}))).body["parallel_tool_calls"],
        json!(true)
    );
    assert_eq!(
        ok(with(json!({"parallel_tool_calls": false}))).body["parallel_tool_calls"],
        json!(false)
    );
}

// ---- reasoning, text ----------------------------------------------------------

#[test]
fn reasoning_defaults_to_summary_auto_without_effort() {
    assert_eq!(
        ok(with(json!({}))).body["reasoning"],
        json!({"summary": "auto"})
    );
}

#[test]
fn reasoning_effort_and_reasoning_object_map_to_reasoning_effort() {
    for e in REASONING_EFFORTS {
        let t = ok(with(json!({"reasoning_effort": e})));
        assert_eq!(t.body["reasoning"], json!({"effort": e, "summary": "auto"}));
    }
    let t = ok(with(
        json!({"reasoning": {"effort": "low", "summary": "detailed"}}),
    ));
    assert_eq!(
        t.body["reasoning"],
        json!({"effort": "low", "summary": "detailed"})
    );
    let t = ok(with(
        json!({"reasoning_effort": "xhigh", "reasoning": {"effort": "low"}}),
    ));
    assert_eq!(
        t.body["reasoning"]["effort"], "xhigh",
        "the top-level parameter wins"
    );
    let t = ok(with(json!({"reasoning": {"summary": "concise"}})));
    assert_eq!(t.body["reasoning"], json!({"summary": "concise"}));
    let t = ok(with(
        json!({"reasoning_effort": "medium", "reasoning": {"summary": "none"}}),
    ));
    assert_eq!(t.body["reasoning"], json!({"effort": "medium"}));
}

#[test]
fn invalid_reasoning_values_name_the_parameter_that_carried_them() {
    let e = err(with(json!({"reasoning_effort": "extreme"})));
    assert_invalid(&e, "reasoning_effort", "invalid_request_error");
    assert!(e.message.contains("extreme"), "{}", e.message);
    let e = err(with(json!({"reasoning": {"effort": "Medium"}})));
    assert_invalid(&e, "reasoning.effort", "invalid_request_error");
    let e = err(with(json!({"reasoning": {"summary": "verbose"}})));
    assert_invalid(&e, "reasoning.summary", "invalid_request_error");
    let e = err(with(json!({"reasoning_effort": 3})));
    assert_invalid(&e, "reasoning_effort", "invalid_request_error");
}

#[test]
fn response_format_maps_to_text_format() {
    let t = ok(with(json!({"response_format": {"type": "json_object"}})));
    assert_eq!(t.body["text"], json!({"format": {"type": "json_object"}}));

    let t = ok(with(
        json!({"response_format": {"type": "json_schema", "json_schema": {
        "name": "person", "description": "a person", "strict": true,
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}),
    ));
    assert_eq!(
        t.body["text"]["format"],
        json!({"type": "json_schema", "name": "person", "description": "a person", "strict": true,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}})
    );

    let t = ok(with(
        json!({"response_format": {"type": "json_schema", "json_schema": {"name": "any"}}}),
    ));
    assert_eq!(
        t.body["text"]["format"],
        json!({"type": "json_schema", "name": "any", "schema": {}})
    );

    let t = ok(with(json!({"response_format": {"type": "text"}})));
    assert!(t.body.get("text").is_none(), "{}", t.body);
}

#[test]
fn invalid_response_formats_name_the_field() {
    let e = err(with(json!({"response_format": {"type": "json_schema"}})));
    assert_invalid(&e, "response_format.json_schema", "invalid_request_error");
    let e = err(with(
        json!({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
    ));
    assert_invalid(
        &e,
        "response_format.json_schema.name",
        "invalid_request_error",
    );
    let e = err(with(json!({"response_format": {"type": "yaml"}})));
    assert_invalid(&e, "response_format.type", "invalid_request_error");
    let e = err(with(json!({"response_format": "json"})));
    assert_invalid(&e, "response_format.type", "invalid_request_error");
}

#[test]
fn verbosity_goes_to_text_verbosity_next_to_the_format() {
    let t = ok(with(json!({"verbosity": "high"})));
    assert_eq!(t.body["text"], json!({"verbosity": "high"}));
    let t = ok(with(
        json!({"verbosity": "low", "response_format": {"type": "json_object"}}),
    ));
    assert_eq!(
        t.body["text"],
        json!({"verbosity": "low", "format": {"type": "json_object"}})
    );
    let e = err(with(json!({"verbosity": "loud"})));
    assert_invalid(&e, "verbosity", "invalid_request_error");
}

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

// ---- backend rules, session, stream options --------------------------------

#[test]
fn body_always_carries_the_backend_rules() {
    let t = ok(with(
        json!({"store": true, "stream": false, "include": ["x"], "instructions": "client"}),
    ));
    assert_eq!(t.body["store"], json!(false));
    assert_eq!(t.body["stream"], json!(true));
    assert_eq!(t.body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(t.body["instructions"], json!(""));
    assert_eq!(t.body["model"], "gpt-5.4");
    assert_eq!(t.body["prompt_cache_key"], json!(t.session_id));
    assert!(!t.session_id.is_empty());
    assert!(!t.stream, "the client asked for a JSON answer");
    assert!(ok(with(json!({"stream": true}))).stream);
    assert!(!ok(with(json!({}))).stream);
}

#[test]
fn include_usage_comes_from_stream_options() {
    let usage = |v: Value| {
        ChatRequest::parse(with(v).to_string().as_bytes())
            .unwrap()
            .include_usage()
    };
    assert!(usage(
        json!({"stream": true, "stream_options": {"include_usage": true}})
    ));
    assert!(!usage(
        json!({"stream": true, "stream_options": {"include_usage": false}})
    ));
    assert!(!usage(json!({"stream": true, "stream_options": {}})));
    assert!(!usage(json!({"stream": true})));
}

fn session(body: Value, hint: Option<&str>, seed: &str) -> Upstream {
    ChatRequest::parse(body.to_string().as_bytes())
        .unwrap()
        .into_responses(hint, seed)
        .unwrap()
}

#[test]
fn prompt_cache_key_from_the_client_wins_over_the_session_hint() {
    let t = session(
        with(json!({"prompt_cache_key": "pck-1"})),
        Some("hint-1"),
        "seed",
    );
    assert_eq!(t.session_id, "pck-1");
    assert_eq!(t.body["prompt_cache_key"], "pck-1");
}

#[test]
fn session_hint_is_used_without_a_prompt_cache_key() {
    let t = session(with(json!({})), Some("hint-1"), "seed");
    assert_eq!(t.session_id, "hint-1");
    assert_eq!(t.body["prompt_cache_key"], "hint-1");
}

#[test]
fn blank_hint_falls_back_to_a_derived_uuid() {
    let derived = session(with(json!({})), None, "seed").session_id;
    let t = session(with(json!({})), Some("  "), "seed");
    assert_eq!(t.session_id, derived);
    assert_eq!(t.body["prompt_cache_key"], json!(derived));
    let u = uuid::Uuid::parse_str(&derived).unwrap();
    assert_eq!(u.get_version_num(), 4);
}

#[test]
fn empty_prompt_cache_key_falls_back_to_the_session_hint() {
    let t = session(
        with(json!({"prompt_cache_key": ""})),
        Some("hint-1"),
        "seed",
    );
    assert_eq!(t.session_id, "hint-1");
}

#[test]
fn derived_session_id_is_stable_across_turns_and_differs_per_opening_and_seed() {
    let turn1 = messages(json!([
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first question"},
    ]));
    let turn2 = messages(json!([
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
        {"role": "system", "content": "a later note"},
        {"role": "user", "content": "second question"},
    ]));
    let s1 = session(turn1.clone(), None, "key-a").session_id;
    let s2 = session(turn2, None, "key-a").session_id;
    assert_eq!(s1, s2, "later turns keep the session");
    assert_eq!(
        session(turn1.clone(), None, "key-a").session_id,
        s1,
        "deterministic"
    );

    let other_opening = messages(json!([
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "another question"},
    ]));
    assert_ne!(session(other_opening, None, "key-a").session_id, s1);
    let other_instructions = messages(json!([
        {"role": "system", "content": "other sys"},
        {"role": "user", "content": "first question"},
    ]));
    assert_ne!(session(other_instructions, None, "key-a").session_id, s1);
    assert_ne!(
        session(turn1, None, "key-b").session_id,
        s1,
        "a different seed isolates clients"
    );
}
