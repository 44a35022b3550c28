//! Pure translation between the client dialects and the codex-responses
//! transport: no I/O, no clocks beyond what callers pass in.
//!
//! One folder per client dialect, each with its request, stream, answer and
//! error shapes: `chat` (Chat Completions), `anthropic` (Messages),
//! `responses` (the backend's own API, relayed as it is). Shared by them:
//! - `convert`: the stream converter's trait (`Convert`, `Step`);
//! - `collect`: the `Collector` that gathers a whole stream for a client
//!   that did not stream;
//! - `parse`: the one request-body parser; `limits`: the count limits on a
//!   body;
//! - `alias`: which backend model a requested name means;
//! - `blobs`: the encrypted blobs a conversation carries;
//! - `images`: the Images API onto the `image_generation` tool (a route of
//!   its own, not a dialect);
//! - here: the translated request (`Upstream`), the refusal (`Invalid`).
//!
//! A dialect imports from the shared modules, never from another dialect.

pub mod alias;
pub mod anthropic;
pub mod blobs;
pub mod chat;
pub mod collect;
pub mod convert;
pub mod images;
pub mod input;
pub mod limits;
pub mod lite;
mod parse;
pub mod responses;

pub use alias::{resolve_model, Resolved};
pub use collect::{Answer, Collector};
pub use convert::{Convert, Step};
pub use input::Input;

use serde_json::{Map, Value};

/// A request translated for the backend: what every route hands the pool.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The codex-responses body's top-level fields (before serialization),
    /// but for `input` when `input` holds the conversation.
    pub body: Value,
    /// The conversation, already serialized (`translate::input`); empty when
    /// `body` carries its own `input` (or none).
    pub input: Input,
    /// The model the client asked for.
    pub model: String,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The conversation id sent as `session-id` (header-safe).
    pub session_id: String,
}

impl Upstream {
    /// The upstream body's bytes (a copy; `into_bytes` reuses the buffer).
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        self.input.clone().finish_with(&self.body)
    }

    /// The upstream body's bytes, the conversation's buffer reused.
    pub fn into_bytes(self) -> Result<Vec<u8>, serde_json::Error> {
        let Upstream { body, input, .. } = self;
        input.finish_with(&body)
    }

    /// The whole body as one `Value`, the conversation parsed back into it
    /// (for code that edits a body as a tree, and tests).
    pub fn full_body(&self) -> Value {
        let mut body = self.body.clone();
        if !self.input.is_empty() {
            if let Some(o) = body.as_object_mut() {
                o.insert("input".into(), self.input.to_value());
            }
        }
        body
    }

    /// The digests of the encrypted blobs the conversation carries
    /// (`translate::blobs`), by `digest`.
    pub fn blobs(&self, digest: impl Fn(&[u8]) -> u64) -> Vec<u64> {
        if self.input.is_empty() {
            return blobs::in_request(&self.body)
                .into_iter()
                .map(|b| digest(b.as_bytes()))
                .collect();
        }
        self.input.blobs().to_vec()
    }
}

impl Input {
    /// `finish`, or the whole `body` serialized when the conversation is
    /// empty (then it is in `body`, or there is none).
    fn finish_with(self, body: &Value) -> Result<Vec<u8>, serde_json::Error> {
        match body {
            Value::Object(head) if !self.is_empty() => self.finish(head),
            _ => serde_json::to_vec(body),
        }
    }
}

/// A request the gateway will not send upstream, with the field to blame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub param: Option<String>,
    /// `invalid_request_error`, `unsupported_parameter`, …
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn field(param: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            param: Some(param.into()),
            code: "invalid_request_error",
            message: message.into(),
        }
    }

    /// A parameter the gateway does not support, with what to do instead.
    pub fn unsupported_because(param: &str, message: impl Into<String>) -> Invalid {
        Invalid {
            param: Some(param.into()),
            code: "unsupported_parameter",
            message: message.into(),
        }
    }

    pub fn unsupported(param: &str, what: &str) -> Invalid {
        Invalid {
            param: Some(param.into()),
            code: "unsupported_parameter",
            message: format!("{what} is not supported by this backend (ChatGPT subscription, codex-responses transport)"),
        }
    }
}

/// Parameters the backend refuses or that make no sense with `store:false`:
/// never forwarded (docs/upstream.md §3; `tests/it/support/mock/responses.rs` enforces the
/// same rules as an independent oracle).
pub const REFUSED_PARAMS: &[&str] = &[
    "max_output_tokens",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "truncation",
    "previous_response_id",
    "prompt_cache_retention",
    "safety_identifier",
    "stream_options",
    "metadata",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "logprobs",
    "top_logprobs",
    "seed",
    "user",
    "logit_bias",
    "stop",
    "background",
    "conversation",
];

pub const REASONING_EFFORTS: &[&str] =
    &["none", "minimal", "low", "medium", "high", "xhigh", "max"];

