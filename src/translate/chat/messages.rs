//! Chat messages → Responses input items (and the leading instructions).
//!
//! The messages are consumed: each string and part moves into the item it
//! becomes, so a request is never held twice while it is translated.

use serde_json::{json, Map, Value};

use super::Message;
use crate::translate::{object, quoted, type_name, Invalid};

pub(super) fn convert_messages(messages: Vec<Message>) -> Result<(String, Vec<Value>), Invalid> {
    let mut instructions: Vec<String> = Vec::new();
    let mut input = Vec::with_capacity(messages.len());
    let mut leading = true;
    let mut custom_calls: Vec<String> = Vec::new();
    for (i, m) in messages.into_iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].{field}");
        let Message {
            role,
            content,
            tool_calls,
            tool_call_id,
            refusal,
        } = m;
        match role.as_str() {
            "system" | "developer" => {
                let text = text_only(content, &at("content"))?;
                if leading {
                    if !text.is_empty() {
                        instructions.push(text);
                    }
                } else {
                    input.push(message("developer", vec![part("input_text", "text", text)]));
                }
            }
            "user" => {
                leading = false;
                let content = user_parts(content, &at("content"))?;
                input.push(message("user", content));
            }
            "assistant" => {
                leading = false;
                let mut parts = assistant_parts(content, &at("content"))?;
                if let Some(r) = refusal.filter(|r| !r.is_empty()) {
                    parts.push(part("refusal", "refusal", r));
                }
                if !parts.is_empty() {
                    input.push(message("assistant", parts));
                }
                for (j, call) in tool_calls.into_iter().flatten().enumerate() {
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
                let Some(call_id) = tool_call_id.filter(|s| !s.is_empty()) else {
                    return Err(Invalid::field(at("tool_call_id"), format!("'{}' is required for a tool message", at("tool_call_id"))));
                };
                let output = text_only(content, &at("content"))?;
                let kind = if custom_calls.contains(&call_id) {
                    "custom_tool_call_output"
                } else {
                    "function_call_output"
                };
                input.push(object([
                    ("type", json!(kind)),
                    ("call_id", Value::String(call_id)),
                    ("output", Value::String(output)),
                ]));
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
                    format!(
                        "unknown role {}; expected system, developer, user, assistant or tool",
                        quoted(other)
                    ),
                ))
            }
        }
    }
    Ok((instructions.join("\n\n"), input))
}

/// `{"type": "message", "role": role, "content": content}`.
fn message(role: &str, content: Vec<Value>) -> Value {
    object([
        ("type", json!("message")),
        ("role", json!(role)),
        ("content", Value::Array(content)),
    ])
}

/// `{"type": kind, field: text}`.
fn part(kind: &str, field: &str, text: String) -> Value {
    object([("type", json!(kind)), (field, Value::String(text))])
}

/// The string under `key`, taken out of `o`.
fn take_string(o: &mut Map<String, Value>, key: &str) -> Option<String> {
    match o.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// A part as an object (a part that is not one has no fields).
fn fields(p: Value) -> Map<String, Value> {
    match p {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

/// Text content: a string, or an array of text parts joined.
fn text_only(content: Option<Value>, param: &str) -> Result<String, Invalid> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
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
                type_name(&other)
            ),
        )),
    }
}

fn user_parts(content: Option<Value>, param: &str) -> Result<Vec<Value>, Invalid> {
    let parts = match content {
        None | Some(Value::Null) => {
            return Err(Invalid::field(
                param,
                format!("'{param}' is required for a user message"),
            ))
        }
        Some(Value::String(s)) => return Ok(vec![part("input_text", "text", s)]),
        Some(Value::Array(parts)) => parts,
        Some(other) => {
            return Err(Invalid::field(
                param,
                format!(
                    "'{param}' must be a string or an array of parts, not {}",
                    type_name(&other)
                ),
            ))
        }
    };
    parts
        .into_iter()
        .enumerate()
        .map(|(k, p)| user_part(p, &format!("{param}[{k}]")))
        .collect()
}

/// The kinds of user part, once their `type` is read.
enum Kind {
    Text,
    ImageUrl,
    File,
}

