//! Chat Completions request → codex-responses request body.
//!
//! Leading system/developer messages become `instructions`; later ones stay in
//! place as developer messages. Tool calls and tool results keep their
//! `call_id`. Sampling and token-limit parameters are dropped (the backend
//! refuses them); `n > 1`, `logprobs` and audio are refused with a 400.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{derived_session_id, type_name, Invalid, REASONING_EFFORTS};

/// The fields of a Chat Completions request this gateway reads; anything else
/// the client sends lands in `dropped` and is not forwarded.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
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
    pub dropped: Map<String, Value>,
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
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
}

/// What the translation produced.
#[derive(Debug)]
pub struct Translated {
    /// The codex-responses body (before serialization).
    pub body: Value,
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub session_id: String,
}

impl ChatRequest {
    /// Parses JSON, naming the field that is wrong.
    pub fn parse(bytes: &[u8]) -> Result<ChatRequest, Invalid> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let parsed: ChatRequest = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Invalid {
                    param: None,
                    code: "invalid_json",
                    message: format!("the request body is not valid JSON: {inner}"),
                };
            }
            let param = if path == "." { None } else { Some(path) };
            Invalid {
                message: match &param {
                    Some(p) => format!("invalid value for '{p}': {inner}"),
                    None => format!("invalid request: {inner}"),
                },
                param,
                code: "invalid_request_error",
            }
        })?;
        de.end().map_err(|e| Invalid {
            param: None,
            code: "invalid_json",
            message: format!("the request body is not valid JSON: {e}"),
        })?;
        Ok(parsed)
    }

    /// Translates into a codex-responses request. `session_hint` is the client's
    /// session header, if any; `seed` makes derived session ids per client key.
    pub fn into_responses(
        self,
        session_hint: Option<&str>,
        seed: &str,
    ) -> Result<Translated, Invalid> {
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
        let (instructions, input) = convert_messages(&self.messages)?;

        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("instructions".into(), Value::String(instructions));
        body.insert("input".into(), Value::Array(input));
        if let Some(tools) = &self.tools {
            let tools = tools
                .iter()
                .enumerate()
                .map(|(i, t)| convert_tool(t, i))
                .collect::<Result<Vec<_>, _>>()?;
            if !tools.is_empty() {
                body.insert("tools".into(), Value::Array(tools));
            }
        }
        body.insert(
            "tool_choice".into(),
            match &self.tool_choice {
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
        if let Some(format) = &self.response_format {
            if let Some(f) = convert_response_format(format)? {
                text.insert("format".into(), f);
            }
        }
        if let Some(v) = &self.verbosity {
            if !matches!(v.as_str(), "low" | "medium" | "high") {
                return Err(Invalid::field(
                    "verbosity",
                    format!("'verbosity' must be low, medium or high, not {v:?}"),
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

        let client_key = self
            .prompt_cache_key
            .as_deref()
            .filter(|s| !s.trim().is_empty());
        let session_id = match client_key.or(session_hint) {
            Some(s) if !s.trim().is_empty() => s.to_string(),
            _ => {
                let first = body["input"]
                    .get(0)
                    .map(Value::to_string)
                    .unwrap_or_default();
                let instr = body["instructions"].as_str().unwrap_or("");
                derived_session_id(&[seed.as_bytes(), instr.as_bytes(), first.as_bytes()])
            }
        };
        body.insert("prompt_cache_key".into(), json!(session_id));
        if !self.dropped.is_empty() {
            tracing::debug!(params = ?self.dropped.keys().collect::<Vec<_>>(), "dropped parameters the backend refuses");
        }
        Ok(Translated {
            body: Value::Object(body),
            model: self.model,
            stream: self.stream.unwrap_or(false),
            include_usage: self
                .stream_options
                .as_ref()
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
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
                        "'{param}' must be one of {}, not {e:?}",
                        REASONING_EFFORTS.join(", ")
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
                format!("'reasoning.summary' must be auto, concise or detailed, not {summary:?}"),
            ));
        }
        if summary != "none" {
            r.insert("summary".into(), json!(summary));
        }
        Ok(Value::Object(r))
    }
}

fn convert_messages(messages: &[Message]) -> Result<(String, Vec<Value>), Invalid> {
    let mut instructions: Vec<String> = Vec::new();
    let mut input = Vec::with_capacity(messages.len());
    let mut leading = true;
    let mut custom_calls: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].{field}");
        match m.role.as_str() {
            "system" | "developer" => {
                let text = text_only(m.content.as_ref(), &at("content"))?;
                if leading {
                    if !text.is_empty() {
                        instructions.push(text);
                    }
                } else {
                    input.push(json!({"type": "message", "role": "developer",
                        "content": [{"type": "input_text", "text": text}]}));
                }
            }
            "user" => {
                leading = false;
                let content = user_parts(m.content.as_ref(), &at("content"))?;
                input.push(json!({"type": "message", "role": "user", "content": content}));
            }
            "assistant" => {
                leading = false;
                let mut parts = assistant_parts(m.content.as_ref(), &at("content"))?;
                if let Some(r) = m.refusal.as_deref().filter(|r| !r.is_empty()) {
                    parts.push(json!({"type": "refusal", "refusal": r}));
                }
                if !parts.is_empty() {
                    input.push(json!({"type": "message", "role": "assistant", "content": parts}));
                }
                for (j, call) in m.tool_calls.iter().flatten().enumerate() {
                    let item = convert_tool_call(call, &at(&format!("tool_calls[{j}]")))?;
                    if item["type"] == "custom_tool_call" {
                        if let Some(id) = item["call_id"].as_str() {
                            custom_calls.push(id.to_string());
                        }
                    }
                    input.push(item);
                }
            }
            "tool" => {
                leading = false;
                let Some(call_id) = m.tool_call_id.as_deref().filter(|s| !s.is_empty()) else {
                    return Err(Invalid::field(at("tool_call_id"), format!("'{}' is required for a tool message", at("tool_call_id"))));
                };
                let output = text_only(m.content.as_ref(), &at("content"))?;
                let kind = if custom_calls.iter().any(|c| c == call_id) {
                    "custom_tool_call_output"
                } else {
                    "function_call_output"
                };
                input.push(json!({"type": kind, "call_id": call_id, "output": output}));
            }
            "function" => {
                return Err(Invalid::field(
                    at("role"),
                    "role \"function\" (deprecated) is not supported; use tool messages with a tool_call_id",
                ))
            }
            other => {
                return Err(Invalid::field(
                    at("role"),
                    format!("unknown role {other:?}; expected system, developer, user, assistant or tool"),
                ))
            }
        }
    }
    Ok((instructions.join("\n\n"), input))
}

/// Text content: a string, or an array of text parts joined.
fn text_only(content: Option<&Value>, param: &str) -> Result<String, Invalid> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (k, p) in parts.iter().enumerate() {
                match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                    (Some("text" | "input_text" | "output_text"), Some(t)) => out.push_str(t),
                    _ => {
                        return Err(Invalid::field(
                            format!("{param}[{k}]"),
                            format!("'{param}[{k}]' must be a text part ({{\"type\":\"text\",\"text\":…}}) here"),
                        ))
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(Invalid::field(
            param,
            format!(
                "'{param}' must be a string or an array of parts, not {}",
                type_name(other)
            ),
        )),
    }
}

fn user_parts(content: Option<&Value>, param: &str) -> Result<Vec<Value>, Invalid> {
    let parts = match content {
        None | Some(Value::Null) => {
            return Err(Invalid::field(
                param,
                format!("'{param}' is required for a user message"),
            ))
        }
        Some(Value::String(s)) => return Ok(vec![json!({"type": "input_text", "text": s})]),
        Some(Value::Array(parts)) => parts,
        Some(other) => {
            return Err(Invalid::field(
                param,
                format!(
                    "'{param}' must be a string or an array of parts, not {}",
                    type_name(other)
                ),
            ))
        }
    };
    parts
        .iter()
        .enumerate()
        .map(|(k, p)| user_part(p, &format!("{param}[{k}]")))
        .collect()
}

fn user_part(p: &Value, param: &str) -> Result<Value, Invalid> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" | "input_text" => {
            let text = p.get("text").and_then(Value::as_str).ok_or_else(|| {
                Invalid::field(
                    format!("{param}.text"),
                    format!("'{param}.text' must be a string"),
                )
            })?;
            Ok(json!({"type": "input_text", "text": text}))
        }
        "image_url" => {
            let iu = p.get("image_url");
            let (url, detail) = match iu {
                Some(Value::String(u)) => (Some(u.as_str()), None),
                Some(Value::Object(o)) => (
                    o.get("url").and_then(Value::as_str),
                    o.get("detail").and_then(Value::as_str),
                ),
                _ => (None, None),
            };
            let Some(url) = url.filter(|u| !u.is_empty()) else {
                return Err(Invalid::field(
                    format!("{param}.image_url.url"),
                    format!("'{param}.image_url.url' must be a data: or http(s) URL"),
                ));
            };
            if !(url.starts_with("data:")
                || url.starts_with("http://")
                || url.starts_with("https://"))
            {
                return Err(Invalid::field(
                    format!("{param}.image_url.url"),
                    format!("'{param}.image_url.url' must be a data: or http(s) URL"),
                ));
            }
            Ok(json!({"type": "input_image", "image_url": url, "detail": detail.unwrap_or("auto")}))
        }
        "input_image" => Ok(p.clone()),
        "file" | "input_file" => {
            let f = p.get("file").unwrap_or(p);
            let mut out = Map::new();
            out.insert("type".into(), json!("input_file"));
            for key in ["file_data", "file_id", "filename", "file_url"] {
                if let Some(v) = f.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            if !["file_data", "file_id", "file_url"]
                .iter()
                .any(|k| out.contains_key(*k))
            {
                return Err(Invalid::field(
                    format!("{param}.file"),
                    format!("'{param}.file' needs file_data, file_id or file_url"),
                ));
            }
            Ok(Value::Object(out))
        }
        "input_audio" => Err(Invalid::unsupported(param, "audio input")),
        other => Err(Invalid::field(
            format!("{param}.type"),
            format!("unknown content part type {other:?}; expected text, image_url or file"),
        )),
    }
}

