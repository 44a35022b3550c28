//! The codex-responses stream's events, parsed from each SSE `data:` payload.
//!
//! Parsing borrows from the payload and leaves large sub-objects (`item`,
//! `response`) as raw JSON until someone needs them, so relaying an event costs
//! one small parse, made once: a converter gets the parse with the payload
//! (`Relayed`). Unknown event types are `Kind::Other` and pass through.

use std::borrow::Cow;

use super::sse::Sse;
use super::Failure;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The event types this gateway acts on; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Created,
    InProgress,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    RefusalDelta,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    ReasoningTextDelta,
    FunctionCallArgumentsDelta,
    CustomToolCallInputDelta,
    Completed,
    Incomplete,
    Failed,
    Error,
    Other,
}

impl Kind {
    pub fn of(name: &str) -> Kind {
        match name {
            "response.created" => Kind::Created,
            "response.in_progress" | "response.queued" => Kind::InProgress,
            "response.output_item.added" => Kind::OutputItemAdded,
            "response.output_item.done" => Kind::OutputItemDone,
            "response.output_text.delta" => Kind::OutputTextDelta,
            "response.refusal.delta" => Kind::RefusalDelta,
            "response.reasoning_summary_text.delta" => Kind::ReasoningSummaryDelta,
            "response.reasoning_summary_part.added" => Kind::ReasoningSummaryPartAdded,
            "response.reasoning_text.delta" => Kind::ReasoningTextDelta,
            "response.function_call_arguments.delta" => Kind::FunctionCallArgumentsDelta,
            "response.custom_tool_call_input.delta" => Kind::CustomToolCallInputDelta,
            "response.completed" => Kind::Completed,
            "response.incomplete" => Kind::Incomplete,
            "response.failed" => Kind::Failed,
            "error" | "response.error" => Kind::Error,
            _ => Kind::Other,
        }
    }

    /// Whether the event carries model output (after it, failover is over for a
    /// streaming client). Lifecycle, failure and unknown events do not: events
    /// before the first output are held back, so an unknown one costs nothing
    /// if the request moves to another account.
    pub fn is_output(self) -> bool {
        !matches!(
            self,
            Kind::Created | Kind::InProgress | Kind::Failed | Kind::Error | Kind::Other
        )
    }
}

/// One event, borrowing from its JSON text.
#[derive(Debug, Deserialize)]
pub struct Event<'a> {
    #[serde(rename = "type", borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub delta: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub item_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_raw")]
    pub item: Option<Cow<'a, RawValue>>,
    #[serde(default, borrow, deserialize_with = "opt_raw")]
    pub response: Option<Cow<'a, RawValue>>,
    /// `error` events carry these at top level.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `Option<Cow<str>>` that borrows when the JSON string has no escapes (serde
/// only borrows a `Cow` that is the field's whole type).
fn opt_cow<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap<'a>(#[serde(borrow)] Cow<'a, str>);
    Option::<Wrap<'de>>::deserialize(d).map(|o| o.map(|w| w.0))
}

/// Raw JSON, borrowed from the payload (`into_owned` copies it).
fn opt_raw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, RawValue>>, D::Error> {
    Option::<&'de RawValue>::deserialize(d).map(|o| o.map(Cow::Borrowed))
}

impl<'a> Event<'a> {
    pub fn parse(data: &'a str) -> Result<Event<'a>, serde_json::Error> {
        serde_json::from_str(data)
    }

    /// The event with everything it borrowed copied: kept past its payload
    /// without parsing it again (a copy of the borrowed text, no parse).
    pub fn into_owned(self) -> Event<'static> {
        fn own(s: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(s.into_owned())
        }
        fn own_raw(r: Cow<'_, RawValue>) -> Cow<'static, RawValue> {
            Cow::Owned(r.into_owned())
        }
        Event {
            name: own(self.name),
            delta: self.delta.map(own),
            item_id: self.item_id.map(own),
            item: self.item.map(own_raw),
            response: self.response.map(own_raw),
            code: self.code,
            message: self.message,
        }
    }

    pub fn kind(&self) -> Kind {
        Kind::of(&self.name)
    }

    pub fn item(&self) -> Option<Item> {
        self.item
            .as_deref()
            .and_then(|r| serde_json::from_str(r.get()).ok())
    }

    pub fn response(&self) -> Option<ResponseInfo> {
        self.response
            .as_deref()
            .and_then(|r| serde_json::from_str(r.get()).ok())
    }

    /// The failure a `response.failed` / `error` event reports; `None` for any
    /// other event. The code and message come from `response.error`, else from
    /// the event's top level (where `error` events carry them).
    pub fn failure(&self) -> Option<Failure> {
        if !matches!(self.kind(), Kind::Failed | Kind::Error) {
            return None;
        }
        let err = self.response().and_then(|r| r.error).unwrap_or_default();
        Some(Failure::from_stream_error(
            err.code.or_else(|| self.code.clone()),
            err.message.or_else(|| self.message.clone()),
        ))
    }
}

/// One upstream event handed to a stream converter: the SSE fields as
/// upstream sent them (what a passthrough relays, byte for byte) and their
/// parse, made once for everyone who reads the event.
#[derive(Debug, Clone, Copy)]
pub struct Relayed<'a> {
    /// The SSE `event:` name, when upstream sent one.
    pub name: Option<&'a str>,
    /// The `data:` payload as received (empty when there was none).
    pub data: &'a str,
    /// The payload's parse; `None` when it is not an event.
    pub event: Option<&'a Event<'a>>,
}

