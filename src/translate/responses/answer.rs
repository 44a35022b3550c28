//! A collected upstream stream → the one Responses object a client that did
//! not stream gets: upstream's final response, with `output` filled from the
//! stream when the final event left it empty.
//!
//! The response is not parsed into a tree: its top-level members are read as
//! raw JSON and written back in key order (as the `serde_json::Value` this
//! was before wrote them), each value as upstream sent it; only `output` and
//! `model` may be replaced.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::translate::collect::Answer;
use crate::translate::Collector;

/// A JSON object's members, raw and borrowed, in the order they came.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members<'de>, D::Error> {
        struct Each;
        #[derive(Deserialize)]
        struct Key<'a>(#[serde(borrow)] Cow<'a, str>);
        impl<'de> Visitor<'de> for Each {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some((Key(k), v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    members.push((k, v));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Each)
    }
}

/// A member's new value.
enum Value<'a> {
    Raw(&'a RawValue),
    Text(&'a str),
    Items(Vec<&'a RawValue>),
}

/// The Responses API object; `model` is shown when upstream named none. A
/// final response that is not a JSON object (upstream misbehaving) is
/// replaced by a bare one, filled the same way.
pub fn answer(c: &Collector, model: &str) -> Answer {
    let members = c
        .final_response()
        .and_then(|raw| serde_json::from_str::<Members<'_>>(raw.get()).ok());
    let mut members: Vec<(Cow<'_, str>, Value<'_>)> = match members {
        Some(Members(m)) => m.into_iter().map(|(k, v)| (k, Value::Raw(v))).collect(),
        None => vec![(Cow::Borrowed("object"), Value::Text("response"))],
    };
    // Sorted by key, the last of equal keys kept (what a map made of them held).
    members.reverse();
    members.sort_by(|a, b| a.0.cmp(&b.0));
    members.dedup_by(|later, first| later.0 == first.0);
    let find = |members: &[(Cow<'_, str>, Value<'_>)], key: &str| {
        members.binary_search_by(|(k, _)| k.as_ref().cmp(key))
    };
    let empty = match find(&members, "output").ok().map(|i| &members[i].1) {
        Some(Value::Raw(raw)) => is_empty_array(raw),
        _ => true,
    };
    if empty {
        let items = Value::Items(c.output_items::<&RawValue>());
        match find(&members, "output") {
            Ok(i) => members[i].1 = items,
            Err(i) => members.insert(i, (Cow::Borrowed("output"), items)),
        }
    }
    let shown = match find(&members, "model") {
        Ok(i) => match &members[i].1 {
            Value::Raw(raw) if raw.get() == "null" => {
                members[i].1 = Value::Text(model);
                Some(model.to_owned())
            }
            Value::Raw(raw) => serde_json::from_str::<String>(raw.get()).ok(),
            _ => None,
        },
        Err(i) => {
            members.insert(i, (Cow::Borrowed("model"), Value::Text(model)));
            Some(model.to_owned())
        }
    };
    Answer {
        body: write(
            &members,
            c.final_response().map_or(256, |r| r.get().len() + 64),
        ),
        model: shown,
    }
}

/// `[]` (or a value that is not an array: it is replaced too).
fn is_empty_array(raw: &RawValue) -> bool {
    match raw
        .get()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
    {
        Some(inside) => inside.trim().is_empty(),
        None => true,
    }
}

fn write(members: &[(Cow<'_, str>, Value<'_>)], capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.push(b'{');
    for (n, (key, value)) in members.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, key);
        out.push(b':');
        match value {
            Value::Raw(raw) => out.extend_from_slice(raw.get().as_bytes()),
            Value::Text(text) => {
                let _ = serde_json::to_writer(&mut out, text);
            }
            Value::Items(items) => {
                out.push(b'[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(item.get().as_bytes());
                }
                out.push(b']');
            }
        }
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::translate::collect::collected;

    /// The answer's body, parsed.
    fn render(c: &Collector, model: &str) -> Value {
        serde_json::from_slice(&answer(c, model).body).unwrap()
    }

    #[test]
    fn members_are_written_in_key_order_each_as_upstream_sent_it() {
        let mut c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [], "id": "m1"}}),
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "summary": []}}),
        ]);
        let raw = r#"{"type":"response.completed","response":{"status":"completed","id":"r\u0031","output":[ ],"usage":{"z":1,"a":2},"model":null,"id":"resp_1"}}"#;
        let event = crate::upstream::events::Event::parse(raw).unwrap();
        assert!(c.push(&event).unwrap());
        let a = answer(&c, "asked");
        assert_eq!(
            String::from_utf8(a.body).unwrap(),
            // (The items were written by `json!`, in key order too.)
            r#"{"id":"resp_1","model":"asked","output":[{"content":[],"id":"m1","type":"message"},{"summary":[],"type":"reasoning"}],"status":"completed","usage":{"z":1,"a":2}}"#
        );
        assert_eq!(a.model.as_deref(), Some("asked"));
    }

    #[test]
    fn upstreams_response_is_kept_and_an_empty_output_filled_from_the_items() {
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": []}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "model": null, "output": [], "usage": {"input_tokens": 1}}}),
        ]);
        let r = render(&c, "asked");
        assert_eq!(r["id"], "resp_1");
        assert_eq!(r["model"], "asked");
        assert_eq!(r["usage"]["input_tokens"], 1);
        assert_eq!(r["output"], json!([{"type": "message", "content": []}]));
        // An output upstream filled is left as it is.
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": []}}),
            json!({"type": "response.completed", "response": {"model": "m", "output": [{"type": "reasoning"}]}}),
        ]);
        let r = render(&c, "asked");
        assert_eq!(
            (&r["model"], &r["output"]),
            (&json!("m"), &json!([{"type": "reasoning"}]))
        );
    }

    #[test]
    fn a_final_response_that_is_not_an_object_gives_a_best_effort_answer() {
        for response in [json!("oops"), json!([1, 2]), json!(null), json!(7)] {
            let c = collected(&[
                json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "hi"}]}}),
                json!({"type": "response.completed", "response": response}),
            ]);
            let r = render(&c, "asked");
            assert_eq!(r["object"], "response", "{response}");
            assert_eq!(r["model"], "asked", "{response}");
            assert_eq!(r["output"][0]["content"][0]["text"], "hi", "{response}");
        }
    }

    #[test]
    fn every_done_item_fills_the_output_in_order() {
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "summary": []}}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": []}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "output": []}}),
        ]);
        let r = render(&c, "asked");
        assert_eq!(r["output"].as_array().map(Vec::len), Some(2));
        assert_eq!(r["output"][0]["type"], "reasoning");
    }
}
