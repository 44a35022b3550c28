//! Anthropic Messages request → codex-responses request body.
//!
//! `system` becomes `instructions`; messages become input items
//! (`anthropic/content.rs`), tools and `tool_choice` their Responses forms
//! (`anthropic/tools.rs`). Extended thinking maps to `reasoning.effort`:
//!
//! | request | effort |
//! |---|---|
//! | `output_config.effort` (`low`, `medium`, `high`, `max`, …) | that effort |
//! | `thinking: {type: enabled, budget_tokens: N}`, N < 4096 | `low` |
//! | … N < 16384 | `medium` |
//! | … otherwise | `high` |
//! | `thinking` `disabled` / `adaptive`, or none | the model's default (or a model-name suffix) |
//!
//! Reasoning summaries and encrypted reasoning are always requested, so a
//! thinking block's `signature` can carry the reasoning item back.
//! `max_tokens`, `temperature`, `top_p`, `top_k`, `metadata` and the other
//! sampling or beta parameters are dropped (the backend refuses or ignores
//! them). `stop_sequences` cannot be sent (the backend has no stop
//! parameter): the gateway cuts the answer itself (`anthropic/stream.rs`,
//! `anthropic/answer.rs`).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::content::{self, Content, Held};
use super::{stops, tools};
use crate::translate::parse::parse_lazy;
use crate::translate::{limits, session_id, type_name, Invalid, Upstream, REASONING_EFFORTS};

/// A Messages request, its messages' content read as blocks in the body's
/// one parse, their values kept as the client's JSON text (borrowed from
/// the body): copied into the upstream body, not parsed into trees
/// (`content.rs`, `content/blocks.rs`).
pub type MessagesRequest<'a> = MessagesRequestOf<Content<'a>>;

/// The fields of a Messages request this gateway reads; the rest is dropped.
/// `C` is how a message's content is held: as blocks of text
/// (`MessagesRequest`), or a tree (`Value`: the parse whose errors a body
/// the limits scanner (`limits/scan.rs`) found unclean gets,
/// `parse::parse_lazy`).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "C: Deserialize<'de>"))]
pub struct MessagesRequestOf<C> {
    pub model: String,
    pub messages: Vec<Message<C>>,
    #[serde(default)]
    pub system: Option<Value>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub thinking: Option<Value>,
    #[serde(default)]
    pub output_config: Option<Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub mcp_servers: Option<Value>,
    #[serde(flatten)]
    pub dropped: Map<String, Value>,
    /// The body's size, for the upstream body's buffer.
    #[serde(skip)]
    pub size: usize,
}

#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "C: Deserialize<'de>"))]
pub struct Message<C> {
    pub role: String,
    pub content: C,
}

/// How the answer is shaped for the client (what the request asked of it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// Cut the answer at the first of these (gateway side).
    pub stop_sequences: stops::Stops,
    /// `thinking.display: "omitted"`: thinking blocks carry only the signature.
    pub omit_thinking: bool,
}

/// Each message's `content` as the client's JSON text, for the contents
/// given as strings with escapes (`MessagesRequestOf::parse`).
#[derive(Deserialize)]
struct Literals<'a> {
    #[serde(borrow)]
    messages: Vec<LiteralContent<'a>>,
}

#[derive(Deserialize)]
struct LiteralContent<'a> {
    #[serde(borrow)]
    content: &'a RawValue,
}