/// An upstream event kept for later with its parse: what the hold-back
/// buffers before the first output, so that the relay hands it on without
/// parsing it again.
#[derive(Debug)]
pub struct Held {
    name: Option<Box<str>>,
    data: Box<str>,
    event: Option<Event<'static>>,
}

impl Held {
    /// Copies `sse` (borrowed from the decoder's buffer) and parses its
    /// payload, once.
    pub fn new(sse: Sse<'_>) -> Held {
        let data = sse.data.unwrap_or("");
        let event = Event::parse(data).ok().map(Event::into_owned);
        Held {
            name: sse.event.map(Box::from),
            data: Box::from(data),
            event,
        }
    }

    /// The parse; `None` when the payload is not an event.
    pub fn event(&self) -> Option<&Event<'static>> {
        self.event.as_ref()
    }

    /// The payload's size in bytes (its owned parse holds at most about as
    /// much again: the copied strings and raw item or response).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The event as a converter gets it.
    pub fn relayed(&self) -> Relayed<'_> {
        Relayed {
            name: self.name.as_deref(),
            data: &self.data,
            event: self.event.as_ref(),
        }
    }
}

/// The fields of an output item the chat translation needs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Item {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub call_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub content: Vec<ContentPart>,
    #[serde(default)]
    pub summary: Vec<ContentPart>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponseInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    /// Hosted tools' own usage (`docs/upstream.md` §10): the image tokens.
    #[serde(default)]
    pub tool_usage: Option<ToolUsage>,
}

/// `response.tool_usage`: what hosted tools spent, apart from `usage`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ToolUsage {
    #[serde(default)]
    pub image_gen: Option<ImageUsage>,
}

/// `response.tool_usage.image_gen`, in the Images API's usage shape.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
pub struct ImageUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: ImageTokens,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<ImageTokens>,
}

/// Image and text tokens of one side of `ImageUsage`.
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq)]
pub struct ImageTokens {
    #[serde(default)]
    pub image_tokens: u64,
    #[serde(default)]
    pub text_tokens: u64,
}

impl ImageUsage {
    /// `other` added to this one (several images in one answer).
    pub fn add(&mut self, other: &ImageUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
        let d = &mut self.input_tokens_details;
        d.image_tokens += other.input_tokens_details.image_tokens;
        d.text_tokens += other.input_tokens_details.text_tokens;
        if let Some(o) = other.output_tokens_details {
            let mine = self
                .output_tokens_details
                .get_or_insert_with(Default::default);
            mine.image_tokens += o.image_tokens;
            mine.text_tokens += o.text_tokens;
        }
    }

    /// Tokens in all, counting input and output when upstream gave no total.
    pub fn total(&self) -> u64 {
        if self.total_tokens > 0 {
            self.total_tokens
        } else {
            self.input_tokens.saturating_add(self.output_tokens)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: Option<InputDetails>,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub output_tokens_details: Option<OutputDetails>,
    #[serde(default)]
    pub total_tokens: u64,
}

impl Usage {
    pub fn cached(&self) -> u64 {
        self.input_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
    }

    pub fn reasoning(&self) -> u64 {
        self.output_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        if self.total_tokens > 0 {
            self.total_tokens
        } else {
            self.input_tokens.saturating_add(self.output_tokens)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct InputDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct OutputDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorInfo {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IncompleteDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests;
