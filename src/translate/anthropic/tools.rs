//! Messages' `tools` and `tool_choice` → their Responses forms.
//!
//! A custom tool (no `type`, or `custom`) is a flat function tool whose
//! `parameters` are its `input_schema`. Anthropic's web search server tool
//! (`web_search_*`) is the backend's own `web_search` tool. Every other
//! Anthropic-defined tool (bash, text editor, computer use, code execution,
//! web fetch, memory, …) has no equivalent upstream: a 400 naming it.

use serde_json::{json, Map, Value};

use super::request::wrong_type;
use crate::translate::Invalid;

pub(super) fn convert_tools(tools: &[Value]) -> Result<Vec<Value>, Invalid> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| convert_tool(t, &format!("tools[{i}]")))
        .collect()
}

fn convert_tool(tool: &Value, param: &str) -> Result<Value, Invalid> {
    let Some(obj) = tool.as_object() else {
        return Err(wrong_type(param, "an object", tool));
    };
    let name = obj.get("name").and_then(Value::as_str);
    match obj.get("type").and_then(Value::as_str) {
        None | Some("custom") => {
            let Some(name) = name.filter(|n| !n.is_empty()) else {
                return Err(Invalid::field(
                    format!("{param}.name"),
                    format!("'{param}.name' must be a non-empty string"),
                ));
            };
            let mut parameters = match obj.get("input_schema") {
                Some(Value::Object(s)) => s.clone(),
                None | Some(Value::Null) => Map::new(),
                Some(other) => {
                    return Err(wrong_type(
                        &format!("{param}.input_schema"),
                        "an object",
                        other,
                    ))
                }
            };
            // A JSON Schema dialect marker, not part of the schema itself.
            parameters.remove("$schema");
            parameters.entry("type").or_insert_with(|| json!("object"));
            let mut out = Map::new();
            out.insert("type".into(), json!("function"));
            out.insert("name".into(), json!(name));
            if let Some(d) = obj.get("description").and_then(Value::as_str) {
                out.insert("description".into(), json!(d));
            }
            out.insert("strict".into(), json!(false));
            out.insert("parameters".into(), Value::Object(parameters));
            Ok(Value::Object(out))
        }
        Some(kind) if kind.starts_with("web_search_") => {
            let mut out = Map::new();
            out.insert("type".into(), json!("web_search"));
            if let Some(domains) = obj.get("allowed_domains").filter(|d| d.is_array()) {
                out.insert("filters".into(), json!({"allowed_domains": domains}));
            }
            if let Some(loc) = obj.get("user_location").filter(|l| l.is_object()) {
                out.insert("user_location".into(), loc.clone());
            }
            Ok(Value::Object(out))
        }
        Some(kind) => Err(Invalid::unsupported(
            &format!("{param}.type"),
            &format!(
                "the Anthropic tool {:?} (type {kind:?})",
                name.unwrap_or("")
            ),
        )),
    }
}

/// `tool_choice` → (Responses `tool_choice`, `parallel_tool_calls`).
pub(super) fn convert_tool_choice(choice: Option<&Value>) -> Result<(Value, bool), Invalid> {
    let Some(choice) = choice.filter(|c| !c.is_null()) else {
        return Ok((json!("auto"), true));
    };
    let parallel = choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
        != Some(true);
    let out = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => match choice.get("name").and_then(Value::as_str) {
            Some(name) => json!({"type": "function", "name": name}),
            None => {
                return Err(Invalid::field(
                    "tool_choice.name",
                    "'tool_choice.name' must be a string for type \"tool\"",
                ))
            }
        },
        _ => {
            return Err(Invalid::field(
                "tool_choice.type",
                "'tool_choice.type' must be auto, any, tool or none",
            ))
        }
    };
    Ok((out, parallel))
}
