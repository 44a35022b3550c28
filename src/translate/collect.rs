//! A whole upstream stream, collected for a client that did not stream.
//!
//! `Collector` is fed each event as it arrives and keeps only the finished
//! output items, the text and reasoning deltas and the final response;
//! each dialect renders its one JSON answer from it at the end
//! (`chat::answer`, `anthropic::answer`, `responses::answer`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::upstream::events::{Event, Kind, ResponseInfo, Usage};
use crate::upstream::Failure;

/// Items and the final response are kept as raw JSON and read once, borrowed,
/// by the route that renders them (`OutputItem`s for chat and Messages, raw
/// members and items for Responses).
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

/// A rendered answer: the JSON body, and the model it names (for the
/// ledger and the `openai-model` header; `None` when the answer names none
/// as a string).
#[derive(Debug, Default)]
pub struct Answer {
    pub body: Vec<u8>,
    pub model: Option<String>,
}

impl Answer {
    /// `value` serialized once, straight into a body of about `capacity`
    /// bytes. Serializing the answer structs cannot fail (string keys,
    /// no maps of other keys); if it did, the body is empty and the route
    /// answers what an empty body means to its client.
    pub fn of(value: &impl Serialize, capacity: usize, model: Option<String>) -> Answer {
        let mut body = Vec::with_capacity(capacity);
        if serde_json::to_writer(&mut body, value).is_err() {
            body.clear();
        }
        Answer { body, model }
    }
}

/// The fields of an output item the answers read, borrowed from the kept
/// raw JSON (a string with escapes is the one copy).
#[derive(Debug, Default, Deserialize)]
pub struct OutputItem<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub call_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub arguments: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub input: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub content: Vec<OutputPart<'a>>,
    #[serde(default, borrow)]
    pub summary: Vec<OutputPart<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub encrypted_content: Option<Cow<'a, str>>,
}

/// One part of an output item's `content` or `summary`.
#[derive(Debug, Default, Deserialize)]
pub struct OutputPart<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub text: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub refusal: Option<Cow<'a, str>>,
}

/// `Option<Cow<str>>` that borrows when the JSON string has no escapes.
fn opt_cow<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap<'a>(#[serde(borrow)] Cow<'a, str>);
    Option::<Wrap<'de>>::deserialize(d).map(|o| o.map(|w| w.0))
}

/// `text` appended to `to`, borrowing while there is only one piece.
pub(crate) fn append<'a>(to: &mut Cow<'a, str>, text: Cow<'a, str>) {
    if to.is_empty() {
        *to = text;
    } else {
        to.to_mut().push_str(&text);
    }
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
    pub fn push(&mut self, event: &Event<'_>) -> Result<bool, Failure> {
        match event.kind() {
            Kind::OutputItemDone => {
                if let Some(raw) = event.item.as_deref() {
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
                self.keep(event.response.as_deref().map_or(0, |r| r.get().len()))?;
                self.incomplete = event.kind() == Kind::Incomplete;
                self.info = event.response().unwrap_or_default();
                self.response = event.response.as_deref().map(RawValue::to_owned);
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

    /// The output items, parsed into what the dialect renders: the
    /// `output_item.done` ones, else the final response's.
    pub fn output_items<'a, T: Deserialize<'a>>(&'a self) -> Vec<T> {
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

    /// The reasoning deltas, for streams whose items carry no summary.
    pub fn streamed_reasoning(&self) -> &str {
        &self.reasoning
    }

    /// The final response as upstream sent it (`None` before it came).
    pub fn final_response(&self) -> Option<&RawValue> {
        self.response.as_deref()
    }

    pub fn usage(&self) -> Option<Usage> {
        self.info.usage.clone()
    }
}

/// A collector fed `events` (the `data:` JSON of each), for the dialects'
/// answer tests.
#[cfg(test)]
pub(crate) fn collected(events: &[serde_json::Value]) -> Collector {
    let mut c = Collector::default();
    for e in events {
        let _ = push(&mut c, &e.to_string());
    }
    c
}

/// Feeds `c` one `data:` payload, parsed as the attempt parses it.
#[cfg(test)]
fn push(c: &mut Collector, data: &str) -> Result<bool, Failure> {
    match Event::parse(data) {
        Ok(event) => c.push(&event),
        Err(_) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn deltas_items_and_the_final_response_are_kept() {
        let c = collected(&[
            json!({"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.4"}}),
            json!({"type": "response.reasoning_summary_text.delta", "delta": "thi"}),
            json!({"type": "response.output_text.delta", "delta": "Hel"}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": []}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "model": "gpt-5.4-real",
                "usage": {"input_tokens": 9, "output_tokens": 3}}}),
        ]);
        assert_eq!((c.streamed_text(), c.streamed_reasoning()), ("Hel", "thi"));
        assert_eq!(c.info().model.as_deref(), Some("gpt-5.4-real"));
        assert_eq!(c.usage().map(|u| u.total()), Some(12));
        assert!(!c.is_incomplete());
        let items: Vec<serde_json::Value> = c.output_items();
        assert_eq!(items, [json!({"type": "message", "content": []})]);
        assert!(c
            .final_response()
            .is_some_and(|r| r.get().contains("resp_1")));
    }

    #[test]
    fn without_done_items_the_output_is_the_final_responses() {
        let c = collected(&[
            json!({"type": "response.incomplete", "response": {"output": [{"type": "message"}]}}),
        ]);
        assert!(c.is_incomplete());
        let items: Vec<serde_json::Value> = c.output_items();
        assert_eq!(items, [json!({"type": "message"})]);
    }

    #[test]
    fn a_failed_stream_is_an_error() {
        let mut c = Collector::default();
        let r = push(&mut c, &json!({"type": "response.failed", "response": {"error": {"code": "server_is_overloaded", "message": "busy"}}}).to_string());
        assert!(matches!(r, Err(Failure::StreamFailed { .. })));
    }

    #[test]
    fn an_answer_past_the_limit_is_a_failure_not_unbounded_memory() {
        let mut c = Collector::with_limit(1000);
        let delta =
            json!({"type": "response.output_text.delta", "delta": "x".repeat(300)}).to_string();
        let results: Vec<_> = (0..5).map(|_| push(&mut c, &delta)).collect();
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
        assert!(matches!(push(&mut c, &item.to_string()), Ok(false)));
        let done = json!({"type": "response.completed", "response": {"output": [], "pad": "z".repeat(600)}});
        assert!(push(&mut c, &done.to_string()).is_err());
        assert_eq!(Collector::default().limit, Collector::LIMIT);
    }
}
