//! A request's input as the bridge compares it: each item's raw bytes (and
//! their digests), every other field, and whether the input extends what the
//! conversation last sent and got (`Thread`). Nothing here builds a JSON
//! tree: items stay the client's bytes, written out again as they came.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::upstream::ws::kept::{Out, Thread};

/// A conversation longer than this is not fingerprinted (sent as today).
const MAX_ITEMS: usize = 100_000;

/// A translated request, split for the comparison.
pub(super) struct Request<'a> {
    /// Every top-level field but `input`, in name order.
    fields: BTreeMap<Cow<'a, str>, &'a RawValue>,
    pub items: Vec<&'a RawValue>,
    /// Each item's bytes, digested.
    pub digests: Vec<u64>,
    /// Every field but `input`, digested.
    pub rest: u64,
}

impl<'a> Request<'a> {
    /// `None` for a body that is not an object with an `input` array.
    pub(super) fn parse(body: &'a [u8]) -> Option<Request<'a>> {
        let mut fields: BTreeMap<Cow<'a, str>, &'a RawValue> = serde_json::from_slice(body).ok()?;
        let input = fields.remove("input")?;
        let items: Vec<&'a RawValue> = serde_json::from_str(input.get()).ok()?;
        if items.len() > MAX_ITEMS {
            return None;
        }
        let digests = items.iter().map(|i| digest(i.get().as_bytes())).collect();
        let mut h = hasher();
        for (k, v) in &fields {
            k.hash(&mut h);
            v.get().hash(&mut h);
        }
        Some(Request {
            fields,
            items,
            digests,
            rest: h.finish(),
        })
    }

    /// The index of the first new item when this input extends `thread`:
    /// the thread's input, byte for byte, then its answer's output items as
    /// a client sends them back (a reasoning item may be left out), then at
    /// least one item more; every other field unchanged.
    pub(super) fn extends(&self, thread: &Thread) -> Option<usize> {
        if thread.rest != self.rest || thread.response_id.is_empty() {
            return None;
        }
        let p = thread.input.len();
        if self.digests.len() <= p || self.digests[..p] != thread.input[..] {
            return None;
        }
        let mut j = p;
        for out in &thread.output {
            if j < self.items.len() && canonical(self.items[j].get()) == Some(out.digest) {
                j += 1;
            } else if !out.optional {
                return None;
            }
        }
        (j < self.items.len()).then_some(j)
    }

    /// The continuation frame: `previous_response_id`, the other fields as
    /// they were, and the items from `from` on.
    pub(super) fn continuation(&self, previous: &str, from: usize) -> String {
        let new = &self.items[from..];
        let size = new.iter().map(|i| i.get().len() + 1).sum::<usize>()
            + self
                .fields
                .values()
                .map(|v| v.get().len() + 32)
                .sum::<usize>()
            + previous.len()
            + 96;
        let mut out = String::with_capacity(size);
        out.push_str("{\"type\":\"response.create\",\"previous_response_id\":");
        out.push_str(&quote(previous));
        for (k, v) in &self.fields {
            if matches!(k.as_ref(), "type" | "previous_response_id") {
                continue;
            }
            out.push(',');
            out.push_str(&quote(k));
            out.push(':');
            out.push_str(v.get());
        }
        out.push_str(",\"input\":[");
        for (n, item) in new.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(item.get());
        }
        out.push_str("]}");
        out
    }
}

/// A full request as a frame: the body with `"type":"response.create"` in
/// front (the body's own bytes otherwise). `None` for a body that is not a
/// JSON object.
pub(super) fn full(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim_start();
    let rest = text.strip_prefix('{')?.trim_start();
    let mut out = String::with_capacity(text.len() + 28);
    out.push_str("{\"type\":\"response.create\"");
    if !rest.starts_with('}') {
        out.push(',');
    }
    out.push_str(rest);
    Some(out)
}

/// The conversation's thread after an answer: its whole input and the
/// answer's output items.
pub(super) fn thread(response_id: String, rest: u64, input: Vec<u64>, output: Vec<Out>) -> Thread {
    Thread {
        response_id,
        rest,
        input,
        output,
    }
}

/// An output item (`response.output_item.done`'s `item`) as the thread keeps it.
pub(super) fn out(item: &str) -> Option<Out> {
    let shape: Shape<'_> = serde_json::from_str(item).ok()?;
    Some(Out {
        optional: shape.kind.as_deref() == Some("reasoning"),
        digest: shape.digest(item),
    })
}

/// What a client sends back of an item: a call by its id, name and
/// arguments; a message by its role and text; a reasoning item by its
/// encrypted content; anything else by its type and id.
fn canonical(item: &str) -> Option<u64> {
    let shape: Shape<'_> = serde_json::from_str(item).ok()?;
    Some(shape.digest(item))
}

#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    encrypted_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Parts(#[serde(borrow)] Vec<Part<'a>>),
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
}

