//! Messages' `system` and `messages` → `instructions` and Responses input items.
//!
//! A user turn's text, images and documents become one `message` item (split
//! around its `tool_result` blocks, which become `function_call_output`
//! items with the same id). An assistant turn's text becomes an assistant
//! `message`, its `tool_use` blocks `function_call` items (arguments: the
//! input as a JSON string), and a `thinking` block with a signature the
//! `reasoning` item the signature carries (`encrypted_content`). A `system`
//! message inside `messages` (Claude Code sends them) is a developer message.
//! `cache_control` is ignored everywhere.

use serde_json::{json, Value};

use super::request::{wrong_type, Message};
use crate::translate::Invalid;

/// `system`: a string, or text blocks joined by blank lines.
pub(super) fn system_text(system: Option<&Value>) -> Result<String, Invalid> {
    match system {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(blocks)) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (i, b) in blocks.iter().enumerate() {
                parts.push(text_of(b, &format!("system[{i}]"))?);
            }
            Ok(parts.join("\n\n"))
        }
        Some(other) => Err(wrong_type("system", "a string or text blocks", other)),
    }
}

/// A `{"type":"text","text":…}` block's text.
fn text_of<'a>(block: &'a Value, param: &str) -> Result<&'a str, Invalid> {
    match (
        block.get("type").and_then(Value::as_str),
        block.get("text").and_then(Value::as_str),
    ) {
        (Some("text"), Some(t)) => Ok(t),
        _ => Err(Invalid::field(
            param,
            format!("'{param}' must be a text block ({{\"type\":\"text\",\"text\":…}})"),
        )),
    }
}

pub(super) fn convert_messages(messages: &[Message]) -> Result<Vec<Value>, Invalid> {
    let mut input = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}].content");
        let blocks: Vec<Value> = match &m.content {
            Value::String(s) => vec![json!({"type": "text", "text": s})],
            Value::Array(b) => b.clone(),
            other => return Err(wrong_type(&at, "a string or an array of blocks", other)),
        };
        match m.role.as_str() {
            "user" => user_turn(&blocks, &at, &mut input)?,
            "assistant" => assistant_turn(&blocks, &at, &mut input)?,
            "system" => {
                let mut parts = Vec::with_capacity(blocks.len());
                for (k, b) in blocks.iter().enumerate() {
                    parts.push(
                        json!({"type": "input_text", "text": text_of(b, &format!("{at}[{k}]"))?}),
                    );
                }
                input.push(json!({"type": "message", "role": "developer", "content": parts}));
            }
            other => {
                return Err(Invalid::field(
                    format!("messages[{i}].role"),
                    format!("unknown role {other:?}; expected user or assistant"),
                ))
            }
        }
    }
    Ok(input)
}

fn flush(role: &str, parts: &mut Vec<Value>, input: &mut Vec<Value>) {
    if !parts.is_empty() {
        input.push(json!({"type": "message", "role": role, "content": std::mem::take(parts)}));
    }
}

fn user_turn(blocks: &[Value], at: &str, input: &mut Vec<Value>) -> Result<(), Invalid> {
    let mut parts = Vec::new();
    for (k, b) in blocks.iter().enumerate() {
        let param = format!("{at}[{k}]");
        match kind(b) {
            "tool_result" => {
                flush("user", &mut parts, input);
                input.push(tool_result(b, &param)?);
            }
            _ => {
                if let Some(part) = user_part(b, &param)? {
                    parts.push(part);
                }
            }
        }
    }
    flush("user", &mut parts, input);
    Ok(())
}

fn kind(b: &Value) -> &str {
    b.get("type").and_then(Value::as_str).unwrap_or("")
}

/// One user block as a Responses content part; `None` for blocks that carry
/// nothing the backend can read.
fn user_part(b: &Value, param: &str) -> Result<Option<Value>, Invalid> {
    match kind(b) {
        "text" => Ok(Some(
            json!({"type": "input_text", "text": text_of(b, param)?}),
        )),
        "image" => image(b, param).map(Some),
        "document" => document(b, param).map(Some),
        "search_result" => {
            let title = b.get("title").and_then(Value::as_str).unwrap_or("");
            let source = b.get("source").and_then(Value::as_str).unwrap_or("");
            let mut text = format!("{title} ({source})\n");
            for c in b.get("content").and_then(Value::as_array).into_iter().flatten() {
                text.push_str(c.get("text").and_then(Value::as_str).unwrap_or(""));
                text.push('\n');
            }
            Ok(Some(json!({"type": "input_text", "text": text})))
        }
        other => Err(Invalid::field(
            format!("{param}.type"),
            format!("'{param}.type' {other:?} is not supported in a user message; expected text, image, document or tool_result"),
        )),
    }
}

fn source<'a>(b: &'a Value, param: &str) -> Result<(&'a str, &'a Value), Invalid> {
    let src = b.get("source").unwrap_or(&Value::Null);
    match src.get("type").and_then(Value::as_str) {
        Some(t) => Ok((t, src)),
        None => Err(Invalid::field(
            format!("{param}.source.type"),
            format!("'{param}.source.type' must be a string"),
        )),
    }
}

fn str_at<'a>(v: &'a Value, key: &str, param: &str) -> Result<&'a str, Invalid> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| {
        Invalid::field(
            format!("{param}.source.{key}"),
            format!("'{param}.source.{key}' must be a string"),
        )
    })
}

/// An image: base64 → a data URL, or its URL.
fn image(b: &Value, param: &str) -> Result<Value, Invalid> {
    let (t, src) = source(b, param)?;
    let url = match t {
        "base64" => format!(
            "data:{};base64,{}",
            str_at(src, "media_type", param)?,
            str_at(src, "data", param)?
        ),
        "url" => str_at(src, "url", param)?.to_string(),
        other => return Err(no_source(param, other, "base64 or url")),
    };
    Ok(json!({"type": "input_image", "image_url": url, "detail": "auto"}))
}

