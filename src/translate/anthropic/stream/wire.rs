//! The shapes a Messages stream is written in and read from: the delta
//! frames (serialized per event without building a `Value`) and the parts
//! of an upstream output item the converter needs.

use serde::{Deserialize, Serialize};

#[derive(Serialize)]
#[serde(tag = "type")]
pub(super) enum Delta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
pub(super) struct DeltaFrame<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) index: u32,
    pub(super) delta: Delta<'a>,
}

/// The parts of an output item the stream needs.
#[derive(Deserialize, Default)]
pub(super) struct StreamItem {
    #[serde(rename = "type", default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) call_id: Option<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) arguments: Option<String>,
    #[serde(default)]
    pub(super) encrypted_content: Option<String>,
    #[serde(default)]
    pub(super) summary: Vec<TextPart>,
    #[serde(default)]
    pub(super) content: Vec<TextPart>,
}

#[derive(Deserialize, Default)]
pub(super) struct TextPart {
    #[serde(rename = "type", default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) text: Option<String>,
    #[serde(default)]
    pub(super) refusal: Option<String>,
}
