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
//!
//! The items are written straight into the upstream body's buffer
//! (`translate::input`): the client's strings (text, tool results, image
//! data, signatures) are copied as its JSON text, escapes and all, and a
//! string made of several (an image's data URL, a tool result's joined
//! text) is joined without decoding them. The checks and errors are those
//! of a translation over parsed trees (`parse::raw::Fields` answers as
//! `Value`'s accessors do).

use std::ops::Range;

use serde_json::Value;

use super::request::{wrong_type, Message};
use crate::translate::input::{put_as_string, put_joined, put_key};
use crate::translate::parse::raw::{self, inside, Fields};
use crate::translate::{Input, Invalid};

mod blocks;
mod media;

pub use blocks::Content;
pub(crate) use blocks::Held;

use media::{document, image};

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

pub(super) fn convert_messages(
    messages: &[Message<Content<'_>>],
    size: usize,
) -> Result<Input, Invalid> {
    let mut input = Input::with_capacity(size);
    for (i, m) in messages.iter().enumerate() {
        let mut at = indexed("messages", i);
        at.push_str(".content");
        // A content given as one string: its literal, as a text block.
        let plain;
        let one;
        let blocks: &[Fields<'_>] = match &m.content.0 {
            Held::Blocks(blocks) => blocks,
            Held::Plain(text) => {
                // Without escapes, the text is also its literal's inside:
                // written back as it came.
                plain = serde_json::value::to_raw_value(text)
                    .map_err(|e| Invalid::field(&at, format!("'{at}': {e}")))?;
                one = [Fields::text_block(&plain)];
                &one
            }
            Held::Literal(literal) => {
                one = [Fields::text_block(literal)];
                &one
            }
            // Read again as its literal by `MessagesRequest::parse`.
            Held::Escaped => return Err(Invalid::field(&at, format!("'{at}' could not be read"))),
            Held::Other(kind) => {
                return Err(Invalid::field(
                    &at,
                    format!("'{at}' must be a string or an array of blocks, not {kind}"),
                ))
            }
        };
        match m.role.as_str() {
            "user" => user_turn(blocks, &at, &mut input)?,
            "assistant" => assistant_turn(blocks, &at, &mut input)?,
            "system" => {
                let mut turn = Turn::new("developer");
                for (k, b) in blocks.iter().enumerate() {
                    let text = text_literal(b, &indexed(&at, k))?;
                    let buf = turn.part(&mut input);
                    buf.extend_from_slice(br#"{"type":"input_text","text":"#);
                    buf.extend_from_slice(text.as_bytes());
                    buf.push(b'}');
                }
                turn.open_empty(&mut input);
                turn.close(&mut input);
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

/// `base[k]`, an error's parameter name, made for every block whether or
/// not an error names it: written without the formatting machinery.
fn indexed(base: &str, k: usize) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = k;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(base.len() + digits.len() - at + 2);
    s.push_str(base);
    s.push('[');
    s.extend(digits[at..].iter().map(|&d| char::from(d)));
    s.push(']');
    s
}

/// The error for a value of the wrong JSON type, from its text.
fn wrong_type_raw(param: &str, expected: &str, json: &str) -> Invalid {
    Invalid::field(
        param,
        format!("'{param}' must be {expected}, not {}", raw::type_name(json)),
    )
}

/// A `{"type":"text","text":…}` block's text, as the client's literal.
fn text_literal<'a>(block: &Fields<'a>, param: &str) -> Result<&'a str, Invalid> {
    match (block.str("type").as_deref(), block.literal("text")) {
        (Some("text"), Some(t)) => Ok(t),
        _ => Err(Invalid::field(
            param,
            format!("'{param}' must be a text block ({{\"type\":\"text\",\"text\":…}})"),
        )),
    }
}

/// A message item of one role, opened at its first part and closed before
/// the next item (a turn's parts around its tool results and calls).
struct Turn {
    role: &'static str,
    open: bool,
}

impl Turn {
    fn new(role: &'static str) -> Turn {
        Turn { role, open: false }
    }

    /// The buffer to write one more part into.
    fn part<'i>(&mut self, input: &'i mut Input) -> &'i mut Vec<u8> {
        if self.open {
            let buf = input.buf();
            buf.push(b',');
            return buf;
        }
        self.open = true;
        let buf = input.begin_item();
        buf.extend_from_slice(br#"{"type":"message","role":""#);
        buf.extend_from_slice(self.role.as_bytes());
        buf.extend_from_slice(br#"","content":["#);
        buf
    }

    /// A message even without parts (a `system` message's).
    fn open_empty(&mut self, input: &mut Input) {
        if !self.open {
            self.part(input);
        }
    }

    fn close(&mut self, input: &mut Input) {
        if std::mem::take(&mut self.open) {
            input.buf().extend_from_slice(b"]}");
            input.end_item();
        }
    }
}

fn user_turn(blocks: &[Fields<'_>], at: &str, input: &mut Input) -> Result<(), Invalid> {
    let mut turn = Turn::new("user");
    for (k, b) in blocks.iter().enumerate() {
        let param = indexed(at, k);
        match kind(b).as_deref().unwrap_or("") {
            "tool_result" => {
                turn.close(input);
                tool_result(b, &param, input)?;
            }
            _ => {
                let buf = turn.part(input);
                user_part(b, &param, buf)?;
            }
        }
    }
    turn.close(input);
    Ok(())
}

fn kind<'a>(b: &Fields<'a>) -> Option<std::borrow::Cow<'a, str>> {
    b.str("type")
}

/// One user block as a Responses content part, written into `buf`; for an
/// `input_text` part, where its text literal is in `buf`.
fn user_part(
    b: &Fields<'_>,
    param: &str,
    buf: &mut Vec<u8>,
) -> Result<Option<Range<usize>>, Invalid> {
    let text_part = |buf: &mut Vec<u8>| {
        buf.extend_from_slice(br#"{"type":"input_text","text":"#);
        buf.len()
    };
    match kind(b).as_deref().unwrap_or("") {
        "text" => {
            let text = text_literal(b, param)?;
            let start = text_part(buf);
            buf.extend_from_slice(text.as_bytes());
            let end = buf.len();
            buf.push(b'}');
            Ok(Some(start..end))
        }
        "image" => image(b, param, buf).map(|()| None),
        "document" => document(b, param, buf),
        "search_result" => {
            let title = b.literal("title").map_or("", inside);
            let source = b.literal("source").map_or("", inside);
            let start = text_part(buf);
            buf.push(b'"');
            buf.extend_from_slice(title.as_bytes());
            buf.extend_from_slice(b" (");
            buf.extend_from_slice(source.as_bytes());
            buf.extend_from_slice(b")\\n");
            for c in b.get("content").filter(|c| raw::is_array(c)).map(raw::elements_fields).unwrap_or_default() {
                buf.extend_from_slice(c.literal("text").map_or("", inside).as_bytes());
                buf.extend_from_slice(b"\\n");
            }
            buf.push(b'"');
            let end = buf.len();
            buf.push(b'}');
            Ok(Some(start..end))
        }
        other => Err(Invalid::field(
            format!("{param}.type"),
            format!("'{param}.type' {other:?} is not supported in a user message; expected text, image, document or tool_result"),
        )),
    }
}

/// `tool_result` → `function_call_output`: a string when the result is
/// text only, else content parts. `is_error` is said in the text, as the
/// Responses item has no such field.
fn tool_result(b: &Fields<'_>, param: &str, input: &mut Input) -> Result<(), Invalid> {
    let Some(id) = b.literal("tool_use_id") else {
        return Err(Invalid::field(
            format!("{param}.tool_use_id"),
            format!("'{param}.tool_use_id' must be a string"),
        ));
    };
    let error = b.bool("is_error") == Some(true);
    let prefix = if error { "Error: " } else { "" };
    // The parts of a result made of blocks, rendered before the item starts.
    let mut parts = Vec::new();
    let mut texts: Vec<Option<Range<usize>>> = Vec::new();
    let content = b.get("content").filter(|c| !raw::is_null(c));
    if let Some(c) = content {
        if raw::is_array(c) {
            for (k, f) in raw::elements_fields(c).iter().enumerate() {
                if k > 0 {
                    parts.push(b',');
                }
                texts.push(user_part(f, &format!("{param}.content[{k}]"), &mut parts)?);
            }
        } else if !c.get().starts_with('"') {
            return Err(wrong_type_raw(
                &format!("{param}.content"),
                "a string or blocks",
                c.get(),
            ));
        }
    }
    let buf = input.begin_item();
    buf.extend_from_slice(br#"{"type":"function_call_output","call_id":"#);
    buf.extend_from_slice(id.as_bytes());
    put_key(buf, false, "output");
    match content {
        None => {
            buf.push(b'"');
            buf.extend_from_slice(prefix.trim_end().as_bytes());
            buf.push(b'"');
        }
        Some(c) if c.get().starts_with('"') => put_joined(buf, prefix, [c.get()], ""),
        Some(_) if texts.iter().all(Option::is_some) => {
            let literals = texts
                .iter()
                .flatten()
                .map(|r| std::str::from_utf8(&parts[r.clone()]).unwrap_or("\"\""));
            put_joined(buf, prefix, literals, "\\n");
        }
        Some(_) => {
            buf.push(b'[');
            if error {
                buf.extend_from_slice(br#"{"type":"input_text","text":"Error:"},"#);
            }
            buf.extend_from_slice(&parts);
            buf.push(b']');
        }
    }
    buf.push(b'}');
    input.end_item();
    Ok(())
}

fn assistant_turn(blocks: &[Fields<'_>], at: &str, input: &mut Input) -> Result<(), Invalid> {
    let mut turn = Turn::new("assistant");
    for (k, b) in blocks.iter().enumerate() {
        let param = indexed(at, k);
        match kind(b).as_deref().unwrap_or("") {
            "text" => {
                let text = text_literal(b, &param)?;
                if text != "\"\"" {
                    let buf = turn.part(input);
                    buf.extend_from_slice(br#"{"type":"output_text","text":"#);
                    buf.extend_from_slice(text.as_bytes());
                    buf.push(b'}');
                }
            }
            "thinking" => {
                turn.close(input);
                let signature = b.literal("signature").unwrap_or("\"\"");
                // Without a signature there is no reasoning item to give back.
                if signature != "\"\"" {
                    let text = b.literal("thinking").unwrap_or("\"\"");
                    let buf = input.begin_item();
                    buf.extend_from_slice(br#"{"type":"reasoning","summary":["#);
                    if text != "\"\"" {
                        buf.extend_from_slice(br#"{"type":"summary_text","text":"#);
                        buf.extend_from_slice(text.as_bytes());
                        buf.push(b'}');
                    }
                    buf.extend_from_slice(br#"],"encrypted_content":"#);
                    buf.extend_from_slice(signature.as_bytes());
                    buf.push(b'}');
                    input.end_item();
                    input.blob(signature);
                }
            }
            "redacted_thinking" => {
                turn.close(input);
                if let Some(data) = b.literal("data").filter(|d| *d != "\"\"") {
                    let buf = input.begin_item();
                    buf.extend_from_slice(br#"{"type":"reasoning","summary":[],"encrypted_content":"#);
                    buf.extend_from_slice(data.as_bytes());
                    buf.push(b'}');
                    input.end_item();
                    input.blob(data);
                }
            }
            "tool_use" => {
                turn.close(input);
                tool_use(b, &param, input)?;
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
    turn.close(input);
    Ok(())
}

/// `tool_use` → `function_call`: the arguments are the input's JSON text
/// (as the client wrote it, whitespace between tokens left out).
fn tool_use(b: &Fields<'_>, param: &str, input: &mut Input) -> Result<(), Invalid> {
    let field = |key: &str| {
        b.literal(key).ok_or_else(|| {
            Invalid::field(
                format!("{param}.{key}"),
                format!("'{param}.{key}' must be a string"),
            )
        })
    };
    let id = field("id")?;
    let name = field("name")?;
    let buf = input.begin_item();
    buf.extend_from_slice(br#"{"type":"function_call","call_id":"#);
    buf.extend_from_slice(id.as_bytes());
    put_key(buf, false, "name");
    buf.extend_from_slice(name.as_bytes());
    put_key(buf, false, "arguments");
    match b.get("input").filter(|v| !raw::is_null(v)) {
        None => buf.extend_from_slice(br#""{}""#),
        Some(v) => put_as_string(buf, v.get()),
    }
    buf.push(b'}');
    input.end_item();
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_indexed_name_is_what_format_writes() {
        for k in [0, 1, 9, 10, 99, 100, 12_345, usize::MAX] {
            assert_eq!(super::indexed("messages", k), format!("messages[{k}]"));
        }
    }
}
