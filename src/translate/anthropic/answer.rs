//! A collected upstream stream → one Anthropic `message` object, and what the
//! stream converter shares with it: the usage object, the stop reason and
//! the stop-sequence cut.
//!
//! Blocks, in output order: a reasoning item is a `thinking` block (its
//! summary the text, its `encrypted_content` the `signature`), a message's
//! text a `text` block, a function call a `tool_use` block with the parsed
//! arguments as `input`.

use std::borrow::Cow;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::Shape;
use crate::translate::collect::{append, Answer, OutputItem};
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

// The `message` object's shape. Fields are declared in alphabetical order:
// the answer was a `serde_json::Value` tree before (sorted keys), and stays
// what it was byte for byte, but for a tool call's `input`, which is now the
// arguments as the model wrote them (the same JSON object).

#[derive(Serialize)]
struct MessageOut<'a> {
    content: &'a [BlockOut<'a>],
    id: MessageId<'a>,
    model: &'a str,
    role: &'static str,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    usage: SortedUsage,
}

#[derive(Serialize)]
#[serde(untagged)]
enum BlockOut<'a> {
    Thinking {
        signature: Cow<'a, str>,
        thinking: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Text {
        text: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    ToolUse {
        id: Cow<'a, str>,
        input: ToolInput<'a>,
        name: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

/// `AnthropicUsage` with its keys in alphabetical order (see above; the
/// stream's frames use it too).
#[derive(Serialize)]
pub(super) struct SortedUsage {
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    input_tokens: u64,
    output_tokens: u64,
}

impl From<AnthropicUsage> for SortedUsage {
    fn from(u: AnthropicUsage) -> SortedUsage {
        SortedUsage {
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        }
    }
}

/// `msg_<upstream's response id without resp_>`, else a fresh one; written
/// as it is serialized.
struct MessageId<'a>(Option<&'a str>);

impl Serialize for MessageId<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for MessageId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "msg_{}", id.strip_prefix("resp_").unwrap_or(id)),
            None => write!(f, "msg_{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// A tool call's arguments as the `input` object, written as the model wrote
/// them when they are one (checked as they are written: one pass);
/// arguments that are not a JSON object are kept under `"arguments"` rather
/// than lost.
struct ToolInput<'a>(Cow<'a, str>);

impl Serialize for ToolInput<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let arguments = self.0.as_ref();
        if arguments.trim().is_empty() {
            return s.serialize_map(Some(0))?.end();
        }
        match serde_json::from_str::<&RawValue>(arguments) {
            Ok(raw) if raw.get().starts_with('{') => raw.serialize(s),
            _ => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("arguments", arguments)?;
                map.end()
            }
        }
    }
}

