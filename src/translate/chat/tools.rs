//! Chat's tools, tool_choice and response_format → their flat Responses forms.
//!
//! Each is consumed: its fields (a tool's schema can be large) move into the
//! flat form rather than being copied.

use serde_json::{json, Map, Value};

use crate::translate::{bounded, quoted, type_name, Invalid};

/// Chat's `{"type": T, T: {...}}` → Responses' flat `{"type": T, ...}`; anything
/// else passes through untouched.
pub(super) fn convert_tool(tool: Value, i: usize) -> Result<Value, Invalid> {
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
fn flatten_tool(tool: Value, defaults: bool) -> Result<Value, String> {
    let Value::Object(mut obj) = tool else {
        return Err("a tool must be an object".into());
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Err("a tool's 'type' must be a string".into());
    };
    let inner = match obj.remove(&kind) {
        Some(Value::Object(inner)) => inner,
        other => {
            if let Some(v) = other {
                obj.insert(kind, v);
            }
            return Ok(Value::Object(obj));
        }
    };
    let kind = kind.as_str();
    let mut flat = Map::new();
    flat.insert("type".into(), json!(kind));
    flat.extend(inner);
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

pub(super) fn convert_tool_choice(choice: Value) -> Result<Value, Invalid> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(Value::String(s))
        }
        Value::String(s) => Err(Invalid::field(
            "tool_choice",
            format!(
                "'tool_choice' must be auto, none, required or an object, not {}",
                quoted(&s)
            ),
        )),
        Value::Object(mut o) => {
            let kind = o
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let inner = match o.remove(&kind) {
                Some(Value::Object(inner)) => inner,
                other => {
                    if let Some(v) = other {
                        o.insert(kind, v);
                    }
                    return Ok(Value::Object(o));
                }
            };
            let mut flat = Map::new();
            flat.insert("type".into(), json!(kind));
            flat.extend(inner);
            // allowed_tools lists tools in Chat's nested form too.
            if let Some(Value::Array(tools)) = flat.get_mut("tools") {
                let tools = std::mem::take(tools)
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| {
                        flatten_tool(t, false).map_err(|m| {
                            let param = format!("tool_choice.{}.tools[{i}]", bounded(&kind));
                            Invalid::field(param, m)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                flat.insert("tools".into(), Value::Array(tools));
            }
            Ok(Value::Object(flat))
        }
        other => Err(Invalid::field(
            "tool_choice",
            format!(
                "'tool_choice' must be a string or an object, not {}",
                type_name(&other)
            ),
        )),
    }
}

pub(super) fn convert_response_format(format: Value) -> Result<Option<Value>, Invalid> {
    let Value::Object(mut format) = format else {
        return Err(no_format_type());
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let Some(Value::Object(mut js)) = format.remove("json_schema") else {
                return Err(Invalid::field(
                    "response_format.json_schema",
                    "'response_format.json_schema' is required for type json_schema",
                ));
            };
            let Some(name) = js.remove("name").filter(Value::is_string) else {
                return Err(Invalid::field(
                    "response_format.json_schema.name",
                    "'response_format.json_schema.name' must be a string",
                ));
            };
            let mut f = Map::new();
            f.insert("type".into(), json!("json_schema"));
            f.insert("name".into(), name);
            f.insert(
                "schema".into(),
                js.remove("schema").unwrap_or_else(|| json!({})),
            );
            if let Some(s) = js.remove("strict") {
                f.insert("strict".into(), s);
            }
            if let Some(d) = js.remove("description") {
                f.insert("description".into(), d);
            }
            Ok(Some(Value::Object(f)))
        }
        _ => Err(no_format_type()),
    }
}

fn no_format_type() -> Invalid {
    Invalid::field(
        "response_format.type",
        "'response_format.type' must be text, json_object or json_schema",
    )
}