fn assistant_parts(content: Option<&Value>, param: &str) -> Result<Vec<Value>, Invalid> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![json!({"type": "output_text", "text": s})]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(k, p)| match p.get("type").and_then(Value::as_str) {
                Some("text" | "output_text") => Ok(json!({"type": "output_text",
                    "text": p.get("text").and_then(Value::as_str).unwrap_or("")})),
                Some("refusal") => Ok(json!({"type": "refusal",
                    "refusal": p.get("refusal").and_then(Value::as_str).unwrap_or("")})),
                _ => Err(Invalid::field(
                    format!("{param}[{k}]"),
                    format!("'{param}[{k}]' must be a text or refusal part"),
                )),
            })
            .collect(),
        Some(other) => Err(Invalid::field(
            param,
            format!(
                "'{param}' must be a string or an array of parts, not {}",
                type_name(other)
            ),
        )),
    }
}

fn convert_tool_call(call: &Value, param: &str) -> Result<Value, Invalid> {
    let id = call.get("id").and_then(Value::as_str).ok_or_else(|| {
        Invalid::field(
            format!("{param}.id"),
            format!("'{param}.id' must be a string"),
        )
    })?;
    match call
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("function")
    {
        "function" => {
            let f = call.get("function").ok_or_else(|| {
                Invalid::field(
                    format!("{param}.function"),
                    format!("'{param}.function' is required"),
                )
            })?;
            let name = f.get("name").and_then(Value::as_str).ok_or_else(|| {
                Invalid::field(
                    format!("{param}.function.name"),
                    format!("'{param}.function.name' must be a string"),
                )
            })?;
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => "{}".into(),
                Some(other) => other.to_string(),
            };
            Ok(
                json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}),
            )
        }
        "custom" => {
            let c = call.get("custom").unwrap_or(&Value::Null);
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            let input = c.get("input").and_then(Value::as_str).unwrap_or("");
            Ok(json!({"type": "custom_tool_call", "call_id": id, "name": name, "input": input}))
        }
        other => Err(Invalid::field(
            format!("{param}.type"),
            format!("unknown tool call type {other:?}"),
        )),
    }
}

