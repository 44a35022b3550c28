//! The conversation of a translated request (`input`), serialized while it
//! is translated, into the buffer the whole upstream body ends up in.
//!
//! What the gateway only forwards (tool outputs, message text, encrypted
//! content, images, items it does not know) is copied from the client's
//! bytes as they are, JSON escapes included; only the keys and the fields a
//! dialect changes are written anew. The buffer starts with `{"input":[`, so
//! once the conversation is in, the other top-level fields (small, and still
//! changed after translation: the model, reasoning, tools) are appended to it
//! and the body is done: one buffer, written once (`Upstream::to_bytes`).
//!
//! Each item's bytes stay addressable (`Input::items`) for whatever compares
//! one turn's items with the last's; the encrypted blobs' digests are taken
//! as the items are written (`Input::blobs`).

use std::borrow::Cow;
use std::ops::Range;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::parse::raw;
use crate::pool::pins::digest;

const OPEN: &[u8] = b"{\"input\":[";

/// A conversation being written, or written.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    buf: Vec<u8>,
    items: Vec<Range<usize>>,
    blobs: Vec<u64>,
}

impl Default for Input {
    fn default() -> Input {
        Input::with_capacity(0)
    }
}

impl Input {
    /// An empty conversation, with room for about `bytes` of it.
    pub fn with_capacity(bytes: usize) -> Input {
        let mut buf = crate::buffers::with_capacity(bytes + 1024);
        buf.extend_from_slice(OPEN);
        Input {
            buf,
            items: Vec::new(),
            blobs: Vec::new(),
        }
    }

    /// How many items the conversation holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Each item's JSON text, in order (as the upstream body carries it).
    pub fn items(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.items.iter().map(|r| &self.buf[r.clone()])
    }

    /// The digests (`pool::pins::digest`) of the encrypted blobs the
    /// items carry (`translate::blobs`), in order.
    pub fn blobs(&self) -> &[u64] {
        &self.blobs
    }

    /// The `input` array's JSON text.
    pub fn json(&self) -> &[u8] {
        let end = self.buf.len();
        &self.buf[OPEN.len() - 1..end]
    }

    /// The first item the way `serde_json` writes it from a `Value` (keys
    /// sorted, no whitespace, its escapes): what a derived session id hashes,
    /// whatever the client's spelling.
    pub(crate) fn first_canonical(&self) -> Option<Vec<u8>> {
        let first = self.items().next()?;
        let v: Value = serde_json::from_slice(first).ok()?;
        serde_json::to_vec(&v).ok()
    }

    /// Starts an item: what is written next, up to `end_item`, is one item.
    pub(crate) fn begin_item(&mut self) -> &mut Vec<u8> {
        if !self.items.is_empty() {
            self.buf.push(b',');
        }
        let at = self.buf.len();
        self.items.push(at..at);
        &mut self.buf
    }

    /// Ends the item `begin_item` started.
    pub(crate) fn end_item(&mut self) {
        let end = self.buf.len();
        if let Some(last) = self.items.last_mut() {
            last.end = end;
        }
    }

    /// One item as the client sent it (a JSON object's text).
    pub(crate) fn push_raw(&mut self, item: &RawValue) {
        self.begin_item().extend_from_slice(item.get().as_bytes());
        self.end_item();
    }

    /// The buffer being written (inside an item).
    pub(crate) fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Notes an encrypted blob (a JSON string literal) the current item carries.
    pub(crate) fn blob(&mut self, literal: &str) {
        if let Some(text) = raw::string_of(literal).filter(|s| !s.is_empty()) {
            self.blobs.push(digest(text.as_bytes()));
        }
    }

    /// Notes the blob of a decoded string.
    pub(crate) fn blob_text(&mut self, text: &str) {
        if !text.is_empty() {
            self.blobs.push(digest(text.as_bytes()));
        }
    }

    /// Notes the blob an item the client sent carries, if it is one of the
    /// kinds bound to an account (`translate::blobs`). Cheap for the others:
    /// the item is searched before anything of it is parsed.
    pub(crate) fn blob_of_item(&mut self, item: &RawValue) {
        if let Some(b) = super::blobs::in_raw_item(item.get()) {
            self.blob_text(&b);
        }
    }

    /// The whole body: the conversation, then `head`'s fields (any `input`
    /// among them is not written again).
    pub fn finish(mut self, head: &Map<String, Value>) -> Result<Vec<u8>, serde_json::Error> {
        self.buf.push(b']');
        for (k, v) in head {
            if k == "input" {
                continue;
            }
            self.buf.push(b',');
            serde_json::to_writer(&mut self.buf, k)?;
            self.buf.push(b':');
            serde_json::to_writer(&mut self.buf, v)?;
        }
        self.buf.push(b'}');
        Ok(self.buf)
    }

