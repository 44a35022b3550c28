//! The shapes a Messages stream is written in: the delta frames and the
//! per-stream ones, serialized without building a `Value`. (The parts of an
//! upstream output item it reads are `collect::OutputItem`, borrowed.)

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::super::answer::SortedUsage;

// The per-stream frames (start, block start and stop, the end) keep their
// keys in alphabetical order: they were `serde_json::Value` trees before
// (sorted keys), and stay what they were byte for byte.

/// `message_start`: the message before any content.
#[derive(Serialize)]
pub(super) struct MessageStart<'a> {
    pub(super) message: StartMessage<'a>,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
}

#[derive(Serialize)]
pub(super) struct StartMessage<'a> {
    pub(super) content: [(); 0],
    pub(super) id: &'a str,
    pub(super) model: &'a str,
    pub(super) role: &'static str,
    pub(super) stop_reason: Option<()>,
    pub(super) stop_sequence: Option<()>,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) usage: SortedUsage,
}

/// A frame that is only its type (`ping`, `message_stop`).
#[derive(Serialize)]
pub(super) struct Bare {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
}

/// `content_block_start`.
#[derive(Serialize)]
pub(super) struct BlockStart<'a> {
    pub(super) content_block: Opened<'a>,
    pub(super) index: u32,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
}

/// `content_block_stop`.
#[derive(Serialize)]
pub(super) struct BlockStop {
    pub(super) index: u32,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
}

/// The empty block a `content_block_start` opens.
#[derive(Debug, Clone, Copy)]
pub(super) enum Opened<'a> {
    Text,
    Thinking,
    ToolUse { id: &'a str, name: &'a str },
}

impl Serialize for Opened<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            Opened::Text => {
                m.serialize_entry("text", "")?;
                m.serialize_entry("type", "text")?;
            }
            Opened::Thinking => {
                m.serialize_entry("signature", "")?;
                m.serialize_entry("thinking", "")?;
                m.serialize_entry("type", "thinking")?;
            }
            Opened::ToolUse { id, name } => {
                m.serialize_entry("id", id)?;
                m.serialize_entry("input", &Empty)?;
                m.serialize_entry("name", name)?;
                m.serialize_entry("type", "tool_use")?;
            }
        }
        m.end()
    }
}

/// `{}`.
struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

/// `message_delta`: how the message ended.
#[derive(Serialize)]
pub(super) struct MessageDelta<'a> {
    pub(super) delta: StopDelta<'a>,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) usage: SortedUsage,
}

#[derive(Serialize)]
pub(super) struct StopDelta<'a> {
    pub(super) stop_reason: &'a str,
    pub(super) stop_sequence: Option<&'a str>,
}

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
