//! The Chat Completions answer on the wire: the `chat.completion.chunk`
//! structs a stream is serialized from (`stream`), and the usage object
//! and finish reason shared with the non-stream answer (`answer`).
//!
//! Only shapes live here; which event fills which field is `stream`'s.

use serde::Serialize;

use crate::upstream::events::Usage;

#[derive(Serialize)]
pub(super) struct Chunk<'a> {
    pub(super) id: &'a str,
    pub(super) object: &'static str,
    pub(super) created: u64,
    pub(super) model: &'a str,
    pub(super) choices: &'a [Choice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) usage: Option<ChatUsage>,
}

#[derive(Serialize)]
pub(super) struct Choice<'a> {
    pub(super) index: u32,
    pub(super) delta: Delta<'a>,
    pub(super) logprobs: Option<()>,
    pub(super) finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
pub(super) struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
pub(super) struct ToolCallDelta<'a> {
    pub(super) index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) function: Option<FunctionDelta<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) custom: Option<CustomDelta<'a>>,
}

#[derive(Serialize)]
pub(super) struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    pub(super) arguments: &'a str,
}

#[derive(Serialize)]
pub(super) struct CustomDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    pub(super) input: &'a str,
}

/// Chat's usage object, shared with the non-stream answer. `Default` is the
/// all-zero usage a stream reports when upstream sent none.
#[derive(Debug, Serialize, Clone, Default, PartialEq)]
pub(super) struct ChatUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_tokens_details: CachedDetails,
    pub completion_tokens_details: ReasoningDetails,
}

#[derive(Debug, Serialize, Clone, Default, PartialEq)]
pub(super) struct CachedDetails {
    pub cached_tokens: u64,
}

#[derive(Debug, Serialize, Clone, Default, PartialEq)]
pub(super) struct ReasoningDetails {
    pub reasoning_tokens: u64,
}

impl From<&Usage> for ChatUsage {
    fn from(u: &Usage) -> ChatUsage {
        ChatUsage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: u.total(),
            prompt_tokens_details: CachedDetails {
                cached_tokens: u.cached(),
            },
            completion_tokens_details: ReasoningDetails {
                reasoning_tokens: u.reasoning(),
            },
        }
    }
}

/// `finish_reason` for an `incomplete_details.reason`.
pub(super) fn incomplete_finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("content_filter") => "content_filter",
        _ => "length",
    }
}
