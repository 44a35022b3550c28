//! Tests of `ChatRequest::parse` and `into_responses`: one golden request and
//! one behaviour per test, each asserting the exact item or error it expects.

use super::*;
use crate::translate::{Upstream, REFUSED_PARAMS};

const GOLDEN_REQUEST: &str =
    include_str!("../../../../../tests/fixtures/translate/chat_request_full.json");
const GOLDEN_BODY: &str =
    include_str!("../../../../../tests/fixtures/translate/responses_body_full.json");

fn translate(v: Value) -> Result<Upstream, Invalid> {
    ChatRequest::parse(v.to_string().as_bytes())?
        .into_responses(None, "seed")
        .map(flat)
}

/// The translation with its conversation parsed back into `body`, so a test
/// reads the whole upstream body as one tree (and checks it is valid JSON).
fn flat(mut t: Upstream) -> Upstream {
    let bytes = t.to_bytes().unwrap();
    t.body = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(t.body, t.full_body());
    t.input = crate::translate::Input::default();
    t
}

fn ok(v: Value) -> Upstream {
    translate(v).unwrap_or_else(|e| panic!("expected a translation, got {e:?}"))
}

fn err(v: Value) -> Invalid {
    match translate(v) {
        Ok(t) => panic!("expected an error, got body {}", t.body),
        Err(e) => e,
    }
}

fn parse_err(bytes: &[u8]) -> Invalid {
    match ChatRequest::parse(bytes) {
        Ok(r) => panic!("expected a parse error, got {r:?}"),
        Err(e) => e,
    }
}

/// A minimal valid request with `extra` fields merged in.
fn with(extra: Value) -> Value {
    let mut v = json!({"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}]});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn messages(msgs: Value) -> Value {
    json!({"model": "gpt-5.4", "messages": msgs})
}

fn input(t: &Upstream) -> &Vec<Value> {
    t.body["input"].as_array().unwrap()
}

fn assert_invalid(e: &Invalid, param: &str, code: &str) {
    assert_eq!(e.param.as_deref(), Some(param), "param of {e:?}");
    assert_eq!(e.code, code, "code of {e:?}");
    assert!(!e.message.is_empty());
}

mod assistant;
mod limits;
mod messages;
mod params;
mod refused;
mod session;