/// The `message` object for a whole answer; `model` is the model shown.
pub fn answer(c: &Collector, model: &str, shape: &Shape) -> Answer {
    let info = c.info();
    let mut content: Vec<BlockOut<'_>> = Vec::new();
    let (mut tool_used, mut refused) = (false, false);
    let mut stopped: Option<&str> = None;
    let items = c.output_items::<OutputItem<'_>>();
    let has_text = items.iter().any(|i| i.kind == "message");
    let mut size = 256;
    for item in items {
        if stopped.is_some() {
            break;
        }
        match item.kind.as_ref() {
            "reasoning" => {
                let text = if shape.omit_thinking {
                    Cow::Borrowed("")
                } else {
                    let mut parts = item.summary.into_iter().filter_map(|s| s.text);
                    let mut text = parts.next().unwrap_or_default();
                    for part in parts {
                        let t = text.to_mut();
                        t.push_str("\n\n");
                        t.push_str(&part);
                    }
                    text
                };
                let signature = item.encrypted_content.unwrap_or_default();
                if !text.is_empty() || !signature.is_empty() {
                    size += text.len() + signature.len() + 64;
                    content.push(BlockOut::Thinking {
                        signature,
                        thinking: text,
                        kind: "thinking",
                    });
                }
            }
            "message" => {
                let mut text = Cow::Borrowed("");
                for p in item.content {
                    match (p.kind.as_ref(), p.text, p.refusal) {
                        ("output_text", Some(t), _) => append(&mut text, t),
                        ("refusal", _, Some(r)) => {
                            refused = true;
                            append(&mut text, r);
                        }
                        _ => {}
                    }
                }
                size += text.len() + 32;
                push_text(&mut content, text, shape, &mut stopped);
            }
            "function_call" => {
                tool_used = true;
                let arguments = item.arguments.unwrap_or_default();
                size += arguments.len() + 96;
                content.push(BlockOut::ToolUse {
                    id: item.call_id.or(item.id).unwrap_or_default(),
                    input: ToolInput(arguments),
                    name: item.name.unwrap_or_default(),
                    kind: "tool_use",
                });
            }
            _ => {}
        }
    }
    if !has_text && !tool_used && !c.streamed_text().is_empty() && stopped.is_none() {
        size += c.streamed_text().len() + 32;
        push_text(
            &mut content,
            Cow::Borrowed(c.streamed_text()),
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
    let shown = info.model.as_deref().unwrap_or(model);
    let message = MessageOut {
        content: &content,
        id: MessageId(info.id.as_deref()),
        model: shown,
        role: "assistant",
        stop_reason: reason,
        stop_sequence: stopped,
        kind: "message",
        usage: usage.into(),
    };
    Answer::of(&message, size, Some(shown.to_owned()))
}

fn push_text<'a>(
    content: &mut Vec<BlockOut<'a>>,
    mut text: Cow<'a, str>,
    shape: &'a Shape,
    stopped: &mut Option<&'a str>,
) {
    if let Some((at, seq)) = shape.stop_sequences.find(&text) {
        text = match text {
            Cow::Borrowed(t) => Cow::Borrowed(t.get(..at).unwrap_or(t)),
            Cow::Owned(mut t) => {
                t.truncate(at);
                Cow::Owned(t)
            }
        };
        *stopped = Some(seq);
    }
    if !text.is_empty() {
        content.push(BlockOut::Text { text, kind: "text" });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::translate::collect::collected;

    /// The answer's body, parsed.
    fn render(c: &Collector, model: &str, shape: &Shape) -> Value {
        serde_json::from_slice(&answer(c, model, shape).body).unwrap()
    }

    fn tool_input(arguments: &str) -> String {
        serde_json::to_string(&ToolInput(Cow::Borrowed(arguments))).unwrap()
    }

    #[test]
    fn the_body_is_byte_for_byte_the_sorted_json_it_was() {
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}], "encrypted_content": "enc"}}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "x\"y"}]}}),
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "call_id": "call_1", "name": "ls", "arguments": "{\"a\":1,\"b\":[true]}"}}),
            json!({"type": "response.completed", "response": {"id": "resp_7", "usage": {"input_tokens": 5, "output_tokens": 2}}}),
        ]);
        let a = answer(&c, "asked", &Shape::default());
        let was = json!({
            "id": "msg_7", "type": "message", "role": "assistant", "model": "asked",
            "content": [
                {"type": "thinking", "thinking": "a\n\nb", "signature": "enc"},
                {"type": "text", "text": "x\"y"},
                {"type": "tool_use", "id": "call_1", "name": "ls", "input": {"a": 1, "b": [true]}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 2, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        });
        assert_eq!(
            String::from_utf8(a.body).unwrap(),
            serde_json::to_string(&was).unwrap()
        );
        assert_eq!(a.model.as_deref(), Some("asked"));
    }

    #[test]
    fn a_collected_answer_is_a_message_with_thinking_text_and_tool_use() {
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Plan."}], "encrypted_content": "enc-9"}}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "Let me look."}]}}),
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "Bash", "arguments": "{\"command\":\"ls\"}"}}),
            json!({"type": "response.completed", "response": {"id": "resp_abc", "model": "gpt-5.4", "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 7, "total_tokens": 107}}}),
        ]);
        let m = render(&c, "asked", &Shape::default());
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
        let m = render(&c, "asked", &Shape::default());
        assert_eq!(
            (m["stop_reason"].as_str(), m["model"].as_str()),
            (Some("max_tokens"), Some("asked"))
        );
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "refusal", "refusal": "No."}]}}),
            json!({"type": "response.completed", "response": {}}),
        ]);
        let m = render(&c, "m", &Shape::default());
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
        let m = render(&c, "m", &shape);
        assert_eq!(m["content"], json!([{"type": "text", "text": "one "}]));
        assert_eq!(
            (m["stop_reason"].as_str(), m["stop_sequence"].as_str()),
            (Some("stop_sequence"), Some("two END"))
        );
        let m = render(&c, "m", &Shape::default());
        assert_eq!(
            m["usage"],
            json!({"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
        );
    }

    #[test]
    fn tool_arguments_that_are_not_an_object_are_kept() {
        assert_eq!(tool_input(""), "{}");
        assert_eq!(tool_input("[1]"), r#"{"arguments":"[1]"}"#);
        assert_eq!(tool_input("{bad"), r#"{"arguments":"{bad"}"#);
        // An object is written as the model wrote it.
        assert_eq!(tool_input(" {\"b\": 1, \"a\": 2} "), r#"{"b": 1, "a": 2}"#);
    }
}
