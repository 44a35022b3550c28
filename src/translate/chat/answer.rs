//! A collected upstream stream → one `chat.completion` object.
//!
//! The message's text and refusal come from the output items (else from the
//! streamed text deltas), `reasoning_content` from the reasoning items'
//! summaries (else the streamed reasoning), `tool_calls` from function and
//! custom tool call items; the finish reason and usage from the final
//! response.

use std::borrow::Cow;
use std::fmt;

use serde::{Serialize, Serializer};

use super::wire::{incomplete_finish_reason, ChatUsage};
use crate::translate::collect::{append, Answer, OutputItem};
use crate::translate::Collector;

/// What the output items say, gathered for the message.
#[derive(Default)]
struct Gathered<'a> {
    content: Cow<'a, str>,
    refusal: Option<Cow<'a, str>>,
    reasoning: Vec<Cow<'a, str>>,
    tool_calls: Vec<ToolCall<'a>>,
}

impl<'a> Gathered<'a> {
    fn add(&mut self, item: OutputItem<'a>) {
        match item.kind.as_ref() {
            "message" => {
                for part in item.content {
                    match (part.kind.as_ref(), part.text, part.refusal) {
                        ("output_text", Some(t), _) => append(&mut self.content, t),
                        ("refusal", _, Some(r)) => append(self.refusal.get_or_insert_default(), r),
                        _ => {}
                    }
                }
            }
            "reasoning" => self
                .reasoning
                .extend(item.summary.into_iter().filter_map(|s| s.text)),
            "function_call" => self.tool_calls.push(ToolCall {
                function: Some(Function {
                    arguments: item.arguments.unwrap_or_default(),
                    name: item.name.unwrap_or_default(),
                }),
                custom: None,
                id: item.call_id.or(item.id).unwrap_or_default(),
                kind: "function",
            }),
            "custom_tool_call" => self.tool_calls.push(ToolCall {
                function: None,
                custom: Some(Custom {
                    input: item.input.unwrap_or_default(),
                    name: item.name.unwrap_or_default(),
                }),
                id: item.call_id.or(item.id).unwrap_or_default(),
                kind: "custom",
            }),
            _ => {}
        }
    }
}

// The answer's shape. Fields are declared in alphabetical order: the answer
// was a `serde_json::Value` tree before (sorted keys), and stays byte for byte
// what it was.

#[derive(Serialize)]
struct Completion<'a> {
    choices: [Choice<'a>; 1],
    created: u64,
    id: ChatId<'a>,
    model: &'a str,
    object: &'static str,
    usage: Option<SortedUsage>,
}

#[derive(Serialize)]
struct Choice<'a> {
    finish_reason: &'static str,
    index: u32,
    logprobs: Option<()>,
    message: Message<'a>,
}

#[derive(Serialize)]
struct Message<'a> {
    /// `None` (null) when the message is only tool calls.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    reasoning_content: &'a str,
    refusal: Option<&'a str>,
    role: &'static str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tool_calls: &'a [ToolCall<'a>],
}

#[derive(Serialize)]
struct ToolCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Custom<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function: Option<Function<'a>>,
    id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Function<'a> {
    arguments: Cow<'a, str>,
    name: Cow<'a, str>,
}

#[derive(Serialize)]
struct Custom<'a> {
    input: Cow<'a, str>,
    name: Cow<'a, str>,
}

/// `ChatUsage` with its keys in alphabetical order (see above).
#[derive(Serialize)]
struct SortedUsage {
    completion_tokens: u64,
    completion_tokens_details: Reasoning,
    prompt_tokens: u64,
    prompt_tokens_details: Cached,
    total_tokens: u64,
}

#[derive(Serialize)]
struct Reasoning {
    reasoning_tokens: u64,
}

#[derive(Serialize)]
struct Cached {
    cached_tokens: u64,
}

impl From<ChatUsage> for SortedUsage {
    fn from(u: ChatUsage) -> SortedUsage {
        SortedUsage {
            completion_tokens: u.completion_tokens,
            completion_tokens_details: Reasoning {
                reasoning_tokens: u.completion_tokens_details.reasoning_tokens,
            },
            prompt_tokens: u.prompt_tokens,
            prompt_tokens_details: Cached {
                cached_tokens: u.prompt_tokens_details.cached_tokens,
            },
            total_tokens: u.total_tokens,
        }
    }
}

