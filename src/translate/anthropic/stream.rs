//! Responses stream events → Anthropic Messages SSE events, one upstream
//! event at a time.
//!
//! `message_start` (and a `ping`) when upstream's response starts; each
//! output item becomes one content block: reasoning a `thinking` block
//! (`thinking_delta`s from the summary, then one `signature_delta` carrying
//! the item's `encrypted_content`), text a `text` block (`text_delta`s), a
//! function call a `tool_use` block (`input_json_delta`s, or the whole
//! arguments at its end when upstream sent no deltas). Blocks open lazily
//! and close before the next one opens. `response.completed` gives
//! `message_delta` (stop reason, usage) and `message_stop`.
//!
//! Stop sequences are applied here (`anthropic::stops`): text that might be
//! the start of one is held back until the next delta decides; once one
//! matched, the message ends at once with the stop reason `stop_sequence`
//! (usage left out: upstream has not said it), and the relay drops the
//! upstream stream, which ends the generation.

use bytes::{BufMut, BytesMut};
use serde::Serialize;

mod items;
mod wire;

use wire::{
    Bare, BlockStart, BlockStop, Delta, DeltaFrame, MessageDelta, MessageStart, Opened,
    StartMessage, StopDelta,
};

use super::answer::{message_id, stop_reason, AnthropicUsage};
use super::error::error_frame;
use super::Shape;
use crate::translate::collect::OutputItem;
use crate::translate::{Convert, Step};
use crate::upstream::events::{Event, Kind, Relayed, Usage};
use crate::upstream::Failure;

#[derive(Debug)]
enum Block {
    Text,
    Thinking { item_id: String, text_sent: bool },
    Tool { item_id: String, args_sent: bool },
}

/// The conversion state of one streamed message.
#[derive(Debug)]
pub struct MessagesStream {
    id: String,
    model: String,
    shape: Shape,
    started: bool,
    next_index: u32,
    open: Option<(u32, Block)>,
    /// Whether the current message item's text came as deltas.
    text_streamed: bool,
    tool_used: bool,
    refused: bool,
    /// Text held back: it may be the start of a stop sequence.
    pending: String,
    stopped: Option<String>,
    usage: Option<Usage>,
    /// Reused for each frame's JSON.
    scratch: Vec<u8>,
}

impl MessagesStream {
    /// `model` is the best knowledge before the first event; upstream's
    /// `response.created` replaces it.
    pub fn new(model: &str, shape: Shape) -> MessagesStream {
        MessagesStream {
            id: message_id(None),
            model: model.to_string(),
            shape,
            started: false,
            next_index: 0,
            open: None,
            text_streamed: false,
            tool_used: false,
            refused: false,
            pending: String::new(),
            stopped: None,
            usage: None,
            scratch: Vec::with_capacity(256),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    fn write(&mut self, out: &mut BytesMut, event: &str, data: &impl Serialize) {
        self.scratch.clear();
        // Serializing these structs cannot fail; a bug would skip the frame.
        if serde_json::to_writer(&mut self.scratch, data).is_err() {
            return;
        }
        put_frame(out, event, &self.scratch);
    }

    fn delta(&mut self, out: &mut BytesMut, index: u32, delta: Delta<'_>) {
        let frame = DeltaFrame {
            kind: "content_block_delta",
            index,
            delta,
        };
        self.write(out, "content_block_delta", &frame);
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let start = MessageStart {
            message: StartMessage {
                content: [],
                id: &self.id,
                model: &self.model,
                role: "assistant",
                stop_reason: None,
                stop_sequence: None,
                kind: "message",
                usage: AnthropicUsage::default().into(),
            },
            kind: "message_start",
        };
        // The frame borrows `self`'s id and model: the scratch buffer is taken
        // out meanwhile.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        if serde_json::to_writer(&mut scratch, &start).is_ok() {
            put_frame(out, "message_start", &scratch);
        }
        self.scratch = scratch;
        self.write(out, "ping", &Bare { kind: "ping" });
    }

    /// Opens a block (closing the open one) and returns its index.
    fn open(&mut self, out: &mut BytesMut, block: Block, content_block: Opened<'_>) -> u32 {
        self.close(out);
        self.start(out);
        let index = self.next_index;
        self.next_index += 1;
        let frame = BlockStart {
            content_block,
            index,
            kind: "content_block_start",
        };
        self.write(out, "content_block_start", &frame);
        self.open = Some((index, block));
        index
    }

    fn close(&mut self, out: &mut BytesMut) {
        let Some((index, block)) = self.open.take() else {
            return;
        };
        if matches!(block, Block::Text) && !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.delta(out, index, Delta::Text { text: &pending });
        }
        self.write(
            out,
            "content_block_stop",
            &BlockStop {
                index,
                kind: "content_block_stop",
            },
        );
    }

