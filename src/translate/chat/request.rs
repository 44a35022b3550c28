//! Chat Completions request → codex-responses request body.
//!
//! Leading system/developer messages become `instructions`; later ones stay in
//! place as developer messages. Tool calls and tool results keep their
//! `call_id`. Sampling and token-limit parameters are dropped (the backend
//! refuses them); `n > 1`, `logprobs` and audio are refused with a 400.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::messages::convert_messages;
use super::tools::{convert_response_format, convert_tool, convert_tool_choice};
use crate::translate::parse::parse_lazy;
use crate::translate::{limits, quoted, session_id, Invalid, Upstream, REASONING_EFFORTS};

/// A Chat Completions request, its messages' content and tool calls kept as
/// the client's JSON text (borrowed from the body): they are copied into the
/// upstream body, not parsed into trees (`messages.rs`).
pub type ChatRequest<'a> = ChatRequestOf<&'a RawValue>;

/// The fields of a Chat Completions request this gateway reads; anything else
/// the client sends is named in `dropped` (its value skipped, never kept) and
/// is not forwarded. `C` is how a message's content and tool calls are held:
/// as text (`ChatRequest`), or as trees (`Value`: the parse whose errors a
/// body the limits scan found unclean gets, `parse::parse_lazy`).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "C: Deserialize<'de>"))]
pub struct ChatRequestOf<C> {
    pub model: String,
    pub messages: Vec<Message<C>>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    #[serde(default)]
    pub reasoning: Option<ReasoningParam>,
    #[serde(default)]
    pub response_format: Option<Value>,
    #[serde(default)]
    pub verbosity: Option<String>,
    #[serde(default)]
    pub prompt_cache_key: Option<String>,
    #[serde(default)]
    pub n: Option<u64>,
    #[serde(default)]
    pub logprobs: Option<bool>,
    #[serde(default)]
    pub top_logprobs: Option<u64>,
    #[serde(default)]
    pub audio: Option<Value>,
    #[serde(default)]
    pub modalities: Option<Vec<String>>,
    #[serde(default)]
    pub functions: Option<Value>,
    #[serde(flatten)]
    pub dropped: BTreeMap<String, IgnoredAny>,
    /// The body's size, for the upstream body's buffer.
    #[serde(skip)]
    pub size: usize,
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasoningParam {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "C: Deserialize<'de>"))]
pub struct Message<C> {
    pub role: String,
    #[serde(default)]
    pub content: Option<C>,
    #[serde(default)]
    pub tool_calls: Option<Vec<C>>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
}