impl Shape<'_> {
    fn digest(&self, raw: &str) -> u64 {
        let mut h = hasher();
        let kind = self.kind.as_deref().unwrap_or("message");
        kind.hash(&mut h);
        match kind {
            "function_call" | "custom_tool_call" => {
                self.call_id.hash(&mut h);
                self.name.hash(&mut h);
                self.arguments.hash(&mut h);
                self.input.hash(&mut h);
            }
            "message" => {
                self.role.hash(&mut h);
                match self
                    .content
                    .map(|c| serde_json::from_str::<Content<'_>>(c.get()))
                {
                    // A string is one text part.
                    Some(Ok(Content::Text(t))) => {
                        t.as_ref().hash(&mut h);
                        "".hash(&mut h);
                    }
                    Some(Ok(Content::Parts(parts))) => {
                        for p in parts {
                            p.text.as_deref().unwrap_or("").hash(&mut h);
                            p.refusal.as_deref().unwrap_or("").hash(&mut h);
                        }
                    }
                    _ => raw.hash(&mut h),
                }
            }
            "reasoning" => self.encrypted_content.hash(&mut h),
            _ => match (&self.call_id, &self.id) {
                (None, None) => raw.hash(&mut h),
                (call_id, id) => {
                    call_id.hash(&mut h);
                    id.hash(&mut h);
                }
            },
        }
        h.finish()
    }
}

fn hasher() -> std::collections::hash_map::DefaultHasher {
    std::collections::hash_map::DefaultHasher::new()
}

fn digest(bytes: &[u8]) -> u64 {
    let mut h = hasher();
    bytes.hash(&mut h);
    h.finish()
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_of(body: &str, output: &[&str]) -> Thread {
        let r = Request::parse(body.as_bytes()).unwrap();
        thread(
            "resp_1".into(),
            r.rest,
            r.digests.clone(),
            output.iter().filter_map(|o| out(o)).collect(),
        )
    }

    const TURN1: &str = r#"{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}],"tools":[]}"#;
    const CALL: &str = r#"{"type":"function_call","id":"fc_1","call_id":"c1","name":"f","arguments":"{}","status":"completed"}"#;
    const REASONING: &str =
        r#"{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"enc"}"#;

    #[test]
    fn a_tool_output_after_the_answer_continues() {
        let t = thread_of(TURN1, &[REASONING, CALL]);
        // A chat client sends the call back without its id and status, and no reasoning.
        let turn2 = r#"{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}],"tools":[]}"#;
        let r = Request::parse(turn2.as_bytes()).unwrap();
        assert_eq!(r.extends(&t), Some(2));
        let frame: serde_json::Value = serde_json::from_str(&r.continuation("resp_1", 2)).unwrap();
        assert_eq!(frame["previous_response_id"], "resp_1");
        assert_eq!(frame["type"], "response.create");
        assert_eq!(frame["input"].as_array().unwrap().len(), 1);
        assert_eq!(frame["input"][0]["type"], "function_call_output");
        assert_eq!(frame["model"], "m");
    }

    #[test]
    fn an_edited_history_or_changed_field_does_not() {
        let t = thread_of(TURN1, &[CALL]);
        let edited = r#"{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"HI"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}],"tools":[]}"#;
        assert_eq!(Request::parse(edited.as_bytes()).unwrap().extends(&t), None);
        let other_args = r#"{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"x\":1}"},{"type":"function_call_output","call_id":"c1","output":"ok"}],"tools":[]}"#;
        assert_eq!(
            Request::parse(other_args.as_bytes()).unwrap().extends(&t),
            None
        );
        let other_model = r#"{"model":"n","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}],"tools":[]}"#;
        assert_eq!(
            Request::parse(other_model.as_bytes()).unwrap().extends(&t),
            None
        );
        // Nothing new: the same turn again is a full request.
        let same = r#"{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}],"tools":[]}"#;
        assert_eq!(Request::parse(same.as_bytes()).unwrap().extends(&t), None);
    }

    #[test]
    fn a_text_answer_matches_a_string_content() {
        let answer = r#"{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Hello","annotations":[]}]}"#;
        let t = thread_of(TURN1, &[answer]);
        let turn2 = r#"{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"message","role":"assistant","content":"Hello"},{"type":"message","role":"user","content":"more"}],"tools":[]}"#;
        assert_eq!(
            Request::parse(turn2.as_bytes()).unwrap().extends(&t),
            Some(2)
        );
    }

    #[test]
    fn a_full_frame_keeps_the_body() {
        let f = full(br#"{"model":"m","input":[]}"#).unwrap();
        assert_eq!(f, r#"{"type":"response.create","model":"m","input":[]}"#);
        assert_eq!(full(b"{}").unwrap(), r#"{"type":"response.create"}"#);
        assert!(full(b"[1]").is_none());
    }
}