    /// Converts one upstream event.
    pub fn push(&mut self, event: &Event<'_>, out: &mut BytesMut) -> Step {
        match event.kind() {
            Kind::Created | Kind::InProgress => {
                let info = event.response().unwrap_or_default();
                if !self.started {
                    if let Some(m) = info.model {
                        self.model = m;
                    }
                    if info.id.is_some() {
                        self.id = message_id(info.id.as_deref());
                    }
                }
                self.start(out);
            }
            Kind::OutputTextDelta | Kind::RefusalDelta => {
                self.refused |= event.kind() == Kind::RefusalDelta;
                if let Some(d) = event.delta.as_deref().filter(|d| !d.is_empty()) {
                    self.text_streamed = true;
                    if self.text(out, d) {
                        return Step::Done;
                    }
                }
            }
            Kind::ReasoningSummaryDelta | Kind::ReasoningTextDelta => {
                if let Some(d) = event.delta.as_deref().filter(|d| !d.is_empty()) {
                    self.thinking(out, event.item_id.as_deref().unwrap_or(""), d);
                }
            }
            Kind::ReasoningSummaryPartAdded => {
                if let Some((
                    index,
                    Block::Thinking {
                        text_sent: true, ..
                    },
                )) = &self.open
                {
                    let index = *index;
                    if !self.shape.omit_thinking && self.stopped.is_none() {
                        self.delta(out, index, Delta::Thinking { thinking: "\n\n" });
                    }
                }
            }
            Kind::OutputItemAdded => {
                if let Some(item) = item_of(event) {
                    if item.kind == "function_call" && self.stopped.is_none() {
                        self.tool_open(out, &item);
                    }
                }
            }
            Kind::FunctionCallArgumentsDelta => {
                let d = event.delta.as_deref().filter(|d| !d.is_empty());
                if let (Some(d), Some((index, Block::Tool { item_id, args_sent }))) =
                    (d, &mut self.open)
                {
                    if event.item_id.as_deref() == Some(item_id.as_str()) {
                        *args_sent = true;
                        let index = *index;
                        self.delta(out, index, Delta::InputJson { partial_json: d });
                    }
                }
            }
            Kind::OutputItemDone => {
                if let Some(item) = item_of(event) {
                    if self.stopped.is_none() {
                        self.item_done(out, &item);
                    }
                }
            }
            Kind::Completed | Kind::Incomplete => return self.finished(out, event),
            Kind::Failed | Kind::Error => {
                if let Some(f) = event.failure() {
                    error_frame(&f, out);
                    return Step::Failed(f);
                }
            }
            Kind::CustomToolCallInputDelta | Kind::Other => {}
        }
        Step::Continue
    }