impl<C> ChatRequestOf<C> {
    /// Whether a streamed answer ends with a usage chunk (`stream_options`).
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

impl<'a> ChatRequestOf<&'a RawValue> {
    /// Parses JSON, naming the field that is wrong. A body past the count
    /// limits (`translate::limits`) is refused before anything is parsed.
    pub fn parse(bytes: &'a [u8]) -> Result<ChatRequest<'a>, Invalid> {
        let clean = limits::check_clean(bytes, &limits::CHAT)?;
        let mut req = parse_lazy::<ChatRequest<'a>, ChatRequestOf<Value>>(bytes, clean)?;
        req.size = bytes.len();
        Ok(req)
    }

    /// Translates into a codex-responses request. `session_hint` is the client's
    /// session header, if any; `seed` makes derived session ids per client key.
    pub fn into_responses(
        mut self,
        session_hint: Option<&str>,
        seed: &str,
    ) -> Result<Upstream, Invalid> {
        self.refuse_unsupported()?;
        if self.model.trim().is_empty() {
            return Err(Invalid::field("model", "'model' must not be empty"));
        }
        if self.messages.is_empty() {
            return Err(Invalid::field(
                "messages",
                "'messages' must hold at least one message",
            ));
        }
        // Moved out, not borrowed: what is translated is freed as it goes.
        let (instructions, input) =
            convert_messages(std::mem::take(&mut self.messages), self.size)?;

        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("instructions".into(), Value::String(instructions));
        if let Some(tools) = self.tools.take() {
            let tools = tools
                .into_iter()
                .enumerate()
                .map(|(i, t)| convert_tool(t, i))
                .collect::<Result<Vec<_>, _>>()?;
            if !tools.is_empty() {
                body.insert("tools".into(), Value::Array(tools));
            }
        }
        body.insert(
            "tool_choice".into(),
            match self.tool_choice.take() {
                Some(choice) => convert_tool_choice(choice)?,
                None => json!("auto"),
            },
        );
        body.insert(
            "parallel_tool_calls".into(),
            json!(self.parallel_tool_calls.unwrap_or(true)),
        );
        body.insert("reasoning".into(), self.reasoning_value()?);
        let mut text = Map::new();
        if let Some(format) = self.response_format.take() {
            if let Some(f) = convert_response_format(format)? {
                text.insert("format".into(), f);
            }
        }
        if let Some(v) = &self.verbosity {
            if !matches!(v.as_str(), "low" | "medium" | "high") {
                return Err(Invalid::field(
                    "verbosity",
                    format!("'verbosity' must be low, medium or high, not {}", quoted(v)),
                ));
            }
            text.insert("verbosity".into(), json!(v));
        }
        if !text.is_empty() {
            body.insert("text".into(), Value::Object(text));
        }
        body.insert("store".into(), json!(false));
        body.insert("stream".into(), json!(true));
        body.insert("include".into(), json!(["reasoning.encrypted_content"]));

        let session_id = session_id(
            &mut body,
            self.prompt_cache_key.as_deref(),
            session_hint,
            seed,
            &input,
        );
        if !self.dropped.is_empty() {
            tracing::debug!(params = ?self.dropped.keys().collect::<Vec<_>>(), "dropped parameters the backend refuses");
        }
        Ok(Upstream {
            body: Value::Object(body),
            input,
            model: self.model,
            stream: self.stream.unwrap_or(false),
            session_id,
        })
    }

    fn refuse_unsupported(&self) -> Result<(), Invalid> {
        if self.n.is_some_and(|n| n > 1) {
            return Err(Invalid::unsupported(
                "n",
                "'n' greater than 1 (several choices)",
            ));
        }
        if self.logprobs == Some(true) {
            return Err(Invalid::unsupported("logprobs", "'logprobs'"));
        }
        if self.top_logprobs.is_some_and(|n| n > 0) {
            return Err(Invalid::unsupported("top_logprobs", "'top_logprobs'"));
        }
        if self.audio.as_ref().is_some_and(|a| !a.is_null()) {
            return Err(Invalid::unsupported("audio", "audio output"));
        }
        if self
            .modalities
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "audio"))
        {
            return Err(Invalid::unsupported("modalities", "audio output"));
        }
        if self.functions.as_ref().is_some_and(|f| !f.is_null()) {
            return Err(Invalid::field(
                "functions",
                "the deprecated 'functions' parameter is not supported; send 'tools' with type \"function\"",
            ));
        }
        Ok(())
    }

    fn reasoning_value(&self) -> Result<Value, Invalid> {
        let (effort, param) = match (
            &self.reasoning_effort,
            self.reasoning.as_ref().and_then(|r| r.effort.as_ref()),
        ) {
            (Some(e), _) => (Some(e), "reasoning_effort"),
            (None, Some(e)) => (Some(e), "reasoning.effort"),
            (None, None) => (None, "reasoning_effort"),
        };
        let mut r = Map::new();
        if let Some(e) = effort {
            if !REASONING_EFFORTS.contains(&e.as_str()) {
                return Err(Invalid::field(
                    param,
                    format!(
                        "'{param}' must be one of {}, not {}",
                        REASONING_EFFORTS.join(", "),
                        quoted(e)
                    ),
                ));
            }
            r.insert("effort".into(), json!(e));
        }
        let summary = self
            .reasoning
            .as_ref()
            .and_then(|r| r.summary.clone())
            .unwrap_or_else(|| "auto".into());
        if !matches!(summary.as_str(), "auto" | "concise" | "detailed" | "none") {
            return Err(Invalid::field(
                "reasoning.summary",
                format!(
                    "'reasoning.summary' must be auto, concise or detailed, not {}",
                    quoted(&summary)
                ),
            ));
        }
        if summary != "none" {
            r.insert("summary".into(), json!(summary));
        }
        Ok(Value::Object(r))
    }
}

#[cfg(test)]
mod tests;
