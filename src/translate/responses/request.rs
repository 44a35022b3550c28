//! A client's Responses request → what the codex backend accepts.
//!
//! Forces `stream:true` and `store:false`, makes `instructions` a string, adds
//! `reasoning.encrypted_content` to `include`, sets `prompt_cache_key`, and
//! strips the parameters the backend refuses. Item and tool types this gateway
//! does not know pass through untouched.

use bytes::Bytes;
use serde_json::{json, Map, Value};

mod top;

use crate::translate::input::put_str;
use crate::translate::parse::{parse_lazy, raw};
use crate::translate::{limits, session_id, type_name, Input, Invalid, Upstream, REFUSED_PARAMS};
use top::{Items, Top};

/// The backend's body for a client's Responses request. A body past the
/// count limits (`translate::limits`) is refused before anything is parsed.
///
/// The conversation (`input`) is not parsed into a tree: each item is kept
/// as the client's text and copied into the upstream body as it is (the
/// gateway reads only an item's type and encrypted blob); the other fields
/// are parsed and checked as before.
pub fn normalize(
    bytes: &[u8],
    session_hint: Option<&str>,
    seed: &str,
) -> Result<Upstream, Invalid> {
    let clean = limits::check_clean(bytes, &limits::RESPONSES)?;
    let (input_raw, mut body) = match parse_lazy::<Top, Value>(bytes, clean)? {
        Top::Object { input, rest } => (input, rest),
        Top::Other(kind) => {
            return Err(Invalid::field(
                "body",
                format!("the request body must be a JSON object, not {kind}"),
            ))
        }
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(Invalid::field("model", "'model' is required"))
        }
        Some(other) => {
            return Err(Invalid::field(
                "model",
                format!("'model' must be a string, not {}", type_name(other)),
            ))
        }
    };
    if body
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        return Err(Invalid {
            param: Some("previous_response_id".into()),
            code: "previous_response_not_supported",
            message: "'previous_response_id' cannot work here: the ChatGPT backend keeps no responses (store must be false); send the whole conversation in 'input' instead".into(),
        });
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Invalid::field(
                "stream",
                format!("'stream' must be a boolean, not {}", type_name(other)),
            ))
        }
    };
    let input = conversation(input_raw, bytes.len())?;
    match body.get("instructions") {
        None | Some(Value::Null) => {
            body.insert("instructions".into(), json!(""));
        }
        Some(Value::String(_)) => {}
        Some(other) => {
            return Err(Invalid::field(
                "instructions",
                format!("'instructions' must be a string, not {}", type_name(other)),
            ))
        }
    }
    if let Some(tools) = body.get("tools") {
        if !tools.is_array() && !tools.is_null() {
            return Err(Invalid::field(
                "tools",
                format!("'tools' must be an array, not {}", type_name(tools)),
            ));
        }
    }
    for p in REFUSED_PARAMS {
        body.remove(*p);
    }
    body.insert("store".into(), json!(false));
    body.insert("stream".into(), json!(true));
    merge_include(&mut body)?;

    let explicit = body
        .get("prompt_cache_key")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let session_id = session_id(&mut body, explicit.as_deref(), session_hint, seed, &input);
    Ok(Upstream {
        body: Value::Object(body),
        input,
        model,
        stream,
        session_id,
    })
}

/// `input`: a string is one user message; an array's items (each an
/// object) are copied as the client wrote them.
fn conversation(input: Option<Items<'_>>, size: usize) -> Result<Input, Invalid> {
    match input {
        None | Some(Items::Null) => Err(Invalid::field("input", "'input' is required")),
        Some(Items::Text(text)) => {
            let mut input = Input::with_capacity(text.len() + 128);
            let buf = input.begin_item();
            buf.extend_from_slice(
                br#"{"type":"message","role":"user","content":[{"type":"input_text","text":"#,
            );
            put_str(buf, &text);
            buf.extend_from_slice(b"}]}");
            input.end_item();
            Ok(input)
        }
        Some(Items::List(items)) => {
            if let Some(i) = items.iter().position(|it| !raw::is_object(it)) {
                return Err(Invalid::field(
                    format!("input[{i}]"),
                    format!("'input[{i}]' must be an object"),
                ));
            }
            let mut input = Input::with_capacity(size);
            for item in items {
                input.push_raw(item);
                input.blob_of_item(item);
            }
            Ok(input)
        }
        Some(Items::Other(kind)) => Err(Invalid::field(
            "input",
            format!("'input' must be a string or an array, not {kind}"),
        )),
    }
}