/// A document: PDF (base64 or URL) → `input_file`; plain text → text.
fn document(b: &Value, param: &str) -> Result<Value, Invalid> {
    let (t, src) = source(b, param)?;
    let title = b.get("title").and_then(Value::as_str);
    match t {
        "base64" => {
            let media = str_at(src, "media_type", param)?;
            let data = str_at(src, "data", param)?;
            let filename = title.map_or_else(|| "document.pdf".to_string(), str::to_owned);
            Ok(json!({"type": "input_file", "filename": filename,
                "file_data": format!("data:{media};base64,{data}")}))
        }
        "url" => Ok(json!({"type": "input_file", "file_url": str_at(src, "url", param)?})),
        "text" => {
            let data = str_at(src, "data", param)?;
            let text = match title {
                Some(t) => format!("{t}\n\n{data}"),
                None => data.to_string(),
            };
            Ok(json!({"type": "input_text", "text": text}))
        }
        "content" => {
            let mut text = String::new();
            for c in src
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                text.push_str(c.get("text").and_then(Value::as_str).unwrap_or(""));
            }
            Ok(json!({"type": "input_text", "text": text}))
        }
        other => Err(no_source(param, other, "base64, url, text or content")),
    }
}

fn no_source(param: &str, got: &str, expected: &str) -> Invalid {
    Invalid::field(
        format!("{param}.source.type"),
        format!("'{param}.source.type' {got:?} is not supported here (the Files API is not available); expected {expected}"),
    )
}

/// `tool_result` → `function_call_output`: a string when the result is
/// text only, else content parts. `is_error` is said in the text, as the
/// Responses item has no such field.
fn tool_result(b: &Value, param: &str) -> Result<Value, Invalid> {
    let Some(id) = b.get("tool_use_id").and_then(Value::as_str) else {
        return Err(Invalid::field(
            format!("{param}.tool_use_id"),
            format!("'{param}.tool_use_id' must be a string"),
        ));
    };
    let error = b.get("is_error").and_then(Value::as_bool) == Some(true);
    let prefix = if error { "Error: " } else { "" };
    let output = match b.get("content") {
        None | Some(Value::Null) => Value::String(prefix.trim_end().to_string()),
        Some(Value::String(s)) => Value::String(format!("{prefix}{s}")),
        Some(Value::Array(blocks)) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (k, c) in blocks.iter().enumerate() {
                if let Some(p) = user_part(c, &format!("{param}.content[{k}]"))? {
                    parts.push(p);
                }
            }
            if parts.iter().all(|p| p["type"] == "input_text") {
                let text: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
                Value::String(format!("{prefix}{}", text.join("\n")))
            } else {
                if error {
                    parts.insert(0, json!({"type": "input_text", "text": "Error:"}));
                }
                Value::Array(parts)
            }
        }
        Some(other) => {
            return Err(wrong_type(
                &format!("{param}.content"),
                "a string or blocks",
                other,
            ))
        }
    };
    Ok(json!({"type": "function_call_output", "call_id": id, "output": output}))
}

fn assistant_turn(blocks: &[Value], at: &str, input: &mut Vec<Value>) -> Result<(), Invalid> {
    let mut parts = Vec::new();
    for (k, b) in blocks.iter().enumerate() {
        let param = format!("{at}[{k}]");
        match kind(b) {
            "text" => {
                let text = text_of(b, &param)?;
                if !text.is_empty() {
                    parts.push(json!({"type": "output_text", "text": text}));
                }
            }
            "thinking" => {
                flush("assistant", &mut parts, input);
                let signature = b.get("signature").and_then(Value::as_str).unwrap_or("");
                // Without a signature there is no reasoning item to give back.
                if !signature.is_empty() {
                    let text = b.get("thinking").and_then(Value::as_str).unwrap_or("");
                    let summary: Vec<Value> = if text.is_empty() {
                        Vec::new()
                    } else {
                        vec![json!({"type": "summary_text", "text": text})]
                    };
                    input.push(json!({"type": "reasoning", "summary": summary, "encrypted_content": signature}));
                }
            }
            "redacted_thinking" => {
                flush("assistant", &mut parts, input);
                if let Some(data) = b.get("data").and_then(Value::as_str).filter(|d| !d.is_empty()) {
                    input.push(json!({"type": "reasoning", "summary": [], "encrypted_content": data}));
                }
            }
            "tool_use" => {
                flush("assistant", &mut parts, input);
                input.push(tool_use(b, &param)?);
            }
            // Server tools ran upstream in an earlier turn; the text that
            // used their results is in the conversation already.
            "server_tool_use" | "web_search_tool_result" | "web_fetch_tool_result" => {}
            other => {
                return Err(Invalid::field(
                    format!("{param}.type"),
                    format!("'{param}.type' {other:?} is not supported in an assistant message; expected text, thinking or tool_use"),
                ))
            }
        }
    }
    flush("assistant", &mut parts, input);
    Ok(())
}

fn tool_use(b: &Value, param: &str) -> Result<Value, Invalid> {
    let field = |key: &str| {
        b.get(key).and_then(Value::as_str).ok_or_else(|| {
            Invalid::field(
                format!("{param}.{key}"),
                format!("'{param}.{key}' must be a string"),
            )
        })
    };
    let id = field("id")?;
    let name = field("name")?;
    let arguments = match b.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(v) => v.to_string(),
    };
    Ok(json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}))
}
