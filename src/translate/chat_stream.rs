//! Responses stream events → `chat.completion.chunk` SSE frames.
//!
//! A pure converter over `&mut ChatStream`: each upstream event appends zero or
//! more `data:` frames to the output buffer. Text goes to `content`, reasoning
//! summaries to `reasoning_content` (never mixed), function calls to
//! `tool_calls` with a stable `index` and `id`.

use bytes::{BufMut, BytesMut};
use serde::Serialize;

use crate::upstream::events::{Event, Item, Kind, Usage};
use crate::upstream::{sse, Failure};

/// Where a stream stands after one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Continue,
    /// The stream ended normally (`[DONE]` written).
    Done,
    /// Upstream failed mid-stream (an error frame written).
    Failed(Failure),
}

#[derive(Debug)]
struct ToolSlot {
    item_id: String,
    call_id: String,
    custom: bool,
    args_sent: bool,
}

/// The conversion state of one streamed chat completion.
#[derive(Debug)]
pub struct ChatStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    sent_role: bool,
    tools: Vec<ToolSlot>,
    summary_parts: u32,
    usage: Option<Usage>,
    /// `data: {"id":…,"object":…,"created":…,"model":…,"choices":[{"index":0,"delta":`
    /// — the same for every chunk until the id or model changes, so it is
    /// serialized once, not per event.
    prefix: Vec<u8>,
    /// Reused for each delta's JSON.
    scratch: Vec<u8>,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [Choice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<ChatUsage>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function: Option<FunctionDelta<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<CustomDelta<'a>>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct CustomDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    input: &'a str,
}

/// Chat's usage object, shared with the non-stream answer.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct ChatUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_tokens_details: CachedDetails,
    pub completion_tokens_details: ReasoningDetails,
}

#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct CachedDetails {
    pub cached_tokens: u64,
}

#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct ReasoningDetails {
    pub reasoning_tokens: u64,
}

impl From<&Usage> for ChatUsage {
    fn from(u: &Usage) -> ChatUsage {
        ChatUsage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: u.total(),
            prompt_tokens_details: CachedDetails {
                cached_tokens: u.cached(),
            },
            completion_tokens_details: ReasoningDetails {
                reasoning_tokens: u.reasoning(),
            },
        }
    }
}

/// `finish_reason` for an `incomplete_details.reason`.
pub fn incomplete_finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("content_filter") => "content_filter",
        _ => "length",
    }
}

impl ChatStream {
    /// `model` is the best knowledge before the first event (upstream's
    /// `openai-model` header, else the requested model); `response.created`
    /// replaces it with the model upstream reports.
    pub fn new(model: &str, created: u64, include_usage: bool) -> ChatStream {
        let mut s = ChatStream {
            id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
            created,
            model: model.to_string(),
            include_usage,
            sent_role: false,
            tools: Vec::new(),
            summary_parts: 0,
            usage: None,
            prefix: Vec::with_capacity(160),
            scratch: Vec::with_capacity(128),
        };
        s.build_prefix();
        s
    }

    fn build_prefix(&mut self) {
        let p = &mut self.prefix;
        p.clear();
        p.extend_from_slice(b"data: {\"id\":");
        let _ = serde_json::to_writer(&mut *p, &self.id);
        p.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        let _ = serde_json::to_writer(&mut *p, &self.created);
        p.extend_from_slice(b",\"model\":");
        let _ = serde_json::to_writer(&mut *p, &self.model);
        p.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
    }

