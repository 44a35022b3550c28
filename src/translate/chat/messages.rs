//! Chat messages → Responses input items (and the leading instructions).
//!
//! The items are written straight into the upstream body's buffer
//! (`translate::input`). What a message carries that the backend reads as
//! it is — text, tool outputs, arguments, image URLs, file data — is copied
//! as the client's JSON string, escapes and all; only the objects around it
//! are new. The checks and their errors are those of a translation over
//! parsed trees: each part is looked into (`parse::raw::Fields`) as far as
//! `Value`'s accessors would.

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::Value;

use super::Message;
use crate::translate::input::{put_as_string, put_joined, put_key, put_str, text_of};
use crate::translate::parse::raw::{self, Fields};
use crate::translate::{quoted, Input, Invalid};

pub(super) fn convert_messages(
    messages: Vec<Message<&RawValue>>,
    size: usize,
) -> Result<(String, Input), Invalid> {
    let mut instructions: Vec<String> = Vec::new();
    let mut input = Input::with_capacity(size);
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
                    let text = text.decoded();
                    if !text.is_empty() {
                        instructions.push(text);
                    }
                } else {
                    let buf = open_message(&mut input, "developer");
                    open_part(buf, "input_text", "text");
                    text.write(buf);
                    buf.extend_from_slice(b"}]}");
                    input.end_item();
                }
            }
            "user" => {
                leading = false;
                user_message(&mut input, content, &at("content"))?;
            }
            "assistant" => {
                leading = false;
                let parts = assistant_parts(content, &at("content"))?;
                let refusal = refusal.filter(|r| !r.is_empty());
                if !parts.is_empty() || refusal.is_some() {
                    let buf = open_message(&mut input, "assistant");
                    for (n, (kind, field, text)) in parts.iter().enumerate() {
                        if n > 0 {
                            buf.push(b',');
                        }
                        open_part(buf, kind, field);
                        buf.extend_from_slice(text.unwrap_or("\"\"").as_bytes());
                        buf.push(b'}');
                    }
                    if let Some(r) = &refusal {
                        if !parts.is_empty() {
                            buf.push(b',');
                        }
                        open_part(buf, "refusal", "refusal");
                        put_str(buf, r);
                        buf.push(b'}');
                    }
                    buf.extend_from_slice(b"]}");
                    input.end_item();
                }
                for (j, call) in tool_calls.into_iter().flatten().enumerate() {
                    let param = at(&format!("tool_calls[{j}]"));
                    if let Some(id) = convert_tool_call(&mut input, call, &param)? {
                        custom_calls.push(id);
                    }
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
                let buf = input.begin_item();
                buf.extend_from_slice(b"{\"type\":\"");
                buf.extend_from_slice(kind.as_bytes());
                buf.extend_from_slice(b"\",\"call_id\":");
                put_str(buf, &call_id);
                put_key(buf, false, "output");
                output.write(buf);
                buf.push(b'}');
                input.end_item();
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

/// Starts `{"type":"message","role":role,"content":[` as a new item.
fn open_message<'i>(input: &'i mut Input, role: &str) -> &'i mut Vec<u8> {
    let buf = input.begin_item();
    buf.extend_from_slice(b"{\"type\":\"message\",\"role\":\"");
    buf.extend_from_slice(role.as_bytes());
    buf.extend_from_slice(b"\",\"content\":[");
    buf
}