/// Chat's `{"type": T, T: {...}}` → Responses' flat `{"type": T, ...}`; anything
/// else passes through untouched.
fn convert_tool(tool: &Value, i: usize) -> Result<Value, Invalid> {
    let Some(obj) = tool.as_object() else {
        return Err(Invalid::field(
            format!("tools[{i}]"),
            format!("'tools[{i}]' must be an object"),
        ));
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return Err(Invalid::field(
            format!("tools[{i}].type"),
            format!("'tools[{i}].type' must be a string"),
        ));
    };
    if kind == "function" {
        match obj.get("function") {
            Some(Value::Object(inner)) if !inner.get("name").is_some_and(Value::is_string) => {
                return Err(Invalid::field(
                    format!("tools[{i}].function.name"),
                    format!("'tools[{i}].function.name' must be a string"),
                ));
            }
            None if !obj.contains_key("name") => {
                return Err(Invalid::field(
                    format!("tools[{i}].function"),
                    format!("'tools[{i}].function' is required"),
                ));
            }
            _ => {}
        }
    }
    flatten_tool(tool, true).map_err(|m| Invalid::field(format!("tools[{i}]"), m))
}

/// The flattening itself, shared by `tools` and `tool_choice.allowed_tools`
/// (whose entries name tools and get no defaults).
fn flatten_tool(tool: &Value, defaults: bool) -> Result<Value, String> {
    let Some(obj) = tool.as_object() else {
        return Err("a tool must be an object".into());
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return Err("a tool's 'type' must be a string".into());
    };
    let Some(Value::Object(inner)) = obj.get(kind) else {
        return Ok(tool.clone());
    };
    let mut flat = Map::with_capacity(inner.len() + 1);
    flat.insert("type".into(), json!(kind));
    for (k, v) in inner {
        flat.insert(k.clone(), v.clone());
    }
    if defaults && kind == "function" && !flat.contains_key("parameters") {
        flat.insert(
            "parameters".into(),
            json!({"type": "object", "properties": {}}),
        );
    }
    if defaults && kind == "function" && flat.get("strict").is_none_or(Value::is_null) {
        flat.insert("strict".into(), json!(false));
    }
    Ok(Value::Object(flat))
}

