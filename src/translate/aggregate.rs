//! A whole upstream stream → one JSON answer, for clients that did not stream.
//!
//! `Collector` is fed each event as it arrives and keeps only the finished
//! output items and the final response; rendering as a `chat.completion` or a
//! Responses object happens once at the end.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::chat_wire::{incomplete_finish_reason, ChatUsage};
use crate::upstream::events::{Event, Item, Kind, ResponseInfo, Usage};
use crate::upstream::Failure;

/// Items and the final response are kept as raw JSON and parsed once, into
/// what the route renders (typed items for chat, values for Responses).
#[derive(Debug)]
pub struct Collector {
    items: Vec<Box<RawValue>>,
    text: String,
    reasoning: String,
    response: Option<Box<RawValue>>,
    info: ResponseInfo,
    incomplete: bool,
    /// Bytes kept so far (items, deltas, the final response), and the most allowed.
    kept: usize,
    limit: usize,
}

impl Default for Collector {
    fn default() -> Collector {
        Collector::with_limit(Collector::LIMIT)
    }
}

#[derive(Deserialize)]
struct OutputOnly<T> {
    #[serde(default = "Vec::new")]
    output: Vec<T>,
}

impl Collector {
    /// The most a collected answer may hold. Real answers are far smaller (a
    /// long one is a few hundred KB, kept about twice: as items and in the
    /// final response); the cap keeps a misbehaving upstream from filling
    /// memory for a client that waits for one JSON answer.
    pub const LIMIT: usize = 32 * 1024 * 1024;

    fn with_limit(limit: usize) -> Collector {
        Collector {
            items: Vec::new(),
            text: String::new(),
            reasoning: String::new(),
            response: None,
            info: ResponseInfo::default(),
            incomplete: false,
            kept: 0,
            limit,
        }
    }

    /// Counts `bytes` more kept; a failure once the answer is past the limit.
    fn keep(&mut self, bytes: usize) -> Result<(), Failure> {
        self.kept = self.kept.saturating_add(bytes);
        if self.kept > self.limit {
            return Err(Failure::StreamFailed {
                code: None,
                message: format!("the answer is larger than {} bytes", self.limit),
            });
        }
        Ok(())
    }

    /// Feeds one event; `Ok(true)` when the stream is complete.
    pub fn push(&mut self, data: &str) -> Result<bool, Failure> {
        let Ok(event) = Event::parse(data) else {
            return Ok(false);
        };
        match event.kind() {
            Kind::OutputItemDone => {
                if let Some(raw) = event.item {
                    self.keep(raw.get().len())?;
                    self.items.push(raw.to_owned());
                }
            }
            Kind::OutputTextDelta => {
                if let Some(d) = event.delta.as_deref() {
                    self.keep(d.len())?;
                    self.text.push_str(d);
                }
            }
            Kind::ReasoningSummaryDelta | Kind::ReasoningTextDelta => {
                if let Some(d) = event.delta.as_deref() {
                    self.keep(d.len())?;
                    self.reasoning.push_str(d);
                }
            }
            Kind::Completed | Kind::Incomplete => {
                self.keep(event.response.map_or(0, |r| r.get().len()))?;
                self.incomplete = event.kind() == Kind::Incomplete;
                self.info = event.response().unwrap_or_default();
                self.response = event.response.map(RawValue::to_owned);
                return Ok(true);
            }
            Kind::Failed | Kind::Error => {
                if let Some(failure) = event.failure() {
                    return Err(failure);
                }
            }
            _ => {}
        }
        Ok(false)
    }

    /// The output items: the `output_item.done` ones, else the final response's.
    fn output<T: serde::de::DeserializeOwned>(&self) -> Vec<T> {
        if !self.items.is_empty() {
            return self
                .items
                .iter()
                .filter_map(|raw| serde_json::from_str(raw.get()).ok())
                .collect();
        }
        self.response
            .as_ref()
            .and_then(|r| serde_json::from_str::<OutputOnly<T>>(r.get()).ok())
            .map(|o| o.output)
            .unwrap_or_default()
    }

    /// The output items, for a route that renders them itself
    /// (`translate::messages`).
    pub fn output_items<T: serde::de::DeserializeOwned>(&self) -> Vec<T> {
        self.output()
    }

    /// The final response's id, model, usage and incomplete reason.
    pub fn info(&self) -> &ResponseInfo {
        &self.info
    }

    /// Whether the stream ended with `response.incomplete`.
    pub fn is_incomplete(&self) -> bool {
        self.incomplete
    }

    /// The text deltas, for streams whose items carry none.
    pub fn streamed_text(&self) -> &str {
        &self.text
    }

    pub fn usage(&self) -> Option<Usage> {
        self.info.usage.clone()
    }

