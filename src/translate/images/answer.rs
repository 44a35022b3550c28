//! The Images API's answer from collected upstream streams: the image of each
//! call's `image_generation_call` item, its revised prompt, and the image
//! tokens upstream reported (`response.tool_usage.image_gen`).

use serde::Deserialize;
use serde_json::{json, Value};

use super::ImageRequest;
use crate::translate::collect::Collector;
use crate::upstream::events::{ImageUsage, Usage};
use crate::upstream::Failure;

/// One image upstream made.
#[derive(Debug, Clone, PartialEq)]
pub struct Made {
    pub b64: String,
    pub revised_prompt: Option<String>,
    /// What upstream says it made (it may choose for `auto`).
    pub size: Option<String>,
    pub quality: Option<String>,
    pub background: Option<String>,
    pub output_format: Option<String>,
    /// The image tokens, when upstream reported them.
    pub usage: Option<ImageUsage>,
}

/// The fields of an `image_generation_call` item this module reads.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Call {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub revised_prompt: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub quality: Option<String>,
    #[serde(default)]
    pub background: Option<String>,
    #[serde(default)]
    pub output_format: Option<String>,
    #[serde(default)]
    pub error: Option<CallError>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct CallError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl Call {
    /// The image, or why there is none (a refusal, moderation).
    pub(super) fn into_made(self, usage: Option<ImageUsage>) -> Result<Made, Failure> {
        let failed = self.status.as_deref() == Some("failed");
        match self.result.filter(|r| !r.is_empty() && !failed) {
            Some(b64) => Ok(Made {
                b64,
                revised_prompt: self.revised_prompt.filter(|p| !p.is_empty()),
                size: self.size,
                quality: self.quality,
                background: self.background,
                output_format: self.output_format,
                usage,
            }),
            None => {
                let e = self.error.unwrap_or_default();
                Err(Failure::StreamFailed {
                    code: Some(e.code.unwrap_or_else(|| "image_generation_failed".into())),
                    message: e
                        .message
                        .unwrap_or_else(|| "upstream's image generation call made no image".into()),
                })
            }
        }
    }
}

/// The image one collected stream made.
pub fn made(collector: &Collector) -> Result<Made, Failure> {
    let call = collector
        .output_items::<Call>()
        .into_iter()
        .find(|c| c.kind == "image_generation_call")
        .ok_or_else(|| Failure::StreamFailed {
            code: Some("image_generation_failed".into()),
            message: "upstream answered without calling the image_generation tool".into(),
        })?;
    let usage = collector
        .info()
        .tool_usage
        .as_ref()
        .and_then(|t| t.image_gen.clone());
    call.into_made(usage)
}

/// Everything one call spent, for budgets and token metrics: the model's own
/// tokens and the image tokens, which upstream reports apart.
pub fn spent(model: Option<&Usage>, image: Option<&ImageUsage>) -> Option<Usage> {
    if model.is_none() && image.is_none() {
        return None;
    }
    let mut u = model.cloned().unwrap_or_default();
    if let Some(i) = image {
        let total = u.total().saturating_add(i.total());
        u.input_tokens = u.input_tokens.saturating_add(i.input_tokens);
        u.output_tokens = u.output_tokens.saturating_add(i.output_tokens);
        u.total_tokens = total;
    }
    Some(u)
}

/// `{created, data: [{b64_json, revised_prompt?}], usage?, size, quality,
/// background, output_format}`, and the model the client named.
pub fn render(request: &ImageRequest, made: &[Made], created: u64) -> Value {
    let data: Vec<Value> = made
        .iter()
        .map(|m| {
            let mut d = json!({"b64_json": m.b64});
            if let Some(p) = &m.revised_prompt {
                d["revised_prompt"] = json!(p);
            }
            d
        })
        .collect();
    let mut usage: Option<ImageUsage> = None;
    for u in made.iter().filter_map(|m| m.usage.as_ref()) {
        usage.get_or_insert_with(ImageUsage::default).add(u);
    }
    let first = made.first();
    // What upstream made, else what was asked; `auto` is not an answer.
    let echo = |made: Option<&String>, asked: Option<&str>| {
        made.map(String::as_str)
            .or(asked)
            .filter(|v| *v != "auto")
            .map(|v| json!(v))
            .unwrap_or(Value::Null)
    };
    let mut out = json!({
        "created": created,
        "data": data,
        "model": request.model,
        "size": echo(first.and_then(|m| m.size.as_ref()), request.option("size")),
        "quality": echo(first.and_then(|m| m.quality.as_ref()), request.option("quality")),
        "background": echo(first.and_then(|m| m.background.as_ref()), request.option("background")),
        "output_format": echo(first.and_then(|m| m.output_format.as_ref()), request.option("output_format").or(Some("png"))),
    });
    if let Some(u) = usage {
        out["usage"] = json!(u);
    }
    if let Value::Object(map) = &mut out {
        map.retain(|_, v| !v.is_null());
    }
    out
}