fn convert_tool_choice(choice: &Value) -> Result<Value, Invalid> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(choice.clone())
        }
        Value::String(s) => Err(Invalid::field(
            "tool_choice",
            format!("'tool_choice' must be auto, none, required or an object, not {s:?}"),
        )),
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
            match o.get(kind) {
                Some(Value::Object(inner)) => {
                    let mut flat = Map::new();
                    flat.insert("type".into(), json!(kind));
                    for (k, v) in inner {
                        flat.insert(k.clone(), v.clone());
                    }
                    // allowed_tools lists tools in Chat's nested form too.
                    if let Some(Value::Array(tools)) = flat.get("tools") {
                        let tools = tools
                            .iter()
                            .enumerate()
                            .map(|(i, t)| {
                                flatten_tool(t, false).map_err(|m| {
                                    Invalid::field(format!("tool_choice.{kind}.tools[{i}]"), m)
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        flat.insert("tools".into(), Value::Array(tools));
                    }
                    Ok(Value::Object(flat))
                }
                _ => Ok(choice.clone()),
            }
        }
        other => Err(Invalid::field(
            "tool_choice",
            format!(
                "'tool_choice' must be a string or an object, not {}",
                type_name(other)
            ),
        )),
    }
}

fn convert_response_format(format: &Value) -> Result<Option<Value>, Invalid> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let Some(Value::Object(js)) = format.get("json_schema") else {
                return Err(Invalid::field(
                    "response_format.json_schema",
                    "'response_format.json_schema' is required for type json_schema",
                ));
            };
            let Some(name) = js.get("name").and_then(Value::as_str) else {
                return Err(Invalid::field(
                    "response_format.json_schema.name",
                    "'response_format.json_schema.name' must be a string",
                ));
            };
            let mut f = Map::new();
            f.insert("type".into(), json!("json_schema"));
            f.insert("name".into(), json!(name));
            f.insert(
                "schema".into(),
                js.get("schema").cloned().unwrap_or_else(|| json!({})),
            );
            if let Some(s) = js.get("strict") {
                f.insert("strict".into(), s.clone());
            }
            if let Some(d) = js.get("description") {
                f.insert("description".into(), d.clone());
            }
            Ok(Some(Value::Object(f)))
        }
        _ => Err(Invalid::field(
            "response_format.type",
            "'response_format.type' must be text, json_object or json_schema",
        )),
    }
}

#[cfg(test)]
mod tests;
