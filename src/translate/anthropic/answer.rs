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
use crate::translate::Collector;
use crate::upstream::events::Usage;

/// Anthropic's usage: `input_tokens` excludes the cached prefix, which is
/// `cache_read_input_tokens`; the backend reports no cache writes.
#[derive(Debug, Serialize, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct AnthropicUsage {
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
pub(super) fn stop_reason(
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
pub(super) fn message_id(response_id: Option<&str>) -> String {
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
pub(super) fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"arguments": arguments}),
    }
}

/// The `message` object for a whole answer; `model` is the model shown.
pub fn answer(c: &Collector, model: &str, shape: &Shape) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::collect::collected;

    #[test]
    fn a_collected_answer_is_a_message_with_thinking_text_and_tool_use() {
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Plan."}], "encrypted_content": "enc-9"}}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "Let me look."}]}}),
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "Bash", "arguments": "{\"command\":\"ls\"}"}}),
            json!({"type": "response.completed", "response": {"id": "resp_abc", "model": "gpt-5.4", "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 7, "total_tokens": 107}}}),
        ]);
        let m = answer(&c, "asked", &Shape::default());
        assert_eq!(
            m,
            json!({
                "id": "msg_abc", "type": "message", "role": "assistant", "model": "gpt-5.4",
                "content": [
                    {"type": "thinking", "thinking": "Plan.", "signature": "enc-9"},
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}}
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 40, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 60}
            })
        );
    }

    #[test]
    fn incomplete_refusal_and_stop_sequences_set_the_stop_reason() {
        let text = |t: &str| json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": t}]}});
        let c = collected(&[
            text("partial"),
            json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}),
        ]);
        let m = answer(&c, "asked", &Shape::default());
        assert_eq!(
            (m["stop_reason"].as_str(), m["model"].as_str()),
            (Some("max_tokens"), Some("asked"))
        );
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "refusal", "refusal": "No."}]}}),
            json!({"type": "response.completed", "response": {}}),
        ]);
        let m = answer(&c, "m", &Shape::default());
        assert_eq!(m["stop_reason"], "refusal");
        assert_eq!(m["content"], json!([{"type": "text", "text": "No."}]));
        let c = collected(&[
            text("one two END three"),
            json!({"type": "response.completed", "response": {}}),
        ]);
        let shape = Shape {
            stop_sequences: crate::translate::anthropic::stops::Stops::new(vec![
                "END".into(),
                "two END".into(),
            ])
            .unwrap(),
            omit_thinking: false,
        };
        let m = answer(&c, "m", &shape);
        assert_eq!(m["content"], json!([{"type": "text", "text": "one "}]));
        assert_eq!(
            (m["stop_reason"].as_str(), m["stop_sequence"].as_str()),
            (Some("stop_sequence"), Some("two END"))
        );
        let m = answer(&c, "m", &Shape::default());
        assert_eq!(
            m["usage"],
            json!({"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
        );
    }

    #[test]
    fn tool_arguments_that_are_not_an_object_are_kept() {
        assert_eq!(tool_input(""), json!({}));
        assert_eq!(tool_input("[1]"), json!({"arguments": "[1]"}));
        assert_eq!(tool_input("{bad"), json!({"arguments": "{bad"}));
    }
}