/// Starts `{"type":kind,field:` (the value and `}` are the caller's).
fn open_part(buf: &mut Vec<u8>, kind: &str, field: &str) {
    buf.extend_from_slice(b"{\"type\":\"");
    buf.extend_from_slice(kind.as_bytes());
    buf.extend_from_slice(b"\",\"");
    buf.extend_from_slice(field.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// A text made of the client's strings: none, one, or text parts joined.
enum Text<'a> {
    Empty,
    One(&'a str),
    Joined(Vec<&'a str>),
}

impl Text<'_> {
    /// As one JSON string, the client's escapes kept.
    fn write(&self, buf: &mut Vec<u8>) {
        match self {
            Text::Empty => buf.extend_from_slice(b"\"\""),
            Text::One(literal) => buf.extend_from_slice(literal.as_bytes()),
            Text::Joined(literals) => put_joined(buf, "", literals.iter().copied(), ""),
        }
    }

    fn decoded(&self) -> String {
        match self {
            Text::Empty => String::new(),
            Text::One(literal) => text_of(literal).map(Cow::into_owned).unwrap_or_default(),
            Text::Joined(literals) => literals
                .iter()
                .filter_map(|l| text_of(l))
                .collect::<Vec<_>>()
                .concat(),
        }
    }
}

/// Text content: a string, or an array of text parts joined.
fn text_only<'a>(content: Option<&'a RawValue>, param: &str) -> Result<Text<'a>, Invalid> {
    let Some(content) = content.filter(|c| !raw::is_null(c)) else {
        return Ok(Text::Empty);
    };
    let json = content.get();
    if json.starts_with('"') {
        return Ok(Text::One(json));
    }
    if !raw::is_array(content) {
        return Err(Invalid::field(
            param,
            format!(
                "'{param}' must be a string or an array of parts, not {}",
                raw::type_name(json)
            ),
        ));
    }
    let parts = raw::elements_fields(content);
    let mut out = Vec::with_capacity(parts.len());
    for (k, f) in parts.iter().enumerate() {
        match (f.str("type").as_deref(), f.literal("text")) {
            (Some("text" | "input_text" | "output_text"), Some(t)) => out.push(t),
            _ => {
                return Err(Invalid::field(
                    format!("{param}[{k}]"),
                    format!(
                    "'{param}[{k}]' must be a text part ({{\"type\":\"text\",\"text\":…}}) here"
                ),
                ))
            }
        }
    }
    Ok(Text::Joined(out))
}

/// An array's elements, each as its text.
fn elements(array: &RawValue) -> Vec<&RawValue> {
    serde_json::from_str(array.get()).unwrap_or_default()
}

fn user_message(input: &mut Input, content: Option<&RawValue>, param: &str) -> Result<(), Invalid> {
    let content = match content.filter(|c| !raw::is_null(c)) {
        None => {
            return Err(Invalid::field(
                param,
                format!("'{param}' is required for a user message"),
            ))
        }
        Some(c) => c,
    };
    let json = content.get();
    if json.starts_with('"') {
        let buf = open_message(input, "user");
        open_part(buf, "input_text", "text");
        buf.extend_from_slice(json.as_bytes());
        buf.extend_from_slice(b"}]}");
        input.end_item();
        return Ok(());
    }
    if !raw::is_array(content) {
        return Err(Invalid::field(
            param,
            format!(
                "'{param}' must be a string or an array of parts, not {}",
                raw::type_name(json)
            ),
        ));
    }
    let buf = open_message(input, "user");
    for (k, p) in elements(content).into_iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        user_part(buf, p, Fields::of(p), &format!("{param}[{k}]"))?;
    }
    buf.extend_from_slice(b"]}");
    input.end_item();
    Ok(())
}

fn user_part(buf: &mut Vec<u8>, p: &RawValue, f: Fields<'_>, param: &str) -> Result<(), Invalid> {
    match f.str("type").as_deref().unwrap_or("") {
        "text" | "input_text" => {
            let text = f.literal("text").ok_or_else(|| {
                Invalid::field(
                    format!("{param}.text"),
                    format!("'{param}.text' must be a string"),
                )
            })?;
            open_part(buf, "input_text", "text");
            buf.extend_from_slice(text.as_bytes());
            buf.push(b'}');
        }
        "image_url" => {
            let (url, detail) = match f.get("image_url") {
                Some(u) if u.get().starts_with('"') => (Some(u.get()), None),
                Some(o) if raw::is_object(o) => {
                    let o = Fields::of(o);
                    (o.literal("url"), o.literal("detail"))
                }
                _ => (None, None),
            };
            let Some(url) = url.filter(|u| {
                text_of(u).is_some_and(|u| {
                    u.starts_with("data:") || u.starts_with("http://") || u.starts_with("https://")
                })
            }) else {
                return Err(Invalid::field(
                    format!("{param}.image_url.url"),
                    format!("'{param}.image_url.url' must be a data: or http(s) URL"),
                ));
            };
            open_part(buf, "input_image", "image_url");
            buf.extend_from_slice(url.as_bytes());
            put_key(buf, false, "detail");
            buf.extend_from_slice(detail.unwrap_or("\"auto\"").as_bytes());
            buf.push(b'}');
        }
        "file" | "input_file" => {
            let file = match f.get("file") {
                Some(o) if raw::is_object(o) => Fields::of(o),
                Some(_) => Fields::default(),
                None => f,
            };
            let keys = ["file_data", "file_id", "filename", "file_url"];
            if !["file_data", "file_id", "file_url"]
                .iter()
                .any(|k| file.get(k).is_some())
            {
                return Err(Invalid::field(
                    format!("{param}.file"),
                    format!("'{param}.file' needs file_data, file_id or file_url"),
                ));
            }
            buf.extend_from_slice(b"{\"type\":\"input_file\"");
            for key in keys {
                if let Some(v) = file.get(key) {
                    put_key(buf, false, key);
                    buf.extend_from_slice(v.get().as_bytes());
                }
            }
            buf.push(b'}');
        }
        "input_image" => buf.extend_from_slice(p.get().as_bytes()),
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
    }
    Ok(())
}

