//! Chat messages → Responses input items (and the leading instructions).

use serde_json::{json, Map, Value};

use super::Message;
use crate::translate::{type_name, Invalid};

pub(super) fn convert_messages(messages: &[Message]) -> Result<(String, Vec<Value>), Invalid> {
    let mut instructions: Vec<String> = Vec::new();
    let mut input = Vec::with_capacity(messages.len());
    let mut leading = true;
    let mut custom_calls: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].{field}");
        match m.role.as_str() {
            "system" | "developer" => {
                let text = text_only(m.content.as_ref(), &at("content"))?;
                if leading {
                    if !text.is_empty() {
                        instructions.push(text);
                    }
                } else {
                    input.push(json!({"type": "message", "role": "developer",
                        "content": [{"type": "input_text", "text": text}]}));
                }
            }
            "user" => {
                leading = false;
                let content = user_parts(m.content.as_ref(), &at("content"))?;
                input.push(json!({"type": "message", "role": "user", "content": content}));
            }
            "assistant" => {
                leading = false;
                let mut parts = assistant_parts(m.content.as_ref(), &at("content"))?;
                if let Some(r) = m.refusal.as_deref().filter(|r| !r.is_empty()) {
                    parts.push(json!({"type": "refusal", "refusal": r}));
                }
                if !parts.is_empty() {
                    input.push(json!({"type": "message", "role": "assistant", "content": parts}));
                }
                for (j, call) in m.tool_calls.iter().flatten().enumerate() {
                    let item = convert_tool_call(call, &at(&format!("tool_calls[{j}]")))?;
                    if item["type"] == "custom_tool_call" {
                        if let Some(id) = item["call_id"].as_str() {
                            custom_calls.push(id.to_string());
                        }
                    }
                    input.push(item);
                }
            }
            "tool" => {
                leading = false;
                let Some(call_id) = m.tool_call_id.as_deref().filter(|s| !s.is_empty()) else {
                    return Err(Invalid::field(at("tool_call_id"), format!("'{}' is required for a tool message", at("tool_call_id"))));
                };
                let output = text_only(m.content.as_ref(), &at("content"))?;
                let kind = if custom_calls.iter().any(|c| c == call_id) {
                    "custom_tool_call_output"
                } else {
                    "function_call_output"
                };
                input.push(json!({"type": kind, "call_id": call_id, "output": output}));
            }
            "function" => {
                return Err(Invalid::field(
                    at("role"),
                    "role \"function\" (deprecated) is not supported; use tool messages with a tool_call_id",
                ))
            }
            other => {
                return Err(Invalid::field(
                    at("role"),
                    format!("unknown role {other:?}; expected system, developer, user, assistant or tool"),
                ))
            }
        }
    }
    Ok((instructions.join("\n\n"), input))
}

/// Text content: a string, or an array of text parts joined.
fn text_only(content: Option<&Value>, param: &str) -> Result<String, Invalid> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (k, p) in parts.iter().enumerate() {
                match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                    (Some("text" | "input_text" | "output_text"), Some(t)) => out.push_str(t),
                    _ => {
                        return Err(Invalid::field(
                            format!("{param}[{k}]"),
                            format!("'{param}[{k}]' must be a text part ({{\"type\":\"text\",\"text\":…}}) here"),
                        ))
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(Invalid::field(
            param,
            format!(
                "'{param}' must be a string or an array of parts, not {}",
                type_name(other)
            ),
        )),
    }
}

fn user_parts(content: Option<&Value>, param: &str) -> Result<Vec<Value>, Invalid> {
    let parts = match content {
        None | Some(Value::Null) => {
            return Err(Invalid::field(
                param,
                format!("'{param}' is required for a user message"),
            ))
        }
        Some(Value::String(s)) => return Ok(vec![json!({"type": "input_text", "text": s})]),
        Some(Value::Array(parts)) => parts,
        Some(other) => {
            return Err(Invalid::field(
                param,
                format!(
                    "'{param}' must be a string or an array of parts, not {}",
                    type_name(other)
                ),
            ))
        }
    };
    parts
        .iter()
        .enumerate()
        .map(|(k, p)| user_part(p, &format!("{param}[{k}]")))
        .collect()
}