impl<'a> MessagesRequestOf<Content<'a>> {
    pub fn parse(bytes: &'a [u8]) -> Result<MessagesRequest<'a>, Invalid> {
        let checked = limits::check_clean(bytes, &limits::MESSAGES)?;
        let mut req = parse_lazy::<MessagesRequest<'a>, MessagesRequestOf<Value>>(bytes, checked)?;
        req.size = bytes.len();
        // A string with escapes reaches the parse decoded; its literal (what
        // goes upstream) is taken from a second read, only when there is one.
        if req
            .messages
            .iter()
            .any(|m| matches!(m.content.0, Held::Escaped))
        {
            let literals = parse_lazy::<Literals<'a>, Literals<'a>>(bytes, checked)?;
            for (m, l) in req.messages.iter_mut().zip(literals.messages) {
                if matches!(m.content.0, Held::Escaped) {
                    m.content = Content(Held::Literal(l.content));
                }
            }
        }
        Ok(req)
    }

    /// Translates into a codex-responses request. `session_hint` is the
    /// client's session header; `seed` makes derived session ids per key.
    pub fn into_responses(
        self,
        session_hint: Option<&str>,
        seed: &str,
    ) -> Result<(Upstream, Shape), Invalid> {
        if self.model.trim().is_empty() {
            return Err(Invalid::field("model", "'model' must not be empty"));
        }
        if self.messages.is_empty() {
            return Err(Invalid::field(
                "messages",
                "'messages' must hold at least one message",
            ));
        }
        if self.mcp_servers.as_ref().is_some_and(|m| !m.is_null()) {
            return Err(Invalid::unsupported(
                "mcp_servers",
                "the MCP connector ('mcp_servers')",
            ));
        }
        let instructions = content::system_text(self.system.as_ref())?;
        let input = content::convert_messages(&self.messages, self.size)?;
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("instructions".into(), Value::String(instructions));
        if let Some(list) = &self.tools {
            let converted = tools::convert_tools(list)?;
            if !converted.is_empty() {
                body.insert("tools".into(), Value::Array(converted));
            }
        }
        let (choice, parallel) = tools::convert_tool_choice(self.tool_choice.as_ref())?;
        body.insert("tool_choice".into(), choice);
        body.insert("parallel_tool_calls".into(), json!(parallel));
        let mut reasoning = Map::new();
        if let Some(effort) = self.effort()? {
            reasoning.insert("effort".into(), json!(effort));
        }
        reasoning.insert("summary".into(), json!("auto"));
        body.insert("reasoning".into(), Value::Object(reasoning));
        body.insert("store".into(), json!(false));
        body.insert("stream".into(), json!(true));
        body.insert("include".into(), json!(["reasoning.encrypted_content"]));
        let explicit = self.conversation_id();
        let session_id = session_id(&mut body, explicit.as_deref(), session_hint, seed, &input);
        if !self.dropped.is_empty() {
            tracing::debug!(params = ?self.dropped.keys().collect::<Vec<_>>(), "dropped Messages parameters the backend refuses");
        }
        let shape = Shape {
            stop_sequences: stops::Stops::new(self.stop_sequences.unwrap_or_default())?,
            omit_thinking: self
                .thinking
                .as_ref()
                .and_then(|t| t.get("display"))
                .and_then(Value::as_str)
                == Some("omitted"),
        };
        let up = Upstream {
            body: Value::Object(body),
            input,
            model: self.model,
            stream: self.stream.unwrap_or(false),
            session_id,
        };
        Ok((up, shape))
    }

    /// `output_config.effort`, else the thinking budget (table above).
    fn effort(&self) -> Result<Option<String>, Invalid> {
        let asked = self
            .output_config
            .as_ref()
            .and_then(|o| o.get("effort"))
            .filter(|e| !e.is_null());
        if let Some(e) = asked {
            let Some(e) = e.as_str().filter(|e| REASONING_EFFORTS.contains(e)) else {
                return Err(Invalid::field(
                    "output_config.effort",
                    format!(
                        "'output_config.effort' must be one of {}, not {e}",
                        REASONING_EFFORTS.join(", ")
                    ),
                ));
            };
            return Ok(Some(e.to_string()));
        }
        let Some(thinking) = self.thinking.as_ref().filter(|t| !t.is_null()) else {
            return Ok(None);
        };
        match thinking.get("type").and_then(Value::as_str) {
            Some("enabled") => {
                let budget = thinking
                    .get("budget_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                Ok(Some(budget_effort(budget).to_string()))
            }
            Some("disabled" | "adaptive") => Ok(None),
            _ => Err(Invalid::field(
                "thinking.type",
                format!(
                    "'thinking.type' must be enabled, disabled or adaptive, not {}",
                    thinking
                        .get("type")
                        .map_or("missing".into(), |t| t.to_string())
                ),
            )),
        }
    }

    /// `metadata.user_id` as the conversation identity: Claude Code sends a
    /// JSON object there whose `session_id` names the conversation; any
    /// other string is used whole.
    fn conversation_id(&self) -> Option<String> {
        let user = self
            .metadata
            .as_ref()?
            .get("user_id")?
            .as_str()?
            .trim()
            .to_string();
        if user.is_empty() {
            return None;
        }
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(&user) {
            if let Some(s) = o
                .get("session_id")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
            {
                return Some(s.to_string());
            }
        }
        Some(user)
    }
}

/// The effort for a `thinking.budget_tokens` (Claude Code's "think" is
/// 4 000 tokens, "think hard" 10 000, "ultrathink" 31 999).
pub fn budget_effort(budget: u64) -> &'static str {
    match budget {
        0..4096 => "low",
        4096..16384 => "medium",
        _ => "high",
    }
}

/// The error for a value of the wrong JSON type.
pub(super) fn wrong_type(param: &str, expected: &str, got: &Value) -> Invalid {
    Invalid::field(
        param,
        format!("'{param}' must be {expected}, not {}", type_name(got)),
    )
}

#[cfg(test)]
mod tests;
