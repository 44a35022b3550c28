//! A collected upstream stream → the one Responses object a client that did
//! not stream gets: upstream's final response, with `output` filled from the
//! stream when the final event left it empty.

use serde_json::{json, Map, Value};

use crate::translate::Collector;

/// The Responses API object; `model` is shown when upstream named none. A
/// final response that is not a JSON object (upstream misbehaving) is
/// replaced by a bare one, filled the same way.
pub fn answer(c: &Collector, model: &str) -> Value {
    let parsed = c
        .final_response()
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
    let mut r = match parsed {
        Some(Value::Object(r)) => r,
        _ => Map::from_iter([("object".to_string(), json!("response"))]),
    };
    let empty = r
        .get("output")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if empty {
        r.insert("output".into(), Value::Array(c.output_items::<Value>()));
    }
    if r.get("model").is_none_or(Value::is_null) {
        r.insert("model".into(), json!(model));
    }
    Value::Object(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::collect::collected;

    #[test]
    fn upstreams_response_is_kept_and_an_empty_output_filled_from_the_items() {
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": []}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "model": null, "output": [], "usage": {"input_tokens": 1}}}),
        ]);
        let r = answer(&c, "asked");
        assert_eq!(r["id"], "resp_1");
        assert_eq!(r["model"], "asked");
        assert_eq!(r["usage"]["input_tokens"], 1);
        assert_eq!(r["output"], json!([{"type": "message", "content": []}]));
        // An output upstream filled is left as it is.
        let c = collected(&[
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": []}}),
            json!({"type": "response.completed", "response": {"model": "m", "output": [{"type": "reasoning"}]}}),
        ]);
        let r = answer(&c, "asked");
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
            let r = answer(&c, "asked");
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
        let r = answer(&c, "asked");
        assert_eq!(r["output"].as_array().map(Vec::len), Some(2));
        assert_eq!(r["output"][0]["type"], "reasoning");
    }
}