fn user_part(p: &Value, param: &str) -> Result<Value, Invalid> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" | "input_text" => {
            let text = p.get("text").and_then(Value::as_str).ok_or_else(|| {
                Invalid::field(
                    format!("{param}.text"),
                    format!("'{param}.text' must be a string"),
                )
            })?;
            Ok(json!({"type": "input_text", "text": text}))
        }
        "image_url" => {
            let iu = p.get("image_url");
            let (url, detail) = match iu {
                Some(Value::String(u)) => (Some(u.as_str()), None),
                Some(Value::Object(o)) => (
                    o.get("url").and_then(Value::as_str),
                    o.get("detail").and_then(Value::as_str),
                ),
                _ => (None, None),
            };
            let Some(url) = url.filter(|u| !u.is_empty()) else {
                return Err(Invalid::field(
                    format!("{param}.image_url.url"),
                    format!("'{param}.image_url.url' must be a data: or http(s) URL"),
                ));
            };
            if !(url.starts_with("data:")
                || url.starts_with("http://")
                || url.starts_with("https://"))
            {
                return Err(Invalid::field(
                    format!("{param}.image_url.url"),
                    format!("'{param}.image_url.url' must be a data: or http(s) URL"),
                ));
            }
            Ok(json!({"type": "input_image", "image_url": url, "detail": detail.unwrap_or("auto")}))
        }
        "input_image" => Ok(p.clone()),
        "file" | "input_file" => {
            let f = p.get("file").unwrap_or(p);
            let mut out = Map::new();
            out.insert("type".into(), json!("input_file"));
            for key in ["file_data", "file_id", "filename", "file_url"] {
                if let Some(v) = f.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            if !["file_data", "file_id", "file_url"]
                .iter()
                .any(|k| out.contains_key(*k))
            {
                return Err(Invalid::field(
                    format!("{param}.file"),
                    format!("'{param}.file' needs file_data, file_id or file_url"),
                ));
            }
            Ok(Value::Object(out))
        }
        "input_audio" => Err(Invalid::unsupported(param, "audio input")),
        other => Err(Invalid::field(
            format!("{param}.type"),
            format!("unknown content part type {other:?}; expected text, image_url or file"),
        )),
    }
}

fn assistant_parts(content: Option<&Value>, param: &str) -> Result<Vec<Value>, Invalid> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![json!({"type": "output_text", "text": s})]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(k, p)| match p.get("type").and_then(Value::as_str) {
                Some("text" | "output_text") => Ok(json!({"type": "output_text",
                    "text": p.get("text").and_then(Value::as_str).unwrap_or("")})),
                Some("refusal") => Ok(json!({"type": "refusal",
                    "refusal": p.get("refusal").and_then(Value::as_str).unwrap_or("")})),
                _ => Err(Invalid::field(
                    format!("{param}[{k}]"),
                    format!("'{param}[{k}]' must be a text or refusal part"),
                )),
            })
            .collect(),
        Some(other) => Err(Invalid::field(
            param,
            format!(
                "'{param}' must be a string or an array of parts, not {}",
                type_name(other)
            ),
        )),
    }
}

fn convert_tool_call(call: &Value, param: &str) -> Result<Value, Invalid> {
    let id = call.get("id").and_then(Value::as_str).ok_or_else(|| {
        Invalid::field(
            format!("{param}.id"),
            format!("'{param}.id' must be a string"),
        )
    })?;
    match call
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("function")
    {
        "function" => {
            let f = call.get("function").ok_or_else(|| {
                Invalid::field(
                    format!("{param}.function"),
                    format!("'{param}.function' is required"),
                )
            })?;
            let name = f.get("name").and_then(Value::as_str).ok_or_else(|| {
                Invalid::field(
                    format!("{param}.function.name"),
                    format!("'{param}.function.name' must be a string"),
                )
            })?;
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => "{}".into(),
                Some(other) => other.to_string(),
            };
            Ok(
                json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}),
            )
        }
        "custom" => {
            let c = call.get("custom").unwrap_or(&Value::Null);
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            let input = c.get("input").and_then(Value::as_str).unwrap_or("");
            Ok(json!({"type": "custom_tool_call", "call_id": id, "name": name, "input": input}))
        }
        other => Err(Invalid::field(
            format!("{param}.type"),
            format!("unknown tool call type {other:?}"),
        )),
    }
}
