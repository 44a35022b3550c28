//! OpenAI's Images API (`/v1/images/generations`, `/v1/images/edits`) onto
//! the codex-responses transport: one request → one backend body per image,
//! the `image_generation` tool forced, the client's options carried over as
//! the tool's (`docs/upstream.md` §10). Pure: the server reads the bodies
//! (JSON or multipart) into the field map parsed here.
//!
//! `answer` renders the collected images; `stream` converts a live stream
//! into the Images API's events.

pub mod answer;
pub mod stream;

use base64::Engine;
use serde_json::{json, Map, Value};

use super::{Invalid, Upstream};

/// The most images one request may ask for (OpenAI's limit too).
pub const MAX_N: u64 = 10;

/// The longest prompt, in characters (OpenAI's limit for GPT image models).
pub const MAX_PROMPT_CHARS: usize = 32_000;

/// What the backend is told to do; the tool choice forces the call.
const INSTRUCTIONS: &str = "You make images. Call the image_generation tool exactly once, \
     with the user's request as its prompt, and answer with nothing else.";

/// The model named when a request names none: the Images API's own default
/// for GPT image models. Reported back; the backend model is the catalog's.
pub const DEFAULT_IMAGE_MODEL: &str = "gpt-image-1";

/// The options carried to the tool, each with the values accepted.
const CHOICES: &[(&str, &[&str])] = &[
    (
        "quality",
        &["auto", "low", "medium", "high", "xhigh", "max"],
    ),
    ("background", &["auto", "transparent", "opaque"]),
    ("output_format", &["png", "webp", "jpeg"]),
    ("moderation", &["auto", "low"]),
    ("input_fidelity", &["low", "high"]),
    ("complexity", &["low", "medium", "high"]),
];

/// Which route the request came in on: the stream's event names differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Generation,
    Edit,
}

/// One Images API request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRequest {
    pub prompt: String,
    /// The model the client named (`DEFAULT_IMAGE_MODEL` when none).
    pub model: String,
    pub n: u64,
    pub stream: bool,
    /// The `image_generation` tool's options (size, quality, …).
    pub tool: Map<String, Value>,
}

/// An input image (or mask), its type read from its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct InputImage {
    pub mime: &'static str,
    pub bytes: bytes::Bytes,
}

impl InputImage {
    /// The image as a `data:` URL, as `input_image` parts carry it.
    pub fn data_url(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.bytes);
        format!("data:{};base64,{b64}", self.mime)
    }
}

/// The image type of `bytes` from its signature: PNG, JPEG or WebP (what the
/// Images API accepts), else `None`.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

impl ImageRequest {
    /// A `/v1/images/generations` JSON body.
    pub fn from_json(bytes: &[u8]) -> Result<ImageRequest, Invalid> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| Invalid {
            param: None,
            code: "invalid_json",
            message: format!("the request body is not valid JSON: {e}"),
        })?;
        let Value::Object(fields) = value else {
            return Err(Invalid::field(
                "body",
                "the request body must be a JSON object",
            ));
        };
        ImageRequest::from_fields(&fields, Kind::Generation)
    }

    /// The fields of either route (a multipart form's arrive as strings).
    pub fn from_fields(fields: &Map<String, Value>, kind: Kind) -> Result<ImageRequest, Invalid> {
        let prompt = match fields.get("prompt") {
            Some(Value::String(p)) if !p.trim().is_empty() => p.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(Invalid::field(
                    "prompt",
                    "'prompt' is required: describe the image",
                ))
            }
            Some(_) => return Err(Invalid::field("prompt", "'prompt' must be a string")),
        };
        if prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(Invalid::field(
                "prompt",
                format!("'prompt' is longer than {MAX_PROMPT_CHARS} characters"),
            ));
        }
        let model = model(fields)?;
        let n = number(fields, "n", 1, MAX_N)?.unwrap_or(1);
        let stream = flag(fields, "stream")?;
        refuse_legacy(fields)?;
        let mut tool = Map::new();
        tool.insert("type".into(), json!("image_generation"));
        if let Some(size) = text(fields, "size")? {
            check_size(&size)?;
            tool.insert("size".into(), json!(size));
        }
        for (name, allowed) in CHOICES {
            if *name == "input_fidelity" && kind == Kind::Generation {
                continue;
            }
            if let Some(v) = text(fields, name)? {
                if !allowed.contains(&v.as_str()) {
                    return Err(Invalid::field(
                        *name,
                        format!(
                            "'{name}' is {v:?}; one of {} works here",
                            allowed.join(", ")
                        ),
                    ));
                }
                tool.insert((*name).into(), json!(v));
            }
        }
        if let Some(c) = number(fields, "output_compression", 0, 100)? {
            tool.insert("output_compression".into(), json!(c));
        }
        if let Some(p) = number(fields, "partial_images", 0, 3)? {
            if stream && p > 0 {
                tool.insert("partial_images".into(), json!(p));
            }
        }
        if stream && n > 1 {
            return Err(Invalid::field(
                "n",
                "a streamed request makes one image: ask for n = 1, or leave stream out to get several at once",
            ));
        }
        Ok(ImageRequest {
            prompt,
            model,
            n,
            stream,
            tool,
        })
    }

    /// The backend body for one image on `model`, with the edit's `images`
    /// (as `input_image` parts) and `mask` (as the tool's `input_image_mask`).
    /// `session_id` is the call's own: an image is a conversation of one. The
    /// body names no session (no `prompt_cache_key`), so `n` calls can share it.
    pub fn upstream(
        &self,
        model: &str,
        images: &[InputImage],
        mask: Option<&InputImage>,
        session_id: String,
    ) -> Upstream {
        let mut content = vec![json!({"type": "input_text", "text": self.prompt})];
        content.extend(
            images
                .iter()
                .map(|i| json!({"type": "input_image", "image_url": i.data_url()})),
        );
        let mut tool = self.tool.clone();
        if let Some(m) = mask {
            tool.insert(
                "input_image_mask".into(),
                json!({"image_url": m.data_url()}),
            );
        }
        let body = json!({
            "model": model,
            "instructions": INSTRUCTIONS,
            "input": [{"type": "message", "role": "user", "content": content}],
            "tools": [Value::Object(tool)],
            "tool_choice": {"type": "image_generation"},
            "parallel_tool_calls": false,
            "store": false,
            "stream": true,
        });
        Upstream {
            body,
            input: crate::translate::Input::default(),
            model: model.to_string(),
            stream: self.stream,
            session_id,
        }
    }

    /// The option the client chose, for echoing in the answer.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.tool.get(name).and_then(Value::as_str)
    }
}

