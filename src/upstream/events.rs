//! The codex-responses stream's events, parsed from each SSE `data:` payload.
//!
//! Parsing borrows from the payload and leaves large sub-objects (`item`,
//! `response`) as raw JSON until someone needs them, so relaying an event costs
//! one small parse, made once: a converter gets the parse with the payload
//! (`Relayed`). Unknown event types are `Kind::Other` and pass through.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::Failure;

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
    #[serde(default, borrow)]
    pub item: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub response: Option<&'a RawValue>,
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

impl<'a> Event<'a> {
    pub fn parse(data: &'a str) -> Result<Event<'a>, serde_json::Error> {
        serde_json::from_str(data)
    }

    pub fn kind(&self) -> Kind {
        Kind::of(&self.name)
    }

    pub fn item(&self) -> Option<Item> {
        self.item.and_then(|r| serde_json::from_str(r.get()).ok())
    }

    pub fn response(&self) -> Option<ResponseInfo> {
        self.response
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
mod tests {
    use super::*;

    #[test]
    fn parses_a_delta_without_copying() {
        let data =
            r#"{"type":"response.output_text.delta","item_id":"m1","output_index":0,"delta":"hi"}"#;
        let e = Event::parse(data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.kind(), Kind::OutputTextDelta);
        assert!(matches!(e.delta, Some(Cow::Borrowed("hi"))));
    }

    #[test]
    fn escaped_text_is_unescaped() {
        let data = r#"{"type":"response.output_text.delta","delta":"a\"b\n"}"#;
        let e = Event::parse(data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.delta.as_deref(), Some("a\"b\n"));
    }

    #[test]
    fn completed_carries_usage() {
        let data = r#"{"type":"response.completed","response":{"id":"r1","model":"gpt-5.4","usage":{"input_tokens":10,"input_tokens_details":null,"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":15}}}"#;
        let e = Event::parse(data).unwrap_or_else(|e| panic!("{e}"));
        let r = e.response().unwrap_or_default();
        assert_eq!(r.model.as_deref(), Some("gpt-5.4"));
        let u = r.usage.unwrap_or_default();
        assert_eq!(
            (u.input_tokens, u.cached(), u.reasoning(), u.total()),
            (10, 0, 2, 15)
        );
    }

    #[test]
    fn failed_and_error_events_report_a_failure_and_others_do_not() {
        let failure = |data: &str| Event::parse(data).ok().and_then(|e| e.failure());
        assert_eq!(
            failure(
                r#"{"type":"response.failed","response":{"error":{"code":"server_is_overloaded","message":"busy"}}}"#
            ),
            Some(Failure::StreamFailed {
                code: Some("server_is_overloaded".into()),
                message: "busy".into()
            })
        );
        // `error` events carry code and message at top level.
        assert_eq!(
            failure(r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down"}"#)
                .map(|f| f.kind()),
            Some("rate_limited")
        );
        // A failed response without an error object still fails.
        assert_eq!(
            failure(r#"{"type":"response.failed","response":{"id":"r"}}"#),
            Some(Failure::StreamFailed {
                code: None,
                message: "no message".into()
            })
        );
        assert_eq!(
            failure(r#"{"type":"response.completed","response":{}}"#),
            None
        );
        assert_eq!(
            failure(r#"{"type":"response.output_text.delta","delta":"x"}"#),
            None
        );
    }

    #[test]
    fn unknown_types_are_other_and_do_not_end_failover() {
        let e = Event::parse(r#"{"type":"response.web_search_call.searching"}"#);
        assert_eq!(e.map(|e| e.kind()).ok(), Some(Kind::Other));
        assert!(!Kind::Other.is_output());
        assert!(Kind::OutputItemAdded.is_output());
        assert!(!Kind::Created.is_output());
    }
}
