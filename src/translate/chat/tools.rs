//! Chat's tools, tool_choice and response_format → their flat Responses forms.

use serde_json::{json, Map, Value};

use crate::translate::{type_name, Invalid};

/// Chat's `{"type": T, T: {...}}` → Responses' flat `{"type": T, ...}`; anything
/// else passes through untouched.
pub(super) fn convert_tool(tool: &Value, i: usize) -> Result<Value, Invalid> {
    let Some(obj) = tool.as_object() else {
        return Err(Invalid::field(
            format!("tools[{i}]"),
            format!("'tools[{i}]' must be an object"),
        ));
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return Err(Invalid::field(
            format!("tools[{i}].type"),
            format!("'tools[{i}].type' must be a string"),
        ));
    };
    if kind == "function" {
        match obj.get("function") {
            Some(Value::Object(inner)) if !inner.get("name").is_some_and(Value::is_string) => {
                return Err(Invalid::field(
                    format!("tools[{i}].function.name"),
                    format!("'tools[{i}].function.name' must be a string"),
                ));
            }
            None if !obj.contains_key("name") => {
                return Err(Invalid::field(
                    format!("tools[{i}].function"),
                    format!("'tools[{i}].function' is required"),
                ));
            }
            _ => {}
        }
    }
    flatten_tool(tool, true).map_err(|m| Invalid::field(format!("tools[{i}]"), m))
}

/// The flattening itself, shared by `tools` and `tool_choice.allowed_tools`
/// (whose entries name tools and get no defaults).
fn flatten_tool(tool: &Value, defaults: bool) -> Result<Value, String> {
    let Some(obj) = tool.as_object() else {
        return Err("a tool must be an object".into());
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return Err("a tool's 'type' must be a string".into());
    };
    let Some(Value::Object(inner)) = obj.get(kind) else {
        return Ok(tool.clone());
    };
    let mut flat = Map::with_capacity(inner.len() + 1);
    flat.insert("type".into(), json!(kind));
    for (k, v) in inner {
        flat.insert(k.clone(), v.clone());
    }
    if defaults && kind == "function" && !flat.contains_key("parameters") {
        flat.insert(
            "parameters".into(),
            json!({"type": "object", "properties": {}}),
        );
    }
    if defaults && kind == "function" && flat.get("strict").is_none_or(Value::is_null) {
        flat.insert("strict".into(), json!(false));
    }
    Ok(Value::Object(flat))
}

pub(super) fn convert_tool_choice(choice: &Value) -> Result<Value, Invalid> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(choice.clone())
        }
        Value::String(s) => Err(Invalid::field(
            "tool_choice",
            format!("'tool_choice' must be auto, none, required or an object, not {s:?}"),
        )),
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
            match o.get(kind) {
                Some(Value::Object(inner)) => {
                    let mut flat = Map::new();
                    flat.insert("type".into(), json!(kind));
                    for (k, v) in inner {
                        flat.insert(k.clone(), v.clone());
                    }
                    // allowed_tools lists tools in Chat's nested form too.
                    if let Some(Value::Array(tools)) = flat.get("tools") {
                        let tools = tools
                            .iter()
                            .enumerate()
                            .map(|(i, t)| {
                                flatten_tool(t, false).map_err(|m| {
                                    Invalid::field(format!("tool_choice.{kind}.tools[{i}]"), m)
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        flat.insert("tools".into(), Value::Array(tools));
                    }
                    Ok(Value::Object(flat))
                }
                _ => Ok(choice.clone()),
            }
        }
        other => Err(Invalid::field(
            "tool_choice",
            format!(
                "'tool_choice' must be a string or an object, not {}",
                type_name(other)
            ),
        )),
    }
}

pub(super) fn convert_response_format(format: &Value) -> Result<Option<Value>, Invalid> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let Some(Value::Object(js)) = format.get("json_schema") else {
                return Err(Invalid::field(
                    "response_format.json_schema",
                    "'response_format.json_schema' is required for type json_schema",
                ));
            };
            let Some(name) = js.get("name").and_then(Value::as_str) else {
                return Err(Invalid::field(
                    "response_format.json_schema.name",
                    "'response_format.json_schema.name' must be a string",
                ));
            };
            let mut f = Map::new();
            f.insert("type".into(), json!("json_schema"));
            f.insert("name".into(), json!(name));
            f.insert(
                "schema".into(),
                js.get("schema").cloned().unwrap_or_else(|| json!({})),
            );
            if let Some(s) = js.get("strict") {
                f.insert("strict".into(), s.clone());
            }
            if let Some(d) = js.get("description") {
                f.insert("description".into(), d.clone());
            }
            Ok(Some(Value::Object(f)))
        }
        _ => Err(Invalid::field(
            "response_format.type",
            "'response_format.type' must be text, json_object or json_schema",
        )),
    }
}
