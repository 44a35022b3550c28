//! A collected upstream stream → one `chat.completion` object.
//!
//! The message's text and refusal come from the output items (else from the
//! streamed text deltas), `reasoning_content` from the reasoning items'
//! summaries (else the streamed reasoning), `tool_calls` from function and
//! custom tool call items; the finish reason and usage from the final
//! response.

use serde_json::{json, Value};

use super::wire::{incomplete_finish_reason, ChatUsage};
use crate::translate::Collector;
use crate::upstream::events::Item;

/// What the output items say, gathered for the message.
#[derive(Default)]
struct Gathered {
    content: String,
    refusal: Option<String>,
    reasoning: Vec<String>,
    tool_calls: Vec<Value>,
}

impl Gathered {
    fn add(&mut self, item: Item) {
        match item.kind.as_str() {
            "message" => {
                for part in &item.content {
                    match (part.kind.as_str(), &part.text, &part.refusal) {
                        ("output_text", Some(t), _) => self.content.push_str(t),
                        ("refusal", _, Some(r)) => {
                            self.refusal.get_or_insert_with(String::new).push_str(r)
                        }
                        _ => {}
                    }
                }
            }
            "reasoning" => self
                .reasoning
                .extend(item.summary.iter().filter_map(|s| s.text.clone())),
            "function_call" => self.tool_calls.push(json!({
                "id": item.call_id.or(item.id).unwrap_or_default(),
                "type": "function",
                "function": {"name": item.name.unwrap_or_default(), "arguments": item.arguments.unwrap_or_default()},
            })),
            "custom_tool_call" => self.tool_calls.push(json!({
                "id": item.call_id.or(item.id).unwrap_or_default(),
                "type": "custom",
                "custom": {"name": item.name.unwrap_or_default(), "input": item.input.unwrap_or_default()},
            })),
            _ => {}
        }
    }
}

/// The `chat.completion` object; `model` is shown when upstream named none.
pub fn answer(c: &Collector, model: &str, created: u64) -> Value {
    let info = c.info();
    let mut got = Gathered::default();
    for item in c.output_items::<Item>() {
        got.add(item);
    }
    let Gathered {
        mut content,
        refusal,
        reasoning,
        tool_calls,
    } = got;
    if content.is_empty() && tool_calls.is_empty() {
        content = c.streamed_text().to_string();
    }
    let reasoning = if reasoning.is_empty() {
        c.streamed_reasoning().to_string()
    } else {
        reasoning.join("\n\n")
    };
    let finish_reason = if c.is_incomplete() {
        incomplete_finish_reason(
            info.incomplete_details
                .as_ref()
                .and_then(|d| d.reason.as_deref()),
        )
    } else if tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    let mut message = json!({"role": "assistant", "content": content, "refusal": refusal});
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !tool_calls.is_empty() {
        if content.is_empty() {
            message["content"] = Value::Null;
        }
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let id = info
        .id
        .as_deref()
        .map(|id| format!("chatcmpl-{}", id.strip_prefix("resp_").unwrap_or(id)))
        .unwrap_or_else(|| format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()));
    let usage = info.usage.as_ref().map(ChatUsage::from);
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": info.model.as_deref().unwrap_or(model),
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::collect::collected;

    #[test]
    fn text_reasoning_and_usage() {
        let c = collected(&[
            json!({"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.4"}}),
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]}}),
            json!({"type": "response.output_text.delta", "delta": "Hel"}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "model": "gpt-5.4-real", "output": [],
                "usage": {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 12}}}),
        ]);
        let v = answer(&c, "asked", 7);
        assert_eq!(v["id"], "chatcmpl-1");
        assert_eq!(v["model"], "gpt-5.4-real");
        assert_eq!(v["choices"][0]["message"]["content"], "Hello");
        assert_eq!(v["choices"][0]["message"]["reasoning_content"], "thinking");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["prompt_tokens"], 9);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
        assert_eq!(
            v["usage"]["completion_tokens_details"]["reasoning_tokens"],
            1
        );
        assert_eq!(v["usage"]["total_tokens"], 12);
    }

    #[test]
    fn function_calls_come_from_done_items() {
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "ls", "arguments": "{\"p\":1}"}}),
            json!({"type": "response.completed", "response": {"id": "resp_2"}}),
        ]);
        let v = answer(&c, "m", 0);
        let msg = &v["choices"][0]["message"];
        assert_eq!(msg["content"], Value::Null);
        assert_eq!(msg["tool_calls"][0]["id"], "call_1");
        assert_eq!(msg["tool_calls"][0]["function"]["arguments"], "{\"p\":1}");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn incomplete_is_length() {
        let c = collected(&[
            json!({"type": "response.output_text.delta", "delta": "par"}),
            json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}),
        ]);
        let v = answer(&c, "m", 0);
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["choices"][0]["message"]["content"], "par");
    }

    #[test]
    fn a_final_response_that_is_not_an_object_gives_a_best_effort_answer() {
        for response in [json!("oops"), json!([1, 2]), json!(null), json!(7)] {
            let c = collected(&[
                json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "hi"}]}}),
                json!({"type": "response.completed", "response": response}),
            ]);
            let v = answer(&c, "asked", 0);
            assert_eq!(v["choices"][0]["message"]["content"], "hi", "{response}");
        }
    }
}
