//! `POST /v1/messages/count_tokens` without upstream: the backend has no
//! counting endpoint, so the count is a local estimate.
//!
//! About four bytes of text per token (the usual rule of thumb for English
//! and code with GPT tokenizers), over the text of `system`, the messages'
//! text, thinking, tool inputs and tool results, and the JSON of `tools`;
//! each image or document counts a flat 1 600 tokens (a large image's cost).
//! It is meant for context-window warnings, not billing.

use serde_json::Value;

use crate::translate::parse::parse_body;
use crate::translate::{limits, Invalid};

/// Tokens for one image or document.
const MEDIA_TOKENS: u64 = 1600;
/// Bytes of text per token.
const BYTES_PER_TOKEN: u64 = 4;

/// The estimate for a `count_tokens` body (a Messages request without
/// `max_tokens`).
pub fn estimate_input_tokens(body: &[u8]) -> Result<u64, Invalid> {
    limits::check(body, &limits::MESSAGES)?;
    let v: Value = parse_body(body)?;
    if !v.get("messages").is_some_and(Value::is_array) {
        return Err(Invalid::field("messages", "'messages' must be an array"));
    }
    let mut tally = Tally::default();
    if let Some(s) = v.get("system") {
        tally.walk(s);
    }
    for m in v["messages"].as_array().into_iter().flatten() {
        if let Some(c) = m.get("content") {
            tally.walk(c);
        }
    }
    if let Some(t) = v.get("tools") {
        tally.bytes += t.to_string().len() as u64;
    }
    Ok(tally.bytes.div_ceil(BYTES_PER_TOKEN) + tally.media * MEDIA_TOKENS)
}

#[derive(Default)]
struct Tally {
    bytes: u64,
    media: u64,
}

impl Tally {
    fn walk(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.bytes += s.len() as u64,
            Value::Array(items) => items.iter().for_each(|i| self.walk(i)),
            Value::Object(o) => match o.get("type").and_then(Value::as_str) {
                Some("image" | "document") => self.media += 1,
                Some("tool_use") => {
                    self.bytes += o.get("input").map_or(0, |i| i.to_string().len() as u64)
                }
                _ => {
                    for key in ["text", "thinking", "content"] {
                        if let Some(x) = o.get(key) {
                            self.walk(x);
                        }
                    }
                }
            },
            _ => {}
        }
    }
}
