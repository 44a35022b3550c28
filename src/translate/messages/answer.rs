//! A collected upstream stream → one Anthropic `message` object, and what the
//! stream converter shares with it: the usage object, the stop reason and
//! the stop-sequence cut.
//!
//! Blocks, in output order: a reasoning item is a `thinking` block (its
//! summary the text, its `encrypted_content` the `signature`), a message's
//! text a `text` block, a function call a `tool_use` block with the parsed
//! arguments as `input`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Shape;
use crate::translate::aggregate::Collector;
use crate::upstream::events::Usage;

/// Anthropic's usage: `input_tokens` excludes the cached prefix, which is
/// `cache_read_input_tokens`; the backend reports no cache writes.
#[derive(Debug, Serialize, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AnthropicUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl From<&Usage> for AnthropicUsage {
    fn from(u: &Usage) -> AnthropicUsage {
        let cached = u.cached().min(u.input_tokens);
        AnthropicUsage {
            input_tokens: u.input_tokens - cached,
            output_tokens: u.output_tokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
        }
    }
}

/// The `stop_reason` of a finished answer.
pub(crate) fn stop_reason(
    incomplete_reason: Option<Option<&str>>,
    tool_used: bool,
    refused: bool,
) -> &'static str {
    match incomplete_reason {
        Some(Some("content_filter")) => "refusal",
        Some(_) => "max_tokens",
        None if refused => "refusal",
        None if tool_used => "tool_use",
        None => "end_turn",
    }
}

/// The message id for an upstream response id.
pub(crate) fn message_id(response_id: Option<&str>) -> String {
    match response_id {
        Some(id) => format!("msg_{}", id.strip_prefix("resp_").unwrap_or(id)),
        None => format!("msg_{}", uuid::Uuid::new_v4().simple()),
    }
}

#[derive(Deserialize, Default)]
struct OutItem {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
    #[serde(default)]
    content: Vec<Part>,
    #[serde(default)]
    summary: Vec<Part>,
    #[serde(default)]
    encrypted_content: Option<String>,
}

#[derive(Deserialize, Default)]
struct Part {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

/// A tool call's arguments as the `input` object; arguments that are not a
/// JSON object are kept under `"arguments"` rather than lost.
pub(crate) fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"arguments": arguments}),
    }
}

/// The `message` object for a whole answer; `model` is the model shown.
pub fn message(c: &Collector, model: &str, shape: &Shape) -> Value {
    let info = c.info();
    let mut content: Vec<Value> = Vec::new();
    let (mut tool_used, mut refused) = (false, false);
    let mut stopped: Option<String> = None;
    let items = c.output_items::<OutItem>();
    let has_text = items.iter().any(|i| i.kind == "message");
    for item in &items {
        if stopped.is_some() {
            break;
        }
        match item.kind.as_str() {
            "reasoning" => {
                let text: Vec<&str> = item
                    .summary
                    .iter()
                    .filter_map(|s| s.text.as_deref())
                    .collect();
                let text = if shape.omit_thinking {
                    String::new()
                } else {
                    text.join("\n\n")
                };
                let signature = item.encrypted_content.clone().unwrap_or_default();
                if !text.is_empty() || !signature.is_empty() {
                    content.push(
                        json!({"type": "thinking", "thinking": text, "signature": signature}),
                    );
                }
            }
            "message" => {
                let mut text = String::new();
                for p in &item.content {
                    match (p.kind.as_str(), &p.text, &p.refusal) {
                        ("output_text", Some(t), _) => text.push_str(t),
                        ("refusal", _, Some(r)) => {
                            refused = true;
                            text.push_str(r);
                        }
                        _ => {}
                    }
                }
                push_text(&mut content, text, shape, &mut stopped);
            }
            "function_call" => {
                tool_used = true;
                content.push(json!({"type": "tool_use",
                    "id": item.call_id.clone().or_else(|| item.id.clone()).unwrap_or_default(),
                    "name": item.name.clone().unwrap_or_default(),
                    "input": tool_input(item.arguments.as_deref().unwrap_or(""))}));
            }
            _ => {}
        }
    }
    if !has_text && !tool_used && !c.streamed_text().is_empty() && stopped.is_none() {
        push_text(
            &mut content,
            c.streamed_text().to_string(),
            shape,
            &mut stopped,
        );
    }
    let reason = match &stopped {
        Some(_) => "stop_sequence",
        None => stop_reason(
            c.is_incomplete().then(|| {
                info.incomplete_details
                    .as_ref()
                    .and_then(|d| d.reason.as_deref())
            }),
            tool_used,
            refused,
        ),
    };
    let usage = info
        .usage
        .as_ref()
        .map(AnthropicUsage::from)
        .unwrap_or_default();
    json!({
        "id": message_id(info.id.as_deref()),
        "type": "message",
        "role": "assistant",
        "model": info.model.as_deref().unwrap_or(model),
        "content": content,
        "stop_reason": reason,
        "stop_sequence": stopped,
        "usage": usage,
    })
}

fn push_text(
    content: &mut Vec<Value>,
    mut text: String,
    shape: &Shape,
    stopped: &mut Option<String>,
) {
    if let Some((at, seq)) = shape.stop_sequences.find(&text) {
        text.truncate(at);
        *stopped = Some(seq.to_string());
    }
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
}