/// An assistant message's parts: (type, field, the text's literal; `None`:
/// no string there, an empty text).
type Part<'a> = (&'static str, &'static str, Option<&'a str>);

fn assistant_parts<'a>(
    content: Option<&'a RawValue>,
    param: &str,
) -> Result<Vec<Part<'a>>, Invalid> {
    let Some(content) = content.filter(|c| !raw::is_null(c)) else {
        return Ok(Vec::new());
    };
    let json = content.get();
    if json == "\"\"" {
        return Ok(Vec::new());
    }
    if json.starts_with('"') {
        return Ok(vec![("output_text", "text", Some(json))]);
    }
    if !raw::is_array(content) {
        return Err(Invalid::field(
            param,
            format!(
                "'{param}' must be a string or an array of parts, not {}",
                raw::type_name(json)
            ),
        ));
    }
    raw::elements_fields(content)
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let (kind, field) = match f.str("type").as_deref() {
                Some("text" | "output_text") => ("output_text", "text"),
                Some("refusal") => ("refusal", "refusal"),
                _ => {
                    return Err(Invalid::field(
                        format!("{param}[{k}]"),
                        format!("'{param}[{k}]' must be a text or refusal part"),
                    ))
                }
            };
            Ok((kind, field, f.literal(field)))
        })
        .collect()
}

/// Writes a tool call's item; returns its id when it is a custom tool's.
fn convert_tool_call(
    input: &mut Input,
    call: &RawValue,
    param: &str,
) -> Result<Option<String>, Invalid> {
    let c = Fields::of(call);
    let id = c.literal("id").ok_or_else(|| {
        Invalid::field(
            format!("{param}.id"),
            format!("'{param}.id' must be a string"),
        )
    })?;
    match c.str("type").as_deref().unwrap_or("function") {
        "function" => {
            let f = c.get("function").ok_or_else(|| {
                Invalid::field(
                    format!("{param}.function"),
                    format!("'{param}.function' is required"),
                )
            })?;
            let f = Fields::of(f);
            let name = f.literal("name").ok_or_else(|| {
                Invalid::field(
                    format!("{param}.function.name"),
                    format!("'{param}.function.name' must be a string"),
                )
            })?;
            let buf = input.begin_item();
            buf.extend_from_slice(b"{\"type\":\"function_call\",\"call_id\":");
            buf.extend_from_slice(id.as_bytes());
            put_key(buf, false, "name");
            buf.extend_from_slice(name.as_bytes());
            put_key(buf, false, "arguments");
            match f.get("arguments") {
                None => buf.extend_from_slice(b"\"{}\""),
                Some(a) if raw::is_null(a) => buf.extend_from_slice(b"\"{}\""),
                Some(a) if a.get().starts_with('"') => buf.extend_from_slice(a.get().as_bytes()),
                // Any other JSON: its text, as a tree would print it.
                Some(a) => match serde_json::from_str::<Value>(a.get()) {
                    Ok(v) => put_str(buf, &v.to_string()),
                    Err(_) => put_as_string(buf, a.get()),
                },
            }
            buf.push(b'}');
            input.end_item();
            Ok(None)
        }
        "custom" => {
            let custom = c.get("custom").map(Fields::of).unwrap_or_default();
            let buf = input.begin_item();
            buf.extend_from_slice(b"{\"type\":\"custom_tool_call\",\"call_id\":");
            buf.extend_from_slice(id.as_bytes());
            put_key(buf, false, "name");
            buf.extend_from_slice(custom.literal("name").unwrap_or("\"\"").as_bytes());
            put_key(buf, false, "input");
            buf.extend_from_slice(custom.literal("input").unwrap_or("\"\"").as_bytes());
            buf.push(b'}');
            input.end_item();
            Ok(Some(text_of(id).map(Cow::into_owned).unwrap_or_default()))
        }
        other => Err(Invalid::field(
            format!("{param}.type"),
            format!("unknown tool call type {}", quoted(other)),
        )),
    }
}
