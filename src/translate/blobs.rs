//! Encrypted state in a conversation: reasoning items' `encrypted_content`
//! and compaction items, which only the account that produced them can read
//! (`docs/upstream.md` §8).
//!
//! Pure functions over the Responses body and upstream events: find the blobs
//! a request carries, find the blob an output item carries, and remove blobs
//! before a request goes to an account that could not read them — keeping
//! what is readable (a reasoning item's summary stays; a compaction item,
//! nothing but its blob, goes).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::upstream::events::{Event, Kind};

/// The item types whose `encrypted_content` is bound to an account.
fn carries_blob(item: &Value) -> Option<&str> {
    let kind = item.get("type")?.as_str()?;
    if !matches!(kind, "reasoning" | "compaction" | "compaction_summary") {
        return None;
    }
    item.get("encrypted_content")?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The blobs in a request body's `input`, in order.
pub fn in_request(body: &Value) -> Vec<&str> {
    body.get("input")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(carries_blob).collect())
        .unwrap_or_default()
}

/// The blob an input item carries, read from its JSON text as
/// `carries_blob` reads it from a parsed item. Cheap for items without one:
/// the text is searched before anything of it is parsed.
pub(crate) fn in_raw_item(item: &str) -> Option<Cow<'_, str>> {
    if !item.contains("encrypted_content") {
        return None;
    }
    let fields = super::parse::raw::Fields::parse(item);
    let kind = fields.str("type")?;
    if !matches!(&*kind, "reasoning" | "compaction" | "compaction_summary") {
        return None;
    }
    fields.str("encrypted_content").filter(|s| !s.is_empty())
}

/// The blob an upstream event's output item carries, if any (only
/// `response.output_item.done`, whose item is final). Cheap for other events:
/// the raw item is searched before anything of it is parsed, and then only
/// the item's two fields that matter are.
pub fn in_event(event: &Event<'_>) -> Option<String> {
    if event.kind() != Kind::OutputItemDone {
        return None;
    }
    let raw = event.item.as_deref()?.get();
    if !raw.contains("encrypted_content") {
        return None;
    }
    let item: BlobItem = serde_json::from_str(raw).ok()?;
    let blob = item.encrypted_content?;
    let bound = matches!(
        &*item.kind,
        "reasoning" | "compaction" | "compaction_summary"
    );
    (bound && !blob.is_empty()).then(|| blob.into_owned())
}

/// The fields of an output item `in_event` reads (as `carries_blob` does).
#[derive(Deserialize)]
struct BlobItem<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    encrypted_content: Option<Cow<'a, str>>,
}

/// Removes from `body`'s input every blob `keep` refuses: a reasoning item
/// loses its `encrypted_content` (its summary stays), a compaction item goes
/// whole. Returns how many blobs were removed.
pub fn strip(body: &mut Value, keep: impl Fn(&str) -> bool) -> usize {
    let Some(items) = body.get_mut("input").and_then(Value::as_array_mut) else {
        return 0;
    };
    let mut removed = 0;
    items.retain_mut(|item| {
        let Some(blob) = carries_blob(item) else {
            return true;
        };
        if keep(blob) {
            return true;
        }
        removed += 1;
        let reasoning = item.get("type").and_then(Value::as_str) == Some("reasoning");
        if let (true, Some(obj)) = (reasoning, item.as_object_mut()) {
            obj.remove("encrypted_content");
            true
        } else {
            false
        }
    });
    removed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body() -> Value {
        json!({"input": [
            {"type": "message", "role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}],
             "encrypted_content": "enc-a-1"},
            {"type": "compaction", "encrypted_content": "enc-b-2"},
            {"type": "reasoning", "summary": [], "encrypted_content": "enc-b-3"},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        ]})
    }

    #[test]
    fn finds_the_blobs_a_request_carries() {
        assert_eq!(in_request(&body()), ["enc-a-1", "enc-b-2", "enc-b-3"]);
        assert!(in_request(&json!({"input": "text"})).is_empty());
    }

    #[test]
    fn strips_foreign_blobs_and_keeps_summaries() {
        let mut b = body();
        let removed = strip(&mut b, |blob| blob.starts_with("enc-a"));
        assert_eq!(removed, 2);
        let items = b["input"].as_array().unwrap();
        assert_eq!(items.len(), 4, "the compaction item went: {b}");
        assert_eq!(items[1]["encrypted_content"], "enc-a-1", "own blob kept");
        assert_eq!(items[2]["type"], "reasoning");
        assert!(items[2].get("encrypted_content").is_none());
        assert_eq!(items[3]["type"], "function_call");
        assert_eq!(strip(&mut b, |_| false), 1);
        assert!(in_request(&b).is_empty());
    }

    fn blob_in(data: &str) -> Option<String> {
        in_event(&Event::parse(data).unwrap())
    }

    #[test]
    fn finds_the_blob_of_a_finished_output_item() {
        let done = json!({"type": "response.output_item.done", "output_index": 0,
            "item": {"type": "reasoning", "summary": [], "encrypted_content": "enc-x"}})
        .to_string();
        assert_eq!(blob_in(&done).as_deref(), Some("enc-x"));
        let added = done.replace("output_item.done", "output_item.added");
        assert_eq!(blob_in(&added), None);
        assert_eq!(
            blob_in(r#"{"type":"response.output_text.delta","delta":"x"}"#),
            None
        );
    }
}
