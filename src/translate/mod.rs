//! Pure translation between the OpenAI API and the codex-responses transport.
//!
//! No I/O, no clocks beyond what callers pass in: Chat requests → Responses
//! bodies (`chat`), a client's Responses request → what the backend accepts
//! (`responses`), upstream events → Chat chunks (`chat_stream`), and whole
//! streams → one JSON answer (`aggregate`).

pub mod aggregate;
pub mod chat;
pub mod chat_stream;
pub mod responses;

use serde_json::Value;

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

    pub fn unsupported(param: &str, what: &str) -> Invalid {
        Invalid {
            param: Some(param.into()),
            code: "unsupported_parameter",
            message: format!("{what} is not supported by this backend (ChatGPT subscription, codex-responses transport)"),
        }
    }
}

/// Parameters the backend refuses or that make no sense with `store:false`:
/// never forwarded (docs/upstream.md §3).
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

/// A stable conversation id derived from the conversation's opening, so every
/// turn of one conversation shares a `session-id` and prompt cache.
pub fn derived_session_id(seed: &[&[u8]]) -> String {
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
