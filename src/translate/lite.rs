//! Responses-Lite models (the catalog's `use_responses_lite`) accept only
//! `function` and `custom` tools; any other kind (`web_search`, `namespace`,
//! `tool_search`, …) gets the whole request refused with
//! `400 unsupported_value param: tools` (`docs/upstream.md` §12). A
//! translated request for such a model is sent with only the kinds it takes.
//! Pure: no I/O.

use serde_json::Value;

/// The tool kinds a Responses-Lite model accepts.
const LITE_TOOL_KINDS: &[&str] = &["function", "custom"];

/// Drops the tools a Lite model would refuse; returns how many were dropped.
/// A `tool_choice` naming a dropped kind falls back to `auto`.
pub fn keep_lite_tools(body: &mut Value) -> usize {
    let Some(tools) = body.get_mut("tools").and_then(Value::as_array_mut) else {
        return 0;
    };
    let before = tools.len();
    tools.retain(accepted);
    let dropped = before - tools.len();
    if dropped == 0 {
        return 0;
    }
    let chosen_kind = body
        .pointer("/tool_choice/type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if chosen_kind.is_some_and(|k| !LITE_TOOL_KINDS.contains(&k.as_str())) {
        body["tool_choice"] = Value::String("auto".into());
    }
    dropped
}

fn accepted(tool: &Value) -> bool {
    tool.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| LITE_TOOL_KINDS.contains(&t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_function_and_custom_tools_remain() {
        let mut body = json!({"tools": [
            {"type": "function", "name": "f"}, {"type": "web_search"},
            {"type": "custom", "name": "apply_patch"}, {"type": "namespace", "name": "mcp"}],
            "tool_choice": {"type": "web_search"}});
        assert_eq!(keep_lite_tools(&mut body), 2);
        assert_eq!(
            body["tools"],
            json!([{"type": "function", "name": "f"}, {"type": "custom", "name": "apply_patch"}])
        );
        assert_eq!(body["tool_choice"], "auto");
        let mut plain = json!({"tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "f"}});
        let copy = plain.clone();
        assert_eq!(keep_lite_tools(&mut plain), 0);
        assert_eq!(plain, copy);
        assert_eq!(keep_lite_tools(&mut json!({"input": []})), 0);
    }
}
