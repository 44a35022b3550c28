//! Tools, tool choice, reasoning and text parameters.

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
