//! Responses stream events → `chat.completion.chunk` SSE frames.
//!
//! A pure converter over `&mut ChatStream`: each upstream event appends zero or
//! more `data:` frames to the output buffer. Text goes to `content`, reasoning
//! summaries to `reasoning_content` (never mixed), function calls to
//! `tool_calls` with a stable `index` and `id`.
//!
//! `push` hands each event family to one helper; tool-call tracking is in
//! `stream/tools.rs`, the chunk structs in `chat/wire.rs`.

use bytes::{BufMut, BytesMut};

use super::error::error_frame;
use super::wire::{incomplete_finish_reason, ChatUsage, Choice, Chunk, Delta};
use crate::translate::{Convert, Step};
use crate::upstream::events::{Event, Kind, Relayed, Usage};
use crate::upstream::{sse, Failure};

mod tools;

use tools::Tools;

/// The conversion state of one streamed chat completion.
#[derive(Debug)]
pub struct ChatStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    sent_role: bool,
    tools: Tools,
    summary_parts: u32,
    usage: Option<Usage>,
    /// `data: {"id":…,"object":…,"created":…,"model":…,"choices":[{"index":0,"delta":`
    /// — the same for every chunk until the id or model changes, so it is
    /// serialized once, not per event.
    prefix: Vec<u8>,
    /// Reused for each delta's JSON.
    scratch: Vec<u8>,
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
            tools: Tools::default(),
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

    /// Converts one upstream event.
    pub fn push(&mut self, event: &Event<'_>, out: &mut BytesMut) -> Step {
        match event.kind() {
            Kind::Created | Kind::InProgress => self.started(event),
            Kind::OutputTextDelta => self.text(out, event, |d| Delta {
                content: Some(d),
                ..Delta::default()
            }),
            Kind::RefusalDelta => self.text(out, event, |d| Delta {
                refusal: Some(d),
                ..Delta::default()
            }),
            Kind::ReasoningSummaryDelta | Kind::ReasoningTextDelta => {
                self.text(out, event, |d| Delta {
                    reasoning_content: Some(d),
                    ..Delta::default()
                })
            }
            Kind::ReasoningSummaryPartAdded => self.summary_part(out),
            Kind::OutputItemAdded => {
                if let Some(item) = event.item() {
                    self.tool_started(&item, out);
                }
                Step::Continue
            }
            Kind::FunctionCallArgumentsDelta | Kind::CustomToolCallInputDelta => {
                let text = event.delta.as_deref().filter(|d| !d.is_empty());
                if let (Some(item_id), Some(text)) = (event.item_id.as_deref(), text) {
                    self.tool_input(item_id, text, out);
                }
                Step::Continue
            }
            Kind::OutputItemDone => {
                if let Some(item) = event.item() {
                    self.tool_done(&item, out);
                }
                Step::Continue
            }
            Kind::Completed | Kind::Incomplete => self.finished(out, event),
            Kind::Failed | Kind::Error => match event.failure() {
                Some(failure) => {
                    error_frame(&failure, out);
                    Step::Failed(failure)
                }
                None => Step::Continue,
            },
            Kind::Other => Step::Continue,
        }
    }

    /// `response.created` / `in_progress`: upstream's id and model name the chunks.
    fn started(&mut self, event: &Event<'_>) -> Step {
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

    /// A text delta (content, refusal or reasoning), placed by `into`; empty
    /// deltas send nothing.
    fn text<'e>(
        &mut self,
        out: &mut BytesMut,
        event: &'e Event<'_>,
        into: impl FnOnce(&'e str) -> Delta<'e>,
    ) -> Step {
        if let Some(d) = event.delta.as_deref().filter(|d| !d.is_empty()) {
            self.delta(out, into(d));
        }
        Step::Continue
    }

    /// A new reasoning summary part: parts after the first are set apart by a
    /// blank line in `reasoning_content`.
    fn summary_part(&mut self, out: &mut BytesMut) -> Step {
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

    /// `response.completed` / `incomplete`: the finish reason, usage and `[DONE]`.
    fn finished(&mut self, out: &mut BytesMut, event: &Event<'_>) -> Step {
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

    fn finish(&mut self, out: &mut BytesMut, reason: &'static str) {
        self.role(out);
        self.choice(out, Delta::default(), Some(reason));
        if self.include_usage {
            let usage = self.usage.as_ref().map(ChatUsage::from).unwrap_or_default();
            self.frame(out, None, Some(usage));
        }
        out.put_slice(sse::DONE);
    }
}

/// Each event becomes zero or more chunk frames; a payload that is not an
/// event becomes none.
impl Convert for ChatStream {
    fn convert(&mut self, relayed: Relayed<'_>, out: &mut BytesMut) -> Step {
        match relayed.event {
            Some(event) => self.push(event, out),
            None => Step::Continue,
        }
    }

    fn error_frame(&self, failure: &Failure, out: &mut BytesMut) {
        error_frame(failure, out);
    }

    fn outcome(&self) -> (Option<&str>, Option<&Usage>) {
        (Some(self.model()), self.usage())
    }
}

#[cfg(test)]
mod tests;