fn user_part(p: Value, param: &str) -> Result<Value, Invalid> {
    let kind = match p.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" | "input_text" => Kind::Text,
        "image_url" => Kind::ImageUrl,
        "file" | "input_file" => Kind::File,
        "input_image" => return Ok(p),
        "input_audio" => return Err(Invalid::unsupported(param, "audio input")),
        other => {
            return Err(Invalid::field(
                format!("{param}.type"),
                format!(
                    "unknown content part type {}; expected text, image_url or file",
                    quoted(other)
                ),
            ))
        }
    };
    let mut p = fields(p);
    match kind {
        Kind::Text => {
            let text = take_string(&mut p, "text").ok_or_else(|| {
                Invalid::field(
                    format!("{param}.text"),
                    format!("'{param}.text' must be a string"),
                )
            })?;
            Ok(part("input_text", "text", text))
        }
        Kind::ImageUrl => {
            let (url, detail) = match p.remove("image_url") {
                Some(Value::String(u)) => (Some(u), None),
                Some(Value::Object(mut o)) => {
                    (take_string(&mut o, "url"), take_string(&mut o, "detail"))
                }
                _ => (None, None),
            };
            let Some(url) = url.filter(|u| {
                u.starts_with("data:") || u.starts_with("http://") || u.starts_with("https://")
            }) else {
                return Err(Invalid::field(
                    format!("{param}.image_url.url"),
                    format!("'{param}.image_url.url' must be a data: or http(s) URL"),
                ));
            };
            Ok(object([
                ("type", json!("input_image")),
                ("image_url", Value::String(url)),
                (
                    "detail",
                    Value::String(detail.unwrap_or_else(|| "auto".into())),
                ),
            ]))
        }
        Kind::File => {
            let mut f = match p.remove("file") {
                Some(Value::Object(f)) => f,
                Some(_) => Map::new(),
                None => p,
            };
            let mut out = Map::new();
            out.insert("type".into(), json!("input_file"));
            for key in ["file_data", "file_id", "filename", "file_url"] {
                if let Some(v) = f.remove(key) {
                    out.insert(key.into(), v);
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
    }
}

fn assistant_parts(content: Option<Value>, param: &str) -> Result<Vec<Value>, Invalid> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![part("output_text", "text", s)]),
        Some(Value::Array(parts)) => parts
            .into_iter()
            .enumerate()
            .map(|(k, p)| {
                let (kind, field) = match p.get("type").and_then(Value::as_str) {
                    Some("text" | "output_text") => ("output_text", "text"),
                    Some("refusal") => ("refusal", "refusal"),
                    _ => {
                        return Err(Invalid::field(
                            format!("{param}[{k}]"),
                            format!("'{param}[{k}]' must be a text or refusal part"),
                        ))
                    }
                };
                let text = take_string(&mut fields(p), field).unwrap_or_default();
                Ok(part(kind, field, text))
            })
            .collect(),
        Some(other) => Err(Invalid::field(
            param,
            format!(
                "'{param}' must be a string or an array of parts, not {}",
                type_name(&other)
            ),
        )),
    }
}

fn convert_tool_call(call: Value, param: &str) -> Result<Value, Invalid> {
    let mut call = fields(call);
    let id = take_string(&mut call, "id").ok_or_else(|| {
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
            let f = call.remove("function").ok_or_else(|| {
                Invalid::field(
                    format!("{param}.function"),
                    format!("'{param}.function' is required"),
                )
            })?;
            let mut f = fields(f);
            let name = take_string(&mut f, "name").ok_or_else(|| {
                Invalid::field(
                    format!("{param}.function.name"),
                    format!("'{param}.function.name' must be a string"),
                )
            })?;
            let arguments = match f.remove("arguments") {
                Some(Value::String(s)) => s,
                None | Some(Value::Null) => "{}".into(),
                Some(other) => other.to_string(),
            };
            Ok(object([
                ("type", json!("function_call")),
                ("call_id", Value::String(id)),
                ("name", Value::String(name)),
                ("arguments", Value::String(arguments)),
            ]))
        }
        "custom" => {
            let mut c = fields(call.remove("custom").unwrap_or_default());
            let name = take_string(&mut c, "name").unwrap_or_default();
            let input = take_string(&mut c, "input").unwrap_or_default();
            Ok(object([
                ("type", json!("custom_tool_call")),
                ("call_id", Value::String(id)),
                ("name", Value::String(name)),
                ("input", Value::String(input)),
            ]))
        }
        other => Err(Invalid::field(
            format!("{param}.type"),
            format!("unknown tool call type {}", quoted(other)),
        )),
    }
}