    /// A `chat.completion` object.
    pub fn chat_completion(&self, model: &str, created: u64) -> Value {
        let info = &self.info;
        let mut content = String::new();
        let mut refusal: Option<String> = None;
        let mut reasoning: Vec<String> = Vec::new();
        let mut tool_calls = Vec::new();
        for item in self.output::<Item>() {
            match item.kind.as_str() {
                "message" => {
                    for part in &item.content {
                        match (part.kind.as_str(), &part.text, &part.refusal) {
                            ("output_text", Some(t), _) => content.push_str(t),
                            ("refusal", _, Some(r)) => refusal.get_or_insert_with(String::new).push_str(r),
                            _ => {}
                        }
                    }
                }
                "reasoning" => reasoning.extend(item.summary.iter().filter_map(|s| s.text.clone())),
                "function_call" => tool_calls.push(json!({
                    "id": item.call_id.or(item.id).unwrap_or_default(),
                    "type": "function",
                    "function": {"name": item.name.unwrap_or_default(), "arguments": item.arguments.unwrap_or_default()},
                })),
                "custom_tool_call" => tool_calls.push(json!({
                    "id": item.call_id.or(item.id).unwrap_or_default(),
                    "type": "custom",
                    "custom": {"name": item.name.unwrap_or_default(), "input": item.input.unwrap_or_default()},
                })),
                _ => {}
            }
        }
        if content.is_empty() && tool_calls.is_empty() {
            content = self.text.clone();
        }
        let reasoning = if reasoning.is_empty() {
            self.reasoning.clone()
        } else {
            reasoning.join("\n\n")
        };
        let finish_reason = if self.incomplete {
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

    /// The Responses API object, with `output` filled from the stream when the
    /// final event left it empty.
    /// A final response that is not a JSON object (upstream misbehaving) is
    /// replaced by a bare one, filled the same way.
    pub fn response_object(&self, model: &str) -> Value {
        let parsed = self
            .response
            .as_ref()
            .and_then(|raw| serde_json::from_str(raw.get()).ok());
        let mut r = match parsed {
            Some(Value::Object(r)) => r,
            _ => Map::from_iter([("object".to_string(), json!("response"))]),
        };
        let empty = r
            .get("output")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
        if empty {
            r.insert("output".into(), Value::Array(self.output::<Value>()));
        }
        if r.get("model").is_none_or(Value::is_null) {
            r.insert("model".into(), json!(model));
        }
        Value::Object(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(events: &[Value]) -> Collector {
        let mut c = Collector::default();
        for e in events {
            let _ = c.push(&e.to_string());
        }
        c
    }

    #[test]
    fn text_reasoning_and_usage() {
        let c = feed(&[
            json!({"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.4"}}),
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]}}),
            json!({"type": "response.output_text.delta", "delta": "Hel"}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "model": "gpt-5.4-real", "output": [],
                "usage": {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 12}}}),
        ]);
        let v = c.chat_completion("asked", 7);
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
        let r = c.response_object("asked");
        assert_eq!(r["output"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn function_calls_come_from_done_items() {
        let c = feed(&[
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "ls", "arguments": "{\"p\":1}"}}),
            json!({"type": "response.completed", "response": {"id": "resp_2"}}),
        ]);
        let v = c.chat_completion("m", 0);
        let msg = &v["choices"][0]["message"];
        assert_eq!(msg["content"], Value::Null);
        assert_eq!(msg["tool_calls"][0]["id"], "call_1");
        assert_eq!(msg["tool_calls"][0]["function"]["arguments"], "{\"p\":1}");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn incomplete_is_length_and_failed_is_an_error() {
        let c = feed(&[
            json!({"type": "response.output_text.delta", "delta": "par"}),
            json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}),
        ]);
        let v = c.chat_completion("m", 0);
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["choices"][0]["message"]["content"], "par");
        let mut c = Collector::default();
        let r = c.push(&json!({"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}).to_string());
        assert!(matches!(r, Err(Failure::StreamFailed { .. })));
    }

    #[test]
    fn a_final_response_that_is_not_an_object_gives_a_best_effort_answer() {
        for response in [json!("oops"), json!([1, 2]), json!(null), json!(7)] {
            let c = feed(&[
                json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "hi"}]}}),
                json!({"type": "response.completed", "response": response}),
            ]);
            let r = c.response_object("asked");
            assert_eq!(r["object"], "response", "{response}");
            assert_eq!(r["model"], "asked", "{response}");
            assert_eq!(r["output"][0]["content"][0]["text"], "hi", "{response}");
            let v = c.chat_completion("asked", 0);
            assert_eq!(v["choices"][0]["message"]["content"], "hi", "{response}");
        }
    }

    #[test]
    fn an_answer_past_the_limit_is_a_failure_not_unbounded_memory() {
        let mut c = Collector::with_limit(1000);
        let delta =
            json!({"type": "response.output_text.delta", "delta": "x".repeat(300)}).to_string();
        let results: Vec<_> = (0..5).map(|_| c.push(&delta)).collect();
        assert!(
            results[..3].iter().all(|r| matches!(r, Ok(false))),
            "{results:?}"
        );
        assert!(
            matches!(&results[3], Err(Failure::StreamFailed { message, .. }) if message.contains("larger than 1000 bytes")),
            "{results:?}"
        );
        // Items and the final response count too.
        let mut c = Collector::with_limit(1000);
        let item = json!({"type": "response.output_item.done", "item": {"type": "message", "pad": "y".repeat(600)}});
        assert!(matches!(c.push(&item.to_string()), Ok(false)));
        let done = json!({"type": "response.completed", "response": {"output": [], "pad": "z".repeat(600)}});
        assert!(c.push(&done.to_string()).is_err());
        assert_eq!(Collector::default().limit, Collector::LIMIT);
    }
}