/// `chatcmpl-<upstream's response id without resp_>`, else a fresh one;
/// written as it is serialized, not formatted first.
struct ChatId<'a>(Option<&'a str>);

impl Serialize for ChatId<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ChatId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "chatcmpl-{}", id.strip_prefix("resp_").unwrap_or(id)),
            None => write!(f, "chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// The `chat.completion` object; `model` is shown when upstream named none.
pub fn answer(c: &Collector, model: &str, created: u64) -> Answer {
    let info = c.info();
    let mut got = Gathered::default();
    for item in c.output_items::<OutputItem<'_>>() {
        got.add(item);
    }
    let Gathered {
        mut content,
        refusal,
        reasoning,
        tool_calls,
    } = got;
    if content.is_empty() && tool_calls.is_empty() {
        content = Cow::Borrowed(c.streamed_text());
    }
    let reasoning = match reasoning.len() {
        0 => Cow::Borrowed(c.streamed_reasoning()),
        1 => reasoning.into_iter().next().unwrap_or_default(),
        _ => Cow::Owned(reasoning.join("\n\n")),
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
    let shown = info.model.as_deref().unwrap_or(model);
    let message = Message {
        content: (tool_calls.is_empty() || !content.is_empty()).then_some(&*content),
        reasoning_content: &reasoning,
        refusal: refusal.as_deref(),
        role: "assistant",
        tool_calls: &tool_calls,
    };
    let completion = Completion {
        choices: [Choice {
            finish_reason,
            index: 0,
            logprobs: None,
            message,
        }],
        created,
        id: ChatId(info.id.as_deref()),
        model: shown,
        object: "chat.completion",
        usage: info.usage.as_ref().map(|u| ChatUsage::from(u).into()),
    };
    let size = 320 + content.len() + reasoning.len() + 128 * tool_calls.len();
    Answer::of(&completion, size, Some(shown.to_owned()))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::translate::collect::collected;

    /// The answer's body, parsed.
    fn render(c: &Collector, model: &str, created: u64) -> Value {
        serde_json::from_slice(&answer(c, model, created).body).unwrap()
    }

    #[test]
    fn the_body_is_byte_for_byte_the_sorted_json_it_was() {
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b\"q"}]}}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "x"}, {"type": "refusal", "refusal": "no"}, {"type": "output_text", "text": "y"}]}}),
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "ls", "arguments": "{\"p\":1}"}}),
            json!({"type": "response.output_item.done", "item": {"type": "custom_tool_call", "id": "ct_1", "name": "patch", "input": "*** Begin"}}),
            json!({"type": "response.completed", "response": {"id": "resp_9", "model": "gpt-5.4",
                "usage": {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 12}}}),
        ]);
        let a = answer(&c, "asked", 7);
        let was = json!({
            "id": "chatcmpl-9", "object": "chat.completion", "created": 7, "model": "gpt-5.4",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "xy", "refusal": "no", "reasoning_content": "a\n\nb\"q",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{\"p\":1}"}},
                    {"id": "ct_1", "type": "custom", "custom": {"name": "patch", "input": "*** Begin"}},
                ]}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
                "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 1}},
        });
        assert_eq!(
            String::from_utf8(a.body).unwrap(),
            serde_json::to_string(&was).unwrap()
        );
        assert_eq!(a.model.as_deref(), Some("gpt-5.4"));
        // Without usage, items or an upstream model: null usage, the streamed text, the asked model.
        let c = collected(&[json!({"type": "response.output_text.delta", "delta": "hi"})]);
        let a = answer(&c, "asked", 0);
        let body = String::from_utf8(a.body).unwrap();
        assert!(
            body.ends_with(r#""model":"asked","object":"chat.completion","usage":null}"#),
            "{body}"
        );
        assert!(body.starts_with(r#"{"choices":[{"finish_reason":"stop","index":0,"logprobs":null,"message":{"content":"hi","refusal":null,"role":"assistant"}}],"created":0,"id":"chatcmpl-"#), "{body}");
    }

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
        let v = render(&c, "asked", 7);
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
        let v = render(&c, "m", 0);
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
        let v = render(&c, "m", 0);
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
            let v = render(&c, "asked", 0);
            assert_eq!(v["choices"][0]["message"]["content"], "hi", "{response}");
        }
    }
}