/// `model`: any name but the retired DALL·E ones (those fail with a 400 that
/// says what works).
fn model(fields: &Map<String, Value>) -> Result<String, Invalid> {
    let Some(m) = text(fields, "model")? else {
        return Ok(DEFAULT_IMAGE_MODEL.to_string());
    };
    if m.starts_with("dall-e") {
        return Err(Invalid::field(
            "model",
            format!("{m:?} is not served: images are made by ChatGPT's image_generation tool; name a GPT image model such as {DEFAULT_IMAGE_MODEL:?}, or leave model out"),
        ));
    }
    Ok(m)
}

/// Parameters only DALL·E had: refused with what to do instead.
fn refuse_legacy(fields: &Map<String, Value>) -> Result<(), Invalid> {
    if let Some(f) = text(fields, "response_format")? {
        if f != "b64_json" {
            return Err(Invalid::unsupported_because(
                "response_format",
                format!("response_format {f:?} is not supported: images come back as base64 in data[].b64_json; leave response_format out or set it to \"b64_json\""),
            ));
        }
    }
    if text(fields, "style")?.is_some() {
        return Err(Invalid::unsupported_because(
            "style",
            "'style' is a DALL·E 3 parameter: describe the style in the prompt instead",
        ));
    }
    if let Some(q) = text(fields, "quality")?.filter(|q| q == "standard" || q == "hd") {
        return Err(Invalid::field(
            "quality",
            format!("quality {q:?} was DALL·E's: use low, medium, high or auto"),
        ));
    }
    Ok(())
}

/// `auto` or `WIDTHxHEIGHT`: each side a multiple of 16 up to 3840, the
/// sides at most 3:1 apart (the GPT image models' rules).
fn check_size(size: &str) -> Result<(), Invalid> {
    if size == "auto" {
        return Ok(());
    }
    let bad = || {
        Invalid::field(
            "size",
            format!("size {size:?} is not one the image models make: use \"auto\", \"1024x1024\", \"1536x1024\", \"1024x1536\", or WIDTHxHEIGHT with both sides multiples of 16, at most 3840, and at most 3:1 apart"),
        )
    };
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let (Ok(w), Ok(h)) = (w.parse::<u32>(), h.parse::<u32>()) else {
        return Err(bad());
    };
    let ok = w > 0
        && h > 0
        && w % 16 == 0
        && h % 16 == 0
        && w.max(h) <= 3840
        && w.max(h) <= 3 * w.min(h);
    if ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A string field (`None` when absent or null).
fn text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, Invalid> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Invalid::field(name, format!("'{name}' must be a string"))),
    }
}

/// An integer field in `min..=max`; a form's text is read as a number.
fn number(
    fields: &Map<String, Value>,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, Invalid> {
    let n = match fields.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(Invalid::field(
            name,
            format!("'{name}' must be a whole number from {min} to {max}"),
        )),
    }
}

/// A boolean field; a form's `true`/`false` text too.
fn flag(fields: &Map<String, Value>, name: &str) -> Result<bool, Invalid> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(_) => Err(Invalid::field(
            name,
            format!("'{name}' must be true or false"),
        )),
    }
}

#[cfg(test)]
mod tests;