    /// A text delta; `true` when a stop sequence matched and the message
    /// has been finished.
    fn text(&mut self, out: &mut BytesMut, d: &str) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        let index = match &self.open {
            Some((i, Block::Text)) => *i,
            _ => self.open(out, Block::Text, Opened::Text),
        };
        if self.shape.stop_sequences.is_empty() {
            self.delta(out, index, Delta::Text { text: d });
            return false;
        }
        let mut pending = std::mem::take(&mut self.pending);
        pending.push_str(d);
        if let Some((at, seq)) = self.shape.stop_sequences.find(&pending) {
            self.stopped = Some(seq.to_string());
            if at > 0 {
                self.delta(
                    out,
                    index,
                    Delta::Text {
                        text: &pending[..at],
                    },
                );
            }
            self.close(out);
            self.stop_here(out);
            return true;
        }
        let keep = self.shape.stop_sequences.held_back(&pending);
        let send = pending.len() - keep;
        if send > 0 {
            self.delta(
                out,
                index,
                Delta::Text {
                    text: &pending[..send],
                },
            );
        }
        pending.drain(..send);
        self.pending = pending;
        false
    }

    /// A stop sequence matched: the message ends here, without waiting for
    /// upstream (the relay then drops the upstream stream, which cancels the
    /// generation). Upstream's usage is not known yet: it is left out (zero).
    fn stop_here(&mut self, out: &mut BytesMut) {
        self.end(out, "stop_sequence", AnthropicUsage::default());
    }

    fn thinking(&mut self, out: &mut BytesMut, item_id: &str, d: &str) {
        if self.stopped.is_some() {
            return;
        }
        let index = match &mut self.open {
            Some((i, Block::Thinking { text_sent, .. })) => {
                *text_sent = true;
                *i
            }
            _ => {
                let block = Block::Thinking {
                    item_id: item_id.to_string(),
                    text_sent: true,
                };
                self.open(out, block, Opened::Thinking)
            }
        };
        if !self.shape.omit_thinking {
            self.delta(out, index, Delta::Thinking { thinking: d });
        }
    }

    fn finished(&mut self, out: &mut BytesMut, event: &Event<'_>) -> Step {
        let info = event.response().unwrap_or_default();
        self.start(out);
        self.close(out);
        if let Some(m) = info.model {
            self.model = m;
        }
        self.usage = info.usage;
        let reason = match &self.stopped {
            Some(_) => "stop_sequence",
            None => stop_reason(
                (event.kind() == Kind::Incomplete).then(|| {
                    info.incomplete_details
                        .as_ref()
                        .and_then(|d| d.reason.as_deref())
                }),
                self.tool_used,
                self.refused,
            ),
        };
        let usage = self
            .usage
            .as_ref()
            .map(AnthropicUsage::from)
            .unwrap_or_default();
        self.end(out, reason, usage);
        Step::Done
    }

    /// `message_delta` (the stop reason, the usage) and `message_stop`.
    fn end(&mut self, out: &mut BytesMut, reason: &str, usage: AnthropicUsage) {
        let stopped = self.stopped.take();
        let delta = MessageDelta {
            delta: StopDelta {
                stop_reason: reason,
                stop_sequence: stopped.as_deref(),
            },
            kind: "message_delta",
            usage: usage.into(),
        };
        self.write(out, "message_delta", &delta);
        self.stopped = stopped;
        self.write(
            out,
            "message_stop",
            &Bare {
                kind: "message_stop",
            },
        );
    }
}

/// One frame whose data is `json`.
fn put_frame(out: &mut BytesMut, event: &str, json: &[u8]) {
    out.reserve(event.len() + json.len() + 16);
    out.put_slice(b"event: ");
    out.put_slice(event.as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(json);
    out.put_slice(b"\n\n");
}

/// The event's item, borrowed from it.
fn item_of<'e>(event: &'e Event<'_>) -> Option<OutputItem<'e>> {
    event
        .item
        .as_deref()
        .and_then(|r| serde_json::from_str(r.get()).ok())
}

/// Each event becomes zero or more Messages events; a payload that is not
/// an event becomes none.
impl Convert for MessagesStream {
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