    fn set_model(&mut self, model: String) {
        if model != self.model {
            self.model = model;
            self.build_prefix();
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    fn frame(&self, out: &mut BytesMut, choice: Option<Choice<'_>>, usage: Option<ChatUsage>) {
        let choices: &[Choice<'_>] = match &choice {
            Some(c) => std::slice::from_ref(c),
            None => &[],
        };
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        out.put_slice(b"data: ");
        // Writing into a BytesMut cannot fail; a serializer error would be a bug
        // in the structs above, and the frame is then skipped.
        let _ = serde_json::to_writer((&mut *out).writer(), &chunk);
        out.put_slice(b"\n\n");
    }

    /// One chunk with one choice: the cached prefix, the delta, a fixed tail.
    /// Byte for byte what serializing a `Chunk` would give.
    fn choice(
        &mut self,
        out: &mut BytesMut,
        delta: Delta<'_>,
        finish_reason: Option<&'static str>,
    ) {
        self.scratch.clear();
        let _ = serde_json::to_writer(&mut self.scratch, &delta);
        out.reserve(self.prefix.len() + self.scratch.len() + 64);
        out.put_slice(&self.prefix);
        out.put_slice(&self.scratch);
        out.put_slice(b",\"logprobs\":null,\"finish_reason\":");
        match finish_reason {
            None => out.put_slice(b"null"),
            Some(r) => {
                out.put_u8(b'"');
                out.put_slice(r.as_bytes());
                out.put_u8(b'"');
            }
        }
        out.put_slice(b"}]}\n\n");
    }

    fn delta(&mut self, out: &mut BytesMut, delta: Delta<'_>) {
        self.role(out);
        self.choice(out, delta, None);
    }

    fn role(&mut self, out: &mut BytesMut) {
        if self.sent_role {
            return;
        }
        self.sent_role = true;
        let delta = Delta {
            role: Some("assistant"),
            content: Some(""),
            ..Delta::default()
        };
        self.choice(out, delta, None);
    }

    /// Converts one upstream event (its `data:` JSON).
    pub fn push(&mut self, data: &str, out: &mut BytesMut) -> Step {
        let Ok(event) = Event::parse(data) else {
            return Step::Continue;
        };
        match event.kind() {
            Kind::Created | Kind::InProgress => {
                let info = event.response().unwrap_or_default();
                if let Some(model) = info.model {
                    self.set_model(model);
                }
                if let Some(id) = info.id {
                    self.id = format!("chatcmpl-{}", id.strip_prefix("resp_").unwrap_or(&id));
                    self.build_prefix();
                }
                Step::Continue
            }
            Kind::OutputTextDelta => {
                if let Some(d) = event.delta.as_deref().filter(|d| !d.is_empty()) {
                    self.delta(
                        out,
                        Delta {
                            content: Some(d),
                            ..Delta::default()
                        },
                    );
                }
                Step::Continue
            }
            Kind::RefusalDelta => {
                if let Some(d) = event.delta.as_deref().filter(|d| !d.is_empty()) {
                    self.delta(
                        out,
                        Delta {
                            refusal: Some(d),
                            ..Delta::default()
                        },
                    );
                }
                Step::Continue
            }
            Kind::ReasoningSummaryPartAdded => {
                if self.summary_parts > 0 {
                    self.delta(
                        out,
                        Delta {
                            reasoning_content: Some("\n\n"),
                            ..Delta::default()
                        },
                    );
                }
                self.summary_parts += 1;
                Step::Continue
            }
            Kind::ReasoningSummaryDelta | Kind::ReasoningTextDelta => {
                if let Some(d) = event.delta.as_deref().filter(|d| !d.is_empty()) {
                    self.delta(
                        out,
                        Delta {
                            reasoning_content: Some(d),
                            ..Delta::default()
                        },
                    );
                }
                Step::Continue
            }
            Kind::OutputItemAdded => {
                if let Some(item) = event.item() {
                    self.tool_started(&item, out);
                }
                Step::Continue
            }
            Kind::FunctionCallArgumentsDelta | Kind::CustomToolCallInputDelta => {
                let (Some(item_id), Some(d)) = (
                    event.item_id.as_deref(),
                    event.delta.as_deref().filter(|d| !d.is_empty()),
                ) else {
                    return Step::Continue;
                };
                if let Some(index) = self.tools.iter().position(|t| t.item_id == item_id) {
                    self.tools[index].args_sent = true;
                    let custom = self.tools[index].custom;
                    self.tool_delta(out, index, None, d, custom);
                }
                Step::Continue
            }
            Kind::OutputItemDone => {
                if let Some(item) = event.item() {
                    self.tool_done(&item, out);
                }
                Step::Continue
            }
            Kind::Completed | Kind::Incomplete => {
                let info = event.response().unwrap_or_default();
                if let Some(m) = info.model {
                    self.set_model(m);
                }
                self.usage = info.usage;
                let reason = if event.kind() == Kind::Incomplete {
                    incomplete_finish_reason(
                        info.incomplete_details
                            .as_ref()
                            .and_then(|d| d.reason.as_deref()),
                    )
                } else if self.tools.is_empty() {
                    "stop"
                } else {
                    "tool_calls"
                };
                self.finish(out, reason);
                Step::Done
            }
            Kind::Failed | Kind::Error => {
                let Some(failure) = event.failure() else {
                    return Step::Continue;
                };
                error_frame(&failure, out);
                Step::Failed(failure)
            }
            Kind::Other => Step::Continue,
        }
    }

    fn tool_started(&mut self, item: &Item, out: &mut BytesMut) {
        let custom = match item.kind.as_str() {
            "function_call" => false,
            "custom_tool_call" => true,
            _ => return,
        };
        if self.slot(item).is_some() {
            return;
        }
        let item_id = item.id.clone().unwrap_or_default();
        let call_id = item.call_id.clone().unwrap_or_else(|| item_id.clone());
        self.tools.push(ToolSlot {
            item_id,
            call_id,
            custom,
            args_sent: false,
        });
        let index = self.tools.len() - 1;
        let name = item.name.as_deref().unwrap_or("");
        self.tool_header(out, index, name);
    }

    /// The slot of a call already seen: by item id, else by call id.
    fn slot(&self, item: &Item) -> Option<usize> {
        let id = item.id.as_deref().filter(|s| !s.is_empty());
        let call = item.call_id.as_deref().filter(|s| !s.is_empty());
        self.tools.iter().position(|t| {
            id.is_some_and(|i| t.item_id == i) || call.is_some_and(|c| t.call_id == c)
        })
    }

    fn tool_header(&mut self, out: &mut BytesMut, index: usize, name: &str) {
        let custom = self.tools[index].custom;
        let call_id = self.tools[index].call_id.clone();
        self.role(out);
        let delta = ToolCallDelta {
            index,
            id: Some(&call_id),
            kind: Some(if custom { "custom" } else { "function" }),
            function: (!custom).then_some(FunctionDelta {
                name: Some(name),
                arguments: "",
            }),
            custom: custom.then_some(CustomDelta {
                name: Some(name),
                input: "",
            }),
        };
        self.choice(
            out,
            Delta {
                tool_calls: Some([delta]),
                ..Delta::default()
            },
            None,
        );
    }

    fn tool_delta(
        &mut self,
        out: &mut BytesMut,
        index: usize,
        name: Option<&str>,
        text: &str,
        custom: bool,
    ) {
        let delta = ToolCallDelta {
            index,
            id: None,
            kind: None,
            function: (!custom).then_some(FunctionDelta {
                name,
                arguments: text,
            }),
            custom: custom.then_some(CustomDelta { name, input: text }),
        };
        self.delta(
            out,
            Delta {
                tool_calls: Some([delta]),
                ..Delta::default()
            },
        );
    }

    /// A finished call: announce it if `added` never came, and send its
    /// arguments whole if no argument deltas did (some streams send none).
    fn tool_done(&mut self, item: &Item, out: &mut BytesMut) {
        if !matches!(item.kind.as_str(), "function_call" | "custom_tool_call") {
            return;
        }
        let index = match self.slot(item) {
            Some(i) => i,
            None => {
                self.tool_started(item, out);
                self.tools.len() - 1
            }
        };
        if self.tools[index].args_sent {
            return;
        }
        self.tools[index].args_sent = true;
        let custom = self.tools[index].custom;
        let text = if custom {
            item.input.as_deref().unwrap_or("")
        } else {
            item.arguments.as_deref().unwrap_or("")
        };
        if !text.is_empty() {
            self.tool_delta(out, index, None, text, custom);
        }
    }

    fn finish(&mut self, out: &mut BytesMut, reason: &'static str) {
        self.role(out);
        self.choice(out, Delta::default(), Some(reason));
        if self.include_usage {
            let usage = self
                .usage
                .as_ref()
                .map(ChatUsage::from)
                .unwrap_or(ChatUsage {
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    total_tokens: 0,
                    prompt_tokens_details: CachedDetails { cached_tokens: 0 },
                    completion_tokens_details: ReasoningDetails {
                        reasoning_tokens: 0,
                    },
                });
            self.frame(out, None, Some(usage));
        }
        out.put_slice(sse::DONE);
    }
}

/// An OpenAI-style error inside a stream: `data: {"error":{…}}`.
pub fn error_frame(failure: &Failure, out: &mut BytesMut) {
    let body = serde_json::json!({"error": {
        "message": failure.to_string(),
        "type": "upstream_error",
        "param": null,
        "code": failure.client_code(),
    }});
    out.put_slice(b"data: ");
    let _ = serde_json::to_writer((&mut *out).writer(), &body);
    out.put_slice(b"\n\n");
}

#[cfg(test)]
mod tests;