    /// The conversation as a `Value` (tests, and the routes that still edit
    /// a whole body as one).
    pub fn to_value(&self) -> Value {
        let mut json = self.json().to_vec();
        json.push(b']');
        serde_json::from_slice(&json).unwrap_or(Value::Null)
    }
}

/// A string a dialect writes (a key's value it made, not the client's).
pub(crate) fn put_str(buf: &mut Vec<u8>, s: &str) {
    // Writing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// `"key":` (the keys the gateway writes need no escaping).
pub(crate) fn put_key(buf: &mut Vec<u8>, first: bool, key: &str) {
    if !first {
        buf.push(b',');
    }
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// A text that is the client's JSON strings joined, written as one string
/// literal without decoding them: their insides are copied as they are,
/// `sep` (already escaped JSON string content) between them.
pub(crate) fn put_joined<'a>(
    buf: &mut Vec<u8>,
    prefix: &str,
    pieces: impl IntoIterator<Item = &'a str>,
    sep: &str,
) {
    buf.push(b'"');
    buf.extend_from_slice(prefix.as_bytes());
    for (i, literal) in pieces.into_iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(sep.as_bytes());
        }
        buf.extend_from_slice(raw::inside(literal).as_bytes());
    }
    buf.push(b'"');
}

/// The client's JSON text (any value) as one JSON string holding it, the
/// whitespace between its tokens left out: `{"a": 1}` → `"{\"a\":1}"`.
pub(crate) fn put_as_string(buf: &mut Vec<u8>, json: &str) {
    buf.push(b'"');
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    let bytes = json.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let out: Option<&[u8]> = if in_string {
            if escaped {
                // The escaped character itself: `"` and `\` need escaping again.
                escaped = false;
                match b {
                    b'"' => Some(b"\\\""),
                    b'\\' => Some(b"\\\\"),
                    _ => None,
                }
            } else {
                match b {
                    b'\\' => {
                        escaped = true;
                        Some(b"\\\\")
                    }
                    b'"' => {
                        in_string = false;
                        Some(b"\\\"")
                    }
                    _ => None,
                }
            }
        } else {
            match b {
                b'"' => {
                    in_string = true;
                    Some(b"\\\"")
                }
                b' ' | b'\n' | b'\r' | b'\t' => Some(b""),
                _ => None,
            }
        };
        if let Some(rep) = out {
            buf.extend_from_slice(&bytes[start..i]);
            buf.extend_from_slice(rep);
            start = i + 1;
        }
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// A JSON string literal's text, decoded only when it holds an escape.
pub(crate) fn text_of(literal: &str) -> Option<Cow<'_, str>> {
    raw::string_of(literal)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_value_written_as_a_string_is_the_same_json() {
        for v in [
            r#"{"a": 1, "b": ["x \"q\" \\ y", {"c": null}]}"#,
            "[1,\n 2]",
            r#""s\u00e9""#,
        ] {
            let mut buf = Vec::new();
            put_as_string(&mut buf, v);
            let s: String = serde_json::from_slice(&buf).unwrap();
            let again: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(again, serde_json::from_str::<Value>(v).unwrap(), "{s}");
        }
    }

    #[test]
    fn joined_strings_are_copied_as_they_are() {
        let mut buf = Vec::new();
        put_joined(&mut buf, "Error: ", [r#""a\nb""#, r#""c\"d""#], "\\n");
        let s: String = serde_json::from_slice(&buf).unwrap();
        assert_eq!(s, "Error: a\nb\nc\"d");
    }

    #[test]
    fn items_blobs_and_the_finished_body() {
        let mut input = Input::default();
        let item: Box<RawValue> = serde_json::from_str(
            r#"{"type": "reasoning", "summary": [], "encrypted_content": "enc-1"}"#,
        )
        .unwrap();
        input.push_raw(&item);
        input.blob_of_item(&item);
        input.push_raw(&serde_json::from_str::<Box<RawValue>>(r#"{"type":"x"}"#).unwrap());
        assert_eq!(input.len(), 2);
        assert_eq!(input.items().nth(1), Some(&br#"{"type":"x"}"#[..]));
        assert_eq!(input.blobs(), [digest(b"enc-1")]);
        let mut head = Map::new();
        head.insert("model".into(), json!("m"));
        let body: Value = serde_json::from_slice(&input.finish(&head).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"model": "m", "input": [
                {"type": "reasoning", "summary": [], "encrypted_content": "enc-1"}, {"type": "x"}]})
        );
    }
}