/// The JSON type name of a value, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object of `entries`, moved in. (`json!` serializes an interpolated
/// value by reference, a deep copy: a client's parts or text would be held
/// twice.)
pub fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// The most bytes of a client's string an error message quotes.
const QUOTED_BYTES: usize = 100;

/// A client string cut to what an error message may quote: at most
/// `QUOTED_BYTES` bytes, on a character boundary.
pub fn bounded(s: &str) -> &str {
    let mut end = s.len().min(QUOTED_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A client string quoted for an error message (`"…"`, escaped), at most
/// `QUOTED_BYTES` bytes of it; a cut string is followed by `…`.
pub fn quoted(s: &str) -> String {
    let cut = bounded(s);
    if cut.len() < s.len() {
        format!("{cut:?}…")
    } else {
        format!("{s:?}")
    }
}

/// The conversation's session: sets the body's `prompt_cache_key` and returns
/// the id for the `session-id` header.
///
/// The id is the client's `explicit` key, else the session header `hint`, else
/// one derived from `seed` and the conversation's opening (the body's
/// `instructions` and first `input` item), so every turn of one conversation
/// shares a session and a prompt cache. Blank values count as absent.
///
/// The returned id is always a valid header value: a client key that cannot
/// be one (a control character, say) stays as is in the body, and the header
/// gets a stable id derived from it.
pub fn session_id(
    body: &mut Map<String, Value>,
    explicit: Option<&str>,
    hint: Option<&str>,
    seed: &str,
    input: &Input,
) -> String {
    let given = [explicit, hint]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty());
    let key = match given {
        Some(s) => s.to_string(),
        None => {
            // The same bytes as `Value::to_string`, without `fmt`'s machinery.
            let first = if input.is_empty() {
                body.get("input")
                    .and_then(|i| i.get(0))
                    .and_then(|v| serde_json::to_vec(v).ok())
            } else {
                input.first_canonical()
            }
            .unwrap_or_default();
            let instructions = body
                .get("instructions")
                .and_then(Value::as_str)
                .unwrap_or("");
            derived_session_id(&[seed.as_bytes(), instructions.as_bytes(), &first])
        }
    };
    let id = if http::HeaderValue::from_str(&key).is_ok() {
        key.clone()
    } else {
        derived_session_id(&[key.as_bytes()])
    };
    body.insert("prompt_cache_key".into(), Value::String(key));
    id
}

/// A stable UUID-shaped id from the seed's parts (always a valid header value).
fn derived_session_id(seed: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in seed {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Map<String, Value> {
        let v = json!({"instructions": "sys", "input": [{"type": "message", "role": "user"}]});
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn quoted_strings_are_cut_at_100_bytes_on_a_char_boundary() {
        assert_eq!(quoted("wizard"), "\"wizard\"");
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(5000);
        assert_eq!(quoted(&long), format!("\"{}\"…", "x".repeat(100)));
        let wide = "é".repeat(80); // 2 bytes each: 100 is a boundary
        assert_eq!(bounded(&wide).len(), 100);
        let odd = format!("x{}", "é".repeat(80)); // byte 100 splits a char
        assert_eq!(bounded(&odd).len(), 99);
    }

    #[test]
    fn explicit_key_then_hint_then_derived_and_blank_is_absent() {
        let mut b = body();
        assert_eq!(
            session_id(&mut b, Some("k"), Some("h"), "s", &Input::default()),
            "k"
        );
        assert_eq!(b["prompt_cache_key"], "k");
        assert_eq!(
            session_id(&mut body(), Some(" "), Some("h"), "s", &Input::default()),
            "h"
        );
        assert_eq!(
            session_id(&mut body(), None, Some("h"), "s", &Input::default()),
            "h"
        );
        let derived = session_id(&mut body(), Some(""), Some("  "), "s", &Input::default());
        assert_eq!(
            derived,
            session_id(&mut body(), None, None, "s", &Input::default())
        );
        assert_ne!(
            derived,
            session_id(&mut body(), None, None, "other seed", &Input::default())
        );
        assert!(uuid::Uuid::parse_str(&derived).is_ok(), "{derived}");
    }

    #[test]
    fn a_key_that_cannot_be_a_header_keeps_the_body_and_gets_a_stable_header_id() {
        for key in ["line\nbreak", "nul\u{0}", "del\u{7f}"] {
            let mut b = body();
            let id = session_id(&mut b, Some(key), None, "s", &Input::default());
            assert_eq!(
                b["prompt_cache_key"], key,
                "the body keeps the client's key"
            );
            assert!(http::HeaderValue::from_str(&id).is_ok(), "{id:?}");
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id:?}");
            assert_eq!(
                id,
                session_id(&mut body(), Some(key), None, "other", &Input::default()),
                "stable"
            );
        }
        // What a header can carry is kept as is, non-ASCII included.
        assert_eq!(
            session_id(&mut body(), Some("café"), None, "s", &Input::default()),
            "café"
        );
    }
}