/// A translated body with `instructions` set to the model's own prompt and the
/// client's instructions moved, unchanged, into a leading developer message
/// (none when they were empty). `None` when the body is not a JSON object, or
/// has instructions to move but no `input` array to move them into.
pub fn with_base_instructions(body: &[u8], base: &str) -> Option<Bytes> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object_mut()?;
    let theirs = obj
        .insert("instructions".into(), Value::String(base.to_string()))
        .and_then(|i| i.as_str().map(str::to_owned))
        .filter(|i| !i.is_empty());
    if let Some(text) = theirs {
        let input = obj.get_mut("input")?.as_array_mut()?;
        input.insert(
            0,
            json!({"type": "message", "role": "developer",
                "content": [{"type": "input_text", "text": text}]}),
        );
    }
    serde_json::to_vec(&v).ok().map(Bytes::from)
}

fn merge_include(body: &mut Map<String, Value>) -> Result<(), Invalid> {
    const ENCRYPTED: &str = "reasoning.encrypted_content";
    match body.get_mut("include") {
        None | Some(Value::Null) => {
            body.insert("include".into(), json!([ENCRYPTED]));
        }
        Some(Value::Array(list)) => {
            if !list.iter().any(|v| v == ENCRYPTED) {
                list.push(json!(ENCRYPTED));
            }
        }
        Some(other) => {
            return Err(Invalid::field(
                "include",
                format!("'include' must be an array, not {}", type_name(other)),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normalized body with its conversation parsed back in (and the
    /// bytes checked to be that same JSON).
    fn norm(v: Value) -> Result<Upstream, Invalid> {
        normalize(v.to_string().as_bytes(), None, "seed").map(|mut n| {
            let bytes = n.to_bytes().unwrap_or_default();
            n.body = serde_json::from_slice(&bytes).unwrap_or_default();
            assert_eq!(n.body, n.full_body());
            n.input = Input::default();
            n
        })
    }

    #[test]
    fn forces_the_backend_rules_and_strips_refused_params() {
        let n = norm(json!({"model": "gpt-5.4", "input": "hi", "stream": false, "store": true,
            "temperature": 0.2, "max_output_tokens": 10, "top_p": 1, "truncation": "auto", "metadata": {"a": 1},
            "include": ["file_search_call.results"],
            "tools": [{"type": "custom", "name": "apply_patch"}, {"type": "web_search"}]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let b = &n.body;
        assert!(!n.stream);
        assert_eq!(b["stream"], true);
        assert_eq!(b["store"], false);
        assert_eq!(b["instructions"], "");
        for p in [
            "temperature",
            "max_output_tokens",
            "top_p",
            "truncation",
            "metadata",
        ] {
            assert!(b.get(p).is_none(), "{p} forwarded");
        }
        assert_eq!(
            b["include"],
            json!(["file_search_call.results", "reasoning.encrypted_content"])
        );
        assert_eq!(b["input"][0]["content"][0]["text"], "hi");
        assert_eq!(
            b["tools"][0],
            json!({"type": "custom", "name": "apply_patch"})
        );
        assert_eq!(b["prompt_cache_key"], json!(n.session_id));
    }

    #[test]
    fn unknown_items_pass_through_untouched() {
        let item = json!({"type": "compaction", "encrypted_content": "xyz", "future": [1, 2]});
        let n = norm(json!({"model": "m", "input": [item.clone()], "instructions": "be brief", "prompt_cache_key": "abc"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.body["input"][0], item);
        assert_eq!(n.session_id, "abc");
        assert_eq!(n.body["instructions"], "be brief");
    }

    #[test]
    fn refuses_previous_response_id_and_bad_types() {
        let e = norm(json!({"model": "m", "input": "x", "previous_response_id": "resp_1"})).err();
        assert_eq!(e.map(|e| e.code), Some("previous_response_not_supported"));
        let e = norm(json!({"model": 5, "input": "x"})).err();
        assert_eq!(e.and_then(|e| e.param), Some("model".into()));
        let e = norm(json!({"model": "m", "input": "x", "instructions": 3})).err();
        assert_eq!(e.and_then(|e| e.param), Some("instructions".into()));
        let e = normalize(b"{not json", None, "").err();
        assert_eq!(e.map(|e| e.code), Some("invalid_json"));
    }

    #[test]
    fn derived_session_is_stable_per_conversation() {
        let a = norm(json!({"model": "m", "input": "first"}))
            .map(|n| n.session_id)
            .ok();
        let b = norm(json!({"model": "m", "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "first"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}]}))
            .map(|n| n.session_id)
            .ok();
        assert_eq!(a, b);
        let c = norm(json!({"model": "m", "input": "other"}))
            .map(|n| n.session_id)
            .ok();
        assert_ne!(a, c);
    }

    #[test]
    fn input_items_and_tools_at_the_limit_pass_and_one_more_is_refused() {
        use crate::translate::limits::{MAX_ITEMS, MAX_TOOLS};
        let items = |n| json!({"model": "m", "input": vec![json!({"type": "x"}); n]});
        assert_eq!(
            norm(items(MAX_ITEMS)).map(|n| n.body["input"].as_array().map(Vec::len)),
            Ok(Some(MAX_ITEMS))
        );
        let e = norm(items(MAX_ITEMS + 1)).err();
        assert_eq!(e.and_then(|e| e.param), Some("input".into()));
        let tools = |n| json!({"model": "m", "input": "x", "tools": vec![json!({"type": "web_search"}); n]});
        assert!(norm(tools(MAX_TOOLS)).is_ok());
        let e = norm(tools(MAX_TOOLS + 1)).err();
        assert_eq!(e.and_then(|e| e.param), Some("tools".into()));
    }

    fn rewrite(body: &Value) -> Option<Value> {
        let out = with_base_instructions(body.to_string().as_bytes(), "BASE")?;
        serde_json::from_slice(&out).ok()
    }

    #[test]
    fn base_instructions_replace_the_clients_which_lead_the_input_as_developer() {
        let user = json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]});
        let v = rewrite(&json!({"model": "m", "instructions": "Answer in French.", "input": [user.clone()], "store": false}))
            .unwrap_or_else(|| panic!("rewritten"));
        assert_eq!(v["instructions"], "BASE");
        assert_eq!(
            v["input"],
            json!([{"type": "message", "role": "developer",
                "content": [{"type": "input_text", "text": "Answer in French."}]}, user])
        );
        assert_eq!(v["model"], "m");
        assert_eq!(v["store"], false);
    }

    #[test]
    fn empty_or_missing_instructions_add_no_developer_message() {
        let input = json!([{"type": "message", "role": "user", "content": []}]);
        for body in [
            json!({"instructions": "", "input": input.clone()}),
            json!({"input": input.clone()}),
            json!({"instructions": null, "input": input.clone()}),
        ] {
            let v = rewrite(&body).unwrap_or_else(|| panic!("rewritten: {body}"));
            assert_eq!(v["instructions"], "BASE", "{body}");
            assert_eq!(v["input"], input, "{body}");
        }
        // Nothing to move, so no input array is needed.
        assert_eq!(
            rewrite(&json!({"instructions": ""})).map(|v| v["instructions"].clone()),
            Some(json!("BASE"))
        );
    }

    #[test]
    fn a_body_that_cannot_take_the_rewrite_gives_none() {
        assert_eq!(with_base_instructions(b"not json", "BASE"), None);
        assert_eq!(rewrite(&json!([1, 2])), None, "not an object");
        assert_eq!(rewrite(&json!("text")), None, "not an object");
        assert_eq!(
            rewrite(&json!({"instructions": "mine", "input": "a string"})),
            None,
            "instructions to move but no input array"
        );
        assert_eq!(rewrite(&json!({"instructions": "mine"})), None);
    }
}
